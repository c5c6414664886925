// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes API (libcurl HTTPS, json-c): the pods of this node by list + watch
 * (fieldSelector spec.nodeName, resumed from the last resourceVersion, bookmarks, relist on
 * 410 Gone), the ResourceClaims of those pods (allocation results, adminAccess) and the
 * ResourceSlices of this node (device uuid and PCI attributes). The service account token is
 * read again before every request: the kubelet rotates it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "k8s_internal.h"
#include "k8s_util.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define MAX_BODY (64u << 20)
#define MAX_LINE (16u << 20)

static const char *const dra_versions[] = { "v1", "v1beta2", "v1beta1" };

/* ---- snapshot ---- */

static void pod_free(struct k8s_api_pod *p)
{
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->sa);
	k8s_labels_free(&p->labels);
	for (size_t i = 0; i < p->n_c; i++) {
		free(p->c[i].name);
		free(p->c[i].id);
		for (size_t j = 0; j < p->c[i].n_claims; j++)
			free(p->c[i].claims[j]);
		free(p->c[i].claims);
	}
	free(p->c);
	for (size_t i = 0; i < p->n_cl; i++) {
		free(p->cl[i].name);
		free(p->cl[i].claim);
	}
	free(p->cl);
	memset(p, 0, sizeof(*p));
}

static void claim_free(struct k8s_api_claim *c)
{
	free(c->ns);
	free(c->name);
	free(c->uid);
	for (size_t i = 0; i < c->n; i++) {
		free(c->r[i].request);
		free(c->r[i].driver);
		free(c->r[i].pool);
		free(c->r[i].device);
		k8s_alloc_free(&c->r[i].map);
	}
	free(c->r);
	memset(c, 0, sizeof(*c));
}

static void slices_free(struct k8s_slice_dev *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].driver);
		free(s[i].pool);
		free(s[i].name);
		free(s[i].uuid);
		free(s[i].pci);
	}
	free(s);
}

void k8s_api_free(struct k8s_api_snap *s)
{
	for (size_t i = 0; i < s->n_pods; i++)
		pod_free(&s->pods[i]);
	free(s->pods);
	for (size_t i = 0; i < s->n_claims; i++)
		claim_free(&s->claims[i]);
	free(s->claims);
	slices_free(s->slices, s->n_slices);
	memset(s, 0, sizeof(*s));
}

const struct k8s_api_pod *k8s_api_pod_by_uid(const struct k8s *k, const char *uid)
{
	for (size_t i = 0; uid && *uid && i < k->api.n_pods; i++)
		if (!strcmp(k->api.pods[i].uid, uid))
			return &k->api.pods[i];
	return NULL;
}

const struct k8s_api_claim *k8s_api_claim(const struct k8s *k, const char *ns, const char *name)
{
	for (size_t i = 0; ns && name && i < k->api.n_claims; i++)
		if (!strcmp(k->api.claims[i].ns, ns) && !strcmp(k->api.claims[i].name, name))
			return &k->api.claims[i];
	return NULL;
}

/* ---- JSON ---- */

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static json_object *jarr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* "containerd://<id>" -> "<id>" */
static char *strip_scheme(const char *s)
{
	const char *p = s ? strstr(s, "://") : NULL;

	return sdup(p ? p + 3 : s);
}

static int add_ctrs(struct k8s_api_pod *p, json_object *ctrs, json_object *statuses)
{
	size_t n = ctrs ? json_object_array_length(ctrs) : 0;
	struct k8s_api_ctr *c;

	if (!n)
		return 0;
	c = realloc(p->c, (p->n_c + n) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	p->c = c;
	for (size_t i = 0; i < n; i++) {
		json_object *sc = json_object_array_get_idx(ctrs, i);
		json_object *claims = jarr(jget(sc, "resources"), "claims");
		struct k8s_api_ctr *d = &p->c[p->n_c];
		const char *name = jstr(sc, "name");

		if (!name)
			return -EINVAL;
		memset(d, 0, sizeof(*d));
		p->n_c++;
		d->name = strdup(name);
		if (!d->name)
			return -ENOMEM;
		for (size_t j = 0; statuses && j < json_object_array_length(statuses); j++) {
			json_object *st = json_object_array_get_idx(statuses, j);
			const char *id = jstr(st, "containerID");

			if (ag_streq(jstr(st, "name"), name) && id && *id) {
				d->id = strip_scheme(id);
				if (!d->id)
					return -ENOMEM;
			}
		}
		for (size_t j = 0; claims && j < json_object_array_length(claims); j++) {
			const char *cn = jstr(json_object_array_get_idx(claims, j), "name");
			char **v;

			if (!cn)
				continue;
			v = realloc(d->claims, (d->n_claims + 1) * sizeof(*v));
			if (!v)
				return -ENOMEM;
			d->claims = v;
			if (!(v[d->n_claims++] = strdup(cn)))
				return -ENOMEM;
		}
	}
	return 0;
}

/* A Pod object -> p. -EINVAL for an object that is no pod (what is missing goes to why). */
static int parse_pod(json_object *o, struct k8s_api_pod *p, const char **why)
{
	json_object *md = jget(o, "metadata"), *spec = jget(o, "spec"), *st = jget(o, "status");
	json_object *labels = jget(md, "labels"), *rcs = jarr(spec, "resourceClaims");
	json_object *rcst = jarr(st, "resourceClaimStatuses");
	int ret;

	memset(p, 0, sizeof(*p));
	if (!jstr(md, "uid") || !jstr(md, "name") || !jstr(md, "namespace") || !spec) {
		*why = "a pod without metadata.uid, name, namespace or spec";
		return -EINVAL;
	}
	p->uid = strdup(jstr(md, "uid"));
	p->ns = strdup(jstr(md, "namespace"));
	p->name = strdup(jstr(md, "name"));
	p->sa = sdup(jstr(spec, "serviceAccountName"));
	if (!p->uid || !p->ns || !p->name)
		goto nomem;
	if (labels && json_object_is_type(labels, json_type_object)) {
		size_t n = (size_t)json_object_object_length(labels);

		p->labels.keys = calloc(n + 1, sizeof(char *));
		p->labels.values = calloc(n + 1, sizeof(char *));
		if (!p->labels.keys || !p->labels.values)
			goto nomem;
		json_object_object_foreach(labels, key, val) {
			if (!json_object_is_type(val, json_type_string))
				continue;
			p->labels.keys[p->labels.n] = strdup(key);
			p->labels.values[p->labels.n] = strdup(json_object_get_string(val));
			if (!p->labels.keys[p->labels.n] || !p->labels.values[p->labels.n++])
				goto nomem;
		}
	}
	ret = add_ctrs(p, jarr(spec, "containers"), jarr(st, "containerStatuses"));
	ret = ret ?: add_ctrs(p, jarr(spec, "initContainers"), jarr(st, "initContainerStatuses"));
	ret = ret ?: add_ctrs(p, jarr(spec, "ephemeralContainers"), jarr(st, "ephemeralContainerStatuses"));
	if (ret == -EINVAL) {
		*why = "a container without a name";
		return ret;
	}
	if (ret)
		goto nomem;
	for (size_t i = 0; rcs && i < json_object_array_length(rcs); i++) {
		json_object *rc = json_object_array_get_idx(rcs, i);
		const char *name = jstr(rc, "name"), *claim = jstr(rc, "resourceClaimName");
		struct k8s_api_claimref *v;

		if (!name)
			continue;
		/* a claim made from a template: its generated name is in the status */
		for (size_t j = 0; !claim && rcst && j < json_object_array_length(rcst); j++) {
			json_object *s = json_object_array_get_idx(rcst, j);

			if (ag_streq(jstr(s, "name"), name))
				claim = jstr(s, "resourceClaimName");
		}
		v = realloc(p->cl, (p->n_cl + 1) * sizeof(*v));
		if (!v)
			goto nomem;
		p->cl = v;
		v[p->n_cl].name = strdup(name);
		v[p->n_cl].claim = sdup(claim);
		if (!v[p->n_cl++].name || (claim && !v[p->n_cl - 1].claim))
			goto nomem;
	}
	return 0;
nomem:
	*why = "out of memory";
	return -ENOMEM;
}

/* k->lock held. Takes p. */
static void pod_upsert(struct k8s *k, struct k8s_api_pod *p)
{
	struct k8s_api_snap *s = &k->api;

	for (size_t i = 0; i < s->n_pods; i++) {
		if (!strcmp(s->pods[i].uid, p->uid)) {
			pod_free(&s->pods[i]);
			s->pods[i] = *p;
			return;
		}
	}
	if (s->n_pods == s->cap_pods) {
		size_t cap = s->cap_pods ? s->cap_pods * 2 : 64;
		struct k8s_api_pod *v = realloc(s->pods, cap * sizeof(*v));

		if (!v) {
			pod_free(p);
			return;
		}
		s->pods = v;
		s->cap_pods = cap;
	}
	s->pods[s->n_pods++] = *p;
}

static void pod_delete(struct k8s *k, const char *uid)
{
	struct k8s_api_snap *s = &k->api;

	for (size_t i = 0; i < s->n_pods; i++) {
		if (!strcmp(s->pods[i].uid, uid)) {
			pod_free(&s->pods[i]);
			s->pods[i] = s->pods[--s->n_pods];
			return;
		}
	}
}

/* ---- HTTP ---- */

struct req {
	struct k8s *k;
	char *body;
	size_t len, cap;
	bool too_big;
	/* watch: one event per line */
	int (*line)(struct req *r, char *line, size_t len);
	int line_err;     /* set by line(): stops the transfer */
	bool relist;      /* the watch said 410 */
	char rv[64];      /* last resourceVersion seen */
	uint64_t events;
	void (*on_ok)(struct req *r); /* the answer's status line said 200 */
	char url[1024];
};

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;
	int code;

	if (len > 5 && !memcmp(data, "HTTP/", 5) && sscanf(data, "HTTP/%*s %d", &code) == 1 &&
	    code == 200 && r->on_ok)
		r->on_ok(r);
	return len;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t add = size * n;

	if (r->len + add > (r->line ? MAX_LINE : MAX_BODY)) {
		r->too_big = true;
		return 0;
	}
	if (r->len + add + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 65536;
		char *b;

		while (cap < r->len + add + 1)
			cap *= 2;
		b = realloc(r->body, cap);
		if (!b)
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, add);
	r->len += add;
	r->body[r->len] = '\0';
	if (r->line) {
		char *nl;

		while ((nl = memchr(r->body, '\n', r->len))) {
			size_t l = (size_t)(nl - r->body);

			*nl = '\0';
			if (l && r->line(r, r->body, l) < 0)
				return 0;
			memmove(r->body, nl + 1, r->len - l - 1);
			r->len -= l + 1;
			r->body[r->len] = '\0';
		}
	}
	return add;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct req *r = arg;

	return atomic_load(&r->k->stop) ? 1 : 0;
}

/* The bearer token, read again for every request (bound tokens rotate). */
static int auth_header(struct k8s *k, char *out, size_t len)
{
	char tok[8192];
	size_t n;
	FILE *f;

	out[0] = '\0';
	if (!k->token_file)
		return 0;
	f = fopen(k->token_file, "re");
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
static int http_get(struct k8s *k, CURL *curl, const char *path, struct req *r, long *http,
		    long timeout_s, char *err, size_t errlen)
{
	char auth[8300], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	CURLcode rc;
	int ret;

	snprintf(r->url, sizeof(r->url), "%s%s", k->api_server, path);
	ret = auth_header(k, auth, sizeof(auth));
	if (ret < 0) {
		snprintf(err, errlen, "%.600s: cannot read the token %.200s: %s", r->url, k->token_file,
			 strerror(-ret));
		return ret;
	}
	if (auth[0])
		h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Accept: application/json");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, r->url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "accelguard/" AG_VERSION);
	if (k->ca_file && access(k->ca_file, R_OK) == 0)
		curl_easy_setopt(curl, CURLOPT_CAINFO, k->ca_file);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, k->rpc_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_s ? timeout_s * 1000 : k->rpc_timeout_ms);
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

/* A non-2xx answer: its Status message when there is one. */
static void http_error(struct req *r, long http, char *err, size_t errlen)
{
	json_object *o = r->body && !r->line ? json_tokener_parse(r->body) : NULL;
	const char *msg = jstr(o, "message");

	snprintf(err, errlen, "%.600s: HTTP %ld%s%s%s", r->url, http,
		 http == 401 ? " (token refused)" : http == 403 ? " (RBAC: not allowed)" : "",
		 msg ? ": " : "", msg ? msg : "");
	json_object_put(o);
}

static void req_reset(struct req *r)
{
	free(r->body);
	r->body = NULL;
	r->len = r->cap = 0;
	r->too_big = false;
	r->line = NULL;
	r->line_err = 0;
	r->relist = false;
	r->on_ok = NULL;
}

/* ---- pods: list + watch ---- */

static void claims_kick(struct k8s *k)
{
	k->claims_want = true;
	pthread_cond_broadcast(&k->cond);
}

static int pods_list(struct k8s *k, CURL *curl, struct req *r, char *err, size_t errlen)
{
	char path[512];
	json_object *o = NULL, *items;
	struct k8s_api_pod *pods = NULL;
	size_t n = 0;
	long http = 0;
	int ret;

	snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k->node_name);
	req_reset(r);
	ret = http_get(k, curl, path, r, &http, 0, err, errlen);
	if (ret)
		return ret;
	if (http != 200) {
		http_error(r, http, err, errlen);
		return -EPROTO;
	}
	o = r->body ? json_tokener_parse(r->body) : NULL;
	items = jarr(o, "items");
	if (!o || !items || !jstr(jget(o, "metadata"), "resourceVersion")) {
		snprintf(err, errlen, "%.600s: not a PodList (%s)", r->url,
			 !o ? "not JSON" : !items ? "no items" : "no metadata.resourceVersion");
		json_object_put(o);
		return -EBADMSG;
	}
	pods = calloc(json_object_array_length(items) + 1, sizeof(*pods));
	if (!pods) {
		json_object_put(o);
		return -ENOMEM;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		const char *why = "";

		if (parse_pod(json_object_array_get_idx(items, i), &pods[n], &why) == 0) {
			n++;
		} else {
			k8s_log(AG_LOG_WARN, "API %s: item %zu skipped: %s", r->url, i, why);
			pod_free(&pods[n]);
		}
	}
	ag_scpy(r->rv, sizeof(r->rv), jstr(jget(o, "metadata"), "resourceVersion"));
	json_object_put(o);
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->api.n_pods; i++)
		pod_free(&k->api.pods[i]);
	k->api.n_pods = 0;
	for (size_t i = 0; i < n; i++)
		pod_upsert(k, &pods[i]);
	k->api.listed = true;
	k->st.api_relists++;
	claims_kick(k);
	pthread_mutex_unlock(&k->lock);
	free(pods);
	k8s_notify(k);
	return 0;
}

/* One watch event line. */
static int watch_line(struct req *r, char *line, size_t len)
{
	struct k8s *k = r->k;
	json_object *o = json_tokener_parse(line), *obj = jget(o, "object");
	const char *type = jstr(o, "type");
	const char *rv = jstr(jget(obj, "metadata"), "resourceVersion");
	const char *why = "";
	struct k8s_api_pod p;

	if (!o || !type || !obj) {
		k8s_log(AG_LOG_WARN, "API %s: watch event refused (%s): %.120s%s; relisting", r->url,
			!o ? "not JSON" : !type ? "no type" : "no object", line, len > 120 ? "..." : "");
		json_object_put(o);
		r->relist = true;
		r->line_err = -EBADMSG;
		return -EBADMSG;
	}
	pthread_mutex_lock(&k->lock);
	k->st.api_events++;
	pthread_mutex_unlock(&k->lock);
	r->events++;
	if (!strcmp(type, "ERROR")) {
		json_object *code = jget(obj, "code");
		int c = code ? json_object_get_int(code) : 0;

		if (c == 410)
			k8s_log(AG_LOG_INFO, "API %s: resourceVersion %s expired (410 Gone): relisting",
				r->url, r->rv);
		else
			k8s_log(AG_LOG_WARN, "API %s: watch ERROR %d: %s; relisting", r->url, c,
				jstr(obj, "message") ? jstr(obj, "message") : "");
		json_object_put(o);
		r->relist = true;
		r->line_err = c == 410 ? -ESTALE : -EPROTO;
		return r->line_err;
	}
	if (!strcmp(type, "BOOKMARK")) {
		if (rv)
			ag_scpy(r->rv, sizeof(r->rv), rv);
		json_object_put(o);
		return 0;
	}
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") && strcmp(type, "DELETED")) {
		k8s_log(AG_LOG_WARN, "API %s: watch event of unknown type '%s' ignored", r->url, type);
		json_object_put(o);
		return 0;
	}
	if (parse_pod(obj, &p, &why) < 0) {
		k8s_log(AG_LOG_WARN, "API %s: %s event refused: %s", r->url, type, why);
		pod_free(&p);
		json_object_put(o);
		return 0;
	}
	if (rv)
		ag_scpy(r->rv, sizeof(r->rv), rv);
	pthread_mutex_lock(&k->lock);
	if (!strcmp(type, "DELETED")) {
		pod_delete(k, p.uid);
		pod_free(&p);
	} else {
		pod_upsert(k, &p);
		claims_kick(k);
	}
	pthread_mutex_unlock(&k->lock);
	json_object_put(o);
	k8s_notify(k);
	return 0;
}

struct watcher {
	struct req r; /* first: the callbacks get &w->r */
	int up;       /* -1 unknown, 0 down, 1 up */
	char last[1024];
	uint64_t backoff;
};

/* The server answered: say so once per change of state. */
static void pods_up(struct req *r)
{
	struct watcher *w = (struct watcher *)r;
	struct k8s *k = r->k;

	if (w->up != 1)
		k8s_log(AG_LOG_INFO, "API %s: %s; watching the pods of node %s from resourceVersion %s",
			k->api_server, w->up == 0 ? "reachable again" : "reachable", k->node_name,
			r->rv[0] ? r->rv : "(list)");
	w->up = 1;
	w->last[0] = '\0';
	w->backoff = 0;
	pthread_mutex_lock(&k->lock);
	k->st.api_up = true;
	pthread_mutex_unlock(&k->lock);
}

static void *pods_thread(void *arg)
{
	struct k8s *k = arg;
	struct watcher w = { .r = { .k = k }, .up = -1 };
	struct req *rp = &w.r;
	bool need_list = true;
	CURL *curl = curl_easy_init();

	if (!curl) {
		k8s_log(AG_LOG_ERROR, "API %s: cannot make a libcurl handle; pods not watched",
			k->api_server);
		return NULL;
	}
	while (!atomic_load(&k->stop)) {
		char err[1024] = "", path[600];
		long http = 0;
		int ret = 0;

		if (need_list) {
			ret = pods_list(k, curl, rp, err, sizeof(err));
			if (!ret) {
				need_list = false;
				pods_up(rp);
			}
		}
		if (!ret) {
			snprintf(path, sizeof(path),
				 "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1&resourceVersion=%s"
				 "&allowWatchBookmarks=true&timeoutSeconds=%u", k->node_name, rp->rv,
				 k->watch_timeout_s);
			req_reset(rp);
			rp->line = watch_line;
			rp->on_ok = pods_up;
			pthread_mutex_lock(&k->lock);
			k->st.api_requests++;
			pthread_mutex_unlock(&k->lock);
			ret = http_get(k, curl, path, rp, &http, k->watch_timeout_s + 30, err, sizeof(err));
			if (!ret && rp->relist) {
				need_list = true;
				if (rp->line_err == -ESTALE)
					continue; /* 410: relist at once */
				ret = -EPROTO;
				snprintf(err, sizeof(err), "%.600s: watch stopped", rp->url);
			} else if (!ret && http == 410) {
				k8s_log(AG_LOG_INFO, "API %s: 410 Gone: relisting", rp->url);
				need_list = true;
				continue;
			} else if (!ret && http != 200) {
				http_error(rp, http, err, sizeof(err));
				ret = -EPROTO;
			} else if (ret == -ETIMEDOUT && rp->events) {
				ret = 0; /* a watch that ran its time */
			}
		}
		if (atomic_load(&k->stop))
			break;
		if (!ret)
			continue; /* watch again from r.rv */
		pthread_mutex_lock(&k->lock);
		k->st.api_errors++;
		k->st.api_up = false;
		if (w.up != 0 || strcmp(w.last, err))
			k8s_log(AG_LOG_WARN, "API %s%s", err, k->api.listed ? "; keeping the pods "
				"known, retrying" : "; retrying");
		ag_scpy(w.last, sizeof(w.last), err);
		w.up = 0;
		w.backoff = w.backoff ? w.backoff * 2 : 100 * MS;
		if (w.backoff > k->backoff_max_ns)
			w.backoff = k->backoff_max_ns;
		k8s_wait(k, ag_now_ns() + w.backoff);
		pthread_mutex_unlock(&k->lock);
	}
	req_reset(rp);
	curl_easy_cleanup(curl);
	return NULL;
}

/* ---- claims and slices ---- */

static int claim_get(struct k8s *k, CURL *curl, int *ver, const char *ns, const char *name,
		     struct k8s_api_claim *c, char *err, size_t errlen)
{
	struct req r = { .k = k };
	json_object *o, *results;
	char path[700];
	long http = 0;
	int ret;

	memset(c, 0, sizeof(*c));
	for (;;) {
		snprintf(path, sizeof(path), "/apis/resource.k8s.io/%s/namespaces/%s/resourceclaims/%s",
			 dra_versions[*ver], ns, name);
		req_reset(&r);
		ret = http_get(k, curl, path, &r, &http, 0, err, errlen);
		if (ret)
			goto out;
		/* an older API server: the same shape in an older version */
		if (http == 404 && r.body && strstr(r.body, "the server could not find the requested "
						    "resource") && *ver + 1 < 3) {
			(*ver)++;
			continue;
		}
		break;
	}
	if (http != 200) {
		http_error(&r, http, err, errlen);
		ret = http == 404 ? -ENOENT : -EPROTO;
		goto out;
	}
	o = json_tokener_parse(r.body ? r.body : "");
	if (!o || !jstr(jget(o, "metadata"), "uid")) {
		snprintf(err, errlen, "%.600s: not a ResourceClaim", r.url);
		json_object_put(o);
		ret = -EBADMSG;
		goto out;
	}
	c->ns = strdup(ns);
	c->name = strdup(name);
	c->uid = strdup(jstr(jget(o, "metadata"), "uid"));
	results = jarr(jget(jget(jget(o, "status"), "allocation"), "devices"), "results");
	c->allocated = results != NULL;
	if (results && json_object_array_length(results)) {
		c->r = calloc(json_object_array_length(results), sizeof(*c->r));
		if (!c->r) {
			json_object_put(o);
			ret = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; results && i < json_object_array_length(results); i++) {
		json_object *x = json_object_array_get_idx(results, i), *adm = jget(x, "adminAccess");
		struct k8s_api_result *res = &c->r[c->n++];

		res->request = sdup(jstr(x, "request"));
		res->driver = sdup(jstr(x, "driver"));
		res->pool = sdup(jstr(x, "pool"));
		res->device = sdup(jstr(x, "device"));
		res->admin = adm && json_object_get_boolean(adm);
	}
	json_object_put(o);
	ret = c->ns && c->name && c->uid ? 0 : -ENOMEM;
out:
	req_reset(&r);
	if (ret)
		claim_free(c);
	return ret;
}

static int slices_get(struct k8s *k, CURL *curl, int ver, char *err, size_t errlen)
{
	struct req r = { .k = k };
	struct k8s_slice_dev *v = NULL;
	json_object *o, *items;
	size_t n = 0;
	char path[600];
	long http = 0;
	int ret;

	snprintf(path, sizeof(path), "/apis/resource.k8s.io/%s/resourceslices?fieldSelector="
		 "spec.nodeName%%3D%s", dra_versions[ver], k->node_name);
	ret = http_get(k, curl, path, &r, &http, 0, err, errlen);
	if (!ret && http != 200) {
		http_error(&r, http, err, errlen);
		ret = -EPROTO;
	}
	if (ret)
		goto out;
	o = json_tokener_parse(r.body ? r.body : "");
	items = jarr(o, "items");
	if (!items) {
		snprintf(err, errlen, "%.600s: not a ResourceSliceList", r.url);
		json_object_put(o);
		ret = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *spec = jget(json_object_array_get_idx(items, i), "spec");
		json_object *devs = jarr(spec, "devices");

		for (size_t j = 0; devs && j < json_object_array_length(devs); j++) {
			json_object *d = json_object_array_get_idx(devs, j);
			json_object *at = jget(d, "attributes");
			struct k8s_slice_dev *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			v[n].driver = sdup(jstr(spec, "driver"));
			v[n].pool = sdup(jstr(jget(spec, "pool"), "name"));
			v[n].name = sdup(jstr(d, "name"));
			v[n].uuid = sdup(jstr(jget(at, "uuid"), "string"));
			v[n].pci = sdup(jstr(jget(at, "pcieBusID"), "string"));
			n++;
		}
	}
	json_object_put(o);
	pthread_mutex_lock(&k->lock);
	slices_free(k->api.slices, k->api.n_slices);
	k->api.slices = v;
	k->api.n_slices = n;
	pthread_mutex_unlock(&k->lock);
out:
	req_reset(&r);
	return ret;
}

struct claim_key {
	char *ns, *name;
};

static void *claims_thread(void *arg)
{
	struct k8s *k = arg;
	uint64_t next_slices = 0, retry_at = 0;
	int ver = 0;
	bool slices_ok = false;
	char last[1024] = "";
	CURL *curl = curl_easy_init();

	if (!curl)
		return NULL;
	pthread_mutex_lock(&k->lock);
	while (!atomic_load(&k->stop)) {
		struct claim_key *want = NULL;
		size_t n_want = 0;
		bool changed = false, failed = false;
		char err[1024] = "";
		uint64_t now = ag_now_ns();

		if (!k->claims_want || now < retry_at) {
			k8s_wait(k, k->claims_want ? retry_at : now + k->resync_ns);
			if (!k->claims_want && ag_now_ns() >= now + k->resync_ns)
				k->claims_want = true; /* claims still unallocated: look again */
			continue;
		}
		k->claims_want = false;
		/* forget the claims no pod of this node names any more */
		for (size_t i = 0; i < k->api.n_claims;) {
			const struct k8s_api_claim *c = &k->api.claims[i];
			bool used = false;

			for (size_t p = 0; p < k->api.n_pods && !used; p++)
				for (size_t j = 0; j < k->api.pods[p].n_cl && !used; j++)
					used = !strcmp(k->api.pods[p].ns, c->ns) &&
					       ag_streq(k->api.pods[p].cl[j].claim, c->name);
			if (used) {
				i++;
				continue;
			}
			claim_free(&k->api.claims[i]);
			k->api.claims[i] = k->api.claims[--k->api.n_claims];
		}
		/* the claims the pods name that are not known allocated */
		for (size_t i = 0; i < k->api.n_pods; i++) {
			const struct k8s_api_pod *p = &k->api.pods[i];

			for (size_t j = 0; j < p->n_cl; j++) {
				const struct k8s_api_claim *c = p->cl[j].claim ?
					k8s_api_claim(k, p->ns, p->cl[j].claim) : NULL;
				struct claim_key *w;

				if (!p->cl[j].claim || (c && c->allocated))
					continue;
				w = realloc(want, (n_want + 1) * sizeof(*w));
				if (!w)
					break;
				want = w;
				want[n_want].ns = strdup(p->ns);
				want[n_want++].name = strdup(p->cl[j].claim);
			}
		}
		pthread_mutex_unlock(&k->lock);

		if (n_want && (!slices_ok || now >= next_slices)) {
			if (slices_get(k, curl, ver, err, sizeof(err)) == 0) {
				slices_ok = true;
				next_slices = now + 30 * SEC;
			} else if (strcmp(last, err)) {
				k8s_log(AG_LOG_WARN, "API %s (device attributes from CDI and procfs only)",
					err);
				ag_scpy(last, sizeof(last), err);
			}
		}
		for (size_t i = 0; i < n_want; i++) {
			struct k8s_api_claim c;
			int ret = want[i].ns && want[i].name ?
				claim_get(k, curl, &ver, want[i].ns, want[i].name, &c, err, sizeof(err)) :
				-ENOMEM;

			if (ret) {
				failed = true;
				if (strcmp(last, err))
					k8s_log(AG_LOG_WARN, "API %s; retrying", err);
				ag_scpy(last, sizeof(last), err);
				continue;
			}
			for (size_t j = 0; j < c.n; j++) {
				struct k8s_api_result *res = &c.r[j];
				char cdi[512];
				const char *names[1] = { cdi };

				/* the NVIDIA DRA driver's CDI name for a claim's device */
				snprintf(cdi, sizeof(cdi), "k8s.gpu.nvidia.com/claim=%s-%s", c.uid,
					 res->device ? res->device : "");
				k8s_map_dra(k, res->driver ? res->driver : "", res->pool ? res->pool : "",
					    res->device ? res->device : "", names,
					    ag_streq(res->driver, "gpu.nvidia.com") ? 1 : 0, &res->map);
			}
			pthread_mutex_lock(&k->lock);
			{
				struct k8s_api_claim *old = (struct k8s_api_claim *)k8s_api_claim(k, c.ns,
												c.name);

				if (old) {
					claim_free(old);
					*old = c;
				} else if (k->api.n_claims < k->api.cap_claims ||
					   (k->api.claims = realloc(k->api.claims,
						(k->api.cap_claims = k->api.cap_claims * 2 + 8) *
						sizeof(*k->api.claims)))) {
					k->api.claims[k->api.n_claims++] = c;
				} else {
					k->api.n_claims = k->api.cap_claims = 0;
					claim_free(&c);
				}
			}
			pthread_mutex_unlock(&k->lock);
			changed = true;
		}
		for (size_t i = 0; i < n_want; i++) {
			free(want[i].ns);
			free(want[i].name);
		}
		free(want);
		if (changed)
			k8s_notify(k);
		pthread_mutex_lock(&k->lock);
		if (failed) {
			k->claims_want = true;
			retry_at = ag_now_ns() + k->backoff_max_ns;
		}
	}
	pthread_mutex_unlock(&k->lock);
	curl_easy_cleanup(curl);
	return NULL;
}

int k8s_api_start(struct k8s *k)
{
	int ret;

	if (!k->node_name) {
		k8s_log(AG_LOG_WARN, "API %s: no node name (kubernetes.node_name or NODE_NAME): the "
			"pods of this node cannot be selected; Kubernetes API off", k->api_server);
		free(k->api_server);
		k->api_server = NULL;
		return 0;
	}
	ret = -pthread_create(&k->th_api, NULL, pods_thread, k);
	if (ret)
		return ret;
	k->have_api = true;
	ret = -pthread_create(&k->th_claims, NULL, claims_thread, k);
	if (ret)
		return ret;
	k->have_claims = true;
	return 0;
}
