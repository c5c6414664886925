// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ready event, the loop's one snapshot for /metrics and the summary, the summary (run.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "run.h"
#include "util.h"

#define AG_TOP_ACCESSES 32 /* summary.top_accesses: the most counted (cgroup, device, op, cmd) */

/* ready.pin: what became of the pinned state (pins.h) */
/* how reads and writes are judged: "every_use", or "arrival" with whether (and why) the per-use
 * hook was attached since (arrival.c) */
static void put_reads(struct agent *a, struct jw *w)
{
	jw_key(w, "reads");
	jw_obj_open(w);
	jw_kstr(w, "mode", a->bpf.arrival ? "arrival" : "every_use");
	if (a->bpf.arrival) {
		jw_kbool(w, "per_use_attached", a->bpf.per_use);
		if (a->per_use_reason) {
			jw_kstr(w, "reason", a->per_use_reason);
			jw_key(w, "after_s");
			jw_double(w, (a->per_use_ns - a->start_boot) / 1e9);
		}
	}
	jw_obj_close(w);
}

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

void ag_summary_ready(struct agent *a)
{
	struct jw *w = &a->jw;
	unsigned int counts[5];
	struct utsname u;

	ag_policy_counts(&a->db, counts);
	ag_ev_begin(a, AG_EVK_READY, "ready", 0);
	jw_kstr(w, "version", AG_VERSION);
	jw_ku64(w, "pid", (__u64)getpid());
	jw_kstr(w, "tier", ag_tier_name(a->bpf.tier));
	jw_kstr(w, "mode", ag_mode_name(a->mode));
	jw_kstr(w, "ioctl_program", ag_bpf_ioctl_prog(&a->bpf));
	jw_kstr(w, "ioctl_enforcement",
		a->bpf.tier == AG_TIER_TRACEPOINT ? "kill_after_the_fact" : "synchronous_deny");
	put_reads(a, w);
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
	ag_ev_end(a);
}

static int cmp_u64(const void *x, const void *y)
{
	__u64 a = *(const __u64 *)x, b = *(const __u64 *)y;

	return a < b ? -1 : a > b;
}

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

static void put_accesses(struct jw *w, const struct ag_metrics_state *st)
{
	jw_key(w, "accesses");
	jw_obj_open(w);
	for (int op = AG_OP_OPEN; op < AG_OP__MAX; op++) {
		jw_keys(w, ag_op_name(op));
		jw_obj_open(w);
		for (int v = AG_V_ALLOWED; v < AG_V__MAX; v++)
			jw_ksu64(w, ag_verdict_name(v), st->totals[op][v]);
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

static void put_violations_drops(struct jw *w, const struct ag_metrics_state *st)
{
	__u64 drops = 0;

	jw_key(w, "violations");
	jw_obj_open(w);
	jw_ku64(w, "total", st->violations);
	jw_ku64(w, "suppressed", st->suppressed);
	jw_obj_close(w);
	jw_key(w, "drops");
	jw_obj_open(w);
	for (__u32 k = 0; k < AG_DROP__MAX; k++) {
		jw_ksu64(w, ag_drop_name(k), st->drops[k]);
		drops += st->drops[k];
	}
	jw_ku64(w, "total", drops);
	jw_obj_close(w);
}

/* summary.events and summary.sinks: what became of the events, by sink */
static void put_sink_counts(struct agent *a, struct jw *w, const struct ag_metrics_state *st)
{
	/* the event journal: the first sink; + 1 for this summary */
	struct ag_sink_stats js = st->n_sinks ? st->sinks[0].st : (struct ag_sink_stats){ 0 };

	jw_key(w, "events");
	jw_obj_open(w);
	jw_ku64(w, "written", js.written + 1);
	jw_ku64(w, "lost", st->lines_lost + js.lost + js.dropped);
	jw_ku64(w, "rejudged", a->rejudged);
	jw_ku64(w, "preexisting", a->preexisting);
	jw_ku64(w, "unknown_cgroup", a->unknown_cgroups);
	jw_obj_close(w);
	jw_key(w, "sinks");
	jw_obj_open(w);
	for (size_t i = 0; i < st->n_sinks; i++) {
		jw_keys(w, st->sinks[i].name);
		jw_obj_open(w);
		jw_ku64(w, "queued", st->sinks[i].st.queued);
		jw_ku64(w, "written", st->sinks[i].st.written);
		jw_ku64(w, "dropped", st->sinks[i].st.dropped);
		jw_ku64(w, "lost", st->sinks[i].st.lost);
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

static void put_policy(struct agent *a, struct jw *w, const struct ag_metrics_state *st)
{
	jw_key(w, "policy");
	jw_obj_open(w);
	jw_ku64(w, "cgroups", st->cgroups);
	jw_ku64(w, "sub_cgroups", a->db.members.n); /* below tenants: no entry of their own */
	jw_ku64(w, "tenants", st->policy[AG_P_TENANT]);
	jw_ku64(w, "exempt", st->policy[AG_P_EXEMPT]);
	jw_ku64(w, "unresolved", st->policy[AG_P_UNRESOLVED]);
	jw_ku64(w, "map_errors", st->map_errors);
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
}

static void put_kubernetes(struct jw *w, const struct ag_metrics_state *st)
{
	if (!st->k8s)
		return;
	jw_key(w, "kubernetes");
	jw_obj_open(w);
	jw_ku64(w, "resolved", st->resolved);
	jw_ku64(w, "pending", st->pending);
	jw_ku64(w, "from_bundle", st->bundle_resolved);
	jw_ku64(w, "exposures", st->exposures);
	if (st->resolved) {
		jw_key(w, "pending_to_resolved_ms_mean");
		jw_double(w, st->lat_sum_ns / 1e6 / st->resolved);
		jw_key(w, "pending_to_resolved_ms_max");
		jw_double(w, st->lat_max_ns / 1e6);
	}
	jw_kbool(w, "podresources_up", st->pr_up);
	jw_kbool(w, "cri_up", st->cri_up);
	jw_kbool(w, "api_up", st->api_up);
	jw_ku64(w, "unmapped_device_ids", st->unmapped_ids);
	jw_obj_close(w);
}

/* The summary, from st: the snapshot that /metrics is given at the same time. */
static void emit_summary(struct agent *a, const struct ag_metrics_state *st)
{
	struct jw *w = &a->jw;

	ag_ev_begin(a, AG_EVK_SUMMARY, "summary", 0);
	jw_kstr(w, "tier", ag_tier_name(a->bpf.tier));
	jw_kstr(w, "mode", ag_mode_name(a->mode));
	put_reads(a, w);
	jw_key(w, "duration_s");
	jw_double(w, (ag_now_ns(CLOCK_BOOTTIME) - a->start_boot) / 1e9);
	put_accesses(w, st);
	put_top_accesses(a, w);
	put_violations_drops(w, st);
	put_sink_counts(a, w, st);
	put_policy(a, w, st);
	put_kubernetes(w, st);
	ag_k8s_sinks_summary(a->k8s_sinks, w);
	ag_ev_end(a);
}

/* the Kubernetes source's and sinks' counts, into the snapshot */
static void snapshot_k8s(struct agent *a, struct ag_metrics_state *st)
{
	const struct ag_cfg_kubernetes *kc = &a->cfg.kubernetes;
	struct ag_k8s_events_stats es;
	struct ag_k8s_reports_stats rs;
	struct ag_k8s_stats ks;

	_Static_assert(AG_K8S_LAT_BUCKETS == AG_METRICS_LAT_BUCKETS, "latency buckets");
	_Static_assert(AG_K8S_X_KINDS == AG_METRICS_X_KINDS, "exposure kinds");
	if (a->k8s && !ag_k8s_source_stats(a->k8s, &ks)) {
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
		st->bundle_resolved = ks.bundle_resolved, st->unmapped_ids = ks.unmapped_ids;
		st->exposures = a->exposures;
		st->lat_sum_ns = ks.lat_sum_ns, st->lat_max_ns = ks.lat_max_ns;
		st->x_names = ag_k8s_x_kind_names;
		memcpy(st->exposed, a->exposed, sizeof(st->exposed));
		memcpy(st->lat_bucket, ks.lat_bucket, sizeof(st->lat_bucket));
		memcpy(st->lat_bound_ns, ag_k8s_lat_bounds_ns, sizeof(st->lat_bound_ns));
	}
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

/* The kernel's exact counters (through maps.c): one walk of the violation map, the retired
 * tenants' counts added. */
static void snapshot_kernel(struct agent *a, struct ag_metrics_state *st)
{
	__u64 key, next, *prev = NULL;
	struct ag_viol_state v;

	ag_maps_totals(&a->maps, st->totals);
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
	st->counter_entries_max = a->bpf.skel ? bpf_map__max_entries(a->bpf.skel->maps.counters) : 0;
}

/* The loop's snapshot: what /metrics serves (once a second) and the summary says (at the exit):
 * the kernel's counters, the policy, the sinks, the peers. The HTTP thread only reads a copy. */
static void snapshot(struct agent *a, struct ag_metrics_state *st)
{
	memset(st, 0, sizeof(*st));
	st->attached = st->policy_loaded = a->ready;
	st->stopping = a->stopping;
	st->heartbeat_ns = ag_now_ns(CLOCK_MONOTONIC);
	st->start_time_s = a->start_real_s;
	st->version = AG_VERSION;
	st->tier = ag_tier_name(a->bpf.tier);
	st->mode = ag_mode_name(a->mode);
	st->ioctl_program = a->bpf.skel ? ag_bpf_ioctl_prog(&a->bpf) : "";
	if (a->maps_ready)
		snapshot_kernel(a, st);
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
	snapshot_k8s(a, st);
}

/* A snapshot for /metrics; with summary, the exit's summary from the same one. */
void ag_summary_update(struct agent *a, bool summary)
{
	struct ag_metrics_state *st;

	if (!a->metrics && !summary)
		return;
	st = malloc(sizeof(*st));
	if (!st) {
		ag_err("metrics: no memory for the loop's snapshot (%zu bytes)%s", sizeof(*st),
		       summary ? ": no summary" : "");
		return;
	}
	snapshot(a, st);
	if (summary)
		emit_summary(a, st);
	if (a->metrics)
		ag_metrics_set_state(a->metrics, st);
	free(st);
}
