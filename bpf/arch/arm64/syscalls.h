/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tier 3 on arm64: the syscall numbers, argument registers and compat test that syscall.bpf.c
 * judges by (included through -Ibpf/arch/$(ARCH); the other architecture: bpf/arch/x86/).
 *
 * Two ABIs enter the same sys_enter tracepoint: AArch64, with the asm-generic table
 * (include/uapi/asm-generic/unistd.h: no open, creat or old mmap, sendfile and mmap are the
 * "3264" entries), and, where the kernel has CONFIG_COMPAT, AArch32 (EABI numbers,
 * arch/arm64/include/asm/unistd32.h, the same as arch/arm's EABI table; no OABI). A compat
 * task carries TIF_32BIT (22) in thread_info.flags. The low nibble of ag_nr_op[] is the AArch64
 * operation, the high nibble the AArch32 one. Opens are not judged here: the device cgroup hook
 * sees every open at tier 3, whatever the syscall.
 */
#ifndef AG_ARCH_SYSCALLS_H
#define AG_ARCH_SYSCALLS_H

#include "compat.h"

#define AG_NR_TABLE 512

#define A64(nr, sc) [nr] = (sc)
#define A32(nr, sc) [nr] = (sc) << 4
#define BOTH(nr, a64, a32) [nr] = (a64) | (a32) << 4

const volatile __u8 ag_nr_op[AG_NR_TABLE] = {
	A32(3, AG_SC_READ),		/* a32 read */
	A32(4, AG_SC_WRITE),		/* a32 write */
	A32(AG_NR32_PTRACE, AG_SC_PTRACE),	/* a32 ptrace (AArch64 26: inotify_init1) */
	A64(29, AG_SC_IOCTL),		/* ioctl */
	A32(54, AG_SC_IOCTL),		/* a32 ioctl */
	A64(63, AG_SC_READ),		/* read */
	A64(64, AG_SC_WRITE),		/* write */
	A64(65, AG_SC_READ),		/* readv */
	A64(66, AG_SC_WRITE),		/* writev */
	A64(67, AG_SC_READ),		/* pread64 */
	A64(68, AG_SC_WRITE),		/* pwrite64 */
	A64(69, AG_SC_READ),		/* preadv */
	A64(70, AG_SC_WRITE),		/* pwritev */
	A64(71, AG_SC_SENDFILE),	/* sendfile */
	A64(76, AG_SC_SPLICE),		/* splice */
	A64(77, AG_SC_TEE),		/* tee */
	A64(117, AG_SC_PTRACE),	/* ptrace */
	A64(212, AG_SC_RECVMSG),	/* recvmsg */
	A32(145, AG_SC_READ),		/* a32 readv */
	A32(146, AG_SC_WRITE),		/* a32 writev */
	A32(180, AG_SC_READ),		/* a32 pread64 */
	A32(181, AG_SC_WRITE),		/* a32 pwrite64 */
	A32(187, AG_SC_SENDFILE),	/* a32 sendfile */
	A32(192, AG_SC_MMAP),		/* a32 mmap2: flags r3, fd r4 */
	A64(222, AG_SC_MMAP),		/* mmap */
	A64(243, AG_SC_RECVMMSG),	/* recvmmsg */
	A64(270, AG_SC_VM_READV),	/* process_vm_readv */
	A64(271, AG_SC_VM_WRITEV),	/* process_vm_writev */
	A32(239, AG_SC_SENDFILE),	/* a32 sendfile64 */
	A64(285, AG_SC_SPLICE),		/* copy_file_range */
	BOTH(286, AG_SC_READ, 0),	/* preadv2 */
	BOTH(287, AG_SC_WRITE, 0),	/* pwritev2 */
	A32(340, AG_SC_SPLICE),		/* a32 splice */
	A32(342, AG_SC_TEE),		/* a32 tee */
	A32(361, AG_SC_READ),		/* a32 preadv */
	A32(362, AG_SC_WRITE),		/* a32 pwritev */
	A32(AG_NR32_PROCESS_VM_READV, AG_SC_VM_READV),	/* a32 process_vm_readv */
	A32(AG_NR32_PROCESS_VM_WRITEV, AG_SC_VM_WRITEV),	/* a32 process_vm_writev */
	A32(391, AG_SC_SPLICE),		/* a32 copy_file_range */
	A32(392, AG_SC_READ),		/* a32 preadv2 */
	A32(393, AG_SC_WRITE),		/* a32 pwritev2 */
};

/* The index into ag_nr_op[] of syscall *id (no x32-like bit here); false: out of the tables. */
static __always_inline bool ag_arch_nr(long *id, bool *x32)
{
	return (__u64)*id < AG_NR_TABLE;
}

#endif
