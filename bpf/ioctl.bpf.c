// SPDX-License-Identifier: GPL-2.0
/* ioctl on an accelerator file, tiers 1 and 2: denied synchronously in the security hook. Tier 3
 * sees ioctls at the syscall entry (syscall.bpf.c). */
#include "common.bpf.h"

/* A non-zero ret is an earlier hook's denial: never turn it into an allow. */
static __always_inline int ag_lsm_ioctl(struct file *file, unsigned int cmd, unsigned long arg,
					int ret)
{
	if (ret)
		return ag_lsm_ret(ret);
	return ag_lsm_ret(ag_file_op(file, AG_OP_IOCTL, cmd, arg, AG_HOOK_LSM));
}

static __always_inline int ag_fmod_ioctl(struct file *file, unsigned int cmd, unsigned long arg,
					 int ret)
{
	if (ret)
		return ret;
	return ag_file_op(file, AG_OP_IOCTL, cmd, arg, AG_HOOK_FMOD_RET);
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

char LICENSE[] SEC("license") = "GPL";
