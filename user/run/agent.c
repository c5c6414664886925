// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "cgroups.h"
#include "devices.h"
#include "hostns.h"
#include "ioctl_names.h"
#include "jsonw.h"
#include "k8s/k8s.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "names.h"
#include "metrics.h"
#include "pins.h"
#include "policy.h"
#include "procscan.h"
#include "sink.h"
#include "startup.h"
#include "journal.h"
#include "evidence_http.h"
#include "event.h"
#include "control.h"
#include "selftest.h"
#include "util.h"
#include "verdict.h"
#include "vfio.h"

struct suppressed_seen {
	struct ag_hnode node;
	__u64 cgroup_id;
	__u64 reported;
};

struct agent {
	const struct ag_run_opts *o;
	struct ag_config cfg;
	bool cfg_loaded;
	struct ag_devtab dt;
	struct ag_bpf bpf;
	struct ag_pins pins; /* restart and upgrade (pins.h) */
	struct ag_maps maps; /* the one owner of kernel state */
	bool maps_ready;
	struct ag_policy_db db;
	bool db_ready;
	char cgroup2[4096];
	char procdev[4096]; /* /proc/devices (host.proc/devices) */
	__u64 vfio_hash;    /* the VFIO groups holding a GPU, as last classified (vfio.h) */
	int mode;
	struct ag_sinks *sinks; /* where the batches go (sink.h) */
	struct jw jw;      /* the lines of one batch, handed to the sinks by flush() */
	struct ag_evb evb; /* the batch's typed events (event.h), one per line */
	size_t batch_lines;
	unsigned int sink_wait_ms; /* how long the exit waits for the sinks */
	size_t ev_start;   /* where the event being written began in jw */
	__s64 tcache_sec;  /* the second whose date and time tcache holds */
	char tcache[64];   /* "YYYY-MM-DDTHH:MM:SS." */
	struct ring_buffer *rb;
	int epfd, sigfd, timerfd, notifyfd, devfd; /* devfd: the /proc/devices watch's timer */
	__s64 boot_to_real;
	__u64 start_boot;
	bool stop;
	/* accounting for the summary */
	__u64 lines_written, lines_lost; /* lines formatted; lines lost for want of memory */
	__u64 drops_reported[AG_DROP__MAX];
	__u64 rejudged, preexisting, unknown_cgroups;
	__u64 retired_viol, retired_supp; /* violations of cgroups that are gone */
	__u64 first_sightings; /* access events with AG_EF_FIRST: inserts into `counters` */
	__u64 last_rescan;
	struct ag_htab supp;
	struct ag_source *k8s; /* owned by the policy table */
	struct ag_k8s_sinks *k8s_sinks; /* Events and policy reports (k8s.h), NULL when off */
	struct ag_metrics *metrics; /* /metrics, /healthz, /readyz (metrics.h); NULL: none */
	struct ag_evidence_http *evhttp; /* its /evidence.tar.gz (metrics.evidence); NULL: off */
	bool ready, stopping;
	double start_real_s;
	struct ag_selftest_svc *selftest; /* the control socket, scheduled self-tests */
	/* exposure events (issue 22): containers, and their devices by reason kind (AG_K8S_X_*) */
	__u64 exposures, exposed[AG_K8S_X_KINDS];
};

/* ---- output -------------------------------------------------------------------------------- */

/* RFC 3339 in UTC with nanoseconds; the date and time of day are formatted once a second. */
static void fmt_time(struct agent *a, __u64 boot_ns, char *buf)
{
	__s64 real = (__s64)boot_ns + a->boot_to_real;
	__s64 sec = real / 1000000000LL;
	__u32 ns = real % 1000000000LL;

	if (sec != a->tcache_sec) {
		time_t t = sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		snprintf(a->tcache, sizeof(a->tcache), "%04d-%02d-%02dT%02d:%02d:%02d.",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		a->tcache_sec = sec;
	}
	memcpy(buf, a->tcache, 20);
	for (int i = 28; i >= 20; i--, ns /= 10)
		buf[i] = '0' + ns % 10;
	buf[29] = 'Z';
	buf[30] = 0;
}

#define AG_FLUSH_AT (256 * 1024) /* bytes of pending lines that make a batch go out at once */
#define AG_PROCDEV_POLL_MS 500 /* the /proc/devices watch */
#define AG_SINK_EXIT_MS 2000     /* how long the exit waits for a sink to write what it holds */

static void flush(struct agent *a);

/* Events are written straight into the batch, one line and one typed record each (the record's
 * fields beside the line's, from the same data). */
static void begin_event(struct agent *a, int kind, const char *type, __u64 boot_ns)
{
	__u64 t_ns = boot_ns ? boot_ns : ag_now_ns(CLOCK_BOOTTIME);
	char t[32];

	a->ev_start = a->jw.len;
	a->jw.need_comma = false;
	jw_obj_open(&a->jw);
	jw_kstr(&a->jw, "type", type);
	fmt_time(a, t_ns, t);
	jw_kstr(&a->jw, "time", t);
	ag_evb_begin(&a->evb, kind);
	ag_evb_cur(&a->evb)->time_ns = (__u64)((__s64)t_ns + a->boot_to_real);
	AG_EVB_STR(&a->evb, time, t, sizeof(t));
}

static void end_event(struct agent *a)
{
	jw_obj_close(&a->jw);
	jw_append(&a->jw, "\n", 1);
	if (a->jw.oom || !ag_evb_end(&a->evb)) {
		/* no memory for this line or its record: drop both, keep the events before them */
		a->jw.len = a->ev_start;
		if (a->jw.buf)
			a->jw.buf[a->jw.len] = 0;
		a->jw.oom = false;
		ag_evb_cancel(&a->evb);
		a->lines_lost++;
		return;
	}
	a->lines_written++;
	a->batch_lines++;
	if (a->jw.len >= AG_FLUSH_AT)
		flush(a); /* a flood must not grow the batch without bound */
}

/* Hand the batch to the sinks: formatted once, queued for each without waiting for any. */
static void flush(struct agent *a)
{
	struct ag_sink_batch b = { .buf = a->jw.buf, .len = a->jw.len, .ev = a->evb.buf,
				   .evlen = a->evb.len, .n = a->batch_lines };

	if (!a->jw.len)
		return;
	ag_sinks_emit_batch(a->sinks, &b);
	a->batch_lines = 0;
	jw_reset(&a->jw);
	ag_evb_reset(&a->evb);
}

/* cg: the cgroup that answers for id (for a cgroup below a tenant, the tenant); path: id's own
 * path when it is not cg's (NULL: cg's). */
static void put_cgroup_at(struct agent *a, struct jw *w, __u64 id, const struct ag_cg *cg,
			  const char *path)
{
	struct ag_evb *b = &a->evb;

	ag_evb_cur(b)->cgroup_id = id;
	AG_EVB_STR(b, cgroup_path, path ? path : cg ? cg->path : "", AG_EV_STR_MAX);
	if (cg && path && strcmp(path, cg->path)) {
		ag_evb_cur(b)->tenant_id = cg->id;
		AG_EVB_STR(b, tenant_path, cg->path, AG_EV_STR_MAX);
	}
	if (cg && (cg->t.pod_uid[0] || cg->t.pod_name[0])) {
		AG_EVB_STR(b, pod_ns, cg->t.pod_namespace, sizeof(cg->t.pod_namespace));
		AG_EVB_STR(b, pod_name, cg->t.pod_name, sizeof(cg->t.pod_name));
		AG_EVB_STR(b, pod_uid, cg->t.pod_uid, sizeof(cg->t.pod_uid));
	}
	if (cg && (cg->t.container_id[0] || cg->t.container_name[0])) {
		AG_EVB_STR(b, container_name, cg->t.container_name, sizeof(cg->t.container_name));
		AG_EVB_STR(b, container_id, cg->t.container_id, sizeof(cg->t.container_id));
	}
	jw_key(w, "cgroup");
	jw_obj_open(w);
	jw_ku64(w, "id", id);
	jw_kstr(w, "path", path ? path : cg ? cg->path : "");
	if (cg && path && strcmp(path, cg->path)) {
		/* below a tenant: judged, counted and limited as the tenant */
		jw_ku64(w, "tenant_id", cg->id);
		jw_kstr(w, "tenant_path", cg->path);
	}
	jw_obj_close(w);
	if (!cg)
		return;
	if (cg->t.pod_uid[0] || cg->t.pod_name[0]) {
		jw_key(w, "pod");
		jw_obj_open(w);
		jw_kstr(w, "namespace", cg->t.pod_namespace);
		jw_kstr(w, "name", cg->t.pod_name);
		jw_kstr(w, "uid", cg->t.pod_uid);
		jw_obj_close(w);
	}
	if (cg->t.container_id[0] || cg->t.container_name[0]) {
		jw_key(w, "container");
		jw_obj_open(w);
		jw_kstr(w, "name", cg->t.container_name);
		jw_kstr(w, "id", cg->t.container_id);
		jw_obj_close(w);
	}
}

static void put_cgroup(struct agent *a, struct jw *w, __u64 id, const struct ag_cg *cg)
{
	put_cgroup_at(a, w, id, cg, NULL);
}

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

struct access_view {
	__u64 time_ns, cgroup_id, viol_total, suppressed;
	__u32 pid, tid, major, minor, class_id, cmd, xfer_cmd;
	int op, verdict, action, hook;
	bool first, rejudged, scanned, early;
	int fd;
	const char *comm;
};

/* the access's record: the fields the sinks read */
static void put_access(struct agent *a, const struct access_view *v, const struct ag_class *c)
{
	struct ag_evb *b = &a->evb;
	struct ag_event *e = ag_evb_cur(b);

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
	AG_EVB_STR(b, comm, v->comm, AG_COMM_LEN);
}

static void emit_access(struct agent *a, const struct access_view *v, const struct ag_cg *cg,
			const char *path)
{
	const struct ag_class *c = ag_devtab_class(&a->dt, v->class_id);
	struct jw *w = &a->jw;

	begin_event(a, AG_EVK_ACCESS, "access", v->time_ns);
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
	put_cgroup_at(a, w, v->cgroup_id, cg, path);
	if (ag_is_violation(v->verdict) || v->verdict == AG_V_UNRESOLVED) {
		if (v->viol_total) {
			jw_key(w, "violations");
			jw_obj_open(w);
			jw_ku64(w, "total", v->viol_total);
			jw_ku64(w, "suppressed", v->suppressed);
			jw_obj_close(w);
		}
	}
	end_event(a);
}

/* ---- kernel events -------------------------------------------------------------------------- */

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
	if (!cg->pending && !(cg->pending = calloc(AG_PENDING_MAX, sizeof(*cg->pending))))
		return;
	cg->pending[cg->n_pending++] = *n;
}

static void remember_pending(struct ag_cg *cg, const struct ag_access_event *e)
{
	struct ag_pending_access p = pending_of(e);

	add_pending(cg, &p);
}

/* What the policy says now of an access the kernel judged earlier. */
static int judge_now(struct agent *a, const char *path, __u32 major, __u32 minor)
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

	v.verdict = judge_now(a, cg->path, p->major, p->minor);
	emit_access(a, &v, cg, NULL);
	a->rejudged++;
}

static void emit_tenant(struct agent *a, const char *what, const struct ag_cg *cg, __u64 t)
{
	begin_event(a, AG_EVK_TENANT, "tenant", t);
	AG_EVB_STR(&a->evb, what, what, 32);
	AG_EVB_STR(&a->evb, state, ag_pstate_name(cg->state), 32);
	jw_kstr(&a->jw, "event", what);
	jw_kstr(&a->jw, "state", ag_pstate_name(cg->state));
	put_cgroup(a, &a->jw, cg->id, cg);
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
	end_event(a);
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
	begin_event(a, AG_EVK_EXPOSURE, "exposure", 0);
	put_exposure(a, x);
	put_cgroup(a, &a->jw, cg->id, cg);
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
	end_event(a);
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
	if (!x)
		return;
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
static void emit_present(struct agent *a)
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
static void on_policy_full(bool full, const struct ag_cg *cg, void *ctx)
{
	struct agent *a = ctx;
	__u64 max = bpf_map__max_entries(a->bpf.skel->maps.policy);

	set_policy_full(a, full);
	begin_event(a, AG_EVK_POLICY_MAP, "policy_map", 0);
	jw_kstr(&a->jw, "event", full ? "full" : "room");
	jw_ku64(&a->jw, "entries", a->db.map_entries);
	jw_ku64(&a->jw, "max_entries", max);
	jw_ku64(&a->jw, "unwritten", a->db.unwritten);
	jw_ku64(&a->jw, "refused", a->db.map_refused);
	if (cg)
		put_cgroup(a, &a->jw, cg->id, cg);
	end_event(a);
	if (full)
		ag_err("policy: the policy map is full (%llu entries): no room for cgroup %llu (%s); "
		       "%s until there is (raise --max-cgroups)", (unsigned long long)max,
		       cg ? (unsigned long long)cg->id : 0ULL, cg ? cg->path : "?",
		       a->mode == AG_MODE_ENFORCE ? "new tenants are denied" :
						    "new tenants read as unresolved");
	else
		ag_info("policy: every cgroup has its policy entry again");
}

static void on_resolved(struct ag_cg *cg, void *ctx)
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

static void retire_viol(struct agent *a, __u64 id);

/* A cgroup went: by its rmdir event, or found gone by a reconciling scan. */
static void cgroup_gone(struct ag_cg *cg, void *ctx)
{
	struct agent *a = ctx;

	retire_viol(a, cg->id);
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
			retire_viol(a, e->cgroup_id);
		ag_policy_removed(&a->db, e->cgroup_id);
		return;
	}
	cg = ag_policy_added(&a->db, e->cgroup_id, path, e->time_ns);
	if (cg && cg->state != AG_P_HOST)
		emit_tenant(a, "added", cg, e->time_ns);
	if (cg)
		check_exposure(a, cg);
}

static int on_sample(void *ctx, void *data, size_t size)
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

/* ---- periodic work -------------------------------------------------------------------------- */

static void check_drops(struct agent *a, bool force)
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
	begin_event(a, AG_EVK_DROPS, "drops", 0);
	jw_key(&a->jw, "ringbuf");
	jw_obj_open(&a->jw);
	for (__u32 k = 0; k < AG_DROP__MAX; k++)
		jw_ksu64(&a->jw, ag_drop_name(k), now[k]);
	jw_obj_close(&a->jw);
	jw_ku64(&a->jw, "total", total);
	end_event(a);
	memcpy(a->drops_reported, now, sizeof(now));
}

static struct suppressed_seen *seen_of(struct agent *a, __u64 id, bool create)
{
	uint64_t h = ag_hash_u64(id);
	struct suppressed_seen *seen;

	for (struct ag_hnode *n = ag_htab_first(&a->supp, h); n; n = ag_htab_next(n, h)) {
		seen = ag_container_of(n, struct suppressed_seen, node);
		if (seen->cgroup_id == id)
			return seen;
	}
	if (!create || !(seen = calloc(1, sizeof(*seen))))
		return NULL;
	seen->cgroup_id = id;
	ag_htab_add(&a->supp, &seen->node, h);
	return seen;
}

/* Say how many of this tenant's violations got no event of their own since the last report. */
static void report_suppressed(struct agent *a, __u64 id, const struct ag_viol_state *s)
{
	struct suppressed_seen *seen;

	if (!s->suppressed || !(seen = seen_of(a, id, true)) || s->suppressed == seen->reported)
		return;
	begin_event(a, AG_EVK_SUPPRESSED, "suppressed", 0);
	jw_ku64(&a->jw, "count", s->suppressed - seen->reported);
	jw_key(&a->jw, "violations");
	jw_obj_open(&a->jw);
	jw_ku64(&a->jw, "total", s->total);
	jw_ku64(&a->jw, "suppressed", s->suppressed);
	jw_obj_close(&a->jw);
	jw_ku64(&a->jw, "rate_limit", a->cfg.rate_limit);
	put_cgroup(a, &a->jw, id, ag_policy_find(&a->db, id));
	end_event(a);
	seen->reported = s->suppressed;
}

/* Violations counted in the kernel that got no event of their own: say how many, per tenant. */
static void check_suppressed(struct agent *a)
{
	__u64 key, next, *prev = NULL;
	struct ag_viol_state s;

	while (!ag_maps_viol_next(&a->maps, prev, &next)) {
		key = next;
		prev = &key;
		if (!ag_maps_viol_get(&a->maps, key, &s))
			report_suppressed(a, key, &s);
	}
}

/*
 * A cgroup went away (no task can run in it any more): report what it still owes, keep its
 * counts for the summary, and free its entry, so that the map never fills with the dead on a
 * node where containers come and go.
 */
static void retire_viol(struct agent *a, __u64 id)
{
	struct suppressed_seen *seen;
	struct ag_viol_state s;

	if (ag_maps_viol_get(&a->maps, id, &s))
		return;
	report_suppressed(a, id, &s);
	a->retired_viol += s.total;
	a->retired_supp += s.suppressed;
	ag_maps_viol_del(&a->maps, id);
	if ((seen = seen_of(a, id, false))) {
		ag_htab_del(&a->supp, &seen->node);
		free(seen);
	}
}

static void sync_clocks(struct agent *a)
{
	a->boot_to_real = (__s64)ag_now_ns(CLOCK_REALTIME) - (__s64)ag_now_ns(CLOCK_BOOTTIME);
}

/* ---- ready and summary ---------------------------------------------------------------------- */

/* ready.pin: what became of the pinned state (pins.h) */
static void put_pins(struct agent *a, struct jw *w)
{
	const struct ag_pins *p = &a->pins;

	jw_key(w, "pin");
	jw_obj_open(w);
	jw_kstr(w, "state", ag_pin_state_name(p->state));
	jw_kstr(w, "dir", p->dir);
	if (p->state != AG_PIN_OFF && p->state != AG_PIN_REMOVED)
		jw_ku64(w, "generation", p->gen);
	if (p->state == AG_PIN_ADOPTED) {
		jw_ku64(w, "pruned", p->pruned);
		jw_ku64(w, "links_updated", p->updated);
	}
	if (p->state == AG_PIN_REPLACED && p->why[0])
		jw_kstr(w, "reason", p->why);
	if (p->removed)
		jw_ku64(w, "links_removed", p->removed);
	jw_obj_close(w);
}

static void emit_ready(struct agent *a)
{
	struct jw *w = &a->jw;
	unsigned int counts[5];
	struct utsname u;

	ag_policy_counts(&a->db, counts);
	begin_event(a, AG_EVK_READY, "ready", 0);
	jw_kstr(w, "version", AG_VERSION);
	jw_ku64(w, "pid", (__u64)getpid());
	jw_kstr(w, "tier", ag_tier_name(a->bpf.tier));
	jw_kstr(w, "mode", ag_mode_name(a->mode));
	jw_kstr(w, "ioctl_program", ag_bpf_ioctl_prog(&a->bpf));
	jw_kstr(w, "ioctl_enforcement",
		a->bpf.tier == AG_TIER_TRACEPOINT ? "kill_after_the_fact" : "synchronous_deny");
	if (!uname(&u))
		jw_kstr(w, "kernel", u.release);
	jw_kstr(w, "cgroup2", a->cgroup2);
	jw_kstr(w, "config", a->o->config ? a->o->config : "");
	jw_ku64(w, "tenants", counts[AG_P_TENANT]);
	jw_ku64(w, "exempt", counts[AG_P_EXEMPT]);
	jw_ku64(w, "unresolved", counts[AG_P_UNRESOLVED]);
	jw_ku64(w, "cgroups", a->db.ids.n);
	jw_ku64(w, "sub_cgroups", a->db.members.n);
	jw_ku64(w, "policy_entries", a->db.map_entries);
	jw_ku64(w, "policy_max_entries", bpf_map__max_entries(a->bpf.skel->maps.policy));
	jw_ku64(w, "policy_unwritten", a->db.unwritten);
	jw_ku64(w, "device_classes", a->dt.n_classes);
	jw_ku64(w, "rate_limit", a->cfg.rate_limit);
	jw_ku64(w, "counter_entries", bpf_map__max_entries(a->bpf.skel->maps.counters));
	jw_kbool(w, "exposure", a->k8s != NULL); /* each container's exposure checked (issue 22) */
	put_pins(a, w);
	end_event(a);
}

static int cmp_u64(const void *x, const void *y)
{
	__u64 a = *(const __u64 *)x, b = *(const __u64 *)y;

	return a < b ? -1 : a > b;
}

#define AG_TOP_ACCESSES 32 /* summary.top_accesses: the most counted (cgroup, device, op, cmd) */

/* The kernel's counters, summed over CPUs: the AG_TOP_ACCESSES most counted entries. */
static void put_top_accesses(struct agent *a, struct jw *w)
{
	struct ag_access_count top[AG_TOP_ACCESSES];
	size_t entries, n = ag_maps_counters_top(&a->maps, top, AG_TOP_ACCESSES, &entries);

	jw_key(w, "top_accesses");
	jw_arr_open(w);
	for (size_t i = 0; i < n; i++) {
		const struct ag_access_count *c = &top[i];
		const struct ag_class *cl =
			ag_devtab_class(&a->dt, ag_devtab_lookup(&a->dt, c->k.major, c->k.minor));
		const struct ag_cg *cg = ag_policy_find(&a->db, c->k.cgroup_id);
		char d[32];

		jw_obj_open(w);
		jw_key(w, "cgroup");
		jw_obj_open(w);
		jw_ku64(w, "id", c->k.cgroup_id);
		jw_kstr(w, "path", cg ? cg->path : "");
		jw_obj_close(w);
		snprintf(d, sizeof(d), "%u:%u", c->k.major, c->k.minor);
		jw_kstr(w, "device", d);
		jw_kstr(w, "class", cl ? cl->name : "unknown");
		jw_kstr(w, "op", ag_op_name(c->k.op));
		if (c->k.op == AG_OP_IOCTL) {
			jw_key(w, "cmd");
			jw_hex32(w, c->k.cmd);
		}
		jw_ku64(w, "count", c->count);
		jw_kstr(w, "verdict", ag_verdict_name(c->verdict));
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_ku64(w, "counter_entries", entries);
	/* the agent never deletes from `counters`: every entry gone went by LRU eviction, and
	 * every insert was a first sighting this agent received (fewer if events were dropped or
	 * entries were adopted from a previous agent: then a lower bound) */
	jw_ku64(w, "counter_evictions",
		a->first_sightings > entries ? a->first_sightings - entries : 0);
}

static void emit_summary(struct agent *a)
{
	struct jw *w = &a->jw;
	__u64 drops = 0, viol = a->retired_viol, supp = a->retired_supp;
	__u64 key, next, *prev = NULL;
	struct ag_viol_state s;
	unsigned int counts[5];

	while (!ag_maps_viol_next(&a->maps, prev, &next)) {
		key = next;
		prev = &key;
		if (!ag_maps_viol_get(&a->maps, key, &s)) {
			viol += s.total;
			supp += s.suppressed;
		}
	}
	ag_policy_counts(&a->db, counts);
	begin_event(a, AG_EVK_SUMMARY, "summary", 0);
	jw_kstr(w, "tier", ag_tier_name(a->bpf.tier));
	jw_kstr(w, "mode", ag_mode_name(a->mode));
	jw_key(w, "duration_s");
	jw_double(w, (ag_now_ns(CLOCK_BOOTTIME) - a->start_boot) / 1e9);
	jw_key(w, "accesses");
	jw_obj_open(w);
	for (int op = AG_OP_OPEN; op < AG_OP__MAX; op++) {
		jw_keys(w, ag_op_name(op));
		jw_obj_open(w);
		for (int v = AG_V_ALLOWED; v < AG_V__MAX; v++)
			jw_ksu64(w, ag_verdict_name(v), ag_maps_total(&a->maps, op, v));
		jw_obj_close(w);
	}
	jw_obj_close(w);
	put_top_accesses(a, w);
	jw_key(w, "violations");
	jw_obj_open(w);
	jw_ku64(w, "total", viol);
	jw_ku64(w, "suppressed", supp);
	jw_obj_close(w);
	jw_key(w, "drops");
	jw_obj_open(w);
	for (__u32 k = 0; k < AG_DROP__MAX; k++) {
		__u64 d = ag_maps_drops(&a->maps, k);

		jw_ksu64(w, ag_drop_name(k), d);
		drops += d;
	}
	jw_ku64(w, "total", drops);
	jw_obj_close(w);
	jw_key(w, "events");
	jw_obj_open(w);
	{
		struct ag_sink_stats js = { 0 };

		/* the event journal: the first sink; + 1 for this summary */
		if (ag_sinks_count(a->sinks))
			ag_sinks_stats(a->sinks, 0, &js);
		jw_ku64(w, "written", js.written + 1);
		jw_ku64(w, "lost", a->lines_lost + js.lost + js.dropped);
	}
	jw_ku64(w, "rejudged", a->rejudged);
	jw_ku64(w, "preexisting", a->preexisting);
	jw_ku64(w, "unknown_cgroup", a->unknown_cgroups);
	jw_obj_close(w);
	jw_key(w, "sinks");
	jw_obj_open(w);
	for (size_t i = 0; i < ag_sinks_count(a->sinks); i++) {
		struct ag_sink_stats st;

		ag_sinks_stats(a->sinks, i, &st);
		jw_keys(w, ag_sinks_name(a->sinks, i));
		jw_obj_open(w);
		jw_ku64(w, "queued", st.queued);
		jw_ku64(w, "written", st.written);
		jw_ku64(w, "dropped", st.dropped);
		jw_ku64(w, "lost", st.lost);
		jw_obj_close(w);
	}
	jw_obj_close(w);
	jw_key(w, "policy");
	jw_obj_open(w);
	jw_ku64(w, "cgroups", a->db.ids.n);
	jw_ku64(w, "sub_cgroups", a->db.members.n); /* below tenants: no entry of their own */
	jw_ku64(w, "tenants", counts[AG_P_TENANT]);
	jw_ku64(w, "exempt", counts[AG_P_EXEMPT]);
	jw_ku64(w, "unresolved", counts[AG_P_UNRESOLVED]);
	jw_ku64(w, "map_errors", a->db.map_errors);
	jw_ku64(w, "map_entries", a->db.map_entries);
	jw_ku64(w, "map_max_entries", bpf_map__max_entries(a->bpf.skel->maps.policy));
	jw_ku64(w, "map_unwritten", a->db.unwritten);
	jw_ku64(w, "map_refused", a->db.map_refused);
	if (a->db.n_lat) {
		qsort(a->db.lat, a->db.n_lat, sizeof(__u64), cmp_u64);
		jw_key(w, "latency_us");
		jw_obj_open(w);
		jw_ku64(w, "samples", a->db.n_lat);
		jw_key(w, "p50");
		jw_double(w, a->db.lat[a->db.n_lat / 2] / 1e3);
		jw_key(w, "p99");
		jw_double(w, a->db.lat[(a->db.n_lat * 99) / 100] / 1e3);
		jw_key(w, "max");
		jw_double(w, a->db.lat[a->db.n_lat - 1] / 1e3);
		jw_obj_close(w);
	}
	jw_obj_close(w);
	if (a->k8s) {
		struct ag_k8s_stats ks;

		if (!ag_k8s_source_stats(a->k8s, &ks)) {
			jw_key(w, "kubernetes");
			jw_obj_open(w);
			jw_ku64(w, "resolved", ks.resolved);
			jw_ku64(w, "pending", ks.pending);
			jw_ku64(w, "from_bundle", ks.bundle_resolved);
			jw_ku64(w, "exposures", a->exposures);
			if (ks.resolved) {
				jw_key(w, "pending_to_resolved_ms_mean");
				jw_double(w, ks.lat_sum_ns / 1e6 / ks.resolved);
				jw_key(w, "pending_to_resolved_ms_max");
				jw_double(w, ks.lat_max_ns / 1e6);
			}
			jw_kbool(w, "podresources_up", ks.pr_up);
			jw_kbool(w, "cri_up", ks.cri_up);
			jw_kbool(w, "api_up", ks.api_up);
			jw_ku64(w, "unmapped_device_ids", ks.unmapped_ids);
			jw_obj_close(w);
		}
	}
	ag_k8s_sinks_summary(a->k8s_sinks, w);
	end_event(a);
}

/* ---- metrics -------------------------------------------------------------------------------- */

/* The loop's snapshot for metrics.c, once a second: the kernel's exact counters (through maps.c),
 * the policy, the sinks, the peers. The HTTP thread only ever reads the copy. */
static void update_metrics(struct agent *a)
{
	struct ag_metrics_state *st;
	__u64 key, next, *prev = NULL;
	struct ag_viol_state v;

	if (!a->metrics)
		return;
	st = calloc(1, sizeof(*st));
	if (!st)
		return;
	st->attached = st->policy_loaded = a->ready;
	st->stopping = a->stopping;
	st->heartbeat_ns = ag_now_ns(CLOCK_MONOTONIC);
	st->start_time_s = a->start_real_s;
	st->version = AG_VERSION;
	st->tier = ag_tier_name(a->bpf.tier);
	st->mode = ag_mode_name(a->mode);
	st->ioctl_program = a->bpf.skel ? ag_bpf_ioctl_prog(&a->bpf) : "";
	if (a->maps_ready) {
		for (int op = AG_OP_OPEN; op < AG_OP__MAX; op++)
			for (int vd = AG_V_ALLOWED; vd < AG_V__MAX; vd++)
				st->totals[op][vd] = ag_maps_total(&a->maps, op, vd);
		for (__u32 k = 0; k < AG_DROP__MAX; k++)
			st->drops[k] = ag_maps_drops(&a->maps, k);
		st->violations = a->retired_viol;
		st->suppressed = a->retired_supp;
		while (!ag_maps_viol_next(&a->maps, prev, &next)) {
			key = next;
			prev = &key;
			if (!ag_maps_viol_get(&a->maps, key, &v)) {
				st->violations += v.total;
				st->suppressed += v.suppressed;
			}
		}
		st->counter_entries_max = bpf_map__max_entries(a->bpf.skel->maps.counters);
	}
	st->lines_lost = a->lines_lost;
	if (a->db_ready) {
		ag_policy_counts(&a->db, st->policy);
		st->cgroups = a->db.ids.n;
		st->map_errors = a->db.map_errors;
	}
	for (size_t i = 0; a->sinks && i < ag_sinks_count(a->sinks) && i < AG_METRICS_SINKS; i++) {
		st->sinks[i].name = ag_sinks_name(a->sinks, i);
		ag_sinks_stats(a->sinks, i, &st->sinks[i].st);
		st->n_sinks++;
	}
	if (a->k8s) {
		const struct ag_cfg_kubernetes *kc = &a->cfg.kubernetes;
		struct ag_k8s_stats ks;

		_Static_assert(AG_K8S_LAT_BUCKETS == AG_METRICS_LAT_BUCKETS, "latency buckets");
		if (!ag_k8s_source_stats(a->k8s, &ks)) {
			st->k8s = true;
			st->pr_on = !kc->podresources_socket || strcmp(kc->podresources_socket, "off");
			st->cri_on = !kc->cri_socket || strcmp(kc->cri_socket, "off");
			st->api_on = kc->api_server ? strcmp(kc->api_server, "off") != 0
						    : getenv("KUBERNETES_SERVICE_HOST") != NULL;
			st->pr_up = ks.pr_up, st->cri_up = ks.cri_up, st->api_up = ks.api_up;
			st->pr_calls = ks.pr_calls, st->pr_errors = ks.pr_errors;
			st->cri_calls = ks.cri_calls, st->cri_errors = ks.cri_errors;
			st->api_requests = ks.api_requests, st->api_errors = ks.api_errors;
			st->resolved = ks.resolved, st->pending = ks.pending;
			st->lat_sum_ns = ks.lat_sum_ns;
			_Static_assert(AG_K8S_X_KINDS == AG_METRICS_X_KINDS, "exposure kinds");
			st->x_names = ag_k8s_x_kind_names;
			memcpy(st->exposed, a->exposed, sizeof(st->exposed));
			memcpy(st->lat_bucket, ks.lat_bucket, sizeof(st->lat_bucket));
			memcpy(st->lat_bound_ns, ag_k8s_lat_bounds_ns, sizeof(st->lat_bound_ns));
		}
	}
	{
		struct ag_k8s_events_stats es;
		struct ag_k8s_reports_stats rs;

		if ((st->kev_on = ag_k8s_events_stats(a->k8s_sinks, &es))) {
			st->kev_sent = es.sent, st->kev_patched = es.patched;
			st->kev_dedup = es.deduplicated, st->kev_limited = es.rate_limited;
			st->kev_dropped = es.dropped, st->kev_errors = es.errors;
			st->kev_pending = es.pending, st->kev_paused = es.paused;
		}
		if ((st->krp_on = ag_k8s_reports_stats(a->k8s_sinks, &rs))) {
			st->krp_writes = rs.writes, st->krp_conflicts = rs.conflicts;
			st->krp_deleted = rs.deleted, st->krp_errors = rs.errors;
			st->krp_paused = rs.paused;
		}
	}
	ag_metrics_set_state(a->metrics, st);
	free(st);
}

static int start_metrics(struct agent *a)
{
	struct ag_metrics_opts mo = { .listen = a->cfg.metrics.listen,
				      .pod_labels = a->cfg.metrics.pod_labels,
				      .max_series = a->cfg.metrics.max_series };
	char err[256];

	if (mo.listen && !strcmp(mo.listen, "off"))
		return 0;
	if (a->cfg.metrics.evidence) {
		if (!a->o->config || !a->cfg.journal.present) {
			ag_err("metrics.evidence: /evidence.tar.gz builds its bundle from the journal: "
			       "the configuration needs a journal: section");
			return -EINVAL;
		}
		a->evhttp = ag_evidence_http_new(a->o->config, a->cfg.metrics.evidence_hours);
		if (!a->evhttp)
			return -ENOMEM;
		mo.evidence = ag_evidence_http_reply;
		mo.evidence_ctx = a->evhttp;
	}
	a->metrics = ag_metrics_new(&mo, err, sizeof(err));
	if (!a->metrics) {
		int e = errno;

		/* the default port taken (another agent on this host) is worth a warning; an
		 * address the configuration names, an error */
		ag_log(mo.listen || e == EINVAL ? AG_LOG_ERROR : AG_LOG_WARN,
		       "metrics: %s (metrics.listen in %s; off turns the endpoint off)%s", err,
		       a->o->config ? a->o->config : "the configuration",
		       e == EINVAL ? "" : "; running without /metrics, /healthz and /readyz");
		/* a bad address is a bad configuration; a taken port must not stop enforcement */
		return e == EINVAL ? -e : 0;
	}
	ag_info("metrics: /metrics, /healthz, /readyz on %s (port %u)",
		mo.listen ? mo.listen : AG_METRICS_LISTEN, ag_metrics_port(a->metrics));
	return 0;
}

/* ---- descriptors open before we started ------------------------------------------------------ */

static void on_open_fd(const struct ag_open_fd *f, void *ctx)
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
	v.verdict = judge_now(a, f->cgroup[0] ? f->cgroup : "/", f->major, f->minor);
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

/* ---- setup ---------------------------------------------------------------------------------- */

static int open_output(struct agent *a)
{
	const char *p = a->o->events;
	int fd, r;

	if (!p || !strcmp(p, "-")) {
		fd = STDOUT_FILENO;
	} else {
		fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0) {
			ag_err("events: cannot open %s: %s", p, strerror(errno));
			return -errno;
		}
	}
	a->sinks = ag_sinks_new();
	r = a->sinks ? ag_sinks_add_json(a->sinks, fd, fd == STDOUT_FILENO ? "stdout" : p, 0)
		     : -ENOMEM;
	if (r) {
		if (fd > STDERR_FILENO)
			close(fd);
		ag_err("events: cannot start the event writer: %s", strerror(-r));
		return r;
	}
	if (a->metrics && (r = ag_metrics_add_sink(a->metrics, a->sinks))) {
		ag_err("metrics: cannot start the counting sink: %s", strerror(-r));
		return r;
	}
	return ag_journal_start(a->sinks, &a->cfg);
}

/* the VFIO groups holding a GPU, as one number: a change (a GPU bound to vfio-pci or taken off
 * it) rebuilds the classes */
static __u64 vfio_hash(const struct ag_vfio *v)
{
	__u64 h = 1469598103934665603ULL;

	for (size_t i = 0; i < v->n; i++) {
		const struct ag_vfio_group *g = &v->g[i];
		const __u64 x[3] = { g->major, g->minor, g->group };

		for (size_t k = 0; k < 3; k++)
			h = (h ^ x[k]) * 1099511628211ULL;
		for (const char *c = g->bdf; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	}
	return h;
}

static bool vfio_changed(struct agent *a)
{
	struct ag_vfio v;
	char err[512];
	bool changed;

	if (ag_vfio_scan(a->cfg.host.sys ? a->cfg.host.sys : "/sys", &v, err, sizeof(err)))
		return false;
	changed = vfio_hash(&v) != a->vfio_hash;
	ag_vfio_free(&v);
	return changed;
}

/* The device classes: built-in, the dynamic majors of /proc/devices, the configuration's.
 * Class ids do not depend on what /proc/devices holds, so a rebuild keeps them. */
static int build_devtab(struct agent *a, struct ag_devtab *dt, bool at_start)
{
	int r = ag_devtab_init(dt, a->procdev);

	if (r) {
		ag_err("devices: cannot build the device classes from %s%s%s%s: %s", a->procdev,
		       a->cfg.host.proc ? " (host.proc in " : "", a->cfg.host.proc ? a->cfg.path : "",
		       a->cfg.host.proc ? ")" : "", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < a->cfg.n_devices; i++) {
		const struct ag_cfg_devclass *d = &a->cfg.devices[i];

		r = ag_devtab_add(dt, d->class_name, d->major, d->lo, d->hi);
		if (r < 0) {
			if (at_start)
				ag_err("config: %s:%d: cannot add device class %s: %s", a->cfg.path,
				       d->line, d->class_name, strerror(-r));
			else
				ag_warn("devices: %s now: the configuration's class %s (%s:%d) does "
					"not fit any more: %s; keeping the device classes as they were",
					a->procdev, d->class_name, a->cfg.path, d->line, strerror(-r));
			return r;
		}
	}
	/* VFIO groups that hold a GPU (a Kata-style VMM opens /dev/vfio/N): their minors only */
	{
		struct ag_vfio v;
		char err[512];

		r = ag_vfio_scan(a->cfg.host.sys ? a->cfg.host.sys : "/sys", &v, err, sizeof(err));
		if (r)
			ag_warn("devices: %s; VFIO groups are not classified", err);
		else if ((r = ag_devtab_add_vfio(dt, &v)) == -E2BIG)
			ag_warn("devices: %zu VFIO groups hold a GPU, in more than %d minor ranges: the "
				"groups between the last ones count as GPUs too", v.n, AG_MAX_RANGES);
		else if (r < 0)
			ag_warn("devices: the VFIO groups that hold a GPU cannot be classified: %s",
				strerror(-r));
		a->vfio_hash = vfio_hash(&v);
		ag_vfio_free(&v);
	}
	/* the kernel's table holds AG_MAX_RANGES per major: a configured class on the major a
	 * driver registered in /proc/devices can pass the file's check and still not fit */
	for (size_t i = 0; i < a->cfg.n_devices; i++) {
		const struct ag_cfg_devclass *d = &a->cfg.devices[i];
		unsigned int n = 0;

		for (unsigned int j = 0; j < dt->n_ranges; j++)
			n += dt->ranges[j].major == d->major;
		if (n > AG_MAX_RANGES) {
			ag_log(at_start ? AG_LOG_ERROR : AG_LOG_WARN,
			       "config: %s:%d: device class %s: major %u would have %u minor ranges with the drivers of %s (at most %d)",
			       a->cfg.path, d->line, d->class_name, d->major, n, a->procdev,
			       AG_MAX_RANGES);
			return -E2BIG;
		}
	}
	return 0;
}

static bool has_range(const struct ag_devtab *t, const struct ag_class_range *r)
{
	for (unsigned int i = 0; i < t->n_ranges; i++)
		if (!memcmp(&t->ranges[i], r, sizeof(*r)))
			return true;
	return false;
}

/* The ranges of one table that the other lacks, as a JSON array and a log text. */
static unsigned int put_range_diff(struct agent *a, const struct ag_devtab *from,
				   const struct ag_devtab *lacking, char *log, size_t loglen)
{
	struct jw *w = &a->jw;
	unsigned int n = 0;
	size_t off = strlen(log);

	jw_arr_open(w);
	for (unsigned int i = 0; i < from->n_ranges; i++) {
		const struct ag_class_range *r = &from->ranges[i];
		const struct ag_class *c = ag_devtab_class(from, r->class_id);
		char m[48];

		if (has_range(lacking, r))
			continue;
		if (r->hi == AG_MINOR_ANY)
			snprintf(m, sizeof(m), "*");
		else if (r->lo == r->hi)
			snprintf(m, sizeof(m), "%u", r->lo);
		else
			snprintf(m, sizeof(m), "%u-%u", r->lo, r->hi);
		jw_obj_open(w);
		jw_kstr(w, "class", c ? c->name : "unknown");
		jw_ku64(w, "major", r->major);
		jw_kstr(w, "minors", m);
		jw_obj_close(w);
		if (off < loglen)
			off += snprintf(log + off, loglen - off, " %s %u:%s", c ? c->name : "?",
					r->major, m);
		n++;
	}
	jw_arr_close(w);
	return n;
}

/*
 * The /proc/devices watch (every 500 ms; procfs has no inotify): a driver that registers after
 * the agent started (nvidia-uvm on first CUDA use, a GPU operator's driver) gets its major into
 * accel_devices, one that goes loses it, with a `devices` event.
 */
static void check_devices(struct agent *a, bool force)
{
	struct ag_devtab *nt, *old;
	unsigned int added = 0, removed = 0;
	char alog[512] = "", rlog[512] = "";
	int r;

	if (!ag_maps_procdev_changed(&a->maps, a->procdev) && !force && !vfio_changed(a))
		return;
	nt = malloc(sizeof(*nt));
	old = malloc(sizeof(*old));
	if (!nt || !old || build_devtab(a, nt, false))
		goto out;
	for (unsigned int i = 0; i < nt->n_ranges; i++)
		added += !has_range(&a->dt, &nt->ranges[i]);
	for (unsigned int i = 0; i < a->dt.n_ranges; i++)
		removed += !has_range(nt, &a->dt.ranges[i]);
	if (!added && !removed) /* another driver came or went */
		goto out;
	*old = a->dt;
	a->dt = *nt;
	/* a new class: policies first (a GPU tenant's new control node is allowed before the kernel
	 * judges it), then the kernel's map; a class gone: the map first */
	if (added)
		ag_policy_refresh(&a->db);
	r = ag_maps_accel_sync(&a->maps, &a->dt, NULL);
	if (r < 0)
		ag_err("devices: cannot update the accel_devices map: %s", strerror(-r));
	if (!added)
		ag_policy_refresh(&a->db);
	begin_event(a, AG_EVK_DEVICES, "devices", 0);
	jw_key(&a->jw, "added");
	put_range_diff(a, &a->dt, old, alog, sizeof(alog));
	jw_key(&a->jw, "removed");
	put_range_diff(a, old, &a->dt, rlog, sizeof(rlog));
	jw_kstr(&a->jw, "source", a->procdev);
	end_event(a);
	ag_info("devices: %s changed:%s%s%s%s", a->procdev, added ? " added" : "", alog,
		removed ? " removed" : "", rlog);
out:
	free(nt);
	free(old);
}

/* a self-test's result, relayed from the control socket into the event stream */
static void emit_selftest(void *ctx, const char *members, size_t len)
{
	struct agent *a = ctx;

	begin_event(a, AG_EVK_SELFTEST, "selftest", 0);
	jw_append(&a->jw, ",", 1);
	jw_append(&a->jw, members, len);
	end_event(a);
}

static int add_epoll(struct agent *a, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* A CLOCK_MONOTONIC timerfd, armed with its; 0 or -errno (*fd is -1 or the fd, closed by
 * teardown). */
static int add_timer(int *fd, struct itimerspec its)
{
	*fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*fd < 0)
		return -errno;
	return timerfd_settime(*fd, 0, &its, NULL) ? -errno : 0;
}

static int setup(struct agent *a)
{
	char err[1024];
	struct ag_load_opts lo = { 0 };
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	sigset_t mask;
	int r;

	if (a->o->config) {
		r = ag_config_load(a->o->config, &a->cfg, err, sizeof(err));
		if (r) {
			ag_err("config: %s", err);
			return r;
		}
		a->cfg_loaded = true;
	} else {
		a->cfg.rate_limit = 1000;
	}
	a->mode = a->o->mode >= 0 ? a->o->mode : a->cfg.mode;
	/* before any thread: cgroup paths relative to the host's root, also in a pod */
	r = ag_join_host_cgroupns(NULL);
	if (r < 0)
		return r;
	r = ag_cgroup2_mount(a->cgroup2, sizeof(a->cgroup2));
	if (r) {
		ag_err("cgroup: no cgroup2 file system is mounted (%s); accelguard identifies tenants by "
		       "their cgroup v2 id, and on a node whose containers live in cgroup v1 only every "
		       "process would look like the host. Mount the unified hierarchy (cgroup2).",
		       strerror(-r));
		return r;
	}
	if (a->cfg.host.proc) {
		/* the setting, its path and the cause, whatever the path is */
		struct stat st;
		int n;

		r = stat(a->cfg.host.proc, &st) ? -errno : !S_ISDIR(st.st_mode) ? -ENOTDIR : 0;
		if (r) {
			ag_err("config: %s: host.proc: %s: %s (expected the host's /proc, a directory "
			       "holding devices and driver/)", a->cfg.path, a->cfg.host.proc,
			       r == -ENOTDIR ? "not a directory" : strerror(-r));
			return r;
		}
		n = snprintf(a->procdev, sizeof(a->procdev), "%s/devices", a->cfg.host.proc);
		if (n < 0 || (size_t)n >= sizeof(a->procdev)) {
			ag_err("config: %s: host.proc: %.200s...: longer than %zu bytes", a->cfg.path,
			       a->cfg.host.proc, sizeof(a->procdev) - sizeof("/devices"));
			return -ENAMETOOLONG;
		}
	} else {
		snprintf(a->procdev, sizeof(a->procdev), "/proc/devices");
	}
	if (a->cfg.host.sys) {
		struct stat st;

		r = stat(a->cfg.host.sys, &st) ? -errno : !S_ISDIR(st.st_mode) ? -ENOTDIR : 0;
		if (r) {
			ag_err("config: %s: host.sys: %s: %s (expected the host's sysfs, a directory "
			       "holding class/ and kernel/)", a->cfg.path, a->cfg.host.sys,
			       r == -ENOTDIR ? "not a directory" : strerror(-r));
			return r;
		}
	}
	r = start_metrics(a); /* first: /healthz answers while the programs load */
	if (r)
		return r;
	r = build_devtab(a, &a->dt, true);
	if (r)
		return r;
	r = open_output(a);
	if (r)
		return r;

	lo.enforce = a->mode == AG_MODE_ENFORCE;
	lo.unresolved_deny = a->cfg.unresolved_deny;
	lo.rate_limit = a->cfg.rate_limit;
	lo.policy_entries = a->o->max_cgroups;
	lo.ringbuf_bytes = a->o->ringbuf_kb * 1024;
	lo.force_tier = a->o->force_tier;
	if (!ag_pins_open(&a->pins, a->o->pin_dir ? a->o->pin_dir : a->cfg.pin_dir, lo.enforce))
		lo.pins = &a->pins;
	r = ag_bpf_start(&a->bpf, &lo, a->cgroup2);
	if (r)
		return r;

	{
		struct accelguard_bpf *k = a->bpf.skel;
		struct ag_maps_fds fds = {
			.policy = bpf_map__fd(k->maps.policy), .owners = bpf_map__fd(k->maps.owners),
			.accel_devices = bpf_map__fd(k->maps.accel_devices),
			.counters = bpf_map__fd(k->maps.counters), .viol = bpf_map__fd(k->maps.viol),
			.drops = bpf_map__fd(k->maps.drops), .totals = bpf_map__fd(k->maps.totals),
			.policy_gen = bpf_map__fd(k->maps.policy_gen),
			.vcache = bpf_map__fd(k->maps.vcache),
		};

		r = ag_maps_init(&a->maps, &fds);
		if (r)
			return ag_err_errno(r, "maps: cannot make the user-space copy of the kernel's tables");
		a->maps_ready = true;
		/* what the device table was built from: the watch compares with it */
		ag_maps_procdev_changed(&a->maps, a->procdev);
		r = ag_maps_accel_sync(&a->maps, &a->dt, NULL);
		if (r < 0) {
			ag_err("devices: cannot fill the accel_devices map: %s", strerror(-r));
			return r;
		}
	}

	r = ag_policy_init(&a->db, &a->cfg, &a->dt, &a->maps);
	if (r)
		return ag_err_errno(r, "policy: cannot make its tables");
	a->db_ready = true;
	a->db.on_resolved = on_resolved;
	a->db.on_full = on_policy_full;
	a->db.cgroup2 = a->cgroup2;
	a->db.cb_ctx = a;
	a->notifyfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->notifyfd < 0)
		return ag_err_errno(errno, "agent: eventfd (the sources' notifications)");
	/* Kubernetes first: its answer for a pod's cgroups wins; the configuration's tenants,
	 * allocations and exemptions still apply to everything else */
	if (a->cfg.kubernetes.present) {
		struct ag_k8s_options ko;

		ag_k8s_options_from_config(&a->cfg, &ko);
		a->k8s = ag_k8s_source_new(&ko, a->notifyfd, err, sizeof(err));
		if (!a->k8s) {
			ag_err("kubernetes: %s", err);
			return -errno ? -errno : -EINVAL;
		}
		r = ag_policy_add_source(&a->db, a->k8s);
		if (r)
			return ag_err_errno(r, "policy: cannot add the kubernetes source");
		r = ag_k8s_sinks_add(a->sinks, &a->cfg, &a->k8s_sinks, err, sizeof(err));
		if (r) {
			ag_err("%s", err);
			return r;
		}
	}
	{
		/* the self-test's reserved root (selftest.h), then the configuration */
		struct ag_source *ss = ag_selftest_source_new();
		struct ag_source *cs;

		if (!ss)
			return ag_err_errno(ENOMEM, "policy: cannot make the selftest source");
		r = ag_policy_add_source(&a->db, ss);
		if (r)
			return ag_err_errno(r, "policy: cannot add the selftest source");
		cs = ag_config_source_new(&a->cfg);
		if (!cs)
			return ag_err_errno(ENOMEM, "policy: cannot make the configuration's source");
		r = ag_policy_add_source(&a->db, cs);
		if (r)
			return ag_err_errno(r, "policy: cannot add the configuration's source");
	}

	a->rb = ring_buffer__new(bpf_map__fd(a->bpf.skel->maps.events), on_sample, a, NULL);
	if (!a->rb)
		return ag_err_errno(errno, "events: cannot set up the ring buffer");
	/* the first snapshot of the sources before anything is judged (startup.h) */
	ag_startup_wait_first(a->k8s);
	/* the lifecycle programs are attached: every cgroup made from now on is reported, and the
	 * scan finds the ones made before (preexisting: never denied for being unresolved) */
	a->db.starting = true;
	r = ag_policy_scan(&a->db, a->cgroup2);
	a->db.starting = false;
	if (r)
		ag_warn("cgroup: the scan of %s stopped early: %s", a->cgroup2, strerror(-r));
	emit_present(a);

	/* the event loop: one epoll for the ring buffer, signals, the 1 s timer, the /proc/devices
	 * poll and the sources' notifications */
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0)
		return ag_err_errno(errno, "agent: epoll_create1");
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	a->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sigfd < 0)
		return ag_err_errno(errno, "agent: signalfd (SIGINT, SIGTERM)");
	r = add_timer(&a->timerfd, its);
	if (r)
		return ag_err_errno(r, "agent: timerfd (the 1 s timer)");
	its.it_interval = its.it_value = (struct timespec){ 0, AG_PROCDEV_POLL_MS * 1000000L };
	r = add_timer(&a->devfd, its);
	if (r)
		return ag_err_errno(r, "agent: timerfd (the %d ms poll of %s)", AG_PROCDEV_POLL_MS,
				    a->procdev);
	{
		const struct {
			int fd;
			const char *what;
		} polled[] = {
			{ a->devfd, "the /proc/devices poll" },
			{ ring_buffer__epoll_fd(a->rb), "the ring buffer" },
			{ a->sigfd, "the signals" },
			{ a->timerfd, "the 1 s timer" },
			{ a->notifyfd, "the sources' notifications" },
		};

		for (size_t i = 0; i < ARRAY_SIZE(polled); i++) {
			r = add_epoll(a, polled[i].fd);
			if (r)
				return ag_err_errno(r, "agent: epoll_ctl (%s)", polled[i].what);
		}
	}
	a->selftest = ag_selftest_svc_new(&a->cfg, a->o->config, &a->db, a->epfd, emit_selftest,
					  a);
	return 0;
}

static void teardown(struct agent *a)
{
	struct ag_hnode *n, *next;
	size_t b = 0;

	ag_selftest_svc_free(a->selftest);
	ring_buffer__free(a->rb);
	if (a->db_ready)
		ag_policy_free(&a->db);
	ag_bpf_stop(&a->bpf);
	if (a->maps_ready)
		ag_maps_free(&a->maps);
	if (a->supp.b) {
		for (n = ag_htab_iter(&a->supp, &b, NULL); n; n = next) {
			next = ag_htab_iter(&a->supp, &b, n);
			free(ag_container_of(n, struct suppressed_seen, node));
		}
		ag_htab_free(&a->supp);
	}
	if (a->cfg_loaded)
		ag_config_free(&a->cfg);
	jw_free(&a->jw);
	ag_evb_free(&a->evb);
	for (int *fd = &a->epfd; fd <= &a->devfd; fd++)
		if (*fd > 0)
			close(*fd);
	ag_sinks_free(a->sinks, a->sink_wait_ms);
	ag_k8s_sinks_free(a->k8s_sinks);
	ag_metrics_free(a->metrics); /* after the sinks: its counting sink is one */
	ag_evidence_http_free(a->evhttp); /* after the server that calls it */
}

int ag_run(const struct ag_run_opts *o)
{
	struct agent a = { .o = o, .epfd = -1, .sigfd = -1, .timerfd = -1, .notifyfd = -1,
			   .devfd = -1, .sink_wait_ms = AG_SINK_EXIT_MS };
	__u64 deadline = 0;
	sigset_t mask;
	int r;

	/* blocked before any thread exists (the Kubernetes source's peers): threads inherit the
	 * mask, so SIGINT and SIGTERM reach only the signalfd, never a default handler */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	jw_init(&a.jw);
	sync_clocks(&a);
	a.start_boot = ag_now_ns(CLOCK_BOOTTIME);
	a.start_real_s = ag_now_ns(CLOCK_REALTIME) / 1e9;
	if (ag_htab_init(&a.supp, 64))
		return 1;
	r = setup(&a);
	if (r) {
		ag_pins_abort(&a.pins);
		teardown(&a);
		return 1;
	}
	/* loading the BPF object parsed the kernel's BTF: give that heap back */
	malloc_trim(0);
	ring_buffer__consume(a.rb);
	/* from now on a cgroup without a policy is the host, and unresolved: deny applies to the
	 * containers born from now on */
	ag_startup_ready(a.bpf.skel);
	/* the policy is written: a replaced state switches over (to programs already out of their
	 * not-ready state), an adopted one is reconciled */
	if (ag_pins_adopted(&a.pins))
		a.pins.pruned = ag_policy_prune(&a.db, &a.maps);
	ag_pins_commit(&a.pins);
	emit_ready(&a);
	flush(&a);
	a.ready = true;
	update_metrics(&a);
	ag_info("ready: tier %s, mode %s, %zu cgroups", ag_tier_name(a.bpf.tier),
		ag_mode_name(a.mode), a.db.ids.n);
	ag_scan_open_fds("/proc", &a.dt, on_open_fd, &a);
	/* a driver that registered while we started */
	check_devices(&a, true);
	flush(&a);
	if (o->duration > 0)
		deadline = ag_now_ns(CLOCK_MONOTONIC) + (__u64)(o->duration * 1e9);

	while (!a.stop) {
		struct epoll_event evs[8];
		int n = epoll_wait(a.epfd, evs, ARRAY_SIZE(evs), 1000);

		if (n < 0 && errno != EINTR) {
			ag_err("agent: epoll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			__u64 x;

			if (fd == a.sigfd) {
				struct signalfd_siginfo si;

				while (read(a.sigfd, &si, sizeof(si)) == sizeof(si))
					a.stop = true;
			} else if (fd == a.timerfd) {
				if (read(a.timerfd, &x, sizeof(x)) < 0)
					continue;
				sync_clocks(&a);
				check_drops(&a, false);
				check_suppressed(&a);
				update_metrics(&a);
				ag_selftest_svc_tick(a.selftest);
			} else if (ag_selftest_svc_handle(a.selftest, fd)) {
				/* the control socket */
			} else if (fd == a.devfd) {
				if (read(a.devfd, &x, sizeof(x)) == sizeof(x))
					check_devices(&a, false);
			} else if (fd == a.notifyfd) {
				if (read(a.notifyfd, &x, sizeof(x)) == sizeof(x))
					ag_policy_refresh(&a.db);
			}
		}
		/* the ring buffer first, every round: it must never wait behind the timers */
		if (ring_buffer__consume(a.rb) < 0 && errno != EINTR)
			ag_warn("events: ring buffer: %s", strerror(errno));
		flush(&a);
		if (deadline && ag_now_ns(CLOCK_MONOTONIC) >= deadline)
			a.stop = true;
	}
	a.stopping = true; /* /readyz: not ready while draining */
	update_metrics(&a);
	ring_buffer__consume(a.rb);
	check_drops(&a, false);
	check_suppressed(&a);
	flush(&a);
	/* the summary counts what the sinks did with everything before it */
	/* a sink that does not drain in AG_SINK_EXIT_MS gets 100 ms more for the summary, then is
	 * cut: the exit takes at most a few seconds whatever a sink does */
	a.sink_wait_ms = ag_sinks_drain(a.sinks, AG_SINK_EXIT_MS) ? AG_SINK_EXIT_MS : 100;
	emit_summary(&a);
	flush(&a);
	if (!ag_sinks_drain(a.sinks, a.sink_wait_ms))
		a.sink_wait_ms = 0;
	{
		struct ag_sink_stats st = { 0 };

		ag_sinks_stats(a.sinks, 0, &st);
		ag_info("stopped: %llu events written, %llu lost", (unsigned long long)st.written,
			(unsigned long long)(a.lines_lost + st.lost + st.dropped));
	}
	if (a.pins.enabled)
		ag_info("pins: the enforcement stays attached through %s; 'accelguard uninstall' "
			"removes it", a.pins.dir);
	teardown(&a);
	return 0;
}
