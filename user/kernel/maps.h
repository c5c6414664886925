/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one owner of kernel state: every write of the policy, owners and accel_devices maps and
 * every read of the kernel's counters (drops, totals, viol, counters) goes through here. The
 * policy table, the agent loop and (later) metrics call these functions; nothing else holds a map
 * descriptor. A descriptor of -1 means "no kernel" (unit tests): writes succeed without effect and
 * reads find nothing.
 */
#ifndef AG_MAPS_H
#define AG_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "accelguard.h"
#include "devices.h"

struct ag_maps_fds {
	int policy, owners, accel_devices, counters, viol, drops, totals;
	int policy_gen, vcache; /* the allowed path's cache (accelguard.h): bumped, summed */
};

struct ag_maps {
	struct ag_maps_fds fd;
	int ncpus;                       /* libbpf_num_possible_cpus() */
	struct ag_major_entry *majors;   /* what accel_devices holds now, AG_MAX_MAJOR entries */
	char *procdev;                   /* the last content of /proc/devices seen (watch) */
	size_t procdev_len;
	bool procdev_read;
	__u64 errors;                    /* failed map writes */
	__u64 gen;                       /* what policy_gen holds */
};

/* fds: the skeleton's map descriptors, or NULL for none (every one -1). Returns 0 or -errno. */
int ag_maps_init(struct ag_maps *m, const struct ag_maps_fds *fds);
void ag_maps_free(struct ag_maps *m);

/* policy: cgroup id -> policy. Return 0 or -errno (errno kept). */
int ag_maps_policy_set(struct ag_maps *m, __u64 cgroup_id, const struct ag_policy *p);
int ag_maps_policy_del(struct ag_maps *m, __u64 cgroup_id); /* -ENOENT when absent */
/* the entry the kernel holds for cgroup_id; -ENOENT when absent */
int ag_maps_policy_get(const struct ag_maps *m, __u64 cgroup_id, struct ag_policy *p);

/* after a write to policy, owners or accel_devices (the writes here call it): the kernel's cached
 * verdicts are stale from now on */
void ag_maps_bump(struct ag_maps *m);

/* owners: device -> number of tenants it is allocated to; count 0 deletes. */
int ag_maps_owner_set(struct ag_maps *m, __u32 major, __u32 minor, __u32 count);

/* accel_devices: write the majors of the device table, only those that differ from what the map
 * holds (all of them the first time). changed (AG_MAX_MAJOR bools, may be NULL) says which
 * majors were written. Returns the number of majors written, or -errno (-E2BIG: a major with
 * more than AG_MAX_RANGES ranges). */
int ag_maps_accel_sync(struct ag_maps *m, const struct ag_devtab *dt, bool *changed);

/* The /proc/devices watch: read the file (a path) and say whether its content differs from the
 * last read (the first read is "unchanged": it is what the device table was built from). */
bool ag_maps_procdev_changed(struct ag_maps *m, const char *path);

/* drops: ring-buffer drops of one kind (enum ag_drop), summed over CPUs. */
__u64 ag_maps_drops(const struct ag_maps *m, __u32 kind);
/* totals: every access of (op, verdict), exact, summed over CPUs, the vcache slots' counts
 * added (the kernel moves them to totals only when another key takes the slot). */
void ag_maps_totals(const struct ag_maps *m, __u64 out[AG_OP__MAX][AG_V__MAX]);
__u64 ag_maps_total(const struct ag_maps *m, __u32 op, __u32 verdict);

/* viol: per-cgroup violation accounting. get: 0 or -ENOENT. next: iterate the keys (prev NULL
 * first); 0 or -ENOENT at the end. */
int ag_maps_viol_get(const struct ag_maps *m, __u64 cgroup_id, struct ag_viol_state *s);
int ag_maps_viol_next(const struct ag_maps *m, const __u64 *prev, __u64 *next);
int ag_maps_viol_del(struct ag_maps *m, __u64 cgroup_id);
/* policy and owners keys (prev NULL first); 0 or -ENOENT at the end. */
int ag_maps_policy_next(const struct ag_maps *m, const __u64 *prev, __u64 *next);
int ag_maps_owner_next(const struct ag_maps *m, const struct ag_dev_key *prev,
		       struct ag_dev_key *next);

/* counters: every (cgroup, device, op, cmd), per-CPU values summed: count added up, first_ns the
 * earliest, verdict of the CPU that counted most. */
struct ag_access_count {
	struct ag_counter_key k;
	__u64 count;
	__u64 first_ns;
	__u32 verdict;
};

/* The top n entries by count (ties: lower key first), out sorted by count, descending. Returns
 * how many were filled; *entries (may be NULL) gets the number of entries in the map. */
size_t ag_maps_counters_top(const struct ag_maps *m, struct ag_access_count *out, size_t n,
			    size_t *entries);

/* Sum the per-CPU values of one counters entry (vals: ncpus of them). */
void ag_counter_sum(const struct ag_counter_val *vals, int ncpus, struct ag_access_count *out);

/* Insert c into top (sorted by count, descending, *n of cap entries), keeping the top cap. */
void ag_counter_top_insert(struct ag_access_count *top, size_t *n, size_t cap,
			   const struct ag_access_count *c);

#endif
