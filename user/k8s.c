// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes allocation source: its cache, resolve(), and the PodResources and CRI threads.
 * The Kubernetes API threads are in k8s_api.c, the device id mapping in k8s_devmap.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <unistd.h>

#include "k8s_cgroup.h"
#include "k8s_grpc.h"
#include "k8s_internal.h"
#include "k8s_util.h"
#include "proto/cri.pb-c.h"
#include "proto/podresources.pb-c.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WANT_EXPIRE_NS (60 * SEC)     /* stop asking a peer for something it never knows */
#define PENDING_EXPIRE_NS (600 * SEC) /* a cgroup pending this long has gone away */
#define MAX_PENDING 8192
#define MAX_TARGETED 8                /* Get / ContainerStatus calls before falling back to a list */

static const char *const default_cdi_dirs[] = { "/etc/cdi", "/var/run/cdi" };
static const char *const default_cri_sockets[] = { "/run/containerd/containerd.sock",
						    "/var/run/crio/crio.sock" };
#define DEFAULT_PR_SOCKET "/var/lib/kubelet/pod-resources/kubelet.sock"
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

const uint64_t ag_k8s_lat_bounds_ns[AG_K8S_LAT_BUCKETS] = {
	1 * MS, 5 * MS, 10 * MS, 50 * MS, 100 * MS, 500 * MS, 1 * SEC, 5 * SEC, 30 * SEC, UINT64_MAX,
};

void k8s_log(int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line even when another thread logs too (ag_log writes a line in several calls) */
	flockfile(stderr);
	ag_log(level, "k8s: %s", msg);
	funlockfile(stderr);
}

void k8s_notify(struct k8s *k)
{
	uint64_t one = 1;

	if (k->notify_fd >= 0 && write(k->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		k8s_log(AG_LOG_WARN, "cannot write to the notify eventfd %d: %s", k->notify_fd,
			strerror(errno));
}

void k8s_wait(struct k8s *k, uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / SEC),
			       .tv_nsec = (long)(deadline_ns % SEC) };

	if (atomic_load(&k->stop))
		return;
	pthread_cond_timedwait(&k->cond, &k->lock, &ts);
}

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void k8s_labels_free(struct k8s_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->keys[i]);
		free(l->values[i]);
	}
	free(l->keys);
	free(l->values);
	memset(l, 0, sizeof(*l));
}

void k8s_alloc_free(struct k8s_alloc *a)
{
	free(a->resource);
	free(a->id);
	free(a->driver);
	free(a->pool);
	free(a->claim_ns);
	free(a->claim_name);
	memset(a, 0, sizeof(*a));
}

/* ---- exemptions ---- */

bool ag_k8s_exempt_match(const struct ag_cfg_exempt_k8s *e, const struct ag_k8s_pod_meta *pod)
{
	if (e->namespace && !ag_streq(e->namespace, pod->namespace_))
		return false;
	for (size_t i = 0; i < e->n_labels; i++) {
		size_t j;

		if (!pod->label_keys)
			return false;
		for (j = 0; j < pod->n_labels; j++)
			if (!strcmp(pod->label_keys[j], e->label_keys[i]) &&
			    ag_streq(pod->label_values[j], e->label_values[i]))
				break;
		if (j == pod->n_labels)
			return false;
	}
	if (e->service_account) {
		const char *sa = e->service_account, *name = sa, *colon;
		size_t nsl = 0;
		const char *ns = pod->namespace_;

		if (!pod->service_account)
			return false;
		if (!strncmp(sa, "system:serviceaccount:", 22) && (colon = strchr(sa + 22, ':'))) {
			ns = sa + 22;
			nsl = (size_t)(colon - ns);
			name = colon + 1;
		} else if ((colon = strchr(sa, '/'))) {
			ns = sa;
			nsl = (size_t)(colon - sa);
			name = colon + 1;
		}
		if (nsl && (!pod->namespace_ || strlen(pod->namespace_) != nsl ||
			    strncmp(pod->namespace_, ns, nsl)))
			return false;
		if (strcmp(name, pod->service_account))
			return false;
	}
	return true;
}

/* ---- PodResources ---- */

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
static int pr_add_pod(struct k8s *k, struct k8s_pr_snap *s, size_t *cap, const V1__PodResources *p,
		      uint64_t *unmapped)
{
	for (size_t i = 0; i < p->n_containers; i++) {
		const V1__ContainerResources *cr = p->containers[i];
		struct k8s_prc *c;
		size_t n = 0;

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
		for (size_t d = 0; d < cr->n_devices; d++)
			n += cr->devices[d]->n_device_ids;
		for (size_t d = 0; d < cr->n_dynamic_resources; d++)
			n += cr->dynamic_resources[d]->n_claim_resources;
		if (!n)
			continue;
		c->a = calloc(n, sizeof(*c->a));
		if (!c->a)
			return -ENOMEM;
		for (size_t d = 0; d < cr->n_devices; d++) {
			const V1__ContainerDevices *cd = cr->devices[d];

			for (size_t j = 0; j < cd->n_device_ids; j++) {
				struct k8s_alloc *a = &c->a[c->n++];

				a->resource = strdup(cd->resource_name ? cd->resource_name : "");
				a->id = strdup(cd->device_ids[j] ? cd->device_ids[j] : "");
				if (!a->resource || !a->id)
					return -ENOMEM;
				k8s_map_dp(k, a->resource, a->id, a);
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
				k8s_map_dra(k, a->driver, a->pool, a->id, cdi, n_cdi, a);
				*unmapped += a->unmapped;
			}
		}
	}
	return 0;
}

/* A Get answer replaces the containers of that pod in a copy of the current snapshot. */
static int pr_merge(struct k8s *k, const struct k8s_pr_snap *old, struct k8s_pr_snap *out,
		    const V1__PodResources *p, uint64_t *unmapped)
{
	size_t cap = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = pr_add_pod(k, out, &cap, p, unmapped);
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
			a->resource = sdup(c->a[j].resource);
			a->id = sdup(c->a[j].id);
			a->driver = sdup(c->a[j].driver);
			a->pool = sdup(c->a[j].pool);
			a->claim_ns = sdup(c->a[j].claim_ns);
			a->claim_name = sdup(c->a[j].claim_name);
		}
	}
	if (ret) {
		pr_free(out);
		return ret;
	}
	qsort(out->c, out->n, sizeof(*out->c), prc_cmp);
	return 0;
}

static void want_free(struct k8s_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].a);
		free(w[i].b);
	}
}

/* k->lock held */
static void want_add(struct k8s_want **ws, size_t *n, const char *a, const char *b)
{
	struct k8s_want *w;

	for (size_t i = 0; i < *n; i++)
		if (ag_streq((*ws)[i].a, a) && ag_streq((*ws)[i].b, b))
			return;
	if (*n >= 4096)
		return;
	w = realloc(*ws, (*n + 1) * sizeof(*w));
	if (!w)
		return;
	*ws = w;
	w[*n] = (struct k8s_want){ .a = sdup(a), .b = sdup(b), .since_ns = ag_now_ns() };
	if ((a && !w[*n].a) || (b && !w[*n].b)) {
		want_free(&w[*n], 1);
		return;
	}
	(*n)++;
}

/* Drop the wants that are answered (done() true) or too old; k->lock held. */
static void want_prune(struct k8s *k, struct k8s_want *ws, size_t *n,
		       bool (*done)(struct k8s *, const struct k8s_want *))
{
	uint64_t now = ag_now_ns();
	size_t o = 0;

	for (size_t i = 0; i < *n; i++) {
		if (done(k, &ws[i]) || now - ws[i].since_ns > WANT_EXPIRE_NS)
			want_free(&ws[i], 1);
		else
			ws[o++] = ws[i];
	}
	*n = o;
}

static bool pr_want_done(struct k8s *k, const struct k8s_want *w)
{
	return pr_find(&k->pr, w->a, w->b, NULL) != NULL;
}

/* The peer's health, said once per change. */
struct peer_state {
	const char *what;
	int up; /* -1 unknown, 0 down, 1 up */
	char last_err[512];
	uint64_t down_since;
	uint64_t backoff_ns;
};

static void peer_ok(struct peer_state *ps, const char *detail)
{
	if (ps->up == 0)
		k8s_log(AG_LOG_INFO, "%s is reachable again after %.1f s%s", ps->what,
			(double)(ag_now_ns() - ps->down_since) / SEC, detail);
	else if (ps->up < 0)
		k8s_log(AG_LOG_INFO, "%s is reachable%s", ps->what, detail);
	ps->up = 1;
	ps->backoff_ns = 0;
	ps->last_err[0] = '\0';
}

static uint64_t peer_fail(struct k8s *k, struct peer_state *ps, const char *err, const char *keep)
{
	if (ps->up != 0)
		ps->down_since = ag_now_ns();
	if (ps->up != 0 || strcmp(err, ps->last_err))
		k8s_log(AG_LOG_WARN, "%s: %s%s", ps->what, err, keep);
	ag_scpy(ps->last_err, sizeof(ps->last_err), err);
	ps->up = 0;
	ps->backoff_ns = ps->backoff_ns ? ps->backoff_ns * 2 : 100 * MS;
	if (ps->backoff_ns > k->backoff_max_ns)
		ps->backoff_ns = k->backoff_max_ns;
	return ps->backoff_ns;
}

static void *pr_thread(void *arg)
{
	struct k8s *k = arg;
	struct peer_state ps = { .what = "kubelet PodResources", .up = -1 };
	uint64_t next_list = 0, last_call = 0, retry_delay = 0, next_retry = 0;
	bool get_unsupported = false;
	struct ag_grpc g;
	char what[600];

	snprintf(what, sizeof(what), "kubelet PodResources at %s", k->pr_socket);
	ps.what = what;
	if (ag_grpc_init(&g, k->pr_socket, &k->stop, k->rpc_timeout_ms) < 0) {
		k8s_log(AG_LOG_ERROR, "%s: socket path unusable; PodResources off", what);
		return NULL;
	}
	pthread_mutex_lock(&k->lock);
	while (!atomic_load(&k->stop)) {
		uint64_t now = ag_now_ns(), wake;
		struct k8s_want tw[MAX_TARGETED];
		size_t n_tw = 0;
		bool list;
		char err[1024] = "";
		struct k8s_pr_snap fresh = { 0 };
		uint64_t unmapped = 0;
		int ret = 0;

		list = now >= next_list || k->pr_want_list;
		if (!list && k->n_pr_wants && now >= next_retry) {
			if (get_unsupported || k->n_pr_wants > MAX_TARGETED || ps.up != 1)
				list = true;
			else
				n_tw = k->n_pr_wants;
		}
		if (!list && !n_tw) {
			wake = next_list;
			if (k->n_pr_wants && next_retry < wake)
				wake = next_retry;
			k8s_wait(k, wake);
			continue;
		}
		/* the kubelet allows 100 calls a second, bursts of 10 */
		if (now < last_call + k->min_interval_ns) {
			k8s_wait(k, last_call + k->min_interval_ns);
			continue;
		}
		for (size_t i = 0; i < n_tw; i++) {
			tw[i].a = sdup(k->pr_wants[i].a);
			tw[i].b = sdup(k->pr_wants[i].b);
		}
		k->pr_want_list = false;
		pthread_mutex_unlock(&k->lock);

		last_call = now;
		if (list) {
			V1__ListPodResourcesRequest req = V1__LIST_POD_RESOURCES_REQUEST__INIT;
			V1__ListPodResourcesResponse *resp = NULL;

			ret = ag_grpc_call(&g, "/v1.PodResourcesLister/List", &req.base,
					   &v1__list_pod_resources_response__descriptor,
					   (ProtobufCMessage **)&resp, err, sizeof(err));
			if (!ret) {
				size_t cap = 0;

				for (size_t i = 0; !ret && i < resp->n_pod_resources; i++)
					ret = pr_add_pod(k, &fresh, &cap, resp->pod_resources[i], &unmapped);
				if (!ret)
					qsort(fresh.c, fresh.n, sizeof(*fresh.c), prc_cmp);
				else
					snprintf(err, sizeof(err), "%s: out of memory", what);
				protobuf_c_message_free_unpacked(&resp->base, NULL);
			}
		}
		pthread_mutex_lock(&k->lock);
		k->st.pr_calls++;
		if (list && !ret) {
			bool changed = !k->pr_listed || !pr_equal(&fresh, &k->pr);
			struct k8s_pr_snap old = k->pr;

			k->pr = fresh;
			k->pr_listed = true;
			k->st.unmapped_ids = unmapped;
			k->st.pr_up = true;
			want_prune(k, k->pr_wants, &k->n_pr_wants, pr_want_done);
			next_list = ag_now_ns() + k->resync_ns;
			if (ps.up != 1) {
				char d[64];

				snprintf(d, sizeof(d), " (%zu containers)", k->pr.n);
				peer_ok(&ps, d);
			}
			pthread_mutex_unlock(&k->lock);
			pr_free(&old);
			if (changed)
				k8s_notify(k);
			pthread_mutex_lock(&k->lock);
		} else if (list) {
			k->st.pr_errors++;
			k->st.pr_up = false;
			pr_free(&fresh);
			next_list = ag_now_ns() +
				    peer_fail(k, &ps, err, k->pr_listed ? "; keeping the last known "
								"allocations, retrying" : "; retrying");
			next_retry = next_list;
		}
		/* targeted: Get per pod */
		for (size_t i = 0; i < n_tw; i++) {
			V1__GetPodResourcesRequest req = V1__GET_POD_RESOURCES_REQUEST__INIT;
			V1__GetPodResourcesResponse *resp = NULL;
			struct k8s_pr_snap merged, old;
			bool changed;

			req.pod_namespace = tw[i].a;
			req.pod_name = tw[i].b;
			pthread_mutex_unlock(&k->lock);
			ret = ag_grpc_call(&g, "/v1.PodResourcesLister/Get", &req.base,
					   &v1__get_pod_resources_response__descriptor,
					   (ProtobufCMessage **)&resp, err, sizeof(err));
			pthread_mutex_lock(&k->lock);
			k->st.pr_calls++;
			if (ret == -EREMOTEIO && g.last_status == AG_GRPC_UNIMPLEMENTED) {
				k8s_log(AG_LOG_INFO, "%s has no Get (kubelet older than 1.27?): using "
					"List", what);
				get_unsupported = true;
				k->pr_want_list = true;
				break;
			}
			if (ret == -EREMOTEIO && g.last_status == AG_GRPC_NOT_FOUND)
				continue; /* not admitted yet: retried below */
			if (ret) {
				k->st.pr_errors++;
				k->st.pr_up = false;
				next_list = ag_now_ns() + peer_fail(k, &ps, err, "; retrying");
				break;
			}
			if (!resp->pod_resources) {
				protobuf_c_message_free_unpacked(&resp->base, NULL);
				continue;
			}
			pthread_mutex_unlock(&k->lock);
			ret = pr_merge(k, &k->pr, &merged, resp->pod_resources, &unmapped);
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			pthread_mutex_lock(&k->lock);
			if (ret)
				continue;
			/* k->pr may have been replaced meanwhile only by this thread: merged is current */
			changed = !pr_equal(&merged, &k->pr);
			old = k->pr;
			k->pr = merged;
			pthread_mutex_unlock(&k->lock);
			pr_free(&old);
			if (changed)
				k8s_notify(k);
			pthread_mutex_lock(&k->lock);
		}
		want_free(tw, n_tw);
		want_prune(k, k->pr_wants, &k->n_pr_wants, pr_want_done);
		/* pods not there yet: ask again, sooner at first */
		if (k->n_pr_wants) {
			retry_delay = retry_delay ? retry_delay * 2 : k->min_interval_ns;
			if (retry_delay > SEC)
				retry_delay = SEC;
			if (next_retry < ag_now_ns() + retry_delay)
				next_retry = ag_now_ns() + retry_delay;
		} else {
			retry_delay = 0;
		}
	}
	pthread_mutex_unlock(&k->lock);
	ag_grpc_fini(&g);
	return NULL;
}

/* ---- CRI ---- */

static void cri_ent_free(struct k8s_cri_ent *e)
{
	free(e->id);
	free(e->ns);
	free(e->pod);
	free(e->uid);
	free(e->name);
	k8s_labels_free(&e->labels);
}

static void cri_free(struct k8s_cri_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		cri_ent_free(&s->e[i]);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static int cri_cmp(const void *a, const void *b)
{
	return strcmp(((const struct k8s_cri_ent *)a)->id, ((const struct k8s_cri_ent *)b)->id);
}

static const struct k8s_cri_ent *cri_find(const struct k8s_cri_snap *s, const char *id)
{
	struct k8s_cri_ent key = { .id = (char *)id };

	return s->n ? bsearch(&key, s->e, s->n, sizeof(*s->e), cri_cmp) : NULL;
}

static bool cri_equal(const struct k8s_cri_snap *x, const struct k8s_cri_snap *y)
{
	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct k8s_cri_ent *a = &x->e[i], *b = &y->e[i];

		if (strcmp(a->id, b->id) || !ag_streq(a->ns, b->ns) || !ag_streq(a->pod, b->pod) ||
		    !ag_streq(a->uid, b->uid) || !ag_streq(a->name, b->name) ||
		    a->sandbox != b->sandbox || a->labels.n != b->labels.n)
			return false;
		for (size_t j = 0; j < a->labels.n; j++)
			if (strcmp(a->labels.keys[j], b->labels.keys[j]) ||
			    strcmp(a->labels.values[j], b->labels.values[j]))
				return false;
	}
	return true;
}

typedef Runtime__V1__Container__LabelsEntry cri_kv;

static const char *kv_get(cri_kv *const *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i]->key && !strcmp(kv[i]->key, key))
			return kv[i]->value;
	return NULL;
}

/* Add a container from its kubelet labels; one without them is no pod's and is skipped. */
static int cri_add(struct k8s_cri_snap *s, size_t *cap, const char *id, cri_kv *const *kv, size_t n,
		   bool sandbox)
{
	const char *ns = kv_get(kv, n, "io.kubernetes.pod.namespace");
	const char *pod = kv_get(kv, n, "io.kubernetes.pod.name");
	const char *uid = kv_get(kv, n, "io.kubernetes.pod.uid");
	const char *name = kv_get(kv, n, "io.kubernetes.container.name");
	struct k8s_cri_ent *e;

	if (!id || !*id || !ns || !pod || (!sandbox && !name))
		return 0;
	if (s->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;

		e = realloc(s->e, nc * sizeof(*e));
		if (!e)
			return -ENOMEM;
		s->e = e;
		*cap = nc;
	}
	e = &s->e[s->n++];
	memset(e, 0, sizeof(*e));
	e->sandbox = sandbox;
	e->id = strdup(id);
	e->ns = strdup(ns);
	e->pod = strdup(pod);
	e->uid = strdup(uid ? uid : "");
	e->name = strdup(sandbox ? "" : name);
	if (!e->id || !e->ns || !e->pod || !e->uid || !e->name)
		return -ENOMEM;
	if (sandbox && n) {
		e->labels.keys = calloc(n, sizeof(char *));
		e->labels.values = calloc(n, sizeof(char *));
		if (!e->labels.keys || !e->labels.values)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			if (!kv[i]->key || !kv[i]->value)
				continue;
			e->labels.keys[e->labels.n] = strdup(kv[i]->key);
			e->labels.values[e->labels.n] = strdup(kv[i]->value);
			if (!e->labels.keys[e->labels.n] || !e->labels.values[e->labels.n++])
				return -ENOMEM;
		}
	}
	return 0;
}

/* A fresh snapshot: ListContainers + ListPodSandbox. */
static int cri_list(struct k8s *k, struct ag_grpc *g, struct k8s_cri_snap *s, char *err, size_t errlen)
{
	Runtime__V1__ListContainersRequest creq = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ListPodSandboxRequest sreq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__ListContainersResponse *cresp = NULL;
	Runtime__V1__ListPodSandboxResponse *sresp = NULL;
	size_t cap = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = ag_grpc_call(g, "/runtime.v1.RuntimeService/ListContainers", &creq.base,
			   &runtime__v1__list_containers_response__descriptor,
			   (ProtobufCMessage **)&cresp, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; !ret && i < cresp->n_containers; i++) {
		const Runtime__V1__Container *c = cresp->containers[i];

		ret = cri_add(s, &cap, c->id, c->labels, c->n_labels, false);
	}
	protobuf_c_message_free_unpacked(&cresp->base, NULL);
	if (!ret)
		ret = ag_grpc_call(g, "/runtime.v1.RuntimeService/ListPodSandbox", &sreq.base,
				   &runtime__v1__list_pod_sandbox_response__descriptor,
				   (ProtobufCMessage **)&sresp, err, errlen);
	if (!ret) {
		for (size_t i = 0; !ret && i < sresp->n_items; i++) {
			const Runtime__V1__PodSandbox *p = sresp->items[i];

			ret = cri_add(s, &cap, p->id, (cri_kv *const *)p->labels, p->n_labels, true);
		}
		protobuf_c_message_free_unpacked(&sresp->base, NULL);
	}
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "CRI: out of memory");
		cri_free(s);
		return ret;
	}
	qsort(s->e, s->n, sizeof(*s->e), cri_cmp);
	return 0;
}

/* ContainerStatus of one id, else the sandbox of that id: 0 and *s with one entry, -ENOENT, -errno */
static int cri_one(struct ag_grpc *g, const char *id, struct k8s_cri_snap *s, char *err, size_t errlen)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	Runtime__V1__ContainerStatusResponse *resp = NULL;
	Runtime__V1__ListPodSandboxRequest sreq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter filter = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	Runtime__V1__ListPodSandboxResponse *sresp = NULL;
	size_t cap = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	req.container_id = (char *)id;
	ret = ag_grpc_call(g, "/runtime.v1.RuntimeService/ContainerStatus", &req.base,
			   &runtime__v1__container_status_response__descriptor,
			   (ProtobufCMessage **)&resp, err, errlen);
	if (!ret) {
		if (resp->status)
			ret = cri_add(s, &cap, resp->status->id && *resp->status->id ? resp->status->id : id,
				      (cri_kv *const *)resp->status->labels, resp->status->n_labels, false);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (ret || s->n)
			return ret;
	} else if (!(ret == -EREMOTEIO && g->last_status == AG_GRPC_NOT_FOUND)) {
		return ret;
	}
	filter.id = (char *)id;
	sreq.filter = &filter;
	ret = ag_grpc_call(g, "/runtime.v1.RuntimeService/ListPodSandbox", &sreq.base,
			   &runtime__v1__list_pod_sandbox_response__descriptor,
			   (ProtobufCMessage **)&sresp, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; !ret && i < sresp->n_items; i++)
		if (sresp->items[i]->id && !strcmp(sresp->items[i]->id, id))
			ret = cri_add(s, &cap, id, (cri_kv *const *)sresp->items[i]->labels,
				      sresp->items[i]->n_labels, true);
	protobuf_c_message_free_unpacked(&sresp->base, NULL);
	if (ret)
		return ret;
	return s->n ? 0 : -ENOENT;
}

static bool cri_want_done(struct k8s *k, const struct k8s_want *w)
{
	return cri_find(&k->cri, w->a) != NULL;
}

/* Insert (or replace) the entries of one into a copy of k->cri; k->lock held. */
static int cri_merge(struct k8s *k, struct k8s_cri_snap *one)
{
	struct k8s_cri_ent *e = realloc(k->cri.e, (k->cri.n + one->n) * sizeof(*e));

	if (!e)
		return -ENOMEM;
	k->cri.e = e;
	for (size_t i = 0; i < one->n; i++) {
		struct k8s_cri_ent *old = (struct k8s_cri_ent *)cri_find(&k->cri, one->e[i].id);

		if (old) {
			cri_ent_free(old);
			*old = one->e[i];
		} else {
			k->cri.e[k->cri.n++] = one->e[i];
			qsort(k->cri.e, k->cri.n, sizeof(*k->cri.e), cri_cmp);
		}
	}
	free(one->e);
	memset(one, 0, sizeof(*one));
	return 0;
}

static const char *cri_socket_now(struct k8s *k)
{
	if (!k->cri_auto)
		return k->cri_socket;
	for (size_t i = 0; i < sizeof(default_cri_sockets) / sizeof(*default_cri_sockets); i++)
		if (access(default_cri_sockets[i], F_OK) == 0)
			return default_cri_sockets[i];
	return NULL;
}

static void *cri_thread(void *arg)
{
	struct k8s *k = arg;
	struct peer_state ps = { .up = -1 };
	uint64_t next_list = 0, next_retry = 0, retry_delay = 0;
	struct ag_grpc g = { 0 };
	char what[600] = "CRI";

	pthread_mutex_lock(&k->lock);
	while (!atomic_load(&k->stop)) {
		uint64_t now = ag_now_ns();
		char *tw[MAX_TARGETED];
		size_t n_tw = 0;
		bool list, changed = false;
		char err[1024] = "";
		struct k8s_cri_snap fresh;
		const char *sock;
		int ret = 0;

		list = now >= next_list || k->cri_want_list;
		if (!list && k->n_cri_wants && now >= next_retry) {
			if (k->n_cri_wants > MAX_TARGETED || ps.up != 1)
				list = true;
			else
				for (; n_tw < k->n_cri_wants; n_tw++)
					tw[n_tw] = sdup(k->cri_wants[n_tw].a);
		}
		if (!list && !n_tw) {
			uint64_t wake = next_list;

			if (k->n_cri_wants && next_retry < wake)
				wake = next_retry;
			k8s_wait(k, wake);
			continue;
		}
		k->cri_want_list = false;
		pthread_mutex_unlock(&k->lock);

		sock = cri_socket_now(k);
		if (!sock) {
			ret = -ENOENT;
			snprintf(err, sizeof(err), "no container runtime socket (%s, %s)",
				 default_cri_sockets[0], default_cri_sockets[1]);
		} else if (!g.socket || strcmp(g.socket, sock)) {
			ag_grpc_fini(&g);
			snprintf(what, sizeof(what), "CRI at %s", sock);
			ps.what = what;
			ret = ag_grpc_init(&g, sock, &k->stop, k->rpc_timeout_ms);
			if (ret)
				snprintf(err, sizeof(err), "cannot use socket path %s", sock);
		}
		ps.what = what;
		if (!ret && list)
			ret = cri_list(k, &g, &fresh, err, sizeof(err));

		pthread_mutex_lock(&k->lock);
		k->st.cri_calls++;
		if (!ret && list) {
			struct k8s_cri_snap old = k->cri;

			changed = !k->cri_listed || !cri_equal(&fresh, &k->cri);
			k->cri = fresh;
			k->cri_listed = true;
			k->st.cri_up = true;
			next_list = ag_now_ns() + k->resync_ns;
			if (ps.up != 1) {
				char d[64];

				snprintf(d, sizeof(d), " (%zu containers and sandboxes)", k->cri.n);
				peer_ok(&ps, d);
			}
			pthread_mutex_unlock(&k->lock);
			cri_free(&old);
			pthread_mutex_lock(&k->lock);
		} else if (ret) {
			k->st.cri_errors++;
			k->st.cri_up = false;
			next_list = ag_now_ns() + peer_fail(k, &ps, err, k->cri_listed ?
							    "; keeping the containers known, retrying" :
							    "; retrying");
			next_retry = next_list;
		}
		for (size_t i = 0; !ret && i < n_tw; i++) {
			struct k8s_cri_snap one;
			int r;

			pthread_mutex_unlock(&k->lock);
			r = cri_one(&g, tw[i], &one, err, sizeof(err));
			pthread_mutex_lock(&k->lock);
			k->st.cri_calls++;
			if (r == -ENOENT)
				continue;
			if (r) {
				k->st.cri_errors++;
				next_list = ag_now_ns() + peer_fail(k, &ps, err, "; retrying");
				break;
			}
			if (cri_merge(k, &one) == 0)
				changed = true;
			else
				cri_free(&one);
		}
		for (size_t i = 0; i < n_tw; i++)
			free(tw[i]);
		want_prune(k, k->cri_wants, &k->n_cri_wants, cri_want_done);
		if (k->n_cri_wants) {
			retry_delay = retry_delay ? retry_delay * 2 : 20 * MS;
			if (retry_delay > SEC)
				retry_delay = SEC;
			next_retry = ag_now_ns() + retry_delay;
		} else {
			retry_delay = 0;
		}
		/* a container the PodResources cache lacks: ask the kubelet now, not after the agent's
		 * next resolve */
		if (changed && k->pr_socket) {
			for (size_t i = 0; i < k->cri.n; i++) {
				const struct k8s_cri_ent *e = &k->cri.e[i];

				if (!e->sandbox && k->pr_listed && !pr_find(&k->pr, e->ns, e->pod, NULL) &&
				    k->n_pend)
					want_add(&k->pr_wants, &k->n_pr_wants, e->ns, e->pod);
			}
			pthread_cond_broadcast(&k->cond);
		}
		if (changed) {
			pthread_mutex_unlock(&k->lock);
			k8s_notify(k);
			pthread_mutex_lock(&k->lock);
		}
	}
	pthread_mutex_unlock(&k->lock);
	ag_grpc_fini(&g);
	return NULL;
}

/* ---- resolve ---- */

/* k->lock held */
static void pending_done(struct k8s *k, const char *path)
{
	for (size_t i = 0; i < k->n_pend; i++) {
		uint64_t dt;
		int b;

		if (strcmp(k->pend[i].path, path))
			continue;
		dt = ag_now_ns() - k->pend[i].since_ns;
		k->st.resolved++;
		k->st.lat_sum_ns += dt;
		k->st.lat_last_ns = dt;
		if (dt > k->st.lat_max_ns)
			k->st.lat_max_ns = dt;
		for (b = 0; b < AG_K8S_LAT_BUCKETS - 1 && dt > ag_k8s_lat_bounds_ns[b]; b++)
			;
		k->st.lat_bucket[b]++;
		free(k->pend[i].path);
		k->pend[i] = k->pend[--k->n_pend];
		return;
	}
}

/* k->lock held */
static void pending_add(struct k8s *k, const char *path)
{
	uint64_t now = ag_now_ns();
	size_t o = 0;

	for (size_t i = 0; i < k->n_pend; i++) {
		if (!strcmp(k->pend[i].path, path))
			return;
	}
	for (size_t i = 0; i < k->n_pend; i++) {
		if (now - k->pend[i].since_ns > PENDING_EXPIRE_NS) {
			free(k->pend[i].path);
			k->st.pending_expired++;
		} else {
			k->pend[o++] = k->pend[i];
		}
	}
	k->n_pend = o;
	if (k->n_pend < MAX_PENDING) {
		struct k8s_pending *p = realloc(k->pend, (k->n_pend + 1) * sizeof(*p));

		if (p) {
			k->pend = p;
			p[k->n_pend].path = strdup(path);
			p[k->n_pend].since_ns = now;
			if (p[k->n_pend].path)
				k->n_pend++;
		}
	}
}

static void add_range(struct ag_tenant *t, const struct ag_dev_range *r, __u32 flags, bool *full)
{
	for (unsigned int i = 0; i < t->n_devs; i++) {
		struct ag_dev_range *d = &t->devs[i];

		if (d->major != r->major)
			continue;
		if (r->lo >= d->lo && r->hi <= d->hi) {
			if ((d->flags & AG_RF_ADMIN) && !(flags & AG_RF_ADMIN))
				d->flags &= ~AG_RF_ADMIN; /* allocated outright beats admin */
			d->flags &= flags | AG_RF_ADMIN;
			return;
		}
		/* adjacent with the same flags: one range */
		if (d->flags == flags && (r->lo == d->hi + 1 || r->hi + 1 == d->lo)) {
			if (r->lo < d->lo)
				d->lo = r->lo;
			if (r->hi > d->hi)
				d->hi = r->hi;
			return;
		}
	}
	if (t->n_devs == AG_MAX_ALLOWED) {
		*full = true;
		return;
	}
	t->devs[t->n_devs] = *r;
	t->devs[t->n_devs++].flags = flags;
}

static bool claim_admin(const struct k8s *k, const struct k8s_alloc *a)
{
	const struct k8s_api_claim *c;

	if (!a->driver)
		return false;
	c = k8s_api_claim(k, a->claim_ns, a->claim_name);
	for (size_t i = 0; c && i < c->n; i++)
		if (c->r[i].admin && ag_streq(c->r[i].driver, a->driver) &&
		    ag_streq(c->r[i].pool, a->pool) && ag_streq(c->r[i].device, a->id))
			return true;
	return false;
}

static void add_alloc(const struct k8s *k, struct ag_tenant *t, const struct k8s_alloc *a,
		      bool admin, bool *nvidia, bool *full)
{
	for (unsigned int i = 0; i < a->n; i++)
		add_range(t, &a->r[i], a->r[i].flags | (admin ? AG_RF_ADMIN : 0), full);
	*nvidia |= a->nvidia && a->n;
}

/* k->lock held. Devices from the Kubernetes API's claims, when PodResources is off. */
static bool api_devices(struct k8s *k, const struct k8s_api_pod *p, const char *cname,
			struct ag_tenant *t, bool *nvidia, bool *full)
{
	const struct k8s_api_ctr *c = NULL;

	for (size_t i = 0; p && i < p->n_c; i++)
		if (!strcmp(p->c[i].name, cname))
			c = &p->c[i];
	if (!c)
		return false;
	for (size_t i = 0; i < c->n_claims; i++) {
		const struct k8s_api_claim *cl = NULL;

		for (size_t j = 0; j < p->n_cl; j++)
			if (!strcmp(p->cl[j].name, c->claims[i]) && p->cl[j].claim)
				cl = k8s_api_claim(k, p->ns, p->cl[j].claim);
		if (!cl || !cl->allocated)
			return false;
		for (size_t j = 0; j < cl->n; j++)
			add_alloc(k, t, &cl->r[j].map, cl->r[j].admin, nvidia, full);
	}
	return true;
}

static const struct k8s_cri_ent *cri_sandbox_of(const struct k8s *k, const char *uid)
{
	for (size_t i = 0; uid && *uid && i < k->cri.n; i++)
		if (k->cri.e[i].sandbox && !strcmp(k->cri.e[i].uid, uid))
			return &k->cri.e[i];
	return NULL;
}

static bool exempt(const struct k8s *k, const struct ag_tenant *t, const struct k8s_api_pod *ap)
{
	const struct k8s_cri_ent *sb = NULL;
	struct ag_k8s_pod_meta m = { .namespace_ = t->pod_namespace };

	if (!k->n_exempt)
		return false;
	if (ap) {
		m.service_account = ap->sa;
		m.label_keys = (const char *const *)ap->labels.keys;
		m.label_values = (const char *const *)ap->labels.values;
		m.n_labels = ap->labels.n;
		if (!m.label_keys)
			m.label_keys = (const char *const[]){ NULL };
	} else if ((sb = cri_sandbox_of(k, t->pod_uid))) {
		m.label_keys = (const char *const *)sb->labels.keys;
		m.label_values = (const char *const *)sb->labels.values;
		m.n_labels = sb->labels.n;
		if (!m.label_keys)
			m.label_keys = (const char *const[]){ NULL };
	}
	for (size_t i = 0; i < k->n_exempt; i++)
		if (ag_k8s_exempt_match(&k->exempt[i], &m))
			return true;
	return false;
}

static int resolve_container(struct k8s *k, const struct ag_k8s_cgroup *cg, struct ag_tenant *out)
{
	const struct k8s_cri_ent *ce = cri_find(&k->cri, cg->container_id);
	const struct k8s_api_pod *ap = k8s_api_pod_by_uid(k, cg->pod_uid);
	bool nvidia = false, full = false, known = false;
	const char *cname = NULL;

	if (ce && (!*ce->uid || !strcmp(ce->uid, cg->pod_uid))) {
		ag_scpy(out->pod_namespace, sizeof(out->pod_namespace), ce->ns);
		ag_scpy(out->pod_name, sizeof(out->pod_name), ce->pod);
		if (ce->sandbox) {
			out->state = AG_P_TENANT; /* the pause container: nothing allocated */
			return exempt(k, out, ap) ? (out->state = AG_P_EXEMPT, AG_R_DONE) : AG_R_DONE;
		}
		cname = ce->name;
	} else if (ap) {
		ag_scpy(out->pod_namespace, sizeof(out->pod_namespace), ap->ns);
		ag_scpy(out->pod_name, sizeof(out->pod_name), ap->name);
		for (size_t i = 0; i < ap->n_c; i++)
			if (ap->c[i].id && !strcmp(ap->c[i].id, cg->container_id))
				cname = ap->c[i].name;
	}
	if (!cname) {
		if (k->cri_socket || k->cri_auto) {
			want_add(&k->cri_wants, &k->n_cri_wants, cg->container_id, NULL);
			pthread_cond_broadcast(&k->cond);
		}
		return AG_R_PENDING;
	}
	ag_scpy(out->container_name, sizeof(out->container_name), cname);
	if (exempt(k, out, ap)) {
		out->state = AG_P_EXEMPT;
		return AG_R_DONE;
	}
	out->state = AG_P_TENANT;
	if (k->pr_socket) {
		const struct k8s_prc *c;

		if (!k->pr_listed) {
			k->pr_want_list = true;
			pthread_cond_broadcast(&k->cond);
			return AG_R_PENDING;
		}
		c = pr_find(&k->pr, out->pod_namespace, out->pod_name, cname);
		if (c) {
			for (size_t i = 0; i < c->n; i++)
				add_alloc(k, out, &c->a[i], claim_admin(k, &c->a[i]), &nvidia, &full);
			known = true;
		} else if (pr_find(&k->pr, out->pod_namespace, out->pod_name, NULL)) {
			known = true; /* a container the kubelet lists no resources for */
		} else {
			want_add(&k->pr_wants, &k->n_pr_wants, out->pod_namespace, out->pod_name);
			pthread_cond_broadcast(&k->cond);
			return AG_R_PENDING;
		}
	} else if (k->api_server) {
		if (!ap || !api_devices(k, ap, cname, out, &nvidia, &full)) {
			if (ap)
				k->claims_want = true;
			pthread_cond_broadcast(&k->cond);
			return AG_R_PENDING;
		}
		known = true;
	}
	(void)known;
	if (nvidia) {
		/* control nodes every container with an NVIDIA GPU needs: 195:254 modeset, 195:255 ctl */
		struct ag_dev_range ctl = { AG_NV_MAJOR, AG_NV_MINOR_MODESET, AG_NV_MINOR_CTL, 0 };

		add_range(out, &ctl, AG_RF_SHARED, &full);
		if (k->uvm_major > 0) {
			struct ag_dev_range uvm = { (__u32)k->uvm_major, 0, 1, 0 };

			add_range(out, &uvm, AG_RF_SHARED, &full);
		}
	}
	if (full)
		k8s_log(AG_LOG_WARN, "pod %s/%s container %s holds more than %d device ranges: the "
			"rest are left out of its policy", out->pod_namespace, out->pod_name, cname,
			AG_MAX_ALLOWED);
	return AG_R_DONE;
}

static int k8s_resolve(void *ctx, const char *path, struct ag_tenant *out)
{
	struct k8s *k = ctx;
	struct ag_k8s_cgroup cg;
	int ret;

	memset(out, 0, sizeof(*out));
	if (ag_k8s_cgroup_parse(path, &cg) < 0)
		return AG_R_NOT_MINE;
	switch (cg.kind) {
	case AG_K8S_CG_KUBEPODS:
		out->state = AG_P_TENANT_PARENT;
		return AG_R_DONE;
	case AG_K8S_CG_POD:
	case AG_K8S_CG_CONTAINER:
		break;
	default:
		return AG_R_NOT_MINE;
	}
	ag_scpy(out->pod_uid, sizeof(out->pod_uid), cg.pod_uid);
	pthread_mutex_lock(&k->lock);
	if (cg.kind == AG_K8S_CG_POD) {
		const struct k8s_api_pod *ap = k8s_api_pod_by_uid(k, cg.pod_uid);
		const struct k8s_cri_ent *sb = ap ? NULL : cri_sandbox_of(k, cg.pod_uid);

		out->state = AG_P_TENANT_PARENT;
		ag_scpy(out->pod_namespace, sizeof(out->pod_namespace), ap ? ap->ns : sb ? sb->ns : "");
		ag_scpy(out->pod_name, sizeof(out->pod_name), ap ? ap->name : sb ? sb->pod : "");
		pthread_mutex_unlock(&k->lock);
		return AG_R_DONE;
	}
	ag_scpy(out->container_id, sizeof(out->container_id), cg.container_id);
	ret = resolve_container(k, &cg, out);
	if (ret == AG_R_PENDING) {
		pending_add(k, path);
		out->state = AG_P_UNRESOLVED;
		out->n_devs = 0;
	} else {
		pending_done(k, path);
	}
	k->st.pending = k->n_pend;
	pthread_mutex_unlock(&k->lock);
	return ret;
}

static const char *const *k8s_tenant_roots(void *ctx)
{
	struct k8s *k = ctx;

	return (const char *const *)k->tenant_roots;
}

int ag_k8s_source_stats(const struct ag_source *src, struct ag_k8s_stats *out)
{
	struct k8s *k;

	if (!src || !src->name || strcmp(src->name, "kubernetes") || !src->ctx)
		return -EINVAL;
	k = src->ctx;
	pthread_mutex_lock(&k->lock);
	*out = k->st;
	out->pending = k->n_pend;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* ---- life cycle ---- */

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void k8s_destroy(void *ctx)
{
	struct k8s *k = ctx;
	size_t n_roots = 0;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	atomic_store(&k->stop, 1);
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	if (k->have_pr)
		pthread_join(k->th_pr, NULL);
	if (k->have_cri)
		pthread_join(k->th_cri, NULL);
	if (k->have_api)
		pthread_join(k->th_api, NULL);
	if (k->have_claims)
		pthread_join(k->th_claims, NULL);
	pr_free(&k->pr);
	cri_free(&k->cri);
	k8s_api_free(&k->api);
	want_free(k->pr_wants, k->n_pr_wants);
	free(k->pr_wants);
	want_free(k->cri_wants, k->n_cri_wants);
	free(k->cri_wants);
	for (size_t i = 0; i < k->n_pend; i++)
		free(k->pend[i].path);
	free(k->pend);
	ag_nv_free(&k->map_nv);
	ag_cdi_free(&k->map_cdi);
	free_strv(k->warned, k->n_warned);
	for (size_t i = 0; i < k->n_exempt; i++) {
		struct ag_cfg_exempt_k8s *e = &k->exempt[i];

		free(e->namespace);
		free(e->service_account);
		free_strv(e->label_keys, e->n_labels);
		free_strv(e->label_values, e->n_labels);
	}
	free(k->exempt);
	while (k->tenant_roots && k->tenant_roots[n_roots])
		n_roots++;
	free_strv(k->tenant_roots, n_roots);
	free_strv(k->cdi_dirs, k->n_cdi_dirs);
	free(k->node_name);
	free(k->pr_socket);
	free(k->cri_socket);
	free(k->api_server);
	free(k->token_file);
	free(k->ca_file);
	free(k->proc);
	free(k->dev_root);
	pthread_mutex_destroy(&k->lock);
	pthread_mutex_destroy(&k->map_lock);
	pthread_cond_destroy(&k->cond);
	free(k);
}

static bool is_off(const char *s)
{
	return s && !strcmp(s, "off");
}

/* opt value, else the default; NULL for "off" */
static int opt_str(char **out, const char *v, const char *def)
{
	*out = NULL;
	if (is_off(v))
		return 0;
	if (!v)
		v = def;
	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

static int copy_exempt(struct k8s *k, const struct ag_cfg_exempt_k8s *src, size_t n)
{
	if (!n)
		return 0;
	k->exempt = calloc(n, sizeof(*k->exempt));
	if (!k->exempt)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct ag_cfg_exempt_k8s *e = &k->exempt[k->n_exempt++];

		e->line = src[i].line;
		e->namespace = sdup(src[i].namespace);
		e->service_account = sdup(src[i].service_account);
		if ((src[i].namespace && !e->namespace) ||
		    (src[i].service_account && !e->service_account))
			return -ENOMEM;
		if (!src[i].n_labels)
			continue;
		e->label_keys = calloc(src[i].n_labels, sizeof(char *));
		e->label_values = calloc(src[i].n_labels, sizeof(char *));
		if (!e->label_keys || !e->label_values)
			return -ENOMEM;
		for (size_t j = 0; j < src[i].n_labels; j++) {
			e->label_keys[j] = sdup(src[i].label_keys[j]);
			e->label_values[j] = sdup(src[i].label_values[j] ? src[i].label_values[j] : "");
			e->n_labels = j + 1;
			if (!e->label_keys[j] || !e->label_values[j])
				return -ENOMEM;
		}
	}
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int setup(struct k8s *k, const struct ag_k8s_options *o, char *err, size_t errlen)
{
	const char *const *roots = o->tenant_roots ? o->tenant_roots : ag_k8s_default_tenant_roots;
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char incluster[300] = "";
	size_t n_roots = 0;
	int ret = 0;

	if (!o->api_server && host && *host) {
		bool v6 = strchr(host, ':') != NULL;

		snprintf(incluster, sizeof(incluster), "https://%s%s%s:%s", v6 ? "[" : "", host,
			 v6 ? "]" : "", port && *port ? port : "443");
	}
	ret = ret ?: opt_str(&k->pr_socket, o->podresources_socket, DEFAULT_PR_SOCKET);
	ret = ret ?: opt_str(&k->cri_socket, o->cri_socket, NULL);
	k->cri_auto = !o->cri_socket;
	ret = ret ?: opt_str(&k->api_server, o->api_server, incluster[0] ? incluster : NULL);
	ret = ret ?: opt_str(&k->token_file, o->token_file, SA_DIR "/token");
	ret = ret ?: opt_str(&k->ca_file, o->ca_file, SA_DIR "/ca.crt");
	ret = ret ?: opt_str(&k->node_name, o->node_name, getenv("NODE_NAME"));
	ret = ret ?: opt_str(&k->proc, o->proc, "/proc");
	ret = ret ?: opt_str(&k->dev_root, o->dev_root, "");
	if (ret)
		goto nomem;
	if (k->node_name && !*k->node_name) {
		free(k->node_name);
		k->node_name = NULL;
	}
	k->n_cdi_dirs = o->n_cdi_dirs ? o->n_cdi_dirs : 2;
	k->cdi_dirs = calloc(k->n_cdi_dirs, sizeof(char *));
	if (!k->cdi_dirs)
		goto nomem;
	for (size_t i = 0; i < k->n_cdi_dirs; i++) {
		k->cdi_dirs[i] = strdup(o->n_cdi_dirs ? o->cdi_dirs[i] : default_cdi_dirs[i]);
		if (!k->cdi_dirs[i])
			goto nomem;
	}
	while (roots[n_roots])
		n_roots++;
	k->tenant_roots = calloc(n_roots + 1, sizeof(char *));
	if (!k->tenant_roots)
		goto nomem;
	for (size_t i = 0; i < n_roots; i++)
		if (!(k->tenant_roots[i] = strdup(roots[i])))
			goto nomem;
	if (copy_exempt(k, o->exempt, o->n_exempt))
		goto nomem;
	k->resync_ns = (o->resync_ms ? o->resync_ms : 10000) * MS;
	k->min_interval_ns = (o->min_interval_ms ? o->min_interval_ms : 20) * MS;
	k->backoff_max_ns = (o->backoff_max_ms ? o->backoff_max_ms : 5000) * MS;
	k->rpc_timeout_ms = o->rpc_timeout_ms ? o->rpc_timeout_ms : 5000;
	k->watch_timeout_s = o->watch_timeout_s ? o->watch_timeout_s : 300;
	return 0;
nomem:
	snprintf(err, errlen, "k8s: out of memory");
	return -ENOMEM;
}

struct ag_source *ag_k8s_source_new(const struct ag_k8s_options *o, int notify_fd, char *err,
				    size_t errlen)
{
	pthread_condattr_t ca;
	struct k8s *k;
	int ret;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "k8s: libcurl initialisation failed: %s",
			 curl_easy_strerror(curl_init_rc));
		errno = EIO;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "k8s: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_mutex_init(&k->map_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);
	k->notify_fd = notify_fd;
	k->uvm_major = -ENOENT;
	k->src.name = "kubernetes";
	k->src.ctx = k;
	k->src.resolve = k8s_resolve;
	k->src.tenant_roots = k8s_tenant_roots;
	k->src.destroy = k8s_destroy;
	ret = setup(k, o, err, errlen);
	if (ret)
		goto fail;
	k8s_map_reload(k, true);
	k8s_log(AG_LOG_INFO, "PodResources %s, CRI %s, API %s (node %s), procfs %s, %zu GPUs, "
		"%zu CDI devices", k->pr_socket ? k->pr_socket : "off",
		k->cri_auto ? "auto" : k->cri_socket ? k->cri_socket : "off",
		k->api_server ? k->api_server : "off", k->node_name ? k->node_name : "?", k->proc,
		k->map_nv.n_gpus, k->map_cdi.n);
	if (!k->cri_socket && !k->cri_auto && !k->api_server)
		k8s_log(AG_LOG_WARN, "CRI and Kubernetes API both off: container cgroups cannot be "
			"joined to pods and stay unresolved");
	if (!k->pr_socket && !k->api_server)
		k8s_log(AG_LOG_WARN, "PodResources and Kubernetes API both off: no allocation is "
			"known, every container is judged as holding nothing");
	if (k->pr_socket) {
		ret = -pthread_create(&k->th_pr, NULL, pr_thread, k);
		if (ret)
			goto thread;
		k->have_pr = true;
	}
	if (k->cri_socket || k->cri_auto) {
		ret = -pthread_create(&k->th_cri, NULL, cri_thread, k);
		if (ret)
			goto thread;
		k->have_cri = true;
	}
	if (k->api_server) {
		ret = k8s_api_start(k);
		if (ret)
			goto thread;
	}
	return &k->src;
thread:
	snprintf(err, errlen, "k8s: cannot start a thread: %s", strerror(-ret));
fail:
	k8s_destroy(k);
	errno = -ret;
	return NULL;
}

void ag_k8s_options_from_config(const struct ag_config *cfg, struct ag_k8s_options *opt)
{
	const struct ag_cfg_kubernetes *kc = &cfg->kubernetes;

	memset(opt, 0, sizeof(*opt));
	opt->node_name = kc->node_name;
	opt->podresources_socket = kc->podresources_socket;
	opt->cri_socket = kc->cri_socket;
	opt->api_server = kc->api_server;
	opt->token_file = kc->token_file;
	opt->ca_file = kc->ca_file;
	opt->proc = cfg->host.proc;
	opt->cdi_dirs = (const char *const *)cfg->host.cdi_dirs;
	opt->n_cdi_dirs = cfg->host.n_cdi_dirs;
	opt->exempt = cfg->exempt_k8s;
	opt->n_exempt = cfg->n_exempt_k8s;
}
