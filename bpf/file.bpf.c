// SPDX-License-Identifier: GPL-2.0
/*
 * read, write and mmap of an accelerator file, tiers 1 and 2: denied synchronously, before the
 * driver runs. A descriptor that left its tenant (fork, SCM_RIGHTS, pidfd_getfd) reaches the
 * driver through these as well as through ioctl.
 *
 * file_permission runs in rw_verify_area, so it sees every way to read or write a file: read,
 * write, the p/v/v2 variants, sendfile, splice, copy_file_range, io_uring and aio reads and writes.
 * mmap_file runs in vm_mmap_pgoff before the mapping is made (mmap, mmap2, old_mmap, the ia32
 * and x32 variants, io_uring none). Both hooks run for every read, write and mapping of any file
 * on the node: the program leaves after two loads and a compare unless the inode is a character
 * device.
 *
 * With "reads: arrival" (loader.c) file_permission is loaded but not attached at start: a
 * descriptor is judged where it arrives in a tenant instead (file_receive below; a move or a
 * clone into another cgroup, receive.bpf.c; the start's scan), and file_permission is attached
 * by the agent the first time an arrival could not be stopped (user/run/arrival.c).
 */
#include "common.bpf.h"

#define MAY_WRITE 0x2
#define MAY_READ 0x4

static __always_inline __u32 ag_rw_op(int mask)
{
	return mask & MAY_WRITE ? AG_OP_WRITE : mask & MAY_READ ? AG_OP_READ : 0;
}

/* A non-zero ret is an earlier hook's denial: never turn it into an allow. */
SEC("lsm/file_permission")
int BPF_PROG(ag_lsm_file_permission, struct file *file, int mask, int ret)
{
	__u32 op = ag_rw_op(mask);

	if (ret)
		return ag_lsm_ret(ret);
	return ag_lsm_ret(op ? ag_file_op(file, op, 0, 0, AG_HOOK_LSM) : 0);
}

SEC("fmod_ret/security_file_permission")
int BPF_PROG(ag_fmod_file_permission, struct file *file, int mask, int ret)
{
	__u32 op = ag_rw_op(mask);

	if (ret)
		return ret;
	return op ? ag_file_op(file, op, 0, 0, AG_HOOK_FMOD_RET) : 0;
}

SEC("lsm/mmap_file")
int BPF_PROG(ag_lsm_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags, int ret)
{
	if (ret)
		return ag_lsm_ret(ret);
	return ag_lsm_ret(ag_file_op(file, AG_OP_MMAP, 0, 0, AG_HOOK_LSM));
}

SEC("fmod_ret/security_mmap_file")
int BPF_PROG(ag_fmod_mmap_file, struct file *file, unsigned long prot, unsigned long flags, int ret)
{
	if (ret)
		return ret;
	return ag_file_op(file, AG_OP_MMAP, 0, 0, AG_HOOK_FMOD_RET);
}

/*
 * A descriptor arriving in the current process from elsewhere: SCM_RIGHTS (scm_detach_fds),
 * pidfd_getfd, binder, a seccomp supervisor's SECCOMP_IOCTL_NOTIF_ADDFD; every one goes through
 * receive_fd, which calls this before the descriptor is installed. Op receive, denied
 * synchronously in enforce mode: the descriptor never reaches the receiver's table.
 * Attached only in arrival mode.
 */
SEC("lsm/file_receive")
int BPF_PROG(ag_lsm_file_receive, struct file *file, int ret)
{
	if (ret)
		return ag_lsm_ret(ret);
	return ag_lsm_ret(ag_file_op(file, AG_OP_RECEIVE, 0, 0, AG_HOOK_LSM));
}

SEC("fmod_ret/security_file_receive")
int BPF_PROG(ag_fmod_file_receive, struct file *file, int ret)
{
	if (ret)
		return ret;
	return ag_file_op(file, AG_OP_RECEIVE, 0, 0, AG_HOOK_FMOD_RET);
}

char LICENSE[] SEC("license") = "GPL";
