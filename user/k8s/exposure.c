// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A container's exposure: the host's accelerator nodes its OCI spec lets it reach beyond its
 * allocation, each with its reasons (exposure.h). */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "devices.h"
#include "exposure.h"

const char *const ag_k8s_x_kind_names[AG_K8S_X_KINDS] = {
	"device", "privileged", "device-rule", "CAP_MKNOD", "hostPath", "env",
};

static int add_hostdev(struct k8s_hostdev **v, size_t *n, const char *path, uint32_t major,
		       uint32_t minor, bool nv, bool drm)
{
	struct k8s_hostdev *nv_;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].major == major && (*v)[i].minor == minor)
			return 0;
	if (*n >= K8S_HOSTDEV_MAX)
		return -E2BIG;
	nv_ = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv_)
		return -ENOMEM;
	*v = nv_;
	memset(&nv_[*n], 0, sizeof(nv_[*n]));
	snprintf(nv_[*n].path, sizeof(nv_[*n].path), "%s", path);
	nv_[*n].major = major;
	nv_[*n].minor = minor;
	nv_[*n].nvidia_gpu = nv;
	nv_[*n].drm = drm;
	(*n)++;
	return 0;
}

/* the name under "/dev" the container would see: dev_dir's prefix replaced */
static int scan_dir(const char *dir, const char *shown, int depth, const struct ag_devtab *dt,
		    struct k8s_hostdev **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (!d)
		return depth ? 0 : -errno;
	while (!ret && (e = readdir(d))) {
		char p[512], s[512];
		struct stat st;
		const struct ag_class *c;
		__u32 id;

		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= sizeof(p) ||
		    (size_t)snprintf(s, sizeof(s), "%s/%s", shown, e->d_name) >= sizeof(s))
			continue;
		if (lstat(p, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			/* nodes live at most one level down (dri/, accel/, nvidia-caps/) */
			if (!depth && strcmp(e->d_name, "shm") && strcmp(e->d_name, "pts") &&
			    strcmp(e->d_name, "mqueue") && strcmp(e->d_name, "hugepages"))
				ret = scan_dir(p, s, depth + 1, dt, out, n);
			continue;
		}
		if (!S_ISCHR(st.st_mode))
			continue;
		id = ag_devtab_lookup(dt, major(st.st_rdev), minor(st.st_rdev));
		c = id ? ag_devtab_class(dt, id) : NULL;
		if (!c || c->control)
			continue;
		ret = add_hostdev(out, n, s, major(st.st_rdev), minor(st.st_rdev),
				  !strcmp(c->name, "nvidia-gpu"), !strncmp(c->name, "drm-", 4));
	}
	closedir(d);
	return ret == -E2BIG ? 0 : ret; /* a node past the bound is left out, not an error */
}

int k8s_hostdevs_scan(const char *dev_dir, const struct ag_devtab *dt, const struct ag_nv_table *nv,
		      struct k8s_hostdev **out, size_t *n)
{
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (dev_dir && dt)
		ret = scan_dir(dev_dir, "/dev", 0, dt, out, n);
	if (ret == -ENOENT)
		ret = 0;
	for (size_t i = 0; !ret && nv && i < nv->n_gpus; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/dev/nvidia%u", nv->gpus[i].minor);
		ret = add_hostdev(out, n, p, AG_NV_MAJOR, nv->gpus[i].minor, true, false);
		if (ret == -E2BIG)
			ret = 0;
	}
	if (ret) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return ret;
}

static bool allocated(const struct ag_dev_range *a, unsigned int n, uint32_t major, uint32_t minor)
{
	for (unsigned int i = 0; i < n; i++)
		if (a[i].major == major && minor >= a[i].lo && minor <= a[i].hi)
			return true;
	return false;
}

static void reason(struct ag_k8s_exposed *x, unsigned int kind, const char *fmt, const char *arg)
{
	if (x->n_reasons == AG_K8S_REASONS_MAX)
		return;
	snprintf(x->reasons[x->n_reasons++], sizeof(x->reasons[0]), fmt, arg);
	x->kinds |= kind;
}

/*
 * The visibility variables, read as the runtimes that inject device nodes read them (what only
 * the ROCm or CUDA user space reads, ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES,
 * CUDA_VISIBLE_DEVICES, selects among nodes already there and exposes nothing).
 *
 * NVIDIA_VISIBLE_DEVICES (nvidia-container-toolkit, internal/config/image): split at ',', each
 * entry trimmed, empty ones dropped; no entry, or any "void": nothing; else the first "all" or
 * "none" in order decides (all GPUs; none); else each entry names a GPU: an NVML index ("0"), a
 * MIG device by index ("0:1", its GPU 0), a GPU UUID ("GPU-..."), a MIG device of the older form
 * ("MIG-GPU-<uuid>/<gi>/<ci>", its GPU); "MIG-<uuid>" and anything else name no GPU the agent
 * knows. Unset, in an image with CUDA_VERSION and no NVIDIA_REQUIRE_CUDA (a legacy CUDA image):
 * all GPUs.
 *
 * AMD_VISIBLE_DEVICES or DOCKER_RESOURCE_* (ROCm/container-toolkit, the last of them): exactly
 * "all", "All" or "ALL": every GPU; else split at ',' (not trimmed), each entry a unique id ("0x"
 * and hex, or more than 8 hex digits), a range "N-M" (N <= M), or an index (a Go integer),
 * indexes past the GPUs and anything else ignored ("none" and "void" among them). An index is a
 * GPU of the table of amd.h, its DRM nodes the ones injected.
 *
 * A list of more than K8S_ENV_MAX_ENTRIES entries is not looked up: every GPU counts, and the
 * reason says so.
 */
#define K8S_ENV_MAX_ENTRIES 4096u

struct sel {
	bool all, over;
	size_t n_entries;
	bool *idx; /* by the table's index (nv->gpus, amd->gpus) */
	size_t n;
};

/* the next entry of a ','-separated list: [*b, *e), p moved past it; false at the end */
static bool next_entry(const char **p, const char **b, const char **e, bool trim)
{
	const char *s = *p, *c;

	if (!s)
		return false;
	c = strchr(s, ',');
	*b = s;
	*e = c ? c : s + strlen(s);
	*p = c ? c + 1 : NULL;
	if (trim) {
		while (*b < *e && isspace((unsigned char)**b))
			(*b)++;
		while (*e > *b && isspace((unsigned char)(*e)[-1]))
			(*e)--;
	}
	return true;
}

static bool is(const char *b, const char *e, const char *word)
{
	size_t l = strlen(word);

	return (size_t)(e - b) == l && !memcmp(b, word, l);
}

/* Go's strconv.Atoi of [b, e): an optional sign, decimal digits, within int64 */
static bool go_atoi(const char *b, const char *e, long long *v)
{
	bool neg = false;
	unsigned long long x = 0;

	if (b < e && (*b == '+' || *b == '-'))
		neg = *b++ == '-';
	if (b == e)
		return false;
	for (; b < e; b++) {
		if (*b < '0' || *b > '9' || x > (ULLONG_MAX - 9) / 10)
			return false;
		x = x * 10 + (unsigned long long)(*b - '0');
	}
	if (x > (unsigned long long)LLONG_MAX + neg)
		return false;
	*v = neg ? (long long)(0 - x) : (long long)x;
	return true;
}

static bool digits(const char *b, const char *e)
{
	if (b == e)
		return false;
	for (; b < e; b++)
		if (*b < '0' || *b > '9')
			return false;
	return true;
}

static void pick(struct sel *s, long long i)
{
	if (i >= 0 && (size_t)i < s->n)
		s->idx[i] = true;
}

static int nv_index_of_minor(const struct ag_nv_table *nv, int minor)
{
	for (size_t i = 0; minor >= 0 && i < nv->n_gpus; i++)
		if (nv->gpus[i].minor == (unsigned int)minor)
			return (int)i;
	return -1;
}

/* one NVIDIA entry [b, e) */
static void nv_entry(struct sel *s, const struct ag_nv_table *nv, const char *b, const char *e)
{
	char id[128];
	const char *colon = memchr(b, ':', (size_t)(e - b));
	long long i;

	if (digits(b, e)) {
		if (go_atoi(b, e, &i))
			pick(s, i);
		return;
	}
	if (colon && digits(b, colon) && digits(colon + 1, e)) {
		if (go_atoi(b, colon, &i)) /* a MIG device by index: its GPU */
			pick(s, i);
		return;
	}
	if ((size_t)(e - b) >= sizeof(id))
		return; /* longer than any UUID */
	snprintf(id, sizeof(id), "%.*s", (int)(e - b), b);
	if (!strncmp(id, "MIG-GPU-", 8)) {
		char *slash = strchr(id + 4, '/');

		if (!slash)
			return;
		*slash = 0;
		pick(s, nv_index_of_minor(nv, ag_nv_minor_by_uuid(nv, id + 4)));
		return;
	}
	if (!strncmp(id, "MIG-", 4))
		return; /* a MIG UUID: its GPU is not in NVIDIA's procfs */
	pick(s, nv_index_of_minor(nv, ag_nv_minor_by_uuid(nv, id)));
}

static int nv_select(const char *val, const struct ag_nv_table *nv, struct sel *s)
{
	const char *p = val, *b, *e;
	const char *first = NULL;
	bool any = false;

	memset(s, 0, sizeof(*s));
	while (next_entry(&p, &b, &e, true)) {
		if (b == e)
			continue;
		any = true;
		s->n_entries++;
		if (is(b, e, "void"))
			return 0;
		if (!first && (is(b, e, "all") || is(b, e, "none")))
			first = b;
	}
	if (!any || (first && first[0] == 'n'))
		return 0;
	if (first || s->n_entries > K8S_ENV_MAX_ENTRIES) {
		s->all = true;
		s->over = !first;
		return 0;
	}
	if (!nv || !nv->n_gpus)
		return 0;
	if (!(s->idx = calloc(nv->n_gpus, sizeof(*s->idx))))
		return -ENOMEM;
	s->n = nv->n_gpus;
	for (p = val; next_entry(&p, &b, &e, true);)
		if (b < e)
			nv_entry(s, nv, b, e);
	return 0;
}

static bool hexdigits(const char *b, const char *e)
{
	if (b == e)
		return false;
	for (; b < e; b++)
		if (!isxdigit((unsigned char)*b))
			return false;
	return true;
}

/* one AMD entry [b, e) */
static void amd_entry(struct sel *s, const struct k8s_amd_table *amd, const char *b, const char *e)
{
	const char *dash = memchr(b, '-', (size_t)(e - b));
	long long lo, hi;

	if ((e - b >= 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X')) ||
	    (e - b > 8 && hexdigits(b, e))) {
		char want[40], have[40];

		if (e - b >= 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X'))
			b += 2;
		if (e - b >= (long)sizeof(want))
			return;
		snprintf(want, sizeof(want), "%.*s", (int)(e - b), b);
		for (char *c = want; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		for (size_t i = 0; i < amd->n; i++) {
			snprintf(have, sizeof(have), "%llx", (unsigned long long)amd->gpus[i].unique_id);
			if (amd->gpus[i].has_unique_id && !strcmp(want, have))
				pick(s, (long long)i);
		}
		return;
	}
	if (dash) {
		if (!go_atoi(b, dash, &lo) || !go_atoi(dash + 1, e, &hi) || lo < 0 || hi < 0 || lo > hi)
			return;
		for (long long i = lo; i <= hi && (size_t)i < s->n; i++)
			pick(s, i);
		return;
	}
	if (go_atoi(b, e, &lo))
		pick(s, lo);
}

static int amd_select(const char *val, const struct k8s_amd_table *amd, struct sel *s)
{
	const char *p = val, *b, *e;

	memset(s, 0, sizeof(*s));
	if (!strcmp(val, "all") || !strcmp(val, "All") || !strcmp(val, "ALL")) {
		s->all = true;
		return 0;
	}
	while (next_entry(&p, &b, &e, false))
		s->n_entries++;
	if (s->n_entries > K8S_ENV_MAX_ENTRIES) {
		s->all = s->over = true;
		return 0;
	}
	if (!amd || !amd->n)
		return 0;
	if (!(s->idx = calloc(amd->n, sizeof(*s->idx))))
		return -ENOMEM;
	s->n = amd->n;
	for (p = val; next_entry(&p, &b, &e, false);)
		amd_entry(s, amd, b, e);
	return 0;
}

static bool nv_selected(const struct sel *s, const struct ag_nv_table *nv, const struct k8s_hostdev *h)
{
	if (s->all)
		return true;
	for (size_t i = 0; i < s->n; i++)
		if (s->idx[i] && nv->gpus[i].minor == h->minor)
			return true;
	return false;
}

static bool amd_selected(const struct sel *s, const struct k8s_amd_table *amd,
			 const struct k8s_hostdev *h)
{
	if (s->all && !amd)
		return true; /* no table: every DRM node */
	for (size_t i = 0; amd && i < amd->n; i++) {
		if (!s->all && (i >= s->n || !s->idx[i]))
			continue;
		for (unsigned int k = 0; k < amd->gpus[i].n_drm; k++)
			if (!strcmp(amd->gpus[i].drm[k], h->path))
				return true;
	}
	return false;
}

/* "env NAME=VALUE", the value cut to fit; a list over the bound says so */
static void env_reason(char *out, size_t len, const char *name, const char *val, const struct sel *s)
{
	char r[160];
	size_t l;

	if (s->over)
		snprintf(r, sizeof(r), "env %.40s=%.12s... (%zu entries: all counted)", name, val,
			 s->n_entries);
	else
		snprintf(r, sizeof(r), "env %.40s=%.60s", name, val);
	l = strnlen(r, len - 1); /* a reason's room (AG_K8S_REASONS_MAX's strings) */
	memcpy(out, r, l);
	out[l] = 0;
}

int k8s_exposure_compute(const struct k8s_oci *o, const struct k8s_hostdev *hd, size_t n,
			 const struct ag_dev_range *alloc, unsigned int n_alloc,
			 const struct ag_nv_table *nv, const struct k8s_amd_table *amd,
			 struct ag_k8s_exposure *out)
{
	bool priv = k8s_oci_privileged(o);
	bool legacy = !o->env_nvidia && o->env_cuda_version && *o->env_cuda_version &&
		      !o->env_require_cuda;
	struct sel nvs = { 0 }, amds = { 0 };
	char nv_why[96] = "", amd_why[96] = "";
	int total = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->file, sizeof(out->file), "%s", o->file ? o->file : "");
	if (o->sandbox)
		return 0; /* the pause container runs nothing of the pod's */
	if (o->env_nvidia) {
		if (nv_select(o->env_nvidia, nv, &nvs))
			return -ENOMEM;
		env_reason(nv_why, sizeof(nv_why), "NVIDIA_VISIBLE_DEVICES", o->env_nvidia, &nvs);
	} else if (legacy) {
		nvs.all = true;
		snprintf(nv_why, sizeof(nv_why), "env CUDA_VERSION=%.16s (legacy image: "
			 "NVIDIA_VISIBLE_DEVICES unset is all)", o->env_cuda_version);
	}
	if (o->env_amd) {
		if (amd_select(o->env_amd, amd, &amds)) {
			free(nvs.idx);
			return -ENOMEM;
		}
		env_reason(amd_why, sizeof(amd_why), o->env_amd_var ? o->env_amd_var : "AMD_VISIBLE_DEVICES",
			   o->env_amd, &amds);
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s_hostdev *h = &hd[i];
		const struct k8s_oci_rule *rule;
		struct ag_k8s_exposed x;
		bool node = false;

		if (allocated(alloc, n_alloc, h->major, h->minor))
			continue;
		memset(&x, 0, sizeof(x));
		rule = k8s_oci_rule_for(o, h->major, h->minor);
		if (priv) {
			reason(&x, AG_K8S_X_PRIVILEGED, "%s", "privileged");
		} else if (rule) {
			char rs[48];

			for (size_t j = 0; j < o->n_devs; j++) {
				if (o->devs[j].type != 'c' || o->devs[j].major != h->major ||
				    o->devs[j].minor != h->minor)
					continue;
				reason(&x, AG_K8S_X_DEVICE, "device %s", o->devs[j].path);
				node = true;
				break;
			}
			/* a rule wider than one node: the container can make or find the rest */
			if (rule->major == K8S_OCI_ANY || rule->minor == K8S_OCI_ANY) {
				k8s_oci_rule_str(rule, rs, sizeof(rs));
				if (!node)
					reason(&x, AG_K8S_X_RULE, "device-rule %s", rs);
				if (!node && o->cap_mknod)
					reason(&x, AG_K8S_X_MKNOD, "%s", "CAP_MKNOD");
			}
			for (size_t j = 0; j < o->n_dev_mounts; j++) {
				const char *m = o->dev_mounts[j];
				size_t l = strlen(m);

				while (l > 1 && m[l - 1] == '/')
					l--;
				if (!strncmp(h->path, m, l) && (h->path[l] == '/' || !h->path[l])) {
					reason(&x, AG_K8S_X_HOSTPATH, "hostPath %s", m);
					break;
				}
			}
		}
		if (h->nvidia_gpu && nv_why[0] && nv_selected(&nvs, nv, h))
			reason(&x, AG_K8S_X_ENV, "%s", nv_why);
		if (h->drm && amd_why[0] && amd_selected(&amds, amd, h))
			reason(&x, AG_K8S_X_ENV, "%s", amd_why);
		if (!x.n_reasons)
			continue;
		total++;
		if (out->n == AG_K8S_EXPOSED_MAX) {
			out->more++;
			continue;
		}
		snprintf(x.path, sizeof(x.path), "%s", h->path);
		x.major = h->major;
		x.minor = h->minor;
		out->d[out->n++] = x;
	}
	free(nvs.idx);
	free(amds.idx);
	return total;
}
