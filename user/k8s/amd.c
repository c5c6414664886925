// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* AMD GPUs numbered as the AMD container toolkit numbers them (amd.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amd.h"

/* what is read, under /sys or another root (its "/sys" replaced): `accelguard paths` prints these */
static const char DRIVERS[] = "/sys/module/amdgpu/drivers";
static const char PCI[] = "/sys/module/amdgpu/drivers/pci:amdgpu";
static const char PLATFORM[] = "/sys/devices/platform";
static const char TOPOLOGY[] = "/sys/class/kfd/kfd/topology/nodes";
#define UNDER(lit) ((lit) + 4) /* the path below the sysfs root */

#define K8S_AMD_MAX_NODES 1024u      /* KFD topology nodes read */
#define K8S_AMD_PROPS_MAX (64u << 10) /* one properties file */

struct topo {
	unsigned int render_minor;
	char group[16];
	bool has_group;
	uint64_t unique_id;
	bool has_unique_id;
};

#define FAIL(code, ...)                                   \
	do {                                              \
		snprintf(err, errlen, __VA_ARGS__);       \
		ret = (code);                             \
		goto out;                                 \
	} while (0)

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names under dir that pass keep(), sorted (as Go's filepath.Glob sorts them). -ENOENT when
 * dir is missing. *out and each name malloc'ed. */
static int list_dir(const char *dir, bool (*keep)(const char *), char ***out, size_t *n,
		    size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d)) && *n < max) {
		if (e->d_name[0] == '.' || !keep(e->d_name))
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
		}
		if (!(v[*n] = strdup(e->d_name)))
			goto nomem;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_name);
	*out = v;
	return 0;
nomem:
	closedir(d);
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	*n = 0;
	return -ENOMEM;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool any(const char *s)
{
	(void)s;
	return true;
}

static bool hex4_colon(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[4] == ':';
}

static bool xcp(const char *s)
{
	return !strncmp(s, "amdgpu_xcp_", 11);
}

/* a decimal number (the runtime's regexp \d+), the whole of s up to blanks; false when none */
static bool num(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && (!*end || *end == '\n' || *end == ' ' || *end == '\t');
}

/* one KFD topology node's properties: "NAME VALUE" lines */
static int read_props(const char *path, struct topo *t)
{
	FILE *f = fopen(path, "re");
	char line[256];
	uint64_t loc = 0, dom = 0, v;
	bool has_loc = false, has_dom = false, has_rm = false;
	size_t total = 0;

	memset(t, 0, sizeof(*t));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && (total += strlen(line)) <= K8S_AMD_PROPS_MAX) {
		if (!has_rm && !strncmp(line, "drm_render_minor ", 17) && num(line + 17, &v))
			has_rm = true, t->render_minor = v <= 0x7fffffff ? (unsigned int)v : 0;
		else if (!has_loc && !strncmp(line, "location_id ", 12) && num(line + 12, &loc))
			has_loc = true;
		else if (!has_dom && !strncmp(line, "domain ", 7) && num(line + 7, &dom))
			has_dom = true;
		else if (!t->has_unique_id && !strncmp(line, "unique_id ", 10) &&
			 num(line + 10, &t->unique_id))
			t->has_unique_id = true;
	}
	fclose(f);
	if (has_loc && has_dom) {
		snprintf(t->group, sizeof(t->group), "%04x:%02x:%02x:0", (unsigned int)(dom & 0xffff),
			 (unsigned int)((loc >> 8) & 0xff), (unsigned int)((loc >> 3) & 0x1f));
		t->has_group = true;
	}
	return 0;
}

static const struct topo *topo_of(const struct topo *t, size_t n, unsigned int render_minor)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].render_minor == render_minor)
			return &t[i];
	return NULL;
}

static bool drm_name(const char *s)
{
	return !strncmp(s, "card", 4) || !strncmp(s, "renderD", 7);
}

static int cmp_gpu(const void *a, const void *b)
{
	const struct k8s_amd_gpu *x = a, *y = b;

	return (x->render_minor > y->render_minor) - (x->render_minor < y->render_minor);
}

void k8s_amd_free(struct k8s_amd_table *t)
{
	free(t->gpus);
	t->gpus = NULL;
	t->n = 0;
}

/* One device of the driver (dev under the sysfs folder dir): its DRM nodes and, through its
 * render minor, its KFD topology node. false when the runtime would skip it. */
static bool gpu_of_dev(const char *dir, const char *dev, const struct topo *topo, size_t n_topo,
		       struct k8s_amd_gpu *g)
{
	const struct topo *tp;
	char **drm = NULL, d[4200];
	size_t n_drm = 0;

	snprintf(d, sizeof(d), "%s/%s/drm", dir, dev);
	if (list_dir(d, drm_name, &drm, &n_drm, 64))
		return false;
	memset(g, 0, sizeof(*g));
	for (size_t k = 0; k < n_drm; k++) {
		if (!strncmp(drm[k], "renderD", 7)) {
			char *end;
			unsigned long m = strtoul(drm[k] + 7, &end, 10);

			g->render_minor = *end || m > 0x7fffffff ? 0 : (unsigned int)m;
		}
		if (g->n_drm < K8S_AMD_MAX_DRM)
			snprintf(g->drm[g->n_drm++], sizeof(g->drm[0]), "/dev/dri/%.30s", drm[k]);
	}
	free_names(drm, n_drm);
	tp = g->render_minor ? topo_of(topo, n_topo, g->render_minor) : NULL;
	if (!g->n_drm || !tp || !tp->has_group)
		return false; /* the runtime skips a device the KFD topology does not know */
	snprintf(g->group, sizeof(g->group), "%s", tp->group);
	g->unique_id = tp->unique_id;
	g->has_unique_id = tp->has_unique_id;
	return true;
}

/* The KFD topology: render minor -> PCI device and unique id. */
static int load_topology(const char *sys, struct topo **topo, size_t *n_topo, char *err,
			 size_t errlen)
{
	char p[4096], **nodes = NULL;
	size_t n_nodes = 0;
	int ret;

	snprintf(p, sizeof(p), "%s%s", sys, UNDER(TOPOLOGY));
	ret = list_dir(p, any, &nodes, &n_nodes, K8S_AMD_MAX_NODES);
	if (ret == -ENOENT || ret == -ENOTDIR)
		ret = 0;
	else if (ret)
		FAIL(ret, "amd: %s: %s", p, strerror(-ret));
	if (n_nodes && !(*topo = calloc(n_nodes, sizeof(**topo))))
		FAIL(-ENOMEM, "amd: out of memory");
	for (size_t i = 0; i < n_nodes; i++) {
		char f[4200];

		snprintf(f, sizeof(f), "%s%s/%s/properties", sys, UNDER(TOPOLOGY), nodes[i]);
		if (!read_props(f, &(*topo)[*n_topo]) && (*topo)[*n_topo].render_minor > 0)
			(*n_topo)++;
	}
out:
	free_names(nodes, n_nodes);
	return ret;
}

/* The devices the runtime counts, on PCI and as partitions (amdgpu_xcp_*), in that order. */
static int load_devices(const char *sys, const struct topo *topo, size_t n_topo,
			struct k8s_amd_gpu *raw, size_t *n_raw, char *err, size_t errlen)
{
	const char *const where[] = { UNDER(PCI), UNDER(PLATFORM) };
	char p[4096];
	int ret = 0;

	for (size_t w = 0; w < 2; w++) {
		char **devs = NULL;
		size_t n_devs = 0;

		snprintf(p, sizeof(p), "%s%s", sys, where[w]);
		ret = list_dir(p, w ? xcp : hex4_colon, &devs, &n_devs, K8S_AMD_MAX_GPUS);
		if (ret == -ENOENT || ret == -ENOTDIR) {
			ret = 0;
			continue;
		}
		if (ret)
			FAIL(ret, "amd: %s: %s", p, strerror(-ret));
		for (size_t i = 0; i < n_devs && *n_raw < K8S_AMD_MAX_GPUS; i++)
			if (gpu_of_dev(p, devs[i], topo, n_topo, &raw[*n_raw]))
				(*n_raw)++;
		free_names(devs, n_devs);
	}
out:
	return ret;
}

/* grouped by PCI device in first-seen order, by render minor within a group */
static void group_gpus(const struct k8s_amd_gpu *raw, size_t n_raw, struct k8s_amd_table *t)
{
	for (size_t i = 0; i < n_raw; i++) {
		size_t first = t->n;
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen |= !strcmp(raw[k].group, raw[i].group);
		if (seen)
			continue;
		for (size_t k = i; k < n_raw; k++)
			if (!strcmp(raw[k].group, raw[i].group))
				t->gpus[t->n++] = raw[k];
		qsort(&t->gpus[first], t->n - first, sizeof(*t->gpus), cmp_gpu);
	}
}

int k8s_amd_load(const char *sys, struct k8s_amd_table *t, char *err, size_t errlen)
{
	char p[4096];
	size_t n_topo = 0, n_raw = 0;
	struct topo *topo = NULL;
	struct k8s_amd_gpu *raw = NULL;
	DIR *d;
	int ret;

	t->gpus = NULL;
	t->n = 0;
	snprintf(p, sizeof(p), "%s%s", sys, UNDER(DRIVERS));
	d = opendir(p);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		ret = -errno;
		snprintf(err, errlen, "amd: %s: %s", p, strerror(-ret));
		return ret;
	}
	closedir(d);
	ret = load_topology(sys, &topo, &n_topo, err, errlen);
	if (ret)
		goto out;
	if (!(raw = calloc(K8S_AMD_MAX_GPUS, sizeof(*raw))))
		FAIL(-ENOMEM, "amd: out of memory");
	ret = load_devices(sys, topo, n_topo, raw, &n_raw, err, errlen);
	if (ret)
		goto out;
	if (n_raw && !(t->gpus = calloc(n_raw, sizeof(*t->gpus))))
		FAIL(-ENOMEM, "amd: out of memory");
	group_gpus(raw, n_raw, t);
out:
	free(topo);
	free(raw);
	if (ret)
		k8s_amd_free(t);
	return ret;
}
