// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the kubelet cgroup path parser against the real path shapes of each driver,
 * QoS class and runtime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "k8s/cgroup.h"

#define UID "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
#define UID_ "0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b"
#define CID "4a7d21b3c9e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829"

struct shape {
	const char *path;
	int kind, qos, runtime;
	const char *uid, *cid;
};

static void check(const struct shape *s)
{
	struct ag_k8s_cgroup cg;

	assert_int_equal(ag_k8s_cgroup_parse(s->path, &cg), 0);
	if (cg.kind != s->kind)
		fail_msg("%s: kind %d, expected %d", s->path, cg.kind, s->kind);
	if (s->kind == AG_K8S_CG_NONE)
		return;
	if (s->kind != AG_K8S_CG_BARE && cg.qos != s->qos)
		fail_msg("%s: qos %s, expected %s", s->path, ag_k8s_qos_name(cg.qos), ag_k8s_qos_name(s->qos));
	assert_string_equal(cg.pod_uid, s->uid ? s->uid : "");
	assert_string_equal(cg.container_id, s->cid ? s->cid : "");
	if (s->cid && cg.runtime != s->runtime)
		fail_msg("%s: runtime %d, expected %d", s->path, cg.runtime, s->runtime);
}

static void run(const struct shape *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check(&s[i]);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_cgroupfs(void **state)
{
	static const struct shape s[] = {
		{ "/kubepods", AG_K8S_CG_KUBEPODS, AG_QOS_NONE, 0, NULL, NULL },
		{ "/kubepods/burstable", AG_K8S_CG_KUBEPODS, AG_QOS_BURSTABLE, 0, NULL, NULL },
		{ "/kubepods/besteffort/pod" UID, AG_K8S_CG_POD, AG_QOS_BESTEFFORT, 0, UID, NULL },
		{ "/kubepods/burstable/pod" UID "/" CID, AG_K8S_CG_CONTAINER, AG_QOS_BURSTABLE,
		  AG_RT_UNKNOWN, UID, CID },
		{ "/kubepods/besteffort/pod" UID "/" CID, AG_K8S_CG_CONTAINER, AG_QOS_BESTEFFORT,
		  AG_RT_UNKNOWN, UID, CID },
		{ "/kubepods/pod" UID "/" CID, AG_K8S_CG_CONTAINER, AG_QOS_GUARANTEED, AG_RT_UNKNOWN,
		  UID, CID },
		{ "/kubepods/pod" UID, AG_K8S_CG_POD, AG_QOS_GUARANTEED, 0, UID, NULL },
		/* CRI-O with cgroupfs */
		{ "/kubepods/burstable/pod" UID "/crio-" CID, AG_K8S_CG_CONTAINER, AG_QOS_BURSTABLE,
		  AG_RT_CRIO, UID, CID },
		{ "/kubepods/burstable/pod" UID "/crio-conmon-" CID, AG_K8S_CG_POD, AG_QOS_BURSTABLE, 0,
		  UID, NULL },
		/* a cgroup a container made below its own */
		{ "/kubepods/pod" UID "/" CID "/init.scope", AG_K8S_CG_CONTAINER, AG_QOS_GUARANTEED,
		  AG_RT_UNKNOWN, UID, CID },
		/* kind with cgroupfs: --cgroup-root=/kubelet */
		{ "/kubelet/kubepods/besteffort/pod" UID "/" CID, AG_K8S_CG_CONTAINER, AG_QOS_BESTEFFORT,
		  AG_RT_UNKNOWN, UID, CID },
		/* upper-case hex in a path is folded */
		{ "/kubepods/pod0F1E2D3C-4B5A-6978-8A9B-0C1D2E3F4A5B/" CID, AG_K8S_CG_CONTAINER,
		  AG_QOS_GUARANTEED, AG_RT_UNKNOWN, UID, CID },
		/* static pod: the UID is a 32-digit hash */
		{ "/kubepods/burstable/pod6e3d1f1f8a8b4c9eb0d2c1a4f5e6d7c8/" CID, AG_K8S_CG_CONTAINER,
		  AG_QOS_BURSTABLE, AG_RT_UNKNOWN, "6e3d1f1f8a8b4c9eb0d2c1a4f5e6d7c8", CID },
	};
	run(s, N(s));
}

static void test_systemd(void **state)
{
	static const struct shape s[] = {
		{ "/kubepods.slice", AG_K8S_CG_KUBEPODS, AG_QOS_NONE, 0, NULL, NULL },
		{ "/kubepods.slice/kubepods-besteffort.slice", AG_K8S_CG_KUBEPODS, AG_QOS_BESTEFFORT, 0,
		  NULL, NULL },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
		  AG_K8S_CG_POD, AG_QOS_BURSTABLE, 0, UID, NULL },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/cri-containerd-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_BURSTABLE, AG_RT_CONTAINERD, UID, CID },
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		  ".slice/cri-containerd-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_BESTEFFORT, AG_RT_CONTAINERD, UID, CID },
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_GUARANTEED, AG_RT_CONTAINERD, UID, CID },
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope", AG_K8S_CG_CONTAINER,
		  AG_QOS_GUARANTEED, AG_RT_CRIO, UID, CID },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/crio-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_BURSTABLE, AG_RT_CRIO, UID, CID },
		/* CRI-O's monitor is in the pod but is no container */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/crio-conmon-" CID ".scope",
		  AG_K8S_CG_POD, AG_QOS_BURSTABLE, 0, UID, NULL },
		/* CRI-O's nested "container" cgroup (systemd in the container) */
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope/container",
		  AG_K8S_CG_CONTAINER, AG_QOS_GUARANTEED, AG_RT_CRIO, UID, CID },
		/* cri-dockerd */
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		  ".slice/docker-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_BESTEFFORT, AG_RT_DOCKER, UID, CID },
		/* something else in a pod slice */
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/other.scope", AG_K8S_CG_POD,
		  AG_QOS_GUARANTEED, 0, UID, NULL },
	};
	run(s, N(s));
}

static void test_kind(void **state)
{
	static const struct shape s[] = {
		{ "/kubelet.slice/kubelet-kubepods.slice", AG_K8S_CG_KUBEPODS, AG_QOS_NONE, 0, NULL,
		  NULL },
		{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
		  "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_BESTEFFORT, AG_RT_CONTAINERD, UID, CID },
		{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" UID_
		  ".slice/cri-containerd-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_GUARANTEED, AG_RT_CONTAINERD, UID, CID },
		/* the same seen from the host: below the kind node's own container */
		{ "/system.slice/docker-1111111111111111111111111111111111111111111111111111111111111111.scope/"
		  "kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
		  "kubelet-kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID ".scope",
		  AG_K8S_CG_CONTAINER, AG_QOS_BURSTABLE, AG_RT_CONTAINERD, UID, CID },
	};
	run(s, N(s));
}

static void test_outside(void **state)
{
	static const struct shape s[] = {
		{ "/", AG_K8S_CG_NONE, 0, 0, NULL, NULL },
		{ "/system.slice/sshd.service", AG_K8S_CG_NONE, 0, 0, NULL, NULL },
		{ "/user.slice/user-1000.slice/session-2.scope", AG_K8S_CG_NONE, 0, 0, NULL, NULL },
		{ "/system.slice/docker-" CID ".scope", AG_K8S_CG_BARE, 0, AG_RT_DOCKER, NULL, CID },
		{ "/docker/" CID, AG_K8S_CG_BARE, 0, AG_RT_DOCKER, NULL, CID },
		{ "/system.slice/containerd.service", AG_K8S_CG_NONE, 0, 0, NULL, NULL },
		/* look-alikes */
		{ "/kubepods/burstable/podnot-a-uid/" CID, AG_K8S_CG_NONE, 0, 0, NULL, NULL },
		{ "/kubepods/pod" UID "/xyz", AG_K8S_CG_POD, AG_QOS_GUARANTEED, 0, UID, NULL },
		{ "/kubepods/pod" UID "/" "4a7d21", AG_K8S_CG_POD, AG_QOS_GUARANTEED, 0, UID, NULL },
		{ "/mykubepods/pod" UID "/" CID, AG_K8S_CG_NONE, 0, 0, NULL, NULL },
	};
	struct ag_k8s_cgroup cg;

	run(s, N(s));
	assert_int_equal(ag_k8s_cgroup_parse("kubepods", &cg), -EINVAL);
}

static void test_roots(void **state)
{
	for (int i = 0; ag_k8s_default_tenant_roots[i]; i++) {
		struct ag_k8s_cgroup cg;

		assert_int_equal(ag_k8s_cgroup_parse(ag_k8s_default_tenant_roots[i], &cg), 0);
		assert_int_equal(cg.kind, AG_K8S_CG_KUBEPODS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroupfs),
		cmocka_unit_test(test_systemd),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_outside),
		cmocka_unit_test(test_roots),
	};

	return cmocka_run_group_tests_name("k8s_cgroup", tests, NULL, NULL);
}
