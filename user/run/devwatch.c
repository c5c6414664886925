// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The device classes and the /proc/devices watch (run.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "run.h"
#include "vfio.h"

/* the VFIO groups holding a GPU, as one number: a change (a GPU bound to vfio-pci or taken off
 * it) rebuilds the classes */
static __u64 vfio_hash(const struct ag_vfio *v)
{
	__u64 h = 1469598103934665603ULL;

	for (size_t i = 0; i < v->n; i++) {
		const struct ag_vfio_group *g = &v->g[i];
		const __u64 x[3] = { g->major, g->minor, g->group };

		for (size_t k = 0; k < 3; k++)
			h = (h ^ x[k]) * 1099511628211ULL;
		for (const char *c = g->bdf; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	}
	return h;
}

static bool vfio_changed(struct agent *a)
{
	struct ag_vfio v;
	char err[512];
	bool changed;

	if (ag_vfio_scan(a->cfg.host.sys ? a->cfg.host.sys : "/sys", &v, err, sizeof(err)))
		return false;
	changed = vfio_hash(&v) != a->vfio_hash;
	ag_vfio_free(&v);
	return changed;
}

/* The device classes: built-in, the dynamic majors of /proc/devices, the configuration's.
 * Class ids do not depend on what /proc/devices holds, so a rebuild keeps them. */
int ag_devwatch_build(struct agent *a, struct ag_devtab *dt, bool at_start)
{
	int r = ag_devtab_init(dt, a->procdev);

	if (r) {
		ag_err("devices: cannot build the device classes from %s%s%s%s: %s", a->procdev,
		       a->cfg.host.proc ? " (host.proc in " : "", a->cfg.host.proc ? a->cfg.path : "",
		       a->cfg.host.proc ? ")" : "", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < a->cfg.n_devices; i++) {
		const struct ag_cfg_devclass *d = &a->cfg.devices[i];

		r = ag_devtab_add(dt, d->class_name, d->major, d->lo, d->hi);
		if (r < 0) {
			if (at_start)
				ag_err("config: %s:%d: cannot add device class %s: %s", a->cfg.path,
				       d->line, d->class_name, strerror(-r));
			else
				ag_warn("devices: %s now: the configuration's class %s (%s:%d) does "
					"not fit any more: %s; keeping the device classes as they were",
					a->procdev, d->class_name, a->cfg.path, d->line, strerror(-r));
			return r;
		}
	}
	/* VFIO groups that hold a GPU (a Kata-style VMM opens /dev/vfio/N): their minors only */
	{
		struct ag_vfio v;
		char err[512];

		r = ag_vfio_scan(a->cfg.host.sys ? a->cfg.host.sys : "/sys", &v, err, sizeof(err));
		if (r)
			ag_warn("devices: %s; VFIO groups are not classified", err);
		else if ((r = ag_devtab_add_vfio(dt, &v)) == -E2BIG)
			ag_warn("devices: %zu VFIO groups hold a GPU, in more than %d minor ranges: the "
				"groups between the last ones count as GPUs too", v.n, AG_MAX_RANGES);
		else if (r < 0)
			ag_warn("devices: the VFIO groups that hold a GPU cannot be classified: %s",
				strerror(-r));
		a->vfio_hash = vfio_hash(&v);
		ag_vfio_free(&v);
	}
	/* the kernel's table holds AG_MAX_RANGES per major: a configured class on the major a
	 * driver registered in /proc/devices can pass the file's check and still not fit */
	for (size_t i = 0; i < a->cfg.n_devices; i++) {
		const struct ag_cfg_devclass *d = &a->cfg.devices[i];
		unsigned int n = 0;

		for (unsigned int j = 0; j < dt->n_ranges; j++)
			n += dt->ranges[j].major == d->major;
		if (n > AG_MAX_RANGES) {
			ag_log(at_start ? AG_LOG_ERROR : AG_LOG_WARN,
			       "config: %s:%d: device class %s: major %u would have %u minor ranges with the drivers of %s (at most %d)",
			       a->cfg.path, d->line, d->class_name, d->major, n, a->procdev,
			       AG_MAX_RANGES);
			return -E2BIG;
		}
	}
	return 0;
}

static bool has_range(const struct ag_devtab *t, const struct ag_class_range *r)
{
	for (unsigned int i = 0; i < t->n_ranges; i++)
		if (!memcmp(&t->ranges[i], r, sizeof(*r)))
			return true;
	return false;
}

/* The ranges of one table that the other lacks, as a JSON array and a log text. */
static unsigned int put_range_diff(struct agent *a, const struct ag_devtab *from,
				   const struct ag_devtab *lacking, char *log, size_t loglen)
{
	struct jw *w = &a->jw;
	unsigned int n = 0;
	size_t off = strlen(log);

	jw_arr_open(w);
	for (unsigned int i = 0; i < from->n_ranges; i++) {
		const struct ag_class_range *r = &from->ranges[i];
		const struct ag_class *c = ag_devtab_class(from, r->class_id);
		char m[48];

		if (has_range(lacking, r))
			continue;
		if (r->hi == AG_MINOR_ANY)
			snprintf(m, sizeof(m), "*");
		else if (r->lo == r->hi)
			snprintf(m, sizeof(m), "%u", r->lo);
		else
			snprintf(m, sizeof(m), "%u-%u", r->lo, r->hi);
		jw_obj_open(w);
		jw_kstr(w, "class", c ? c->name : "unknown");
		jw_ku64(w, "major", r->major);
		jw_kstr(w, "minors", m);
		jw_obj_close(w);
		if (off < loglen)
			off += snprintf(log + off, loglen - off, " %s %u:%s", c ? c->name : "?",
					r->major, m);
		n++;
	}
	jw_arr_close(w);
	return n;
}

/*
 * The /proc/devices watch (every 500 ms; procfs has no inotify): a driver that registers after
 * the agent started (nvidia-uvm on first CUDA use, a GPU operator's driver) gets its major into
 * accel_devices, one that goes loses it, with a `devices` event.
 */
void ag_devwatch_check(struct agent *a, bool force)
{
	struct ag_devtab *nt, *old;
	unsigned int added = 0, removed = 0;
	char alog[512] = "", rlog[512] = "";
	int r;

	if (!ag_maps_procdev_changed(&a->maps, a->procdev) && !force && !vfio_changed(a))
		return;
	nt = malloc(sizeof(*nt));
	old = malloc(sizeof(*old));
	if (!nt || !old) {
		ag_err_errno(ENOMEM, "devices: %s changed: no memory to rebuild the device classes",
			     a->procdev);
		goto out;
	}
	if (ag_devwatch_build(a, nt, false))
		goto out;
	for (unsigned int i = 0; i < nt->n_ranges; i++)
		added += !has_range(&a->dt, &nt->ranges[i]);
	for (unsigned int i = 0; i < a->dt.n_ranges; i++)
		removed += !has_range(nt, &a->dt.ranges[i]);
	if (!added && !removed) /* another driver came or went */
		goto out;
	*old = a->dt;
	a->dt = *nt;
	/* a new class: policies first (a GPU tenant's new control node is allowed before the kernel
	 * judges it), then the kernel's map; a class gone: the map first */
	if (added)
		ag_policy_refresh(&a->db);
	r = ag_maps_accel_sync(&a->maps, &a->dt, NULL);
	if (r < 0)
		ag_err("devices: cannot update the accel_devices map: %s", strerror(-r));
	if (!added)
		ag_policy_refresh(&a->db);
	ag_ev_begin(a, AG_EVK_DEVICES, "devices", 0);
	jw_key(&a->jw, "added");
	put_range_diff(a, &a->dt, old, alog, sizeof(alog));
	jw_key(&a->jw, "removed");
	put_range_diff(a, old, &a->dt, rlog, sizeof(rlog));
	jw_kstr(&a->jw, "source", a->procdev);
	ag_ev_end(a);
	ag_info("devices: %s changed:%s%s%s%s", a->procdev, added ? " added" : "", alog,
		removed ? " removed" : "", rlog);
out:
	free(nt);
	free(old);
}
