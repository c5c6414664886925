/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the Events and reports sinks (layer 3, part "sinks"; k8s.h has their interface): the
 * worker both share (report.c) and their requests, one file per API group so that the requests
 * each file makes are what tests/deploy checks against the ClusterRole: report_ev.c (Events:
 * create, patch), report_rp.c (PolicyReports / Reports: get, list, create, update, delete).
 */
#ifndef AG_K8S_REPORT_H
#define AG_K8S_REPORT_H

#include "api.h"

#define AG_K8S_PAUSE_S 60 /* after a 401/403, or a report the API refuses */
#define AG_K8S_BACKOFF_MIN_MS 500
#define AG_K8S_BACKOFF_MAX_MS 30000
#define AG_K8S_RETRY_AFTER_MAX_S 60

struct k8s_rw {
	const char *what; /* "events", "reports" */
	struct k8s_env env;
	CURL *curl;
	struct k8s_req req;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, closing;
	uint64_t gate_ns;   /* no request before this (backoff, Retry-After, pause) */
	uint64_t backoff_ms;
	bool paused, down, warned_down;
	/* the last answer refused the request for its namespace alone (403 NamespaceTerminating,
	 * 404 of the namespace): nothing paused, the caller holds back that namespace only */
	bool ns_refused;
	uint64_t errors;
	char err[1400];
};

/*
 * report_rw.c. One request (mu not held): method "GET", "POST", "PUT", "PATCH" or "DELETE". Returns the HTTP
 * status, or -errno when no answer came; *out (may be NULL): the answer's JSON when there is one
 * (the caller puts it). Sets the gate after 401/403, 429, 5xx and transport errors, and says so
 * once per episode.
 */
long k8s_rw_call(struct k8s_rw *w, const char *method, const char *path, const char *ctype,
		 const char *body, json_object **out);

/* report_ev.c: events.k8s.io/v1 */
long k8s_ev_create(struct k8s_rw *w, const char *ns, const char *body);
long k8s_ev_patch(struct k8s_rw *w, const char *ns, const char *name, const char *merge_patch);
/* report_evget.c: one Event, to go on with its series */
long k8s_ev_get(struct k8s_rw *w, const char *ns, const char *name, json_object **out);

/* report_rp.c: kind AG_REPORTS_WGPOLICY or AG_REPORTS_OPENREPORTS */
long k8s_rp_get(struct k8s_rw *w, int kind, const char *ns, const char *name, json_object **out);
long k8s_rp_create(struct k8s_rw *w, int kind, const char *ns, const char *body);
long k8s_rp_update(struct k8s_rw *w, int kind, const char *ns, const char *name,
		   const char *body);
long k8s_rp_delete(struct k8s_rw *w, int kind, const char *ns, const char *name);
/* this node's reports in every namespace (by the label accelguard.io/node) */
long k8s_rp_list(struct k8s_rw *w, int kind, const char *node, json_object **out);

#endif
