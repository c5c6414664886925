// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes allocation source's resolve(): the cgroup path, then the peers' snapshots (CRI
 * or API for the identity, PodResources or the API's claims for the allocation), exemptions, and
 * the pending cgroups with their latency statistics.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup.h"
#include "resolver.h"

#define PENDING_EXPIRE_NS (600 * K8S_SEC) /* a cgroup pending this long has gone away */
#define MAX_PENDING 8192

const uint64_t ag_k8s_lat_bounds_ns[AG_K8S_LAT_BUCKETS] = {
	1 * K8S_MS, 5 * K8S_MS, 10 * K8S_MS, 50 * K8S_MS, 100 * K8S_MS, 500 * K8S_MS, 1 * K8S_SEC,
	5 * K8S_SEC, 30 * K8S_SEC, UINT64_MAX,
};

/* The peers' snapshots, all at once, in rank order (k->lock held). */
static void peers_lock(struct k8s *k)
{
	k8s_lock(&k->api.lock);
	k8s_lock(&k->cri.lock);
	k8s_lock(&k->pr.lock);
}

static void peers_unlock(struct k8s *k)
{
	k8s_unlock(&k->pr.lock);
	k8s_unlock(&k->cri.lock);
	k8s_unlock(&k->api.lock);
}


bool ag_k8s_exempt_match(const struct ag_cfg_exempt_k8s *e, const struct ag_k8s_pod_meta *pod)
{
	if (e->namespace && !ag_streq(e->namespace, pod->namespace_))
		return false;
	for (size_t i = 0; i < e->n_labels; i++) {
		size_t j;

		if (!pod->label_keys)
			return false;
		for (j = 0; j < pod->n_labels; j++)
			if (ag_streq(pod->label_keys[j], e->label_keys[i]) &&
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


/* k->lock held */
static void pending_done(struct k8s *k, const char *path)
{
	for (size_t i = 0; i < k->n_pend; i++) {
		uint64_t dt;
		int b;

		if (strcmp(k->pend[i].path, path))
			continue;
		dt = k8s_mono_ns() - k->pend[i].since_ns;
		k->resolved++;
		k->lat_sum_ns += dt;
		k->lat_last_ns = dt;
		if (dt > k->lat_max_ns)
			k->lat_max_ns = dt;
		for (b = 0; b < AG_K8S_LAT_BUCKETS - 1 && dt > ag_k8s_lat_bounds_ns[b]; b++)
			;
		k->lat_bucket[b]++;
		free(k->pend[i].path);
		k->pend[i] = k->pend[--k->n_pend];
		return;
	}
}

/* k->lock held */
static void pending_add(struct k8s *k, const char *path)
{
	uint64_t now = k8s_mono_ns();
	size_t o = 0;

	for (size_t i = 0; i < k->n_pend; i++) {
		if (!strcmp(k->pend[i].path, path))
			return;
	}
	for (size_t i = 0; i < k->n_pend; i++) {
		if (now - k->pend[i].since_ns > PENDING_EXPIRE_NS) {
			free(k->pend[i].path);
			k->pending_expired++;
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
	c = k8s_api_claim(&k->api, a->claim_ns, a->claim_name);
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

/* k->lock and the peers' locks held. Devices from the Kubernetes API's claims, when PodResources is off. */
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
				cl = k8s_api_claim(&k->api, p->ns, p->cl[j].claim);
		if (!cl || !cl->allocated)
			return false;
		for (size_t j = 0; j < cl->n; j++)
			add_alloc(k, t, &cl->r[j].map, cl->r[j].admin, nvidia, full);
	}
	return true;
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
	} else if ((sb = k8s_cri_sandbox_of(&k->cri, t->pod_uid))) {
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

/*
 * A container's identity from its OCI bundle (issue 22): the runtime writes config.json, with
 * the CRI's annotations, before runc makes the cgroup, so a container the CRI does not list yet
 * is known at its cgroup's mkdir. NULL when no bundle says (none, unreadable: logged once).
 */
static const struct k8s_bundle_id *bundle_id(struct k8s *k, const char *id)
{
	struct k8s_bundle_id *b;
	struct k8s_oci o;
	char file[4096], err[512];
	int ret;

	for (size_t i = 0; k->bids && i < K8S_BUNDLE_IDS; i++)
		if (!strcmp(k->bids[i].id, id))
			return &k->bids[i];
	if (!k->n_bundle_dirs ||
	    k8s_oci_find((const char *const *)k->bundle_dirs, k->n_bundle_dirs, id, file, sizeof(file)))
		return NULL;
	ret = k8s_oci_load(file, &o, err, sizeof(err));
	if (ret) {
		k8s_log(AG_LOG_WARN, "container %.12s: %s; identity from the CRI only", id, err);
		return NULL;
	}
	if (!o.has_identity) {
		k8s_oci_free(&o);
		return NULL;
	}
	if (!k->bids && !(k->bids = calloc(K8S_BUNDLE_IDS, sizeof(*k->bids)))) {
		k8s_oci_free(&o);
		return NULL;
	}
	b = &k->bids[k->bid_next++ % K8S_BUNDLE_IDS];
	memset(b, 0, sizeof(*b));
	ag_strlcpy(b->id, id, sizeof(b->id));
	ag_strlcpy(b->ns, o.pod_ns, sizeof(b->ns));
	ag_strlcpy(b->pod, o.pod_name, sizeof(b->pod));
	ag_strlcpy(b->uid, o.pod_uid ? o.pod_uid : "", sizeof(b->uid));
	ag_strlcpy(b->name, o.container_name ? o.container_name : "", sizeof(b->name));
	b->sandbox = o.sandbox;
	k8s_oci_free(&o);
	return b;
}

/* Whether an exemption may match this pod by labels or service account, which a bundle does not
 * give: its container then waits for the CRI or the API (as without a bundle). */
static bool exempt_needs_more(const struct k8s *k, const char *ns)
{
	for (size_t i = 0; i < k->n_exempt; i++)
		if ((k->exempt[i].n_labels || k->exempt[i].service_account) &&
		    (!k->exempt[i].namespace || ag_streq(k->exempt[i].namespace, ns)))
			return true;
	return false;
}

static int resolve_container(struct k8s *k, const struct ag_k8s_cgroup *cg, struct ag_tenant *out)
{
	const struct k8s_cri_ent *ce = k8s_cri_find(&k->cri, cg->container_id);
	const struct k8s_api_pod *ap = k8s_api_pod_by_uid(&k->api, cg->pod_uid);
	bool nvidia = false, full = false, known = false;
	int uvm_major = k8s_map_uvm_major(&k->map);
	const char *cname = NULL;

	if (ce && (!*ce->uid || !strcmp(ce->uid, cg->pod_uid))) {
		ag_strlcpy(out->pod_namespace, ce->ns, sizeof(out->pod_namespace));
		ag_strlcpy(out->pod_name, ce->pod, sizeof(out->pod_name));
		if (ce->sandbox) {
			out->state = AG_P_TENANT; /* the pause container: nothing allocated */
			return exempt(k, out, ap) ? (out->state = AG_P_EXEMPT, AG_R_DONE) : AG_R_DONE;
		}
		cname = ce->name;
	} else if (ap) {
		ag_strlcpy(out->pod_namespace, ap->ns, sizeof(out->pod_namespace));
		ag_strlcpy(out->pod_name, ap->name, sizeof(out->pod_name));
		for (size_t i = 0; i < ap->n_c; i++)
			if (ap->c[i].id && !strcmp(ap->c[i].id, cg->container_id))
				cname = ap->c[i].name;
	}
	if (!cname) {
		const struct k8s_bundle_id *b = bundle_id(k, cg->container_id);

		if (k->env.cri_socket || k->env.cri_auto)
			k8s_cri_want(&k->cri, cg->container_id);
		if (!b || (*b->uid && strcmp(b->uid, cg->pod_uid)) || exempt_needs_more(k, b->ns))
			return AG_R_PENDING;
		ag_strlcpy(out->pod_namespace, b->ns, sizeof(out->pod_namespace));
		ag_strlcpy(out->pod_name, b->pod, sizeof(out->pod_name));
		k->bundle_resolved++;
		if (b->sandbox) {
			/* the pod's first container: ask the kubelet for its allocation now, before
			 * its containers come */
			if (k->env.pr_socket && k->pr.listed && !k8s_pr_find(&k->pr, b->ns, b->pod, NULL))
				k8s_pr_want(&k->pr, b->ns, b->pod);
			out->state = AG_P_TENANT;
			return exempt(k, out, ap) ? (out->state = AG_P_EXEMPT, AG_R_DONE) : AG_R_DONE;
		}
		cname = b->name;
	}
	ag_strlcpy(out->container_name, cname, sizeof(out->container_name));
	if (exempt(k, out, ap)) {
		out->state = AG_P_EXEMPT;
		return AG_R_DONE;
	}
	out->state = AG_P_TENANT;
	if (k->env.pr_socket) {
		const struct k8s_prc *c;

		if (!k->pr.listed) {
			k8s_pr_want_list(&k->pr);
			return AG_R_PENDING;
		}
		c = k8s_pr_find(&k->pr, out->pod_namespace, out->pod_name, cname);
		if (c) {
			for (size_t i = 0; i < c->n; i++)
				add_alloc(k, out, &c->a[i], claim_admin(k, &c->a[i]), &nvidia, &full);
			known = true;
		} else if (k8s_pr_find(&k->pr, out->pod_namespace, out->pod_name, NULL)) {
			known = true; /* a container the kubelet lists no resources for */
		} else {
			k8s_pr_want(&k->pr, out->pod_namespace, out->pod_name);
			return AG_R_PENDING;
		}
	} else if (k->env.api_server) {
		if (!ap || !api_devices(k, ap, cname, out, &nvidia, &full)) {
			if (ap)
				k8s_api_claims_kick(&k->api);
			else
				k8s_api_wake(&k->api);
			return AG_R_PENDING;
		}
		known = true;
	}
	(void)known;
	if (nvidia) {
		/* control nodes every container with an NVIDIA GPU needs: 195:254 modeset, 195:255 ctl */
		struct ag_dev_range ctl = { AG_NV_MAJOR, AG_NV_MINOR_MODESET, AG_NV_MINOR_CTL, 0 };

		add_range(out, &ctl, AG_RF_SHARED, &full);
		if (uvm_major > 0) {
			struct ag_dev_range uvm = { (__u32)uvm_major, 0, 1, 0 };

			add_range(out, &uvm, AG_RF_SHARED, &full);
		}
	}
	if (full)
		k8s_log(AG_LOG_WARN, "pod %s/%s container %s holds more than %d device ranges: the "
			"rest are left out of its policy", out->pod_namespace, out->pod_name, cname,
			AG_MAX_ALLOWED);
	return AG_R_DONE;
}

int k8s_resolve(void *ctx, const char *path, struct ag_tenant *out)
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
	ag_strlcpy(out->pod_uid, cg.pod_uid, sizeof(out->pod_uid));
	k8s_lock(&k->lock);
	peers_lock(k);
	if (cg.kind == AG_K8S_CG_POD) {
		const struct k8s_api_pod *ap = k8s_api_pod_by_uid(&k->api, cg.pod_uid);
		const struct k8s_cri_ent *sb = ap ? NULL : k8s_cri_sandbox_of(&k->cri, cg.pod_uid);

		out->state = AG_P_TENANT_PARENT;
		ag_strlcpy(out->pod_namespace, ap ? ap->ns : sb ? sb->ns : "", sizeof(out->pod_namespace));
		ag_strlcpy(out->pod_name, ap ? ap->name : sb ? sb->pod : "", sizeof(out->pod_name));
		peers_unlock(k);
		k8s_unlock(&k->lock);
		return AG_R_DONE;
	}
	ag_strlcpy(out->container_id, cg.container_id, sizeof(out->container_id));
	ret = resolve_container(k, &cg, out);
	peers_unlock(k);
	if (ret == AG_R_PENDING) {
		pending_add(k, path);
		out->state = AG_P_UNRESOLVED;
		out->n_devs = 0;
	} else {
		pending_done(k, path);
	}
	k8s_unlock(&k->lock);
	return ret;
}

const char *const *k8s_tenant_roots(void *ctx)
{
	struct k8s *k = ctx;

	return (const char *const *)k->tenant_roots;
}

void k8s_cri_changed(void *ctx)
{
	struct k8s *k = ctx;

	if (!k->env.pr_socket)
		return;
	k8s_lock(&k->lock);
	k8s_lock(&k->cri.lock);
	k8s_lock(&k->pr.lock);
	/* a container the PodResources cache lacks: ask the kubelet now, not after the agent's
	 * next resolve */
	for (size_t i = 0; i < k->cri.snap.n; i++) {
		const struct k8s_cri_ent *e = &k->cri.snap.e[i];

		if (!e->sandbox && k->pr.listed && !k8s_pr_find(&k->pr, e->ns, e->pod, NULL) &&
		    k->n_pend)
			k8s_pr_want(&k->pr, e->ns, e->pod);
	}
	k8s_unlock(&k->pr.lock);
	k8s_unlock(&k->cri.lock);
	k8s_unlock(&k->lock);
}

void k8s_pending_free(struct k8s *k)
{
	for (size_t i = 0; i < k->n_pend; i++)
		free(k->pend[i].path);
	free(k->pend);
	k->pend = NULL;
	k->n_pend = 0;
}

int ag_k8s_source_stats(const struct ag_source *src, struct ag_k8s_stats *out)
{
	struct k8s *k;

	if (!src || !src->name || strcmp(src->name, "kubernetes") || !src->ctx)
		return -EINVAL;
	k = src->ctx;
	memset(out, 0, sizeof(*out));
	k8s_lock(&k->lock);
	out->resolved = k->resolved;
	out->lat_sum_ns = k->lat_sum_ns;
	out->lat_max_ns = k->lat_max_ns;
	out->lat_last_ns = k->lat_last_ns;
	memcpy(out->lat_bucket, k->lat_bucket, sizeof(out->lat_bucket));
	out->pending = k->n_pend;
	out->pending_expired = k->pending_expired;
	peers_lock(k);
	out->api_requests = k->api.requests;
	out->api_errors = k->api.errors;
	out->api_events = k->api.events;
	out->api_relists = k->api.relists;
	out->api_refused = k->api.refused;
	out->api_up = k->api.up;
	out->cri_calls = k->cri.calls;
	out->cri_errors = k->cri.errors;
	out->cri_up = k->cri.up;
	out->pr_calls = k->pr.calls;
	out->pr_errors = k->pr.errors;
	out->pr_up = k->pr.up;
	out->unmapped_ids = k->pr.unmapped_ids;
	out->bundle_resolved = k->bundle_resolved;
	peers_unlock(k);
	k8s_unlock(&k->lock);
	return 0;
}

/* Whether every peer that is on has answered (or failed) its first call. */
static bool first_answers_in(struct k8s *k)
{
	bool in;

	peers_lock(k);
	in = (!k->env.pr_socket || k->pr.calls > 0) &&
	     (!(k->env.cri_socket || k->env.cri_auto) || k->cri.calls > 0) &&
	     (!k->env.api_server || k->api.snap.listed || k->api.errors > 0);
	peers_unlock(k);
	return in;
}

int ag_k8s_source_wait_first(const struct ag_source *src, unsigned int max_ms)
{
	struct k8s *k;
	uint64_t until;

	if (!src || !src->name || strcmp(src->name, "kubernetes") || !src->ctx)
		return -EINVAL;
	k = src->ctx;
	until = k8s_mono_ns() + (uint64_t)max_ms * K8S_MS;
	while (!first_answers_in(k)) {
		struct timespec ts = { 0, 5 * 1000000L };

		if (k8s_mono_ns() >= until)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* The host's accelerator nodes, rescanned when older than 2 s (agent's thread). */
static void hostdevs(struct k8s *k, const struct ag_devtab *dt)
{
	uint64_t now = k8s_mono_ns();
	struct k8s_hostdev *hd;
	size_t n;
	int ret;

	if (k->hd_at && now - k->hd_at < 2 * K8S_SEC)
		return;
	k8s_lock(&k->map.lock);
	ret = k8s_hostdevs_scan(k->dev_dir, dt, &k->map.nv, &hd, &n);
	k8s_unlock(&k->map.lock);
	if (ret) {
		k8s_log(AG_LOG_WARN, "exposure: cannot list the accelerator nodes of %s: %s", k->dev_dir,
			strerror(-ret));
		return;
	}
	free(k->hd);
	k->hd = hd;
	k->n_hd = n;
	k->hd_at = now;
	{
		struct k8s_amd_table amd;
		char err[512];

		/* the AMD runtime's numbering of AMD_VISIBLE_DEVICES (none without amdgpu) */
		ret = k8s_amd_load(k->sys ? k->sys : "/sys", &amd, err, sizeof(err));
		if (ret) {
			k8s_log(AG_LOG_WARN, "exposure: %s", err);
		} else {
			k8s_amd_free(&k->amd);
			k->amd = amd;
		}
	}
}

int ag_k8s_exposure(const struct ag_source *src, const struct ag_tenant *t,
		    const struct ag_devtab *dt, struct ag_k8s_exposure *out, char *err,
		    size_t errlen)
{
	struct k8s *k;
	struct k8s_oci o;
	char file[4096];
	int ret;

	if (!src || !src->name || strcmp(src->name, "kubernetes") || !src->ctx)
		return -EINVAL;
	k = src->ctx;
	if (!t->container_id[0] || !k->n_bundle_dirs ||
	    k8s_oci_find((const char *const *)k->bundle_dirs, k->n_bundle_dirs, t->container_id, file,
			 sizeof(file)))
		return -ENOENT;
	ret = k8s_oci_load(file, &o, err, errlen);
	if (ret)
		return ret;
	hostdevs(k, dt);
	k8s_lock(&k->map.lock);
	ret = k8s_exposure_compute(&o, k->hd, k->n_hd, t->devs, t->n_devs, &k->map.nv, &k->amd, out);
	k8s_unlock(&k->map.lock);
	k8s_oci_free(&o);
	if (ret < 0) {
		snprintf(err, errlen, "%s: out of memory", file);
		return ret;
	}
	return ret > 0 ? 1 : 0;
}
