/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * AMD GPUs as the AMD container toolkit (ROCm/container-toolkit, amd-container-runtime) numbers
 * them for AMD_VISIBLE_DEVICES, read from sysfs (layer 1, part amd): the amdgpu driver's devices
 * (SYS/module/amdgpu/drivers/pci:amdgpu/DDDD:*, then SYS/devices/platform/amdgpu_xcp_* partitions,
 * each in name order), each with its DRM nodes (drm/card*, drm/renderD*, as /dev/dri/NAME); a
 * device counts when its render minor has a KFD topology node
 * (SYS/class/kfd/kfd/topology/nodes/N/properties: drm_render_minor, location_id, domain,
 * unique_id). Devices are grouped by their PCI device (domain, bus, device from location_id) in
 * the order each group is first seen, by render minor within a group; the index is the position
 * in that order, as the runtime's GetAMDGPUs gives it. The unique_id (decimal in sysfs) is what
 * AMD_VISIBLE_DEVICES names in hex.
 */
#ifndef AG_K8S_AMD_H
#define AG_K8S_AMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8S_AMD_MAX_GPUS 256u /* devices past it are left out */
#define K8S_AMD_MAX_DRM 4u    /* DRM nodes of one device (a card and a render node) */

struct k8s_amd_gpu {
	char drm[K8S_AMD_MAX_DRM][48]; /* "/dev/dri/card1", "/dev/dri/renderD128" */
	unsigned int n_drm;
	unsigned int render_minor;
	char group[16];                /* "0000:03:00:0": the PCI device */
	uint64_t unique_id;
	bool has_unique_id;
};

struct k8s_amd_table {
	struct k8s_amd_gpu *gpus;
	size_t n;
};

/* Load from the sysfs root sys ("/sys"). No amdgpu driver: an empty table and 0. -ENOMEM, or
 * -errno with err naming the file, for a directory that exists but cannot be read. */
int k8s_amd_load(const char *sys, struct k8s_amd_table *t, char *err, size_t errlen);
void k8s_amd_free(struct k8s_amd_table *t);

#endif
