/* SPDX-License-Identifier: GPL-2.0 */
/*
 * arm64's compat (AArch32) syscalls as every tier-3 program sees them: the compat test (TIF_32BIT
 * in thread_info.flags), the argument registers, and the AArch32 numbers of the routes to another
 * tenant's process (judged on the raw entry, syscall.bpf.c's task variant;
 * arch/arm64/include/asm/unistd32.h). Included by syscalls.h.
 */
#ifndef AG_ARCH_COMPAT_H
#define AG_ARCH_COMPAT_H

#define AG_TIF_32BIT 22 /* arch/arm64/include/asm/thread_info.h */

#define AG_NR32_PTRACE 26
#define AG_NR32_PROCESS_VM_READV 376
#define AG_NR32_PROCESS_VM_WRITEV 377

/* no x32-like ABI on arm64 */
#define AG_X32_BIT 0L
#define AG_NRX32_PTRACE (-1L)
#define AG_NRX32_PROCESS_VM_READV (-1L)
#define AG_NRX32_PROCESS_VM_WRITEV (-1L)

/* an AArch32 task: TIF_32BIT */
static __always_inline bool ag_arch_compat(struct task_struct *task, bool direct)
{
	if (direct)
		return task->thread_info.flags & (1UL << AG_TIF_32BIT);
	return BPF_CORE_READ(task, thread_info.flags) & (1UL << AG_TIF_32BIT);
}

/*
 * argument i of the current syscall: x0-x5, AArch32's r0-r5 in their low halves. x0 is read from
 * orig_x0, as the kernel's own syscall_get_arguments() does: regs[0] becomes the return value.
 */
static __always_inline __u64 ag_arg(struct pt_regs *regs, bool compat, int i)
{
	__u64 v = i == 0 ? regs->orig_x0 : regs->regs[i & 7];

	return compat ? (__u32)v : v;
}

#endif
