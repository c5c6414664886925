// SPDX-License-Identifier: GPL-2.0
/* ioctl on an accelerator file. Tiers 1 and 2 deny synchronously in the security hook; tier 3
 * sees the ioctl syscall, resolves the descriptor to its file, and in enforce mode kills the
 * process (after the fact: the report says "killed"). */
#include "common.bpf.h"

/* mode and rdev of the file's inode: the security hooks load them directly (BTF pointers), the
 * syscall tracepoint reads them from a file it found in the descriptor table. task: the current
 * task as a BTF pointer, when the caller has one (its cgroup id is three loads away, cheaper
 * than the helper call), else NULL. */
static __always_inline int ag_ioctl_task(struct task_struct *task, __u32 mode, __u32 rdev,
					 __u32 cmd, __u64 arg, __u32 hook, bool *deny)
{
	struct ag_access a = { .op = AG_OP_IOCTL, .hook = hook, .cmd = cmd };

	*deny = false;
	if ((mode & S_IFMT) != S_IFCHR)
		return 0;
	a.major = rdev >> MINORBITS;
	a.minor = rdev & MINORMASK;
	a.class_id = ag_class(a.major, a.minor);
	if (!a.class_id)
		return 0;
	a.xfer_cmd = ag_xfer_cmd(a.major, cmd, arg);
	if (task)
		a.cgid = task->cgroups->dfl_cgrp->kn->id;
	return ag_judge(&a, deny);
}

static __always_inline int ag_ioctl(__u32 mode, __u32 rdev, __u32 cmd, __u64 arg, __u32 hook,
				    bool *deny)
{
	return ag_ioctl_task(NULL, mode, rdev, cmd, arg, hook, deny);
}

/* A non-zero ret is an earlier hook's denial: never turn it into an allow. */
static __always_inline int ag_lsm_ioctl(struct file *file, unsigned int cmd, unsigned long arg,
					int ret)
{
	bool deny;

	if (ret)
		return ag_lsm_ret(ret);
	ag_ioctl(file->f_inode->i_mode, file->f_inode->i_rdev, cmd, arg, AG_HOOK_LSM, &deny);
	return ag_lsm_ret(deny ? -EPERM : 0);
}

static __always_inline int ag_fmod_ioctl(struct file *file, unsigned int cmd, unsigned long arg,
					 int ret)
{
	bool deny;

	if (ret)
		return ret;
	ag_ioctl(file->f_inode->i_mode, file->f_inode->i_rdev, cmd, arg, AG_HOOK_FMOD_RET, &deny);
	return deny ? -EPERM : 0;
}

SEC("lsm/file_ioctl")
int BPF_PROG(ag_lsm_file_ioctl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	return ag_lsm_ioctl(file, cmd, arg, ret);
}

SEC("fmod_ret/security_file_ioctl")
int BPF_PROG(ag_fmod_file_ioctl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	return ag_fmod_ioctl(file, cmd, arg, ret);
}

/*
 * A 32-bit process's ioctl goes through compat_sys_ioctl, which calls the compat hook instead of
 * security_file_ioctl on kernels that have it (6.8, and the stable kernels it went back to, such
 * as Debian's 6.1); the loader loads these only where the kernel's BTF names the hook. Older
 * kernels call security_file_ioctl from the compat path too.
 */
SEC("lsm/file_ioctl_compat")
int BPF_PROG(ag_lsm_file_ioctl_compat, struct file *file, unsigned int cmd, unsigned long arg,
	     int ret)
{
	return ag_lsm_ioctl(file, cmd, arg, ret);
}

SEC("fmod_ret/security_file_ioctl_compat")
int BPF_PROG(ag_fmod_file_ioctl_compat, struct file *file, unsigned int cmd, unsigned long arg,
	     int ret)
{
	return ag_fmod_ioctl(file, cmd, arg, ret);
}

/*
 * Tier 3 sees the ioctl syscall and finds the file in the descriptor table. Two variants, the
 * loader takes the first that the kernel accepts: direct loads through BTF pointers (cheap
 * exception-handled loads; bpf_rdonly_cast needs 6.2), else CO-RE probe reads (any kernel).
 */
extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym __weak;

static __always_inline void ag_tp_judge(struct task_struct *task, __u32 mode, __u32 rdev,
					__u32 cmd, __u64 arg)
{
	bool deny;

	ag_ioctl_task(task, mode, rdev, cmd, arg, AG_HOOK_TRACEPOINT, &deny);
	if (deny)
		bpf_send_signal(SIGKILL);
}

static __always_inline void ag_tp_fd(struct task_struct *task, __u32 fd, __u32 cmd, __u64 arg)
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
	ag_tp_judge(task, inode->i_mode, inode->i_rdev, cmd, arg);
}

static __always_inline void ag_tp_fd_core(struct task_struct *task, __u32 fd, __u32 cmd, __u64 arg)
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
	ag_tp_judge(NULL, BPF_CORE_READ(inode, i_mode), BPF_CORE_READ(inode, i_rdev), cmd, arg);
}

/*
 * Tier 3 watches the raw syscall entry (raw_syscalls sys_enter), not syscalls/sys_enter_ioctl:
 * on x86 the syscalls/ tracepoints skip compat syscalls, so a 32-bit process's ioctls (the ia32
 * table, int $0x80 from a 64-bit process too) would go unseen; and a raw tracepoint runs the
 * program directly, where the syscalls/ one goes through the perf path (a buffer and a copy of
 * the arguments before the program). Every syscall enters the program, which leaves at once
 * unless the number is an ioctl's: a compare (two with ag_ia32). 16 is the x86-64 ioctl, 54 the
 * ia32 one (and x86-64's setsockopt): TS_COMPAT, set for the whole of a compat syscall, tells the
 * two tables apart. The ABIs pass fd, cmd, arg in di, si, dx (x86-64) and bx, cx, dx (ia32).
 */
const volatile __u32 ag_ia32 __weak = 0; /* 1: the kernel has an ia32 syscall table (the loader) */

#define AG_NR_IOCTL 16
#define AG_IA32_NR_IOCTL 54
#define AG_TS_COMPAT 0x0002

/* fd, cmd, arg of an ioctl syscall of either table; false for any other syscall */
static __always_inline bool ag_ioctl_args(struct pt_regs *regs, long id, bool compat, __u32 *fd,
					  __u32 *cmd, __u64 *arg)
{
	if (id == AG_NR_IOCTL && !compat) {
		*fd = regs->di;
		*cmd = regs->si;
		*arg = regs->dx;
		return true;
	}
	if (id == AG_IA32_NR_IOCTL && compat) {
		*fd = regs->bx;
		*cmd = regs->cx;
		*arg = (__u32)regs->dx;
		return true;
	}
	return false;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ag_tp_ioctl, struct pt_regs *regs, long id)
{
	struct task_struct *task;
	__u32 fd, cmd;
	__u64 arg;
	bool compat;

	if (id != AG_NR_IOCTL && (!ag_ia32 || id != AG_IA32_NR_IOCTL))
		return 0;
	task = bpf_get_current_task_btf();
	compat = task->thread_info.status & AG_TS_COMPAT;
	if (ag_ioctl_args(regs, id, compat, &fd, &cmd, &arg))
		ag_tp_fd(task, fd, cmd, arg);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ag_tp_ioctl_core, struct pt_regs *regs, long id)
{
	struct task_struct *task;
	__u32 fd, cmd;
	__u64 arg;
	bool compat;

	if (id != AG_NR_IOCTL && (!ag_ia32 || id != AG_IA32_NR_IOCTL))
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	compat = BPF_CORE_READ(task, thread_info.status) & AG_TS_COMPAT;
	if (ag_ioctl_args(regs, id, compat, &fd, &cmd, &arg))
		ag_tp_fd_core(task, fd, cmd, arg);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
