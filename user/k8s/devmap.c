// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Allocated device ids -> device numbers.
 *   NVIDIA device plugin ids (FACTS.md): GPU-<uuid> -> /dev/nvidia<minor> through procfs;
 *   MIG-GPU-<uuid>/<gi>/<ci> -> the parent GPU and its gi/ci access capabilities (mig-minors);
 *   MIG-<uuid> and index ids ("0", "1:0") -> the CDI spec that names them (nvidia-ctk's uuid and
 *   index strategies), a bare index also through procfs (NVML orders GPUs by PCI bus id);
 *   "<id>::<n>" (time-slicing replica) -> <id>.
 *   Other vendors' device plugin ids -> the CDI device "<resource>=<id>".
 *   DRA claim resources -> their CDI device names; failing that, for gpu.nvidia.com, the device's
 *   uuid attribute in the ResourceSlice, or its canonical name gpu-<minor>.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devmap.h"

#define RELOAD_MIN_NS 1000000000ull /* reread procfs and CDI at most once a second on a miss */

static void add(struct k8s_alloc *a, __u32 major, __u32 lo, __u32 hi, __u32 flags)
{
	for (unsigned int i = 0; i < a->n; i++) {
		struct ag_dev_range *r = &a->r[i];

		if (r->major == major && lo >= r->lo && hi <= r->hi) {
			r->flags &= flags; /* exclusive wins over shared */
			return;
		}
	}
	if (a->n < K8S_MAX_RANGES)
		a->r[a->n++] = (struct ag_dev_range){ .major = major, .lo = lo, .hi = hi, .flags = flags };
}

static void add_cdi(struct k8s_alloc *a, const struct ag_cdi_device *d)
{
	for (size_t i = 0; i < d->n_nodes; i++)
		add(a, d->nodes[i].major, d->nodes[i].minor, d->nodes[i].minor,
		    d->nodes[i].shared ? AG_RF_SHARED : 0);
}

static void cdi_warn(void *arg, const char *msg)
{
	k8s_log(AG_LOG_WARN, "%s", msg);
}

/* map_lock held */
static void reload(struct k8s_devmap *m, bool miss)
{
	uint64_t now = k8s_mono_ns();
	char err[512] = "";
	struct ag_nv_table nv;
	struct ag_cdi_cache cdi;
	uint64_t stamp;

	if (m->valid) {
		if (now - m->loaded_ns < RELOAD_MIN_NS)
			return;
		stamp = ag_cdi_stamp((const char *const *)m->cdi_dirs, m->n_cdi_dirs);
		if (!miss && stamp == m->cdi.stamp)
			return;
	}
	if (ag_nv_load(&nv, m->proc, err, sizeof(err)) < 0) {
		k8s_log(AG_LOG_WARN, "%s (keeping the GPU table read before)", err);
	} else {
		ag_nv_free(&m->nv);
		m->nv = nv;
	}
	if (ag_cdi_load(&cdi, (const char *const *)m->cdi_dirs, m->n_cdi_dirs, m->dev_root, cdi_warn,
			NULL) == 0) {
		ag_cdi_free(&m->cdi);
		m->cdi = cdi;
	}
	{
		struct ag_vfio v;

		if (ag_vfio_scan(m->sys ? m->sys : "/sys", &v, err, sizeof(err)) < 0) {
			k8s_log(AG_LOG_WARN, "%s (keeping the VFIO groups read before)", err);
		} else {
			ag_vfio_free(&m->vfio);
			m->vfio = v;
		}
	}
	m->loaded_ns = now;
	m->valid = true;
	atomic_store(&m->uvm_major, m->nv.uvm_major);
}

void k8s_map_reload(struct k8s_devmap *m, bool force)
{
	k8s_lock(&m->lock);
	if (force)
		m->valid = false;
	reload(m, false);
	k8s_unlock(&m->lock);
}

static bool vendor_is(const char *resource, const char *vendor)
{
	const char *slash = strchr(resource, '/');
	size_t l = slash ? (size_t)(slash - resource) : strlen(resource), vl = strlen(vendor);

	return (l == vl && !strncmp(resource, vendor, vl)) ||
	       (l > vl && resource[l - vl - 1] == '.' && !strncmp(resource + l - vl, vendor, vl));
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool add_gpu(struct k8s_devmap *m, struct k8s_alloc *a, int minor)
{
	if (minor < 0)
		return false;
	add(a, AG_NV_MAJOR, (__u32)minor, (__u32)minor, 0);
	return true;
}

/* MIG-GPU-<uuid>/<gi>/<ci>: the parent GPU and the capabilities of its GPU and compute instance */
static bool map_mig_legacy(struct k8s_devmap *m, const char *id, struct k8s_alloc *a)
{
	char uuid[64], name[64];
	unsigned int gi, ci;
	int minor, m1, m2;
	const char *s = id + 4; /* "GPU-..." */
	const char *slash = strchr(s, '/');

	if (!slash || (size_t)(slash - s) >= sizeof(uuid) ||
	    sscanf(slash, "/%u/%u", &gi, &ci) != 2)
		return false;
	memcpy(uuid, s, (size_t)(slash - s));
	uuid[slash - s] = '\0';
	minor = ag_nv_minor_by_uuid(&m->nv, uuid);
	if (minor < 0 || m->nv.caps_major < 0)
		return false;
	snprintf(name, sizeof(name), "gpu%d/gi%u/access", minor, gi);
	m1 = ag_nv_cap_minor(&m->nv, name);
	snprintf(name, sizeof(name), "gpu%d/gi%u/ci%u/access", minor, gi, ci);
	m2 = ag_nv_cap_minor(&m->nv, name);
	if (m1 < 0 || m2 < 0)
		return false;
	add_gpu(m, a, minor);
	add(a, (__u32)m->nv.caps_major, (__u32)m1, (__u32)m1, 0);
	add(a, (__u32)m->nv.caps_major, (__u32)m2, (__u32)m2, 0);
	return true;
}

/* map_lock held. A PCI address: the GPU's node while its driver holds it, else its VFIO group. */
static bool map_bdf(struct k8s_devmap *m, const char *id, struct k8s_alloc *a)
{
	const struct ag_vfio_group *g = ag_vfio_by_bdf(&m->vfio, id);
	int minor = ag_nv_minor_by_bus(&m->nv, id);

	if (minor >= 0)
		return add_gpu(m, a, minor);
	if (!g)
		return false;
	/* its group and its per-device node: the VMM may open either */
	for (; g; g = ag_vfio_next_by_bdf(&m->vfio, id, g))
		add(a, g->major, g->minor, g->minor, 0);
	return true;
}

/* map_lock held */
static bool map_dp_once(struct k8s_devmap *m, const char *resource, const char *id,
			struct k8s_alloc *a)
{
	const char *slash = strchr(resource, '/');
	const char *class_ = slash ? slash + 1 : NULL;
	const struct ag_cdi_device *d;
	char vendor[128];

	snprintf(vendor, sizeof(vendor), "%.*s", slash ? (int)(slash - resource) : (int)strlen(resource),
		 resource);
	if (vendor_is(resource, "nvidia.com")) {
		a->nvidia = true;
		if (!strncasecmp(id, "GPU-", 4))
			return add_gpu(m, a, ag_nv_minor_by_uuid(&m->nv, id));
		if (!strncasecmp(id, "MIG-GPU-", 8) && strchr(id, '/'))
			return map_mig_legacy(m, id, a);
		d = ag_cdi_find_vendor(&m->cdi, "nvidia.com", class_, id);
		if (d) {
			add_cdi(a, d);
			return true;
		}
		if (all_digits(id))
			return add_gpu(m, a, ag_nv_minor_by_index(&m->nv, (unsigned int)atoi(id)));
		return map_bdf(m, id, a);
	}
	/* another vendor: its CDI spec */
	{
		char q[512];

		snprintf(q, sizeof(q), "%s=%s", resource, id);
		d = ag_cdi_find(&m->cdi, q);
		if (!d)
			d = ag_cdi_find_vendor(&m->cdi, vendor, class_, id);
		if (d) {
			add_cdi(a, d);
			return true;
		}
	}
	return map_bdf(m, id, a);
}

/* Said once per id: the same answer comes at every resync. */
static void warn_unmapped(struct k8s_devmap *m, struct k8s_alloc *a, const char *what)
{
	bool said = false;

	a->unmapped = true;
	k8s_lock(&m->lock);
	for (size_t i = 0; i < m->n_warned && !said; i++)
		said = !strcmp(m->warned[i], what);
	if (!said && m->n_warned < 1024) {
		char **w = realloc(m->warned, (m->n_warned + 1) * sizeof(*w));

		if (w) {
			m->warned = w;
			w[m->n_warned] = strdup(what);
			if (w[m->n_warned])
				m->n_warned++;
		}
	}
	k8s_unlock(&m->lock);
	if (!said)
		k8s_log(AG_LOG_WARN, "devmap: %s maps to no device number (not in the NVIDIA procfs "
			"tables nor in any CDI spec): accesses to it will be judged as not allocated",
			what);
}

void k8s_map_dp(struct k8s_devmap *m, const char *resource, const char *id, struct k8s_alloc *a)
{
	char base[256];
	const char *rep = strstr(id, "::");
	bool ok;

	/* time-slicing / MPS replica: the replicated device */
	snprintf(base, sizeof(base), "%.*s", rep ? (int)(rep - id) : (int)strlen(id), id);
	k8s_lock(&m->lock);
	reload(m, false);
	ok = map_dp_once(m, resource, base, a);
	if (!ok && k8s_mono_ns() - m->loaded_ns >= RELOAD_MIN_NS) {
		reload(m, true);
		a->n = 0;
		ok = map_dp_once(m, resource, base, a);
	}
	/* an NVIDIA MIG index "N:M" without a CDI spec: at least the parent GPU */
	if (!ok && a->nvidia && strchr(base, ':') && isdigit((unsigned char)base[0])) {
		unsigned int gpu, mig;
		int end = 0;

		/* exactly "N:M" (a PCI address "0000:5f:00.0" is none) */
		if (sscanf(base, "%u:%u%n", &gpu, &mig, &end) == 2 && !base[end] &&
		    add_gpu(m, a, ag_nv_minor_by_index(&m->nv, gpu)))
			k8s_log(AG_LOG_WARN, "devmap: %s %s: MIG index without a CDI spec: only its "
				"parent GPU is known, not its capabilities", resource, id);
	}
	k8s_unlock(&m->lock);
	if (!ok && !a->n) {
		char what[600];

		snprintf(what, sizeof(what), "device plugin %s id %s", resource, id);
		warn_unmapped(m, a, what);
	}
}

/* gpu.nvidia.com without a CDI name: the ResourceSlice's uuid attribute, else gpu-<minor> */
static bool map_nvidia_dra(struct k8s_devmap *m, const char *pool, const char *device,
			   struct k8s_alloc *a)
{
	char uuid[64] = "", pci[64] = "";
	unsigned int minor;
	char tail;

	/* lock held */
	for (size_t i = 0; i < m->n_slices; i++) {
		const struct k8s_slice_dev *s = &m->slices[i];

		if (ag_streq(s->driver, "gpu.nvidia.com") && ag_streq(s->pool, pool) &&
		    ag_streq(s->name, device)) {
			ag_strlcpy(uuid, s->uuid, sizeof(uuid));
			ag_strlcpy(pci, s->pci, sizeof(pci));
			break;
		}
	}
	if (!strncasecmp(uuid, "GPU-", 4) && add_gpu(m, a, ag_nv_minor_by_uuid(&m->nv, uuid)))
		return true;
	if (*uuid) {
		const struct ag_cdi_device *d = ag_cdi_find_vendor(&m->cdi, "nvidia.com", NULL, uuid);

		if (d) {
			add_cdi(a, d);
			return true;
		}
	}
	if (*pci && add_gpu(m, a, ag_nv_minor_by_bus(&m->nv, pci)))
		return true;
	if (sscanf(device, "gpu-%u%c", &minor, &tail) == 1 && minor <= 255)
		return add_gpu(m, a, (int)minor);
	return false;
}

void k8s_map_dra(struct k8s_devmap *m, const char *driver, const char *pool, const char *device,
		 const char *const *cdi, size_t n_cdi, struct k8s_alloc *a)
{
	bool ok = false;

	a->nvidia = vendor_is(driver, "nvidia.com");
	k8s_lock(&m->lock);
	for (int pass = 0; pass < 2 && !ok; pass++) {
		if (pass) {
			if (k8s_mono_ns() - m->loaded_ns < RELOAD_MIN_NS)
				break;
			reload(m, true);
		} else {
			reload(m, false);
		}
		a->n = 0;
		for (size_t i = 0; i < n_cdi; i++) {
			const struct ag_cdi_device *d = ag_cdi_find(&m->cdi, cdi[i]);

			if (d) {
				add_cdi(a, d);
				ok = true;
			}
		}
		if (!ok && !strcmp(driver, "gpu.nvidia.com"))
			ok = map_nvidia_dra(m, pool, device, a);
	}
	k8s_unlock(&m->lock);
	if (!ok) {
		char what[600];

		snprintf(what, sizeof(what), "DRA device %s/%s/%s%s%s", driver, pool, device,
			 n_cdi ? " (CDI " : "", n_cdi ? cdi[0] : "");
		if (n_cdi)
			strncat(what, ")", sizeof(what) - strlen(what) - 1);
		warn_unmapped(m, a, what);
	}
}

void k8s_slices_free(struct k8s_slice_dev *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].driver);
		free(s[i].pool);
		free(s[i].name);
		free(s[i].uuid);
		free(s[i].pci);
	}
	free(s);
}

void k8s_map_set_slices(struct k8s_devmap *m, struct k8s_slice_dev *v, size_t n)
{
	k8s_lock(&m->lock);
	k8s_slices_free(m->slices, m->n_slices);
	m->slices = v;
	m->n_slices = n;
	k8s_unlock(&m->lock);
}

int k8s_map_uvm_major(const struct k8s_devmap *m)
{
	return atomic_load(&m->uvm_major);
}

void k8s_map_counts(struct k8s_devmap *m, size_t *gpus, size_t *cdi_devs)
{
	k8s_lock(&m->lock);
	*gpus = m->nv.n_gpus;
	*cdi_devs = m->cdi.n;
	k8s_unlock(&m->lock);
}

int k8s_map_init(struct k8s_devmap *m, const char *proc, const char *dev_root,
		 const char *const *cdi_dirs, size_t n_cdi_dirs)
{
	memset(m, 0, sizeof(*m));
	k8s_lock_init(&m->lock, K8S_RANK_DEVMAP, "devmap");
	atomic_init(&m->uvm_major, -ENOENT);
	m->proc = k8s_sdup(proc);
	m->dev_root = k8s_sdup(dev_root);
	m->cdi_dirs = calloc(n_cdi_dirs ? n_cdi_dirs : 1, sizeof(char *));
	if ((proc && !m->proc) || (dev_root && !m->dev_root) || !m->cdi_dirs)
		return -ENOMEM;
	for (; m->n_cdi_dirs < n_cdi_dirs; m->n_cdi_dirs++)
		if (!(m->cdi_dirs[m->n_cdi_dirs] = strdup(cdi_dirs[m->n_cdi_dirs])))
			return -ENOMEM;
	return 0;
}

int k8s_map_set_sys(struct k8s_devmap *m, const char *sys)
{
	char *s = strdup(sys);

	if (!s)
		return -ENOMEM;
	k8s_lock(&m->lock);
	free(m->sys);
	m->sys = s;
	m->valid = false;
	k8s_unlock(&m->lock);
	return 0;
}

void k8s_map_fini(struct k8s_devmap *m)
{
	ag_nv_free(&m->nv);
	ag_vfio_free(&m->vfio);
	free(m->sys);
	ag_cdi_free(&m->cdi);
	k8s_strv_free(m->warned, m->n_warned);
	k8s_slices_free(m->slices, m->n_slices);
	k8s_strv_free(m->cdi_dirs, m->n_cdi_dirs);
	free(m->proc);
	free(m->dev_root);
	k8s_lock_destroy(&m->lock);
	memset(m, 0, sizeof(*m));
}
