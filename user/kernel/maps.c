// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one owner of kernel state (maps.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "maps.h"
#include "util.h"

int ag_maps_init(struct ag_maps *m, const struct ag_maps_fds *fds)
{
	memset(m, 0, sizeof(*m));
	if (fds)
		m->fd = *fds;
	else
		m->fd = (struct ag_maps_fds){ -1, -1, -1, -1, -1, -1, -1, -1, -1 };
	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus <= 0)
		m->ncpus = 1;
	m->majors = calloc(AG_MAX_MAJOR, sizeof(*m->majors));
	if (!m->majors)
		return -ENOMEM;
	/* what the map holds: empty when new, a previous agent's classes when adopted (pins.c), so
	 * that the first sync also clears the majors that are no accelerator any more */
	for (__u32 k = 0; m->fd.accel_devices >= 0 && k < AG_MAX_MAJOR; k++)
		if (bpf_map_lookup_elem(m->fd.accel_devices, &k, &m->majors[k]))
			memset(&m->majors[k], 0, sizeof(m->majors[k]));
	/* an adopted generation goes on from where it is: a cached verdict never sees it again */
	if (m->fd.policy_gen >= 0) {
		__u32 zero = 0;

		if (bpf_map_lookup_elem(m->fd.policy_gen, &zero, &m->gen))
			m->gen = 0;
	}
	ag_maps_bump(m);
	return 0;
}

/* After every write to policy, owners or accel_devices: the kernel's cached verdicts are stale
 * from now on (the programs read the generation before the maps). */
void ag_maps_bump(struct ag_maps *m)
{
	__u32 zero = 0;

	if (m->fd.policy_gen < 0)
		return;
	m->gen++;
	if (bpf_map_update_elem(m->fd.policy_gen, &zero, &m->gen, BPF_ANY)) {
		/* the cache would keep old verdicts: turn it off (generation 0) */
		__u64 off = 0;

		m->errors++;
		ag_err("bpf: cannot bump the policy generation: %s; turning the verdict cache off",
		       strerror(errno));
		bpf_map_update_elem(m->fd.policy_gen, &zero, &off, BPF_ANY);
	}
}

void ag_maps_free(struct ag_maps *m)
{
	free(m->majors);
	free(m->procdev);
	m->majors = NULL;
	m->procdev = NULL;
}

/* ---- writes ---------------------------------------------------------------------------------- */

/* A failed map write: counted (unless count is false: a delete of what is not there), -errno
 * returned, errno kept for the caller's message. */
static int map_failed(struct ag_maps *m, bool count)
{
	int e = errno;

	if (count)
		m->errors++;
	errno = e;
	return -e;
}

int ag_maps_policy_set(struct ag_maps *m, __u64 cgroup_id, const struct ag_policy *p)
{
	if (m->fd.policy < 0)
		return 0;
	if (bpf_map_update_elem(m->fd.policy, &cgroup_id, p, BPF_ANY)) {
		return map_failed(m, true);
	}
	ag_maps_bump(m);
	return 0;
}

int ag_maps_policy_get(const struct ag_maps *m, __u64 cgroup_id, struct ag_policy *p)
{
	if (m->fd.policy < 0)
		return -ENOENT;
	return bpf_map_lookup_elem(m->fd.policy, &cgroup_id, p) ? -errno : 0;
}

int ag_maps_policy_del(struct ag_maps *m, __u64 cgroup_id)
{
	if (m->fd.policy < 0)
		return 0;
	if (bpf_map_delete_elem(m->fd.policy, &cgroup_id)) {
		return map_failed(m, errno != ENOENT);
	}
	ag_maps_bump(m);
	return 0;
}

int ag_maps_owner_set(struct ag_maps *m, __u32 major, __u32 minor, __u32 count)
{
	struct ag_dev_key k = { .major = major, .minor = minor };
	int err;

	if (m->fd.owners < 0)
		return 0;
	err = count ? bpf_map_update_elem(m->fd.owners, &k, &count, BPF_ANY)
		    : bpf_map_delete_elem(m->fd.owners, &k);
	if (err && !(count == 0 && errno == ENOENT)) {
		return map_failed(m, true);
	}
	ag_maps_bump(m);
	return 0;
}

int ag_maps_accel_sync(struct ag_maps *m, const struct ag_devtab *dt, bool *changed)
{
	struct ag_major_entry *want = calloc(AG_MAX_MAJOR, sizeof(*want));
	int r, n = 0;

	if (!want)
		return -ENOMEM;
	if (changed)
		memset(changed, 0, AG_MAX_MAJOR * sizeof(*changed));
	r = ag_devtab_fill_majors(dt, want);
	for (__u32 k = 0; !r && k < AG_MAX_MAJOR; k++) {
		if (!memcmp(&want[k], &m->majors[k], sizeof(want[k])))
			continue;
		if (m->fd.accel_devices >= 0 &&
		    bpf_map_update_elem(m->fd.accel_devices, &k, &want[k], BPF_ANY)) {
			r = -errno;
			m->errors++;
			break;
		}
		m->majors[k] = want[k];
		if (changed)
			changed[k] = true;
		n++;
	}
	free(want);
	if (n)
		ag_maps_bump(m);
	return r ? r : n;
}

/* ---- the /proc/devices watch ------------------------------------------------------------------- */

bool ag_maps_procdev_changed(struct ag_maps *m, const char *path)
{
	size_t len = 0;
	char *now = NULL;
	bool changed;

	if (path && ag_read_file_max(path, 1u << 20, &now, &len))
		now = NULL, len = 0;

	/* a file that cannot be read reads as empty: a driver table that went away */
	changed = m->procdev_read &&
		  (len != m->procdev_len || (len && memcmp(now, m->procdev, len)));
	free(m->procdev);
	m->procdev = now;
	m->procdev_len = now ? len : 0;
	m->procdev_read = true;
	return changed;
}

/* ---- reads ------------------------------------------------------------------------------------ */

static __u64 percpu_sum(const struct ag_maps *m, int fd, __u32 key)
{
	__u64 sum = 0, *vals;

	if (fd < 0)
		return 0;
	vals = calloc(m->ncpus, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(fd, &key, vals))
		for (int i = 0; i < m->ncpus; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

__u64 ag_maps_drops(const struct ag_maps *m, __u32 kind)
{
	return percpu_sum(m, m->fd.drops, kind);
}

/* Every CPU's copy of every vcache slot, AG_VCACHE_SLOTS * ncpus of them (slot-major), or NULL. */
static struct ag_vcache_slot *vcache_read(const struct ag_maps *m)
{
	struct ag_vcache_slot *all;

	if (m->fd.vcache < 0)
		return NULL;
	all = calloc((size_t)AG_VCACHE_SLOTS * m->ncpus, sizeof(*all));
	for (__u32 i = 0; all && i < AG_VCACHE_SLOTS; i++)
		if (bpf_map_lookup_elem(m->fd.vcache, &i, &all[(size_t)i * m->ncpus]))
			memset(&all[(size_t)i * m->ncpus], 0, m->ncpus * sizeof(*all));
	return all;
}

/* Whether no slot was flushed between two reads a and b: each holds the same fill with no fewer
 * accesses (a flush empties the slot and the fill that follows counts its fills up). */
static bool vcache_same(const struct ag_vcache_slot *a, const struct ag_vcache_slot *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].gen != b[i].gen || a[i].fills != b[i].fills || b[i].count < a[i].count)
			return false;
	return true;
}

/*
 * The totals count an access cached in a vcache slot only once the slot is flushed (taken by
 * another key): a slot's count is added here. The slots are read before and after the totals;
 * when no slot was flushed in between, the totals hold none of the counts read, and the sum lies
 * between the true counts at the first read and at the totals' read (so successive snapshots never
 * go back). A slot flushed in between: read again (the flush is a miss's, rare); after 8 tries the
 * last reads are used.
 */
void ag_maps_totals(const struct ag_maps *m, __u64 out[AG_OP__MAX][AG_V__MAX])
{
	size_t n = (size_t)AG_VCACHE_SLOTS * m->ncpus;
	struct ag_vcache_slot *before = NULL, *after = NULL;

	for (int try = 0; try < 8; try++) {
		free(before);
		before = after ? after : vcache_read(m);
		after = NULL;
		for (__u32 op = 0; op < AG_OP__MAX; op++)
			for (__u32 v = 0; v < AG_V__MAX; v++)
				out[op][v] = percpu_sum(m, m->fd.totals, op * AG_V__MAX + v);
		after = vcache_read(m);
		if (!before || !after || vcache_same(before, after, n))
			break;
	}
	for (size_t i = 0; before && i < n; i++)
		if (before[i].gen && before[i].count && before[i].key.op < AG_OP__MAX &&
		    before[i].verdict < AG_V__MAX)
			out[before[i].key.op][before[i].verdict] += before[i].count;
	free(before);
	free(after);
}

__u64 ag_maps_total(const struct ag_maps *m, __u32 op, __u32 verdict)
{
	__u64 all[AG_OP__MAX][AG_V__MAX];

	if (op >= AG_OP__MAX || verdict >= AG_V__MAX)
		return 0;
	ag_maps_totals(m, all);
	return all[op][verdict];
}

int ag_maps_viol_get(const struct ag_maps *m, __u64 cgroup_id, struct ag_viol_state *s)
{
	if (m->fd.viol < 0)
		return -ENOENT;
	return bpf_map_lookup_elem(m->fd.viol, &cgroup_id, s) ? -errno : 0;
}

int ag_maps_viol_next(const struct ag_maps *m, const __u64 *prev, __u64 *next)
{
	if (m->fd.viol < 0)
		return -ENOENT;
	return bpf_map_get_next_key(m->fd.viol, prev, next) ? -errno : 0;
}

/* Iterating the decision maps: the restart's reconcile (pins.c) finds what a previous agent left. */
int ag_maps_policy_next(const struct ag_maps *m, const __u64 *prev, __u64 *next)
{
	if (m->fd.policy < 0)
		return -ENOENT;
	return bpf_map_get_next_key(m->fd.policy, prev, next) ? -errno : 0;
}

int ag_maps_owner_next(const struct ag_maps *m, const struct ag_dev_key *prev,
		       struct ag_dev_key *next)
{
	if (m->fd.owners < 0)
		return -ENOENT;
	return bpf_map_get_next_key(m->fd.owners, prev, next) ? -errno : 0;
}

int ag_maps_viol_del(struct ag_maps *m, __u64 cgroup_id)
{
	if (m->fd.viol < 0)
		return 0;
	return bpf_map_delete_elem(m->fd.viol, &cgroup_id) ? -errno : 0;
}

void ag_counter_sum(const struct ag_counter_val *vals, int ncpus, struct ag_access_count *out)
{
	__u64 most = 0;

	out->count = 0;
	out->first_ns = 0;
	out->verdict = 0;
	for (int i = 0; i < ncpus; i++) {
		const struct ag_counter_val *v = &vals[i];

		out->count += v->count;
		if (v->first_ns && (!out->first_ns || v->first_ns < out->first_ns))
			out->first_ns = v->first_ns;
		if (v->count > most) {
			most = v->count;
			out->verdict = v->verdict;
		}
	}
}

static bool before(const struct ag_access_count *a, const struct ag_access_count *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	return memcmp(&a->k, &b->k, sizeof(a->k)) < 0;
}

void ag_counter_top_insert(struct ag_access_count *top, size_t *n, size_t cap,
			   const struct ag_access_count *c)
{
	size_t i;

	if (!cap || (*n == cap && !before(c, &top[cap - 1])))
		return;
	i = *n < cap ? (*n)++ : cap - 1;
	while (i > 0 && before(c, &top[i - 1])) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = *c;
}

/* The cache slots that hold counts (vcache: counted there, not yet in counters), every CPU's:
 * returns how many, in *out (to free), or 0. */
static size_t vcache_pending(const struct ag_maps *m, struct ag_vcache_slot **out)
{
	size_t n = 0, cap = (size_t)AG_VCACHE_SLOTS * m->ncpus;
	struct ag_vcache_slot *vals = NULL, *pend = NULL;

	*out = NULL;
	if (m->fd.vcache < 0)
		return 0;
	vals = calloc(m->ncpus, sizeof(*vals));
	pend = calloc(cap, sizeof(*pend));
	for (__u32 i = 0; vals && pend && i < AG_VCACHE_SLOTS; i++) {
		if (bpf_map_lookup_elem(m->fd.vcache, &i, vals))
			continue;
		for (int c = 0; c < m->ncpus; c++)
			if (vals[c].gen && vals[c].count)
				pend[n++] = vals[c];
	}
	free(vals);
	if (!n) {
		free(pend);
		return 0;
	}
	*out = pend;
	return n;
}

size_t ag_maps_counters_top(const struct ag_maps *m, struct ag_access_count *out, size_t n,
			    size_t *entries)
{
	struct ag_counter_key key, next, *prev = NULL;
	struct ag_vcache_slot *pend = NULL;
	struct ag_counter_val *vals;
	struct ag_access_count c;
	size_t filled = 0, seen = 0, npend;

	if (entries)
		*entries = 0;
	if (m->fd.counters < 0)
		return 0;
	/* the kernel copies one value per possible CPU, each rounded up to 8 bytes */
	vals = calloc(m->ncpus, sizeof(*vals));
	if (!vals)
		return 0;
	/* read first: a count flushed from a slot into counters meanwhile is then seen once (in
	 * counters) or not at all, never twice */
	npend = vcache_pending(m, &pend);
	/* an entry evicted under the walk restarts it: bound the walk */
	for (size_t steps = 0; steps < (1u << 20) &&
	     !bpf_map_get_next_key(m->fd.counters, prev, &next); steps++) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->fd.counters, &key, vals))
			continue; /* evicted meanwhile (LRU) */
		seen++;
		ag_counter_sum(vals, m->ncpus, &c);
		c.k = key;
		for (size_t i = 0; i < npend; i++)
			if (!memcmp(&pend[i].key, &key, sizeof(key)))
				c.count += pend[i].count;
		ag_counter_top_insert(out, &filled, n, &c);
	}
	free(pend);
	free(vals);
	if (entries)
		*entries = seen;
	return filled;
}
