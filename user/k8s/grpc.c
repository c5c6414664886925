// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md) with libcurl: POST to /<service>/<method> with
 * content-type application/grpc and te: trailers; each message is framed as 1 byte
 * compressed-flag, 4 bytes big-endian length, the protobuf bytes. The status comes as the
 * grpc-status header of the trailers, or of the headers in a trailers-only answer.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "grpc.h"

struct call {
	unsigned char *body;
	size_t len, cap;
	int too_big;
	int grpc_status; /* -1 until seen */
	char grpc_message[256];
	char content_type[64];
	const atomic_int *stop;
};

const char *ag_grpc_status_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
		"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
		"UNAUTHENTICATED",
	};

	if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
		return "?";
	return names[code];
}

int ag_grpc_init(struct ag_grpc *g, const char *socket_path, const atomic_int *stop,
		 long timeout_ms)
{
	struct sockaddr_un sun;

	memset(g, 0, sizeof(*g));
	if (!socket_path || strlen(socket_path) >= sizeof(sun.sun_path))
		return -EINVAL;
	g->socket = strdup(socket_path);
	g->curl = curl_easy_init();
	if (!g->socket || !g->curl) {
		ag_grpc_fini(g);
		return -ENOMEM;
	}
	g->stop = stop;
	g->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	g->last_status = -1;
	return 0;
}

void ag_grpc_fini(struct ag_grpc *g)
{
	if (g->curl)
		curl_easy_cleanup(g->curl);
	free(g->socket);
	memset(g, 0, sizeof(*g));
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t add = size * n;

	if (c->len + add > AG_GRPC_MAX_MSG + 5) {
		c->too_big = 1;
		return 0;
	}
	if (c->len + add > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		unsigned char *b;

		while (cap < c->len + add)
			cap *= 2;
		b = realloc(c->body, cap);
		if (!b)
			return 0;
		c->body = b;
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, add);
	c->len += add;
	return add;
}

/* grpc-message is percent-encoded */
static void percent_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		unsigned int v;

		if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
			out[o++] = (char)v;
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

/* Headers and, for HTTP/2, trailers both come through here. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n, klen;
	const char *colon = memchr(data, ':', len), *v;

	if (!colon)
		return len;
	klen = (size_t)(colon - data);
	v = colon + 1;
	while (v < data + len && (*v == ' ' || *v == '\t'))
		v++;
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (v > data + len)
		v = data + len;
	if (klen == 11 && !strncasecmp(data, "grpc-status", 11)) {
		char num[16];
		size_t vl = (size_t)(data + len - v);
		char *end;
		long code;

		if (vl >= sizeof(num))
			vl = sizeof(num) - 1;
		memcpy(num, v, vl);
		num[vl] = '\0';
		code = strtol(num, &end, 10);
		c->grpc_status = (end != num && !*end && code >= 0 && code < 1000) ? (int)code : 2;
	} else if (klen == 12 && !strncasecmp(data, "grpc-message", 12)) {
		percent_decode(v, (size_t)(data + len - v), c->grpc_message, sizeof(c->grpc_message));
	} else if (klen == 12 && !strncasecmp(data, "content-type", 12)) {
		size_t vl = (size_t)(data + len - v);

		if (vl >= sizeof(c->content_type))
			vl = sizeof(c->content_type) - 1;
		memcpy(c->content_type, v, vl);
		c->content_type[vl] = '\0';
	}
	return size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct call *c = arg;

	return c->stop && atomic_load(c->stop) ? 1 : 0;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE;
	default:
		return -EPROTO;
	}
}

/* Counts what protobuf-c allocates while decoding; past the budget the decode fails. Frees go to
 * free(): a message decoded here is freed with the default allocator. */
struct budget {
	ProtobufCAllocator base;
	size_t used, limit;
	bool over;
};

static void *budget_alloc(void *arg, size_t size)
{
	struct budget *b = arg;

	if (size > b->limit || b->used + size + 32 > b->limit) {
		b->over = true;
		return NULL;
	}
	b->used += size + 32; /* malloc's smallest chunk, roughly */
	return malloc(size);
}

static void budget_free(void *arg, void *p)
{
	free(p);
}

int ag_grpc_unframe(const unsigned char *body, size_t len, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **resp, char *err, size_t errlen)
{
	struct budget b = { .base = { budget_alloc, budget_free, NULL } };
	size_t msglen;

	*resp = NULL;
	if (len < 5) {
		snprintf(err, errlen, "status OK but %zu bytes of body, no message", len);
		return -EPROTO;
	}
	msglen = (size_t)body[1] << 24 | (size_t)body[2] << 16 | (size_t)body[3] << 8 |
		 (size_t)body[4];
	if (body[0] != 0) {
		snprintf(err, errlen, "compressed message (flag %u) though none was offered", body[0]);
		return -EPROTO;
	}
	if (msglen != len - 5) {
		snprintf(err, errlen, "frame says %zu bytes, body holds %zu", msglen, len - 5);
		return -EPROTO;
	}
	if (msglen > AG_GRPC_MAX_MSG) {
		snprintf(err, errlen, "message of %zu bytes, over the %u-byte limit", msglen,
			 AG_GRPC_MAX_MSG);
		return -EMSGSIZE;
	}
	b.base.allocator_data = &b;
	b.limit = AG_GRPC_DECODE_FACTOR * msglen + AG_GRPC_DECODE_SLACK;
	*resp = protobuf_c_message_unpack(desc, &b.base, msglen, body + 5);
	if (!*resp && b.over) {
		snprintf(err, errlen, "%zu bytes decode to more than %zu bytes of %s (%u times the message): refused",
			 msglen, b.limit, desc->name, AG_GRPC_DECODE_FACTOR);
		return -EMSGSIZE;
	}
	if (!*resp) {
		snprintf(err, errlen, "%zu bytes do not decode as %s", msglen, desc->name);
		return -EBADMSG;
	}
	return 0;
}

/* The request as one gRPC message: a flag byte (not compressed), the length big-endian, the
 * bytes. NULL when out of memory. */
static unsigned char *frame_request(const ProtobufCMessage *req, size_t *len)
{
	size_t reqlen = protobuf_c_message_get_packed_size(req);
	unsigned char *out = malloc(reqlen + 5);

	if (!out)
		return NULL;
	out[0] = 0;
	out[1] = (unsigned char)(reqlen >> 24);
	out[2] = (unsigned char)(reqlen >> 16);
	out[3] = (unsigned char)(reqlen >> 8);
	out[4] = (unsigned char)reqlen;
	protobuf_c_message_pack(req, out + 5);
	*len = reqlen + 5;
	return out;
}

/* The handle set for one call: POST the framed body over HTTP/2 on the Unix socket. */
static void call_setup(struct ag_grpc *g, const char *url, const unsigned char *body, size_t len,
		       struct curl_slist *hdr, struct call *c, char *cerr)
{
	CURL *curl = g->curl;

	/* One connection per call: libcurl 7.88 (Debian 12) sends nothing on a reused HTTP/2
	 * prior-knowledge connection over a Unix socket and fails with "Error in the HTTP2 framing
	 * layer" (the curl tool does the same). A connect() to a Unix socket costs microseconds. */
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, g->socket);
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, g->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, g->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr);
}

/* What came back: a gRPC answer with grpc-status OK, or -errno with err. */
static int call_answer(struct ag_grpc *g, const char *method, const struct call *c, long http,
		       char *err, size_t errlen)
{
	if (http != 200) {
		snprintf(err, errlen, "grpc %s %s: HTTP status %ld, not a gRPC answer", g->socket,
			 method, http);
		return -EPROTO;
	}
	if (strncasecmp(c->content_type, "application/grpc", 16) ||
	    (c->content_type[16] && c->content_type[16] != '+' && c->content_type[16] != ';')) {
		snprintf(err, errlen, "grpc %s %s: content-type '%s', not application/grpc",
			 g->socket, method, c->content_type);
		return -EPROTO;
	}
	if (c->grpc_status < 0) {
		snprintf(err, errlen, "grpc %s %s: no grpc-status in the trailers", g->socket, method);
		return -EPROTO;
	}
	g->last_status = c->grpc_status;
	if (c->grpc_status != AG_GRPC_OK) {
		snprintf(err, errlen, "grpc %s %s: grpc-status %d (%s)%s%s", g->socket, method,
			 c->grpc_status, ag_grpc_status_name(c->grpc_status),
			 c->grpc_message[0] ? ": " : "", c->grpc_message);
		return -EREMOTEIO;
	}
	return 0;
}

int ag_grpc_call(struct ag_grpc *g, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, char *err,
		 size_t errlen)
{
	struct call c = { .grpc_status = -1, .stop = g->stop };
	char cerr[CURL_ERROR_SIZE] = "", url[256];
	struct curl_slist *hdr = NULL;
	unsigned char *out;
	size_t len;
	struct stat st;
	long http = 0;
	CURLcode rc;
	int ret;

	*resp = NULL;
	g->last_status = -1;
	if (stat(g->socket, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "grpc %s %s: socket absent: %s", g->socket, method, strerror(errno));
		return ret;
	}
	out = frame_request(req, &len);
	if (!out) {
		snprintf(err, errlen, "grpc %s %s: out of memory", g->socket, method);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "http://localhost%s", method);
	hdr = curl_slist_append(hdr, "content-type: application/grpc");
	hdr = curl_slist_append(hdr, "te: trailers");
	hdr = curl_slist_append(hdr, "user-agent: accelguard grpc-c/libcurl");
	hdr = curl_slist_append(hdr, "expect:");
	call_setup(g, url, out, len, hdr, &c, cerr);
	rc = curl_easy_perform(g->curl);
	curl_easy_getinfo(g->curl, CURLINFO_RESPONSE_CODE, &http);
	curl_easy_setopt(g->curl, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		ret = c.too_big ? -EMSGSIZE : curl_errno(rc);
		snprintf(err, errlen, "grpc %s %s: %s%s%s", g->socket, method,
			 c.too_big ? "answer over the 16 MiB message limit" : curl_easy_strerror(rc),
			 cerr[0] && !c.too_big ? ": " : "", c.too_big ? "" : cerr);
	} else if (!(ret = call_answer(g, method, &c, http, err, errlen))) {
		ret = ag_grpc_unframe(c.body, c.len, resp_desc, resp, cerr, sizeof(cerr));
		if (ret)
			snprintf(err, errlen, "grpc %s %s: %s", g->socket, method, cerr);
	}
	curl_slist_free_all(hdr);
	free(out);
	free(c.body);
	return ret;
}

int ag_grpc_reachable(const char *socket_path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret = 0;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "grpc %s: socket path too long", socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "grpc %s: socket: %s", socket_path, strerror(errno));
		return ret;
	}
	/* a listening Unix socket completes the connect at once, or says EAGAIN when its backlog
	 * is full (someone listens: reachable) */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EAGAIN) {
		ret = -errno;
		snprintf(err, errlen, "grpc %s: gone (watch): %s", socket_path, strerror(errno));
	}
	close(fd);
	return ret;
}
