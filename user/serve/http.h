/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small HTTP/1.1 server for /metrics, /healthz and /readyz, on libmicrohttpd's own thread (one
 * polling thread: the agent loop never serves a request). GET and HEAD only; every other method is
 * refused with 405.
 */
#ifndef AG_HTTP_H
#define AG_HTTP_H

#include <stddef.h>

struct ag_http_reply {
	unsigned int status;      /* 200, 404, 503 ... */
	const char *content_type; /* a static string */
	char *body;               /* malloc()ed, freed by the server; NULL: empty */
	size_t len;
};

/* On the server's thread: fill r for path (no query string). Returns 0, or -ENOMEM (500). */
typedef int (*ag_http_handler)(void *ctx, const char *path, struct ag_http_reply *r);

struct ag_http;

/* Parse "HOST:PORT" ("127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464", "[::]:9464"). Returns 0 or
 * -EINVAL with a reason in err. */
int ag_http_parse_listen(const char *listen, void *sockaddr_storage, unsigned int *socklen,
			 char *err, size_t errlen);

/* Listen on listen and serve with h. NULL with errno set and err filled ("cannot listen on
 * 127.0.0.1:9464: Address already in use"). */
struct ag_http *ag_http_start(const char *listen, ag_http_handler h, void *ctx, char *err,
			      size_t errlen);
/* The same with a pool of threads (threads > 1), so that one slow request does not hold up the
 * others. */
struct ag_http *ag_http_start_pool(const char *listen, ag_http_handler h, void *ctx,
				   unsigned int threads, char *err, size_t errlen);
/* The port actually bound (listen with port 0 binds an ephemeral one). */
unsigned int ag_http_port(const struct ag_http *s);
void ag_http_stop(struct ag_http *s);

#endif
