/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy: every cgroup the agent knows, what the allocation sources say of it, and the kernel's
 * policy and owners maps kept in step with that.
 */
#ifndef AG_POLICY_H
#define AG_POLICY_H

#include <stdbool.h>
#include <linux/types.h>
#include "accelguard.h"
#include "config.h"
#include "devices.h"
#include "htab.h"
#include "maps.h"
#include "source.h"

#define AG_MAX_SOURCES 4
#define AG_PENDING_MAX 32 /* unresolved accesses kept per cgroup for re-judging */

struct ag_pending_access {
	__u64 time_ns;
	__u32 pid, tid, major, minor, class_id, op, cmd, xfer_cmd, hook;
	char comm[AG_COMM_LEN];
	bool scanned; /* a descriptor found open by the start-up scan */
	int fd;
};

/*
 * A cgroup below a tenant (one that the kernel judges by its tenant's entry, through the ancestor
 * walk of ag_policy_of()): never classified and never written to the policy map, so nothing it is
 * named and no number of them changes a verdict or fills the map. Kept for attribution only.
 */
struct ag_member {
	struct ag_hnode by_id;
	__u64 id;
	__u64 tenant;      /* the cgroup id of its tenant (an ag_cg) */
	unsigned int seen; /* the last scan that found it */
	char path[];
};

struct ag_cg {
	struct ag_hnode by_id;
	struct ag_hnode by_path;
	__u64 id;
	char *path;
	int state;          /* enum ag_pstate */
	bool in_map;        /* an entry is in the kernel's policy map */
	bool unwritten;     /* it needs an entry, and the map had no room for it */
	struct ag_tenant t; /* identity and devices (state AG_P_TENANT) */
	char *key;          /* the tenant this cgroup belongs to (owners are counted per key) */
	__u64 created_ns;   /* CLOCK_BOOTTIME of its mkdir, 0 when found by a scan */
	bool lat_done;      /* its creation -> policy latency is recorded */
	unsigned int seen;  /* the last scan that found it */
	bool preexisting;   /* found by the start-up scan: never denied for being unresolved */
	unsigned int n_pending;
	struct ag_pending_access *pending; /* AG_PENDING_MAX, allocated on first use */
};

/* Called when a cgroup's state leaves AG_P_UNRESOLVED (for re-judging its pending accesses). */
typedef void (*ag_resolved_cb)(struct ag_cg *cg, void *ctx);
/* Called when the policy map becomes full (some cgroup it must hold has no entry: cg is the one
 * just refused) and when every such cgroup has its entry again (cg NULL). */
typedef void (*ag_full_cb)(bool full, const struct ag_cg *cg, void *ctx);
/* Called when a tenant already in the map loses a device range it was allowed (a revocation):
 * its processes may still hold the device. */
typedef void (*ag_revoked_cb)(const struct ag_cg *cg, void *ctx);

struct ag_policy_db {
	const struct ag_config *cfg;
	const struct ag_devtab *devtab;
	struct ag_source *src[AG_MAX_SOURCES];
	int n_src;
	struct ag_maps *maps; /* the kernel's maps; NULL: no kernel (unit tests) */
	struct ag_htab ids, paths, owners, keys;
	struct ag_htab members; /* struct ag_member by id */
	char **roots; /* tenant parents, from the configuration and the sources */
	size_t n_roots;
	ag_resolved_cb on_resolved;
	ag_full_cb on_full;
	ag_revoked_cb on_revoked; /* NULL: not asked */
	void *cb_ctx;
	/* the policy map: entries this table holds there, cgroups refused for want of room now
	 * (fail closed: ag_policy_full in the kernel while non-zero), refusals ever */
	__u64 map_entries, map_refused;
	unsigned int unwritten;
	/* cgroup creation -> final policy (tenant or exempt) in the map, ns, for cgroups created
	 * while running */
	__u64 *lat;
	size_t n_lat, cap_lat;
	__u64 map_errors;
	unsigned int scan_gen;
	bool starting;      /* the start-up scan runs: the cgroups it finds existed before us */
	/* the cgroup2 mount (NULL: none, unit tests): where an ancestor that no event told of is
	 * looked up before a cgroup below it is judged */
	const char *cgroup2;
};

int ag_policy_init(struct ag_policy_db *db, const struct ag_config *cfg,
		   const struct ag_devtab *devtab, struct ag_maps *maps);
void ag_policy_free(struct ag_policy_db *db);
int ag_policy_add_source(struct ag_policy_db *db, struct ag_source *src);

/* The configuration's own source (standalone mode): tenants and allocations by cgroup path. */
struct ag_source *ag_config_source_new(const struct ag_config *cfg);

/* Walk the cgroup2 tree and judge every cgroup. */
int ag_policy_scan(struct ag_policy_db *db, const char *cgroup2);

/* The same, and forget the cgroups that are gone (their removal events were lost): gone() is
 * called for each before it is removed. Returns the number removed, or -errno. */
typedef void (*ag_gone_cb)(struct ag_cg *cg, void *ctx);
int ag_policy_reconcile(struct ag_policy_db *db, const char *cgroup2, ag_gone_cb gone, void *ctx);

/* A cgroup appeared (created_ns: its mkdir's CLOCK_BOOTTIME, or 0) or went. Returns NULL for a
 * cgroup below a tenant (kept as an ag_member) or on a failed allocation. */
struct ag_cg *ag_policy_added(struct ag_policy_db *db, __u64 id, const char *path, __u64 created_ns);
void ag_policy_removed(struct ag_policy_db *db, __u64 id);

/* Ask the sources again about every cgroup (after a source's notification). */
void ag_policy_refresh(struct ag_policy_db *db);

struct ag_cg *ag_policy_find(const struct ag_policy_db *db, __u64 id);
/* The cgroup that answers for id: its own entry, or for a cgroup below a tenant its tenant's,
 * with *path (may be NULL) set to id's own path. NULL: not known. */
struct ag_cg *ag_policy_lookup(const struct ag_policy_db *db, __u64 id, const char **path);
const struct ag_member *ag_policy_member(const struct ag_policy_db *db, __u64 id);
/* The tenant a path lies below (its nearest ancestor held here, when that one is a tenant,
 * exempt or unresolved), or NULL. */
struct ag_cg *ag_policy_tenant_of(const struct ag_policy_db *db, const char *path);
struct ag_cg *ag_policy_find_path(const struct ag_policy_db *db, const char *path);

/* The effective kernel policy of a cgroup path (for judging in user space what the kernel would):
 * same rules as the BPF ag_policy_of(). Returns false for the host. */
bool ag_policy_effective(const struct ag_policy_db *db, const char *path, struct ag_policy *out);
__u32 ag_policy_owners(const struct ag_policy_db *db, __u32 major, __u32 minor);

/* Number of cgroups in each state. */
void ag_policy_counts(const struct ag_policy_db *db, unsigned int counts[5]);

const char *ag_pstate_name(int state);

/* After the policy is written over adopted pinned maps (kernel/pins.h ag_pins_adopted()): delete
 * the policy, viol and owners entries that the previous agent wrote and db does not hold; returns
 * how many policy and owners entries went. */
unsigned int ag_policy_prune(const struct ag_policy_db *db, struct ag_maps *m);

#endif
