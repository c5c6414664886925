// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>
#include <stddef.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "log.h"
#include "util.h"

static const char *const tier_names[] = { [AG_TIER_LSM] = "lsm",
					  [AG_TIER_FMOD_RET] = "fmod_ret",
					  [AG_TIER_TRACEPOINT] = "tracepoint" };

const char *ag_tier_name(int tier)
{
	if (tier < AG_TIER_LSM || tier > AG_TIER_TRACEPOINT)
		return "none";
	return tier_names[tier];
}

int ag_tier_parse(const char *s)
{
	for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++)
		if (!strcmp(s, tier_names[t]))
			return t;
	return -EINVAL;
}

__u32 ag_counter_entries(int ncpu)
{
	__u64 n;

	if (ncpu <= 0)
		ncpu = 1;
	n = AG_COUNTERS_BUDGET / ((__u64)ncpu * sizeof(struct ag_counter_val));
	return n < AG_COUNTERS_MIN ? AG_COUNTERS_MIN : n > AG_COUNTERS_MAX ? AG_COUNTERS_MAX : (__u32)n;
}

__u64 ag_percpu_sum(int map_fd, __u32 key)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 sum = 0, *vals;

	if (ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(map_fd, &key, vals))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

/* libbpf resolves tracepoint ids through tracefs; a node agent may start before anything
 * mounted it. */
static void ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		ag_warn("tracefs: not mounted and cannot mount it on /sys/kernel/tracing: %s",
			strerror(errno));
	else
		ag_info("tracefs: mounted on /sys/kernel/tracing");
}

static void fill_facts(struct ag_probe_report *r, const char *cgroup2)
{
	struct utsname u;
	char *lsm = NULL;

	if (!uname(&u))
		snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
	/* the active LSM list, for the report; the probe itself goes by effect */
	if (access("/sys/kernel/security/lsm", F_OK) &&
	    mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL))
		ag_dbg("securityfs: not mounted and cannot mount it: %s", strerror(errno));
	if (!ag_read_file("/sys/kernel/security/lsm", &lsm, NULL)) {
		ag_strlcpy(r->lsm_list, lsm, sizeof(r->lsm_list));
		r->lsm_list[strcspn(r->lsm_list, "\n")] = 0;
		free(lsm);
	}
	ag_strlcpy(r->cgroup2, cgroup2 ? cgroup2 : "", sizeof(r->cgroup2));
}

/*
 * The hooks of each tier, as rows: the kernel hook, the program that watches it, and its link in
 * the skeleton. The loader walks them to set autoload, to attach, and to find the program the
 * probe opens a file under. Tier 3's programs come in two variants, strongest first: direct
 * loads through BTF pointers (bpf_rdonly_cast, 6.2+), then CO-RE probe reads; a row names the
 * variant it belongs to (0: every variant). They also come for two entries (.entry): the raw
 * syscall entry where a compat route (ia32, x32) runs, else one tracepoint per syscall judged
 * (tp_entry). An optional row is loaded only where the kernel's BTF has the function it names
 * (btf) or the kernel does what it tries (effect), and skipped with a debug line elsewhere; a row
 * marked ROW_ELSE is the fallback of the row above it, loaded only where that one is not (the raw
 * entry's program with the compat ptrace routes, else the same program without them: one program
 * on the tracepoint either way). A row without a program of its own is a branch of another row's
 * program, switched on by a rodata flag.
 */
#define ROW_PROBE 0x1    /* the open program: the probe by effect attaches it first */
#define ROW_IOCTL 0x2    /* the ioctl program named in the ready event */
#define ROW_OPTIONAL 0x4 /* present only where vmlinux BTF has .btf */
#define ROW_CGROUP 0x8   /* attached to the cgroup2 root */
#define ROW_BRANCH 0x10  /* no program: sets the rodata __u32 at .flag */
#define ROW_ELSE 0x20    /* loaded only where the row above it is not: its fallback */
#define ROW_PER_USE 0x40 /* reads: arrival: loaded, attached on demand (ag_bpf_attach_per_use) */
#define ROW_ARRIVAL 0x80 /* reads: arrival only: judges a descriptor where it arrives */

#define AG_VARIANT_BTF 1
#define AG_VARIANT_CORE 2
#define AG_ENTRY_RAW 1      /* tp_btf/sys_enter: every syscall of the node enters the program */
#define AG_ENTRY_SYSCALLS 2 /* syscalls/sys_enter_<name>: only the syscalls judged */
#define AG_MAX_ROWS 64

struct hook_row {
	const char *hook; /* the kernel hook, for messages; NULL ends a tier's rows */
	size_t prog;      /* offsets in struct accelguard_bpf of the program and of its link */
	size_t link;
	size_t flag;      /* ROW_BRANCH: offset in struct accelguard_bpf__rodata */
	int variant;      /* AG_VARIANT_*, 0: every variant */
	int entry;        /* AG_ENTRY_*, 0: either */
	unsigned int flags;
	const char *btf;  /* ROW_OPTIONAL: the FUNC that vmlinux BTF must have */
	bool (*effect)(void); /* ROW_OPTIONAL: whether the kernel does it, tried (with .btf: both) */
};

static bool kernel_has_func(const char *name);

/* The compat syscall table, known by its ioctl entry in vmlinux BTF (CONFIG_COMPAT, or x86's
 * CONFIG_IA32_EMULATION): the one thing about the CPU architecture that the loader names. */
#if defined(__aarch64__)
#define AG_COMPAT_ABI "AArch32"
#define AG_COMPAT_IOCTL_FUNC "__arm64_compat_sys_ioctl"
#else
#define AG_COMPAT_ABI "ia32"
#define AG_COMPAT_IOCTL_FUNC "__ia32_compat_sys_ioctl"
#endif

/* An x32 getpid (39 with bit 30): the kernel runs it, or answers ENOSYS where x32 is not built
 * in or is off (Debian: syscall.x32=y turns it on). */
static bool x32_runs(void)
{
	return syscall(0x40000000L | 39) == getpid();
}

#if defined(__x86_64__)
static void ia32_probe_fault(int sig)
{
	_exit(2);
}
#endif

/*
 * An ia32 getpid (20) by int $0x80 from a 64-bit child: the kernel runs it where IA32 emulation is
 * built in (CONFIG_IA32_EMULATION) and on (ia32_emulation= on the command line, 6.7+); elsewhere
 * the vector is not installed and the child takes a fault (its handler exits, so no "segfault"
 * line in the kernel log). Where the child cannot be made, and on arm64 (AArch32: no 32-bit
 * syscall to try from a 64-bit process), the BTF answers: the kernel has the compat table (the
 * raw entry then sees what might run).
 */
static bool ia32_runs(void)
{
	static int runs = -1;
	int st = 0;
	pid_t pid;

	if (runs >= 0)
		return runs;
#if defined(__x86_64__)
	pid = fork();
	if (pid == 0) {
		long r = 20;

		signal(SIGSEGV, ia32_probe_fault);
		signal(SIGBUS, ia32_probe_fault);
		signal(SIGILL, ia32_probe_fault);
		asm volatile("int $0x80" : "+a"(r) : : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
			     "r10", "r11", "memory");
		_exit(r == getpid() ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		ag_dbg("probe: cannot try an ia32 syscall (%s): the BTF decides", strerror(errno));
		runs = kernel_has_func(AG_COMPAT_IOCTL_FUNC);
		return runs;
	}
	runs = WIFEXITED(st) && WEXITSTATUS(st) == 0;
#else
	/* no 32-bit syscall to try from here: the BTF says whether the compat table is built in */
	(void)st;
	(void)pid;
	runs = kernel_has_func(AG_COMPAT_IOCTL_FUNC);
#endif
	return runs;
}

/* The per-syscall tracepoints (CONFIG_FTRACE_SYSCALLS) where libbpf looks for them: tracefs,
 * or debugfs's tracing directory. Without them the rows that need them are skipped. */
static bool syscall_tps(void)
{
	static int has = -1;

	if (has < 0)
		has = !access("/sys/kernel/tracing/events/syscalls/sys_enter_ptrace", F_OK) ||
		      !access("/sys/kernel/debug/tracing/events/syscalls/sys_enter_ptrace", F_OK);
	return has;
}

/* A ptrace attach judged at its exit: only where the target cannot be found by its pid at the
 * entry (no bpf_task_from_vpid, before 6.13). Where it can, those two programs would only leave
 * at once (ag_vpid), and the entry one's perf-path probe would cost every syscall of the node. */
static bool attach_at_exit(void)
{
	return syscall_tps() && !kernel_has_func("bpf_task_from_vpid");
}

/* A syscalls/ tracepoint a row names ("tracepoint/syscalls/sys_exit_open (...)"): an
 * architecture has its own syscalls (arm64 has no open, no sys_exit_open), and attaching to
 * a tracepoint tracefs lacks fails with ENOENT. Rows without such a name count as present. */
static bool row_tp_exists(const char *hook)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	const char *h = hook;
	char ev[128], path[256];
	size_t n;

	if (!strncmp(h, "tracepoint/", 11))
		h += 11;
	if (strncmp(h, "syscalls/", 9))
		return true;
	n = strcspn(h, " ");
	if (n == 9 || n >= sizeof(ev))
		return true;
	memcpy(ev, h, n);
	ev[n] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/id", roots[i], ev);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

#define PROG(name)                                                                                 \
	.prog = offsetof(struct accelguard_bpf, progs.name),                                       \
	.link = offsetof(struct accelguard_bpf, links.name)

/* one syscalls/ tracepoint, both variants */
#define SC_ROWS(name, fl)                                                                          \
	{ "syscalls/sys_enter_" #name, PROG(ag_sc_##name), .variant = AG_VARIANT_BTF,              \
	  .entry = AG_ENTRY_SYSCALLS, .flags = (fl) },                                             \
	{ "syscalls/sys_enter_" #name, PROG(ag_sc_##name##_core), .variant = AG_VARIANT_CORE,      \
	  .entry = AG_ENTRY_SYSCALLS, .flags = (fl) }

/* the exit of an open (/proc/PID/mem, ptrace.bpf.c), both variants */
#define OPEN_EXIT_ROWS(name)                                                                       \
	{ "tracepoint/syscalls/sys_exit_" #name " (/proc/PID/mem)", PROG(ag_tp_exit_##name),       \
	  .variant = AG_VARIANT_BTF, .flags = ROW_OPTIONAL, .effect = syscall_tps },               \
	{ "tracepoint/syscalls/sys_exit_" #name " (/proc/PID/mem)", PROG(ag_tp_exit_##name##_core), \
	  .variant = AG_VARIANT_CORE, .flags = ROW_OPTIONAL, .effect = syscall_tps }

/*
 * Tiers 1-2 with "reads: arrival" (ROW_ARRIVAL): a descriptor carried into another cgroup,
 * judged there (receive.bpf.c): by a move (cgroup_attach_task, as at tier 3), by a child born
 * there (clone3 CLONE_INTO_CGROUP: sched_process_fork). The same programs as tier 3's rows.
 */
#define ARRIVAL_ROWS                                                                               \
	{ "tp_btf/cgroup_attach_task (bpf_send_signal_task)",                                      \
	  .flag = offsetof(struct accelguard_bpf__rodata, ag_move_signal_task),                    \
	  .flags = ROW_BRANCH | ROW_OPTIONAL | ROW_ARRIVAL, .btf = "bpf_send_signal_task" },       \
	{ "tp_btf/cgroup_attach_task (a descriptor carried by a move)", PROG(ag_tp_moved),          \
	  .flags = ROW_OPTIONAL | ROW_ARRIVAL, .btf = "bpf_loop" },                                \
	{ "tp_btf/cgroup_attach_task (another process moved, killed)", PROG(ag_tp_moved_task),     \
	  .flags = ROW_OPTIONAL | ROW_ARRIVAL, .btf = "bpf_send_signal_task" },                    \
	{ "tp_btf/sched_process_fork (a child born in another cgroup)", PROG(ag_tp_forked),        \
	  .flags = ROW_OPTIONAL | ROW_ARRIVAL, .btf = "bpf_loop" },                                \
	{ "tp_btf/sched_process_fork (that child killed)", PROG(ag_tp_forked_task),                \
	  .flags = ROW_OPTIONAL | ROW_ARRIVAL, .btf = "bpf_send_signal_task" }

static const struct hook_row tier_rows[][AG_MAX_ROWS] = {
	[AG_TIER_LSM] = {
		{ "lsm/file_open", PROG(ag_lsm_file_open), .flags = ROW_PROBE },
		{ "lsm/file_ioctl", PROG(ag_lsm_file_ioctl), .flags = ROW_IOCTL },
		{ "lsm/file_ioctl_compat", PROG(ag_lsm_file_ioctl_compat), .flags = ROW_OPTIONAL,
		  .btf = "bpf_lsm_file_ioctl_compat" },
		{ "lsm/file_permission", PROG(ag_lsm_file_permission), .flags = ROW_PER_USE },
		{ "lsm/mmap_file", PROG(ag_lsm_mmap_file) },
		{ "lsm/ptrace_access_check", PROG(ag_lsm_ptrace_access_check) },
		{ "lsm/file_receive", PROG(ag_lsm_file_receive), .flags = ROW_ARRIVAL },
		ARRIVAL_ROWS,
	},
	[AG_TIER_FMOD_RET] = {
		{ "fmod_ret/security_file_open", PROG(ag_fmod_file_open), .flags = ROW_PROBE },
		{ "fmod_ret/security_file_ioctl", PROG(ag_fmod_file_ioctl), .flags = ROW_IOCTL },
		{ "fmod_ret/security_file_ioctl_compat", PROG(ag_fmod_file_ioctl_compat),
		  .flags = ROW_OPTIONAL, .btf = "security_file_ioctl_compat" },
		{ "fmod_ret/security_file_permission", PROG(ag_fmod_file_permission),
		  .flags = ROW_PER_USE },
		{ "fmod_ret/security_mmap_file", PROG(ag_fmod_mmap_file) },
		{ "fmod_ret/security_ptrace_access_check", PROG(ag_fmod_ptrace_access_check) },
		{ "fmod_ret/security_file_receive", PROG(ag_fmod_file_receive), .flags = ROW_ARRIVAL },
		ARRIVAL_ROWS,
	},
	[AG_TIER_TRACEPOINT] = {
		/* the compat routes, by effect; either one makes the raw entry the tier's (tp_entry) */
		/* the compat syscall table (ia32: 32-bit processes, int $0x80; AArch32): a branch of
		 * the raw program */
		{ "tp_btf/sys_enter (" AG_COMPAT_ABI ")",
		  .flag = offsetof(struct accelguard_bpf__rodata, ag_ia32),
		  .flags = ROW_BRANCH | ROW_OPTIONAL, .effect = ia32_runs },
		/* x32 syscalls (x86-64 numbers with bit 30): compiled into Debian's kernels, but off
		 * unless booted with syscall.x32=y */
		{ "tp_btf/sys_enter (x32)", .flag = offsetof(struct accelguard_bpf__rodata, ag_x32),
		  .flags = ROW_BRANCH | ROW_OPTIONAL, .effect = x32_runs },
		/* the raw entry: one program; with the compat (ia32, AArch32) and x32 ptrace and
		 * process_vm_readv/writev as a branch of it where the kernel has bpf_task_from_vpid
		 * (6.13), else without them (the compat routes are then not judged at tier 3) */
		{ "tp_btf/sys_enter (ioctl, read, write, mmap; " AG_COMPAT_ABI
		  ", x32: ptrace, process_vm_readv/writev)", PROG(ag_tp_sys_enter_task),
		  .variant = AG_VARIANT_BTF, .entry = AG_ENTRY_RAW, .flags = ROW_IOCTL | ROW_OPTIONAL,
		  .btf = "bpf_task_from_vpid" },
		{ "tp_btf/sys_enter (ioctl, read, write, mmap)", PROG(ag_tp_sys_enter),
		  .variant = AG_VARIANT_BTF, .entry = AG_ENTRY_RAW, .flags = ROW_IOCTL | ROW_ELSE },
		{ "tp_btf/sys_enter (ioctl, read, write, mmap)", PROG(ag_tp_sys_enter_core),
		  .variant = AG_VARIANT_CORE, .entry = AG_ENTRY_RAW, .flags = ROW_IOCTL },
		SC_ROWS(ioctl, ROW_IOCTL),
		SC_ROWS(read, 0),
		SC_ROWS(write, 0),
		SC_ROWS(pread64, 0),
		SC_ROWS(pwrite64, 0),
		SC_ROWS(readv, 0),
		SC_ROWS(writev, 0),
		SC_ROWS(preadv, 0),
		SC_ROWS(pwritev, 0),
		SC_ROWS(preadv2, 0),
		SC_ROWS(pwritev2, 0),
		SC_ROWS(sendfile64, 0),
		SC_ROWS(splice, 0),
		SC_ROWS(tee, 0),
		SC_ROWS(copy_file_range, 0),
		SC_ROWS(mmap, 0),
		/* another tenant's process (ptrace.bpf.c): the target by its pid needs
		 * bpf_task_from_vpid (6.13), without it an attach is judged at its exit (a branch
		 * of those programs: ag_vpid); every row needs the syscall tracepoints in tracefs */
		{ "tracepoint/syscalls (bpf_task_from_vpid)",
		  .flag = offsetof(struct accelguard_bpf__rodata, ag_vpid),
		  .flags = ROW_BRANCH | ROW_OPTIONAL, .btf = "bpf_task_from_vpid", .effect = syscall_tps },
		{ "tracepoint/syscalls/sys_enter_ptrace (attach, before 6.13)",
		  PROG(ag_tp_ptrace_attach), .flags = ROW_OPTIONAL, .effect = attach_at_exit },
		{ "tracepoint/syscalls/sys_exit_ptrace (attach, before 6.13)", PROG(ag_tp_exit_ptrace),
		  .flags = ROW_OPTIONAL, .effect = attach_at_exit },
		/* where the raw entry is the tier's, its task variant judges these (and the same
		 * routes as compat syscalls: ia32, AArch32, x32) in a branch of its one program
		 * (ag_tp_sys_enter_task, above): no syscalls/ entry program there, whose perf-path
		 * probe every syscall of the node would pay */
		{ "tracepoint/syscalls/sys_enter_ptrace", PROG(ag_tp_ptrace), .flags = ROW_OPTIONAL,
		  .entry = AG_ENTRY_SYSCALLS, .btf = "bpf_task_from_vpid", .effect = syscall_tps },
		{ "tracepoint/syscalls/sys_enter_process_vm_readv", PROG(ag_tp_process_vm_readv),
		  .entry = AG_ENTRY_SYSCALLS, .flags = ROW_OPTIONAL, .btf = "bpf_task_from_vpid",
		  .effect = syscall_tps },
		{ "tracepoint/syscalls/sys_enter_process_vm_writev", PROG(ag_tp_process_vm_writev),
		  .entry = AG_ENTRY_SYSCALLS, .flags = ROW_OPTIONAL, .btf = "bpf_task_from_vpid",
		  .effect = syscall_tps },
		OPEN_EXIT_ROWS(openat),
		OPEN_EXIT_ROWS(openat2),
		OPEN_EXIT_ROWS(open),
		/* a descriptor arriving (receive.bpf.c): SCM_RIGHTS walked with bpf_loop (5.17); the
		 * entries on the raw entry where it is the tier's (ag_raw_recv, set_autoload) */
		{ "tracepoint/syscalls/sys_enter_recvmsg", PROG(ag_tp_enter_recvmsg),
		  .entry = AG_ENTRY_SYSCALLS, .flags = ROW_OPTIONAL, .btf = "bpf_loop",
		  .effect = syscall_tps },
		{ "tracepoint/syscalls/sys_exit_recvmsg (SCM_RIGHTS)", PROG(ag_tp_exit_recvmsg),
		  .flags = ROW_OPTIONAL, .btf = "bpf_loop", .effect = syscall_tps },
		{ "tracepoint/syscalls/sys_enter_recvmmsg", PROG(ag_tp_enter_recvmmsg),
		  .entry = AG_ENTRY_SYSCALLS, .flags = ROW_OPTIONAL, .btf = "bpf_loop",
		  .effect = syscall_tps },
		{ "tracepoint/syscalls/sys_exit_recvmmsg (SCM_RIGHTS)", PROG(ag_tp_exit_recvmmsg),
		  .flags = ROW_OPTIONAL, .btf = "bpf_loop", .effect = syscall_tps },
		{ "tracepoint/syscalls/sys_exit_pidfd_getfd", PROG(ag_tp_exit_pidfd_getfd),
		  .flags = ROW_OPTIONAL, .effect = syscall_tps },
		/* a descriptor carried by a move into another cgroup (receive.bpf.c): the moved
		 * process killed by bpf_send_signal_task (6.13) where another process moved it;
		 * without it, ag_tp_moved kills only a process that moved itself */
		{ "tp_btf/cgroup_attach_task (bpf_send_signal_task)",
		  .flag = offsetof(struct accelguard_bpf__rodata, ag_move_signal_task),
		  .flags = ROW_BRANCH | ROW_OPTIONAL, .btf = "bpf_send_signal_task" },
		{ "tp_btf/cgroup_attach_task (a descriptor carried by a move)", PROG(ag_tp_moved),
		  .flags = ROW_OPTIONAL, .btf = "bpf_loop" },
		{ "tp_btf/cgroup_attach_task (another process moved, killed)", PROG(ag_tp_moved_task),
		  .flags = ROW_OPTIONAL, .btf = "bpf_send_signal_task" },
	},
};

/* every tier: mknod (and opens at tier 3), and the cgroup lifecycle */
static const struct hook_row common_rows[] = {
	{ "cgroup/dev", PROG(ag_cgroup_dev), .flags = ROW_CGROUP },
	{ "tp_btf/cgroup_mkdir", PROG(ag_cgroup_mkdir) },
	{ "tp_btf/cgroup_rmdir", PROG(ag_cgroup_rmdir) },
};

#define for_each_row(r, tier)                                                                      \
	for (const struct hook_row *r = tier_rows[tier]; r < tier_rows[tier] + AG_MAX_ROWS && r->hook; r++)

static struct bpf_program *row_prog(const struct accelguard_bpf *s, const struct hook_row *r)
{
	return *(struct bpf_program *const *)((const char *)s + r->prog);
}

static struct bpf_link **row_link(struct accelguard_bpf *s, const struct hook_row *r)
{
	return (struct bpf_link **)((char *)s + r->link);
}

/* Variants of a tier: the highest variant its rows name (1 when none does). */
static int n_variants(int tier)
{
	int n = 1;

	for_each_row(r, tier)
		if (r->variant > n)
			n = r->variant;
	return n;
}

/* ACCELGUARD_TP_IOCTL=core skips the first variant: the tests cover the fallback with it. */
static int first_variant(int tier)
{
	const char *e = getenv("ACCELGUARD_TP_IOCTL");

	return tier == AG_TIER_TRACEPOINT && e && !strcmp(e, "core") ? AG_VARIANT_CORE : 1;
}

/*
 * Whether vmlinux BTF has a function of this name. The optional rows' names are looked up once
 * per process, and the parsed BTF freed at once: kept, it would stay in the agent's RSS.
 */
static bool kernel_has_func(const char *name)
{
	static struct {
		const char *name;
		bool has;
	} known[AG_TIER_TRACEPOINT * AG_MAX_ROWS + 2];
	static size_t n_known;
	static bool done;

	if (!done) {
		struct btf *vmlinux = btf__load_vmlinux_btf();

		done = true;
		if (!vmlinux)
			ag_dbg("probe: cannot load the kernel's BTF: %s", strerror(errno));
		/* the rows' functions, and the compat table's (ia32_runs: no row names it) */
		known[n_known++].name = AG_COMPAT_IOCTL_FUNC;
		for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++)
			for_each_row(r, t)
				if (r->btf && n_known < ARRAY_SIZE(known))
					known[n_known++].name = r->btf;
		for (size_t i = 0; i < n_known; i++)
			known[i].has = vmlinux &&
				       btf__find_by_name_kind(vmlinux, known[i].name, BTF_KIND_FUNC) > 0;
		btf__free(vmlinux);
	}
	for (size_t i = 0; i < n_known; i++)
		if (!strcmp(known[i].name, name))
			return known[i].has;
	return false;
}

static int tp_entry(void);

/* "reads: arrival" for the object being loaded (ag_load_opts.arrival) */
static bool load_arrival;

/* ACCELGUARD_SKIP_OPTIONAL=1 loads no optional row (benchmarks measure what one costs). */
static bool row_wanted(const struct hook_row *r, int variant)
{
	const char *e;

	if (r->variant && r->variant != variant)
		return false;
	if ((r->flags & ROW_ARRIVAL) && !load_arrival)
		return false;
	if (r->entry && r->entry != tp_entry())
		return false;
	if ((r->flags & ROW_ELSE) && row_wanted(r - 1, variant))
		return false;
	if (!(r->flags & ROW_OPTIONAL))
		return true;
	e = getenv("ACCELGUARD_SKIP_OPTIONAL");
	if (e && *e && strcmp(e, "0")) {
		ag_dbg("probe: %s skipped (ACCELGUARD_SKIP_OPTIONAL)", r->hook);
		return false;
	}
	if (r->effect && !r->effect()) {
		ag_dbg("probe: %s skipped: the kernel does not run it", r->hook);
		return false;
	}
	if (r->btf && !kernel_has_func(r->btf)) {
		ag_dbg("probe: %s skipped: the kernel's BTF has no %s", r->hook, r->btf);
		return false;
	}
	if (!(r->flags & ROW_BRANCH) && syscall_tps() && !row_tp_exists(r->hook)) {
		ag_dbg("probe: %s skipped: no such tracepoint in tracefs (not a syscall of this "
		       "architecture)", r->hook);
		return false;
	}
	return true;
}

/*
 * Tier 3's entry: the raw syscall entry where a compat route runs (one of the tier's branch rows
 * is wanted: only that tracepoint sees compat syscalls), else one tracepoint per syscall judged,
 * so that the node's other syscalls run no program. ACCELGUARD_TP_ENTRY=raw|syscalls forces one
 * (benchmarks; "syscalls" where compat runs leaves 32-bit processes unseen, and says so).
 */
static int tp_entry(void)
{
	static int entry;
	const char *e = getenv("ACCELGUARD_TP_ENTRY");
	bool compat = false;

	if (entry)
		return entry;
	for_each_row(r, AG_TIER_TRACEPOINT)
		if ((r->flags & ROW_BRANCH) && row_wanted(r, 0))
			compat = true;
	entry = compat ? AG_ENTRY_RAW : AG_ENTRY_SYSCALLS;
	/* libbpf finds a syscalls/ tracepoint through tracefs; without it, the raw entry (BTF) */
	if (entry == AG_ENTRY_SYSCALLS &&
	    access("/sys/kernel/tracing/events/syscalls/sys_enter_ioctl/id", F_OK) &&
	    access("/sys/kernel/debug/tracing/events/syscalls/sys_enter_ioctl/id", F_OK)) {
		ag_dbg("probe: no syscalls/ tracepoints in tracefs: the raw syscall entry");
		entry = AG_ENTRY_RAW;
	}
	if (e && !strcmp(e, "raw"))
		entry = AG_ENTRY_RAW;
	else if (e && !strcmp(e, "syscalls"))
		entry = AG_ENTRY_SYSCALLS;
	if (entry == AG_ENTRY_SYSCALLS && compat)
		ag_warn("probe: ACCELGUARD_TP_ENTRY=syscalls: compat syscalls run here and tier 3 "
			"will not see them");
	ag_dbg("probe: tier tracepoint enters at %s (%s)",
	       entry == AG_ENTRY_RAW ? "the raw syscall entry" : "one tracepoint per syscall",
	       compat ? "compat syscalls run here" : "no compat syscall runs here");
	return entry;
}

/* Every row off, then the tier's wanted rows on (a program may be in several tiers' rows). */
static void set_autoload(struct accelguard_bpf *s, int tier, int variant)
{
	for (int pass = 0; pass < 2; pass++)
		for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++)
			for_each_row(r, t) {
				bool on = t == tier && row_wanted(r, variant);

				if (pass == 1 && !on)
					continue;
				if (r->flags & ROW_BRANCH)
					*(__u32 *)((char *)s->rodata + r->flag) = on;
				else
					bpf_program__set_autoload(row_prog(s, r), on);
			}
	/* the raw entry keeps recvmsg/recvmmsg's message where their exits are attached */
	s->rodata->ag_raw_recv = tier == AG_TIER_TRACEPOINT && tp_entry() == AG_ENTRY_RAW &&
				 bpf_program__autoload(s->progs.ag_tp_exit_recvmsg);
}

static const struct hook_row *find_row(const struct accelguard_bpf *s, int tier, unsigned int flag)
{
	for_each_row(r, tier)
		if ((r->flags & flag) && !(r->flags & ROW_BRANCH) &&
		    bpf_program__autoload(row_prog(s, r)))
			return r;
	return NULL;
}

/* Open and load the object for one tier, configured between open and load. */
static struct accelguard_bpf *load_variant(int tier, int variant, const struct ag_load_opts *o,
					   __u64 probe_ino, struct ag_tier_report *tr)
{
	struct accelguard_bpf *s = accelguard_bpf__open();
	int err;

	tr->tried = true;
	load_arrival = o->arrival && tier != AG_TIER_TRACEPOINT;
	if (!s) {
		tr->err = -errno;
		snprintf(tr->why, sizeof(tr->why), "cannot open the BPF object: %s", strerror(errno));
		return NULL;
	}
	s->rodata->ag_enforce = o->enforce;
	s->rodata->ag_unresolved_deny = o->unresolved_deny;
	s->rodata->ag_rate_limit = o->rate_limit ? o->rate_limit : 1000;
	s->rodata->ag_lsm_opens = tier != AG_TIER_TRACEPOINT;
	s->rodata->ag_probe_tgid = getpid();
	s->rodata->ag_probe_ino = probe_ino;
	if (o->policy_entries) {
		bpf_map__set_max_entries(s->maps.policy, o->policy_entries);
		bpf_map__set_max_entries(s->maps.viol, o->policy_entries);
	}
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	bpf_map__set_max_entries(s->maps.counters, ag_counter_entries(libbpf_num_possible_cpus()));
	set_autoload(s, tier, variant);
	/* a restart: the new programs take the pinned maps (pins.c) */
	err = ag_pins_prepare(o->pins, s);
	if (!err)
		err = accelguard_bpf__load(s);
	if (err) {
		tr->err = err;
		snprintf(tr->why, sizeof(tr->why), "the kernel refused to load the %s programs: %s%s",
			 ag_tier_name(tier), strerror(-err),
			 err == -EPERM	 ? " (no BPF trampolines or BPF LSM here, or not allowed?)"
			 : err == -EINVAL ? " (the verifier or the attach target refused it: -v shows why)"
					  : "");
		accelguard_bpf__destroy(s);
		return NULL;
	}
	tr->loaded = true;
	return s;
}

static struct accelguard_bpf *load_tier(int tier, const struct ag_load_opts *o, __u64 probe_ino,
					struct ag_tier_report *tr)
{
	struct accelguard_bpf *s = NULL;

	for (int v = first_variant(tier); v <= n_variants(tier) && !s; v++) {
		s = load_variant(tier, v, o, probe_ino, tr);
		if (!s)
			ag_dbg("probe: tier %s, variant %d: %s", ag_tier_name(tier), v, tr->why);
	}
	if (s)
		tr->why[0] = 0;
	return s;
}

/* Attach the open program, open the probe file, and check that the program saw it: an lsm
 * program attaches on a kernel whose active LSM list lacks "bpf", and then never runs. */
static int probe_effect(struct accelguard_bpf *s, int tier, const char *probe_file,
			struct ag_tier_report *tr)
{
	const struct hook_row *r = find_row(s, tier, ROW_PROBE);
	struct bpf_program *p = row_prog(s, r);
	struct bpf_link *l = bpf_program__attach(p);
	__u32 slot = tier == AG_TIER_LSM ? AG_HOOK_LSM : AG_HOOK_FMOD_RET;
	int fd;

	if (!l) {
		tr->err = -errno;
		snprintf(tr->why, sizeof(tr->why), "cannot attach %s: %s", bpf_program__name(p),
			 strerror(errno));
		return tr->err;
	}
	tr->attached = true;
	fd = open(probe_file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	if (!ag_percpu_sum(bpf_map__fd(s->maps.probe_hits), slot)) {
		bpf_link__destroy(l);
		tr->err = -EOPNOTSUPP;
		snprintf(tr->why, sizeof(tr->why),
			 "%s attached but never ran on the probe open%s", bpf_program__name(p),
			 tier == AG_TIER_LSM ? " (\"bpf\" is not in the active LSM list)" : "");
		return tr->err;
	}
	tr->effective = true;
	*row_link(s, r) = l;
	return 0;
}

static int make_probe_file(char *path, size_t len, __u64 *ino)
{
	const char *dirs[] = { getenv("TMPDIR"), "/run", "/tmp" };
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int fd;

		if (!dirs[i])
			continue;
		snprintf(path, len, "%s/accelguard-probe.XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		fstat(fd, &st);
		close(fd);
		*ino = st.st_ino;
		return 0;
	}
	return -errno;
}

/* Choose and load: the strongest tier that loads, attaches and runs. */
static struct accelguard_bpf *choose(const struct ag_load_opts *o, struct ag_probe_report *r)
{
	char probe_file[256];
	__u64 ino = 0;
	struct accelguard_bpf *s = NULL;
	int first = o->force_tier ? o->force_tier : AG_TIER_LSM;
	int last = o->force_tier ? o->force_tier : AG_TIER_TRACEPOINT;
	int err = make_probe_file(probe_file, sizeof(probe_file), &ino);

	if (err) {
		ag_err("probe: cannot create a probe file in $TMPDIR, /run or /tmp: %s", strerror(-err));
		return NULL;
	}
	for (int tier = first; tier <= last; tier++) {
		struct ag_tier_report *tr = &r->t[tier];

		if (tier == AG_TIER_TRACEPOINT)
			ensure_tracefs();
		s = load_tier(tier, o, ino, tr);
		if (!s) {
			ag_dbg("probe: tier %s: %s", ag_tier_name(tier), tr->why);
			continue;
		}
		if (tier == AG_TIER_TRACEPOINT) {
			r->tier = tier;
			break;
		}
		if (!probe_effect(s, tier, probe_file, tr)) {
			r->tier = tier;
			break;
		}
		ag_dbg("probe: tier %s: %s", ag_tier_name(tier), tr->why);
		accelguard_bpf__destroy(s);
		s = NULL;
	}
	unlink(probe_file);
	return s;
}

static int attach_row(struct accelguard_bpf *s, const struct hook_row *r, int cgroup_fd)
{
	struct bpf_program *p;
	struct bpf_link **l;

	if (r->flags & ROW_BRANCH) {
		if (*(const __u32 *)((const char *)s->rodata + r->flag))
			ag_dbg("bpf: %s on", r->hook);
		return 0;
	}
	p = row_prog(s, r);
	l = row_link(s, r);
	if (*l || !bpf_program__autoload(p)) /* attached by the probe, or not loaded */
		return 0;
	*l = r->flags & ROW_CGROUP ? bpf_program__attach_cgroup(p, cgroup_fd) : bpf_program__attach(p);
	if (!*l)
		return -errno;
	ag_dbg("bpf: %s attached (%s)", r->hook, bpf_program__name(p));
	return 0;
}

static int attach_rest(struct accelguard_bpf *s, int tier, int cgroup_fd, struct ag_probe_report *r,
		       bool arrival)
{
	int err;

	for_each_row(row, tier) {
		if (arrival && (row->flags & ROW_PER_USE)) {
			ag_dbg("bpf: %s loaded, attached on demand (reads: arrival)", row->hook);
			continue;
		}
		err = attach_row(s, row, cgroup_fd);
		if (err) {
			r->t[tier].err = err;
			snprintf(r->t[tier].why, sizeof(r->t[tier].why), "cannot attach %s to %s: %s",
				 bpf_program__name(row_prog(s, row)), row->hook, strerror(-err));
			return err;
		}
	}
	r->t[tier].attached = true;

	/* A cgroup link is always a multi-attachment (BPF_F_ALLOW_MULTI): programs that others
	 * attach below or beside ours keep running. */
	for (size_t i = 0; i < ARRAY_SIZE(common_rows); i++) {
		err = attach_row(s, &common_rows[i], cgroup_fd);
		if (err && (common_rows[i].flags & ROW_CGROUP))
			r->cgroup_dev_err = err;
		if (err)
			return err;
		if (common_rows[i].flags & ROW_CGROUP)
			r->cgroup_dev_attached = true;
	}
	return 0;
}

/*
 * Tier 3 judges an open of /proc/PID/mem at its exit, and learns that file's operations from the
 * first one it sees (bpf/ptrace.bpf.c, ag_proc_mem_fop): from then on every other open of the node
 * leaves after comparing one pointer. The agent's own /proc/self/mem teaches it at once (the agent
 * is no tenant's: nothing is judged or counted).
 */
static void teach_proc_mem(const struct ag_bpf *b)
{
	int fd;

	if (b->tier != AG_TIER_TRACEPOINT)
		return;
	fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ag_dbg("bpf: cannot open /proc/self/mem (%s): opens are told from /proc/PID/mem by "
		       "their file system until one is seen", strerror(errno));
		return;
	}
	close(fd);
	if (b->skel->bss)
		ag_dbg("bpf: /proc/PID/mem's file operations %s", b->skel->bss->ag_proc_mem_fop
									 ? "learnt"
									 : "not learnt (no open-exit program here)");
}

bool ag_all_refused_eperm(const struct ag_probe_report *r)
{
	bool any = false;

	for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++) {
		if (!r->t[t].tried)
			continue;
		if (r->t[t].loaded || r->t[t].err != -EPERM)
			return false;
		any = true;
	}
	return any;
}

int ag_bpf_start(struct ag_bpf *b, const struct ag_load_opts *o, const char *cgroup2)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->cgroup_fd = -1;
	fill_facts(&b->report, cgroup2);
	b->skel = choose(o, &b->report);
	if (!b->skel && ag_all_refused_eperm(&b->report)) {
		ag_err("bpf: the kernel refused every tier with EPERM: accelguard needs root, or "
		       "CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN and CAP_SYS_RESOURCE (uid %d)", (int)geteuid());
		return -EPERM;
	}
	if (!b->skel) {
		ag_err("bpf: no tier works on this kernel (%s)%s%s", b->report.kernel,
		       o->force_tier ? ": " : "",
		       o->force_tier ? b->report.t[o->force_tier].why : "; run 'accelguard probe' for why");
		return -EOPNOTSUPP;
	}
	b->tier = b->report.tier;
	b->cgroup_fd = open(cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->cgroup_fd < 0) {
		err = -errno;
		ag_err("bpf: cannot open the cgroup2 root %s: %s", cgroup2, strerror(-err));
		goto fail;
	}
	/* adopting: cgroup links are updated in place to the new programs, the others attached */
	ag_pins_update_links(o->pins, b->skel);
	b->arrival = o->arrival && b->tier != AG_TIER_TRACEPOINT;
	b->per_use = !b->arrival;
	if (o->arrival && !b->arrival)
		ag_info("bpf: reads: arrival applies to tiers 1-2; tier tracepoint judges every use");
	err = attach_rest(b->skel, b->tier, b->cgroup_fd, &b->report, b->arrival);
	if (err) {
		if (b->report.cgroup_dev_err)
			ag_err("bpf: cannot attach the %s tier's programs: cgroup/dev on the cgroup2 "
			       "root %s: %s", ag_tier_name(b->tier), cgroup2, strerror(-err));
		else
			ag_err("bpf: cannot attach the %s tier's programs: %s", ag_tier_name(b->tier),
			       b->report.t[b->tier].why[0] ? b->report.t[b->tier].why
							   : strerror(-err));
		goto fail;
	}
	teach_proc_mem(b);
	/* every hook has our new program: pin it, and (adopting) unpin the old ones */
	err = ag_pins_attached(o->pins, b->skel, b->tier);
	if (err)
		ag_warn("pins: %s: %s; the programs are attached but would not survive the agent",
			o->pins->dir, strerror(-err));
	return 0;
fail:
	ag_bpf_stop(b);
	return err;
}

int ag_bpf_attach_per_use(struct ag_bpf *b)
{
	int err;

	if (!b->skel || b->per_use)
		return 0;
	for_each_row(row, b->tier) {
		if (!(row->flags & ROW_PER_USE))
			continue;
		err = attach_row(b->skel, row, b->cgroup_fd);
		if (err) {
			ag_err("bpf: cannot attach %s to %s: %s", bpf_program__name(row_prog(b->skel, row)),
			       row->hook, strerror(-err));
			return err;
		}
	}
	b->per_use = true;
	return 0;
}

__u32 ag_bpf_arrival_unseen(const struct ag_bpf *b)
{
	__u32 zero = 0;
	__u64 v = 0;

	if (!b->skel || !b->arrival)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.arrival_unseen), &zero, &v))
		return 0;
	return (__u32)v;
}

const char *ag_bpf_ioctl_prog(const struct ag_bpf *b)
{
	const struct hook_row *r = b->skel ? find_row(b->skel, b->tier, ROW_IOCTL) : NULL;

	return r ? bpf_program__name(row_prog(b->skel, r)) : "";
}

void ag_bpf_stop(struct ag_bpf *b)
{
	accelguard_bpf__destroy(b->skel);
	b->skel = NULL;
	if (b->cgroup_fd >= 0)
		close(b->cgroup_fd);
	b->cgroup_fd = -1;
}

int ag_bpf_probe(struct ag_probe_report *r, const char *cgroup2)
{
	struct ag_load_opts o = { .rate_limit = 1000 };
	struct accelguard_bpf *s;
	int fd;

	memset(r, 0, sizeof(*r));
	fill_facts(r, cgroup2);
	/* try every tier, so the report says what each would do */
	for (int tier = AG_TIER_LSM; tier <= AG_TIER_TRACEPOINT; tier++) {
		struct ag_probe_report one = { 0 };

		o.force_tier = tier;
		s = choose(&o, &one);
		r->t[tier] = one.t[tier];
		if (!s)
			continue;
		if (!r->tier)
			r->tier = tier;
		if (tier == AG_TIER_TRACEPOINT && cgroup2 && *cgroup2) {
			fd = open(cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				struct bpf_link *l =
					bpf_program__attach_cgroup(row_prog(s, &common_rows[0]), fd);

				r->cgroup_dev_attached = l != NULL;
				r->cgroup_dev_err = l ? 0 : -errno;
				bpf_link__destroy(l);
				close(fd);
			} else {
				r->cgroup_dev_err = -errno;
			}
			r->t[tier].attached = r->cgroup_dev_attached;
		}
		accelguard_bpf__destroy(s);
	}
	return r->tier ? 0 : -EOPNOTSUPP;
}
