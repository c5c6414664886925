// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics module through its real HTTP server (libmicrohttpd) and a real client (libcurl):
 * health states, the cardinality cap on a node with 500 pods, label escaping, listen errors.
 * AG_METRICS_RENDER=FILE: write the 500-pod rendering there (metrics.sh runs promtool on it).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "event.h"
#include "metrics.h"
#include "util.h"

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t sz, size_t n, void *ctx)
{
	struct buf *b = ctx;

	b->p = realloc(b->p, b->n + sz * n + 1);
	memcpy(b->p + b->n, d, sz * n);
	b->n += sz * n;
	b->p[b->n] = 0;
	return sz * n;
}

/* GET path; returns the status, the body in *body (caller frees). */
static long get(unsigned int port, const char *path, char **body)
{
	char url[128];
	struct buf b = { calloc(1, 1), 0 };
	long code = 0;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	*body = b.p;
	return code;
}

static struct ag_metrics *start(bool pod_labels, unsigned int max_series)
{
	struct ag_metrics_opts o = { .listen = "127.0.0.1:0", .pod_labels = pod_labels,
				     .max_series = max_series };
	char err[256];
	struct ag_metrics *m = ag_metrics_new(&o, err, sizeof(err));

	if (!m)
		fail_msg("ag_metrics_new: %s", err);
	assert_true(ag_metrics_port(m) > 0);
	return m;
}

static void expect(struct ag_metrics *m, const char *path, long code, const char *text)
{
	char *body;
	long got = get(ag_metrics_port(m), path, &body);

	if (got != code || !strstr(body, text))
		fail_msg("%s: got %ld '%s', expected %ld with '%s'", path, got, body, code, text);
	free(body);
}

static void test_health_states(void **state)
{
	struct ag_metrics *m = start(false, 0);
	struct ag_metrics_state s = { .tier = "tracepoint", .mode = "audit", .version = "t" };

	/* before the loop's first snapshot: alive (starting), not ready */
	expect(m, "/healthz", 200, "ok: starting");
	expect(m, "/readyz", 503, "not ready: the BPF programs are not attached yet");
	s.heartbeat_ns = ag_now_ns(CLOCK_MONOTONIC);
	s.attached = true;
	ag_metrics_set_state(m, &s);
	expect(m, "/readyz", 503, "not ready: the policy is not loaded yet");
	s.policy_loaded = true;
	ag_metrics_set_state(m, &s);
	expect(m, "/readyz", 200, "ready: tier tracepoint, mode audit");
	expect(m, "/healthz", 200, "ok");
	expect(m, "/metrics", 200, "accelguard_ready 1\n");
	/* a loop that stopped going round (11 s silent) is unhealthy */
	s.heartbeat_ns = ag_now_ns(CLOCK_MONOTONIC) - 11ull * 1000000000ull;
	ag_metrics_set_state(m, &s);
	expect(m, "/healthz", 503, "unhealthy: the event loop has been silent for 11");
	s.heartbeat_ns = ag_now_ns(CLOCK_MONOTONIC);
	s.stopping = true;
	ag_metrics_set_state(m, &s);
	expect(m, "/readyz", 503, "not ready: stopping");
	expect(m, "/metrics", 200, "accelguard_ready 0\n");
	expect(m, "/other", 404, "not found");
	ag_metrics_free(m);
}

static __u64 metric(const char *text, const char *name)
{
	const char *p = text;
	size_t l = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') && p[l] == ' ')
			return strtoull(p + l + 1, NULL, 10);
		p += l;
	}
	fail_msg("no %s", name);
	return 0;
}

/* One event, as the loop hands it to the counting sink (user/sinks/event.h). */
struct ev {
	int kind, verdict, action;
	__u64 cg;
	const char *cls, *what, *ns, *pod, *uid, *ctr;
};

static void feed(struct ag_metrics *m, const struct ev *v)
{
	struct ag_evb b = { 0 };

	ag_evb_begin(&b, v->kind);
	ag_evb_cur(&b)->op = AG_OP_OPEN;
	ag_evb_cur(&b)->verdict = (__u8)v->verdict;
	ag_evb_cur(&b)->action = (__u8)v->action;
	ag_evb_cur(&b)->cgroup_id = v->cg;
	AG_EVB_STR(&b, cls, v->cls, 128);
	AG_EVB_STR(&b, what, v->what, 32);
	AG_EVB_STR(&b, pod_ns, v->ns, 128);
	AG_EVB_STR(&b, pod_name, v->pod, 128);
	AG_EVB_STR(&b, pod_uid, v->uid, 128);
	AG_EVB_STR(&b, container_name, v->ctr, 128);
	assert_true(ag_evb_end(&b));
	ag_metrics_count(m, ag_event_next(b.buf, b.len, NULL));
	ag_evb_free(&b);
}

/* 500 pods with 3 containers each, each container's accesses under 2 verdicts: 3000 label sets
 * wanted, max_series 1000 kept; the rest counted under "other", nothing lost. */
static void test_cardinality_500_pods(void **state)
{
	struct ag_metrics *m = start(true, 1000);
	const char *out = getenv("AG_METRICS_RENDER");
	char *text;
	size_t len, n_series = 0, events = 0;
	__u64 sum = 0;

	for (int pod = 0; pod < 500; pod++)
		for (int c = 0; c < 3; c++)
			for (int v = 0; v < 2; v++) {
				char ns[32], name[32], ctr[32];

				snprintf(ns, sizeof(ns), "ns-%d", pod % 50);
				snprintf(name, sizeof(name), "pod-%d", pod);
				snprintf(ctr, sizeof(ctr), "c%d", c);
				feed(m, &(struct ev){ .kind = AG_EVK_ACCESS,
						      .verdict = v ? AG_V_UNMEDIATED : AG_V_ALLOWED,
						      .action = v ? AG_ACT_DENIED : AG_ACT_OBSERVED,
						      .cls = "nvidia-gpu", .ns = ns, .pod = name,
						      .uid = "u", .ctr = ctr });
				events++;
			}
	/* not access events: not counted */
	feed(m, &(struct ev){ .kind = AG_EVK_TENANT });
	feed(m, &(struct ev){ .kind = AG_EVK_OTHER, .verdict = AG_V_ALLOWED });
	text = ag_metrics_render(m, &len);
	assert_non_null(text);
	for (char *p = text; (p = strstr(p, "\naccelguard_access_events_total{")); p++) {
		n_series++;
		sum += strtoull(strchr(p, '}') + 2, NULL, 10);
	}
	/* 1000 label sets of pods, plus the "other" set of each (verdict, op, class): 2 */
	assert_int_equal(n_series, 1002);
	assert_int_equal(metric(text, "accelguard_metrics_series"), 1002);
	assert_int_equal(metric(text, "accelguard_metrics_series_limit"), 1000);
	assert_int_equal(sum, events);
	assert_int_equal(metric(text, "accelguard_metrics_series_overflow_total"), events - 1000);
	assert_int_equal(metric(text, "accelguard_denials_total"), 1500);
	assert_non_null(strstr(text, "accelguard_access_events_total{verdict=\"allowed\",op=\"open\","
				     "class=\"nvidia-gpu\",namespace=\"other\",pod=\"other\","
				     "container=\"other\"} "));
	if (out) {
		FILE *f = fopen(out, "w");

		assert_non_null(f);
		fwrite(text, 1, len, f);
		fclose(f);
	}
	free(text);
	ag_metrics_free(m);
}

/* Pod churn: 200 pods come, access their GPU (2 verdicts each) and go, with max_series 10. Each
 * pod's label sets are released when its last cgroup goes, so that every pod is counted under its
 * own labels, never under "other"; a pod still running keeps its sets; the host's are kept. */
static void test_churn_releases_slots(void **state)
{
	for (int labels = 0; labels < 2; labels++) {
		struct ag_metrics *m = start(labels, 10);
		char ns[32], name[32], uid[32], ctr[32], *text;
		size_t len;

		for (int pod = 0; pod < 200; pod++) {
			snprintf(ns, sizeof(ns), "ns-%d", pod);
			snprintf(name, sizeof(name), "pod-%d", pod);
			snprintf(uid, sizeof(uid), "u%d", pod);
			for (int c = 0; c < 2; c++) { /* two containers, each a cgroup */
				snprintf(ctr, sizeof(ctr), "c%d", c);
				feed(m, &(struct ev){ .kind = AG_EVK_TENANT, .what = "resolved",
						      .cg = 1000 + pod * 2 + c, .ns = ns, .pod = name,
						      .uid = uid });
				for (int v = 0; v < 2; v++)
					feed(m, &(struct ev){ .kind = AG_EVK_ACCESS,
							      .verdict = v ? AG_V_UNMEDIATED : AG_V_ALLOWED,
							      .action = AG_ACT_OBSERVED, .cls = "nvidia-gpu",
							      .ns = ns, .pod = name, .uid = uid, .ctr = ctr });
			}
			if (pod == 0)
				continue; /* pod 0 stays */
			for (int c = 0; c < 2; c++)
				feed(m, &(struct ev){ .kind = AG_EVK_TENANT, .what = "removed",
						      .cg = 1000 + pod * 2 + c, .ns = ns, .pod = name,
						      .uid = uid });
		}
		text = ag_metrics_render(m, &len);
		assert_non_null(text);
		/* nothing went to "other"; pod 0's sets (2, or 4 with containers) and pod 199's
		 * last ones gone, the 198 others released */
		assert_int_equal(metric(text, "accelguard_metrics_series_overflow_total"), 0);
		assert_null(strstr(text, "namespace=\"other\"}"));
		assert_null(strstr(text, "namespace=\"other\","));
		assert_int_equal(metric(text, "accelguard_metrics_series"), labels ? 4 : 2);
		assert_int_equal(metric(text, "accelguard_metrics_series_released_total"),
				 labels ? 199 * 4 : 199 * 2);
		assert_non_null(strstr(text, "namespace=\"ns-0\""));
		assert_null(strstr(text, "namespace=\"ns-199\""));
		free(text);
		ag_metrics_free(m);
	}
}

static void test_label_escaping(void **state)
{
	struct ag_metrics *m = start(true, 0);
	size_t len;
	char *text;

	feed(m, &(struct ev){ .kind = AG_EVK_ACCESS, .verdict = AG_V_HOST, .cls = "x\"y",
			      .ns = "a\\b", .pod = "p\nq", .ctr = "c" });
	text = ag_metrics_render(m, &len);
	assert_non_null(strstr(text, "{verdict=\"host\",op=\"open\",class=\"x\\\"y\","
				     "namespace=\"a\\\\b\",pod=\"p\\nq\",container=\"c\"} 1\n"));
	free(text);
	ag_metrics_free(m);
}

static void test_listen_errors(void **state)
{
	static const char *const bad[] = { "9464", "localhost:9464", "1.2.3.4:", "1.2.3.4:70000",
					   "[::1]9464", "1.2.3.4:-1", ":9464" };
	struct ag_metrics_opts o = { 0 };
	struct ag_metrics *m, *m2;
	char err[256], want[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.listen = bad[i];
		assert_null(ag_metrics_new(&o, err, sizeof(err)));
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err, "is no address to listen on"));
		assert_non_null(strstr(err, bad[i]));
	}
	m = start(false, 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u", ag_metrics_port(m));
	o.listen = want;
	m2 = ag_metrics_new(&o, err, sizeof(err));
	assert_null(m2);
	assert_int_equal(errno, EADDRINUSE);
	assert_non_null(strstr(err, "Address already in use"));
	assert_non_null(strstr(err, want));
	o.listen = "off"; /* off: no server, counts still kept */
	m2 = ag_metrics_new(&o, err, sizeof(err));
	assert_non_null(m2);
	assert_int_equal(ag_metrics_port(m2), 0);
	ag_metrics_free(m2);
	o.listen = "[::1]:0"; /* IPv6, where the host has it */
	m2 = ag_metrics_new(&o, err, sizeof(err));
	if (m2) {
		char *body;

		assert_true(ag_metrics_port(m2) > 0);
		ag_metrics_free(m2);
		(void)body;
	}
	ag_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_states),
		cmocka_unit_test(test_cardinality_500_pods),
		cmocka_unit_test(test_churn_releases_slots),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_listen_errors),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
