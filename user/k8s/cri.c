// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The container runtime's CRI peer (cri.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cri.h"
#include "grpc.h"
#include "proto/cri.pb-c.h"

#define MAX_TARGETED 8 /* ContainerStatus calls before falling back to a list */

static const char *const default_cri_sockets[] = { "/run/containerd/containerd.sock",
						    "/var/run/crio/crio.sock" };


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
	if (n > K8S_CRI_MAX_LABELS)
		return -E2BIG;
	if (s->n >= K8S_CRI_MAX_ENTRIES)
		return -E2BIG;
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

int k8s_cri_add_containers(struct k8s_cri_snap *s, size_t *cap,
			   const Runtime__V1__ListContainersResponse *r)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < r->n_containers; i++) {
		const Runtime__V1__Container *c = r->containers[i];

		ret = cri_add(s, cap, c->id, c->labels, c->n_labels, false);
	}
	return ret;
}

int k8s_cri_add_sandboxes(struct k8s_cri_snap *s, size_t *cap,
			  const Runtime__V1__ListPodSandboxResponse *r)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < r->n_items; i++) {
		const Runtime__V1__PodSandbox *p = r->items[i];

		ret = cri_add(s, cap, p->id, (cri_kv *const *)p->labels, p->n_labels, true);
	}
	return ret;
}

void k8s_cri_snap_free(struct k8s_cri_snap *s)
{
	cri_free(s);
}

/* A fresh snapshot: ListContainers + ListPodSandbox. */
static int cri_list(struct k8s_cri *cri, struct ag_grpc *g, struct k8s_cri_snap *s, char *err,
		    size_t errlen)
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
	ret = k8s_cri_add_containers(s, &cap, cresp);
	protobuf_c_message_free_unpacked(&cresp->base, NULL);
	if (!ret)
		ret = ag_grpc_call(g, "/runtime.v1.RuntimeService/ListPodSandbox", &sreq.base,
				   &runtime__v1__list_pod_sandbox_response__descriptor,
				   (ProtobufCMessage **)&sresp, err, errlen);
	if (!ret) {
		ret = k8s_cri_add_sandboxes(s, &cap, sresp);
		protobuf_c_message_free_unpacked(&sresp->base, NULL);
	}
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "CRI: out of memory");
		else if (ret == -E2BIG)
			snprintf(err, errlen, "CRI: more than %u containers and sandboxes, or one with more than %u labels: answer refused",
				 K8S_CRI_MAX_ENTRIES, K8S_CRI_MAX_LABELS);
		cri_free(s);
		return ret;
	}
	if (s->n)
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
		/* no socket is a runtime gone, not a container unknown to it */
		return ret == -ENOENT ? -ENOTCONN : ret;
	}
	filter.id = (char *)id;
	sreq.filter = &filter;
	ret = ag_grpc_call(g, "/runtime.v1.RuntimeService/ListPodSandbox", &sreq.base,
			   &runtime__v1__list_pod_sandbox_response__descriptor,
			   (ProtobufCMessage **)&sresp, err, errlen);
	if (ret)
		return ret == -ENOENT ? -ENOTCONN : ret;
	for (size_t i = 0; !ret && i < sresp->n_items; i++)
		if (sresp->items[i]->id && !strcmp(sresp->items[i]->id, id))
			ret = cri_add(s, &cap, id, (cri_kv *const *)sresp->items[i]->labels,
				      sresp->items[i]->n_labels, true);
	protobuf_c_message_free_unpacked(&sresp->base, NULL);
	if (ret)
		return ret;
	return s->n ? 0 : -ENOENT;
}

static bool cri_want_done(const void *owner, const struct k8s_want *w)
{
	const struct k8s_cri *cri = owner;

	return cri_find(&cri->snap, w->a) != NULL;
}

/* Insert (or replace) the entries of one into cri->snap; cri->lock held. */
static int cri_merge(struct k8s_cri *cri, struct k8s_cri_snap *one)
{
	struct k8s_cri_ent *e = realloc(cri->snap.e, (cri->snap.n + one->n) * sizeof(*e));

	if (!e)
		return -ENOMEM;
	cri->snap.e = e;
	for (size_t i = 0; i < one->n; i++) {
		struct k8s_cri_ent *old = (struct k8s_cri_ent *)cri_find(&cri->snap, one->e[i].id);

		if (old) {
			cri_ent_free(old);
			*old = one->e[i];
		} else {
			cri->snap.e[cri->snap.n++] = one->e[i];
			qsort(cri->snap.e, cri->snap.n, sizeof(*cri->snap.e), cri_cmp);
		}
	}
	free(one->e);
	memset(one, 0, sizeof(*one));
	return 0;
}

static const char *cri_socket_now(struct k8s_cri *cri)
{
	if (!cri->env->cri_auto)
		return cri->env->cri_socket;
	for (size_t i = 0; i < sizeof(default_cri_sockets) / sizeof(*default_cri_sockets); i++)
		if (access(default_cri_sockets[i], F_OK) == 0)
			return default_cri_sockets[i];
	return NULL;
}

/* The thread's own state between rounds. */
struct cri_loop {
	struct k8s_peer_state ps;
	uint64_t next_list, next_retry, retry_delay, next_watch;
	struct ag_grpc g;
	char what[600];
};

/* Nothing to ask now: the cheap watch of a runtime that is up (one that goes away is seen
 * within AG_GRPC_WATCH_MS, not at the next resync, and its outage is counted from then), else
 * wait for the next list, retry or want. Lock held. */
static void cri_idle(struct k8s_cri *cri, struct cri_loop *L, uint64_t now)
{
	const struct k8s_env *env = cri->env;
	uint64_t wake = L->next_list;

	if (cri->n_wants && L->next_retry < wake)
		wake = L->next_retry;
	if (L->ps.up == 1 && L->g.socket) {
		if (now >= L->next_watch) {
			char werr[700];
			int w;

			k8s_unlock(&cri->lock);
			w = ag_grpc_reachable(L->g.socket, werr, sizeof(werr));
			k8s_lock(&cri->lock);
			L->next_watch = k8s_mono_ns() + AG_GRPC_WATCH_MS * K8S_MS;
			if (w) {
				cri->up = false;
				L->next_list = k8s_mono_ns() +
					       k8s_peer_fail(&L->ps, env->backoff_max_ns, werr,
							     "; keeping the containers known, retrying");
				return;
			}
		}
		if (L->next_watch < wake)
			wake = L->next_watch;
	}
	k8s_wait(&cri->cond, &cri->lock, wake, &env->stop);
}

/* The runtime's socket now, and a client for it (a new one when the socket changed). Lock not
 * held. */
static int cri_connect(struct k8s_cri *cri, struct cri_loop *L, char *err, size_t errlen)
{
	const char *sock = cri_socket_now(cri);
	int ret = 0;

	if (!sock) {
		ret = -ENOENT;
		snprintf(err, errlen, "no container runtime socket (%s, %s)",
			 default_cri_sockets[0], default_cri_sockets[1]);
	} else if (!L->g.socket || strcmp(L->g.socket, sock)) {
		ag_grpc_fini(&L->g);
		snprintf(L->what, sizeof(L->what), "CRI at %s", sock);
		ret = ag_grpc_init(&L->g, sock, &cri->env->stop, cri->env->rpc_timeout_ms);
		if (ret)
			snprintf(err, errlen, "cannot use socket path %s", sock);
	}
	L->ps.what = L->what;
	return ret;
}

/* The list's outcome: the new snapshot, or the failure kept and the next try scheduled. Lock
 * held (dropped to free the old snapshot). Returns whether the snapshot changed. */
static bool cri_list_apply(struct k8s_cri *cri, struct cri_loop *L, int ret,
			   struct k8s_cri_snap *fresh, const char *err)
{
	const struct k8s_env *env = cri->env;
	struct k8s_cri_snap old = cri->snap;
	bool changed;

	if (ret) {
		cri->errors++;
		cri->up = false;
		L->next_list = k8s_mono_ns() +
			       k8s_peer_fail(&L->ps, env->backoff_max_ns, err,
					     cri->listed ? "; keeping the containers known, retrying"
							 : "; retrying");
		L->next_retry = L->next_list;
		return false;
	}
	changed = !cri->listed || !cri_equal(fresh, &cri->snap);
	cri->snap = *fresh;
	cri->listed = true;
	cri->up = true;
	L->next_list = k8s_mono_ns() + env->resync_ns;
	if (L->ps.up != 1) {
		char d[64];

		snprintf(d, sizeof(d), " (%zu containers and sandboxes)", cri->snap.n);
		k8s_peer_ok(&L->ps, d);
	}
	k8s_unlock(&cri->lock);
	cri_free(&old);
	k8s_lock(&cri->lock);
	return changed;
}

/* The wanted containers, one call each, merged into the snapshot. Lock held, dropped around
 * each call. Returns whether the snapshot changed. */
static bool cri_get_wanted(struct k8s_cri *cri, struct cri_loop *L, char **tw, size_t n_tw)
{
	bool changed = false;
	char err[1024] = "";

	for (size_t i = 0; i < n_tw; i++) {
		struct k8s_cri_snap one;
		int r;

		k8s_unlock(&cri->lock);
		r = cri_one(&L->g, tw[i], &one, err, sizeof(err));
		k8s_lock(&cri->lock);
		cri->calls++;
		if (r == -ENOENT)
			continue;
		if (r) {
			cri->errors++;
			L->next_list = k8s_mono_ns() +
				       k8s_peer_fail(&L->ps, cri->env->backoff_max_ns, err, "; retrying");
			break;
		}
		if (cri_merge(cri, &one) == 0)
			changed = true;
		else
			cri_free(&one);
	}
	return changed;
}

/* Containers not there yet: ask again, sooner at first. Lock held. */
static void cri_schedule_retry(struct k8s_cri *cri, struct cri_loop *L)
{
	if (!cri->n_wants) {
		L->retry_delay = 0;
		return;
	}
	L->retry_delay = L->retry_delay ? L->retry_delay * 2 : 20 * K8S_MS;
	if (L->retry_delay > K8S_SEC)
		L->retry_delay = K8S_SEC;
	L->next_retry = k8s_mono_ns() + L->retry_delay;
}

/* One round: a list (resync, asked for, or too many wanted), a call per wanted container, or
 * idle. Lock held. */
static void cri_round(struct k8s_cri *cri, struct cri_loop *L)
{
	uint64_t now = k8s_mono_ns();
	char *tw[MAX_TARGETED], err[1024] = "";
	size_t n_tw = 0;
	bool list = now >= L->next_list || cri->want_list, changed = false;
	struct k8s_cri_snap fresh;
	int ret;

	if (!list && cri->n_wants && now >= L->next_retry) {
		if (cri->n_wants > MAX_TARGETED || L->ps.up != 1)
			list = true;
		else
			for (; n_tw < cri->n_wants; n_tw++)
				tw[n_tw] = k8s_sdup(cri->wants[n_tw].a);
	}
	if (!list && !n_tw) {
		cri_idle(cri, L, now);
		return;
	}
	cri->want_list = false;
	k8s_unlock(&cri->lock);
	ret = cri_connect(cri, L, err, sizeof(err));
	if (!ret && list)
		ret = cri_list(cri, &L->g, &fresh, err, sizeof(err));
	k8s_lock(&cri->lock);
	cri->calls++;
	if (ret || list)
		changed = cri_list_apply(cri, L, ret, &fresh, err);
	if (!ret)
		changed |= cri_get_wanted(cri, L, tw, n_tw);
	for (size_t i = 0; i < n_tw; i++)
		free(tw[i]);
	k8s_want_prune(cri, cri->wants, &cri->n_wants, cri_want_done);
	cri_schedule_retry(cri, L);
	if (changed) {
		k8s_unlock(&cri->lock);
		if (cri->changed)
			cri->changed(cri->changed_arg);
		k8s_notify(cri->env);
		k8s_lock(&cri->lock);
	}
}

static void *cri_thread(void *arg)
{
	struct k8s_cri *cri = arg;
	struct cri_loop L = { .ps = { .up = -1 }, .what = "CRI" };

	k8s_lock(&cri->lock);
	while (!atomic_load(&cri->env->stop))
		cri_round(cri, &L);
	k8s_unlock(&cri->lock);
	ag_grpc_fini(&L.g);
	return NULL;
}

/* ---- resolve ---- */

void k8s_cri_init(struct k8s_cri *cri, const struct k8s_env *env, void (*changed)(void *arg),
		  void *changed_arg)
{
	memset(cri, 0, sizeof(*cri));
	cri->env = env;
	cri->changed = changed;
	cri->changed_arg = changed_arg;
	k8s_lock_init(&cri->lock, K8S_RANK_CRI, "cri");
	k8s_cond_init(&cri->cond);
}

int k8s_cri_start(struct k8s_cri *cri)
{
	int ret = -pthread_create(&cri->th, NULL, cri_thread, cri);

	cri->have_th = !ret;
	return ret;
}

void k8s_cri_stop(struct k8s_cri *cri)
{
	k8s_lock(&cri->lock);
	pthread_cond_broadcast(&cri->cond);
	k8s_unlock(&cri->lock);
	if (cri->have_th)
		pthread_join(cri->th, NULL);
	cri->have_th = false;
}

void k8s_cri_fini(struct k8s_cri *cri)
{
	cri_free(&cri->snap);
	k8s_want_free(cri->wants, cri->n_wants);
	free(cri->wants);
	k8s_lock_destroy(&cri->lock);
	pthread_cond_destroy(&cri->cond);
}

const struct k8s_cri_ent *k8s_cri_find(const struct k8s_cri *cri, const char *id)
{
	return cri_find(&cri->snap, id);
}

const struct k8s_cri_ent *k8s_cri_sandbox_of(const struct k8s_cri *cri, const char *uid)
{
	for (size_t i = 0; uid && *uid && i < cri->snap.n; i++)
		if (cri->snap.e[i].sandbox && !strcmp(cri->snap.e[i].uid, uid))
			return &cri->snap.e[i];
	return NULL;
}

void k8s_cri_want(struct k8s_cri *cri, const char *id)
{
	k8s_want_add(&cri->wants, &cri->n_wants, id, NULL);
	pthread_cond_broadcast(&cri->cond);
}
