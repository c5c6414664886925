/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps, settings and the judging path shared by the three hook families. Each family is its own
 * object; `bpftool gen object` links them, and the __weak definitions below become one map each.
 */
#ifndef AG_COMMON_BPF_H
#define AG_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "accelguard.h"
#include "verdict.h"

#define EPERM 1
#define SIGKILL 9
#define S_IFMT 00170000
#define S_IFCHR 0020000
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)

/* Settings fixed at load (rodata). */
const volatile __u32 ag_enforce __weak = 0;         /* 1: deny / kill violations */
const volatile __u32 ag_unresolved_deny __weak = 0; /* 1: enforce mode denies unresolved too */
const volatile __u64 ag_rate_limit __weak = 1000;   /* violation events per tenant per second */
const volatile __u32 ag_lsm_opens __weak = 0;       /* 1: opens are judged by lsm/fmod_ret, cgroup/dev does mknod only */
const volatile __u32 ag_probe_tgid __weak = 0;      /* the probing agent's pid, for probe-by-effect */
const volatile __u64 ag_probe_ino __weak = 0;       /* inode of the probe file */

/* Set by the agent (its .bss, mmapped) once its first snapshot of the sources is in the policy
 * map. Before: a cgroup without a policy is unresolved, not the host, and nothing is denied for
 * being unresolved (the truth is not known yet); tenants already in the map are judged as usual. */
volatile __u32 ag_ready __weak = 0;
/* Set by the agent (.bss) while some cgroup it must write has no room in the policy map: a cgroup
 * that would read as a new, unresolved tenant may be one of them, and enforce mode denies it
 * whatever `unresolved` says (fail closed). */
volatile __u32 ag_policy_full __weak = 0;
/* Written by the agent while the programs run (.data, mmapped). 0: these programs do not judge
 * yet: an agent replacing another's pinned state attaches them beside the old ones, which judge
 * until the new maps are filled (user/kernel/pins.c). */
volatile __u32 ag_armed __weak = 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_MAX_MAJOR);
	__type(key, __u32);
	__type(value, struct ag_major_entry);
} accel_devices SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* set from the configuration at load */
	__type(key, __u64);
	__type(value, struct ag_policy);
} policy SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ag_dev_key);
	__type(value, __u32);
} owners SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ag_counter_key);
	__type(value, struct ag_counter_val);
} counters SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ag_viol_state);
} viol SEC(".maps") __weak;

/* Bumped by the agent after every write to policy, owners or accel_devices (0: never written,
 * no cache). Pinned with them: an agent that adopts the maps bumps the same one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} policy_gen SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_VCACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct ag_vcache_slot);
} vcache SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_TOTALS_LEN);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_PROBE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} probe_hits SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 << 20); /* --ringbuf-kb at load */
} events SEC(".maps") __weak;

static __always_inline void ag_count_drop(__u32 kind)
{
	__u64 *d = bpf_map_lookup_elem(&drops, &kind);

	if (d)
		*d += 1; /* per-CPU slot: no atomics needed */
}

/* The accelerator class of a device number: one array lookup, 0 for anything else. */
static __always_inline __u32 ag_class(__u32 major, __u32 minor)
{
	struct ag_major_entry *e;

	if (major >= AG_MAX_MAJOR)
		return 0;
	e = bpf_map_lookup_elem(&accel_devices, &major);
	if (!e || !e->n)
		return 0;
	return ag_class_of(e, minor);
}

/* The effective policy of the current cgroup: its own entry, else the nearest ancestor's entry
 * that is inherited (a tenant's sub-cgroups, which have no entry of their own) or is a tenant
 * parent (a new tenant not yet known to the agent: unresolved). NULL: the host. *tenant: the
 * cgroup the verdict belongs to (the entry's, or the tenant parent's child on the path), so that
 * budgets and counts are per tenant, however many cgroups it makes below itself. */
static struct ag_policy unresolved_policy = { .state = AG_P_UNRESOLVED };
static struct ag_policy early_policy = { .state = AG_P_UNRESOLVED, .flags = AG_PF_PREEXISTING };

static __always_inline struct ag_policy *ag_policy_of(__u64 cgid, __u64 *tenant)
{
	struct ag_policy *p, *found = NULL;
	__u64 found_id = 0;
	int level, found_level = 0;

	*tenant = cgid;
	p = bpf_map_lookup_elem(&policy, &cgid);
	if (p) /* a tenant parent is no tenant itself: only its children without an entry are */
		return p->state == AG_P_TENANT_PARENT ? NULL : p;
	for (level = 1; level < AG_ANCESTOR_LEVELS; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		if (!id || id == cgid)
			break;
		p = bpf_map_lookup_elem(&policy, &id);
		if (p) {
			found = p;
			found_id = id;
			found_level = level;
		}
	}
	if (!found)
		return NULL;
	if (found->flags & AG_PF_INHERIT) {
		*tenant = found_id;
		return found;
	}
	if (found->state == AG_P_TENANT_PARENT) {
		__u64 child = bpf_get_current_ancestor_cgroup_id(found_level + 1);

		if (child)
			*tenant = child;
		return &unresolved_policy;
	}
	return NULL;
}

/* Fixed one-second window per tenant; the totals are exact whatever the window says. */
static __always_inline bool ag_viol_admit(__u64 cgid, __u64 now, __u64 *total, __u64 *suppressed)
{
	struct ag_viol_state *s, init = {};

	s = bpf_map_lookup_elem(&viol, &cgid);
	if (!s) {
		init.window_start = now;
		bpf_map_update_elem(&viol, &cgid, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&viol, &cgid);
		if (!s) /* map full: no per-tenant limit possible, count the event as a drop if any */
			return true;
	}
	*total = __sync_fetch_and_add(&s->total, 1) + 1;
	if (now - s->window_start >= 1000000000ULL) {
		s->window_start = now;
		s->in_window = 0;
	}
	if (__sync_fetch_and_add(&s->in_window, 1) < ag_rate_limit) {
		*suppressed = s->suppressed;
		return true;
	}
	*suppressed = __sync_fetch_and_add(&s->suppressed, 1) + 1;
	return false;
}

/* The cache slot of a key: a multiplicative hash of what varies most (the command, the cgroup).
 * cgid: the accessing cgroup (what a slot matches), not its tenant. */
static __always_inline __u32 ag_vcache_idx(__u64 cgid, __u32 major, __u32 minor, __u32 op,
					   __u32 cmd)
{
	__u32 h = (__u32)cgid ^ minor ^ (major << 8) ^ (op << 24) ^ cmd;

	return (h * 2654435761u) >> 27; /* AG_VCACHE_SLOTS = 32: the top 5 bits */
}

/* A slot's accesses go to totals and counters when another key takes the slot. An entry the LRU
 * evicted meanwhile loses them, as it lost its own count; totals lose none. */
static __always_inline void ag_vcache_flush(struct ag_vcache_slot *s)
{
	struct ag_counter_val *c;
	__u32 tidx;
	__u64 *tot;

	if (!s->gen || !s->count)
		return;
	tidx = s->key.op * AG_V__MAX + s->verdict;
	if (tidx < AG_TOTALS_LEN) {
		tot = bpf_map_lookup_elem(&totals, &tidx);
		if (tot)
			*tot += s->count;
	}
	c = bpf_map_lookup_elem(&counters, &s->key);
	if (c)
		c->count += s->count;
	s->count = 0;
}

/* Where a miss may fill the cache: the slot of its key and the generation read before any map. */
struct ag_vcache_ref {
	struct ag_vcache_slot *slot; /* NULL: no cache (not ready, generation 0) */
	__u64 gen;
};

/* The slot of a key under the current policy generation, or none. */
static __always_inline void ag_vcache_ref(struct ag_vcache_ref *ref, __u64 cgid, __u32 major,
					  __u32 minor, __u32 op, __u32 cmd)
{
	__u32 zero = 0, idx;
	__u64 *g;

	ref->slot = NULL;
	ref->gen = 0;
	if (!ag_ready)
		return;
	g = bpf_map_lookup_elem(&policy_gen, &zero);
	if (!g)
		return;
	ref->gen = *(volatile __u64 *)g;
	if (!ref->gen)
		return;
	idx = ag_vcache_idx(cgid, major, minor, op, cmd);
	ref->slot = bpf_map_lookup_elem(&vcache, &idx);
}

/*
 * The allowed path of a key this CPU judged under this policy generation: the cached verdict,
 * counted in the slot only (no policy, owners, counters or totals lookup, no atomic, no clock;
 * the slot's count goes to totals and counters when another key takes it, and user space adds
 * the slots it finds), or -1: a miss, which judges from the maps (ag_judge_maps). Only allowed
 * verdicts judged with the truth are cached (ag_vcache_fill), so a hit denies nothing.
 *
 * The verdict is read before the generation and the key: a program preempted on this CPU while
 * another fills the slot then sees a key or generation that is not its own (the filler zeroes the
 * generation first and writes it last).
 */
static __always_inline int ag_vcache_get(__u64 cgid, __u32 major, __u32 minor, __u32 op,
					 __u32 cmd)
{
	struct ag_vcache_slot *s;
	__u32 zero = 0, idx, v;
	__u64 *g, gen;

	if (!ag_ready)
		return -1;
	g = bpf_map_lookup_elem(&policy_gen, &zero);
	if (!g)
		return -1;
	gen = *(volatile __u64 *)g;
	if (!gen)
		return -1;
	idx = ag_vcache_idx(cgid, major, minor, op, cmd);
	s = bpf_map_lookup_elem(&vcache, &idx);
	if (!s)
		return -1;
	v = *(volatile __u32 *)&s->verdict;
	asm volatile("" ::: "memory");
	if (*(volatile __u64 *)&s->gen != gen || s->cgid != cgid || s->key.major != major ||
	    s->key.minor != minor || s->key.op != op || s->key.cmd != cmd)
		return -1;
	if (v >= AG_V__MAX)
		return -1; /* never filled so: and the verifier learns v's bounds */
	s->count += 1;
	return v;
}

/* An allowed verdict judged with the truth: the next access of the key takes it from the slot.
 * k: the counters key (its tenant's); cgid: the cgroup that was judged. */
static __always_inline void ag_vcache_fill(const struct ag_vcache_ref *ref,
					   const struct ag_counter_key *k, __u64 cgid, int v)
{
	struct ag_vcache_slot *s = ref->slot;

	if (!s)
		return;
	ag_vcache_flush(s);
	*(volatile __u64 *)&s->gen = 0;
	asm volatile("" ::: "memory");
	s->key = *k;
	s->cgid = cgid;
	s->count = 0;
	s->verdict = v;
	s->fills += 1;
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&s->gen = ref->gen;
}

struct ag_access {
	__u64 cgid; /* the current cgroup when the caller has it cheaper; 0: ag_judge asks the helper */
	struct task_struct *who; /* the process judged, when not the current one (a move); NULL */
	__u32 no_kill; /* a violation the caller cannot kill or deny: judged, reported observed */
	__u32 op;
	__u32 major;
	__u32 minor;
	__u32 class_id;
	__u32 cmd;
	__u32 xfer_cmd;
	__u32 hook;
};

/*
 * Judge one access to an accelerator from the maps (a miss of the verdict cache, or no cache),
 * count it, report it when it is a first sighting or a violation. Returns the verdict; the caller
 * turns it into a denial or a kill. cgid: the accessing cgroup. An allowed verdict fills the
 * key's slot of the verdict cache. The clock is read for a first sighting or a violation, the
 * owners map for a tenant that does not hold the device. Violations and unresolved accesses are
 * never cached.
 */
static __always_inline int ag_judge_maps(struct ag_access *a, bool *deny, __u64 cgid)
{
	struct ag_vcache_ref ref;
	struct ag_counter_key ck = {};
	struct ag_counter_val cv = {}, *cvp;
	struct ag_access_event *ev;
	struct task_struct *who;
	struct ag_policy *p;
	__u64 viol_total = 0, suppressed = 0, now = 0;
	__u32 flags = 0, tidx;
	__u64 *tot, pid_tgid, tenant;
	bool early = false, unres_deny;
	int v;

	ck.major = a->major;
	ck.minor = a->minor;
	ck.op = a->op;
	ck.cmd = a->xfer_cmd ? a->xfer_cmd : a->cmd;
	/* the generation before the policy: a write the agent makes after this read bumps it, and
	 * the slot filled from what the lookups below saw is stale at the next access, never used */
	ag_vcache_ref(&ref, cgid, ck.major, ck.minor, ck.op, ck.cmd);
	p = ag_policy_of(cgid, &tenant);
	if (!ag_ready) {
		flags |= AG_EF_EARLY;
		if (!p || p == &unresolved_policy) {
			p = &early_policy;
			early = true;
		}
	}
	v = ag_verdict_step(p, a->major, a->minor);
	if (v == AG_V_NEEDS_OWNERS) {
		struct ag_dev_key dk = { .major = a->major, .minor = a->minor };
		__u32 *o = bpf_map_lookup_elem(&owners, &dk);

		v = ag_verdict_owned(o ? *o : 0);
	}
	/* a cgroup the agent had no room to write may read as a new tenant: deny it (fail closed) */
	unres_deny = ag_unresolved_deny || (ag_policy_full && p == &unresolved_policy);
	*deny = ag_enforce && ag_denies(v, unres_deny && !(p && (p->flags & AG_PF_PREEXISTING))) &&
		!a->no_kill;

	tidx = a->op * AG_V__MAX + v;
	if (tidx < AG_TOTALS_LEN) {
		tot = bpf_map_lookup_elem(&totals, &tidx);
		if (tot)
			*tot += 1; /* per-CPU slot */
	}

	ck.cgroup_id = tenant; /* per tenant: its sub-cgroups cannot multiply entries or sightings */
	cvp = bpf_map_lookup_elem(&counters, &ck); /* this CPU's slot */
	if (cvp) {
		cvp->count += 1;
		cvp->verdict = v;
	} else {
		/* no CPU has seen the key: whoever inserts it first has the first sighting */
		now = bpf_ktime_get_boot_ns();
		cv.count = 1;
		cv.first_ns = now;
		cv.verdict = v;
		if (!bpf_map_update_elem(&counters, &ck, &cv, BPF_NOEXIST))
			flags |= AG_EF_FIRST;
		else if ((cvp = bpf_map_lookup_elem(&counters, &ck)))
			cvp->count += 1; /* another CPU inserted it meanwhile */
	}

	/* an allowed verdict judged with the truth: the next access of the key takes it from here */
	if (!early && !*deny && !ag_is_violation(v) && v != AG_V_UNRESOLVED)
		ag_vcache_fill(&ref, &ck, cgid, v);

	/* an access judged without the truth (before ready, a cgroup the map does not know) is no
	 * violation: reported on its first sighting, re-judged by user space */
	if ((ag_is_violation(v) || v == AG_V_UNRESOLVED) && !early) {
		flags |= AG_EF_VIOLATION;
		if (!now)
			now = bpf_ktime_get_boot_ns();
		if (!ag_viol_admit(tenant, now, &viol_total, &suppressed))
			return v; /* counted exactly; the stream learns it from the next event's totals */
	} else if (!(flags & AG_EF_FIRST)) {
		return v; /* routine allowed traffic: counters only */
	}

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		ag_count_drop((flags & AG_EF_VIOLATION) ? AG_DROP_VIOLATION : AG_DROP_ACCESS);
		return v;
	}
	who = a->who; /* a local: a CO-RE read through a->who would relocate ag_access too */
	pid_tgid = who ? (__u64)BPF_CORE_READ(who, tgid) << 32 | (__u32)BPF_CORE_READ(who, pid)
		       : bpf_get_current_pid_tgid();
	ev->h.type = AG_EV_ACCESS;
	ev->h.size = sizeof(*ev);
	ev->time_ns = now;
	ev->cgroup_id = cgid;
	ev->viol_total = viol_total;
	ev->suppressed = suppressed;
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->major = a->major;
	ev->minor = a->minor;
	ev->class_id = a->class_id;
	ev->cmd = a->cmd;
	ev->xfer_cmd = a->xfer_cmd;
	ev->op = a->op;
	ev->verdict = v;
	ev->hook = a->hook;
	ev->flags = flags;
	ev->action = AG_ACT_OBSERVED;
	if (*deny)
		ev->action = a->hook == AG_HOOK_TRACEPOINT ? AG_ACT_KILLED : AG_ACT_DENIED;
	if (who)
		BPF_CORE_READ_STR_INTO(&ev->comm, who, comm);
	else
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return v;
}

/* The miss of the hot callers (the security hooks' and the syscall entry's ioctl, read, write and
 * mmap) as a subprogram: their hit path keeps its values in registers. */
static __noinline int ag_judge_maps_sub(struct ag_access *a, bool *deny, __u64 cgid)
{
	return ag_judge_maps(a, deny, cgid);
}

/* The denial a subprogram wrote to the caller's stack, as 0 or 1: the verifier knows only that a
 * byte came back, and a program's return value derived from it must stay in its checked range. */
static __always_inline bool ag_judged_deny(bool d)
{
	__u8 b = d;

	asm volatile("" : "+r"(b));
	return b != 0;
}

/*
 * Judge one access to an accelerator (ag_access: the device, its class, the operation). The
 * allowed path of a known (cgroup, device, op, cmd) is the hot one (a GPU job's ioctls): a hit in
 * this CPU's verdict cache (vcache) under the current policy generation; a miss judges from the
 * maps (ag_judge_maps) and fills the slot.
 */
static __always_inline int ag_judge(struct ag_access *a, bool *deny)
{
	__u64 cgid;
	int v;

	*deny = false;
	if (!ag_armed)
		return AG_V_HOST; /* not judged, not counted: the previous programs judge meanwhile */
	cgid = a->cgid ? a->cgid : bpf_get_current_cgroup_id();
	v = ag_vcache_get(cgid, a->major, a->minor, a->op, a->xfer_cmd ? a->xfer_cmd : a->cmd);
	if (v >= 0)
		return v;
	return ag_judge_maps(a, deny, cgid);
}

/*
 * An LSM program must return 0 or a negative errno, and from 6.12 the verifier checks the range;
 * it cannot bound what clang makes of "deny ? -EPERM : 0" (a negation of a masked bit). Hide the
 * derivation from the compiler and clamp, so the verifier sees the bounds.
 */
static __always_inline int ag_lsm_ret(long r)
{
	asm volatile("" : "+r"(r));
	return r < -4095 || r > 0 ? -EPERM : r;
}

/* Probe by effect: count an open of the agent's probe file by the agent itself. */
static __always_inline void ag_probe_hit(__u32 slot, __u64 ino)
{
	__u64 *c;

	/* the inode first: a load and a compare, before any helper call */
	if (ino != ag_probe_ino || !ag_probe_tgid ||
	    (bpf_get_current_pid_tgid() >> 32) != ag_probe_tgid)
		return;
	c = bpf_map_lookup_elem(&probe_hits, &slot);
	if (c)
		*c += 1;
}

/* NVIDIA frontend ioctl nr 211 (IOCTL_XFER_CMD) carries the real escape in user memory. */
#define AG_NV_MAJOR 195
#define AG_NV_XFER_NR 211

static __always_inline __u32 ag_xfer_cmd(__u32 major, __u32 cmd, __u64 arg)
{
	__u32 inner = 0;

	if (major != AG_NV_MAJOR || (cmd & 0xff) != AG_NV_XFER_NR || ((cmd >> 8) & 0xff) != 'F')
		return 0;
	if (bpf_probe_read_user(&inner, sizeof(inner), (void *)arg))
		return 0;
	return inner;
}

/*
 * An operation on an open file (ioctl, read, write, mmap): judged when its inode is an
 * accelerator's character device. mode and rdev of the file's inode: the security hooks load them
 * directly (BTF pointers), the syscall tracepoint reads them from a file it found in the
 * descriptor table. task: the current task as a BTF pointer, when the caller has one (its cgroup
 * id is three loads away, cheaper than the helper call), else NULL.
 */
static __always_inline int ag_file_judge(struct task_struct *task, bool btf, bool sub,
					 __u32 mode, __u32 rdev, __u32 op, __u32 cmd, __u64 arg,
					 __u32 hook, bool *deny)
{
	__u32 major, minor, xfer = 0, class_id;
	__u64 cgid;
	int v;

	*deny = false;
	if ((mode & S_IFMT) != S_IFCHR)
		return 0;
	major = rdev >> MINORBITS;
	minor = rdev & MINORMASK;
	class_id = ag_class(major, minor);
	if (!class_id)
		return 0;
	if (!ag_armed)
		return AG_V_HOST; /* not judged, not counted: the previous programs judge meanwhile */
	if (op == AG_OP_IOCTL)
		xfer = ag_xfer_cmd(major, cmd, arg);
	if (btf)
		task = bpf_get_current_task_btf();
	cgid = task ? task->cgroups->dfl_cgrp->kn->id : bpf_get_current_cgroup_id();
	v = ag_vcache_get(cgid, major, minor, op, xfer ? xfer : cmd);
	if (v >= 0)
		return v;
	{
		struct ag_access a = { .op = op, .hook = hook, .cmd = cmd, .major = major,
				       .minor = minor, .class_id = class_id, .xfer_cmd = xfer };

		if (!sub)
			return ag_judge_maps(&a, deny, cgid);
		v = ag_judge_maps_sub(&a, deny, cgid);
		*deny = ag_judged_deny(*deny);
		return v;
	}
}

static __always_inline int ag_file_access(struct task_struct *task, __u32 mode, __u32 rdev,
					  __u32 op, __u32 cmd, __u64 arg, __u32 hook, bool *deny)
{
	return ag_file_judge(task, false, false, mode, rdev, op, cmd, arg, hook, deny);
}

/* The same for the syscall entry's ioctl, read, write and mmap: the miss in a subprogram. */
static __always_inline int ag_file_access_hot(struct task_struct *task, __u32 mode, __u32 rdev,
					      __u32 op, __u32 cmd, __u64 arg, __u32 hook,
					      bool *deny)
{
	return ag_file_judge(task, false, true, mode, rdev, op, cmd, arg, hook, deny);
}

/* The security hooks' form (tiers 1-2): the file's own inode; -EPERM to deny, else 0. A NULL
 * file (an anonymous mapping at mmap_file) is no access. */
static __always_inline int ag_file_op(struct file *file, __u32 op, __u32 cmd, __u64 arg,
				      __u32 hook)
{
	struct inode *inode;
	bool deny;

	if (!file)
		return 0;
	inode = file->f_inode;
	ag_file_judge(NULL, true, true, inode->i_mode, inode->i_rdev, op, cmd, arg, hook, &deny);
	return deny ? -EPERM : 0;
}

#endif /* AG_COMMON_BPF_H */
