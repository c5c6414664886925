// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes source driven through its C API against real peers that this program starts:
 * a gRPC server for the kubelet's PodResources, another for the CRI (tests/k8s/peers/grpc_peer.py,
 * python3-grpcio), fixture trees for NVIDIA procfs and CDI. Run by tests/k8s/run.sh, which makes
 * the temporary directory ($K8S_TEST_TMP) with the fixtures, the Python stubs and a CA.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8s/k8s.h"
#include "k8s/cdi.h"
#include "k8s/nvidia.h"

#define UVM 508
#define CAPS 509

static struct {
	const char *tmp, *repo;
	char pr_sock[300], cri_sock[300], fixture[300];
	char api_url[100], api_port_file[300], api_pods[300];
	int api_port;
	pid_t kubelet, cri, api;
	int efd, efd_b;
	struct ag_source *src;
	struct ag_source *src_b; /* PodResources + Kubernetes API, no CRI */
} T;

/* ---- peers ---- */

static pid_t spawn(char *const argv[], const char *ready_path)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	pid_t pid = fork();

	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	assert_true(pid > 0);
	for (int i = 0; i < 500; i++) { /* 10 s */
		int st;

		if (access(ready_path, F_OK) == 0)
			return pid;
		if (waitpid(pid, &st, WNOHANG) == pid)
			fail_msg("peer %s exited before it was ready (status %d)", argv[1], st);
		nanosleep(&ts, NULL);
	}
	fail_msg("peer %s not ready after 10 s (%s)", argv[1], ready_path);
	return -1;
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static void start_kubelet(void)
{
	char py[300], pyout[300];
	char *argv[] = { "/usr/bin/python3", py, "--fixture", T.fixture, "--podresources", T.pr_sock,
			 "--pyout", pyout, NULL };

	snprintf(py, sizeof(py), "%s/tests/k8s/peers/grpc_peer.py", T.repo);
	snprintf(pyout, sizeof(pyout), "%s/py", T.tmp);
	unlink(T.pr_sock);
	T.kubelet = spawn(argv, T.pr_sock);
}

static void start_cri(void)
{
	char py[300], pyout[300];
	char *argv[] = { "/usr/bin/python3", py, "--fixture", T.fixture, "--cri", T.cri_sock,
			 "--pyout", pyout, NULL };

	snprintf(py, sizeof(py), "%s/tests/k8s/peers/grpc_peer.py", T.repo);
	snprintf(pyout, sizeof(pyout), "%s/py", T.tmp);
	unlink(T.cri_sock);
	T.cri = spawn(argv, T.cri_sock);
}

static void start_api(int rv_base)
{
	char py[300], port[16], rv[16], cert[300], key[300], tok[300], claims[300], slices[300],
		fault[300], log[300];
	char *argv[] = { "/usr/bin/python3", py, "--port", port, "--port-file", T.api_port_file,
			 "--cert", cert, "--key", key, "--token-file", tok, "--pods", T.api_pods,
			 "--claims", claims, "--slices", slices, "--fault-file", fault, "--rv-base", rv,
			 "--log", log, NULL };
	FILE *f;

	snprintf(py, sizeof(py), "%s/tests/k8s/peers/api_peer.py", T.repo);
	snprintf(port, sizeof(port), "%d", T.api_port);
	snprintf(rv, sizeof(rv), "%d", rv_base);
	snprintf(cert, sizeof(cert), "%s/api.crt", T.tmp);
	snprintf(key, sizeof(key), "%s/api.key", T.tmp);
	snprintf(tok, sizeof(tok), "%s/token-ok", T.tmp);
	snprintf(claims, sizeof(claims), "%s/fx/api-claims.json", T.tmp);
	snprintf(slices, sizeof(slices), "%s/fx/api-slices.json", T.tmp);
	snprintf(fault, sizeof(fault), "%s/api-fault", T.tmp);
	snprintf(log, sizeof(log), "%s/api-peer.log", T.tmp);
	unlink(T.api_port_file);
	T.api = spawn(argv, T.api_port_file);
	f = fopen(T.api_port_file, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &T.api_port), 1);
	fclose(f);
	snprintf(T.api_url, sizeof(T.api_url), "https://127.0.0.1:%d", T.api_port);
}

static void write_file(const char *name, const char *text)
{
	char path[400], tmp[410];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", T.tmp, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

/* A fault for the API server, once it took the one before */
static void api_fault(const char *what)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/api-fault", T.tmp);
	for (int i = 0; i < 250 && access(path, F_OK) == 0; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	write_file("api-fault", what);
}

/* Swap the pods the API server has (it turns the difference into watch events). */
static void use_api_pods(const char *name)
{
	char src[400], cmd[2000];

	snprintf(src, sizeof(src), "%s/fx/%s", T.tmp, name);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.new' && mv '%s.new' '%s'", src, T.api_pods,
		 T.api_pods, T.api_pods);
	assert_int_equal(system(cmd), 0);
}

/* Swap what the peers serve (they re-read the file when it changes). */
static void use_fixture(const char *name)
{
	char src[400], tmp[400], buf[65536];
	FILE *in, *out;
	size_t n;

	snprintf(src, sizeof(src), "%s/fx/%s", T.tmp, name);
	snprintf(tmp, sizeof(tmp), "%s.new", T.fixture);
	in = fopen(src, "r");
	out = fopen(tmp, "w");
	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	assert_int_equal(rename(tmp, T.fixture), 0);
}

/* ---- the node's pods, as tests/k8s/mkfixtures.py writes them ---- */

static const char *uid(int n)
{
	static char b[8][40];
	static int i;
	char *s = b[i++ % 8];

	snprintf(s, 40, "%08x-1111-4222-8333-%012x", n, n);
	return s;
}

static const char *cid(int n, int k)
{
	static char b[8][72];
	static int i;
	char *s = b[i++ % 8];

	snprintf(s, 72, "%02x%02x%s", n, k, "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	return s;
}

static const char *sid(int n)
{
	static char b[72];

	snprintf(b, sizeof(b), "%02xff%s", n, "555555555555555555555555555555555555555555555555555555555555");
	return b;
}

enum layout { SYSTEMD_BURSTABLE, SYSTEMD_GUARANTEED, CGROUPFS_BESTEFFORT, CGROUPFS_GUARANTEED, KIND,
	      CRIO_SYSTEMD };

static const char *cg(int n, const char *id, enum layout l)
{
	static char b[8][512];
	static int i;
	char *s = b[i++ % 8], u[40];

	snprintf(u, sizeof(u), "%s", uid(n));
	if (l == SYSTEMD_BURSTABLE || l == SYSTEMD_GUARANTEED || l == KIND || l == CRIO_SYSTEMD)
		for (char *p = u; *p; p++)
			if (*p == '-')
				*p = '_';
	switch (l) {
	case SYSTEMD_BURSTABLE:
		snprintf(s, 512, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
			 "cri-containerd-%s.scope", u, id);
		break;
	case SYSTEMD_GUARANTEED:
		snprintf(s, 512, "/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope", u, id);
		break;
	case CGROUPFS_BESTEFFORT:
		snprintf(s, 512, "/kubepods/besteffort/pod%s/%s", u, id);
		break;
	case CGROUPFS_GUARANTEED:
		snprintf(s, 512, "/kubepods/pod%s/%s", u, id);
		break;
	case KIND:
		snprintf(s, 512, "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
			 "kubelet-kubepods-besteffort-pod%s.slice/cri-containerd-%s.scope", u, id);
		break;
	case CRIO_SYSTEMD:
		snprintf(s, 512, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
			 "crio-%s.scope", u, id);
		break;
	}
	return s;
}

/* ---- resolve and check ---- */

static struct ag_source *cur_src(void)
{
	return T.src;
}

static struct ag_source *use_src;
static int use_efd;

static int resolve(const char *path, struct ag_tenant *t)
{
	struct ag_source *s = use_src ? use_src : cur_src();

	return s->resolve(s->ctx, path, t);
}

/* Resolve until the answer is want (waiting for the source's notifications), at most ms. */
static int resolve_until(const char *path, int want, struct ag_tenant *t, int ms)
{
	struct timespec a, b;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		struct pollfd pfd = { .fd = use_src ? use_efd : T.efd, .events = POLLIN };
		uint64_t v;
		long el;

		r = resolve(path, t);
		if (r == want)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &b);
		el = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		if (el >= ms)
			return r;
		if (poll(&pfd, 1, 50) > 0)
			(void)!read(pfd.fd, &v, sizeof(v));
	}
}

/* Whether the tenant may use major:minor, and with which flags (-1: not at all). */
static int dev_flags(const struct ag_tenant *t, unsigned int major, unsigned int minor)
{
	int flags = -1;

	for (unsigned int i = 0; i < t->n_devs; i++)
		if (t->devs[i].major == major && minor >= t->devs[i].lo && minor <= t->devs[i].hi)
			flags = (flags < 0 ? 0 : flags) | (int)t->devs[i].flags;
	return flags;
}

#define HAS(t, ma, mi, fl) \
	do { \
		int f_ = dev_flags(t, ma, mi); \
		if (f_ != (fl)) \
			fail_msg("%s/%s %s: device %u:%u has flags %d, expected %d", (t)->pod_namespace, \
				 (t)->pod_name, (t)->container_name, ma, mi, f_, fl); \
	} while (0)
#define LACKS(t, ma, mi) HAS(t, ma, mi, -1)

static void expect_container(const char *path, const char *ns, const char *pod, const char *ctr,
			     struct ag_tenant *t)
{
	int r = resolve_until(path, AG_R_DONE, t, 10000);

	if (r != AG_R_DONE)
		fail_msg("%s: resolve %d, expected done", path, r);
	assert_string_equal(t->pod_namespace, ns);
	assert_string_equal(t->pod_name, pod);
	assert_string_equal(t->container_name, ctr);
}

static void expect_nvidia_controls(const struct ag_tenant *t)
{
	HAS(t, 195, 255, AG_RF_SHARED);
	HAS(t, 195, 254, AG_RF_SHARED);
	HAS(t, UVM, 0, AG_RF_SHARED);
	HAS(t, UVM, 1, AG_RF_SHARED);
}

static void print_latency(const char *what)
{
	struct ag_k8s_stats st;

	assert_int_equal(ag_k8s_source_stats(use_src ? use_src : T.src, &st), 0);
	printf("    %s: %llu cgroups resolved after pending, last %.2f ms, max %.2f ms, mean %.2f ms\n",
	       what, (unsigned long long)st.resolved, st.lat_last_ns / 1e6, st.lat_max_ns / 1e6,
	       st.resolved ? st.lat_sum_ns / 1e6 / st.resolved : 0.0);
}

/* ---- scenarios ---- */

static void test_device_plugin_gpu(void **state)
{
	struct ag_tenant t;

	expect_container(cg(1, cid(1, 0), SYSTEMD_BURSTABLE), "ml", "train-dp", "trainer", &t);
	assert_int_equal(t.state, AG_P_TENANT);
	assert_string_equal(t.pod_uid, uid(1));
	assert_string_equal(t.container_id, cid(1, 0));
	HAS(&t, 195, 1, 0); /* GPU-3b... is minor 1 */
	LACKS(&t, 195, 0);
	LACKS(&t, 195, 2);
	expect_nvidia_controls(&t);
}

static void test_dra_claim(void **state)
{
	struct ag_tenant t;

	expect_container(cg(2, cid(2, 0), SYSTEMD_GUARANTEED), "ml", "infer-dra", "server", &t);
	assert_int_equal(t.state, AG_P_TENANT);
	HAS(&t, 195, 2, 0);  /* from /var/run/cdi ... */
	LACKS(&t, 195, 7);   /* ... which wins over the stale spec in /etc/cdi */
	LACKS(&t, 195, 1);
	expect_nvidia_controls(&t);
}

static void test_pod_without_gpu(void **state)
{
	struct ag_tenant t;

	expect_container(cg(3, cid(3, 0), CGROUPFS_BESTEFFORT), "web", "frontend", "nginx", &t);
	assert_int_equal(t.state, AG_P_TENANT);
	assert_int_equal(t.n_devs, 0);
	expect_container(cg(3, cid(3, 1), CGROUPFS_BESTEFFORT), "web", "frontend", "log", &t);
	assert_int_equal(t.n_devs, 0);
}

static void test_cross_tenant(void **state)
{
	struct ag_tenant a, b;

	expect_container(cg(1, cid(1, 0), SYSTEMD_BURSTABLE), "ml", "train-dp", "trainer", &a);
	expect_container(cg(4, cid(4, 0), SYSTEMD_BURSTABLE), "ml", "other-dp", "worker", &b);
	HAS(&a, 195, 1, 0);
	LACKS(&a, 195, 0);
	HAS(&b, 195, 0, 0);
	LACKS(&b, 195, 1);
	/* the control nodes are shared, never a reason for cross_tenant */
	HAS(&a, 195, 255, AG_RF_SHARED);
	HAS(&b, 195, 255, AG_RF_SHARED);
}

static void test_mig(void **state)
{
	struct ag_tenant t;

	/* MIG-GPU-<uuid>/<gi>/<ci>: parent minor 3, gpu3/gi1/access 417, gpu3/gi1/ci0/access 418 */
	expect_container(cg(5, cid(5, 0), CGROUPFS_GUARANTEED), "ml", "mig-legacy", "m", &t);
	HAS(&t, 195, 3, 0);
	HAS(&t, CAPS, 417, 0);
	HAS(&t, CAPS, 418, 0);
	LACKS(&t, CAPS, 426);
	expect_nvidia_controls(&t);
	/* MIG-<uuid>: through the CDI spec in /etc/cdi */
	expect_container(cg(6, cid(6, 0), CGROUPFS_GUARANTEED), "ml", "mig-new", "m", &t);
	HAS(&t, 195, 3, 0);
	HAS(&t, CAPS, 426, 0);
	HAS(&t, CAPS, 427, 0);
	LACKS(&t, CAPS, 417);
	expect_nvidia_controls(&t);
}

static void test_time_sliced(void **state)
{
	struct ag_tenant a, b;

	expect_container(cg(7, cid(7, 0), SYSTEMD_BURSTABLE), "ml", "ts-a", "c", &a);
	expect_container(cg(8, cid(8, 0), SYSTEMD_BURSTABLE), "ml", "ts-b", "c", &b);
	HAS(&a, 195, 2, 0);
	HAS(&b, 195, 2, 0);
}

static void test_index_ids(void **state)
{
	struct ag_tenant t;

	/* index 0 is the first GPU by PCI bus id (0000:3b:00.0), whose minor is 1 */
	expect_container(cg(10, cid(10, 0), KIND), "ml", "idx", "a", &t);
	HAS(&t, 195, 1, 0);
	LACKS(&t, 195, 0);
	/* MIG index "1:0" through the CDI spec */
	expect_container(cg(10, cid(10, 1), KIND), "ml", "idx", "b", &t);
	HAS(&t, 195, 0, 0);
	HAS(&t, CAPS, 12, 0);
	HAS(&t, CAPS, 13, 0);
}

static void test_other_vendor(void **state)
{
	struct ag_tenant t;

	expect_container(cg(13, cid(13, 0), CRIO_SYSTEMD), "amd", "rocm", "r", &t);
	HAS(&t, 226, 128, 0);
	HAS(&t, 1, 3, 0); /* a CDI node without numbers: stat() of its hostPath */
	LACKS(&t, 195, 255);
}

static void test_unmapped_id(void **state)
{
	struct ag_tenant t;

	expect_container(cg(14, cid(14, 0), SYSTEMD_BURSTABLE), "ml", "unmapped", "u", &t);
	assert_int_equal(t.state, AG_P_TENANT);
	assert_int_equal(t.n_devs, 0);
}

static void test_exempt(void **state)
{
	struct ag_tenant t;

	expect_container(cg(11, cid(11, 0), SYSTEMD_BURSTABLE), "gpu-operator", "dcgm-exporter-x7k",
			 "exporter", &t);
	assert_int_equal(t.state, AG_P_EXEMPT);
}

static void test_pod_level_cgroups(void **state)
{
	struct ag_tenant t;
	char path[512];

	/* the pause container: a tenant with nothing */
	expect_container(cg(1, sid(1), SYSTEMD_BURSTABLE), "ml", "train-dp", "", &t);
	assert_int_equal(t.state, AG_P_TENANT);
	assert_int_equal(t.n_devs, 0);
	/* the pod itself, and the kubepods levels: parents of tenants */
	snprintf(path, sizeof(path), "%s", cg(1, sid(1), SYSTEMD_BURSTABLE));
	*strrchr(path, '/') = '\0';
	assert_int_equal(resolve(path, &t), AG_R_DONE);
	assert_int_equal(t.state, AG_P_TENANT_PARENT);
	assert_string_equal(t.pod_uid, uid(1));
	assert_string_equal(t.pod_name, "train-dp");
	assert_int_equal(resolve("/kubepods.slice/kubepods-burstable.slice", &t), AG_R_DONE);
	assert_int_equal(t.state, AG_P_TENANT_PARENT);
	assert_int_equal(resolve("/system.slice/containerd.service", &t), AG_R_NOT_MINE);
	assert_int_equal(resolve("/", &t), AG_R_NOT_MINE);
	for (int i = 0; T.src->tenant_roots(T.src->ctx)[i]; i++)
		assert_int_equal(T.src->tenant_roots(T.src->ctx)[i][0], '/');
}

static void test_layouts(void **state)
{
	static const enum layout ls[] = { SYSTEMD_BURSTABLE, SYSTEMD_GUARANTEED, CGROUPFS_BESTEFFORT,
					  CGROUPFS_GUARANTEED, KIND, CRIO_SYSTEMD };
	struct ag_tenant t;

	for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
		expect_container(cg(1, cid(1, 0), ls[i]), "ml", "train-dp", "trainer", &t);
		HAS(&t, 195, 1, 0);
	}
}

static void test_new_container_pending(void **state)
{
	const char *path = cg(12, cid(12, 0), SYSTEMD_BURSTABLE);
	struct ag_tenant t;
	struct ag_k8s_stats st;

	assert_int_equal(resolve(path, &t), AG_R_PENDING);
	assert_int_equal(t.state, AG_P_UNRESOLVED);
	assert_string_equal(t.pod_uid, uid(12));
	assert_int_equal(ag_k8s_source_stats(T.src, &st), 0);
	assert_true(st.pending >= 1);
	/* the runtime and the kubelet learn of it */
	use_fixture("node-late.json");
	expect_container(path, "ml", "late", "main", &t);
	HAS(&t, 195, 3, 0);
	print_latency("new container");
}

static int wait_stat(bool (*cond)(const struct ag_k8s_stats *), int ms)
{
	struct ag_k8s_stats st;

	for (int i = 0; i < ms / 20; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		ag_k8s_source_stats(use_src ? use_src : T.src, &st);
		if (cond(&st))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static bool pr_down(const struct ag_k8s_stats *s)
{
	return !s->pr_up;
}

static bool pr_up(const struct ag_k8s_stats *s)
{
	return s->pr_up;
}

static bool cri_down(const struct ag_k8s_stats *s)
{
	return !s->cri_up;
}

static bool cri_up(const struct ag_k8s_stats *s)
{
	return s->cri_up;
}

static void test_kubelet_restart(void **state)
{
	const char *late = cg(16, cid(16, 0), CGROUPFS_BESTEFFORT);
	struct ag_tenant t;

	stop(&T.kubelet);
	unlink(T.pr_sock);
	assert_int_equal(wait_stat(pr_down, 5000), 0);
	/* what was known stays known */
	expect_container(cg(1, cid(1, 0), SYSTEMD_BURSTABLE), "ml", "train-dp", "trainer", &t);
	HAS(&t, 195, 1, 0);
	/* a pod that came while the kubelet was away: the CRI names it, its allocation waits */
	use_fixture("node-late2.json");
	assert_int_equal(resolve_until(late, AG_R_DONE, &t, 1500), AG_R_PENDING);
	assert_string_equal(t.pod_name, "late2");
	assert_int_equal(t.state, AG_P_UNRESOLVED);
	start_kubelet();
	expect_container(late, "ml", "late2", "main", &t);
	HAS(&t, 195, 1, 0);
	assert_int_equal(wait_stat(pr_up, 5000), 0);
	print_latency("across a kubelet restart");
}

static void test_malformed(void **state)
{
	struct ag_tenant t;
	struct ag_k8s_stats a, b;

	ag_k8s_source_stats(T.src, &a);
	use_fixture("node-pr-garbage.json");
	assert_int_equal(wait_stat(pr_down, 5000), 0);
	expect_container(cg(1, cid(1, 0), SYSTEMD_BURSTABLE), "ml", "train-dp", "trainer", &t);
	HAS(&t, 195, 1, 0);
	use_fixture("node-pr-internal.json");
	{
		struct timespec ts = { 1, 0 };

		nanosleep(&ts, NULL);
	}
	use_fixture("node-cri-garbage.json");
	assert_int_equal(wait_stat(cri_down, 5000), 0);
	expect_container(cg(4, cid(4, 0), SYSTEMD_BURSTABLE), "ml", "other-dp", "worker", &t);
	HAS(&t, 195, 0, 0);
	use_fixture("node-late2.json");
	assert_int_equal(wait_stat(pr_up, 5000), 0);
	assert_int_equal(wait_stat(cri_up, 5000), 0);
	ag_k8s_source_stats(T.src, &b);
	assert_true(b.pr_errors > a.pr_errors);
	assert_true(b.cri_errors > a.cri_errors);
}


/* ---- the Kubernetes API ---- */

static bool api_up(const struct ag_k8s_stats *s)
{
	return s->api_up;
}

static bool api_down(const struct ag_k8s_stats *s)
{
	return !s->api_up;
}

static uint64_t relists_before;

static bool api_relisted(const struct ag_k8s_stats *s)
{
	return s->api_relists > relists_before && s->api_up;
}

/* Wait until the device carries the flags (a claim fetched from the API adds adminAccess). */
static void wait_flags(const char *path, unsigned int ma, unsigned int mi, int flags, struct ag_tenant *t)
{
	for (int i = 0; i < 250; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (resolve(path, t) == AG_R_DONE && dev_flags(t, ma, mi) == flags)
			return;
		nanosleep(&ts, NULL);
	}
	HAS(t, ma, mi, flags);
}

static void test_admin_access(void **state)
{
	struct ag_tenant t;
	const char *path = cg(9, cid(9, 0), SYSTEMD_BURSTABLE);

	expect_container(path, "ops", "debug-admin", "dbg", &t);
	/* the ResourceClaim's result says adminAccess: verdict admin, not allowed */
	wait_flags(path, 195, 0, AG_RF_ADMIN, &t);
	/* an ordinary claim stays ordinary */
	wait_flags(cg(2, cid(2, 0), SYSTEMD_BURSTABLE), 195, 2, 0, &t);
}

/* A second source with the API and no CRI: the API's pod status alone joins cgroups to pods. */
static void test_api_only_join(void **state)
{
	static char *sa_runner = "runner";
	static struct ag_cfg_exempt_k8s ex[] = { { .service_account = NULL } };
	const char *cdi[2];
	char cdi_etc[300], cdi_run[300], proc[300], token[300], ca[300], err[512];
	struct ag_k8s_options o = { 0 };
	struct ag_tenant t;

	ex[0].service_account = sa_runner;
	snprintf(cdi_etc, sizeof(cdi_etc), "%s/cdi/etc", T.tmp);
	snprintf(cdi_run, sizeof(cdi_run), "%s/cdi/run", T.tmp);
	snprintf(proc, sizeof(proc), "%s/tests/k8s/fixtures/proc", T.repo);
	snprintf(token, sizeof(token), "%s/token", T.tmp);
	snprintf(ca, sizeof(ca), "%s/ca.crt", T.tmp);
	cdi[0] = cdi_etc;
	cdi[1] = cdi_run;
	o.podresources_socket = T.pr_sock;
	o.cri_socket = "off";
	o.api_server = T.api_url;
	o.token_file = token;
	o.ca_file = ca;
	o.node_name = "node-a";
	o.proc = proc;
	o.cdi_dirs = cdi;
	o.n_cdi_dirs = 2;
	o.exempt = ex;
	o.n_exempt = 1;
	o.resync_ms = 300;
	o.backoff_max_ms = 300;
	o.rpc_timeout_ms = 3000;
	o.watch_timeout_s = 5;
	T.efd_b = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	T.src_b = ag_k8s_source_new(&o, T.efd_b, err, sizeof(err));
	if (!T.src_b)
		fail_msg("ag_k8s_source_new: %s", err);
	use_src = T.src_b;
	use_efd = T.efd_b;
	assert_int_equal(wait_stat(api_up, 10000), 0);
	expect_container(cg(1, cid(1, 0), SYSTEMD_BURSTABLE), "ml", "train-dp", "trainer", &t);
	HAS(&t, 195, 1, 0);
	expect_container(cg(4, cid(4, 0), CGROUPFS_BESTEFFORT), "ml", "other-dp", "worker", &t);
	HAS(&t, 195, 0, 0);
	/* known to the API only, exempt by its service account */
	expect_container(cg(15, cid(15, 0), SYSTEMD_BURSTABLE), "team-b", "api-only", "job", &t);
	assert_int_equal(t.state, AG_P_EXEMPT);
	/* the pod cgroup is named from the API too */
	assert_int_equal(resolve("/kubepods/burstable/pod00000004-1111-4222-8333-000000000004", &t),
			 AG_R_DONE);
	assert_string_equal(t.pod_name, "other-dp");
}

static void test_api_watch_events(void **state)
{
	const char *path = cg(12, cid(12, 0), SYSTEMD_BURSTABLE);
	struct ag_tenant t;

	use_src = T.src_b;
	use_efd = T.efd_b;
	assert_int_equal(resolve(path, &t), AG_R_PENDING); /* not in the API yet, no CRI */
	use_api_pods("api-pods-late.json");                /* ADDED events */
	expect_container(path, "ml", "late", "main", &t);
	HAS(&t, 195, 3, 0);
	print_latency("API watch ADDED");
}

/* Wait until the source's log (this process's stderr: run.sh sends it to $K8S_TEST_TMP/log)
 * holds a line with the text. */
static int wait_log(const char *text, int ms)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/log", T.tmp);
	for (int waited = 0; waited <= ms; waited += 20) {
		char *line = NULL;
		size_t cap = 0;
		bool found = false;
		FILE *f = fopen(path, "r");

		while (f && !found && getline(&line, &cap, f) > 0)
			found = strstr(line, text) != NULL;
		free(line);
		if (f)
			fclose(f);
		if (found)
			return 0;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	return -ETIMEDOUT;
}

static void test_api_gone_and_garbage(void **state)
{
	struct ag_k8s_stats st;
	struct ag_tenant t;

	use_src = T.src_b;
	use_efd = T.efd_b;
	ag_k8s_source_stats(T.src_b, &st);
	relists_before = st.api_relists;
	api_fault("gone\n");
	assert_int_equal(wait_stat(api_relisted, 5000), 0);
	ag_k8s_source_stats(T.src_b, &st);
	relists_before = st.api_relists;
	/* Two sources share the API server, so which one's watch request gets the HTTP 410 is open:
	 * wait for the source's own log line (run.sh expects it), then for src_b to be up again. */
	api_fault("gone-http\n");
	api_fault("garbage\n");
	assert_int_equal(wait_log("410 Gone: relisting", 5000), 0);
	assert_int_equal(wait_stat(api_relisted, 5000), 0);
	expect_container(cg(12, cid(12, 0), SYSTEMD_BURSTABLE), "ml", "late", "main", &t);
	HAS(&t, 195, 3, 0);
}

static void test_api_down_then_up(void **state)
{
	struct ag_k8s_stats st;
	struct ag_tenant t;

	use_src = T.src_b;
	use_efd = T.efd_b;
	stop(&T.api);
	assert_int_equal(wait_stat(api_down, 10000), 0);
	{
		struct timespec ts = { 1, 0 }; /* long enough to find nobody listening */

		nanosleep(&ts, NULL);
	}
	/* the pods known stay known */
	expect_container(cg(1, cid(1, 0), SYSTEMD_BURSTABLE), "ml", "train-dp", "trainer", &t);
	HAS(&t, 195, 1, 0);
	/* meanwhile: the token rotates, pod "late" goes away; the server comes back with newer
	 * resourceVersions (the watch must relist) */
	write_file("token", "token-two\n");
	write_file("token-ok", "token-two\n");
	use_api_pods("api-pods.json");
	ag_k8s_source_stats(T.src_b, &st);
	relists_before = st.api_relists;
	start_api(5000);
	assert_int_equal(wait_stat(api_relisted, 10000), 0);
	assert_int_equal(resolve_until(cg(12, cid(12, 0), SYSTEMD_BURSTABLE), AG_R_PENDING, &t, 3000),
			 AG_R_PENDING);
	expect_container(cg(1, cid(1, 0), SYSTEMD_BURSTABLE), "ml", "train-dp", "trainer", &t);
	HAS(&t, 195, 1, 0);
	/* the source with the CRI never depended on the API for these */
	use_src = NULL;
	expect_container(cg(12, cid(12, 0), SYSTEMD_BURSTABLE), "ml", "late", "main", &t);
}

/* ---- setup ---- */

static int setup(void **state)
{
	static const char *cdi[2];
	static char cdi_etc[300], cdi_run[300], proc[300];
	static char *lk[] = { "app" }, *lv[] = { "nvidia-dcgm-exporter" };
	static struct ag_cfg_exempt_k8s ex[] = {
		{ .namespace = "kube-system" },
		{ .namespace = "gpu-operator", .label_keys = lk, .label_values = lv, .n_labels = 1 },
	};
	struct ag_k8s_options o = { 0 };
	static char token[300], ca[300];
	char err[512];

	T.tmp = getenv("K8S_TEST_TMP");
	T.repo = getenv("K8S_TEST_REPO");
	if (!T.tmp || !T.repo) {
		fprintf(stderr, "run me through tests/k8s/run.sh\n");
		return -1;
	}
	snprintf(T.pr_sock, sizeof(T.pr_sock), "%s/kubelet.sock", T.tmp);
	snprintf(T.cri_sock, sizeof(T.cri_sock), "%s/containerd.sock", T.tmp);
	snprintf(T.fixture, sizeof(T.fixture), "%s/node.json", T.tmp);
	snprintf(cdi_etc, sizeof(cdi_etc), "%s/cdi/etc", T.tmp);
	snprintf(cdi_run, sizeof(cdi_run), "%s/cdi/run", T.tmp);
	snprintf(proc, sizeof(proc), "%s/tests/k8s/fixtures/proc", T.repo);
	cdi[0] = cdi_etc;
	cdi[1] = cdi_run;
	snprintf(T.api_port_file, sizeof(T.api_port_file), "%s/api.port", T.tmp);
	snprintf(T.api_pods, sizeof(T.api_pods), "%s/api-pods.json", T.tmp);
	snprintf(token, sizeof(token), "%s/token", T.tmp);
	snprintf(ca, sizeof(ca), "%s/ca.crt", T.tmp);
	write_file("token", "token-one\n");
	write_file("token-ok", "token-one\n");
	use_fixture("node.json");
	use_api_pods("api-pods.json");
	start_kubelet();
	start_cri();
	start_api(1000);
	T.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	o.podresources_socket = T.pr_sock;
	o.cri_socket = T.cri_sock;
	o.api_server = T.api_url;
	o.token_file = token;
	o.ca_file = ca;
	o.node_name = "node-a";
	o.proc = proc;
	o.cdi_dirs = cdi;
	o.n_cdi_dirs = 2;
	o.exempt = ex;
	o.n_exempt = 2;
	o.resync_ms = 300;
	o.backoff_max_ms = 300;
	o.rpc_timeout_ms = 3000;
	T.src = ag_k8s_source_new(&o, T.efd, err, sizeof(err));
	if (!T.src) {
		fprintf(stderr, "ag_k8s_source_new: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	if (T.src)
		T.src->destroy(T.src->ctx);
	if (T.src_b)
		T.src_b->destroy(T.src_b->ctx);
	stop(&T.kubelet);
	stop(&T.cri);
	stop(&T.api);
	if (T.efd_b > 0)
		close(T.efd_b);
	if (T.efd > 0)
		close(T.efd);
	return 0;
}

/* Resolve until the API has told the source of the pod (its name is known), up to ms. */
static bool api_names(const char *path, const char *pod, int ms)
{
	struct ag_tenant t;

	for (int i = 0; i < ms / 20; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		resolve(path, &t);
		if (!strcmp(t.pod_name, pod))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Issue 19.9: one object over the JSON bound (a pod of 10,000 containers) is refused alone: the
 * ADDED event after it in the same write is applied, and a list that holds both applies the rest. */
static void test_api_oversized_alone(void **state)
{
	const char *after = cg(17, cid(17, 0), SYSTEMD_BURSTABLE);
	const char *listed = cg(18, cid(18, 0), SYSTEMD_BURSTABLE);
	struct ag_k8s_stats st;
	struct ag_tenant t;
	uint64_t refused;

	(void)state;
	use_src = T.src_b;
	use_efd = T.efd_b;
	ag_k8s_source_stats(T.src_b, &st);
	refused = st.api_refused;
	assert_int_equal(resolve(after, &t), AG_R_PENDING);
	assert_string_equal(t.pod_name, ""); /* the API does not know it yet */
	api_fault("oversized 17\n");
	assert_true(api_names(after, "after-17", 10000));
	ag_k8s_source_stats(T.src_b, &st);
	assert_true(st.api_refused > refused);
	assert_int_equal(wait_log("watch event refused (its ", 5000), 0);
	/* a relist: the list holds the huge pod, pod 18 (only the list shows it) and the rest */
	refused = st.api_refused;
	relists_before = st.api_relists;
	api_fault("list-only 18\n");
	assert_int_equal(wait_stat(api_relisted, 10000), 0);
	assert_true(api_names(listed, "after-18", 10000));
	assert_true(api_names(after, "after-17", 1000));
	ag_k8s_source_stats(T.src_b, &st);
	assert_true(st.api_refused > refused);
	assert_int_equal(wait_log(" refused: its ", 5000), 0);
}

/* ---- messages whatever the input's length (issue 19.10) ---- */

static char cdi_msg[8192];
static int cdi_n_msg;

static void cdi_keep(void *arg, const char *msg)
{
	(void)arg;
	snprintf(cdi_msg, sizeof(cdi_msg), "%s", msg);
	cdi_n_msg++;
}

/* A spec in a directory of about 1,000 characters: its warning names the whole path and the
 * problem (it was cut before the problem). */
static void test_cdi_long_directory(void **state)
{
	char dir[1200], file[1300], want[1500];
	const char *dirs[1] = { dir };
	struct ag_cdi_cache c;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/cdi-long", T.tmp);
	assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
	while (strlen(dir) < 1000) {
		size_t n = strlen(dir);

		if (n + 202 > sizeof(dir))
			break;
		dir[n] = '/';
		memset(dir + n + 1, 'd', 200);
		dir[n + 201] = 0;
		assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
	}
	snprintf(file, sizeof(file), "%s/spec.yaml", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("cdiVersion: 0.6.0\nkind: notavendorclass\ndevices: []\n", f);
	fclose(f);
	cdi_n_msg = 0;
	assert_int_equal(ag_cdi_load(&c, dirs, 1, NULL, cdi_keep, NULL), 0);
	snprintf(want, sizeof(want), "cdi: %s: kind 'notavendorclass' is not vendor.com/class", file);
	assert_int_equal(cdi_n_msg, 1);
	assert_string_equal(cdi_msg, want);
	ag_cdi_free(&c);
	unlink(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_plugin_gpu),
		cmocka_unit_test(test_dra_claim),
		cmocka_unit_test(test_pod_without_gpu),
		cmocka_unit_test(test_cross_tenant),
		cmocka_unit_test(test_mig),
		cmocka_unit_test(test_time_sliced),
		cmocka_unit_test(test_index_ids),
		cmocka_unit_test(test_other_vendor),
		cmocka_unit_test(test_unmapped_id),
		cmocka_unit_test(test_exempt),
		cmocka_unit_test(test_pod_level_cgroups),
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_new_container_pending),
		cmocka_unit_test(test_kubelet_restart),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_admin_access),
		cmocka_unit_test(test_api_only_join),
		cmocka_unit_test(test_api_watch_events),
		cmocka_unit_test(test_api_gone_and_garbage),
		cmocka_unit_test(test_api_oversized_alone),
		cmocka_unit_test(test_api_down_then_up),
		cmocka_unit_test(test_cdi_long_directory),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("k8s_source", tests, setup, teardown);
}
