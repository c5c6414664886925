/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's state, shared by the files of run/ (not outside it): agent.c sets up and runs the
 * loop; out.c writes each event's line and typed record into the batch and hands it to the sinks;
 * events.c turns the kernel's records and the sources' answers into events; viol.c keeps the
 * violation bookkeeping (suppressed counts, tenants gone); summary.c the ready event, the one
 * snapshot that /metrics and the summary share, and the summary; devwatch.c the device classes
 * and the /proc/devices watch.
 */
#ifndef AG_RUN_H
#define AG_RUN_H

#include <stdbool.h>
#include <linux/types.h>
#include "agent.h"
#include "config.h"
#include "devices.h"
#include "event.h"
#include "htab.h"
#include "jsonw.h"
#include "k8s/k8s.h"
#include "loader.h"
#include "maps.h"
#include "pins.h"
#include "policy.h"
#include "procscan.h"
#include "sink.h"

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
	struct jw jw;      /* the lines of one batch, handed to the sinks by ag_ev_flush() */
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
	/* reads: arrival (arrival.c): why and when the per-use hook was attached; NULL: not */
	const char *per_use_reason;
	__u64 per_use_ns;
};

/* out.c: the batch (one JSON line and one typed record per event) */
void ag_ev_sync_clocks(struct agent *a);
void ag_ev_begin(struct agent *a, int kind, const char *type, __u64 boot_ns);
void ag_ev_end(struct agent *a);
void ag_ev_flush(struct agent *a);
/* cg: the cgroup that answers for id (for a cgroup below a tenant, the tenant); path: id's own
 * path when it is not cg's (NULL: cg's). */
void ag_ev_put_cgroup_at(struct agent *a, struct jw *w, __u64 id, const struct ag_cg *cg,
			 const char *path);
void ag_ev_put_cgroup(struct agent *a, struct jw *w, __u64 id, const struct ag_cg *cg);

/* viol.c: the violations the kernel counts per tenant */
void ag_viol_check(struct agent *a);
void ag_viol_retire(struct agent *a, __u64 id);
void ag_viol_free(struct agent *a);

/* events.c: the kernel's records, the sources' answers, the start's scans */
int ag_events_on_sample(void *ctx, void *data, size_t size);
void ag_events_present(struct agent *a);
void ag_events_check_drops(struct agent *a, bool force);
void ag_events_on_open_fd(const struct ag_open_fd *f, void *ctx);
void ag_events_selftest(void *ctx, const char *members, size_t len);
void ag_events_on_policy_full(bool full, const struct ag_cg *cg, void *ctx);
void ag_events_on_resolved(struct ag_cg *cg, void *ctx);
int ag_events_judge_now(struct agent *a, const char *path, __u32 major, __u32 minor);

/* arrival.c: reads: arrival, the per-use hook attached the first time an arrival was not stopped */
void ag_arrival_on_access(struct agent *a, int verdict, int action, bool scanned, bool rejudged,
			  __u64 cgroup_id, __u32 pid);
void ag_arrival_on_revoked(const struct ag_cg *cg, void *ctx);
void ag_arrival_check(struct agent *a);

/* summary.c: the ready event; the loop's snapshot for /metrics, and with summary the summary */
void ag_summary_ready(struct agent *a);
void ag_summary_update(struct agent *a, bool summary);

/* devwatch.c: the device classes, and the /proc/devices watch */
int ag_devwatch_build(struct agent *a, struct ag_devtab *dt, bool at_start);
void ag_devwatch_check(struct agent *a, bool force);

#endif
