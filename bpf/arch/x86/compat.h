/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86-64's compat (ia32) syscalls as every tier-3 program sees them: the compat test (TS_COMPAT in
 * thread_info.status, set for the whole of a compat syscall, int $0x80 from a 64-bit process too),
 * the argument registers, and the ia32 and x32 numbers of the routes to another tenant's process
 * (judged on the raw entry, syscall.bpf.c's task variant; arch/x86/entry/syscalls/syscall_32.tbl).
 * Included by syscalls.h.
 */
#ifndef AG_ARCH_COMPAT_H
#define AG_ARCH_COMPAT_H

#define AG_TS_COMPAT 0x0002

#define AG_NR32_PTRACE 26
#define AG_NR32_PROCESS_VM_READV 347
#define AG_NR32_PROCESS_VM_WRITEV 348

/* x32: the x86-64 table with bit 30, its own entries for these three (syscall_64.tbl); x32's
 * arguments are in the x86-64 registers and TS_COMPAT is not set */
#define AG_X32_BIT 0x40000000L
#define AG_NRX32_PTRACE (AG_X32_BIT | 521)
#define AG_NRX32_PROCESS_VM_READV (AG_X32_BIT | 539)
#define AG_NRX32_PROCESS_VM_WRITEV (AG_X32_BIT | 540)

/* a compat (ia32) syscall: TS_COMPAT */
static __always_inline bool ag_arch_compat(struct task_struct *task, bool direct)
{
	if (direct)
		return task->thread_info.status & AG_TS_COMPAT;
	return BPF_CORE_READ(task, thread_info.status) & AG_TS_COMPAT;
}

/* argument i of the current syscall: di si dx r10 r8 (x86-64, x32), bx cx dx si di (ia32) */
static __always_inline __u64 ag_arg(struct pt_regs *regs, bool compat, int i)
{
	switch (i) {
	case 0:
		return compat ? (__u32)regs->bx : regs->di;
	case 1:
		return compat ? (__u32)regs->cx : regs->si;
	case 2:
		return compat ? (__u32)regs->dx : regs->dx;
	case 3:
		return compat ? (__u32)regs->si : regs->r10;
	default:
		return compat ? (__u32)regs->di : regs->r8;
	}
}

#endif
