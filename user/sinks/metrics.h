/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Metrics and health: /metrics (Prometheus text format 0.0.4, prefix accelguard_, base units),
 * /healthz and /readyz, served by http.c on its own thread. Nothing here blocks the agent loop:
 *   - the loop hands a snapshot of its state (kernel counters read through maps.c, policy
 *     counts, sink and peer state) to ag_metrics_set_state() once a second: a copy under a mutex;
 *   - the per-event counts (access events by verdict, op, device class, namespace, optionally pod
 *     and container) come from a sink (sink.h) on the sink's own thread;
 *   - a scrape renders from both under the same mutexes, on the HTTP thread.
 * Cardinality is bounded: at most max_series label sets of the per-event counts; an event whose
 * label set does not fit goes to the series whose namespace (pod, container) is "other", and is
 * counted in accelguard_metrics_series_overflow_total.
 */
#ifndef AG_METRICS_H
#define AG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "accelguard.h"
#include "sink.h"

#include "http.h"

#define AG_METRICS_LISTEN "127.0.0.1:9464" /* default: the node alone can scrape */
#define AG_METRICS_MAX_SERIES 1000
#define AG_METRICS_SINKS 8
#define AG_METRICS_LAT_BUCKETS 10
#define AG_METRICS_STALE_NS (10ull * 1000000000ull) /* healthz: the loop went this long silent */

typedef int (*ag_http_handler_fn)(void *ctx, struct ag_http_reply *r);

struct ag_metrics_opts {
	const char *listen;      /* NULL: AG_METRICS_LISTEN; "off": no server */
	bool pod_labels;         /* add pod and container labels to the per-event counts */
	unsigned int max_series; /* 0: AG_METRICS_MAX_SERIES */
	/* GET /evidence.tar.gz (metrics.evidence: true): NULL, 404; else served by a pool of
	 * threads so that a bundle's build does not hold up the probes and scrapes */
	ag_http_handler_fn evidence;
	void *evidence_ctx;
};

/* The agent loop's snapshot, taken once (one walk of the kernel's counters and violation map) for
 * /metrics and, at the exit, for the summary too (copied; strings must be static or outlive the
 * metrics). */
struct ag_metrics_state {
	bool attached, policy_loaded, stopping;
	uint64_t heartbeat_ns;       /* CLOCK_MONOTONIC of the last loop round */
	double start_time_s;         /* Unix time the agent started */
	const char *version, *tier, *mode, *ioctl_program;
	__u64 totals[AG_OP__MAX][AG_V__MAX];   /* exact, from the kernel */
	__u64 drops[AG_DROP__MAX];              /* ring-buffer drops, by kind */
	__u64 violations, suppressed;           /* exact, from the kernel's viol map */
	__u64 lines_lost;                       /* events lost before any sink (no memory) */
	unsigned int policy[5];                 /* cgroups by state (enum ag_policy_state) */
	__u64 cgroups, map_errors, counter_entries_max;
	size_t n_sinks;
	struct {
		const char *name;
		struct ag_sink_stats st;
	} sinks[AG_METRICS_SINKS];
	bool k8s;                               /* the Kubernetes source runs */
	bool pr_up, cri_up, api_up, pr_on, cri_on, api_on;
	__u64 pr_calls, pr_errors, cri_calls, cri_errors, api_requests, api_errors;
	__u64 resolved, pending, bundle_resolved, unmapped_ids, exposures;
	__u64 lat_max_ns;
	__u64 lat_bucket[AG_METRICS_LAT_BUCKETS]; /* non-cumulative */
	__u64 lat_bound_ns[AG_METRICS_LAT_BUCKETS]; /* last: UINT64_MAX (+Inf) */
	__u64 lat_sum_ns;
	/* exposure events' devices by reason kind (k8s.h AG_K8S_X_*, names in x_names) */
#define AG_METRICS_X_KINDS 6
	const char *const *x_names;
	__u64 exposed[AG_METRICS_X_KINDS];
	/* the Kubernetes Events and reports sinks (k8s.h), when they run */
	bool kev_on, krp_on, kev_paused, krp_paused;
	__u64 kev_sent, kev_patched, kev_dedup, kev_limited, kev_dropped, kev_errors, kev_pending;
	__u64 krp_writes, krp_conflicts, krp_deleted, krp_errors;
};

struct ag_metrics;

/* Start the server (unless listen is "off"). NULL with err filled when it cannot listen. */
struct ag_metrics *ag_metrics_new(const struct ag_metrics_opts *o, char *err, size_t errlen);
/* Register the per-event counting sink on s ("metrics" in the summary's sinks). */
int ag_metrics_add_sink(struct ag_metrics *m, struct ag_sinks *s);
void ag_metrics_set_state(struct ag_metrics *m, const struct ag_metrics_state *st);
unsigned int ag_metrics_port(const struct ag_metrics *m);
/* Stop the server and free; after ag_sinks_free() of the sinks it was added to. */
void ag_metrics_free(struct ag_metrics *m);

/* For tests: the exposition text now (malloc()ed), and the health answers. */
char *ag_metrics_render(struct ag_metrics *m, size_t *len);
/* Count one event as the sink does (the sink: each record of its batches; tests). */
struct ag_event;
void ag_metrics_count(struct ag_metrics *m, const struct ag_event *e);

#endif
