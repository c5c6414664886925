/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * VFIO groups that hold a GPU (issue 22: a Kata-style sandbox's VMM opens /dev/vfio/N, not the
 * GPU driver's node). Read from sysfs (SYS: "/sys", or a fixture root):
 *   SYS/class/vfio/NAME/dev                       "MAJOR:MINOR" of /dev/vfio/NAME, NAME the IOMMU
 *                                                 group's number N, or "noiommu-N" (vfio's no-IOMMU
 *                                                 mode, enable_unsafe_noiommu_mode)
 *   SYS/kernel/iommu_groups/N/devices/BDF/class   the PCI class ("0x030000")
 *   SYS/kernel/iommu_groups/N/devices/BDF/vendor  the PCI vendor ("0x10de")
 *   SYS/class/vfio-dev/vfioN/dev                  the per-device node /dev/vfio/devices/vfioN
 *                                                 (iommufd, Linux 6.6+), its device/ the PCI
 *                                                 device (a link: its name the address; class,
 *                                                 vendor)
 * A group holds a GPU when one of its devices is a display controller (class 0x03xxxx) or a
 * processing accelerator (0x12xxxx); other groups (a NIC, an NVMe drive) are no accelerator.
 */
#ifndef AG_VFIO_H
#define AG_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define AG_VFIO_MAX_GROUPS 1024 /* groups read; more are left out, with a warning */

struct ag_vfio_group {
	char name[32];       /* "12", "noiommu-0", "devices/vfio0" (the node under /dev/vfio) */
	unsigned int group;  /* N */
	__u32 major, minor;  /* of /dev/vfio/NAME */
	char bdf[16];        /* the GPU's PCI address, "0000:3b:00.0" */
	char vendor[16];     /* "nvidia", "amd", "intel", "" */
	bool noiommu;
	bool cdev;           /* a per-device node (iommufd), not a group */
};

struct ag_vfio {
	struct ag_vfio_group *g; /* only the groups that hold a GPU, by minor */
	size_t n;
	size_t scanned;          /* every group seen, GPU or not */
};

/* Scan sys; no VFIO (no SYS/class/vfio): empty and 0. -ENOMEM; -errno with err naming the
 * directory when it exists and cannot be read. */
int ag_vfio_scan(const char *sys, struct ag_vfio *v, char *err, size_t errlen);
void ag_vfio_free(struct ag_vfio *v);
/* The group holding the device at PCI address bdf ("0000:3b:00.0", any case; a 4-digit domain
 * may be left out or given as 8 digits), or NULL. */
const struct ag_vfio_group *ag_vfio_by_bdf(const struct ag_vfio *v, const char *bdf);
/* The next node of that device after `after` (its group and its per-device node: a VMM opens
 * either), or NULL. */
const struct ag_vfio_group *ag_vfio_next_by_bdf(const struct ag_vfio *v, const char *bdf,
						const struct ag_vfio_group *after);

#endif
