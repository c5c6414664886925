/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tier 3 on x86-64: the syscall numbers, argument registers and compat test that syscall.bpf.c
 * judges by (included through -Ibpf/arch/$(ARCH); the other architecture: bpf/arch/arm64/).
 *
 * Three ABIs enter the same sys_enter tracepoint: x86-64; x32 (the x86-64 table, numbers with
 * bit 30 set, plus x32's own numbers from 512); ia32 (its own table; TS_COMPAT is set in
 * thread_info.status for the whole of a compat syscall, int $0x80 from a 64-bit process too).
 * The low nibble of ag_nr_op[] is the x86-64 (and x32) operation, the high nibble the ia32 one.
 */
#ifndef AG_ARCH_SYSCALLS_H
#define AG_ARCH_SYSCALLS_H

#include "compat.h"

#define AG_NR_TABLE 1024

#define X64(nr, sc) [nr] = (sc)
#define IA32(nr, sc) [nr] = (sc) << 4
#define BOTH(nr, x, i) [nr] = (x) | (i) << 4

/* arch/x86/entry/syscalls/syscall_64.tbl and syscall_32.tbl; a number in both tables is one
 * entry (BOTH). x32: the common numbers plus its own 512+ ones. */
const volatile __u8 ag_nr_op[AG_NR_TABLE] = {
	X64(0, AG_SC_READ),		/* read (ia32 0: restart_syscall) */
	X64(1, AG_SC_WRITE),		/* write (ia32 1: exit) */
	BOTH(3, 0, AG_SC_READ),		/* ia32 read (x86-64 3: close) */
	BOTH(4, 0, AG_SC_WRITE),	/* ia32 write (x86-64 4: stat) */
	X64(9, AG_SC_MMAP),		/* mmap */
	X64(16, AG_SC_IOCTL),		/* ioctl */
	X64(17, AG_SC_READ),		/* pread64 */
	X64(18, AG_SC_WRITE),		/* pwrite64 */
	X64(19, AG_SC_READ),		/* readv */
	X64(20, AG_SC_WRITE),		/* writev */
	X64(40, AG_SC_SENDFILE),	/* sendfile */
	X64(47, AG_SC_RECVMSG),	/* recvmsg (ia32 47: getgid) */
	IA32(AG_NR32_PTRACE, AG_SC_PTRACE),	/* ia32 ptrace (x86-64 26: msync) */
	IA32(54, AG_SC_IOCTL),		/* ia32 ioctl (x86-64 54: setsockopt) */
	IA32(90, AG_SC_OLD_MMAP),	/* ia32 mmap (x86-64 90: chmod) */
	X64(101, AG_SC_PTRACE),	/* ptrace (ia32 101: ioperm) */
	IA32(145, AG_SC_READ),		/* ia32 readv */
	IA32(146, AG_SC_WRITE),		/* ia32 writev */
	IA32(180, AG_SC_READ),		/* ia32 pread64 */
	IA32(181, AG_SC_WRITE),		/* ia32 pwrite64 */
	IA32(187, AG_SC_SENDFILE),	/* ia32 sendfile */
	IA32(192, AG_SC_MMAP),		/* ia32 mmap2 */
	IA32(239, AG_SC_SENDFILE),	/* ia32 sendfile64 */
	X64(275, AG_SC_SPLICE),		/* splice */
	X64(276, AG_SC_TEE),		/* tee */
	X64(295, AG_SC_READ),		/* preadv */
	X64(296, AG_SC_WRITE),		/* pwritev */
	X64(299, AG_SC_RECVMMSG),	/* recvmmsg */
	X64(310, AG_SC_VM_READV),	/* process_vm_readv */
	X64(311, AG_SC_VM_WRITEV),	/* process_vm_writev */
	IA32(313, AG_SC_SPLICE),	/* ia32 splice */
	IA32(315, AG_SC_TEE),		/* ia32 tee */
	X64(326, AG_SC_SPLICE),		/* copy_file_range */
	BOTH(327, AG_SC_READ, 0),	/* preadv2 */
	BOTH(328, AG_SC_WRITE, 0),	/* pwritev2 */
	IA32(333, AG_SC_READ),		/* ia32 preadv */
	IA32(334, AG_SC_WRITE),		/* ia32 pwritev */
	IA32(AG_NR32_PROCESS_VM_READV, AG_SC_VM_READV),		/* ia32 process_vm_readv */
	IA32(AG_NR32_PROCESS_VM_WRITEV, AG_SC_VM_WRITEV),	/* ia32 process_vm_writev */
	IA32(377, AG_SC_SPLICE),	/* ia32 copy_file_range */
	IA32(378, AG_SC_READ),		/* ia32 preadv2 */
	IA32(379, AG_SC_WRITE),		/* ia32 pwritev2 */
	X64(514, AG_SC_IOCTL),		/* x32 ioctl */
	X64(515, AG_SC_READ),		/* x32 readv */
	X64(516, AG_SC_WRITE),		/* x32 writev */
	X64(AG_NRX32_PTRACE & ~AG_X32_BIT, AG_SC_PTRACE),	/* x32 ptrace (521) */
	X64(534, AG_SC_READ),		/* x32 preadv */
	X64(535, AG_SC_WRITE),		/* x32 pwritev */
	X64(AG_NRX32_PROCESS_VM_READV & ~AG_X32_BIT, AG_SC_VM_READV),	/* x32 process_vm_readv (539) */
	X64(AG_NRX32_PROCESS_VM_WRITEV & ~AG_X32_BIT, AG_SC_VM_WRITEV),	/* x32 process_vm_writev (540) */
	X64(546, AG_SC_READ),		/* x32 preadv2 */
	X64(547, AG_SC_WRITE),		/* x32 pwritev2 */
};

/* x32's own numbers start here; without bit 30 they are in no table (ENOSYS) */
#define AG_X32_FIRST 512

/* The x86-64 table's "64" entries below 512 (syscall_64.tbl): x32 has its own number for each
 * (514 ioctl, 515 readv, ...), so with bit 30 these are ENOSYS. */
static __always_inline bool ag_x64_only(long id)
{
	return id == 16 || id == 19 || id == 20 || id == 47 || id == 101 || id == 295 || id == 296 ||
	       id == 299 || id == 310 || id == 311 || id == 327 || id == 328;
}

/*
 * The index into ag_nr_op[] of syscall *id, the x32 bit taken off (*x32 says it was there);
 * false for numbers the kernel answers ENOSYS, which reach no driver: not reported as accesses.
 */
static __always_inline bool ag_arch_nr(long *id, bool *x32)
{
	if (*id & AG_X32_BIT) {
		if (!ag_x32)
			return false; /* no x32 here: the kernel answers ENOSYS, nothing reaches a driver */
		*id &= ~AG_X32_BIT;
		*x32 = true;
	}
	if ((__u64)*id >= AG_NR_TABLE)
		return false;
	return *x32 ? !ag_x64_only(*id) : *id < AG_X32_FIRST;
}

#endif
