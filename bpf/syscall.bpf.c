// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 3: the operations on a descriptor (ioctl, read, write, mmap), seen at the syscall entry.
 * The program resolves the descriptor to its file and, in enforce mode, kills the process (after
 * the fact: the syscall still runs, the report says "killed"; a tracepoint cannot fail a syscall).
 *
 * Two entries, both compiled in; the loader loads one (bpf_program__set_autoload):
 *
 * - syscalls/sys_enter_<name>, one program per syscall that can touch a descriptor's driver
 *   (ioctl, the read and write families, sendfile, splice, tee, copy_file_range, mmap). A syscall
 *   accelguard never judges runs no program at all: the kernel tests one bit of its enabled-
 *   syscalls bitmap and goes on (getppid: within noise of no agent). On x86 these tracepoints skip
 *   compat syscalls (arch_trace_is_compat_syscall: ia32, int $0x80 from a 64-bit process, x32),
 *   so they are the entry only where the kernel runs no compat syscall at all (the loader tries
 *   both routes by effect).
 * - raw_syscalls sys_enter (tp_btf), where a compat route exists (ia32 or x32; AArch32 on arm64,
 *   whose syscalls/ tracepoints skip compat syscalls too): the one tracepoint that sees every
 *   table. Every syscall of the node enters the program, which tests the syscall number before it
 *   reads anything else. One byte of a table indexed by the number says what the syscall does to
 *   a descriptor or another process (0: nothing, leave): the compat ptrace and process_vm_
 *   readv/writev are a branch of the one program (ag_tp_sys_enter_task), not a second program
 *   on the same tracepoint. The low nibble is for the native table, the high nibble for
 *   the compat one; the table, the compat test and the argument registers are the architecture's
 *   (bpf/arch/ARCH/syscalls.h): x86-64 (which the x32 ABI shares, its numbers with bit 30 set) and
 *   ia32, told apart by TS_COMPAT; arm64 and AArch32, by TIF_32BIT.
 *
 * Not seen at tier 3: reads and writes that do not go through these syscalls (io_uring's
 * IORING_OP_READ/WRITE, aio's io_submit): tiers 1-2 see them (file_permission).
 */
#include "common.bpf.h"

/* 1: the kernel has a compat syscall table (x86: ia32, arm64: AArch32), the loader says */
const volatile __u32 ag_ia32 __weak = 0;
const volatile __u32 ag_x32 __weak = 0;  /* 1: x32 syscalls run here (the loader, by effect) */

#define AG_MAP_ANONYMOUS 0x20 /* the same on x86 and arm/arm64 */

/* what a syscall does to its descriptor arguments */
enum {
	AG_SC_IOCTL = 1,    /* fd0 cmd1 arg2 */
	AG_SC_READ = 2,     /* fd0 */
	AG_SC_WRITE = 3,    /* fd0 */
	AG_SC_MMAP = 4,     /* fd4, flags3 (MAP_ANONYMOUS ignores the descriptor) */
	AG_SC_OLD_MMAP = 5, /* ia32 mmap: arg0 points to { addr, len, prot, flags, fd, offset } */
	AG_SC_SENDFILE = 6, /* out fd0 (write), in fd1 (read) */
	AG_SC_SPLICE = 7,   /* in fd0 (read), out fd2 (write): splice, copy_file_range */
	AG_SC_TEE = 8,      /* in fd0 (read), out fd1 (write) */
	/* another tenant's process (ptrace.bpf.c), compat and x32 numbers only (the native ones have
	 * their syscalls/ tracepoints there): judged in the raw entry's task variant */
	AG_SC_PTRACE = 9,     /* request0 pid1 */
	AG_SC_VM_READV = 10,  /* pid0: process_vm_readv */
	AG_SC_VM_WRITEV = 11, /* pid0: process_vm_writev */
};

/*
 * The architecture's syscall numbers (the table ag_nr_op[] of AG_SC_* operations: native ABI in
 * the low nibble, compat in the high one), the number check ag_arch_nr(), the compat test
 * ag_arch_compat() and the argument registers ag_arg(): bpf/arch/$(ARCH)/syscalls.h, the one
 * place an architecture is named.
 */
#include "syscalls.h"

/*
 * Two variants, the loader takes the first that the kernel accepts: direct loads through BTF
 * pointers (cheap exception-handled loads; bpf_rdonly_cast needs 6.2), else CO-RE probe reads
 * (any kernel).
 */
extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym __weak;

static __always_inline void ag_tp_judge(struct task_struct *task, __u32 mode, __u32 rdev, __u32 op,
					__u32 cmd, __u64 arg)
{
	bool deny;

	ag_file_access_hot(task, mode, rdev, op, cmd, arg, AG_HOOK_TRACEPOINT, &deny);
	if (deny)
		bpf_send_signal(SIGKILL);
}

static __always_inline void ag_tp_fd(struct task_struct *task, __u32 fd, __u32 op, __u32 cmd,
				     __u64 arg)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;
	struct inode *inode;

	if (!fdt || fd >= fdt->max_fds)
		return;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return;
	file = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	inode = file->f_inode;
	if (!inode)
		return;
	ag_tp_judge(task, inode->i_mode, inode->i_rdev, op, cmd, arg);
}

static __always_inline void ag_tp_fd_core(struct task_struct *task, __u32 fd, __u32 op, __u32 cmd,
					  __u64 arg)
{
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;
	struct inode *inode;

	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	inode = BPF_CORE_READ(file, f_inode);
	ag_tp_judge(NULL, BPF_CORE_READ(inode, i_mode), BPF_CORE_READ(inode, i_rdev), op, cmd, arg);
}

/* fd: the kernel takes descriptors as unsigned int (fdget), whatever the register holds above */
static __always_inline void ag_tp_one(struct task_struct *task, bool direct, __u32 fd, __u32 op,
				      __u32 cmd, __u64 arg)
{
	if (direct)
		ag_tp_fd(task, fd, op, cmd, arg);
	else
		ag_tp_fd_core(task, fd, op, cmd, arg);
}

/* What syscall sc does to its descriptors, given its arguments a0..a4. The per-syscall programs
 * pass a constant sc: the compiler keeps that case alone, and reads only its arguments. */
static __always_inline void ag_sc_judge(struct task_struct *task, bool direct, __u8 sc, __u64 a0,
					__u64 a1, __u64 a2, __u64 a3, __u64 a4)
{
	__u32 mmap_args[2] = {}; /* old_mmap's flags, fd */

	switch (sc) {
	case AG_SC_IOCTL:
		ag_tp_one(task, direct, a0, AG_OP_IOCTL, a1, a2);
		break;
	case AG_SC_READ:
		ag_tp_one(task, direct, a0, AG_OP_READ, 0, 0);
		break;
	case AG_SC_WRITE:
		ag_tp_one(task, direct, a0, AG_OP_WRITE, 0, 0);
		break;
	case AG_SC_MMAP:
		if (!(a3 & AG_MAP_ANONYMOUS))
			ag_tp_one(task, direct, a4, AG_OP_MMAP, 0, 0);
		break;
	case AG_SC_OLD_MMAP:
		if (!bpf_probe_read_user(mmap_args, sizeof(mmap_args), (void *)(a0 + 12)) &&
		    !(mmap_args[0] & AG_MAP_ANONYMOUS))
			ag_tp_one(task, direct, mmap_args[1], AG_OP_MMAP, 0, 0);
		break;
	case AG_SC_SENDFILE:
		ag_tp_one(task, direct, a1, AG_OP_READ, 0, 0);
		ag_tp_one(task, direct, a0, AG_OP_WRITE, 0, 0);
		break;
	case AG_SC_SPLICE:
		ag_tp_one(task, direct, a0, AG_OP_READ, 0, 0);
		ag_tp_one(task, direct, a2, AG_OP_WRITE, 0, 0);
		break;
	case AG_SC_TEE:
		ag_tp_one(task, direct, a0, AG_OP_READ, 0, 0);
		ag_tp_one(task, direct, a1, AG_OP_WRITE, 0, 0);
		break;
	}
}

static __always_inline struct task_struct *ag_current(bool direct)
{
	return direct ? bpf_get_current_task_btf() : (struct task_struct *)bpf_get_current_task();
}

/* ---- the raw entry (where compat syscalls exist) -------------------------------------------- */

/* Another tenant's process by a compat (ia32, AArch32) or x32 ptrace or process_vm_readv/writev,
 * given the syscall's first two arguments (ptrace.bpf.c: the target by its pid, with
 * bpf_task_from_vpid, 6.13). */
extern int ag_compat_task(__u32 route, __u64 a0, __u64 a1);

/*
 * The number first: a syscall that touches no descriptor and no other process leaves after a few
 * compares and one load of the table, before the task, the registers or any map is read.
 * task_routes: the variant that judges the compat ptrace routes (loaded only where the kernel has
 * bpf_task_from_vpid; the others leave at those numbers).
 */
static __always_inline void ag_sys_enter(struct pt_regs *regs, long id, bool direct,
					 bool task_routes)
{
	struct task_struct *task;
	bool compat, x32 = false;
	__u8 sc;

	/* Numbers the kernel answers ENOSYS, which reach no driver: not reported as accesses. */
	if (!ag_arch_nr(&id, &x32))
		return;
	sc = ag_nr_op[id];
	if (!sc)
		return;
	task = ag_current(direct);
	compat = ag_arch_compat(task, direct);
	if (compat && (!ag_ia32 || x32))
		return; /* an ia32 number with bit 30 is out of its table: ENOSYS */
	sc = compat ? sc >> 4 : sc & 0xf;
	if (!sc)
		return;
	if (sc >= AG_SC_PTRACE) {
		if (task_routes)
			ag_compat_task(sc == AG_SC_PTRACE	     ? AG_PT_PTRACE
				       : sc == AG_SC_VM_READV ? AG_PT_PROCESS_VM_READV
							      : AG_PT_PROCESS_VM_WRITEV,
				       ag_arg(regs, compat, 0), ag_arg(regs, compat, 1));
		return;
	}
	ag_sc_judge(task, direct, sc, ag_arg(regs, compat, 0), ag_arg(regs, compat, 1),
		    ag_arg(regs, compat, 2), ag_arg(regs, compat, 3), ag_arg(regs, compat, 4));
}

/* Three programs, the loader loads one: direct loads with the compat ptrace routes (the kernel
 * has bpf_task_from_vpid, 6.13), direct loads (6.2), CO-RE reads (any kernel). Each is the one
 * program on the raw entry: one dispatch per syscall. */
SEC("tp_btf/sys_enter")
int BPF_PROG(ag_tp_sys_enter_task, struct pt_regs *regs, long id)
{
	ag_sys_enter(regs, id, true, true);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ag_tp_sys_enter, struct pt_regs *regs, long id)
{
	ag_sys_enter(regs, id, true, false);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ag_tp_sys_enter_core, struct pt_regs *regs, long id)
{
	ag_sys_enter(regs, id, false, false);
	return 0;
}

/* ---- one tracepoint per syscall (where no compat syscall runs) ------------------------------ */

/* The record of a syscalls/sys_enter_* tracepoint (its format file): the common fields, the
 * syscall's number, its arguments. The kernel refuses to attach a program that reads past the
 * syscall's own arguments: each program reads only those of its syscall. */
struct ag_sc_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

/* x86-64 names; the number each one runs under is in ag_nr_op (low nibble) */
#define AG_SC_PROG(name, sc)                                                                       \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int ag_sc_##name(struct ag_sc_ctx *ctx)                                                    \
	{                                                                                          \
		ag_sc_judge(ag_current(true), true, sc, ctx->args[0], ctx->args[1], ctx->args[2],   \
			    (sc) == AG_SC_MMAP ? ctx->args[3] : 0,                                 \
			    (sc) == AG_SC_MMAP ? ctx->args[4] : 0);                                \
		return 0;                                                                          \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int ag_sc_##name##_core(struct ag_sc_ctx *ctx)                                             \
	{                                                                                          \
		ag_sc_judge(ag_current(false), false, sc, ctx->args[0], ctx->args[1],               \
			    ctx->args[2], (sc) == AG_SC_MMAP ? ctx->args[3] : 0,                   \
			    (sc) == AG_SC_MMAP ? ctx->args[4] : 0);                                \
		return 0;                                                                          \
	}

AG_SC_PROG(ioctl, AG_SC_IOCTL)
AG_SC_PROG(read, AG_SC_READ)
AG_SC_PROG(write, AG_SC_WRITE)
AG_SC_PROG(pread64, AG_SC_READ)
AG_SC_PROG(pwrite64, AG_SC_WRITE)
AG_SC_PROG(readv, AG_SC_READ)
AG_SC_PROG(writev, AG_SC_WRITE)
AG_SC_PROG(preadv, AG_SC_READ)
AG_SC_PROG(pwritev, AG_SC_WRITE)
AG_SC_PROG(preadv2, AG_SC_READ)
AG_SC_PROG(pwritev2, AG_SC_WRITE)
AG_SC_PROG(sendfile64, AG_SC_SENDFILE)
AG_SC_PROG(splice, AG_SC_SPLICE)
AG_SC_PROG(tee, AG_SC_TEE)
AG_SC_PROG(copy_file_range, AG_SC_SPLICE)
AG_SC_PROG(mmap, AG_SC_MMAP)

char LICENSE[] SEC("license") = "GPL";
