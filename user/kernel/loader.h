/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Loading the kernel programs: probe the kernel by effect, choose the strongest tier that works,
 * configure (rodata, map sizes, autoload) between open and load, attach. Every attachment is a
 * bpf_link owned by the skeleton.
 */
#ifndef AG_LOADER_H
#define AG_LOADER_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/types.h>
#include "accelguard.h"
#include "accelguard.skel.h"
#include "pins.h"

struct ag_load_opts {
	bool enforce;
	bool unresolved_deny;
	__u64 rate_limit;
	__u32 policy_entries;
	__u32 ringbuf_bytes;
	int force_tier; /* 0: probe; else enum ag_tier */
	bool arrival;   /* reads: arrival: tiers 1-2 judge a descriptor where it arrives */
	struct ag_pins *pins; /* pinned state to adopt and pin into (pins.h); NULL: none */
};

struct ag_tier_report {
	bool tried;
	bool loaded;
	bool attached;
	bool effective; /* the probe open was seen by the program */
	int err;        /* negative errno of the step that failed */
	char why[160];
};

struct ag_probe_report {
	int tier; /* chosen, 0 when none works */
	struct ag_tier_report t[4]; /* indexed by enum ag_tier */
	char lsm_list[256];         /* /sys/kernel/security/lsm, "" when unreadable */
	char kernel[128];
	char cgroup2[4096];
	bool cgroup_dev_attached;
	int cgroup_dev_err;
};

struct ag_bpf {
	struct accelguard_bpf *skel;
	int tier;
	int cgroup_fd;
	struct ag_probe_report report;
	bool arrival; /* reads: arrival at this tier (1-2): file_permission attached on demand */
	bool per_use; /* the per-use read/write hook is attached */
};

/* Probe, load and attach everything for `run`. cgroup2 is the mount point (cgroup/dev goes on
 * its root). Returns 0 or -errno with the report filled in. */
int ag_bpf_start(struct ag_bpf *b, const struct ag_load_opts *o, const char *cgroup2);
void ag_bpf_stop(struct ag_bpf *b);

/* reads: arrival: attach the per-use read/write hook (file_permission) now; it stays for the
 * agent's life. 0 when attached (or already), -errno. */
int ag_bpf_attach_per_use(struct ag_bpf *b);
/* reads: arrival: what the kernel could not judge or stop at an arrival (AG_UNSEEN_* bits) */
__u32 ag_bpf_arrival_unseen(const struct ag_bpf *b);

/* The name of the ioctl program in use (tier 3 has two variants). */
const char *ag_bpf_ioctl_prog(const struct ag_bpf *b);

/* `probe`: what this kernel supports, nothing left attached. */
int ag_bpf_probe(struct ag_probe_report *r, const char *cgroup2);

/* Every tier tried was refused with EPERM: privileges, not the kernel. */
bool ag_all_refused_eperm(const struct ag_probe_report *r);

const char *ag_tier_name(int tier);
int ag_tier_parse(const char *s);

/*
 * Entries of the per-CPU counters map: every entry holds a value per possible CPU, so the map is
 * sized to a memory budget (24 MiB of values) within [4096, 65536] entries: 65536 up to 16 CPUs,
 * 8192 on 128. An LRU map: when it is full the least recently used keys go (their counts stay
 * exact in the totals and viol maps; only the per-key breakdown of summary.top_accesses loses them).
 */
#define AG_COUNTERS_BUDGET (24ULL << 20)
#define AG_COUNTERS_MIN 4096
#define AG_COUNTERS_MAX 65536
__u32 ag_counter_entries(int ncpu);

/* Sum of a per-CPU u64 array slot. */
__u64 ag_percpu_sum(int map_fd, __u32 key);

#endif
