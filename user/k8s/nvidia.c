// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devices.h"
#include "nvidia.h"
#include "util.h"

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* One GPU's information file: "Key: \t value" lines; split at the first ':'. */
static int gpu_from(FILE *f, const char *path, const char *bus, struct ag_nv_gpu *g, char *err,
		    size_t errlen)
{
	char line[512];
	int have_minor = 0;

	memset(g, 0, sizeof(*g));
	ag_strlcpy(g->bus, bus, sizeof(g->bus));
	lower(g->bus);
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *k, *v;

		if (!colon)
			continue;
		*colon = '\0';
		k = trim(line);
		v = trim(colon + 1);
		if (!strcmp(k, "GPU UUID")) {
			ag_strlcpy(g->uuid, v, sizeof(g->uuid));
		} else if (!strcmp(k, "Device Minor")) {
			char *end;
			unsigned long m = strtoul(v, &end, 10);

			if (end == v || *end || m > 255) {
				snprintf(err, errlen, "nvidia procfs: %s: Device Minor '%s' is no minor",
					 path, v);
				return -EINVAL;
			}
			g->minor = (unsigned int)m;
			have_minor = 1;
		}
	}
	if (!have_minor) {
		snprintf(err, errlen, "nvidia procfs: %s: no Device Minor line", path);
		return -EINVAL;
	}
	return 0;
}

static int load_gpu(const char *path, const char *bus, struct ag_nv_gpu *g, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "re");
	int ret;

	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "nvidia procfs: cannot read %s: %s", path, strerror(errno));
		return ret;
	}
	ret = gpu_from(f, path, bus, g, err, errlen);
	fclose(f);
	return ret;
}

int ag_nv_parse_gpu(const char *name, const char *buf, size_t len, const char *bus,
		    struct ag_nv_gpu *g, char *err, size_t errlen)
{
	FILE *f = len ? fmemopen((void *)buf, len, "r") : NULL;
	int ret;

	if (!f) {
		memset(g, 0, sizeof(*g));
		snprintf(err, errlen, "nvidia procfs: %s: no Device Minor line", name);
		return -EINVAL;
	}
	ret = gpu_from(f, name, bus, g, err, errlen);
	fclose(f);
	return ret;
}

static int by_bus(const void *a, const void *b)
{
	return strcmp(((const struct ag_nv_gpu *)a)->bus, ((const struct ag_nv_gpu *)b)->bus);
}

static int caps_from(FILE *f, struct ag_nv_table *t, const char *path, char *err, size_t errlen)
{
	char line[256];
	size_t cap = t->n_caps;

	while (fgets(line, sizeof(line), f)) {
		char name[64];
		unsigned int minor;

		if (sscanf(line, "%63s %u", name, &minor) != 2 || strlen(name) >= sizeof(t->caps->name))
			continue;
		if (t->n_caps >= AG_NV_MAX_CAPS) {
			snprintf(err, errlen, "nvidia procfs: %s: more than %u capability minors",
				 path, AG_NV_MAX_CAPS);
			return -E2BIG;
		}
		if (t->n_caps == cap) {
			struct ag_nv_cap *n;

			cap = cap ? cap * 2 : 512;
			n = realloc(t->caps, cap * sizeof(*n));
			if (!n) {
				snprintf(err, errlen, "nvidia procfs: %s: out of memory", path);
				return -ENOMEM;
			}
			t->caps = n;
		}
		memcpy(t->caps[t->n_caps].name, name, strlen(name) + 1);
		t->caps[t->n_caps++].minor = minor;
	}
	return 0;
}

static int load_caps(struct ag_nv_table *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int ret;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	ret = caps_from(f, t, path, err, errlen);
	fclose(f);
	return ret;
}

int ag_nv_parse_caps(struct ag_nv_table *t, const char *name, const char *buf, size_t len, char *err,
		     size_t errlen)
{
	FILE *f = len ? fmemopen((void *)buf, len, "r") : NULL;
	int ret;

	if (!f)
		return 0;
	ret = caps_from(f, t, name, err, errlen);
	fclose(f);
	return ret;
}

int ag_nv_load(struct ag_nv_table *t, const char *proc, char *err, size_t errlen)
{
	char path[4096];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/devices", proc);
	t->uvm_major = ag_proc_devices_major(path, "nvidia-uvm");
	t->caps_major = ag_proc_devices_major(path, "nvidia-caps");

	snprintf(path, sizeof(path), "%s/driver/nvidia/gpus", proc);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			goto caps;
		ret = -errno;
		snprintf(err, errlen, "nvidia procfs: cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	while ((de = readdir(d))) {
		char info[4096 + 300];

		if (de->d_name[0] == '.')
			continue;
		if (t->n_gpus >= AG_NV_MAX_GPUS) {
			ret = -E2BIG;
			snprintf(err, errlen, "nvidia procfs: %s: more than %u GPUs", path,
				 AG_NV_MAX_GPUS);
			break;
		}
		if (t->n_gpus == cap) {
			struct ag_nv_gpu *n;

			cap = cap ? cap * 2 : 8;
			n = realloc(t->gpus, cap * sizeof(*n));
			if (!n) {
				ret = -ENOMEM;
				snprintf(err, errlen, "nvidia procfs: %s: out of memory", path);
				break;
			}
			t->gpus = n;
		}
		snprintf(info, sizeof(info), "%s/%s/information", path, de->d_name);
		ret = load_gpu(info, de->d_name, &t->gpus[t->n_gpus], err, errlen);
		if (ret < 0)
			break;
		t->n_gpus++;
	}
	closedir(d);
	if (ret < 0) {
		ag_nv_free(t);
		return ret;
	}
	if (t->n_gpus)
		qsort(t->gpus, t->n_gpus, sizeof(*t->gpus), by_bus);
caps:
	snprintf(path, sizeof(path), "%s/driver/nvidia-caps/mig-minors", proc);
	ret = load_caps(t, path, err, errlen);
	if (ret < 0) {
		if (ret != -ENOMEM && ret != -E2BIG)
			snprintf(err, errlen, "nvidia procfs: cannot read %s: %s", path, strerror(-ret));
		ag_nv_free(t);
	}
	return ret;
}

void ag_nv_free(struct ag_nv_table *t)
{
	free(t->gpus);
	free(t->caps);
	memset(t, 0, sizeof(*t));
	t->uvm_major = t->caps_major = -ENOENT;
}

int ag_nv_minor_by_uuid(const struct ag_nv_table *t, const char *uuid)
{
	const char *u = !strncasecmp(uuid, "GPU-", 4) ? uuid + 4 : uuid;

	for (size_t i = 0; i < t->n_gpus; i++) {
		const char *g = t->gpus[i].uuid;

		if (!strncasecmp(g, "GPU-", 4))
			g += 4;
		if (*g && !strcasecmp(g, u))
			return (int)t->gpus[i].minor;
	}
	return -ENOENT;
}

int ag_nv_minor_by_index(const struct ag_nv_table *t, unsigned int idx)
{
	return idx < t->n_gpus ? (int)t->gpus[idx].minor : -ENOENT;
}

/* "DOMAIN:BUS:DEV.FN" with a 4 (procfs) or 8 (NVML, DRA pcieBusID) digit domain, or "BUS:DEV.FN". */
static int split_bus(const char *s, unsigned long *domain, const char **rest)
{
	const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char *end;

	if (!c1)
		return -EINVAL;
	if (!c2) {
		*domain = 0;
		*rest = s;
		return 0;
	}
	*domain = strtoul(s, &end, 16);
	if (end != c1)
		return -EINVAL;
	*rest = c1 + 1;
	return 0;
}

int ag_nv_minor_by_bus(const struct ag_nv_table *t, const char *bus)
{
	unsigned long d1, d2;
	const char *r1, *r2;

	if (split_bus(bus, &d1, &r1) < 0)
		return -EINVAL;
	for (size_t i = 0; i < t->n_gpus; i++) {
		if (split_bus(t->gpus[i].bus, &d2, &r2) == 0 && d1 == d2 && !strcasecmp(r1, r2))
			return (int)t->gpus[i].minor;
	}
	return -ENOENT;
}

int ag_nv_cap_minor(const struct ag_nv_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_caps; i++)
		if (!strcmp(t->caps[i].name, name))
			return (int)t->caps[i].minor;
	return -ENOENT;
}
