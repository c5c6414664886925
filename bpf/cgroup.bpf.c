// SPDX-License-Identifier: GPL-2.0
/* cgroup family: the device controller hook (opens and mknod, on any cgroup v2 kernel) and the
 * cgroup lifecycle tracepoints that tell the agent at once when a container cgroup appears. */
#include "common.bpf.h"

#define BPF_DEVCG_ACC_MKNOD_ (1 << 0)
#define BPF_DEVCG_DEV_CHAR_ 2

/* Attached with BPF_F_ALLOW_MULTI above the tenants: 1 allows, 0 denies with EPERM. Other
 * programs on the path (systemd's, the runtime's) still run and can deny on their own. */
SEC("cgroup/dev")
int ag_cgroup_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	struct ag_access a = { .hook = AG_HOOK_CGROUP_DEV };
	__u32 type = ctx->access_type & 0xffff;
	__u32 access = ctx->access_type >> 16;
	bool deny;

	/* every device open of the node comes here: a non-accelerator one leaves after one array
	 * lookup (tier 3), or none (tiers 1-2, whose file_open hook judges opens) */
	if (type != BPF_DEVCG_DEV_CHAR_)
		return 1;
	a.op = (access & BPF_DEVCG_ACC_MKNOD_) ? AG_OP_MKNOD : AG_OP_OPEN;
	if (a.op == AG_OP_OPEN && ag_lsm_opens)
		return 1;
	a.major = ctx->major;
	a.minor = ctx->minor;
	a.class_id = ag_class(a.major, a.minor);
	if (!a.class_id)
		return 1;
	ag_judge(&a, &deny);
	return deny ? 0 : 1;
}

static __always_inline void ag_cgroup_event(__u32 type, struct cgroup *cgrp, const char *path)
{
	struct ag_cgroup_event *ev;

	/* the default (v2) hierarchy only; v1 hierarchies fire the same tracepoints */
	if (cgrp->root->hierarchy_id != 0)
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		ag_count_drop(AG_DROP_CGROUP);
		return;
	}
	ev->h.type = type;
	ev->h.size = sizeof(*ev);
	ev->time_ns = bpf_ktime_get_boot_ns();
	ev->cgroup_id = cgrp->kn->id;
	ev->level = cgrp->level;
	ev->pad = 0;
	bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), path);
	bpf_ringbuf_submit(ev, 0);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(ag_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	ag_cgroup_event(AG_EV_CGROUP_MKDIR, cgrp, path);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(ag_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	ag_cgroup_event(AG_EV_CGROUP_RMDIR, cgrp, path);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
