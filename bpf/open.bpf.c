// SPDX-License-Identifier: GPL-2.0
/* Device open: every open of a device inode, whatever the route (open, openat2, io_uring,
 * /proc/self/fd reopen), identified by the inode's device number. Tiers 1 and 2. */
#include "common.bpf.h"

static __always_inline int ag_file_open(struct file *file, __u32 hook)
{
	ag_probe_hit(hook, file->f_inode->i_ino);
	return ag_file_op(file, AG_OP_OPEN, 0, 0, hook);
}

/* A non-zero ret is an earlier hook's denial: never turn it into an allow. */
SEC("lsm/file_open")
int BPF_PROG(ag_lsm_file_open, struct file *file, int ret)
{
	if (ret)
		return ag_lsm_ret(ret);
	return ag_lsm_ret(ag_file_open(file, AG_HOOK_LSM));
}

SEC("fmod_ret/security_file_open")
int BPF_PROG(ag_fmod_file_open, struct file *file, int ret)
{
	if (ret)
		return ret;
	return ag_file_open(file, AG_HOOK_FMOD_RET);
}

char LICENSE[] SEC("license") = "GPL";
