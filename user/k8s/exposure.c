// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A container's exposure: the host's accelerator nodes its OCI spec lets it reach beyond its
 * allocation, each with its reasons (exposure.h). */
#include <dirent.h>
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

/* NVIDIA_VISIBLE_DEVICES / AMD_VISIBLE_DEVICES: "all", or a comma-separated list of indexes and
 * (NVIDIA) GPU UUIDs; "none", "void" and "" give nothing */
static bool env_selects(const char *val, const struct k8s_hostdev *h, bool nvidia,
			const struct ag_nv_table *nv)
{
	char buf[1024], *save = NULL;

	if (!val || !*val || !strcmp(val, "none") || !strcmp(val, "void"))
		return false;
	if (!strcmp(val, "all"))
		return true;
	if (!nvidia || !nv)
		return false; /* AMD's list names GPUs by index or UUID the agent cannot map yet */
	snprintf(buf, sizeof(buf), "%s", val);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long idx;
		int minor;

		while (*t == ' ')
			t++;
		idx = strtoul(t, &end, 10);
		if (*t && !*end)
			minor = ag_nv_minor_by_index(nv, (unsigned int)idx);
		else
			minor = ag_nv_minor_by_uuid(nv, t);
		if (minor >= 0 && (uint32_t)minor == h->minor)
			return true;
	}
	return false;
}

int k8s_exposure_compute(const struct k8s_oci *o, const struct k8s_hostdev *hd, size_t n,
			 const struct ag_dev_range *alloc, unsigned int n_alloc,
			 const struct ag_nv_table *nv, struct ag_k8s_exposure *out)
{
	bool priv = k8s_oci_privileged(o);
	int total = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->file, sizeof(out->file), "%s", o->file ? o->file : "");
	if (o->sandbox)
		return 0; /* the pause container runs nothing of the pod's */
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
		if (h->nvidia_gpu && env_selects(o->env_nvidia, h, true, nv)) {
			char e[96];

			snprintf(e, sizeof(e), "env NVIDIA_VISIBLE_DEVICES=%.60s", o->env_nvidia);
			reason(&x, AG_K8S_X_ENV, "%s", e);
		}
		if (h->drm && env_selects(o->env_amd, h, false, nv)) {
			char e[96];

			snprintf(e, sizeof(e), "env AMD_VISIBLE_DEVICES=%.60s", o->env_amd);
			reason(&x, AG_K8S_X_ENV, "%s", e);
		}
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
	return total;
}
