// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 3: a descriptor that arrives in a process, judged when it arrives (op "receive"), not only
 * at its first use: SCM_RIGHTS (recvmsg, recvmmsg) and pidfd_getfd, at the syscall's exit, where
 * the new descriptors are in the caller's table. A device of another tenant kills the receiver in
 * enforce mode before it returns to user space. Tiers 1-2 need none of this by default: every use
 * of the file is judged synchronously in the security hooks; with "reads: arrival" they take the
 * move below (and the fork after it), and judge a received descriptor in file_receive
 * (file.bpf.c).
 *
 * What arrives is read where the kernel reported it: the descriptor pidfd_getfd returned, the
 * SCM_RIGHTS numbers it wrote into the caller's control buffer. A thread of the receiver can
 * rewrite that buffer, or dup2 over the slot, between the kernel's write and this program's read;
 * such a descriptor is still judged at its every ioctl, read, write and mmap (syscall.bpf.c).
 */
#include "common.bpf.h"

#define AG_SOL_SOCKET 1
#define AG_SCM_RIGHTS 1
#define AG_SCM_MAX_FD 253 /* include/net/scm.h */
#define AG_MAX_CMSGS 2    /* control messages looked at in one message (SCM_CREDENTIALS, SCM_RIGHTS) */
#define AG_MAX_MMSGS 8    /* messages of one recvmmsg looked at */

/* struct user_msghdr, struct cmsghdr (64-bit ABI) */
#define AG_MSG_CONTROL 32
#define AG_MSG_CONTROLLEN 40
#define AG_MMSGHDR_SIZE 64
#define AG_CMSG_HDR 16

/* the recvmsg/recvmmsg in flight of each thread: its msghdr or mmsghdr array */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} recv_args SEC(".maps");

/* An accelerator file found among the descriptors that arrived; judged after the walk, which
 * only classifies. */
struct ag_rx_dev {
	__u32 mode;
	__u32 rdev;
};

static __always_inline void ag_rx_judge(__u32 mode, __u32 rdev)
{
	bool deny;

	ag_file_access(NULL, mode, rdev, AG_OP_RECEIVE, 0, 0, AG_HOOK_TRACEPOINT, &deny);
	if (deny)
		bpf_send_signal(SIGKILL);
}

/* The file in the caller's slot fd, when it is an accelerator's character device. */
static __always_inline bool ag_rx_lookup(struct file **fds, __u32 max_fds, __s32 fd,
					 struct ag_rx_dev *d)
{
	struct file *file = NULL;
	struct inode *inode;

	if (fd < 0 || fd >= max_fds ||
	    bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return false;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return false;
	d->mode = BPF_CORE_READ(inode, i_mode);
	if ((d->mode & S_IFMT) != S_IFCHR)
		return false;
	d->rdev = BPF_CORE_READ(inode, i_rdev);
	return ag_class(d->rdev >> MINORBITS, d->rdev & MINORMASK) != 0;
}

static __always_inline void ag_rx_fd(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ag_rx_dev d;

	if (ag_rx_lookup(BPF_CORE_READ(task, files, fdt, fd), BPF_CORE_READ(task, files, fdt, max_fds),
			 fd, &d))
		ag_rx_judge(d.mode, d.rdev);
}

/* The SCM_RIGHTS walk: one descriptor a step (bpf_loop, so that the verifier walks the step once,
 * not for every one of up to 253), keeping the first AG_RX_DEVS accelerator files; judged after
 * the walk (more in one message are judged at their use). */
#define AG_RX_DEVS 4

struct ag_rx_walk {
	struct file **fds;
	__u64 at; /* the SCM_RIGHTS array in user memory */
	__u32 max_fds;
	__u32 nd;
	struct ag_rx_dev devs[AG_RX_DEVS];
};

static long ag_rx_step(__u32 i, void *ctx)
{
	struct ag_rx_walk *w = ctx;
	__s32 fd;

	if (w->nd >= AG_RX_DEVS)
		return 1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(w->at + 4 * (__u64)i)))
		return 1;
	if (ag_rx_lookup(w->fds, w->max_fds, fd, &w->devs[w->nd & (AG_RX_DEVS - 1)]))
		w->nd++;
	return 0;
}

/* The descriptors of one received message (msg: its struct user_msghdr, whose msg_controllen the
 * kernel set to what it wrote). A global function: the verifier walks it once, not at each of
 * recvmmsg's calls (a second of load time under load). */
__noinline int ag_rx_msghdr(__u64 msg)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ag_rx_walk w = {};
	__u64 ctl = 0, len = 0, off = 0, n;
	__u32 j;
	int i;

	if (bpf_probe_read_user(&ctl, sizeof(ctl), (void *)(msg + AG_MSG_CONTROL)) ||
	    bpf_probe_read_user(&len, sizeof(len), (void *)(msg + AG_MSG_CONTROLLEN)) || !ctl)
		return 0;
	w.fds = BPF_CORE_READ(task, files, fdt, fd);
	w.max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	for (i = 0; i < AG_MAX_CMSGS; i++) {
		struct {
			__u64 len;
			__s32 level;
			__s32 type;
		} h;

		if (off + AG_CMSG_HDR > len ||
		    bpf_probe_read_user(&h, sizeof(h), (void *)(ctl + off)) ||
		    h.len < AG_CMSG_HDR || h.len > len - off)
			break;
		if (h.level == AG_SOL_SOCKET && h.type == AG_SCM_RIGHTS) {
			/* a 64-bit count: the inlined bpf_loop compares the whole register */
			n = (h.len - AG_CMSG_HDR) / 4;
			if (n > AG_SCM_MAX_FD)
				n = AG_SCM_MAX_FD;
			w.at = ctl + off + AG_CMSG_HDR;
			bpf_loop(n, ag_rx_step, &w, 0);
		}
		off += (h.len + 7) & ~7ULL;
	}
	for (j = 0; j < AG_RX_DEVS; j++)
		if (j < w.nd)
			ag_rx_judge(w.devs[j].mode, w.devs[j].rdev);
	return 0;
}

static __always_inline int ag_rx_enter(__u64 arg)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (ag_armed)
		bpf_map_update_elem(&recv_args, &id, &arg, BPF_ANY);
	return 0;
}

static __always_inline __u64 ag_rx_exit_arg(void)
{
	__u64 id = bpf_get_current_pid_tgid(), *p, arg;

	p = bpf_map_lookup_elem(&recv_args, &id);
	if (!p)
		return 0;
	arg = *p;
	bpf_map_delete_elem(&recv_args, &id);
	return arg;
}

/* most recvmsg calls pass no control buffer: no descriptor can arrive, nothing is kept */
SEC("tracepoint/syscalls/sys_enter_recvmsg")
int ag_tp_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	__u64 ctl = 0;

	if (bpf_probe_read_user(&ctl, sizeof(ctl), (void *)(ctx->args[1] + AG_MSG_CONTROL)) || !ctl)
		return 0;
	return ag_rx_enter(ctx->args[1]);
}

/*
 * The same two entries from the raw syscall entry (syscall.bpf.c), where compat syscalls run and
 * its one program sees every syscall: there these syscalls/ entry tracepoints are not attached
 * (any one of them puts the perf path's probe on every syscall of the node). mmsg: recvmmsg.
 * Global, like ptrace.bpf.c's ag_compat_task: the raw program calls it for these numbers only.
 */
__noinline int ag_raw_recv_enter(__u32 mmsg, __u64 msg)
{
	__u64 ctl = 0;

	if (!mmsg && (bpf_probe_read_user(&ctl, sizeof(ctl), (void *)(msg + AG_MSG_CONTROL)) || !ctl))
		return 0;
	return ag_rx_enter(msg);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int ag_tp_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	__u64 msg = ag_rx_exit_arg();

	if (msg && ctx->ret >= 0)
		ag_rx_msghdr(msg);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvmmsg")
int ag_tp_enter_recvmmsg(struct trace_event_raw_sys_enter *ctx)
{
	return ag_rx_enter(ctx->args[1]);
}

/* ret: how many messages arrived; their descriptors beyond the first AG_MAX_MMSGS are judged at
 * their use only */
SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int ag_tp_exit_recvmmsg(struct trace_event_raw_sys_exit *ctx)
{
	__u64 vec = ag_rx_exit_arg();
	int i;

	if (!vec)
		return 0;
	for (i = 0; i < AG_MAX_MMSGS && i < ctx->ret; i++)
		ag_rx_msghdr(vec + (__u64)i * AG_MMSGHDR_SIZE);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_pidfd_getfd")
int ag_tp_exit_pidfd_getfd(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret >= 0)
		ag_rx_fd(ctx->ret);
	return 0;
}

/*
 * A process moved into another cgroup carries its descriptors along (op receive): those of an
 * accelerator are judged for the destination when the move is done. cgroup_attach_task fires in
 * the mover's context once the migration succeeded, once for the moved process (its leader, the
 * whole thread group) or thread; only a move on the unified hierarchy (cgroup v2) is one. The
 * first AG_RX_DEVS accelerator descriptors of the first AG_MOVE_MAX_FDS slots are judged on the
 * move (the others at their use). Enforce: the moved process is killed, by bpf_send_signal where
 * it moved itself (the usual route: `echo 0 > cgroup.procs`), by bpf_send_signal_task (6.13)
 * where another process moved it; without that kfunc such a move is reported, not killed, and the
 * descriptor is judged at its next use (syscall.bpf.c) as before.
 */
#define AG_MOVE_MAX_FDS 4096

/* 1: ag_tp_moved_task (bpf_send_signal_task) is loaded and judges moves: ag_tp_moved leaves */
const volatile __u32 ag_move_signal_task __weak = 0;

extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				__u64 value) __ksym __weak;

struct ag_mv_walk {
	struct file **fds;
	__u32 max_fds;
	__u32 nd;
	struct ag_rx_dev devs[AG_RX_DEVS];
};

static long ag_mv_step(__u32 i, void *ctx)
{
	struct ag_mv_walk *w = ctx;

	if (w->nd >= AG_RX_DEVS)
		return 1;
	if (ag_rx_lookup(w->fds, w->max_fds, i, &w->devs[w->nd & (AG_RX_DEVS - 1)]))
		w->nd++;
	return 0;
}

/* Arrival mode (tiers 1-2, "reads: arrival"): what an arrival could not judge or stop (bits
 * AG_UNSEEN_*), read by the agent, which then attaches the per-use read/write hooks. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} arrival_unseen SEC(".maps");

static __always_inline void ag_unseen(__u64 why)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&arrival_unseen, &zero);

	if (v && !(*v & why))
		__sync_fetch_and_or(v, why);
}

/* Judge what task carried into dst. Returns true when enforce mode wants it dead and the caller
 * can kill it (self: the mover is the moved process's thread group; signal_task: another's). */
static __always_inline bool ag_moved(struct cgroup *dst, struct task_struct *task, bool signal_task)
{
	struct ag_mv_walk w = {};
	struct ag_access a = { .op = AG_OP_RECEIVE, .hook = AG_HOOK_TRACEPOINT, .who = task };
	bool self, deny, kill = false;
	int sharers, threads;
	__u32 j;

	if (!ag_armed || !dst || BPF_CORE_READ(task, cgroups, dfl_cgrp) != dst)
		return false; /* not the unified hierarchy's cgroup: no tenant changed */
	self = BPF_CORE_READ(task, tgid) == bpf_get_current_pid_tgid() >> 32;
	w.fds = BPF_CORE_READ(task, files, fdt, fd);
	w.max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if (!w.fds)
		return false;
	/* a table that another process shares (clone(CLONE_FILES) without CLONE_THREAD) stays open
	 * to that process, in the cgroup it was left in: what it opens there arrives unseen */
	sharers = BPF_CORE_READ(task, files, count.counter);
	threads = BPF_CORE_READ(task, signal, nr_threads);
	if (sharers > threads)
		ag_unseen(AG_UNSEEN_SHARED);
	if (w.max_fds > AG_MOVE_MAX_FDS)
		ag_unseen(AG_UNSEEN_WALK);
	bpf_loop(w.max_fds < AG_MOVE_MAX_FDS ? w.max_fds : AG_MOVE_MAX_FDS, ag_mv_step, &w, 0);
	if (w.nd >= AG_RX_DEVS)
		ag_unseen(AG_UNSEEN_WALK);
	a.cgid = BPF_CORE_READ(dst, kn, id);
	for (j = 0; j < AG_RX_DEVS; j++) {
		if (j >= w.nd)
			break;
		a.major = w.devs[j].rdev >> MINORBITS;
		a.minor = w.devs[j].rdev & MINORMASK;
		a.class_id = ag_class(a.major, a.minor);
		/* a kill that cannot be sent is no kill: judged, reported as observed */
		a.no_kill = !self && !signal_task;
		ag_judge(&a, &deny);
		kill |= deny;
	}
	/* enforce: accelerator files carried where no kill can be sent; their uses must be judged
	 * (not asked per verdict: a branch after each judgement multiplies what 6.12's verifier
	 * walks past its patience) */
	if (ag_enforce && !self && !signal_task && w.nd)
		ag_unseen(AG_UNSEEN_NO_KILL);
	if (kill && self)
		bpf_send_signal(SIGKILL);
	return kill && !self;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(ag_tp_moved, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	if (!ag_move_signal_task)
		ag_moved(dst, task, false);
	return 0;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(ag_tp_moved_task, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	if (ag_moved(dst, task, true) && bpf_send_signal_task)
		bpf_send_signal_task(task, SIGKILL, PIDTYPE_TGID, 0);
	return 0;
}

/*
 * A child born into another cgroup (clone3 with CLONE_INTO_CGROUP) carries its parent's
 * descriptors there with no move: cgroup_attach_task does not fire for it (the fork places it
 * in cgroup_post_fork; checked by effect, tests/integration/itest.c evasion_fd_move_*).
 * sched_process_fork fires in the parent once the child is in its cgroup and before it first
 * runs: its table is judged as at a move, for the child's cgroup. Attached in arrival mode only
 * (tiers 1-2; every use is judged otherwise). The child is killed by bpf_send_signal_task (6.13)
 * before it runs; without it the arrival is reported observed and its uses are judged.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ag_tp_forked, struct task_struct *parent, struct task_struct *child)
{
	struct cgroup *dst = BPF_CORE_READ(child, cgroups, dfl_cgrp);

	if (ag_move_signal_task || dst == BPF_CORE_READ(parent, cgroups, dfl_cgrp))
		return 0;
	ag_moved(dst, child, false);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ag_tp_forked_task, struct task_struct *parent, struct task_struct *child)
{
	struct cgroup *dst = BPF_CORE_READ(child, cgroups, dfl_cgrp);

	if (dst == BPF_CORE_READ(parent, cgroups, dfl_cgrp))
		return 0;
	if (ag_moved(dst, child, true) && bpf_send_signal_task)
		bpf_send_signal_task(child, SIGKILL, PIDTYPE_TGID, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
