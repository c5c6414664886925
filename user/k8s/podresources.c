// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kubelet's PodResources peer (podresources.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"
#include "podresources.h"
#include "proto/podresources.pb-c.h"

#define MAX_TARGETED 8 /* Get calls before falling back to a list */


static void pr_free(struct k8s_pr_snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct k8s_prc *c = &s->c[i];

		free(c->ns);
		free(c->pod);
		free(c->name);
		for (size_t j = 0; j < c->n; j++)
			k8s_alloc_free(&c->a[j]);
		free(c->a);
	}
	free(s->c);
	memset(s, 0, sizeof(*s));
}

static int prc_cmp3(const char *ns, const char *pod, const char *name, const struct k8s_prc *c)
{
	int r = strcmp(ns, c->ns);

	if (!r)
		r = strcmp(pod, c->pod);
	if (!r && name)
		r = strcmp(name, c->name);
	return r;
}

static int prc_cmp(const void *a, const void *b)
{
	const struct k8s_prc *x = a;

	return prc_cmp3(x->ns, x->pod, x->name, b);
}

/* First container of the pod (name NULL) or the container itself; NULL when absent. */
static const struct k8s_prc *pr_find(const struct k8s_pr_snap *s, const char *ns, const char *pod,
				     const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (prc_cmp3(ns, pod, name ? name : "", &s->c[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && !prc_cmp3(ns, pod, name, &s->c[lo]))
		return &s->c[lo];
	return NULL;
}

static bool pr_equal(const struct k8s_pr_snap *x, const struct k8s_pr_snap *y)
{
	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct k8s_prc *a = &x->c[i], *b = &y->c[i];

		if (prc_cmp(a, b) || a->n != b->n)
			return false;
		for (size_t j = 0; j < a->n; j++)
			if (!k8s_alloc_equal(&a->a[j], &b->a[j]))
				return false;
	}
	return true;
}

/* Append the containers of one PodResources message, their ids mapped to device numbers. */
static int pr_add_pod(struct k8s_pr *pr, struct k8s_pr_snap *s, size_t *cap, const V1__PodResources *p,
		      uint64_t *unmapped, size_t *total, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n_containers; i++) {
		const V1__ContainerResources *cr = p->containers[i];
		struct k8s_prc *c;
		size_t n = 0;

		if (s->n >= K8S_PR_MAX_CONTAINERS) {
			snprintf(err, errlen, "pod %s/%s: more than %u containers in the answer",
				 p->namespace_ ? p->namespace_ : "", p->name ? p->name : "",
				 K8S_PR_MAX_CONTAINERS);
			return -E2BIG;
		}
		if (s->n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct k8s_prc *m = realloc(s->c, nc * sizeof(*m));

			if (!m)
				return -ENOMEM;
			s->c = m;
			*cap = nc;
		}
		c = &s->c[s->n];
		memset(c, 0, sizeof(*c));
		c->ns = strdup(p->namespace_ ? p->namespace_ : "");
		c->pod = strdup(p->name ? p->name : "");
		c->name = strdup(cr->name ? cr->name : "");
		s->n++;
		if (!c->ns || !c->pod || !c->name)
			return -ENOMEM;
		/* an empty id names no device: not kept (a million of them cost 1.1 GB) */
		for (size_t d = 0; d < cr->n_devices; d++)
			for (size_t j = 0; j < cr->devices[d]->n_device_ids; j++)
				n += cr->devices[d]->device_ids[j] && *cr->devices[d]->device_ids[j];
		for (size_t d = 0; d < cr->n_dynamic_resources; d++)
			n += cr->dynamic_resources[d]->n_claim_resources;
		if (n > K8S_PR_MAX_IDS) {
			snprintf(err, errlen, "container %s/%s/%s: %zu devices, more than %u",
				 c->ns, c->pod, c->name, n, K8S_PR_MAX_IDS);
			return -E2BIG;
		}
		/* each id is mapped (and an unmapped one looked up among those warned about) */
		*total += n;
		if (*total > K8S_PR_MAX_TOTAL_IDS) {
			snprintf(err, errlen, "container %s/%s/%s: more than %u devices in the answer",
				 c->ns, c->pod, c->name, K8S_PR_MAX_TOTAL_IDS);
			return -E2BIG;
		}
		if (!n)
			continue;
		c->a = calloc(n, sizeof(*c->a));
		if (!c->a)
			return -ENOMEM;
		for (size_t d = 0; d < cr->n_devices; d++) {
			const V1__ContainerDevices *cd = cr->devices[d];

			for (size_t j = 0; j < cd->n_device_ids; j++) {
				struct k8s_alloc *a;

				if (!cd->device_ids[j] || !*cd->device_ids[j])
					continue;
				a = &c->a[c->n++];
				a->resource = strdup(cd->resource_name ? cd->resource_name : "");
				a->id = strdup(cd->device_ids[j] ? cd->device_ids[j] : "");
				if (!a->resource || !a->id)
					return -ENOMEM;
				k8s_map_dp(pr->map, a->resource, a->id, a);
				*unmapped += a->unmapped;
			}
		}
		for (size_t d = 0; d < cr->n_dynamic_resources; d++) {
			const V1__DynamicResource *dr = cr->dynamic_resources[d];

			for (size_t j = 0; j < dr->n_claim_resources; j++) {
				const V1__ClaimResource *r = dr->claim_resources[j];
				struct k8s_alloc *a = &c->a[c->n++];
				const char *cdi[16];
				size_t n_cdi = 0;

				for (size_t q = 0; q < r->n_cdi_devices && n_cdi < 16; q++)
					if (r->cdi_devices[q]->name && *r->cdi_devices[q]->name)
						cdi[n_cdi++] = r->cdi_devices[q]->name;
				a->driver = strdup(r->driver_name ? r->driver_name : "");
				a->pool = strdup(r->pool_name ? r->pool_name : "");
				a->id = strdup(r->device_name ? r->device_name : "");
				a->claim_ns = strdup(dr->claim_namespace && *dr->claim_namespace ?
							     dr->claim_namespace : c->ns);
				a->claim_name = strdup(dr->claim_name ? dr->claim_name : "");
				if (!a->driver || !a->pool || !a->id || !a->claim_ns || !a->claim_name)
					return -ENOMEM;
				k8s_map_dra(pr->map, a->driver, a->pool, a->id, cdi, n_cdi, a);
				*unmapped += a->unmapped;
			}
		}
	}
	return 0;
}

/* A snapshot made: sorted for pr_find, or freed when making it failed (ret). */
static int pr_finish(struct k8s_pr_snap *out, int ret)
{
	if (ret) {
		pr_free(out);
		return ret;
	}
	if (out->n)
		qsort(out->c, out->n, sizeof(*out->c), prc_cmp);
	return 0;
}

/* A Get answer replaces the containers of that pod in a copy of the current snapshot. */
static int pr_merge(struct k8s_pr *pr, const struct k8s_pr_snap *old, struct k8s_pr_snap *out,
		    const V1__PodResources *p, uint64_t *unmapped, char *err, size_t errlen)
{
	size_t cap = 0, total = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = pr_add_pod(pr, out, &cap, p, unmapped, &total, err, errlen);
	for (size_t i = 0; !ret && i < old->n; i++) {
		const struct k8s_prc *c = &old->c[i];
		struct k8s_prc *d;

		if (!strcmp(c->ns, p->namespace_ ? p->namespace_ : "") &&
		    !strcmp(c->pod, p->name ? p->name : ""))
			continue;
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct k8s_prc *m = realloc(out->c, nc * sizeof(*m));

			if (!m) {
				ret = -ENOMEM;
				break;
			}
			out->c = m;
			cap = nc;
		}
		d = &out->c[out->n++];
		memset(d, 0, sizeof(*d));
		d->ns = strdup(c->ns);
		d->pod = strdup(c->pod);
		d->name = strdup(c->name);
		d->a = c->n ? calloc(c->n, sizeof(*d->a)) : NULL;
		if (!d->ns || !d->pod || !d->name || (c->n && !d->a)) {
			ret = -ENOMEM;
			break;
		}
		for (size_t j = 0; j < c->n; j++) {
			struct k8s_alloc *a = &d->a[d->n++];

			*a = c->a[j];
			a->resource = k8s_sdup(c->a[j].resource);
			a->id = k8s_sdup(c->a[j].id);
			a->driver = k8s_sdup(c->a[j].driver);
			a->pool = k8s_sdup(c->a[j].pool);
			a->claim_ns = k8s_sdup(c->a[j].claim_ns);
			a->claim_name = k8s_sdup(c->a[j].claim_name);
		}
	}
	return pr_finish(out, ret);
}

int k8s_pr_build(struct k8s_pr *pr, const V1__ListPodResourcesResponse *resp,
		 struct k8s_pr_snap *out, uint64_t *unmapped, char *err, size_t errlen)
{
	size_t cap = 0, total = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; !ret && i < resp->n_pod_resources; i++)
		ret = pr_add_pod(pr, out, &cap, resp->pod_resources[i], unmapped, &total, err,
				 errlen);
	return pr_finish(out, ret);
}

void k8s_pr_snap_free(struct k8s_pr_snap *s)
{
	pr_free(s);
}

static bool pr_want_done(const void *owner, const struct k8s_want *w)
{
	const struct k8s_pr *pr = owner;

	return pr_find(&pr->snap, w->a, w->b, NULL) != NULL;
}

/* The thread's own state between rounds. */
struct pr_loop {
	struct k8s_peer_state ps;
	uint64_t next_list, last_call, retry_delay, next_retry, next_watch;
	bool get_unsupported;
	struct ag_grpc g;
	char what[600];
};

/* Nothing to ask now: the cheap watch of a kubelet that is up (one that goes away is seen
 * within AG_GRPC_WATCH_MS), else wait for the next list, retry or want. Lock held. */
static void pr_idle(struct k8s_pr *pr, struct pr_loop *L, uint64_t now)
{
	const struct k8s_env *env = pr->env;
	uint64_t wake = L->next_list;

	if (pr->n_wants && L->next_retry < wake)
		wake = L->next_retry;
	if (L->ps.up == 1) {
		if (now >= L->next_watch) {
			char werr[700];
			int w;

			k8s_unlock(&pr->lock);
			w = ag_grpc_reachable(env->pr_socket, werr, sizeof(werr));
			k8s_lock(&pr->lock);
			L->next_watch = k8s_mono_ns() + AG_GRPC_WATCH_MS * K8S_MS;
			if (w) {
				pr->up = false;
				L->next_list = k8s_mono_ns() +
					       k8s_peer_fail(&L->ps, env->backoff_max_ns, werr,
							     "; keeping the last known allocations, retrying");
				L->next_retry = L->next_list;
				return;
			}
		}
		if (L->next_watch < wake)
			wake = L->next_watch;
	}
	k8s_wait(&pr->cond, &pr->lock, wake, &env->stop);
}

/* List: every pod's allocations, as a fresh snapshot. Lock not held. */
static int pr_list_call(struct k8s_pr *pr, struct pr_loop *L, struct k8s_pr_snap *fresh,
			uint64_t *unmapped, char *err, size_t errlen)
{
	V1__ListPodResourcesRequest req = V1__LIST_POD_RESOURCES_REQUEST__INIT;
	V1__ListPodResourcesResponse *resp = NULL;
	int ret = ag_grpc_call(&L->g, "/v1.PodResourcesLister/List", &req.base,
			       &v1__list_pod_resources_response__descriptor,
			       (ProtobufCMessage **)&resp, err, errlen);

	if (ret)
		return ret;
	ret = k8s_pr_build(pr, resp, fresh, unmapped, err, errlen);
	if (ret == -ENOMEM) {
		snprintf(err, errlen, "%s: out of memory", L->what);
	} else if (ret) {
		char e2[1024];

		snprintf(e2, sizeof(e2), "%s: List: %s", L->what, err);
		snprintf(err, errlen, "%s", e2);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return ret;
}

/* Replace the snapshot with merged and tell the resolver when it changed. Lock held, dropped
 * meanwhile. */
static void pr_replace(struct k8s_pr *pr, struct k8s_pr_snap *merged, bool changed)
{
	struct k8s_pr_snap old = pr->snap;

	pr->snap = *merged;
	k8s_unlock(&pr->lock);
	pr_free(&old);
	if (changed)
		k8s_notify(pr->env);
	k8s_lock(&pr->lock);
}

/* The List's outcome: the new snapshot, or the failure kept and the next try scheduled. Lock
 * held. */
static void pr_list_apply(struct k8s_pr *pr, struct pr_loop *L, int ret,
			  struct k8s_pr_snap *fresh, uint64_t unmapped, const char *err)
{
	const struct k8s_env *env = pr->env;
	struct k8s_pr_snap old = pr->snap;
	bool changed;

	if (ret) {
		pr->errors++;
		pr->up = false;
		pr_free(fresh);
		L->next_list = k8s_mono_ns() +
			       k8s_peer_fail(&L->ps, env->backoff_max_ns, err,
					     pr->listed ? "; keeping the last known allocations, retrying"
							: "; retrying");
		L->next_retry = L->next_list;
		return;
	}
	changed = !pr->listed || !pr_equal(fresh, &pr->snap);

	pr->snap = *fresh;
	pr->listed = true;
	pr->unmapped_ids = unmapped;
	pr->up = true;
	k8s_want_prune(pr, pr->wants, &pr->n_wants, pr_want_done);
	L->next_list = k8s_mono_ns() + env->resync_ns;
	if (L->ps.up != 1) {
		char d[64];

		snprintf(d, sizeof(d), " (%zu containers)", pr->snap.n);
		k8s_peer_ok(&L->ps, d);
	}
	k8s_unlock(&pr->lock);
	pr_free(&old);
	if (changed)
		k8s_notify(env);
	k8s_lock(&pr->lock);
}

/* Get for one wanted pod, merged into the snapshot. Lock held, dropped around the call.
 * Returns 0 to go on with the next pod, 1 to stop the round. */
static int pr_get_one(struct k8s_pr *pr, struct pr_loop *L, const struct k8s_want *w)
{
	const struct k8s_env *env = pr->env;
	V1__GetPodResourcesRequest req = V1__GET_POD_RESOURCES_REQUEST__INIT;
	V1__GetPodResourcesResponse *resp = NULL;
	struct k8s_pr_snap merged;
	uint64_t unmapped = 0;
	char err[1024] = "";
	int ret;

	req.pod_namespace = w->a;
	req.pod_name = w->b;
	k8s_unlock(&pr->lock);
	ret = ag_grpc_call(&L->g, "/v1.PodResourcesLister/Get", &req.base,
			   &v1__get_pod_resources_response__descriptor, (ProtobufCMessage **)&resp,
			   err, sizeof(err));
	k8s_lock(&pr->lock);
	pr->calls++;
	if (ret == -EREMOTEIO && L->g.last_status == AG_GRPC_UNIMPLEMENTED) {
		k8s_log(AG_LOG_INFO, "%s has no Get (kubelet older than 1.27?): using List", L->what);
		L->get_unsupported = true;
		pr->want_list = true;
		return 1;
	}
	if (ret == -EREMOTEIO && L->g.last_status == AG_GRPC_NOT_FOUND)
		return 0; /* not admitted yet: retried */
	if (ret) {
		pr->errors++;
		pr->up = false;
		L->next_list = k8s_mono_ns() + k8s_peer_fail(&L->ps, env->backoff_max_ns, err, "; retrying");
		return 1;
	}
	if (!resp->pod_resources) {
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		return 0;
	}
	k8s_unlock(&pr->lock);
	ret = pr_merge(pr, &pr->snap, &merged, resp->pod_resources, &unmapped, err, sizeof(err));
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	k8s_lock(&pr->lock);
	if (ret) {
		if (ret == -E2BIG)
			k8s_log(AG_LOG_WARN, "%s: Get: %s: answer ignored", L->what, err);
		return 0;
	}
	/* pr->snap may have been replaced meanwhile only by this thread: merged is current */
	pr_replace(pr, &merged, !pr_equal(&merged, &pr->snap));
	return 0;
}

/* Pods not there yet: ask again, sooner at first. Lock held. */
static void pr_schedule_retry(struct k8s_pr *pr, struct pr_loop *L)
{
	if (!pr->n_wants) {
		L->retry_delay = 0;
		return;
	}
	L->retry_delay = L->retry_delay ? L->retry_delay * 2 : pr->env->min_interval_ns;
	if (L->retry_delay > K8S_SEC)
		L->retry_delay = K8S_SEC;
	if (L->next_retry < k8s_mono_ns() + L->retry_delay)
		L->next_retry = k8s_mono_ns() + L->retry_delay;
}

/* One round: a List (resync, asked for, or Get not usable), Gets for the wanted pods, or idle.
 * Lock held. */
static void pr_round(struct k8s_pr *pr, struct pr_loop *L)
{
	const struct k8s_env *env = pr->env;
	uint64_t now = k8s_mono_ns();
	struct k8s_want tw[MAX_TARGETED];
	size_t n_tw = 0;
	bool list = now >= L->next_list || pr->want_list;
	struct k8s_pr_snap fresh = { 0 };
	uint64_t unmapped = 0;
	char err[1024] = "";
	int ret = 0;

	if (!list && pr->n_wants && now >= L->next_retry) {
		if (L->get_unsupported || pr->n_wants > MAX_TARGETED || L->ps.up != 1)
			list = true;
		else
			n_tw = pr->n_wants;
	}
	if (!list && !n_tw) {
		pr_idle(pr, L, now);
		return;
	}
	/* the kubelet allows 100 calls a second, bursts of 10 */
	if (now < L->last_call + env->min_interval_ns) {
		k8s_wait(&pr->cond, &pr->lock, L->last_call + env->min_interval_ns, &env->stop);
		return;
	}
	for (size_t i = 0; i < n_tw; i++) {
		tw[i].a = k8s_sdup(pr->wants[i].a);
		tw[i].b = k8s_sdup(pr->wants[i].b);
	}
	pr->want_list = false;
	L->last_call = now;
	k8s_unlock(&pr->lock);
	if (list)
		ret = pr_list_call(pr, L, &fresh, &unmapped, err, sizeof(err));
	k8s_lock(&pr->lock);
	pr->calls++; /* once a round, as before, and once a Get */
	if (list)
		pr_list_apply(pr, L, ret, &fresh, unmapped, err);
	for (size_t i = 0; i < n_tw; i++)
		if (pr_get_one(pr, L, &tw[i]))
			break;
	k8s_want_free(tw, n_tw);
	k8s_want_prune(pr, pr->wants, &pr->n_wants, pr_want_done);
	pr_schedule_retry(pr, L);
}

static void *pr_thread(void *arg)
{
	struct k8s_pr *pr = arg;
	const struct k8s_env *env = pr->env;
	struct pr_loop L = { .ps = { .up = -1 } };

	snprintf(L.what, sizeof(L.what), "kubelet PodResources at %s", env->pr_socket);
	L.ps.what = L.what;
	if (ag_grpc_init(&L.g, env->pr_socket, &env->stop, env->rpc_timeout_ms) < 0) {
		k8s_log(AG_LOG_ERROR, "%s: socket path unusable; PodResources off", L.what);
		return NULL;
	}
	k8s_lock(&pr->lock);
	while (!atomic_load(&env->stop))
		pr_round(pr, &L);
	k8s_unlock(&pr->lock);
	ag_grpc_fini(&L.g);
	return NULL;
}


void k8s_pr_init(struct k8s_pr *pr, const struct k8s_env *env, struct k8s_devmap *map)
{
	memset(pr, 0, sizeof(*pr));
	pr->env = env;
	pr->map = map;
	k8s_lock_init(&pr->lock, K8S_RANK_PR, "podresources");
	k8s_cond_init(&pr->cond);
}

int k8s_pr_start(struct k8s_pr *pr)
{
	int ret = -pthread_create(&pr->th, NULL, pr_thread, pr);

	pr->have_th = !ret;
	return ret;
}

void k8s_pr_stop(struct k8s_pr *pr)
{
	k8s_lock(&pr->lock);
	pthread_cond_broadcast(&pr->cond);
	k8s_unlock(&pr->lock);
	if (pr->have_th)
		pthread_join(pr->th, NULL);
	pr->have_th = false;
}

void k8s_pr_fini(struct k8s_pr *pr)
{
	pr_free(&pr->snap);
	k8s_want_free(pr->wants, pr->n_wants);
	free(pr->wants);
	k8s_lock_destroy(&pr->lock);
	pthread_cond_destroy(&pr->cond);
}

const struct k8s_prc *k8s_pr_find(const struct k8s_pr *pr, const char *ns, const char *pod,
				  const char *name)
{
	return pr_find(&pr->snap, ns, pod, name);
}

void k8s_pr_want(struct k8s_pr *pr, const char *ns, const char *pod)
{
	k8s_want_add(&pr->wants, &pr->n_wants, ns, pod);
	pthread_cond_broadcast(&pr->cond);
}

void k8s_pr_want_list(struct k8s_pr *pr)
{
	pr->want_list = true;
	pthread_cond_broadcast(&pr->cond);
}
