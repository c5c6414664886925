// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ResourceClaims of this node's pods (allocation results, adminAccess) and ResourceSlices of this
 * node (device uuid and PCI attributes, handed to the device mapping) from the Kubernetes API.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"

static const char *const dra_versions[] = { "v1", "v1beta2", "v1beta1" };


void k8s_api_claim_free(struct k8s_api_claim *c)
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

/* ---- claims and slices ---- */

const struct k8s_api_claim *k8s_api_claim(const struct k8s_api *api, const char *ns,
					  const char *name)
{
	for (size_t i = 0; ns && name && i < api->snap.n_claims; i++)
		if (!strcmp(api->snap.claims[i].ns, ns) && !strcmp(api->snap.claims[i].name, name))
			return &api->snap.claims[i];
	return NULL;
}

void k8s_api_claims_kick(struct k8s_api *api)
{
	api->claims_want = true;
	pthread_cond_broadcast(&api->cond);
}

void k8s_api_wake(struct k8s_api *api)
{
	pthread_cond_broadcast(&api->cond);
}

int k8s_api_claim_parse(json_object *o, const char *ns, const char *name, struct k8s_api_claim *c)
{
	json_object *results;
	size_t n;

	memset(c, 0, sizeof(*c));
	if (!k8s_jstr(k8s_jget(o, "metadata"), "uid"))
		return -EBADMSG;
	results = k8s_jarr(k8s_jget(k8s_jget(k8s_jget(o, "status"), "allocation"), "devices"), "results");
	n = results ? json_object_array_length(results) : 0;
	if (n > K8S_API_MAX_RESULTS)
		return -E2BIG;
	c->ns = strdup(ns);
	c->name = strdup(name);
	c->uid = strdup(k8s_jstr(k8s_jget(o, "metadata"), "uid"));
	c->allocated = results != NULL;
	if (n) {
		c->r = calloc(n, sizeof(*c->r));
		if (!c->r)
			return -ENOMEM;
	}
	for (size_t i = 0; c->r && i < n; i++) {
		json_object *x = json_object_array_get_idx(results, i), *adm = k8s_jget(x, "adminAccess");
		struct k8s_api_result *res = &c->r[c->n++];

		res->request = k8s_sdup(k8s_jstr(x, "request"));
		res->driver = k8s_sdup(k8s_jstr(x, "driver"));
		res->pool = k8s_sdup(k8s_jstr(x, "pool"));
		res->device = k8s_sdup(k8s_jstr(x, "device"));
		res->admin = adm && json_object_get_boolean(adm);
	}
	return c->ns && c->name && c->uid ? 0 : -ENOMEM;
}

int k8s_api_slices_parse(json_object *items, struct k8s_slice_dev **out, size_t *out_n)
{
	struct k8s_slice_dev *v = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	for (size_t i = 0; !ret && i < json_object_array_length(items); i++) {
		json_object *spec = k8s_jget(json_object_array_get_idx(items, i), "spec");
		json_object *devs = k8s_jarr(spec, "devices");

		for (size_t j = 0; devs && j < json_object_array_length(devs); j++) {
			json_object *d = json_object_array_get_idx(devs, j);
			json_object *at = k8s_jget(d, "attributes");

			if (n >= K8S_API_MAX_SLICE_DEVS) {
				ret = -E2BIG;
				break;
			}
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct k8s_slice_dev *nv = realloc(v, nc * sizeof(*v));

				if (!nv) {
					ret = -ENOMEM;
					break;
				}
				v = nv;
				cap = nc;
			}
			v[n].driver = k8s_sdup(k8s_jstr(spec, "driver"));
			v[n].pool = k8s_sdup(k8s_jstr(k8s_jget(spec, "pool"), "name"));
			v[n].name = k8s_sdup(k8s_jstr(d, "name"));
			v[n].uuid = k8s_sdup(k8s_jstr(k8s_jget(at, "uuid"), "string"));
			v[n].pci = k8s_sdup(k8s_jstr(k8s_jget(at, "pcieBusID"), "string"));
			n++;
		}
	}
	if (ret) {
		k8s_slices_free(v, n);
		return ret;
	}
	*out = v;
	*out_n = n;
	return 0;
}

static int claim_get(struct k8s_api *api, CURL *curl, int *ver, const char *ns, const char *name,
		     struct k8s_api_claim *c, char *err, size_t errlen)
{
	const struct k8s_env *env = api->env;
	struct k8s_req r = { .env = api->env };
	json_object *o;
	char path[700];
	long http = 0;
	int ret;

	memset(c, 0, sizeof(*c));
	for (;;) {
		snprintf(path, sizeof(path), "/apis/resource.k8s.io/%s/namespaces/%s/resourceclaims/%s",
			 dra_versions[*ver], ns, name);
		k8s_req_reset(&r);
		ret = k8s_http_get(env, curl, path, &r, &http, 0, err, errlen);
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
		k8s_http_error(&r, http, err, errlen);
		ret = http == 404 ? -ENOENT : -EPROTO;
		goto out;
	}
	o = k8s_json_parse(r.body ? r.body : (char[1]){ 0 }, r.len, k8s_keep_claim, r.url, err, errlen);
	if (!o) {
		ret = -EBADMSG;
		goto out;
	}
	if (!k8s_jstr(k8s_jget(o, "metadata"), "uid")) {
		snprintf(err, errlen, "%.600s: not a ResourceClaim", r.url);
		json_object_put(o);
		ret = -EBADMSG;
		goto out;
	}
	ret = k8s_api_claim_parse(o, ns, name, c);
	if (ret == -E2BIG)
		snprintf(err, errlen, "%.600s: more than %u allocation results", r.url,
			 K8S_API_MAX_RESULTS);
	json_object_put(o);
out:
	k8s_req_reset(&r);
	if (ret)
		k8s_api_claim_free(c);
	return ret;
}

static int slices_get(struct k8s_api *api, CURL *curl, int ver, char *err, size_t errlen)
{
	const struct k8s_env *env = api->env;
	struct k8s_req r = { .env = api->env };
	struct k8s_slice_dev *v = NULL;
	struct k8s_jspan *sp = NULL;
	json_object *o = NULL, *items = NULL;
	size_t n = 0, n_sp = 0, budget, refused = 0;
	char path[600], jerr[800], *body;
	long http = 0;
	int ret;

	snprintf(path, sizeof(path), "/apis/resource.k8s.io/%s/resourceslices?fieldSelector="
		 "spec.nodeName%%3D%s", dra_versions[ver], env->node_name);
	ret = k8s_http_get(env, curl, path, &r, &http, 0, err, errlen);
	if (!ret && http != 200) {
		k8s_http_error(&r, http, err, errlen);
		ret = -EPROTO;
	}
	if (ret)
		goto out;
	/* each slice alone, as a PodList's pods: one over its bound is refused, the rest applied */
	body = r.body ? r.body : (char[1]){ 0 };
	ret = k8s_json_split(body, r.len, "items", &sp, &n_sp, K8S_API_MAX_SLICE_DEVS, jerr,
			     sizeof(jerr));
	if (ret) {
		if (ret == -E2BIG)
			snprintf(err, errlen, "%.600s: more than %u ResourceSlices", r.url,
				 K8S_API_MAX_SLICE_DEVS);
		else
			snprintf(err, errlen, "%.600s: %.400s", r.url, jerr);
		goto out;
	}
	items = json_object_new_array();
	budget = k8s_json_bound(r.len);
	for (size_t i = 0; items && i < n_sp; i++) {
		size_t cost = 0, own = k8s_json_bound(sp[i].len);
		json_object *it = k8s_json_parse_within(body + sp[i].off, sp[i].len, k8s_keep_slice,
							NULL, own < budget ? own : budget, &cost,
							jerr, sizeof(jerr));

		if (!it) {
			k8s_log(AG_LOG_WARN, "API %s: item %zu refused: %s; the other items are applied",
				r.url, i, jerr);
			refused++;
			continue;
		}
		budget -= cost < budget ? cost : budget;
		json_object_array_add(items, it);
	}
	if (n_sp)
		memset(body + sp[0].off, ' ', sp[n_sp - 1].off + sp[n_sp - 1].len - sp[0].off);
	if (refused) {
		k8s_lock(&api->lock);
		api->refused += refused;
		k8s_unlock(&api->lock);
	}
	o = items ? k8s_json_parse(body, r.len, k8s_keep_slices, r.url, err, errlen) : NULL;
	if (!o || !k8s_jarr(o, "items")) {
		if (o || !items)
			snprintf(err, errlen, "%.600s: %s", r.url,
				 items ? "not a ResourceSliceList" : "out of memory");
		ret = -EBADMSG;
		goto out;
	}
	ret = k8s_api_slices_parse(items, &v, &n);
	if (ret) {
		if (ret == -E2BIG)
			snprintf(err, errlen, "%.600s: more than %u devices in the ResourceSlices",
				 r.url, K8S_API_MAX_SLICE_DEVS);
		else
			snprintf(err, errlen, "%.600s: out of memory", r.url);
		goto out;
	}
	k8s_map_set_slices(api->map, v, n);
out:
	json_object_put(o);
	json_object_put(items);
	free(sp);
	k8s_req_reset(&r);
	return ret;
}

/* Replace the claim of that name or add it (takes c unless it fails). api->lock held.
 * Returns 0 or -ENOMEM, with s left as it was. */
static int claim_store(struct k8s_api_snap *s, struct k8s_api_claim *c)
{
	struct k8s_api_claim *old = NULL;

	for (size_t i = 0; i < s->n_claims && !old; i++)
		if (!strcmp(s->claims[i].ns, c->ns) && !strcmp(s->claims[i].name, c->name))
			old = &s->claims[i];
	if (old) {
		k8s_api_claim_free(old);
		*old = *c;
		return 0;
	}
	if (s->n_claims == s->cap_claims) {
		size_t cap = s->cap_claims * 2 + 8;
		struct k8s_api_claim *v = realloc(s->claims, cap * sizeof(*v));

		if (!v)
			return -ENOMEM; /* the claims known stay */
		s->claims = v;
		s->cap_claims = cap;
	}
	s->claims[s->n_claims++] = *c;
	return 0;
}

struct claim_key {
	char *ns, *name;
};

/* The claims thread's own state between rounds. */
struct claims_loop {
	uint64_t next_slices, retry_at;
	int ver;
	bool slices_ok;
	char last[1024]; /* the last warning, said once */
	CURL *curl;
};

/* Forget the claims no pod of this node names any more. Lock held. */
static void claims_forget_unused(struct k8s_api *api)
{
	for (size_t i = 0; i < api->snap.n_claims;) {
		const struct k8s_api_claim *c = &api->snap.claims[i];
		bool used = false;

		for (size_t p = 0; p < api->snap.n_pods && !used; p++)
			for (size_t j = 0; j < api->snap.pods[p].n_cl && !used; j++)
				used = !strcmp(api->snap.pods[p].ns, c->ns) &&
				       ag_streq(api->snap.pods[p].cl[j].claim, c->name);
		if (used) {
			i++;
			continue;
		}
		k8s_api_claim_free(&api->snap.claims[i]);
		api->snap.claims[i] = api->snap.claims[--api->snap.n_claims];
	}
}

/* The claims the pods name that are not known allocated. Lock held. */
static size_t claims_wanted(struct k8s_api *api, struct claim_key **want)
{
	size_t n_want = 0;

	for (size_t i = 0; i < api->snap.n_pods; i++) {
		const struct k8s_api_pod *p = &api->snap.pods[i];

		for (size_t j = 0; j < p->n_cl; j++) {
			const struct k8s_api_claim *c = p->cl[j].claim ?
				k8s_api_claim(api, p->ns, p->cl[j].claim) : NULL;
			struct claim_key *w;

			if (!p->cl[j].claim || (c && c->allocated))
				continue;
			w = realloc(*want, (n_want + 1) * sizeof(*w));
			if (!w)
				return n_want;
			*want = w;
			w[n_want].ns = strdup(p->ns);
			w[n_want++].name = strdup(p->cl[j].claim);
		}
	}
	return n_want;
}

/* A claim's devices as device numbers (through the NVIDIA DRA driver's CDI name for each). */
static void claim_map(struct k8s_api *api, struct k8s_api_claim *c)
{
	for (size_t j = 0; j < c->n; j++) {
		struct k8s_api_result *res = &c->r[j];
		char cdi[512];
		const char *names[1] = { cdi };

		snprintf(cdi, sizeof(cdi), "k8s.gpu.nvidia.com/claim=%s-%s", c->uid,
			 res->device ? res->device : "");
		k8s_map_dra(api->map, res->driver ? res->driver : "", res->pool ? res->pool : "",
			    res->device ? res->device : "", names,
			    ag_streq(res->driver, "gpu.nvidia.com") ? 1 : 0, &res->map);
	}
}

/* The wanted claims fetched, mapped and kept. Lock not held. Returns whether one failed;
 * *changed when one was kept. */
static bool claims_fetch(struct k8s_api *api, struct claims_loop *L, struct claim_key *want,
			 size_t n_want, bool *changed)
{
	char err[1024] = "";
	bool failed = false;

	for (size_t i = 0; i < n_want; i++) {
		struct k8s_api_claim c;
		int ret = want[i].ns && want[i].name ?
			claim_get(api, L->curl, &L->ver, want[i].ns, want[i].name, &c, err, sizeof(err)) :
			-ENOMEM;

		if (ret) {
			failed = true;
			if (strcmp(L->last, err))
				k8s_log(AG_LOG_WARN, "API %s; retrying", err);
			ag_strlcpy(L->last, err, sizeof(L->last));
			continue;
		}
		claim_map(api, &c);
		k8s_lock(&api->lock);
		if (claim_store(&api->snap, &c) < 0) {
			k8s_log(AG_LOG_WARN, "API: out of memory keeping claim %s/%s", c.ns, c.name);
			k8s_api_claim_free(&c);
		}
		k8s_unlock(&api->lock);
		*changed = true;
	}
	return failed;
}

/* The ResourceSlices (device attributes), at most every 30 s while claims are wanted. */
static void claims_slices(struct k8s_api *api, struct claims_loop *L, uint64_t now)
{
	char err[1024] = "";

	if (L->slices_ok && now < L->next_slices)
		return;
	if (slices_get(api, L->curl, L->ver, err, sizeof(err)) == 0) {
		L->slices_ok = true;
		L->next_slices = now + 30 * K8S_SEC;
	} else if (strcmp(L->last, err)) {
		k8s_log(AG_LOG_WARN, "API %s (device attributes from CDI and procfs only)", err);
		ag_strlcpy(L->last, err, sizeof(L->last));
	}
}

/* One round: wait until claims are wanted, then fetch those the pods name. Lock held. */
static void claims_round(struct k8s_api *api, struct claims_loop *L)
{
	const struct k8s_env *env = api->env;
	struct claim_key *want = NULL;
	size_t n_want;
	bool changed = false, failed;
	uint64_t now = k8s_mono_ns();

	if (!api->claims_want || now < L->retry_at) {
		k8s_wait(&api->cond, &api->lock, api->claims_want ? L->retry_at : now + env->resync_ns,
			 &env->stop);
		if (!api->claims_want && k8s_mono_ns() >= now + env->resync_ns)
			api->claims_want = true; /* claims still unallocated: look again */
		return;
	}
	api->claims_want = false;
	claims_forget_unused(api);
	n_want = claims_wanted(api, &want);
	k8s_unlock(&api->lock);
	if (n_want)
		claims_slices(api, L, now);
	failed = claims_fetch(api, L, want, n_want, &changed);
	for (size_t i = 0; i < n_want; i++) {
		free(want[i].ns);
		free(want[i].name);
	}
	free(want);
	if (changed)
		k8s_notify(env);
	k8s_lock(&api->lock);
	if (failed) {
		api->claims_want = true;
		L->retry_at = k8s_mono_ns() + env->backoff_max_ns;
	}
}

void *k8s_api_claims_thread(void *arg)
{
	struct k8s_api *api = arg;
	struct claims_loop L = { .curl = curl_easy_init() };

	if (!L.curl)
		return NULL;
	k8s_lock(&api->lock);
	while (!atomic_load(&api->env->stop))
		claims_round(api, &L);
	k8s_unlock(&api->lock);
	curl_easy_cleanup(L.curl);
	return NULL;
}
