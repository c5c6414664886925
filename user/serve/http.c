// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP endpoint (http.h) on libmicrohttpd: one internal polling thread, GET/HEAD only. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http.h"
#include "log.h"

struct ag_http {
	struct MHD_Daemon *d;
	ag_http_handler h;
	void *ctx;
	unsigned int port;
};

int ag_http_parse_listen(const char *listen, void *ss, unsigned int *socklen, char *err,
			 size_t errlen)
{
	char host[64];
	const char *colon, *h = listen, *port;
	unsigned long p;
	char *end;
	size_t hl;

	memset(ss, 0, sizeof(struct sockaddr_storage));
	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		h = listen + 1;
		hl = (size_t)(rb - h);
		port = rb + 2;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || strchr(listen, ':') != colon)
			goto bad;
		hl = (size_t)(colon - listen);
		port = colon + 1;
	}
	if (!hl || hl >= sizeof(host) || !*port)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (*end || errno || p > 65535 || port[0] == '-' || port[0] == '+')
		goto bad;
	if (listen[0] == '[') {
		struct sockaddr_in6 *s6 = ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		*socklen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		*socklen = sizeof(*s4);
	}
	return 0;
bad:
	snprintf(err, errlen, "'%s' is no address to listen on: expected IPV4:PORT or [IPV6]:PORT "
		 "(127.0.0.1:9464, 0.0.0.0:9464, [::]:9464)", listen);
	return -EINVAL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **con_cls)
{
	struct ag_http *s = cls;
	struct ag_http_reply r = { .status = 200, .content_type = "text/plain; charset=utf-8" };
	struct MHD_Response *resp;
	enum MHD_Result ret;
	bool head = !strcmp(method, MHD_HTTP_METHOD_HEAD);

	if (strcmp(method, MHD_HTTP_METHOD_GET) && !head) {
		r.status = MHD_HTTP_METHOD_NOT_ALLOWED;
		r.body = strdup("only GET and HEAD\n");
	} else if (*upload_len) {
		*upload_len = 0; /* a GET with a body: ignore it */
		return MHD_YES;
	} else if (s->h(s->ctx, url, &r)) {
		free(r.body);
		r.status = 500;
		r.content_type = "text/plain";
		r.len = 0;
		r.body = strdup("out of memory\n");
	}
	r.len = r.body ? (r.len ? r.len : strlen(r.body)) : 0;
	resp = MHD_create_response_from_buffer(r.len, r.body ? r.body : (char *)"",
					       r.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r.status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	ag_dbg("http: %s", buf);
}

struct ag_http *ag_http_start(const char *listen, ag_http_handler h, void *ctx, char *err,
			      size_t errlen)
{
	return ag_http_start_pool(listen, h, ctx, 1, err, errlen);
}

struct ag_http *ag_http_start_pool(const char *listen, ag_http_handler h, void *ctx,
				   unsigned int threads, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned int sl;
	const union MHD_DaemonInfo *di;
	struct ag_http *s;
	int r = ag_http_parse_listen(listen, &ss, &sl, err, errlen);

	if (r) {
		errno = -r;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->h = h;
	s->ctx = ctx;
	/* bounded: 64 connections, 10 s idle timeout, a scrape is a few KiB */
	errno = 0;
	if (threads > 1) /* handlers that may take long (GET /evidence.tar.gz) beside the probes */
		s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG |
						(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
					0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
					MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
					MHD_OPTION_THREAD_POOL_SIZE, threads,
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG |
						(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
					0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
					MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!s->d) {
		int e = errno ? errno : EADDRINUSE;

		snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(e));
		free(s);
		errno = e;
		return NULL;
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	return s;
}

unsigned int ag_http_port(const struct ag_http *s)
{
	return s ? s->port : 0;
}

void ag_http_stop(struct ag_http *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
