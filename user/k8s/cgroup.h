/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kubelet's pod cgroups: a cgroup path (relative to the cgroup2 root) -> pod UID and container
 * id, for the cgroupfs and systemd drivers, every QoS class, containerd, CRI-O, cri-dockerd, and
 * kubelets whose cgroup root is nested (kind: /kubelet.slice/kubelet-kubepods.slice/...).
 */
#ifndef AG_K8S_CGROUP_H
#define AG_K8S_CGROUP_H

#include "source.h"

enum ag_k8s_cg_kind {
	AG_K8S_CG_NONE = 0,      /* not a kubelet cgroup, and no container either */
	AG_K8S_CG_KUBEPODS = 1,  /* the kubepods root or a QoS class below it */
	AG_K8S_CG_POD = 2,       /* a pod's cgroup, or a child of it that is no container (crio-conmon) */
	AG_K8S_CG_CONTAINER = 3, /* a container of a pod (or a cgroup below one) */
	AG_K8S_CG_BARE = 4,      /* a container outside any pod (docker-<id>.scope, ...) */
};

enum ag_k8s_qos {
	AG_QOS_NONE = 0,
	AG_QOS_GUARANTEED = 1,
	AG_QOS_BURSTABLE = 2,
	AG_QOS_BESTEFFORT = 3,
};

enum ag_k8s_runtime {
	AG_RT_UNKNOWN = 0, /* a bare id: containerd or docker under the cgroupfs driver */
	AG_RT_CONTAINERD = 1,
	AG_RT_CRIO = 2,
	AG_RT_DOCKER = 3,
};

struct ag_k8s_cgroup {
	int kind;    /* enum ag_k8s_cg_kind */
	int qos;     /* enum ag_k8s_qos, for KUBEPODS (below the root), POD and CONTAINER */
	int runtime; /* enum ag_k8s_runtime, for CONTAINER and BARE */
	char pod_uid[AG_UID_LEN];         /* dashes restored ("_" of systemd slice names -> "-") */
	char container_id[AG_CID_LEN];    /* lower-case hex */
};

/* Parse a cgroup path. Returns 0 (out->kind says what it is, AG_K8S_CG_NONE included) or -EINVAL
 * for a path that is not absolute. */
int ag_k8s_cgroup_parse(const char *path, struct ag_k8s_cgroup *out);

/* The cgroups under which the kubelet makes pod cgroups, for both drivers; NULL-terminated. */
extern const char *const ag_k8s_default_tenant_roots[];

const char *ag_k8s_qos_name(int qos);

#endif
