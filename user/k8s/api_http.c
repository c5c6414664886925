// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes API over HTTPS (libcurl) and its JSON (json-c). The service account token is
 * read again before every request: the kubelet rotates it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"


/* ---- JSON ---- */

json_object *k8s_jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *k8s_jstr(json_object *o, const char *key)
{
	json_object *v = k8s_jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *k8s_jarr(json_object *o, const char *key)
{
	json_object *v = k8s_jget(o, key);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* ---- HTTP ---- */

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct k8s_req *r = arg;
	size_t len = size * n;
	int code;

	if (len > 5 && !memcmp(data, "HTTP/", 5) && sscanf(data, "HTTP/%*s %d", &code) == 1) {
		r->retry_after = -1;
		if (code == 200 && r->on_ok)
			r->on_ok(r);
	} else if (len > 12 && !strncasecmp(data, "Retry-After:", 12)) {
		char *end;
		long v = strtol(data + 12, &end, 10);

		/* delta-seconds only (what the API server sends); an HTTP-date is ignored */
		if (end != data + 12 && v >= 0)
			r->retry_after = v;
	}
	return len;
}

static int req_append(struct k8s_req *r, const char *data, size_t add)
{
	if (r->len + add + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 65536;
		char *b;

		while (cap < r->len + add + 1)
			cap *= 2;
		b = realloc(r->body, cap);
		if (!b)
			return -ENOMEM;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, add);
	r->len += add;
	r->body[r->len] = '\0';
	return 0;
}

/*
 * A watch: every complete line to r->line, each copied once (linear in the chunk). A line past
 * K8S_API_MAX_LINE is refused alone: dropped up to its newline, and the lines after it are read
 * (it cut the transfer, and the watch resumed into the same line for ever).
 */
static size_t feed_lines(struct k8s_req *r, const char *data, size_t add)
{
	size_t i = 0;

	while (i < add) {
		const char *nl = memchr(data + i, '\n', add - i);
		size_t seg = nl ? (size_t)(nl - (data + i)) : add - i;

		if (r->skipping) {
			i += seg + (nl ? 1 : 0);
			r->skipping = !nl;
			continue;
		}
		if (r->len + seg > K8S_API_MAX_LINE) {
			r->long_lines++;
			k8s_log(AG_LOG_WARN, "API %s: a watch event of more than %u bytes refused (%.60s...); "
				"the rest of the stream is applied", r->url, K8S_API_MAX_LINE,
				r->len ? r->body : "");
			r->len = 0;
			r->skipping = !nl;
			i += seg + (nl ? 1 : 0);
			continue;
		}
		if (req_append(r, data + i, seg))
			return 0;
		i += seg;
		if (!nl)
			break;
		i++;
		if (r->len && r->line(r, r->body, r->len) < 0) {
			r->len = 0;
			return 0;
		}
		r->len = 0;
		if (r->body)
			r->body[0] = '\0';
	}
	return add;
}

size_t k8s_req_feed(struct k8s_req *r, const char *data, size_t add)
{
	if (r->line)
		return feed_lines(r, data, add);
	if (r->len + add > K8S_API_MAX_BODY) {
		r->too_big = true;
		return 0;
	}
	return req_append(r, data, add) ? 0 : add;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	return k8s_req_feed(arg, data, size * n);
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct k8s_req *r = arg;

	return atomic_load(&r->env->stop) ? 1 : 0;
}

/* The bearer token, read again for every request (bound tokens rotate). */
static int auth_header(const struct k8s_env *env, char *out, size_t len)
{
	char tok[8192];
	size_t n;
	FILE *f;

	out[0] = '\0';
	if (!env->token_file)
		return 0;
	f = fopen(env->token_file, "re");
	if (!f)
		return -errno;
	n = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		n--;
	tok[n] = '\0';
	if (!n)
		return -ENODATA;
	snprintf(out, len, "Authorization: Bearer %s", tok);
	return 0;
}

/*
 * GET path; 0 with *http set (any status), or -errno with err. timeout_s 0: the RPC timeout.
 * A watch (r->line set) streams lines into r->line.
 */
static int perform(const struct k8s_env *env, CURL *curl, const char *method, const char *path,
		   const char *ctype, const char *body, struct k8s_req *r, long *http, long timeout_s,
		   char *err, size_t errlen)
{
	char auth[8300], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	CURLcode rc;
	int ret;

	snprintf(r->url, sizeof(r->url), "%s%s", env->api_server, path);
	ret = auth_header(env, auth, sizeof(auth));
	if (ret < 0) {
		snprintf(err, errlen, "%.600s: cannot read the token %.200s: %s", r->url, env->token_file,
			 strerror(-ret));
		return ret;
	}
	if (auth[0])
		h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Accept: application/json");
	if (ctype) {
		char ct[128];

		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		h = curl_slist_append(h, ct);
	}
	r->retry_after = -1;
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, r->url);
	if (method)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "accelguard/" AG_VERSION);
	if (env->ca_file && access(env->ca_file, R_OK) == 0)
		curl_easy_setopt(curl, CURLOPT_CAINFO, env->ca_file);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, env->rpc_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_s ? timeout_s * 1000 : env->rpc_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (rc == CURLE_WRITE_ERROR && r->line_err)
		return 0; /* the watch handler stopped it; it says why */
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%.600s: %s%s%.200s", r->url,
			 r->too_big ? "answer too large" : curl_easy_strerror(rc), cerr[0] ? ": " : "",
			 cerr);
		return rc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED :
		       rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	return 0;
}

int k8s_http_get(const struct k8s_env *env, CURL *curl, const char *path, struct k8s_req *r,
		 long *http, long timeout_s, char *err, size_t errlen)
{
	return perform(env, curl, NULL, path, NULL, NULL, r, http, timeout_s, err, errlen);
}

int k8s_http_send(const struct k8s_env *env, CURL *curl, const char *method, const char *path,
		  const char *ctype, const char *body, struct k8s_req *r, long *http, char *err,
		  size_t errlen)
{
	return perform(env, curl, method, path, ctype, body, r, http, 0, err, errlen);
}

/* A non-2xx answer: its Status message when there is one. */
void k8s_http_error(struct k8s_req *r, long http, char *err, size_t errlen)
{
	char jerr[8];
	json_object *o = r->body && !r->line ?
		k8s_json_parse(r->body, r->len, k8s_keep_status, NULL, jerr, sizeof(jerr)) : NULL;
	const char *msg = k8s_jstr(o, "message");

	snprintf(err, errlen, "%.600s: HTTP %ld%s%s%s", r->url, http,
		 http == 401 ? " (token refused)" : http == 403 ? " (RBAC: not allowed)" : "",
		 msg ? ": " : "", msg ? msg : "");
	json_object_put(o);
}

void k8s_req_reset(struct k8s_req *r)
{
	free(r->body);
	r->body = NULL;
	r->len = r->cap = 0;
	r->too_big = false;
	r->skipping = false;
	r->line = NULL;
	r->line_err = 0;
	r->relist = false;
	r->on_ok = NULL;
}

