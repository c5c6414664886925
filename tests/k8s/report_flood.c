// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A flood of violations into the Kubernetes Events sink (user/k8s/report.c), as the agent's
 * typed events (user/sinks/event.h): PODS pods with COMMS distinct process names each, plus one pod "hot" with HOT
 * distinct ones, each event REPEATS times; then SECONDS of sending. Prints the sink's stats and
 * how long the sink took to take the events, as one JSON line ("lines": the events). tests/k8s/report_e2e.sh checks
 * what the API peer stored against the limits (k8s.h).
 * Usage: report_flood URL TOKEN_FILE CA_FILE NODE PODS COMMS HOT REPEATS SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "k8s/k8s.h"
#include "sink.h"
#include "util.h"

/* one access event of a pod, as the agent's loop builds it */
static void event(struct ag_evb *b, const char *pod, int comm)
{
	char name[32], uid[48];
	struct ag_event *e;

	snprintf(name, sizeof(name), "proc-%d", comm);
	snprintf(uid, sizeof(uid), "uid-%s", pod);
	ag_evb_begin(b, AG_EVK_ACCESS);
	e = ag_evb_cur(b);
	e->op = AG_OP_OPEN;
	e->verdict = AG_V_CROSS_TENANT;
	e->action = AG_ACT_OBSERVED;
	e->hook = AG_HOOK_LSM;
	e->major = 195;
	e->minor = 1;
	e->pid = e->tid = 1000 + comm;
	e->cgroup_id = 7;
	AG_EVB_STR(b, time, "2026-12-01T16:19:56.123456789Z", 64);
	AG_EVB_STR(b, tier, "lsm", 16);
	AG_EVB_STR(b, cls, "nvidia-gpu", 64);
	AG_EVB_STR(b, comm, name, sizeof(name));
	AG_EVB_STR(b, cgroup_path, "/kubepods/x", 64);
	AG_EVB_STR(b, pod_ns, "flood", 64);
	AG_EVB_STR(b, pod_name, pod, 64);
	AG_EVB_STR(b, pod_uid, uid, sizeof(uid));
	AG_EVB_STR(b, container_name, "main", 64);
	AG_EVB_STR(b, container_id, "c", 64);
	ag_evb_end(b);
}

static void emit(struct ag_sinks *s, struct ag_evb *b, size_t n)
{
	struct ag_sink_batch batch = { .ev = b->buf, .evlen = b->len, .n = n };

	ag_sinks_emit_batch(s, &batch);
	ag_evb_reset(b);
}

int main(int argc, char **argv)
{
	struct ag_config cfg = { 0 };
	struct ag_k8s_events_stats st;
	struct ag_k8s_sinks *h = NULL;
	struct ag_sinks *s;
	int pods, comms, hot, repeats, secs;
	size_t nl = 0, total = 0;
	struct ag_evb evb = { 0 };
	char err[1500];
	uint64_t t0, t1;

	if (argc != 10) {
		fprintf(stderr, "usage: %s URL TOKEN_FILE CA_FILE NODE PODS COMMS HOT REPEATS SECONDS\n",
			argv[0]);
		return 2;
	}
	pods = atoi(argv[5]);
	comms = atoi(argv[6]);
	hot = atoi(argv[7]);
	repeats = atoi(argv[8]);
	secs = atoi(argv[9]);
	cfg.kubernetes.present = true;
	cfg.kubernetes.api_server = argv[1];
	cfg.kubernetes.token_file = argv[2];
	cfg.kubernetes.ca_file = argv[3];
	cfg.kubernetes.node_name = argv[4];
	cfg.kubernetes.events = true;
	s = ag_sinks_new();
	if (!s || ag_k8s_sinks_add(s, &cfg, &h, err, sizeof(err))) {
		fprintf(stderr, "report_flood: %s\n", err);
		return 1;
	}
	t0 = ag_now_ns(CLOCK_MONOTONIC);
	for (int r = 0; r < repeats; r++) {
		for (int p = -1; p < pods; p++) {
			char name[32];

			if (p < 0)
				snprintf(name, sizeof(name), "hot");
			else
				snprintf(name, sizeof(name), "p-%d", p);
			for (int c = 0; c < (p < 0 ? hot : comms); c++) {
				if (evb.len + 1024 > (1u << 20)) {
					emit(s, &evb, nl);
					nl = 0;
				}
				event(&evb, name, c);
				nl++;
				total++;
			}
		}
	}
	emit(s, &evb, nl);
	ag_sinks_drain(s, 60000); /* every event taken */
	t1 = ag_now_ns(CLOCK_MONOTONIC);
	sleep(secs);
	ag_sinks_free(s, 100); /* its worker sends for 1 s more, then stops */
	ag_k8s_events_stats(h, &st);
	printf("{\"lines\":%zu,\"parse_s\":%.3f,\"lines_per_s\":%.0f,\"queued\":%llu,\"sent\":%llu,"
	       "\"patched\":%llu,\"deduplicated\":%llu,\"rate_limited\":%llu,\"dropped\":%llu,"
	       "\"errors\":%llu,\"pending\":%llu}\n",
	       total, (t1 - t0) / 1e9, total / ((t1 - t0) / 1e9), (unsigned long long)st.queued,
	       (unsigned long long)st.sent, (unsigned long long)st.patched,
	       (unsigned long long)st.deduplicated, (unsigned long long)st.rate_limited,
	       (unsigned long long)st.dropped, (unsigned long long)st.errors,
	       (unsigned long long)st.pending);
	fflush(stdout);
	ag_k8s_sinks_free(h);
	ag_evb_free(&evb);
	return 0;
}
