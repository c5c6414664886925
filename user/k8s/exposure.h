/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Exposure (layer 2, part exposure): which of the host's accelerator nodes a container's OCI
 * spec lets it reach, and why, beyond its allocation (k8s.h AG_K8S_X_*).
 */
#ifndef AG_K8S_EXPOSURE_H
#define AG_K8S_EXPOSURE_H

#include "amd.h"
#include "k8s.h"
#include "nvidia.h"
#include "oci.h"

/* An accelerator node of the host (no vendor control node: those go with any GPU). */
struct k8s_hostdev {
	char path[128];
	uint32_t major, minor;
	bool nvidia_gpu;       /* class nvidia-gpu: NVIDIA_VISIBLE_DEVICES selects among these */
	bool drm;              /* a DRM card or render node: AMD_VISIBLE_DEVICES selects among these */
};

#define K8S_HOSTDEV_MAX 4096

struct ag_devtab;
/* The accelerator nodes under dev_dir ("/dev": itself and one level of directories, symlinks
 * not followed) that dt classifies as accelerators and no control node, and the GPUs of nv
 * (as /dev/nvidia<minor>) not found there. *out is malloc'ed. 0 or -errno. */
int k8s_hostdevs_scan(const char *dev_dir, const struct ag_devtab *dt, const struct ag_nv_table *nv,
		      struct k8s_hostdev **out, size_t *n);

/* What o reaches among the n host nodes hd beyond the n_alloc ranges alloc (nv: the GPUs that
 * NVIDIA_VISIBLE_DEVICES's indexes and UUIDs name; amd: those of AMD_VISIBLE_DEVICES, NULL: "all"
 * is every DRM node and a list names none; both may be NULL). Returns the number of exposed
 * devices (out->n + out->more), or -ENOMEM. */
int k8s_exposure_compute(const struct k8s_oci *o, const struct k8s_hostdev *hd, size_t n,
			 const struct ag_dev_range *alloc, unsigned int n_alloc,
			 const struct ag_nv_table *nv, const struct k8s_amd_table *amd,
			 struct ag_k8s_exposure *out);

#endif
