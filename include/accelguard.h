/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI shared by the kernel programs (bpf/) and the agent (user/): map keys and values, ring
 * buffer records and the enums they carry. Fixed-width types and named lengths only; user space
 * checks each record's size before reading it.
 */
#ifndef ACCELGUARD_H
#define ACCELGUARD_H

#define AG_COMM_LEN 16
#define AG_CGROUP_PATH_LEN 256
#define AG_MAX_MAJOR 4096        /* majors are 12 bits in the kernel's dev_t */
#define AG_MAX_RANGES 8          /* minor ranges per major in accel_devices */
#define AG_MAX_ALLOWED 32        /* device ranges in one tenant's policy */
#define AG_ANCESTOR_LEVELS 16    /* how far up the cgroup tree a policy miss looks */
#define AG_MINOR_ANY 0xffffffffu

enum ag_op {
	AG_OP_OPEN = 1,
	AG_OP_IOCTL = 2,
	AG_OP_MKNOD = 3,
	AG_OP_READ = 4,  /* read, write: every route through rw_verify_area (tiers 1-2), the */
	AG_OP_WRITE = 5, /* read/write syscall families (tier 3) */
	AG_OP_MMAP = 6,  /* a mapping of the device (mmap, mmap2) */
	/* another tenant's process: its memory, registers or descriptors (ptrace attach,
	 * process_vm_readv/writev, /proc/PID/mem, pidfd_getfd); no device (0:0), see ag_pt_route */
	AG_OP_PTRACE = 7,
	/* tier 3: a descriptor of the device arriving in a process (SCM_RIGHTS, pidfd_getfd), judged
	 * at the syscall's exit before its first use */
	AG_OP_RECEIVE = 8,
	AG_OP__MAX = 9,
};

/* AG_OP_PTRACE: the route, in the event's xfer_cmd (its cmd holds the target's pid). The
 * security hook of tiers 1-2 knows the mode asked for, not the syscall; tier 3 the syscall. */
enum ag_pt_route {
	AG_PT_ATTACH = 1,           /* tiers 1-2: ptrace attach, process_vm_readv/writev, pidfd_getfd */
	AG_PT_PROC = 2,             /* tiers 1-2: a /proc/PID file that needs an attach (mem, ...) */
	AG_PT_PTRACE = 3,           /* tier 3: the ptrace syscall */
	AG_PT_PROCESS_VM_READV = 4, /* tier 3 */
	AG_PT_PROCESS_VM_WRITEV = 5,/* tier 3 */
	AG_PT_PROC_MEM = 6,         /* tier 3: an open of /proc/PID/mem */
	AG_PT__MAX = 7,
};

enum ag_verdict {
	AG_V_ALLOWED = 1,
	AG_V_UNMEDIATED = 2,
	AG_V_CROSS_TENANT = 3,
	AG_V_HOST = 4,
	AG_V_EXEMPT = 5,
	AG_V_ADMIN = 6,
	AG_V_UNRESOLVED = 7,
	AG_V__MAX = 8,
};

enum ag_action {
	AG_ACT_OBSERVED = 1,
	AG_ACT_DENIED = 2,
	AG_ACT_KILLED = 3,
};

/* Which program saw the access. */
enum ag_hook {
	AG_HOOK_LSM = 1,
	AG_HOOK_FMOD_RET = 2,
	AG_HOOK_TRACEPOINT = 3,
	AG_HOOK_CGROUP_DEV = 4,
};

enum ag_tier {
	AG_TIER_LSM = 1,
	AG_TIER_FMOD_RET = 2,
	AG_TIER_TRACEPOINT = 3,
};

/* Policy state of a cgroup (value of the policy map). A cgroup with no entry is looked up through
 * its ancestors; with none there either it is the host. */
enum ag_pstate {
	AG_P_HOST = 0,          /* outside the tenant hierarchy */
	AG_P_TENANT = 1,        /* tenant with the allocation in d[] */
	AG_P_EXEMPT = 2,        /* trusted by configuration */
	AG_P_UNRESOLVED = 3,    /* tenant whose allocation is not known yet */
	AG_P_TENANT_PARENT = 4, /* new children are tenants: a child without an entry is unresolved */
};

/* ag_policy.flags */
#define AG_PF_INHERIT 0x1 /* descendants without an entry of their own take this one */
/* an unresolved cgroup that existed before the agent's start-up scan: never denied for being
 * unresolved (unresolved: deny applies to containers born after ready only) */
#define AG_PF_PREEXISTING 0x2

/* ag_dev_range.flags */
#define AG_RF_ADMIN 0x1  /* DRA adminAccess: verdict admin */
#define AG_RF_SHARED 0x2 /* control node shared by every container of a vendor: never cross_tenant */

/* accel_devices: array indexed by major. n == 0 for a major that holds no accelerator. */
struct ag_minor_range {
	__u32 lo;
	__u32 hi;
	__u32 class_id;
	__u32 pad;
};

struct ag_major_entry {
	__u32 n;
	__u32 pad;
	struct ag_minor_range r[AG_MAX_RANGES];
};

struct ag_dev_range {
	__u32 major;
	__u32 lo;
	__u32 hi;
	__u32 flags;
};

/* policy: cgroup id -> what the cgroup may do. */
struct ag_policy {
	__u32 state;
	__u32 flags;
	__u32 n;
	__u32 pad;
	struct ag_dev_range d[AG_MAX_ALLOWED];
};

/* owners: device -> number of tenants it is allocated to (exclusive devices only). */
struct ag_dev_key {
	__u32 major;
	__u32 minor;
};

/* counters: every access, aggregated; LRU, per CPU (BPF_MAP_TYPE_LRU_PERCPU_HASH): a reader sums
 * count over the CPUs. The key is made on its first sighting anywhere (first_ns set on that CPU
 * only, 0 on the others: the earliest non-zero one is the first sighting); verdict is the last one
 * this CPU gave. */
struct ag_counter_key {
	__u64 cgroup_id; /* the tenant's cgroup (the one whose policy entry judged), not a sub-cgroup */
	__u32 major;
	__u32 minor;
	__u32 op;
	__u32 cmd;
};

struct ag_counter_val {
	__u64 count;
	__u64 first_ns; /* CLOCK_BOOTTIME */
	__u32 verdict;
	__u32 pad;
};

/*
 * vcache: the allowed path's cache, a per-CPU array of AG_VCACHE_SLOTS slots, one key each (slot
 * chosen by a hash of the key). A slot holds the verdict its key got under policy generation gen
 * (policy_gen, which the agent bumps after every write to policy, owners or accel_devices) and the
 * accesses counted in the slot since it was filled: totals and counters have the rest (a slot's
 * count goes to both when another key takes the slot). A reader of totals or counters adds the
 * count of every slot, of any generation, that holds the same (op, verdict) or key (totals +
 * slots = every access, exactly). fills: how many times this CPU filled the slot, so that a
 * reader sees a slot flushed between two reads of it.
 */
#define AG_VCACHE_SLOTS 32
struct ag_vcache_slot {
	struct ag_counter_key key; /* the counters key: its cgroup_id is the tenant's */
	__u64 cgid;  /* the cgroup that was judged: what a lookup matches */
	__u64 gen;   /* 0: empty */
	__u64 count; /* accesses of key counted here, not in totals or counters */
	__u32 verdict;
	__u32 fills;
};

/* viol: tenant cgroup id -> exact violation accounting and the per-tenant event rate window (a
 * tenant's sub-cgroups count in their tenant's entry). */
struct ag_viol_state {
	__u64 total;        /* every violation, exact */
	__u64 suppressed;   /* violations that got no event of their own, exact */
	__u64 window_start; /* ns, start of the current one-second window */
	__u64 in_window;    /* events sent in the current window */
};

/* drops: per-CPU array, index below; a ring buffer reservation that failed. */
enum ag_drop_kind {
	AG_DROP_VIOLATION = 0,
	AG_DROP_ACCESS = 1,
	AG_DROP_CGROUP = 2,
	AG_DROP__MAX = 3,
};

/* totals: per-CPU array indexed by op * AG_V__MAX + verdict: exact counts of every access. */
#define AG_TOTALS_LEN (AG_OP__MAX * AG_V__MAX)

/* probe: per-CPU array, index by hook, counts of the probe file's opens (probe by effect). */
#define AG_PROBE_SLOTS 8

enum ag_event_type {
	AG_EV_ACCESS = 1,
	AG_EV_CGROUP_MKDIR = 2,
	AG_EV_CGROUP_RMDIR = 3,
};

struct ag_event_hdr {
	__u32 type;
	__u32 size;
};

/* AG_EV_ACCESS flags */
/* arrival_unseen (bpf/receive.bpf.c, reads: arrival): why an arrival could not be judged or
 * stopped where it happened; the agent then attaches the per-use read/write hooks */
#define AG_UNSEEN_WALK 0x1    /* a moved table past the walk's slots, or more devices than it keeps */
#define AG_UNSEEN_SHARED 0x2  /* a moved table shared with a process left behind (CLONE_FILES) */
#define AG_UNSEEN_NO_KILL 0x4 /* enforce: accelerator files carried where no kill can be sent */

#define AG_EF_FIRST 0x1     /* first sighting of (cgroup, device, op, cmd) */
#define AG_EF_VIOLATION 0x2 /* counted in viol */
#define AG_EF_EARLY 0x4     /* before ready: judged without the truth, never denied as unresolved */

struct ag_access_event {
	struct ag_event_hdr h;
	__u64 time_ns; /* CLOCK_BOOTTIME */
	__u64 cgroup_id;
	__u64 viol_total;  /* its tenant's violations so far, this one included */
	__u64 suppressed;  /* its tenant's suppressed violations so far */
	__u32 pid;         /* thread group id */
	__u32 tid;
	__u32 major;
	__u32 minor;
	__u32 class_id;
	__u32 cmd;      /* ioctl command; AG_OP_PTRACE: the target's pid (thread group id) */
	__u32 xfer_cmd; /* NVIDIA IOCTL_XFER_CMD: the escape it carries; AG_OP_PTRACE: ag_pt_route */
	__u8 op;
	__u8 verdict;
	__u8 action;
	__u8 hook;
	__u32 flags;
	char comm[AG_COMM_LEN];
};

struct ag_cgroup_event {
	struct ag_event_hdr h;
	__u64 time_ns;
	__u64 cgroup_id;
	__u32 level;
	__u32 pad;
	char path[AG_CGROUP_PATH_LEN];
};

#endif /* ACCELGUARD_H */
