/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Device mapping (layer 1): allocated device ids -> device numbers, from NVIDIA procfs
 * (nvidia.h), CDI specs (cdi.h) and the device attributes of this node's ResourceSlices (given by
 * the API peer). Its state is its own, under its own lock (rank K8S_RANK_DEVMAP, the innermost):
 * call these without holding it.
 */
#ifndef AG_K8S_DEVMAP_H
#define AG_K8S_DEVMAP_H

#include "base.h"
#include "cdi.h"
#include "nvidia.h"
#include "vfio.h"

/* A device of a ResourceSlice of this node and the attributes that name it. */
struct k8s_slice_dev {
	char *driver, *pool, *name, *uuid, *pci;
};

void k8s_slices_free(struct k8s_slice_dev *s, size_t n);

struct k8s_devmap {
	struct k8s_lock lock;
	char *proc, *dev_root;  /* owned copies */
	char **cdi_dirs;
	size_t n_cdi_dirs;
	struct ag_nv_table nv;
	struct ag_cdi_cache cdi;
	uint64_t loaded_ns;
	bool valid;
	char **warned;          /* ids already reported as unmapped */
	size_t n_warned;
	struct k8s_slice_dev *slices;
	size_t n_slices;
	atomic_int uvm_major;   /* -ENOENT when the nvidia-uvm module is not loaded */
	char *sys;              /* the sysfs root of the VFIO groups; NULL: /sys */
	struct ag_vfio vfio;    /* VFIO groups holding a GPU: a PCI address id -> /dev/vfio/N */
};

/* Copies proc, dev_root ("" or NULL for none) and dirs. Returns 0 or -ENOMEM. */
int k8s_map_init(struct k8s_devmap *m, const char *proc, const char *dev_root,
		 const char *const *cdi_dirs, size_t n_cdi_dirs);
void k8s_map_fini(struct k8s_devmap *m);

/* Reread procfs and the CDI specs (force: even when nothing seems to have changed). */
void k8s_map_reload(struct k8s_devmap *m, bool force);
/* Another sysfs root for the VFIO groups (a fixture). 0 or -ENOMEM. */
int k8s_map_set_sys(struct k8s_devmap *m, const char *sys);
/* Device plugin id of resource -> a's ranges (a->unmapped when none). An id that is a PCI address
 * (a passthrough plugin's, "0000:3b:00.0") is that GPU's node when its driver holds it, else the
 * VFIO group that holds it (/dev/vfio/N: a Kata-style sandbox's VMM opens that). */
void k8s_map_dp(struct k8s_devmap *m, const char *resource, const char *id, struct k8s_alloc *a);
/* A DRA result -> a's ranges, by its CDI names, else (gpu.nvidia.com) its slice attributes. */
void k8s_map_dra(struct k8s_devmap *m, const char *driver, const char *pool, const char *device,
		 const char *const *cdi, size_t n_cdi, struct k8s_alloc *a);
/* Replace the slice devices (takes v). */
void k8s_map_set_slices(struct k8s_devmap *m, struct k8s_slice_dev *v, size_t n);
/* The nvidia-uvm major, or -ENOENT; without a lock. */
int k8s_map_uvm_major(const struct k8s_devmap *m);
/* GPUs and CDI devices known. */
void k8s_map_counts(struct k8s_devmap *m, size_t *gpus, size_t *cdi_devs);

#endif
