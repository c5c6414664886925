// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Device classes: the built-in accelerator classes (numbers from ../shared/FACTS.md), the dynamic
 * majors that drivers register in /proc/devices, and classes added by the configuration.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "devices.h"
#include "vfio.h"

#define AG_MINOR_MAX 0xfffffu /* MINORBITS = 20 in the kernel's dev_t */

struct builtin {
	const char *name;
	const char *vendor;
	bool control;
	__u32 major;        /* 0: dynamic, looked up in /proc/devices under proc_name */
	const char *proc_name;
	__u32 lo, hi;
};

/*
 * 195 and its minors: open-gpu-kernel-modules kernel-open/common/inc/nv-chardev-numbers.h.
 * 226: DRM_MAJOR (include/drm/drm_ioctl.h); render nodes start at 128, newer kernels also use
 * minors >= 192, so the render range runs to 255. 261: ACCEL_MAJOR (include/drm/drm_accel.h).
 * nvidia-uvm registers one major with minor 0 (/dev/nvidia-uvm) and 1 (/dev/nvidia-uvm-tools).
 */
static const struct builtin builtins[] = {
	{ "nvidia-gpu", "nvidia", false, 195, NULL, 0, 247 },
	{ "nvidia-modeset", "nvidia", true, 195, NULL, 254, 254 },
	{ "nvidiactl", "nvidia", true, 195, NULL, 255, 255 },
	{ "nvidia-uvm", "nvidia", true, 0, "nvidia-uvm", 0, 0 },
	{ "nvidia-uvm-tools", "nvidia", true, 0, "nvidia-uvm", 1, 1 },
	{ "nvidia-caps", "nvidia", false, 0, "nvidia-caps", 0, AG_MINOR_ANY },
	{ "nvidia-caps-imex-channels", "nvidia", false, 0, "nvidia-caps-imex-channels", 0, AG_MINOR_ANY },
	{ "nvidia-nvswitch", "nvidia", false, 0, "nvidia-nvswitch", 0, AG_MINOR_ANY },
	{ "nvidia-nvlink", "nvidia", false, 0, "nvidia-nvlink", 0, AG_MINOR_ANY },
	{ "drm-card", "", false, 226, NULL, 0, 63 },
	{ "drm-render", "", false, 226, NULL, 128, 255 },
	{ "accel", "", false, 261, NULL, 0, AG_MINOR_ANY },
	{ "kfd", "amd", true, 0, "kfd", 0, 0 },
	{ "neuron", "aws", false, 0, "neuron", 0, AG_MINOR_ANY },
	{ "habanalabs", "habana", false, 0, "habanalabs", 0, AG_MINOR_ANY },
	/* VFIO groups that hold a GPU: their minors only (ag_devtab_add_vfio), never the whole
	 * "vfio" major, whose other groups are NICs and drives */
	{ AG_VFIO_CLASS, "", false, 0, NULL, 0, 0 },
};

static int find_class(const struct ag_devtab *t, const char *name)
{
	unsigned int i;

	for (i = 0; i < t->n_classes; i++)
		if (!strcmp(t->classes[i].name, name))
			return (int)t->classes[i].id;
	return 0;
}

static int new_class(struct ag_devtab *t, const char *name, const char *vendor, bool control)
{
	struct ag_class *c;

	if (!name || !*name || strlen(name) >= AG_CLASS_NAME_LEN || strlen(vendor) >= sizeof(c->vendor))
		return -EINVAL;
	if (t->n_classes >= AG_MAX_CLASSES)
		return -ENOSPC;
	c = &t->classes[t->n_classes];
	memset(c, 0, sizeof(*c));
	c->id = ++t->n_classes;
	strcpy(c->name, name);
	strcpy(c->vendor, vendor);
	c->control = control;
	return (int)c->id;
}

static bool overlaps(const struct ag_class_range *r, __u32 major, __u32 lo, __u32 hi)
{
	return r->major == major && lo <= r->hi && r->lo <= hi;
}

int ag_devtab_add(struct ag_devtab *t, const char *class_name, __u32 major, __u32 lo, __u32 hi)
{
	struct ag_class_range *r;
	unsigned int i;
	int id;

	if (!t || !class_name || major == 0 || major >= AG_MAX_MAJOR || lo > AG_MINOR_MAX || lo > hi ||
	    (hi > AG_MINOR_MAX && hi != AG_MINOR_ANY))
		return -EINVAL;
	id = find_class(t, class_name);
	/* A range of another class over the same numbers would make the class of a device depend
	 * on the order of the ranges: refuse it. The same class again is a no-op. */
	for (i = 0; i < t->n_ranges; i++) {
		r = &t->ranges[i];
		if (!overlaps(r, major, lo, hi))
			continue;
		if ((int)r->class_id == id && r->lo <= lo && hi <= r->hi)
			return id;
		return -EEXIST;
	}
	if (t->n_ranges >= AG_MAX_CLASS_RANGES)
		return -ENOSPC;
	if (!id) {
		id = new_class(t, class_name, "", false);
		if (id < 0)
			return id;
	}
	r = &t->ranges[t->n_ranges++];
	r->major = major;
	r->lo = lo;
	r->hi = hi;
	r->class_id = (__u32)id;
	return id;
}

int ag_devtab_init(struct ag_devtab *t, const char *proc_devices)
{
	size_t i;
	int err;

	if (!t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	/* Every built-in class gets an id, present or not, so that ids do not depend on the host. */
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		err = new_class(t, builtins[i].name, builtins[i].vendor, builtins[i].control);
		if (err < 0)
			return err;
	}
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		const struct builtin *b = &builtins[i];
		int major = (int)b->major;

		if (!major) {
			if (!proc_devices || !b->proc_name)
				continue;
			major = ag_proc_devices_major(proc_devices, b->proc_name);
			if (major == -ENOENT)
				continue; /* driver not loaded, or the file is absent */
			if (major < 0)
				return major;
		}
		err = ag_devtab_add(t, b->name, (__u32)major, b->lo, b->hi);
		if (err == -EINVAL || err == -EEXIST)
			continue; /* a driver with a nonsensical major: not ours to judge */
		if (err < 0)
			return err;
	}
	return 0;
}

__u32 ag_devtab_lookup(const struct ag_devtab *t, __u32 major, __u32 minor)
{
	unsigned int i;

	for (i = 0; i < t->n_ranges; i++) {
		const struct ag_class_range *r = &t->ranges[i];

		if (r->major == major && minor >= r->lo && minor <= r->hi)
			return r->class_id;
	}
	return 0;
}

const struct ag_class *ag_devtab_class(const struct ag_devtab *t, __u32 class_id)
{
	if (!t || class_id == 0 || class_id > t->n_classes)
		return NULL;
	return &t->classes[class_id - 1];
}

int ag_devtab_fill_majors(const struct ag_devtab *t, struct ag_major_entry *majors)
{
	unsigned int i;

	for (i = 0; i < t->n_ranges; i++) {
		const struct ag_class_range *r = &t->ranges[i];
		struct ag_major_entry *e;

		if (r->major >= AG_MAX_MAJOR)
			return -EINVAL;
		e = &majors[r->major];
		if (e->n >= AG_MAX_RANGES)
			return -E2BIG;
		e->r[e->n].lo = r->lo;
		e->r[e->n].hi = r->hi;
		e->r[e->n].class_id = r->class_id;
		e->n++;
	}
	return 0;
}

/*
 * /proc/devices (fs/proc/devices.c): "Character devices:\n", then "%3d %s\n" per driver, a blank
 * line, "Block devices:\n" and the same. A major may be listed under several names (195 nvidia,
 * 195 nvidiactl).
 */
static int devices_major_from(FILE *f, const char *name)
{
	char line[256];
	bool in_char = false;
	int found = -ENOENT;

	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		unsigned long major;
		size_t n;

		if (!strchr(line, '\n') && !feof(f)) {
			int c; /* an overlong line: skip the rest of it */

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "Character devices:")) {
			in_char = true;
			continue;
		}
		if (!strcmp(line, "Block devices:"))
			in_char = false;
		if (!in_char)
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p))
			continue;
		errno = 0;
		major = strtoul(p, &end, 10);
		if (errno || end == p || (*end != ' ' && *end != '\t'))
			continue;
		p = end + strspn(end, " \t");
		n = strcspn(p, " \t");
		if (p[n + strspn(p + n, " \t")] != '\0')
			continue; /* not "MAJOR NAME" */
		if (n == strlen(name) && !memcmp(p, name, n) && major > 0 && major < AG_MAX_MAJOR) {
			found = (int)major;
			break;
		}
	}
	return found;
}

int ag_proc_devices_major(const char *proc_devices, const char *name)
{
	FILE *f;
	int ret;

	if (!proc_devices || !name || !*name)
		return -EINVAL;
	f = fopen(proc_devices, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	ret = devices_major_from(f, name);
	fclose(f);
	return ret;
}

int ag_proc_devices_major_buf(const char *buf, size_t len, const char *name)
{
	FILE *f;
	int ret;

	if (!buf || !name || !*name)
		return -EINVAL;
	if (!len)
		return -ENOENT;
	f = fmemopen((void *)buf, len, "r");
	if (!f)
		return -errno;
	ret = devices_major_from(f, name);
	fclose(f);
	return ret;
}

/* Decimal, no sign, no leading zeros (beyond "0"), at most max; advances *s. */
static int parse_u32(const char **s, __u32 max, __u32 *out)
{
	const char *p = *s;
	unsigned long long v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	if (p[0] == '0' && isdigit((unsigned char)p[1]))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max)
			return -ERANGE;
		p++;
	}
	*out = (__u32)v;
	*s = p;
	return 0;
}

int ag_parse_devspec(const char *spec, __u32 *major, __u32 *lo, __u32 *hi)
{
	const char *p = spec;
	__u32 ma, l, h;
	int err;

	if (!spec || !*spec)
		return -EINVAL;
	if (spec[0] == '/') {
		struct stat st;

		if (stat(spec, &st))
			return -errno;
		if (!S_ISCHR(st.st_mode))
			return -ENOTBLK;
		*major = major(st.st_rdev);
		*lo = *hi = minor(st.st_rdev);
		return 0;
	}
	err = parse_u32(&p, AG_MAX_MAJOR - 1, &ma);
	if (err)
		return -EINVAL;
	if (ma == 0 || *p++ != ':')
		return -EINVAL;
	if (p[0] == '*' && p[1] == '\0') {
		l = 0;
		h = AG_MINOR_ANY;
	} else {
		if (parse_u32(&p, AG_MINOR_MAX, &l))
			return -EINVAL;
		h = l;
		if (*p == '-') {
			p++;
			if (parse_u32(&p, AG_MINOR_MAX, &h) || h < l)
				return -EINVAL;
		}
		if (*p)
			return -EINVAL;
	}
	*major = ma;
	*lo = l;
	*hi = h;
	return 0;
}

int ag_devtab_add_vfio(struct ag_devtab *t, const struct ag_vfio *v)
{
	unsigned int ranges = 0;
	bool lumped = false;
	size_t i = 0;

	if (!v)
		return 0;
	/* v->g is sorted by (major, minor): runs of consecutive minors are one range each; past
	 * AG_MAX_RANGES on a major, the last range runs to the last GPU group (the groups between
	 * are counted as GPUs: said by the return value) */
	while (i < v->n) {
		__u32 major = v->g[i].major;
		unsigned int on_major = 0;

		for (unsigned int k = 0; k < t->n_ranges; k++)
			on_major += t->ranges[k].major == major;
		while (i < v->n && v->g[i].major == major) {
			size_t k = i;
			int r;

			while (k + 1 < v->n && v->g[k + 1].major == major &&
			       v->g[k + 1].minor == v->g[k].minor + 1)
				k++;
			if (on_major + 1 >= AG_MAX_RANGES && k + 1 < v->n && v->g[k + 1].major == major) {
				/* the last range this major can take: every remaining group */
				while (k + 1 < v->n && v->g[k + 1].major == major)
					k++;
				lumped = true;
			}
			r = ag_devtab_add(t, AG_VFIO_CLASS, major, v->g[i].minor, v->g[k].minor);
			if (r < 0)
				return r;
			on_major++;
			ranges++;
			i = k + 1;
		}
	}
	return lumped ? -E2BIG : (int)ranges;
}
