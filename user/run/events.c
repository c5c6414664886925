// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Events from the kernel's records, the sources' answers and the start's scans (run.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cgroups.h"
#include "ioctl_names.h"
#include "log.h"
#include "names.h"
#include "run.h"
#include "util.h"
#include "verdict.h"

struct access_view {
	__u64 time_ns, cgroup_id, viol_total, suppressed;
	__u32 pid, tid, major, minor, class_id, cmd, xfer_cmd;
	int op, verdict, action, hook;
	bool first, rejudged, scanned, early;
	int fd;
	const char *comm;
};

/* The cgroup that answers for id (its tenant's for a cgroup below one), *path its own path. */
static struct ag_cg *find_cgroup(struct agent *a, __u64 id, const char **path)
{
	struct ag_cg *cg = ag_policy_lookup(&a->db, id, path);
	__u64 now;

	if (cg)
		return cg;
	/* a cgroup made while the lifecycle events were lost, or before we watched: its path by
	 * its id (one lookup), else look again (a walk of the tree), at most once a second */
	{
		char p[4096];

		if (!ag_cgroup_path_of_id(a->cgroup2, id, p, sizeof(p))) {
			ag_policy_added(&a->db, id, p, 0);
			if ((cg = ag_policy_lookup(&a->db, id, path)))
				return cg;
		}
	}
	now = ag_now_ns(CLOCK_MONOTONIC);
	if (now - a->last_rescan > 1000000000ULL) {
		a->last_rescan = now;
		ag_policy_scan(&a->db, a->cgroup2);
		cg = ag_policy_lookup(&a->db, id, path);
	}
	if (!cg)
		a->unknown_cgroups++;
	return cg;
}

/* the access's record: the fields the sinks read */
static void put_access(struct agent *a, const struct access_view *v, const struct ag_class *c)
{
	struct ag_evb *b = &a->evb;
	struct ag_event *e = ag_evb_cur(b);
	ag_evstr o;

	e->op = (__u8)v->op;
	e->verdict = (__u8)v->verdict;
	e->action = (__u8)v->action;
	e->hook = (__u8)v->hook;
	e->flags = (v->first ? AG_EVF_FIRST : 0) | (v->rejudged ? AG_EVF_REJUDGED : 0) |
		   (v->early ? AG_EVF_EARLY : 0) | (v->scanned ? AG_EVF_SCANNED : 0);
	e->pid = v->pid;
	e->tid = v->tid;
	e->cmd = v->cmd;
	e->xfer_cmd = v->xfer_cmd;
	e->fd = v->fd;
	e->viol_total = v->viol_total;
	e->suppressed = v->suppressed;
	if (v->op != AG_OP_PTRACE) { /* ptrace: another tenant's process, no device */
		e->major = v->major;
		e->minor = v->minor;
		AG_EVB_STR(b, cls, c ? c->name : "unknown", sizeof(c->name));
	}
	if (v->op == AG_OP_IOCTL)
		AG_EVB_STR(b, ioctl_name, ag_ioctl_name(c ? c->name : NULL, v->cmd, v->xfer_cmd),
			   64);
	AG_EVB_STR(b, tier, ag_tier_name(a->bpf.tier), 32);
	/* as the line carries it (the kernel's 16 bytes may end inside a character) */
	o = ag_evb_str_as_json(b, v->comm, strnlen(v->comm, AG_COMM_LEN));
	ag_evb_cur(b)->comm = o;
}

static void emit_access(struct agent *a, const struct access_view *v, const struct ag_cg *cg,
			const char *path)
{
	const struct ag_class *c = ag_devtab_class(&a->dt, v->class_id);
	struct jw *w = &a->jw;

	ag_ev_begin(a, AG_EVK_ACCESS, "access", v->time_ns);
	put_access(a, v, c);
	jw_kstr(w, "op", ag_op_name(v->op));
	jw_kstr(w, "verdict", ag_verdict_name(v->verdict));
	jw_kstr(w, "action", ag_action_name(v->action));
	jw_kstr(w, "tier", ag_tier_name(a->bpf.tier));
	jw_kstr(w, "hook", v->scanned ? "scan" : ag_hook_name(v->hook));
	if (v->first)
		jw_kbool(w, "first", true);
	if (v->rejudged)
		jw_kbool(w, "rejudged", true);
	if (v->early)
		jw_kbool(w, "before_ready", true);
	if (v->op == AG_OP_PTRACE) {
		/* another tenant's process, no device: cmd is its pid, xfer_cmd the route */
		jw_key(w, "target");
		jw_obj_open(w);
		jw_ku64(w, "pid", v->cmd);
		jw_kstr(w, "route", ag_pt_route_name(v->xfer_cmd));
		jw_obj_close(w);
	} else {
		jw_key(w, "device");
		jw_obj_open(w);
		jw_ku64(w, "major", v->major);
		jw_ku64(w, "minor", v->minor);
		jw_kstr(w, "class", c ? c->name : "unknown");
		jw_obj_close(w);
	}
	if (v->op == AG_OP_IOCTL) {
		const char *name = ag_ioctl_name(c ? c->name : NULL, v->cmd, v->xfer_cmd);

		jw_key(w, "ioctl");
		jw_obj_open(w);
		jw_key(w, "cmd");
		jw_hex32(w, v->cmd);
		if (v->xfer_cmd) {
			jw_key(w, "xfer_cmd");
			jw_hex32(w, v->xfer_cmd);
		}
		if (name)
			jw_kstr(w, "name", name);
		jw_obj_close(w);
	}
	jw_key(w, "process");
	jw_obj_open(w);
	jw_ku64(w, "pid", v->pid);
	if (v->tid)
		jw_ku64(w, "tid", v->tid);
	jw_key(w, "comm");
	jw_strn(w, v->comm, strnlen(v->comm, AG_COMM_LEN));
	if (v->scanned) {
		jw_key(w, "fd");
		jw_i64(w, v->fd);
	}
	jw_obj_close(w);
	ag_ev_put_cgroup_at(a, w, v->cgroup_id, cg, path);
	if (ag_is_violation(v->verdict) || v->verdict == AG_V_UNRESOLVED) {
		if (v->viol_total) {
			jw_key(w, "violations");
			jw_obj_open(w);
			jw_ku64(w, "total", v->viol_total);
			jw_ku64(w, "suppressed", v->suppressed);
			jw_obj_close(w);
		}
	}
	ag_ev_end(a);
	ag_arrival_on_access(a, v->verdict, v->action, v->scanned, v->rejudged, v->cgroup_id,
			     v->pid);
}

static struct ag_pending_access pending_of(const struct ag_access_event *e)
{
	struct ag_pending_access p = { .time_ns = e->time_ns, .pid = e->pid, .tid = e->tid,
				       .major = e->major, .minor = e->minor,
				       .class_id = e->class_id, .op = e->op, .cmd = e->cmd,
				       .xfer_cmd = e->xfer_cmd, .hook = e->hook };

	memcpy(p.comm, e->comm, AG_COMM_LEN);
	return p;
}

static void add_pending(struct ag_cg *cg, const struct ag_pending_access *n)
{
	struct ag_pending_access *p;

	for (unsigned int i = 0; i < cg->n_pending; i++) {
		p = &cg->pending[i];
		if (p->major == n->major && p->minor == n->minor && p->op == n->op &&
		    p->cmd == n->cmd && p->pid == n->pid && p->fd == n->fd)
			return;
	}
	if (cg->n_pending >= AG_PENDING_MAX)
		return;
	if (!cg->pending && !(cg->pending = calloc(AG_PENDING_MAX, sizeof(*cg->pending)))) {
		ag_err_errno(ENOMEM, "policy: cgroup %s: no memory for its accesses pending an answer; "
			     "they are not judged again", cg->path);
		return;
	}
	cg->pending[cg->n_pending++] = *n;
}

static void remember_pending(struct ag_cg *cg, const struct ag_access_event *e)
{
	struct ag_pending_access p = pending_of(e);

	add_pending(cg, &p);
}

/* What the policy says now of an access the kernel judged earlier. */
int ag_events_judge_now(struct agent *a, const char *path, __u32 major, __u32 minor)
{
	struct ag_policy p;

	if (!ag_policy_effective(&a->db, path, &p))
		return AG_V_HOST;
	return ag_verdict(&p, major, minor, ag_policy_owners(&a->db, major, minor));
}

static void rejudge(struct agent *a, struct ag_cg *cg, const struct ag_pending_access *p)
{
	struct access_view v = { .time_ns = ag_now_ns(CLOCK_BOOTTIME), .cgroup_id = cg->id,
				 .pid = p->pid, .tid = p->tid, .major = p->major,
				 .minor = p->minor, .class_id = p->class_id, .cmd = p->cmd,
				 .xfer_cmd = p->xfer_cmd, .op = p->op, .hook = p->hook,
				 .action = AG_ACT_OBSERVED, .rejudged = true, .comm = p->comm,
				 .scanned = p->scanned, .fd = p->fd };

	v.verdict = ag_events_judge_now(a, cg->path, p->major, p->minor);
	emit_access(a, &v, cg, NULL);
	a->rejudged++;
}

static void emit_tenant(struct agent *a, const char *what, const struct ag_cg *cg, __u64 t)
{
	ag_ev_begin(a, AG_EVK_TENANT, "tenant", t);
	AG_EVB_STR(&a->evb, what, what, 32);
	AG_EVB_STR(&a->evb, state, ag_pstate_name(cg->state), 32);
	jw_kstr(&a->jw, "event", what);
	jw_kstr(&a->jw, "state", ag_pstate_name(cg->state));
	ag_ev_put_cgroup(a, &a->jw, cg->id, cg);
	/* a cgroup made while running: its mkdir to its final policy in the map, as it stands now
	 * (this event follows the map write) */
	if (cg->created_ns && (cg->state == AG_P_TENANT || cg->state == AG_P_EXEMPT) &&
	    (!strcmp(what, "added") || !strcmp(what, "resolved"))) {
		__u64 now = ag_now_ns(CLOCK_BOOTTIME);

		jw_key(&a->jw, "policy_latency_ms");
		jw_double(&a->jw, now > cg->created_ns ? (now - cg->created_ns) / 1e6 : 0);
	}
	if (cg->state == AG_P_TENANT) {
		jw_key(&a->jw, "devices");
		jw_arr_open(&a->jw);
		for (unsigned int i = 0; i < cg->t.n_devs; i++) {
			char d[48];

			if (cg->t.devs[i].lo == cg->t.devs[i].hi)
				snprintf(d, sizeof(d), "%u:%u", cg->t.devs[i].major, cg->t.devs[i].lo);
			else
				snprintf(d, sizeof(d), "%u:%u-%u", cg->t.devs[i].major,
					 cg->t.devs[i].lo, cg->t.devs[i].hi);
			jw_str(&a->jw, d);
		}
		jw_arr_close(&a->jw);
	}
	ag_ev_end(a);
}

/*
 * Exposure (issue 22): what a container's OCI spec lets it reach beyond its allocation, said
 * once, when the container is first known as a tenant (at its cgroup's mkdir, its resolution, or
 * the start-up scan): before any access of it.
 */
static void put_exposure(struct agent *a, const struct ag_k8s_exposure *x)
{
	struct ag_evb *b = &a->evb;
	ag_evstr at = ag_evb_tail(b, x->n * sizeof(struct ag_event_xdev));

	_Static_assert(AG_EV_REASONS >= AG_K8S_REASONS_MAX, "an exposed device's reasons");

	AG_EVB_STR(b, bundle, x->file, sizeof(x->file));
	ag_evb_cur(b)->more = x->more;
	if (!at)
		return;
	ag_evb_cur(b)->xdev = at;
	ag_evb_cur(b)->n_xdev = x->n;
	for (unsigned int i = 0; i < x->n; i++) {
		const struct ag_k8s_exposed *d = &x->d[i];
		ag_evstr s = ag_evb_str(b, d->path, sizeof(d->path));
		struct ag_event_xdev *o;
		ag_evstr r[AG_EV_REASONS] = { 0 };
		unsigned int nr = d->n_reasons < AG_EV_REASONS ? d->n_reasons : AG_EV_REASONS;

		for (unsigned int j = 0; j < nr; j++)
			r[j] = ag_evb_str(b, d->reasons[j], sizeof(d->reasons[j]));
		o = (struct ag_event_xdev *)((char *)ag_evb_cur(b) + at) + i;
		o->major = d->major;
		o->minor = d->minor;
		o->path = s;
		o->n_reasons = nr;
		memcpy(o->reasons, r, sizeof(r));
	}
}

static void emit_exposure(struct agent *a, const struct ag_cg *cg, const struct ag_k8s_exposure *x)
{
	ag_ev_begin(a, AG_EVK_EXPOSURE, "exposure", 0);
	put_exposure(a, x);
	ag_ev_put_cgroup(a, &a->jw, cg->id, cg);
	jw_kstr(&a->jw, "bundle", x->file);
	jw_key(&a->jw, "devices");
	jw_arr_open(&a->jw);
	for (unsigned int i = 0; i < x->n; i++) {
		const struct ag_k8s_exposed *d = &x->d[i];

		jw_obj_open(&a->jw);
		jw_kstr(&a->jw, "path", d->path);
		jw_ku64(&a->jw, "major", d->major);
		jw_ku64(&a->jw, "minor", d->minor);
		jw_key(&a->jw, "reasons");
		jw_arr_open(&a->jw);
		for (unsigned int j = 0; j < d->n_reasons; j++)
			jw_str(&a->jw, d->reasons[j]);
		jw_arr_close(&a->jw);
		jw_obj_close(&a->jw);
		for (unsigned int k = 0; k < AG_K8S_X_KINDS; k++)
			a->exposed[k] += !!(d->kinds & (1u << k));
	}
	jw_arr_close(&a->jw);
	if (x->more)
		jw_ku64(&a->jw, "more", x->more);
	ag_ev_end(a);
	a->exposures++;
}

static void check_exposure(struct agent *a, const struct ag_cg *cg)
{
	struct ag_k8s_exposure *x;
	char err[512];
	int r;

	if (!a->k8s || cg->state != AG_P_TENANT || !cg->t.container_id[0])
		return;
	x = malloc(sizeof(*x));
	if (!x) {
		ag_err_errno(ENOMEM, "exposure: pod %s/%s container %s: not checked",
			     cg->t.pod_namespace, cg->t.pod_name, cg->t.container_name);
		return;
	}
	r = ag_k8s_exposure(a->k8s, &cg->t, &a->dt, x, err, sizeof(err));
	if (r < 0 && r != -ENOENT)
		ag_warn("exposure: pod %s/%s container %s: %s", cg->t.pod_namespace, cg->t.pod_name,
			cg->t.container_name, err);
	else if (r == 1)
		emit_exposure(a, cg, x);
	free(x);
}

/* The tenants the start's scan resolved at once, each as a "present" tenant event: a reader of the
 * journal (the policy reports) knows every tenant, not only those that changed. */
void ag_events_present(struct agent *a)
{
	size_t b = 0;

	for (struct ag_hnode *n = ag_htab_iter(&a->db.ids, &b, NULL); n;
	     n = ag_htab_iter(&a->db.ids, &b, n)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);

		if (cg->state == AG_P_TENANT || cg->state == AG_P_EXEMPT)
			emit_tenant(a, "present", cg, 0);
		check_exposure(a, cg);
	}
}

/* The kernel's fail-closed switch (bpf/common.bpf.h ag_policy_full), through the mmapped .bss or
 * the map itself. */
static void set_policy_full(struct agent *a, bool full)
{
	struct accelguard_bpf *k = a->bpf.skel;
	struct accelguard_bpf__bss v;
	__u32 zero = 0;

	if (k->bss) {
		k->bss->ag_policy_full = full;
		return;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(k->maps.bss), &zero, &v) == 0) {
		v.ag_policy_full = full;
		if (bpf_map_update_elem(bpf_map__fd(k->maps.bss), &zero, &v, BPF_ANY) == 0)
			return;
	}
	ag_err("bpf: cannot %s the policy map's fail-closed switch: %s", full ? "set" : "clear",
	       strerror(errno));
}

/* The policy map had no room for a cgroup it must hold (full), or has room for all again: the
 * kernel fails closed meanwhile (enforce mode denies what reads as a new tenant), and we say so. */
void ag_events_on_policy_full(bool full, const struct ag_cg *cg, void *ctx)
{
	struct agent *a = ctx;
	__u64 max = bpf_map__max_entries(a->bpf.skel->maps.policy);

	set_policy_full(a, full);
	ag_ev_begin(a, AG_EVK_POLICY_MAP, "policy_map", 0);
	jw_kstr(&a->jw, "event", full ? "full" : "room");
	jw_ku64(&a->jw, "entries", a->db.map_entries);
	jw_ku64(&a->jw, "max_entries", max);
	jw_ku64(&a->jw, "unwritten", a->db.unwritten);
	jw_ku64(&a->jw, "refused", a->db.map_refused);
	if (cg)
		ag_ev_put_cgroup(a, &a->jw, cg->id, cg);
	ag_ev_end(a);
	if (full)
		ag_err("policy: the policy map is full (%llu entries): no room for cgroup %llu (%s); "
		       "%s until there is (raise --max-cgroups)", (unsigned long long)max,
		       cg ? (unsigned long long)cg->id : 0ULL, cg ? cg->path : "?",
		       a->mode == AG_MODE_ENFORCE ? "new tenants are denied" :
						    "new tenants read as unresolved");
	else
		ag_info("policy: every cgroup has its policy entry again");
}

void ag_events_on_resolved(struct ag_cg *cg, void *ctx)
{
	struct agent *a = ctx;

	emit_tenant(a, "resolved", cg, 0);
	check_exposure(a, cg);

	for (unsigned int i = 0; i < cg->n_pending; i++)
		rejudge(a, cg, &cg->pending[i]);
	cg->n_pending = 0;
}

static void handle_access(struct agent *a, const struct ag_access_event *e)
{
	const char *path = NULL;
	struct ag_cg *cg = find_cgroup(a, e->cgroup_id, &path);
	struct access_view v = { .time_ns = e->time_ns, .cgroup_id = e->cgroup_id,
				 .viol_total = e->viol_total, .suppressed = e->suppressed,
				 .pid = e->pid, .tid = e->tid, .major = e->major,
				 .minor = e->minor, .class_id = e->class_id, .cmd = e->cmd,
				 .xfer_cmd = e->xfer_cmd, .op = e->op, .verdict = e->verdict,
				 .action = e->action, .hook = e->hook,
				 .first = e->flags & AG_EF_FIRST, .early = e->flags & AG_EF_EARLY,
				 .comm = e->comm };

	if (e->flags & AG_EF_FIRST)
		a->first_sightings++;
	emit_access(a, &v, cg, path);
	if (e->verdict != AG_V_UNRESOLVED || !cg)
		return;
	if (cg->state == AG_P_UNRESOLVED) {
		remember_pending(cg, e);
	} else {
		/* the policy arrived after the kernel judged: say at once what it is now */
		struct ag_pending_access p = pending_of(e);

		rejudge(a, cg, &p);
	}
}

/* A cgroup went: by its rmdir event, or found gone by a reconciling scan. */
static void cgroup_gone(struct ag_cg *cg, void *ctx)
{
	struct agent *a = ctx;

	ag_viol_retire(a, cg->id);
	if (cg->state != AG_P_HOST)
		emit_tenant(a, "removed", cg, 0);
}

static void handle_cgroup(struct agent *a, const struct ag_cgroup_event *e)
{
	struct ag_cg *cg;
	char path[4096];

	memcpy(path, e->path, AG_CGROUP_PATH_LEN);
	path[AG_CGROUP_PATH_LEN] = 0;
	/* a path that fills the record may be cut short: take the real one from the file system
	 * (by its handle: one lookup) */
	if (e->h.type == AG_EV_CGROUP_MKDIR && strlen(path) >= AG_CGROUP_PATH_LEN - 1 &&
	    ag_cgroup_path_of(a->cgroup2, e->cgroup_id, path, sizeof(path))) {
		ag_warn("cgroup: %llu has a path longer than %d bytes and is gone already",
			(unsigned long long)e->cgroup_id, AG_CGROUP_PATH_LEN - 1);
		return;
	}
	if (e->h.type == AG_EV_CGROUP_RMDIR) {
		cg = ag_policy_find(&a->db, e->cgroup_id);
		if (cg)
			cgroup_gone(cg, a);
		else
			ag_viol_retire(a, e->cgroup_id);
		ag_policy_removed(&a->db, e->cgroup_id);
		return;
	}
	cg = ag_policy_added(&a->db, e->cgroup_id, path, e->time_ns);
	if (cg && cg->state != AG_P_HOST)
		emit_tenant(a, "added", cg, e->time_ns);
	if (cg)
		check_exposure(a, cg);
}

int ag_events_on_sample(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	const struct ag_event_hdr *h = data;

	if (size < sizeof(*h) || h->size > size) {
		ag_warn("events: a record of %zu bytes is too short; skipped", size);
		return 0;
	}
	switch (h->type) {
	case AG_EV_ACCESS:
		if (h->size != sizeof(struct ag_access_event))
			break;
		handle_access(a, data);
		return 0;
	case AG_EV_CGROUP_MKDIR:
	case AG_EV_CGROUP_RMDIR:
		if (h->size != sizeof(struct ag_cgroup_event))
			break;
		handle_cgroup(a, data);
		return 0;
	}
	ag_warn("events: record type %u of %u bytes does not match this agent; skipped", h->type,
		h->size);
	return 0;
}

void ag_events_check_drops(struct agent *a, bool force)
{
	__u64 now[AG_DROP__MAX], total = 0;
	bool changed = false;

	for (__u32 k = 0; k < AG_DROP__MAX; k++) {
		now[k] = ag_maps_drops(&a->maps, k);
		total += now[k];
		changed |= now[k] != a->drops_reported[k];
	}
	if (!changed && !force)
		return;
	if (changed && now[AG_DROP_CGROUP] != a->drops_reported[AG_DROP_CGROUP])
		/* lifecycle events were lost: find the cgroups made, and forget those gone */
		ag_policy_reconcile(&a->db, a->cgroup2, cgroup_gone, a);
	ag_ev_begin(a, AG_EVK_DROPS, "drops", 0);
	jw_key(&a->jw, "ringbuf");
	jw_obj_open(&a->jw);
	for (__u32 k = 0; k < AG_DROP__MAX; k++)
		jw_ksu64(&a->jw, ag_drop_name(k), now[k]);
	jw_obj_close(&a->jw);
	jw_ku64(&a->jw, "total", total);
	ag_ev_end(a);
	memcpy(a->drops_reported, now, sizeof(now));
}

void ag_events_on_open_fd(const struct ag_open_fd *f, void *ctx)
{
	struct agent *a = ctx;
	struct ag_cg *cg = f->cgroup[0] ? ag_policy_find_path(&a->db, f->cgroup) : NULL;
	struct access_view v = { .time_ns = ag_now_ns(CLOCK_BOOTTIME), .pid = f->pid,
				 .major = f->major, .minor = f->minor, .class_id = f->class_id,
				 .op = AG_OP_OPEN, .action = AG_ACT_OBSERVED, .scanned = true,
				 .fd = f->fd, .comm = f->comm };

	if (!cg && f->cgroup[0])
		cg = ag_policy_tenant_of(&a->db, f->cgroup); /* below a tenant: the tenant answers */
	v.cgroup_id = cg && !strcmp(cg->path, f->cgroup) ? cg->id : 0;
	v.verdict = ag_events_judge_now(a, f->cgroup[0] ? f->cgroup : "/", f->major, f->minor);
	emit_access(a, &v, cg, f->cgroup[0] ? f->cgroup : NULL);
	a->preexisting++;
	/* judged with the first snapshot; a container still unresolved is judged again, like a
	 * live access, when its answer arrives */
	if (v.verdict == AG_V_UNRESOLVED && cg && cg->state == AG_P_UNRESOLVED) {
		struct ag_pending_access p = { .time_ns = v.time_ns, .pid = f->pid,
					       .major = f->major, .minor = f->minor,
					       .class_id = f->class_id, .op = AG_OP_OPEN,
					       .scanned = true, .fd = f->fd };

		memcpy(p.comm, f->comm, AG_COMM_LEN);
		add_pending(cg, &p);
	}
}

/* a self-test's result, relayed from the control socket into the event stream */
void ag_events_selftest(void *ctx, const char *members, size_t len)
{
	struct agent *a = ctx;

	ag_ev_begin(a, AG_EVK_SELFTEST, "selftest", 0);
	jw_append(&a->jw, ",", 1);
	jw_append(&a->jw, members, len);
	ag_ev_end(a);
}
