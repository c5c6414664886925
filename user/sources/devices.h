/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Device classes: which (major, minor) numbers are accelerators. Built from the built-in classes,
 * the dynamic majors listed in /proc/devices, and the classes of the configuration. Devices are
 * recognised by number only, never by path.
 */
#ifndef AG_DEVICES_H
#define AG_DEVICES_H

#include <linux/types.h>
#include <stddef.h>
#include <stdbool.h>
#include "accelguard.h"

#define AG_MAX_CLASSES 64
#define AG_CLASS_NAME_LEN 48
#define AG_MAX_CLASS_RANGES 256

struct ag_class {
	__u32 id;                     /* 1-based; 0 means "no accelerator" */
	char name[AG_CLASS_NAME_LEN]; /* "nvidia-gpu", "nvidiactl", "drm-render", ... */
	char vendor[16];              /* "nvidia", "amd", "aws", "habana", "" */
	bool control;                 /* control node any container with a GPU of this vendor needs */
};

struct ag_class_range {
	__u32 major;
	__u32 lo;
	__u32 hi;
	__u32 class_id;
};

struct ag_devtab {
	struct ag_class classes[AG_MAX_CLASSES];
	unsigned int n_classes;
	struct ag_class_range ranges[AG_MAX_CLASS_RANGES];
	unsigned int n_ranges;
};

/* Built-in classes; dynamic majors are looked up in proc_devices (a path, normally /proc/devices;
 * a missing file or NULL is not an error: no dynamic range is added). Every built-in class gets
 * its id whether its driver is present or not. Returns 0 or -errno. */
int ag_devtab_init(struct ag_devtab *t, const char *proc_devices);

/* Add (or extend) a class by name with a range of minors (lo..hi, AG_MINOR_ANY for hi = all).
 * Returns the class id (> 0) or -errno (-ENOSPC when a table is full, -EINVAL, -EEXIST when the
 * range overlaps a range of another class; a range the class already covers is a no-op). */
int ag_devtab_add(struct ag_devtab *t, const char *class_name, __u32 major, __u32 lo, __u32 hi);

/* The class of VFIO groups that hold a GPU (vfio.h): their /dev/vfio/N minors on vfio's major. */
#define AG_VFIO_CLASS "vfio-gpu"
struct ag_vfio;
/* Add v's groups to AG_VFIO_CLASS, runs of consecutive minors as one range. Returns the ranges
 * added, -E2BIG when a major's groups needed more than AG_MAX_RANGES ranges (the last range then
 * runs over the groups between: every group there counts as a GPU), or ag_devtab_add's -errno. */
int ag_devtab_add_vfio(struct ag_devtab *t, const struct ag_vfio *v);

/* Class id of a device number, 0 when it is no accelerator. */
__u32 ag_devtab_lookup(const struct ag_devtab *t, __u32 major, __u32 minor);

const struct ag_class *ag_devtab_class(const struct ag_devtab *t, __u32 class_id);

/* Fill the kernel's accel_devices array (AG_MAX_MAJOR entries, zeroed by the caller).
 * Returns 0, or -E2BIG naming no major with more than AG_MAX_RANGES ranges. */
int ag_devtab_fill_majors(const struct ag_devtab *t, struct ag_major_entry *majors);

/* Read the file proc_devices (/proc/devices or a fixture): the major of a character device by
 * exact name, or -ENOENT (also when the file is absent). */
int ag_proc_devices_major(const char *proc_devices, const char *name);
/* The same from memory (len bytes): the fuzz entry point. Lines over 255 bytes are skipped. */
int ag_proc_devices_major_buf(const char *buf, size_t len, const char *name);

/* Parse a device given as "MAJOR:MINOR", "MAJOR:LO-HI", "MAJOR:*" (hi = AG_MINOR_ANY) or an
 * absolute path to a character device node (stat()ed). Returns 0 or -errno (-EINVAL for syntax,
 * -ENOENT and the like from stat(), -ENOTBLK for a path that is no char dev). */
int ag_parse_devspec(const char *spec, __u32 *major, __u32 *lo, __u32 *hi);

#endif
