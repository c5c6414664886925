/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A container's OCI bundle (layer 1, part oci): the runtime writes config.json before runc
 * creates the container's cgroup, so what it says is known before the container's first
 * instruction. Read here: the CRI's identity annotations (containerd io.kubernetes.cri.*, CRI-O
 * io.kubernetes.cri-o.ContainerType and the kubelet's io.kubernetes.*), linux.devices,
 * linux.resources.devices, process.capabilities, process.env (the accelerator visibility
 * variables) and the bind mounts of /dev paths.
 *
 * Where the bundles are (the runtime's state, tmpfs):
 *   containerd  <state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json
 *               (state /run/containerd, namespace k8s.io for the CRI)
 *   CRI-O       <runroot>/<driver>-containers/<id>/userdata/config.json
 *               (runroot /run/containers/storage, driver overlay)
 */
#ifndef AG_K8S_OCI_H
#define AG_K8S_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds (hostile or broken config.json): more is refused naming the file. */
#define K8S_OCI_MAX_BYTES  (8u << 20) /* a privileged container lists every host device */
#define K8S_OCI_MAX_DEPTH  32
#define K8S_OCI_MAX_DEVS   8192u
#define K8S_OCI_MAX_RULES  8192u
#define K8S_OCI_MAX_MOUNTS 4096u
#define K8S_OCI_ANY        (-1)     /* a rule's major or minor "any" */

/* the default bundle directories, each searched as DIR/<id>/config.json and
 * DIR/<id>/userdata/config.json */
extern const char *const k8s_oci_default_dirs[];

struct k8s_oci_dev {
	char *path;
	char type;             /* 'c', 'b', 'u', 'p' */
	uint32_t major, minor;
};

struct k8s_oci_rule {
	bool allow;
	char type;             /* 'a' (all), 'c', 'b' */
	int64_t major, minor;  /* K8S_OCI_ANY for any */
	char access[4];        /* subset of "rwm" */
};

struct k8s_oci {
	char *file;            /* the config.json read */
	int runtime;           /* enum ag_k8s_runtime: AG_RT_CONTAINERD or AG_RT_CRIO by the annotations */
	bool sandbox;          /* the pod's sandbox (pause) container */
	bool has_identity;     /* namespace, pod and container name (or sandbox) known */
	char *pod_ns, *pod_name, *pod_uid, *container_name, *sandbox_id;
	struct k8s_oci_dev *devs;
	size_t n_devs;
	struct k8s_oci_rule *rules; /* in order: the last rule that matches decides */
	size_t n_rules;
	char **dev_mounts;     /* sources of bind mounts of /dev or a path below it */
	size_t n_dev_mounts;
	bool cap_mknod, cap_sys_admin; /* in the bounding set */
	char *env_nvidia;      /* NVIDIA_VISIBLE_DEVICES, NULL when unset */
	char *env_amd;         /* AMD_VISIBLE_DEVICES or DOCKER_RESOURCE_* (the last of them, as the
				* AMD runtime reads them), NULL when unset */
	char *env_amd_var;     /* the name of env_amd's variable */
	char *env_cuda_version; /* CUDA_VERSION: with NVIDIA_REQUIRE_CUDA unset, a legacy image */
	bool env_require_cuda; /* NVIDIA_REQUIRE_CUDA set */
};

/* Parse config.json from memory (name: for errors). 0, or -EINVAL / -E2BIG / -ENOMEM with err
 * naming the file and the cause; o is then empty. The fuzz and unit entry point. */
int k8s_oci_parse(const char *buf, size_t len, const char *name, struct k8s_oci *o, char *err,
		  size_t errlen);
/* Read and parse a file (at most K8S_OCI_MAX_BYTES). 0 or -errno with err. */
int k8s_oci_load(const char *file, struct k8s_oci *o, char *err, size_t errlen);
void k8s_oci_free(struct k8s_oci *o);

/* The bundle of container id under dirs (n of them): its config.json path into out. 0, -ENOENT,
 * or -EINVAL for an id that is no plain name. */
int k8s_oci_find(const char *const *dirs, size_t n, const char *id, char *out, size_t outlen);

/* The device cgroup's answer for a character device: the last matching rule, NULL when denied
 * (or when the allowing rule gives neither r nor w). */
const struct k8s_oci_rule *k8s_oci_rule_for(const struct k8s_oci *o, uint32_t major, uint32_t minor);
/* A rule as "c 195:* rwm" (docker's --device-cgroup-rule syntax). */
void k8s_oci_rule_str(const struct k8s_oci_rule *r, char *out, size_t outlen);
/* Privileged: every device allowed (an allow-all rule that stands) and CAP_SYS_ADMIN. */
bool k8s_oci_privileged(const struct k8s_oci *o);

#endif
