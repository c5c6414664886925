// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A flood of violations into the Kubernetes Events sink (user/k8s/report.c), as the agent's
 * journal lines: PODS pods with COMMS distinct process names each, plus one pod "hot" with HOT
 * distinct ones, each line REPEATS times; then SECONDS of sending. Prints the sink's stats and
 * how long the sink took to parse the lines, as one JSON line. tests/k8s/report_e2e.sh checks
 * what the API peer stored against the limits (k8s.h).
 * Usage: report_flood URL TOKEN_FILE CA_FILE NODE PODS COMMS HOT REPEATS SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "k8s/k8s.h"
#include "sink.h"
#include "util.h"

static int line(char *b, size_t n, const char *pod, int comm)
{
	return snprintf(b, n,
			"{\"type\":\"access\",\"time\":\"2026-12-01T16:19:56.123456789Z\",\"op\":\"open\","
			"\"verdict\":\"cross_tenant\",\"action\":\"observed\",\"tier\":\"lsm\",\"hook\":\"lsm\","
			"\"device\":{\"major\":195,\"minor\":1,\"class\":\"nvidia-gpu\"},"
			"\"process\":{\"pid\":%d,\"tid\":%d,\"comm\":\"proc-%d\"},"
			"\"cgroup\":{\"id\":7,\"path\":\"/kubepods/x\"},"
			"\"pod\":{\"namespace\":\"flood\",\"name\":\"%s\",\"uid\":\"uid-%s\"},"
			"\"container\":{\"name\":\"main\",\"id\":\"c\"}}\n",
			1000 + comm, 1000 + comm, comm, pod, pod);
}

int main(int argc, char **argv)
{
	struct ag_config cfg = { 0 };
	struct ag_k8s_events_stats st;
	struct ag_k8s_sinks *h = NULL;
	struct ag_sinks *s;
	int pods, comms, hot, repeats, secs;
	size_t len = 0, cap = 1 << 20, nl = 0, total = 0;
	char err[1500], *buf;
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
	buf = malloc(cap);
	t0 = ag_now_ns(CLOCK_MONOTONIC);
	for (int r = 0; r < repeats; r++) {
		for (int p = -1; p < pods; p++) {
			char name[32];

			if (p < 0)
				snprintf(name, sizeof(name), "hot");
			else
				snprintf(name, sizeof(name), "p-%d", p);
			for (int c = 0; c < (p < 0 ? hot : comms); c++) {
				if (len + 1024 > cap) {
					ag_sinks_emit(s, buf, len, nl);
					len = nl = 0;
				}
				len += line(buf + len, cap - len, name, c);
				nl++;
				total++;
			}
		}
	}
	ag_sinks_emit(s, buf, len, nl);
	ag_sinks_drain(s, 60000); /* every line parsed */
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
	free(buf);
	return 0;
}
