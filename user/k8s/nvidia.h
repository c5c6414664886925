/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the NVIDIA driver says in procfs: GPU UUID and PCI bus id -> device minor
 * (<proc>/driver/nvidia/gpus/<bus>/information), MIG capability minors
 * (<proc>/driver/nvidia-caps/mig-minors), and the dynamic majors (<proc>/devices).
 */
#ifndef AG_K8S_NVIDIA_H
#define AG_K8S_NVIDIA_H

#include <stddef.h>

#define AG_NV_MAJOR 195
#define AG_NV_MINOR_MODESET 254
#define AG_NV_MINOR_CTL 255

struct ag_nv_gpu {
	char uuid[48];  /* "GPU-..." ("" when the driver does not say) */
	char bus[32];   /* "0000:3b:00.0", lower case */
	unsigned int minor;
};

struct ag_nv_cap {
	char name[40];  /* "gpu0/gi1/ci0/access" */
	unsigned int minor;
};

struct ag_nv_table {
	struct ag_nv_gpu *gpus; /* sorted by bus id: the order of NVML indexes */
	size_t n_gpus;
	struct ag_nv_cap *caps;
	size_t n_caps;
	int uvm_major;  /* -ENOENT when the module is not loaded */
	int caps_major;
};

/* Load from the procfs root proc ("/proc"). A machine without the driver gives an empty table
 * and 0. Returns -errno for a file that exists but cannot be read or makes no sense, with err
 * naming it. */
int ag_nv_load(struct ag_nv_table *t, const char *proc, char *err, size_t errlen);
void ag_nv_free(struct ag_nv_table *t);
/* Limits (README "Input limits"): past them ag_nv_load fails with -E2BIG naming the file. */
#define AG_NV_MAX_GPUS 256u
#define AG_NV_MAX_CAPS 65536u
/* One GPU's information file / the mig-minors file from memory (name stands for the file in err;
 * caps are appended to t). The fuzz entry points; ag_nv_load reads the files through them. */
int ag_nv_parse_gpu(const char *name, const char *buf, size_t len, const char *bus,
		    struct ag_nv_gpu *g, char *err, size_t errlen);
int ag_nv_parse_caps(struct ag_nv_table *t, const char *name, const char *buf, size_t len, char *err,
		     size_t errlen);

/* Minor of the GPU with this UUID ("GPU-..." or without the prefix, any case), or -ENOENT. */
int ag_nv_minor_by_uuid(const struct ag_nv_table *t, const char *uuid);
/* Minor of the GPU of NVML index idx (the idx-th by PCI bus id), or -ENOENT. */
int ag_nv_minor_by_index(const struct ag_nv_table *t, unsigned int idx);
/* Minor of the GPU at this PCI bus id ("0000:3B:00.0", "00000000:3b:00.0", "3b:00.0"), or -ENOENT. */
int ag_nv_minor_by_bus(const struct ag_nv_table *t, const char *bus);
/* Capability minor by name ("gpu0/gi1/access"), or -ENOENT. */
int ag_nv_cap_minor(const struct ag_nv_table *t, const char *name);

#endif
