// SPDX-License-Identifier: GPL-2.0
/*
 * Another tenant's process: a tenant that attaches to a process of another tenant with ptrace, or
 * reads or writes its memory (process_vm_readv/writev, /proc/PID/mem), can make that process use
 * its own devices and read back what they return; the device access is then the victim's,
 * allowed. Such an access is judged like a stolen descriptor: cross_tenant, denied at tiers 1-2,
 * killed at tier 3. Judged against any process of another tenant (not only one that holds a
 * device: a process can open one after the attach).
 *
 * Tiers 1-2: every such route asks ptrace_may_access() for PTRACE_MODE_ATTACH, which calls
 * security_ptrace_access_check(): ptrace(PTRACE_ATTACH/SEIZE), process_vm_readv/writev (mm_access),
 * the open of /proc/PID/mem (and the other /proc files that need an attach: stack, syscall),
 * pidfd_getfd. Read-only inspection (PTRACE_MODE_READ: ps, /proc/PID/status, kcmp) is not judged.
 *
 * Tier 3 sees the syscalls: ptrace and process_vm_readv/writev at entry (the target found by its
 * pid in the caller's namespace: bpf_task_from_vpid, 6.13; before it, an attach at its exit and
 * process_vm_* not at all), and the open of a /proc/PID/mem file at its exit; where a compat route
 * runs, compat ptrace and process_vm_readv/writev on the raw entry, a branch of its one program
 * (ag_compat_task below; the compat open of /proc/PID/mem and the compat routes before 6.13 are
 * not seen). The kill is sent before the syscall runs; a SIGKILL pending stops the memory
 * transfer (get_user_pages gives up on a fatal signal), the attach itself completes and is
 * undone when the tracer dies.
 */
#include "common.bpf.h"

#define AG_PTRACE_MODE_ATTACH 0x02
#define AG_PTRACE_MODE_FSCREDS 0x08
#define AG_PTRACE_TRACEME 0
#define AG_PROC_SUPER_MAGIC 0x9fa0

#define AG_PTRACE_ATTACH 16
#define AG_PTRACE_SEIZE 0x4206

/* 1: the kernel has bpf_task_from_vpid and the sys_enter programs judge by pid (the loader) */
const volatile __u32 ag_vpid = 0;

extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

/*
 * The tenant a task belongs to: the highest cgroup on its path (below a tenant parent) that the
 * policy map names a tenant, exempt or unresolved; a cgroup below a tenant parent that has no entry
 * yet is a tenant of its own, unresolved. Nothing a tenant names or makes below itself changes it.
 * 0: the host. CO-RE reads: the task is a BTF pointer or a plain one.
 */
static __always_inline __u64 ag_tenant_of(struct task_struct *task, __u32 *state)
{
	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	__u64 root = 0, below = 0;
	int i;

	*state = AG_P_HOST;
	for (i = 0; i < AG_ANCESTOR_LEVELS && cg; i++) {
		__u64 id = BPF_CORE_READ(cg, kn, id);
		struct ag_policy *p = bpf_map_lookup_elem(&policy, &id);

		if (p && p->state == AG_P_TENANT_PARENT) {
			if (!root && below) {
				root = below;
				*state = AG_P_UNRESOLVED;
			}
			break;
		}
		if (p && p->state != AG_P_HOST) {
			root = id;
			*state = p->state;
		}
		below = id;
		cg = BPF_CORE_READ(cg, self.parent, cgroup);
	}
	return root;
}

/*
 * current acts on target (its memory, its registers, its descriptors) by route. Judged when both
 * are in tenants and not in the same one: cross_tenant, or exempt when current's tenant is exempt.
 * Counted in totals and counters like a device access (the device 0:0, cmd the target's pid),
 * reported like a violation.
 */
static __always_inline int ag_task_access(struct task_struct *target, __u32 route, __u32 hook,
					  bool *deny)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ag_counter_key ck = {};
	struct ag_counter_val cv = {}, *cvp;
	struct ag_access_event *ev;
	__u64 mine, theirs, now, viol_total = 0, suppressed = 0, pid_tgid, *tot;
	__u32 my_state, their_state, flags = 0, tidx;
	int v;

	*deny = false;
	if (!ag_armed || !ag_ready)
		return 0; /* before ready the tenants are not known: nothing to compare */
	mine = ag_tenant_of(task, &my_state);
	if (!mine)
		return 0; /* the host (an administrator's debugger) */
	theirs = ag_tenant_of(target, &their_state);
	if (!theirs || theirs == mine)
		return 0; /* a host process, or its own tenant's */
	v = my_state == AG_P_EXEMPT ? AG_V_EXEMPT : AG_V_CROSS_TENANT;
	*deny = ag_enforce && ag_is_violation(v);

	tidx = AG_OP_PTRACE * AG_V__MAX + v;
	tot = bpf_map_lookup_elem(&totals, &tidx);
	if (tot)
		*tot += 1;
	now = bpf_ktime_get_boot_ns();
	ck.cgroup_id = bpf_get_current_cgroup_id();
	ck.op = AG_OP_PTRACE;
	ck.cmd = BPF_CORE_READ(target, tgid);
	cvp = bpf_map_lookup_elem(&counters, &ck);
	if (cvp) {
		cvp->count += 1;
		cvp->verdict = v;
	} else {
		cv.count = 1;
		cv.first_ns = now;
		cv.verdict = v;
		if (!bpf_map_update_elem(&counters, &ck, &cv, BPF_NOEXIST))
			flags |= AG_EF_FIRST;
		else if ((cvp = bpf_map_lookup_elem(&counters, &ck)))
			cvp->count += 1;
	}
	if (ag_is_violation(v)) {
		flags |= AG_EF_VIOLATION;
		if (!ag_viol_admit(ck.cgroup_id, now, &viol_total, &suppressed))
			return v;
	} else if (!(flags & AG_EF_FIRST)) {
		return v;
	}
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		ag_count_drop((flags & AG_EF_VIOLATION) ? AG_DROP_VIOLATION : AG_DROP_ACCESS);
		return v;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	ev->h.type = AG_EV_ACCESS;
	ev->h.size = sizeof(*ev);
	ev->time_ns = now;
	ev->cgroup_id = ck.cgroup_id;
	ev->viol_total = viol_total;
	ev->suppressed = suppressed;
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->major = 0;
	ev->minor = 0;
	ev->class_id = 0;
	ev->cmd = ck.cmd;
	ev->xfer_cmd = route;
	ev->op = AG_OP_PTRACE;
	ev->verdict = v;
	ev->hook = hook;
	ev->flags = flags;
	ev->action = AG_ACT_OBSERVED;
	if (*deny)
		ev->action = hook == AG_HOOK_TRACEPOINT ? AG_ACT_KILLED : AG_ACT_DENIED;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return v;
}

/* ---- tiers 1-2 ------------------------------------------------------------------------------ */

static __always_inline int ag_ptrace_check(struct task_struct *child, unsigned int mode, __u32 hook)
{
	bool deny;

	if (!(mode & AG_PTRACE_MODE_ATTACH))
		return 0;
	ag_task_access(child, mode & AG_PTRACE_MODE_FSCREDS ? AG_PT_PROC : AG_PT_ATTACH, hook, &deny);
	return deny ? -EPERM : 0;
}

/* A non-zero ret is an earlier hook's denial: never turn it into an allow. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(ag_lsm_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ag_lsm_ret(ret);
	return ag_lsm_ret(ag_ptrace_check(child, mode, AG_HOOK_LSM));
}

SEC("fmod_ret/security_ptrace_access_check")
int BPF_PROG(ag_fmod_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ret;
	return ag_ptrace_check(child, mode, AG_HOOK_FMOD_RET);
}

/* ---- tier 3 --------------------------------------------------------------------------------- */

/* The task of a pid in the caller's pid namespace, judged and killed. Needs bpf_task_from_vpid
 * (6.13); the loader loads these programs only where the kernel has it. */
static __always_inline void ag_tp_task_vpid(__s32 vpid, __u32 route)
{
	struct task_struct *t;
	bool deny;

	if (vpid <= 0 || !bpf_task_from_vpid)
		return;
	t = bpf_task_from_vpid(vpid);
	if (!t)
		return;
	ag_task_access(t, route, AG_HOOK_TRACEPOINT, &deny);
	bpf_task_release(t);
	if (deny)
		bpf_send_signal(SIGKILL);
}

/* Every request but PTRACE_TRACEME names its target; those after the attach too (a tracer
 * attached before the agent started is judged at its next request). */
SEC("tracepoint/syscalls/sys_enter_ptrace")
int ag_tp_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] != AG_PTRACE_TRACEME)
		ag_tp_task_vpid((__s32)ctx->args[1], AG_PT_PTRACE);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_process_vm_readv")
int ag_tp_process_vm_readv(struct trace_event_raw_sys_enter *ctx)
{
	ag_tp_task_vpid((__s32)ctx->args[0], AG_PT_PROCESS_VM_READV);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int ag_tp_process_vm_writev(struct trace_event_raw_sys_enter *ctx)
{
	ag_tp_task_vpid((__s32)ctx->args[0], AG_PT_PROCESS_VM_WRITEV);
	return 0;
}

/*
 * The same routes from a compat (ia32, AArch32) or x32 syscall, int $0x80 from a 64-bit process
 * included: the syscalls/ tracepoints skip compat syscalls, so where a compat route runs the raw
 * entry sees them, and judges them in a branch of its one program (syscall.bpf.c,
 * ag_tp_sys_enter_task: the number filtered first, one dispatch per syscall) by calling this
 * function: route AG_PT_PTRACE (a0 the request, a1 the pid), AG_PT_PROCESS_VM_READV or _WRITEV
 * (a0 the pid). Global, so that the kfuncs stay in this one object (libbpf's linker would have
 * them declared in two); only the raw program's task variant calls it.
 */
__noinline int ag_compat_task(__u32 route, __u64 a0, __u64 a1)
{
	if (route != AG_PT_PTRACE)
		ag_tp_task_vpid((__s32)a0, route);
	else if (a0 != AG_PTRACE_TRACEME)
		ag_tp_task_vpid((__s32)a1, route);
	return 0;
}

/*
 * Without bpf_task_from_vpid (before 6.13) an attach is judged at its exit: the tracee it made is
 * the first on the tracer's ptraced list (__ptrace_link adds at the head). The tracer is killed
 * before it returns, and its death detaches the tracee: no request after the attach runs. The
 * request is kept from the entry (the exit tracepoint has only the return value).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} ptrace_attaching SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_ptrace")
int ag_tp_ptrace_attach(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id, req = ctx->args[0];

	if (ag_vpid || !ag_armed || (req != AG_PTRACE_ATTACH && req != AG_PTRACE_SEIZE))
		return 0;
	id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&ptrace_attaching, &id, &req, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int ag_tp_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task, *target;
	struct list_head *first;
	__u64 id;
	bool deny;

	if (ag_vpid)
		return 0;
	id = bpf_get_current_pid_tgid();
	if (!bpf_map_lookup_elem(&ptrace_attaching, &id))
		return 0;
	bpf_map_delete_elem(&ptrace_attaching, &id);
	if (ctx->ret != 0)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	first = BPF_CORE_READ(task, ptraced.next);
	if (!first || (void *)first == (void *)task + bpf_core_field_offset(struct task_struct, ptraced))
		return 0;
	target = (void *)first - bpf_core_field_offset(struct task_struct, ptrace_entry);
	ag_task_access(target, AG_PT_PTRACE, AG_HOOK_TRACEPOINT, &deny);
	if (deny)
		bpf_send_signal(SIGKILL);
	return 0;
}

/*
 * The file operations of /proc/PID/mem (proc_mem_operations: static, and in no symbol table a
 * BPF program can read on every kernel), learnt from the first /proc/PID/mem file seen here: the
 * loader opens its own /proc/self/mem once attached. From then on an open's exit compares one
 * pointer instead of reading the inode, its super block and the magic. 0: not learnt yet (the
 * slower test). Both /proc/PID/mem and /proc/PID/task/TID/mem have these operations, and no
 * other procfs file named "mem" exists, so the value learnt is the one.
 */
__u64 ag_proc_mem_fop = 0;

/*
 * An open that returned a /proc/PID/mem (or /proc/PID/task/TID/mem) descriptor: the file is
 * procfs's, named "mem"; its inode names the task. Judged at the open's exit: the opener is
 * killed before it can read or write through it.
 */
static __always_inline void ag_tp_opened(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file = NULL;
	struct inode *inode;
	struct proc_inode *pi;
	struct hlist_node *first;
	struct task_struct *target;
	struct qstr name;
	char n[4] = {};
	bool deny;

	if (fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != AG_PROC_SUPER_MAGIC)
		return;
	name = BPF_CORE_READ(file, f_path.dentry, d_name);
	if (name.len != 3 || bpf_probe_read_kernel(n, 3, name.name) || n[0] != 'm' || n[1] != 'e' ||
	    n[2] != 'm')
		return;
	ag_proc_mem_fop = (__u64)BPF_CORE_READ(file, f_op);
	pi = (void *)inode - bpf_core_field_offset(struct proc_inode, vfs_inode);
	first = BPF_CORE_READ(pi, pid, tasks[PIDTYPE_PID].first);
	if (!first)
		return;
	target = (void *)first - bpf_core_field_offset(struct task_struct, pid_links);
	ag_task_access(target, AG_PT_PROC_MEM, AG_HOOK_TRACEPOINT, &deny);
	if (deny)
		bpf_send_signal(SIGKILL);
}

/*
 * The same with the task through its BTF pointer (the tier's BTF variant): every open of the node
 * runs this, and nearly every one leaves at the file's operations, after two probe reads (the
 * slot, f_op) once /proc/PID/mem's are learnt (ag_proc_mem_fop), else at the file system's magic
 * after four (the slot, the inode, its super block, the magic); the CO-RE form above makes ten.
 */
static __always_inline void ag_tp_opened_btf(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;
	__u64 fop;

	if (fd < 0 || !fdt || fd >= fdt->max_fds)
		return;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return;
	fop = ag_proc_mem_fop;
	if (fop) {
		if ((__u64)BPF_CORE_READ(file, f_op) != fop)
			return;
	} else if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != AG_PROC_SUPER_MAGIC) {
		return;
	}
	ag_tp_opened(fd); /* /proc/PID/mem, or a procfs file: the rest as above */
}

#define AG_OPEN_EXIT(name)                                                                         \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int ag_tp_exit_##name(struct trace_event_raw_sys_exit *ctx)                                \
	{                                                                                          \
		ag_tp_opened_btf(ctx->ret);                                                        \
		return 0;                                                                          \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int ag_tp_exit_##name##_core(struct trace_event_raw_sys_exit *ctx)                         \
	{                                                                                          \
		ag_tp_opened(ctx->ret);                                                            \
		return 0;                                                                          \
	}

AG_OPEN_EXIT(openat)
AG_OPEN_EXIT(openat2)
AG_OPEN_EXIT(open)

char LICENSE[] SEC("license") = "GPL";
