// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The pods of this node from the Kubernetes API: list + watch (fieldSelector spec.nodeName,
 * resumed from the last resourceVersion, bookmarks, relist on 410 Gone).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"


void k8s_api_pod_free(struct k8s_api_pod *p)
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

#define AG_STR_(x) #x
#define AG_STR(x) AG_STR_(x)

/* "containerd://<id>" -> "<id>" */
static char *strip_scheme(const char *s)
{
	const char *p = s ? strstr(s, "://") : NULL;

	return k8s_sdup(p ? p + 3 : s);
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
		json_object *claims = k8s_jarr(k8s_jget(sc, "resources"), "claims");
		struct k8s_api_ctr *d = &p->c[p->n_c];
		const char *name = k8s_jstr(sc, "name");

		if (!name)
			return -EINVAL;
		memset(d, 0, sizeof(*d));
		p->n_c++;
		d->name = strdup(name);
		if (!d->name)
			return -ENOMEM;
		for (size_t j = 0; statuses && j < json_object_array_length(statuses); j++) {
			json_object *st = json_object_array_get_idx(statuses, j);
			const char *id = k8s_jstr(st, "containerID");

			/* the first status of that name counts: a second one leaked the first id */
			if (ag_streq(k8s_jstr(st, "name"), name) && id && *id) {
				d->id = strip_scheme(id);
				if (!d->id)
					return -ENOMEM;
				break;
			}
		}
		for (size_t j = 0; claims && j < json_object_array_length(claims); j++) {
			const char *cn = k8s_jstr(json_object_array_get_idx(claims, j), "name");
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
/* The pod's labels. */
static int pod_labels(struct k8s_api_pod *p, json_object *labels, const char **why)
{
	size_t n;

	if (!labels || !json_object_is_type(labels, json_type_object))
		return 0;
	n = (size_t)json_object_object_length(labels);
	if (n > K8S_API_MAX_LABELS) {
		*why = "more than " AG_STR(K8S_API_MAX_LABELS) " labels";
		return -E2BIG;
	}
	p->labels.keys = calloc(n + 1, sizeof(char *));
	p->labels.values = calloc(n + 1, sizeof(char *));
	if (!p->labels.keys || !p->labels.values)
		return -ENOMEM;
	json_object_object_foreach(labels, key, val) {
		if (!json_object_is_type(val, json_type_string))
			continue;
		p->labels.keys[p->labels.n] = strdup(key);
		p->labels.values[p->labels.n] = strdup(json_object_get_string(val));
		if (!p->labels.keys[p->labels.n] || !p->labels.values[p->labels.n++])
			return -ENOMEM;
	}
	return 0;
}

/* The bounds on the lists: each is searched once per container or claim, so bounded, the cost
 * stays linear. */
static int pod_bounds(json_object *spec, json_object *st, json_object *rcs, const char **why)
{
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses",
					     "ephemeralContainerStatuses", "resourceClaimStatuses" };
	size_t nc = 0;
	json_object *a;

	if ((a = k8s_jarr(spec, "containers")))
		nc += json_object_array_length(a);
	if ((a = k8s_jarr(spec, "initContainers")))
		nc += json_object_array_length(a);
	if ((a = k8s_jarr(spec, "ephemeralContainers")))
		nc += json_object_array_length(a);
	if (nc > K8S_API_MAX_CONTAINERS) {
		*why = "more than " AG_STR(K8S_API_MAX_CONTAINERS) " containers";
		return -E2BIG;
	}
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if ((a = k8s_jarr(st, lists[i])) &&
		    json_object_array_length(a) > K8S_API_MAX_CONTAINERS) {
			*why = "a status list longer than " AG_STR(K8S_API_MAX_CONTAINERS);
			return -E2BIG;
		}
	if (rcs && json_object_array_length(rcs) > K8S_API_MAX_CONTAINERS) {
		*why = "more than " AG_STR(K8S_API_MAX_CONTAINERS) " resourceClaims";
		return -E2BIG;
	}
	return 0;
}

/* The pod's resource claims, by the name the containers use and the claim's own (a claim made
 * from a template: its generated name is in the status). */
static int pod_claims(struct k8s_api_pod *p, json_object *rcs, json_object *rcst)
{
	for (size_t i = 0; rcs && i < json_object_array_length(rcs); i++) {
		json_object *rc = json_object_array_get_idx(rcs, i);
		const char *name = k8s_jstr(rc, "name"), *claim = k8s_jstr(rc, "resourceClaimName");
		struct k8s_api_claimref *v;

		if (!name)
			continue;
		for (size_t j = 0; !claim && rcst && j < json_object_array_length(rcst); j++) {
			json_object *s = json_object_array_get_idx(rcst, j);

			if (ag_streq(k8s_jstr(s, "name"), name))
				claim = k8s_jstr(s, "resourceClaimName");
		}
		v = realloc(p->cl, (p->n_cl + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->cl = v;
		v[p->n_cl].name = strdup(name);
		v[p->n_cl].claim = k8s_sdup(claim);
		if (!v[p->n_cl++].name || (claim && !v[p->n_cl - 1].claim))
			return -ENOMEM;
	}
	return 0;
}

static int parse_pod(json_object *o, struct k8s_api_pod *p, const char **why)
{
	json_object *md = k8s_jget(o, "metadata"), *spec = k8s_jget(o, "spec");
	json_object *st = k8s_jget(o, "status");
	json_object *rcs = k8s_jarr(spec, "resourceClaims");
	int ret;

	memset(p, 0, sizeof(*p));
	if (!k8s_jstr(md, "uid") || !k8s_jstr(md, "name") || !k8s_jstr(md, "namespace") || !spec) {
		*why = "a pod without metadata.uid, name, namespace or spec";
		return -EINVAL;
	}
	p->uid = strdup(k8s_jstr(md, "uid"));
	p->ns = strdup(k8s_jstr(md, "namespace"));
	p->name = strdup(k8s_jstr(md, "name"));
	p->sa = k8s_sdup(k8s_jstr(spec, "serviceAccountName"));
	if (!p->uid || !p->ns || !p->name)
		goto nomem;
	ret = pod_labels(p, k8s_jget(md, "labels"), why);
	ret = ret ?: pod_bounds(spec, st, rcs, why);
	if (ret == -E2BIG)
		return ret;
	if (ret)
		goto nomem;
	ret = add_ctrs(p, k8s_jarr(spec, "containers"), k8s_jarr(st, "containerStatuses"));
	ret = ret ?: add_ctrs(p, k8s_jarr(spec, "initContainers"), k8s_jarr(st, "initContainerStatuses"));
	ret = ret ?: add_ctrs(p, k8s_jarr(spec, "ephemeralContainers"),
			      k8s_jarr(st, "ephemeralContainerStatuses"));
	if (ret == -EINVAL) {
		*why = "a container without a name";
		return ret;
	}
	if (ret || pod_claims(p, rcs, k8s_jarr(st, "resourceClaimStatuses")))
		goto nomem;
	return 0;
nomem:
	*why = "out of memory";
	return -ENOMEM;
}

int k8s_api_pod_parse(json_object *o, struct k8s_api_pod *p, const char **why)
{
	return parse_pod(o, p, why);
}

/* api->lock held. Takes p. */
static void pod_upsert(struct k8s_api *api, struct k8s_api_pod *p)
{
	struct k8s_api_snap *s = &api->snap;

	for (size_t i = 0; i < s->n_pods; i++) {
		if (!strcmp(s->pods[i].uid, p->uid)) {
			k8s_api_pod_free(&s->pods[i]);
			s->pods[i] = *p;
			return;
		}
	}
	if (s->n_pods == s->cap_pods) {
		size_t cap = s->cap_pods ? s->cap_pods * 2 : 64;
		struct k8s_api_pod *v = realloc(s->pods, cap * sizeof(*v));

		if (!v) {
			k8s_api_pod_free(p);
			return;
		}
		s->pods = v;
		s->cap_pods = cap;
	}
	s->pods[s->n_pods++] = *p;
}

static void pod_delete(struct k8s_api *api, const char *uid)
{
	struct k8s_api_snap *s = &api->snap;

	for (size_t i = 0; i < s->n_pods; i++) {
		if (!strcmp(s->pods[i].uid, uid)) {
			k8s_api_pod_free(&s->pods[i]);
			s->pods[i] = s->pods[--s->n_pods];
			return;
		}
	}
}

/* ---- pods: list + watch ---- */

int k8s_api_podlist_parse(char *body, size_t len, const char *url, struct k8s_api_pod **out,
			  size_t *out_n, size_t *refused, char *rv, size_t rvlen, char *cont,
			  size_t contlen, char *err, size_t errlen)
{
	size_t n = 0, n_items = 0, budget = k8s_json_bound(len);
	struct k8s_jspan *items = NULL;
	struct k8s_api_pod *pods;
	json_object *o;
	const char *c;
	char jerr[800];

	/* each item alone: one over its bound is refused, the others are applied (a pod of 10,000
	 * containers cost the agent the whole list, and so every pod of the node) */
	if (refused)
		*refused = 0;
	int r = k8s_json_split(body, len, "items", &items, &n_items, K8S_API_MAX_PODS, jerr,
			       sizeof(jerr));

	if (r == -EBADMSG) {
		snprintf(err, errlen, "%.600s: %s", url, jerr);
		return -EBADMSG;
	}
	if (r == -E2BIG) {
		snprintf(err, errlen, "%.600s: %zu pods, more than %d on one node", url, n_items,
			 K8S_API_MAX_PODS);
		free(items);
		return -E2BIG;
	}
	pods = calloc(n_items + 1, sizeof(*pods));
	if (!pods) {
		free(items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_items; i++) {
		/* its own bound, within what is left of the whole answer's */
		size_t cost = 0, own = k8s_json_bound(items[i].len);
		const char *why = "";
		json_object *it = k8s_json_parse_within(body + items[i].off, items[i].len,
							k8s_keep_pod, NULL, own < budget ? own : budget,
							&cost, jerr, sizeof(jerr));

		if (!it) {
			k8s_log(AG_LOG_WARN, "API %s: item %zu refused: %s; the other items are applied",
				url, i, jerr);
			if (refused)
				(*refused)++;
			continue;
		}
		budget -= cost < budget ? cost : budget;
		if (parse_pod(it, &pods[n], &why) == 0) {
			n++;
		} else {
			k8s_log(AG_LOG_WARN, "API %s: item %zu skipped: %s", url, i, why);
			k8s_api_pod_free(&pods[n]);
		}
		json_object_put(it);
	}
	/* the list's own members, its items taken out: the array's text blanked to [ ] */
	if (n_items) {
		size_t from = items[0].off, to = items[n_items - 1].off + items[n_items - 1].len;

		memset(body + from, ' ', to - from);
	}
	free(items);
	o = k8s_json_parse(body, len, k8s_keep_podlist, url, err, errlen);
	if (!o || !k8s_jarr(o, "items") || !k8s_jstr(k8s_jget(o, "metadata"), "resourceVersion")) {
		if (o)
			snprintf(err, errlen, "%.600s: not a PodList (%s)", url,
				 !k8s_jarr(o, "items") ? "no items" : "no metadata.resourceVersion");
		json_object_put(o);
		for (size_t i = 0; i < n; i++)
			k8s_api_pod_free(&pods[i]);
		free(pods);
		return -EBADMSG;
	}
	ag_strlcpy(rv, k8s_jstr(k8s_jget(o, "metadata"), "resourceVersion"), rvlen);
	c = k8s_jstr(k8s_jget(o, "metadata"), "continue");
	ag_strlcpy(cont, c ? c : "", contlen);
	json_object_put(o);
	*out = pods;
	*out_n = n;
	return 0;
}

static int pods_list(struct k8s_api *api, CURL *curl, struct k8s_req *r, char *err, size_t errlen)
{
	const struct k8s_env *env = api->env;
	struct k8s_api_pod *pods = NULL;
	char path[512], cont[8];
	size_t n = 0, refused = 0;
	long http = 0;
	int ret;

	snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", env->node_name);
	k8s_req_reset(r);
	ret = k8s_http_get(env, curl, path, r, &http, 0, err, errlen);
	if (ret)
		return ret;
	if (http != 200) {
		k8s_http_error(r, http, err, errlen);
		return -EPROTO;
	}
	ret = k8s_api_podlist_parse(r->body ? r->body : (char[1]){ 0 }, r->len, r->url, &pods, &n,
				    &refused, r->rv, sizeof(r->rv), cont, sizeof(cont), err, errlen);
	if (ret)
		return ret;
	k8s_lock(&api->lock);
	for (size_t i = 0; i < api->snap.n_pods; i++)
		k8s_api_pod_free(&api->snap.pods[i]);
	api->snap.n_pods = 0;
	for (size_t i = 0; i < n; i++)
		pod_upsert(api, &pods[i]);
	api->snap.listed = true;
	api->relists++;
	api->refused += refused;
	k8s_api_claims_kick(api);
	k8s_unlock(&api->lock);
	free(pods);
	k8s_notify(env);
	return 0;
}

struct watcher {
	struct k8s_req r; /* first: the callbacks get &w->r */
	struct k8s_api *api;
	int up;       /* -1 unknown, 0 down, 1 up */
	char last[1024];
	uint64_t backoff;
};

static struct watcher *w_of(struct k8s_req *r)
{
	return (struct watcher *)r;
}

/* One watch event line. */
static int watch_line(struct k8s_req *r, char *line, size_t len)
{
	struct k8s_api *api = w_of(r)->api;
	const struct k8s_env *env = api->env;
	/* a NUL inside the line would cut the event short where json-c stops: no event */
	char jerr[1024] = "";
	size_t cost = 0;
	json_object *o = strlen(line) == len ?
		k8s_json_parse_within(line, len, k8s_keep_watch, NULL, k8s_json_bound(len), &cost,
				      jerr, sizeof(jerr)) : NULL;
	/* an object over the bound (valid JSON) costs the agent that object alone; a line that is
	 * no JSON (or holds a NUL) is a broken stream, whose lost events only a relist gives back */
	bool broken = strlen(line) != len || (!o && cost <= k8s_json_bound(len));
	json_object *obj = k8s_jget(o, "object");
	const char *type = k8s_jstr(o, "type");
	const char *rv = k8s_jstr(k8s_jget(obj, "metadata"), "resourceVersion");
	const char *why = "";
	struct k8s_api_pod p;

	if (!o || !type || !obj) {
		/* The line is quoted as it came: the check that refuses it blanks nothing. Refused
		 * alone: the events after it are applied and the watch goes on (it stopped here,
		 * and went on past the events it had not applied). */
		k8s_log(AG_LOG_WARN, "API %s: watch event refused (%s): %.120s%s; %s", r->url,
			strlen(line) != len ? "a NUL byte in the line" : !o ? jerr : !type ? "no type" : "no object", line, len > 120 ? "..." : "",
			broken ? "relisting" : "the rest of the stream is applied");
		json_object_put(o);
		k8s_lock(&api->lock);
		api->refused++;
		k8s_unlock(&api->lock);
		if (!broken)
			return 0;
		r->relist = true;
		r->line_err = -EBADMSG;
		return -EBADMSG;
	}
	k8s_lock(&api->lock);
	api->events++;
	k8s_unlock(&api->lock);
	r->events++;
	if (!strcmp(type, "ERROR")) {
		json_object *code = k8s_jget(obj, "code");
		int c = code ? json_object_get_int(code) : 0;

		if (c == 410)
			k8s_log(AG_LOG_INFO, "API %s: resourceVersion %s expired (410 Gone): relisting",
				r->url, r->rv);
		else
			k8s_log(AG_LOG_WARN, "API %s: watch ERROR %d: %s; relisting", r->url, c,
				k8s_jstr(obj, "message") ? k8s_jstr(obj, "message") : "");
		json_object_put(o);
		r->relist = true;
		r->line_err = c == 410 ? -ESTALE : -EPROTO;
		return r->line_err;
	}
	if (!strcmp(type, "BOOKMARK")) {
		if (rv)
			ag_strlcpy(r->rv, rv, sizeof(r->rv));
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
		k8s_api_pod_free(&p);
		json_object_put(o);
		k8s_lock(&api->lock);
		api->refused++;
		k8s_unlock(&api->lock);
		return 0;
	}
	if (rv)
		ag_strlcpy(r->rv, rv, sizeof(r->rv));
	k8s_lock(&api->lock);
	if (!strcmp(type, "DELETED")) {
		pod_delete(api, p.uid);
		k8s_api_pod_free(&p);
	} else {
		pod_upsert(api, &p);
		k8s_api_claims_kick(api);
	}
	k8s_unlock(&api->lock);
	json_object_put(o);
	k8s_notify(env);
	return 0;
}

/* The server answered: say so once per change of state. */
static void pods_up(struct k8s_req *r)
{
	struct watcher *w = (struct watcher *)r;
	struct k8s_api *api = w_of(r)->api;
	const struct k8s_env *env = api->env;

	if (w->up != 1)
		k8s_log(AG_LOG_INFO, "API %s: %s; watching the pods of node %s from resourceVersion %s",
			env->api_server, w->up == 0 ? "reachable again" : "reachable", env->node_name,
			r->rv[0] ? r->rv : "(list)");
	w->up = 1;
	w->last[0] = '\0';
	w->backoff = 0;
	k8s_lock(&api->lock);
	api->up = true;
	k8s_unlock(&api->lock);
}

void *k8s_api_pods_thread(void *arg)
{
	struct k8s_api *api = arg;
	const struct k8s_env *env = api->env;
	struct watcher w = { .r = { .env = env }, .api = api, .up = -1 };
	struct k8s_req *rp = &w.r;
	bool need_list = true;
	CURL *curl = curl_easy_init();

	if (!curl) {
		k8s_log(AG_LOG_ERROR, "API %s: cannot make a libcurl handle; pods not watched",
			env->api_server);
		return NULL;
	}
	while (!atomic_load(&env->stop)) {
		char err[1024] = "", path[600];
		long http = 0;
		int ret = 0;

		if (need_list) {
			ret = pods_list(api, curl, rp, err, sizeof(err));
			if (!ret) {
				need_list = false;
				pods_up(rp);
			}
		}
		if (!ret) {
			snprintf(path, sizeof(path),
				 "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1&resourceVersion=%s"
				 "&allowWatchBookmarks=true&timeoutSeconds=%u", env->node_name, rp->rv,
				 env->watch_timeout_s);
			k8s_req_reset(rp);
			rp->line = watch_line;
			rp->on_ok = pods_up;
			k8s_lock(&api->lock);
			api->requests++;
			k8s_unlock(&api->lock);
			ret = k8s_http_get(env, curl, path, rp, &http, env->watch_timeout_s + 30, err, sizeof(err));
			if (rp->long_lines) {
				k8s_lock(&api->lock);
				api->refused += rp->long_lines;
				k8s_unlock(&api->lock);
				rp->long_lines = 0;
			}
			/* the stream said relist (an ERROR event stops the transfer: ret is not 0
			 * then): relist, never watch on from the last resourceVersion */
			if (rp->relist) {
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
				k8s_http_error(rp, http, err, sizeof(err));
				ret = -EPROTO;
			} else if (ret == -ETIMEDOUT && rp->events) {
				ret = 0; /* a watch that ran its time */
			}
		}
		if (atomic_load(&env->stop))
			break;
		if (!ret)
			continue; /* watch again from r.rv */
		k8s_lock(&api->lock);
		api->errors++;
		api->up = false;
		if (w.up != 0 || strcmp(w.last, err))
			k8s_log(AG_LOG_WARN, "API %s%s", err, api->snap.listed ? "; keeping the pods "
				"known, retrying" : "; retrying");
		ag_strlcpy(w.last, err, sizeof(w.last));
		w.up = 0;
		w.backoff = w.backoff ? w.backoff * 2 : 100 * K8S_MS;
		if (w.backoff > env->backoff_max_ns)
			w.backoff = env->backoff_max_ns;
		k8s_wait(&api->cond, &api->lock, k8s_mono_ns() + w.backoff, &env->stop);
		k8s_unlock(&api->lock);
	}
	k8s_req_reset(rp);
	curl_easy_cleanup(curl);
	return NULL;
}

const struct k8s_api_pod *k8s_api_pod_by_uid(const struct k8s_api *api, const char *uid)
{
	for (size_t i = 0; uid && *uid && i < api->snap.n_pods; i++)
		if (!strcmp(api->snap.pods[i].uid, uid))
			return &api->snap.pods[i];
	return NULL;
}
