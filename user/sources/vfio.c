// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* VFIO groups that hold a GPU (vfio.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vfio.h"

/* what is read, under /sys or another root (its "/sys" replaced): `accelguard paths` prints these */
static const char CLASS_VFIO[] = "/sys/class/vfio";
static const char IOMMU_GROUPS[] = "/sys/kernel/iommu_groups";
static const char CLASS_VFIO_DEV[] = "/sys/class/vfio-dev";
#define UNDER(lit) ((lit) + 4)

/* the first line of a small sysfs file, without its newline; false when unreadable */
static bool read_line(const char *path, char *buf, size_t len)
{
	if (ag_read_small(AT_FDCWD, path, buf, len) < 0)
		return false;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

static const char *vendor_name(unsigned long id)
{
	switch (id) {
	case 0x10de: return "nvidia";
	case 0x1002: return "amd";
	case 0x8086: return "intel";
	default: return "";
	}
}

/* n hex digits at s into *v; false when any is not one */
static bool hexn(const char *s, int n, unsigned int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		*v = *v * 16 + (unsigned int)(isdigit((unsigned char)s[i]) ? s[i] - '0'
									 : (tolower((unsigned char)s[i]) - 'a' + 10));
	}
	return true;
}

/* "0000:3b:00.0", lower case, the domain 4 digits; false when s is no PCI address: an optional
 * domain of 4 or 8 hex digits and ':', then BB:DD.F exactly */
static bool norm_bdf(const char *s, char out[16])
{
	size_t l = strlen(s);
	unsigned int dom = 0, bus, dev, fn;
	const char *b = s;

	if (l == 7 + 5 && s[4] == ':') {
		if (!hexn(s, 4, &dom))
			return false;
		b = s + 5;
	} else if (l == 7 + 9 && s[8] == ':') {
		if (!hexn(s, 8, &dom))
			return false;
		b = s + 9;
	} else if (l != 7) {
		return false;
	}
	if (!hexn(b, 2, &bus) || b[2] != ':' || !hexn(b + 3, 2, &dev) || b[5] != '.' ||
	    b[6] < '0' || b[6] > '7' || dom > 0xffff || dev > 0x1f)
		return false;
	fn = (unsigned int)(b[6] - '0');
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return true;
}

/* the PCI device dir (class, vendor files) a GPU: its vendor into g; false when not */
static bool is_gpu(const char *dir, struct ag_vfio_group *g)
{
	char p[4480], v[32];
	unsigned long cls, ven;

	snprintf(p, sizeof(p), "%s/class", dir);
	if (!read_line(p, v, sizeof(v)))
		return false;
	cls = strtoul(v, NULL, 16);
	if ((cls >> 16) != 0x03 && (cls >> 16) != 0x12)
		return false;
	snprintf(p, sizeof(p), "%s/vendor", dir);
	ven = read_line(p, v, sizeof(v)) ? strtoul(v, NULL, 16) : 0;
	snprintf(g->vendor, sizeof(g->vendor), "%s", vendor_name(ven));
	return true;
}

/* the group's first device that is a GPU: its address and vendor; false when none */
static bool gpu_of(const char *sys, unsigned int group, struct ag_vfio_group *g)
{
	char dir[4200];
	DIR *d;
	struct dirent *e;
	bool found = false;

	snprintf(dir, sizeof(dir), "%s%s/%u/devices", sys, UNDER(IOMMU_GROUPS), group);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char p[4480];

		if (e->d_name[0] == '.' || !norm_bdf(e->d_name, g->bdf))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		found = is_gpu(p, g);
	}
	closedir(d);
	return found;
}

static int by_minor(const void *a, const void *b)
{
	const struct ag_vfio_group *x = a, *y = b;

	if (x->major != y->major)
		return x->major < y->major ? -1 : 1;
	return (x->minor > y->minor) - (x->minor < y->minor);
}

void ag_vfio_free(struct ag_vfio *v)
{
	free(v->g);
	memset(v, 0, sizeof(*v));
}

static int push(struct ag_vfio *v, const struct ag_vfio_group *g)
{
	if (!(v->n & (v->n + 1))) { /* 0, 1, 3, 7, ...: grow */
		struct ag_vfio_group *ng = realloc(v->g, (v->n * 2 + 1) * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		v->g = ng;
	}
	v->g[v->n++] = *g;
	return 0;
}

/* the per-device nodes (iommufd): SYS/class/vfio-dev/vfioN */
static int scan_cdevs(const char *sys, struct ag_vfio *v, char *err, size_t errlen)
{
	char dir[4200];
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "%s%s", sys, UNDER(CLASS_VFIO_DEV));
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, errlen, "vfio: %s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((e = readdir(d)) && v->scanned < AG_VFIO_MAX_GROUPS) {
		struct ag_vfio_group g = { 0 };
		char p[4480], dev[32], real[PATH_MAX], *end, *base;
		unsigned long n;

		if (strncmp(e->d_name, "vfio", 4) || !isdigit((unsigned char)e->d_name[4]))
			continue;
		n = strtoul(e->d_name + 4, &end, 10);
		if (*end || n > 0xffffffffUL || strlen(e->d_name) + 8 >= sizeof(g.name))
			continue;
		snprintf(p, sizeof(p), "%s/%s/dev", dir, e->d_name);
		if (!read_line(p, dev, sizeof(dev)) || sscanf(dev, "%u:%u", &g.major, &g.minor) != 2)
			continue;
		v->scanned++;
		/* device: a link to the PCI device, named by its address */
		snprintf(p, sizeof(p), "%s/%s/device", dir, e->d_name);
		if (!realpath(p, real) || !(base = strrchr(real, '/')) || !norm_bdf(base + 1, g.bdf) ||
		    !is_gpu(real, &g))
			continue;
		g.group = (unsigned int)n;
		g.cdev = true;
		snprintf(g.name, sizeof(g.name), "devices/%s", e->d_name);
		if (push(v, &g)) {
			closedir(d);
			snprintf(err, errlen, "vfio: out of memory");
			return -ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

int ag_vfio_scan(const char *sys, struct ag_vfio *v, char *err, size_t errlen)
{
	char dir[4200];
	DIR *d;
	struct dirent *e;
	int r;

	memset(v, 0, sizeof(*v));
	snprintf(dir, sizeof(dir), "%s%s", sys, UNDER(CLASS_VFIO));
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR) {
			snprintf(err, errlen, "vfio: %s: %s", dir, strerror(errno));
			return -errno;
		}
		/* no groups (no vfio module, or iommufd's nodes alone) */
		r = scan_cdevs(sys, v, err, errlen);
		if (r)
			ag_vfio_free(v);
		else if (v->n)
			qsort(v->g, v->n, sizeof(*v->g), by_minor);
		return r;
	}
	while ((e = readdir(d)) && v->scanned < AG_VFIO_MAX_GROUPS) {
		struct ag_vfio_group g = { 0 };
		const char *num = e->d_name;
		char p[4480], dev[32], *end;
		unsigned long n;

		if (e->d_name[0] == '.')
			continue;
		if (!strncmp(num, "noiommu-", 8)) {
			g.noiommu = true;
			num += 8;
		}
		if (!isdigit((unsigned char)*num))
			continue;
		n = strtoul(num, &end, 10);
		if (*end || n > 0xffffffffUL || strlen(e->d_name) >= sizeof(g.name))
			continue;
		snprintf(p, sizeof(p), "%s/%s/dev", dir, e->d_name);
		if (!read_line(p, dev, sizeof(dev)) || sscanf(dev, "%u:%u", &g.major, &g.minor) != 2)
			continue;
		v->scanned++;
		g.group = (unsigned int)n;
		snprintf(g.name, sizeof(g.name), "%s", e->d_name);
		if (!gpu_of(sys, g.group, &g))
			continue;
		if (push(v, &g)) {
			closedir(d);
			ag_vfio_free(v);
			snprintf(err, errlen, "vfio: out of memory");
			return -ENOMEM;
		}
	}
	closedir(d);
	r = scan_cdevs(sys, v, err, errlen);
	if (r) {
		ag_vfio_free(v);
		return r;
	}
	if (v->n)
		qsort(v->g, v->n, sizeof(*v->g), by_minor);
	return 0;
}

const struct ag_vfio_group *ag_vfio_next_by_bdf(const struct ag_vfio *v, const char *bdf,
						const struct ag_vfio_group *after)
{
	char want[16];

	if (!v || !bdf || !norm_bdf(bdf, want))
		return NULL;
	for (size_t i = after ? (size_t)(after - v->g) + 1 : 0; i < v->n; i++)
		if (!strcmp(v->g[i].bdf, want))
			return &v->g[i];
	return NULL;
}

const struct ag_vfio_group *ag_vfio_by_bdf(const struct ag_vfio *v, const char *bdf)
{
	return ag_vfio_next_by_bdf(v, bdf, NULL);
}
