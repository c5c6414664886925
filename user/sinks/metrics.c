// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Metrics and health (metrics.h): the agent's snapshot, the per-event counting sink, the text. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "sink.h"
#include "util.h"

static const char *const state_names[] = { "host", "tenant", "exempt", "unresolved",
					    "tenant_parent" };

#define OVERFLOW_SERIES 1024 /* "other" series (by verdict, op, class) beyond max_series: more than 7 x 3 x the classes */

struct series {
	char *labels; /* rendered: verdict="...",op="...",... */
	char *owner;  /* the pod's namespace (with pod labels: "NS/POD") that holds its label slot */
	__u64 count;
};

/* a tenant cgroup of a pod, live: while one of its owner's is, the owner's series stay */
struct live {
	__u64 cg;
	char *owner;
};

struct ag_metrics {
	struct ag_http *http;
	bool pod_labels;
	unsigned int max_series;
	pthread_mutex_t lock; /* the snapshot */
	struct ag_metrics_state st;
	bool have_state;
	pthread_mutex_t slock; /* the per-event counts */
	struct series *tab;   /* open addressing, cap a power of two */
	size_t cap, n, n_normal, n_other;
	__u64 overflow, unplaced, denials, kills, events;
	struct live *live;    /* the pods' tenant cgroups now (their tenant events) */
	size_t n_live, cap_live;
	__u64 released;       /* label sets dropped: their pods went */
	ag_http_handler_fn evidence;
	void *evidence_ctx;
};

/* ---- the per-event counts -------------------------------------------------------------------- */

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* A label value: \, " and newline escaped (the exposition format); at most 128 bytes kept. */
static void put_label(char *buf, size_t len, size_t *off, const char *name, const char *v)
{
	size_t o = *off;
	int n = snprintf(buf + o, o < len ? len - o : 0, "%s%s=\"", o ? "," : "", name);

	o += n > 0 ? (size_t)n : 0;
	for (const char *q = v; q && *q && q - v < 128 && o + 3 < len; q++) {
		char c = *q;

		if (c == '\\' || c == '"') {
			buf[o++] = '\\';
			buf[o++] = c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = c;
		}
	}
	if (o + 1 < len)
		buf[o++] = '"';
	buf[o < len ? o : len - 1] = 0;
	*off = o;
}

static struct series *slot(struct ag_metrics *m, const char *labels)
{
	size_t i = hash_str(labels) & (m->cap - 1);

	while (m->tab[i].labels && strcmp(m->tab[i].labels, labels))
		i = (i + 1) & (m->cap - 1);
	return &m->tab[i];
}

/* slock held: the owner of a series of this pod's: NS, or NS/POD with pod labels */
static void owner_of(const struct ag_metrics *m, const char *ns, const char *pod, char *buf,
		     size_t len)
{
	if (m->pod_labels)
		snprintf(buf, len, "%s/%s", ns, pod ? pod : "");
	else
		snprintf(buf, len, "%s", ns);
}

/*
 * slock held: the last live cgroup of owner went (its pod, or its namespace's last pod, left the
 * node): its label sets are dropped and their slots of max_series freed, so that pod churn never
 * fills the slots and sends every new namespace to "other" (Prometheus sees the series end, as
 * when a pod's own exporter goes). The table is rebuilt without them (open addressing).
 */
static void release(struct ag_metrics *m, const char *owner)
{
	struct series *old = m->tab;
	size_t dropped = 0;

	for (size_t i = 0; i < m->cap; i++)
		dropped += old[i].owner && !strcmp(old[i].owner, owner);
	if (!dropped)
		return;
	m->tab = calloc(m->cap, sizeof(*m->tab));
	if (!m->tab) {
		m->tab = old; /* kept as it is: the slots free at the next release */
		return;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!old[i].labels)
			continue;
		if (old[i].owner && !strcmp(old[i].owner, owner)) {
			free(old[i].labels);
			free(old[i].owner);
			m->n_normal--;
			m->n--;
			m->released++;
			continue;
		}
		*slot(m, old[i].labels) = old[i];
	}
	free(old);
}

/* slock held: a tenant event: a pod's cgroup came (any event but "removed") or went */
static void track_tenant(struct ag_metrics *m, __u64 cg, const char *what, const char *ns,
			 const char *pod)
{
	char owner[512];
	bool others = false;
	size_t i;

	if (!cg || !what)
		return;
	for (i = 0; i < m->n_live && m->live[i].cg != cg; i++)
		;
	if (strcmp(what, "removed")) {
		if (i < m->n_live || !ns || !*ns)
			return;
		if (m->n_live == m->cap_live) {
			size_t c = m->cap_live ? 2 * m->cap_live : 64;
			struct live *l = realloc(m->live, c * sizeof(*l));

			if (!l)
				return;
			m->live = l;
			m->cap_live = c;
		}
		owner_of(m, ns, pod, owner, sizeof(owner));
		m->live[m->n_live].cg = cg;
		if ((m->live[m->n_live].owner = strdup(owner)))
			m->n_live++;
		return;
	}
	if (i == m->n_live)
		return;
	snprintf(owner, sizeof(owner), "%s", m->live[i].owner);
	for (size_t j = 0; j < m->n_live && !others; j++)
		others = j != i && !strcmp(m->live[j].owner, owner);
	free(m->live[i].owner);
	if (i != --m->n_live)
		m->live[i] = m->live[m->n_live];
	if (!others) /* the owner's last cgroup */
		release(m, owner);
}

static void count_access(struct ag_metrics *m, const struct ag_event *e)
{
	const char *cls = ag_event_str(e, e->cls), *ns = ag_event_str(e, e->pod_ns);
	const char *pod = ag_event_str(e, e->pod_name), *ctr = ag_event_str(e, e->container_name);
	char lab[768], other[512];
	size_t off = 0, ooff = 0;
	struct series *s;

	put_label(lab, sizeof(lab), &off, "verdict", ag_verdict_name(e->verdict));
	put_label(lab, sizeof(lab), &off, "op", ag_op_name(e->op));
	put_label(lab, sizeof(lab), &off, "class", cls ? cls : "unknown");
	memcpy(other, lab, off + 1);
	ooff = off;
	/* an access outside any pod (the host, a standalone tenant): namespace "" */
	put_label(lab, sizeof(lab), &off, "namespace", ns && *ns ? ns : "");
	put_label(other, sizeof(other), &ooff, "namespace", "other");
	if (m->pod_labels) {
		put_label(lab, sizeof(lab), &off, "pod", pod ? pod : "");
		put_label(lab, sizeof(lab), &off, "container", ctr ? ctr : "");
		put_label(other, sizeof(other), &ooff, "pod", "other");
		put_label(other, sizeof(other), &ooff, "container", "other");
	}
	pthread_mutex_lock(&m->slock);
	m->events++;
	if (e->action == AG_ACT_DENIED)
		m->denials++;
	else if (e->action == AG_ACT_KILLED)
		m->kills++;
	s = slot(m, lab);
	if (!s->labels && m->n_normal >= m->max_series) {
		m->overflow++;
		s = slot(m, other);
		if (!s->labels && m->n_other >= OVERFLOW_SERIES) {
			m->unplaced++; /* counted in accelguard_metrics_series_overflow_total only */
			pthread_mutex_unlock(&m->slock);
			return;
		}
		if (!s->labels && (s->labels = strdup(other))) {
			m->n_other++;
			m->n++;
		}
	} else if (!s->labels && (s->labels = strdup(lab))) {
		char owner[512];

		m->n_normal++;
		m->n++;
		if (ns && *ns) { /* a pod's: released when it goes; the host's "" never */
			owner_of(m, ns, pod, owner, sizeof(owner));
			s->owner = strdup(owner);
		}
	}
	if (s->labels)
		s->count++;
	pthread_mutex_unlock(&m->slock);
}

void ag_metrics_count(struct ag_metrics *m, const struct ag_event *e)
{
	if (e->kind == AG_EVK_ACCESS) {
		count_access(m, e);
	} else if (e->kind == AG_EVK_TENANT) {
		pthread_mutex_lock(&m->slock);
		track_tenant(m, e->cgroup_id, ag_event_str(e, e->what), ag_event_str(e, e->pod_ns),
			     ag_event_str(e, e->pod_name));
		pthread_mutex_unlock(&m->slock);
	}
}

static size_t sink_emit(void *ctx, const struct ag_sink_batch *b)
{
	for (const struct ag_event *e = ag_event_next(b->ev, b->evlen, NULL); e;
	     e = ag_event_next(b->ev, b->evlen, e))
		ag_metrics_count(ctx, e);
	return 0;
}

static void sink_close(void *ctx)
{
	/* the counts stay: the metrics outlive the sinks (ag_metrics_free) */
}

static const struct ag_sink_ops metrics_sink_ops = {
	.name = "metrics", .takes = AG_SINK_EVENTS, .emit = sink_emit, .close = sink_close,
};

int ag_metrics_add_sink(struct ag_metrics *m, struct ag_sinks *s)
{
	/* small records, counted at once: 1 MiB of queue */
	return ag_sinks_add(s, &metrics_sink_ops, m, 1u << 20);
}

/* ---- the exposition text ------------------------------------------------------------------------ */

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);

		if (!nb) {
			o->oom = true;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	outf(o, "# HELP accelguard_%s %s\n# TYPE accelguard_%s %s\n", name, help, name, type);
}

/* the kernel's exact counts, the events lost before any sink */
static void render_kernel(struct out *o, const struct ag_metrics_state *st)
{
	head(o, "accesses_total", "counter",
	     "Every access to an accelerator device node, by op and verdict; exact, counted in the kernel.");
	for (int op = AG_OP_OPEN; op < AG_OP__MAX; op++)
		for (int v = AG_V_ALLOWED; v < AG_V__MAX; v++)
			outf(o, "accelguard_accesses_total{op=\"%s\",verdict=\"%s\"} %llu\n",
			     ag_op_name(op), ag_verdict_name(v), (unsigned long long)st->totals[op][v]);
	head(o, "violations_total", "counter",
	     "Unmediated, cross-tenant and unresolved accesses, exact, from the kernel's per-tenant accounting (viol map).");
	outf(o, "accelguard_violations_total %llu\n", (unsigned long long)st->violations);
	head(o, "violation_events_suppressed_total", "counter",
	     "Violations counted but not sent as events: over the per-tenant rate limit.");
	outf(o, "accelguard_violation_events_suppressed_total %llu\n",
	     (unsigned long long)st->suppressed);
	head(o, "ringbuf_drops_total", "counter",
	     "Kernel records lost because the ring buffer was full, by kind.");
	for (int k = 0; k < AG_DROP__MAX; k++)
		outf(o, "accelguard_ringbuf_drops_total{kind=\"%s\"} %llu\n", ag_drop_name(k),
		     (unsigned long long)st->drops[k]);
	head(o, "events_lost_total", "counter",
	     "Events the agent could not format (no memory), before any sink.");
	outf(o, "accelguard_events_lost_total %llu\n", (unsigned long long)st->lines_lost);
}

/* what each sink did with the events (the names say lines: the series keep them) */
static void render_sinks(struct out *o, const struct ag_metrics_state *st)
{
	head(o, "sink_queued_lines_total", "counter", "Event lines taken into a sink's queue.");
	for (size_t i = 0; i < st->n_sinks; i++)
		outf(o, "accelguard_sink_queued_lines_total{sink=\"%s\"} %llu\n", st->sinks[i].name,
		     (unsigned long long)st->sinks[i].st.queued);
	head(o, "sink_written_lines_total", "counter", "Event lines a sink delivered.");
	for (size_t i = 0; i < st->n_sinks; i++)
		outf(o, "accelguard_sink_written_lines_total{sink=\"%s\"} %llu\n", st->sinks[i].name,
		     (unsigned long long)st->sinks[i].st.written);
	head(o, "sink_dropped_lines_total", "counter",
	     "Event lines that found a sink's queue full and were dropped for it.");
	for (size_t i = 0; i < st->n_sinks; i++)
		outf(o, "accelguard_sink_dropped_lines_total{sink=\"%s\"} %llu\n", st->sinks[i].name,
		     (unsigned long long)st->sinks[i].st.dropped);
	head(o, "sink_lost_lines_total", "counter",
	     "Event lines a sink failed to deliver (a failed write: a full disk).");
	for (size_t i = 0; i < st->n_sinks; i++)
		outf(o, "accelguard_sink_lost_lines_total{sink=\"%s\"} %llu\n", st->sinks[i].name,
		     (unsigned long long)st->sinks[i].st.lost);
	head(o, "sink_queue_bytes", "gauge", "Bytes waiting in a sink's queue.");
	for (size_t i = 0; i < st->n_sinks; i++)
		outf(o, "accelguard_sink_queue_bytes{sink=\"%s\"} %zu\n", st->sinks[i].name,
		     st->sinks[i].st.queue_bytes);
	head(o, "sink_queue_limit_bytes", "gauge", "The bound of a sink's queue.");
	for (size_t i = 0; i < st->n_sinks; i++)
		outf(o, "accelguard_sink_queue_limit_bytes{sink=\"%s\"} %zu\n", st->sinks[i].name,
		     st->sinks[i].st.queue_max);
}

/* the policy table and the kernel's maps */
static void render_policy(struct out *o, const struct ag_metrics_state *st)
{
	head(o, "policy_cgroups", "gauge", "Cgroups in the policy table (and the kernel's policy map), by state.");
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		outf(o, "accelguard_policy_cgroups{state=\"%s\"} %u\n", state_names[i], st->policy[i]);
	head(o, "policy_map_errors_total", "counter", "Failed writes of the kernel's policy maps.");
	outf(o, "accelguard_policy_map_errors_total %llu\n", (unsigned long long)st->map_errors);
	head(o, "counters_map_max_entries", "gauge",
	     "Size of the kernel's per-CPU counters map (cgroup, device, op, ioctl command).");
	outf(o, "accelguard_counters_map_max_entries %llu\n",
	     (unsigned long long)st->counter_entries_max);
}

/* the Kubernetes Events and reports sinks, when they run */
static void render_k8s_sinks(struct out *o, const struct ag_metrics_state *st)
{
	if (st->kev_on) {
		head(o, "k8s_events_written_total", "counter",
		     "Kubernetes Events written: created, or their series updated.");
		outf(o, "accelguard_k8s_events_written_total{kind=\"created\"} %llu\n",
		     (unsigned long long)st->kev_sent);
		outf(o, "accelguard_k8s_events_written_total{kind=\"series\"} %llu\n",
		     (unsigned long long)st->kev_patched);
		head(o, "k8s_events_deduplicated_total", "counter",
		     "Violations folded into an existing Event's series.");
		outf(o, "accelguard_k8s_events_deduplicated_total %llu\n", (unsigned long long)st->kev_dedup);
		head(o, "k8s_events_rate_limited_total", "counter",
		     "Event writes held back by the per-pod or per-node token bucket.");
		outf(o, "accelguard_k8s_events_rate_limited_total %llu\n",
		     (unsigned long long)st->kev_limited);
		head(o, "k8s_events_dropped_total", "counter",
		     "Violations lost to Events: every queued Event was waiting.");
		outf(o, "accelguard_k8s_events_dropped_total %llu\n", (unsigned long long)st->kev_dropped);
		head(o, "k8s_events_errors_total", "counter", "Event requests that failed or were refused.");
		outf(o, "accelguard_k8s_events_errors_total %llu\n", (unsigned long long)st->kev_errors);
		head(o, "k8s_events_pending", "gauge", "Events waiting to be written.");
		outf(o, "accelguard_k8s_events_pending %llu\n", (unsigned long long)st->kev_pending);
	}
	if (st->krp_on) {
		head(o, "k8s_reports_writes_total", "counter", "Policy reports created or replaced.");
		outf(o, "accelguard_k8s_reports_writes_total %llu\n", (unsigned long long)st->krp_writes);
		head(o, "k8s_reports_conflicts_total", "counter",
		     "Report replacements refused with 409 (read again and retried).");
		outf(o, "accelguard_k8s_reports_conflicts_total %llu\n",
		     (unsigned long long)st->krp_conflicts);
		head(o, "k8s_reports_deleted_total", "counter", "Reports deleted (no pod left).");
		outf(o, "accelguard_k8s_reports_deleted_total %llu\n", (unsigned long long)st->krp_deleted);
		head(o, "k8s_reports_errors_total", "counter", "Report requests that failed or were refused.");
		outf(o, "accelguard_k8s_reports_errors_total %llu\n", (unsigned long long)st->krp_errors);
	}
	if (st->kev_on || st->krp_on) {
		head(o, "k8s_sink_paused", "gauge",
		     "1 while the sink is paused after the API server refused it (401/403, no CRD).");
		if (st->kev_on)
			outf(o, "accelguard_k8s_sink_paused{sink=\"events\"} %d\n", st->kev_paused);
		if (st->krp_on)
			outf(o, "accelguard_k8s_sink_paused{sink=\"reports\"} %d\n", st->krp_paused);
	}
}

/* the Kubernetes source's peers, its pending cgroups, the exposure counts */
static void render_peers(struct out *o, const struct ag_metrics_state *st)
{
	static const char *const peers[] = { "kubelet", "cri", "apiserver" };
	bool on[] = { st->pr_on, st->cri_on, st->api_on }, up[] = { st->pr_up, st->cri_up, st->api_up };
	__u64 req[] = { st->pr_calls, st->cri_calls, st->api_requests };
	__u64 err[] = { st->pr_errors, st->cri_errors, st->api_errors };
	__u64 cum = 0;

	if (!st->k8s)
		return;
	head(o, "peer_up", "gauge",
	     "1 when the last call to the peer succeeded (kubelet PodResources, CRI, API server); peers turned off are absent.");
	for (int i = 0; i < 3; i++)
		if (on[i])
			outf(o, "accelguard_peer_up{peer=\"%s\"} %d\n", peers[i], up[i]);
	head(o, "peer_requests_total", "counter", "Calls made to the peer.");
	for (int i = 0; i < 3; i++)
		if (on[i])
			outf(o, "accelguard_peer_requests_total{peer=\"%s\"} %llu\n", peers[i],
			     (unsigned long long)req[i]);
	head(o, "peer_errors_total", "counter", "Calls to the peer that failed.");
	for (int i = 0; i < 3; i++)
		if (on[i])
			outf(o, "accelguard_peer_errors_total{peer=\"%s\"} %llu\n", peers[i],
			     (unsigned long long)err[i]);
	head(o, "k8s_pending_cgroups", "gauge",
	     "Container cgroups whose pod or allocation is not known yet.");
	outf(o, "accelguard_k8s_pending_cgroups %llu\n", (unsigned long long)st->pending);
	head(o, "k8s_resolution_duration_seconds", "histogram",
	     "From a container cgroup first answered pending to its allocation known.");
	for (int i = 0; i < AG_METRICS_LAT_BUCKETS; i++) {
		cum += st->lat_bucket[i];
		if (st->lat_bound_ns[i] == UINT64_MAX)
			outf(o, "accelguard_k8s_resolution_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			     (unsigned long long)cum);
		else
			outf(o, "accelguard_k8s_resolution_duration_seconds_bucket{le=\"%g\"} %llu\n",
			     st->lat_bound_ns[i] / 1e9, (unsigned long long)cum);
	}
	outf(o, "accelguard_k8s_resolution_duration_seconds_sum %.9f\n", st->lat_sum_ns / 1e9);
	outf(o, "accelguard_k8s_resolution_duration_seconds_count %llu\n",
	     (unsigned long long)st->resolved);
	head(o, "k8s_exposed_devices_total", "counter",
	     "Accelerator nodes containers can reach beyond their allocation (exposure events), by reason.");
	for (int i = 0; st->x_names && i < AG_METRICS_X_KINDS; i++)
		outf(o, "accelguard_k8s_exposed_devices_total{reason=\"%s\"} %llu\n", st->x_names[i],
		     (unsigned long long)st->exposed[i]);
}

/* the per-event counts (the counting sink's) */
static void render_events(struct ag_metrics *m, struct out *o)
{
	pthread_mutex_lock(&m->slock);
	head(o, "access_events_total", "counter",
	     m->pod_labels ? "Access events (first sightings, violations, descriptors held at start) by verdict, op, device class, namespace, pod and container; label sets over the limit go to namespace=\"other\"."
			   : "Access events (first sightings, violations, descriptors held at start) by verdict, op, device class and namespace; label sets over the limit go to namespace=\"other\".");
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].labels)
			outf(o, "accelguard_access_events_total{%s} %llu\n", m->tab[i].labels,
			     (unsigned long long)m->tab[i].count);
	head(o, "denials_total", "counter", "Access events whose access the kernel denied (EPERM).");
	outf(o, "accelguard_denials_total %llu\n", (unsigned long long)m->denials);
	head(o, "kills_total", "counter",
	     "Access events whose process was killed (tier 3 enforce: ioctls, after the fact).");
	outf(o, "accelguard_kills_total %llu\n", (unsigned long long)m->kills);
	head(o, "metrics_series", "gauge", "Label sets of accelguard_access_events_total now.");
	outf(o, "accelguard_metrics_series %zu\n", m->n);
	head(o, "metrics_series_limit", "gauge",
	     "The most label sets accelguard_access_events_total keeps before namespace=\"other\" (metrics.max_series).");
	outf(o, "accelguard_metrics_series_limit %u\n", m->max_series);
	head(o, "metrics_series_released_total", "counter",
	     "Label sets of accelguard_access_events_total dropped because their pod (or, without pod labels, their namespace's last pod) left the node; their slots are free again.");
	outf(o, "accelguard_metrics_series_released_total %llu\n", (unsigned long long)m->released);
	head(o, "metrics_series_overflow_total", "counter",
	     "Access events counted under namespace=\"other\" because their label set did not fit.");
	outf(o, "accelguard_metrics_series_overflow_total %llu\n", (unsigned long long)m->overflow);
	pthread_mutex_unlock(&m->slock);
}

static void render(struct ag_metrics *m, struct out *o)
{
	struct ag_metrics_state s;
	bool have;
	char lab[256];
	size_t off;

	pthread_mutex_lock(&m->lock);
	s = m->st;
	have = m->have_state;
	pthread_mutex_unlock(&m->lock);

	head(o, "build_info", "gauge", "The agent's version (value 1).");
	off = 0;
	put_label(lab, sizeof(lab), &off, "version", AG_VERSION);
	outf(o, "accelguard_build_info{%s} 1\n", lab);
	if (have) {
		head(o, "agent_info", "gauge",
		     "The tier (hook set) the loader chose, the mode and the ioctl program (value 1).");
		off = 0;
		put_label(lab, sizeof(lab), &off, "tier", s.tier);
		put_label(lab, sizeof(lab), &off, "mode", s.mode);
		put_label(lab, sizeof(lab), &off, "ioctl_program", s.ioctl_program);
		outf(o, "accelguard_agent_info{%s} 1\n", lab);
		head(o, "start_time_seconds", "gauge", "When the agent started, Unix time.");
		outf(o, "accelguard_start_time_seconds %.3f\n", s.start_time_s);
	}
	head(o, "ready", "gauge", "1 when the programs are attached and the policy is loaded.");
	outf(o, "accelguard_ready %d\n", s.attached && s.policy_loaded && !s.stopping);
	if (have) {
		render_kernel(o, &s);
		render_sinks(o, &s);
		render_policy(o, &s);
		render_k8s_sinks(o, &s);
		render_peers(o, &s);
	}
	render_events(m, o);
}

char *ag_metrics_render(struct ag_metrics *m, size_t *len)
{
	struct out o = { .cap = 16384 };

	o.buf = malloc(o.cap);
	if (!o.buf)
		return NULL;
	o.buf[0] = 0;
	render(m, &o);
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

/* ---- the endpoints ---------------------------------------------------------------------------- */

static int on_http(void *ctx, const char *path, struct ag_http_reply *r)
{
	struct ag_metrics *m = ctx;
	struct ag_metrics_state s;
	char msg[160];

	if (!strcmp(path, "/metrics")) {
		r->content_type = "text/plain; version=0.0.4; charset=utf-8";
		r->body = ag_metrics_render(m, &r->len);
		return r->body ? 0 : -ENOMEM;
	}
	if (!strcmp(path, "/evidence.tar.gz")) {
		if (m->evidence)
			return m->evidence(m->evidence_ctx, r);
		r->status = 404;
		r->body = strdup("not found: /evidence.tar.gz is off (metrics.evidence: true turns it on)\n");
		return r->body ? 0 : -ENOMEM;
	}
	pthread_mutex_lock(&m->lock);
	s = m->st;
	pthread_mutex_unlock(&m->lock);
	if (!strcmp(path, "/healthz")) {
		uint64_t now = ag_now_ns(CLOCK_MONOTONIC);

		/* alive: starting, or the event loop went round in the last 10 s (its timer ticks
		 * every second) */
		if (!s.heartbeat_ns)
			snprintf(msg, sizeof(msg), "ok: starting\n");
		else if (now - s.heartbeat_ns > AG_METRICS_STALE_NS) {
			r->status = 503;
			snprintf(msg, sizeof(msg), "unhealthy: the event loop has been silent for %.1f s\n",
				 (now - s.heartbeat_ns) / 1e9);
		} else
			snprintf(msg, sizeof(msg), "ok\n");
	} else if (!strcmp(path, "/readyz")) {
		if (s.stopping) {
			r->status = 503;
			snprintf(msg, sizeof(msg), "not ready: stopping\n");
		} else if (!s.attached) {
			r->status = 503;
			snprintf(msg, sizeof(msg), "not ready: the BPF programs are not attached yet\n");
		} else if (!s.policy_loaded) {
			r->status = 503;
			snprintf(msg, sizeof(msg), "not ready: the policy is not loaded yet\n");
		} else {
			snprintf(msg, sizeof(msg), "ready: tier %s, mode %s\n", s.tier, s.mode);
		}
	} else if (!strcmp(path, "/")) {
		snprintf(msg, sizeof(msg), "accelguard: /metrics /healthz /readyz\n");
	} else {
		r->status = 404;
		snprintf(msg, sizeof(msg), "not found: /metrics /healthz /readyz\n");
	}
	r->body = strdup(msg);
	return r->body ? 0 : -ENOMEM;
}

struct ag_metrics *ag_metrics_new(const struct ag_metrics_opts *o, char *err, size_t errlen)
{
	struct ag_metrics *m = calloc(1, sizeof(*m));
	const char *listen = o->listen ? o->listen : AG_METRICS_LISTEN;

	if (!m)
		goto oom;
	m->pod_labels = o->pod_labels;
	m->evidence = o->evidence;
	m->evidence_ctx = o->evidence_ctx;
	m->max_series = o->max_series ? o->max_series : AG_METRICS_MAX_SERIES;
	for (m->cap = 64; m->cap < 2 * (m->max_series + OVERFLOW_SERIES); m->cap *= 2)
		;
	m->tab = calloc(m->cap, sizeof(*m->tab));
	if (!m->tab)
		goto oom;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->slock, NULL);
	if (strcmp(listen, "off")) {
		m->http = ag_http_start_pool(listen, on_http, m, m->evidence ? 4 : 1, err, errlen);
		if (!m->http) {
			int e = errno;

			ag_metrics_free(m);
			errno = e;
			return NULL;
		}
	}
	return m;
oom:
	if (m)
		free(m->tab);
	free(m);
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return NULL;
}

void ag_metrics_set_state(struct ag_metrics *m, const struct ag_metrics_state *st)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->st = *st;
	m->have_state = true;
	pthread_mutex_unlock(&m->lock);
}

unsigned int ag_metrics_port(const struct ag_metrics *m)
{
	return m ? ag_http_port(m->http) : 0;
}

void ag_metrics_free(struct ag_metrics *m)
{
	if (!m)
		return;
	ag_http_stop(m->http);
	for (size_t i = 0; m->tab && i < m->cap; i++) {
		free(m->tab[i].labels);
		free(m->tab[i].owner);
	}
	free(m->tab);
	for (size_t i = 0; i < m->n_live; i++)
		free(m->live[i].owner);
	free(m->live);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->slock);
	free(m);
}
