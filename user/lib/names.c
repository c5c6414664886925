// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>

#include "names.h"
#include "util.h"

static const char *const op_names[AG_OP__MAX] = {
	[AG_OP_OPEN] = "open", [AG_OP_IOCTL] = "ioctl", [AG_OP_MKNOD] = "mknod",
	[AG_OP_READ] = "read", [AG_OP_WRITE] = "write", [AG_OP_MMAP] = "mmap",
	[AG_OP_PTRACE] = "ptrace", [AG_OP_RECEIVE] = "receive",
};
static const char *const pt_route_names[AG_PT__MAX] = {
	[AG_PT_ATTACH] = "attach", [AG_PT_PROC] = "proc",
	[AG_PT_PTRACE] = "ptrace", [AG_PT_PROCESS_VM_READV] = "process_vm_readv",
	[AG_PT_PROCESS_VM_WRITEV] = "process_vm_writev", [AG_PT_PROC_MEM] = "proc_mem",
};
static const char *const verdict_names[AG_V__MAX] = {
	[AG_V_ALLOWED] = "allowed", [AG_V_UNMEDIATED] = "unmediated",
	[AG_V_CROSS_TENANT] = "cross_tenant", [AG_V_HOST] = "host",
	[AG_V_EXEMPT] = "exempt", [AG_V_ADMIN] = "admin",
	[AG_V_UNRESOLVED] = "unresolved",
};
static const char *const action_names[] = { [AG_ACT_OBSERVED] = "observed",
					    [AG_ACT_DENIED] = "denied",
					    [AG_ACT_KILLED] = "killed" };
static const char *const hook_names[] = { [AG_HOOK_LSM] = "lsm", [AG_HOOK_FMOD_RET] = "fmod_ret",
					  [AG_HOOK_TRACEPOINT] = "tracepoint",
					  [AG_HOOK_CGROUP_DEV] = "cgroup_dev" };
static const char *const drop_names[AG_DROP__MAX] = { [AG_DROP_VIOLATION] = "violation",
						      [AG_DROP_ACCESS] = "access",
						      [AG_DROP_CGROUP] = "cgroup" };

#define NAME(t, i) ((i) < ARRAY_SIZE(t) && t[i] ? t[i] : "unknown")

const char *ag_op_name(unsigned int op)
{
	return NAME(op_names, op);
}

const char *ag_verdict_name(unsigned int verdict)
{
	return NAME(verdict_names, verdict);
}

const char *ag_action_name(unsigned int action)
{
	return NAME(action_names, action);
}

const char *ag_hook_name(unsigned int hook)
{
	return NAME(hook_names, hook);
}

const char *ag_pt_route_name(unsigned int route)
{
	return NAME(pt_route_names, route);
}

const char *ag_drop_name(unsigned int kind)
{
	return NAME(drop_names, kind);
}

static int parse(const char *const *t, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (t[i] && !strcmp(t[i], name))
			return (int)i;
	return -1;
}

int ag_op_parse(const char *name)
{
	return parse(op_names, ARRAY_SIZE(op_names), name);
}

int ag_verdict_parse(const char *name)
{
	return parse(verdict_names, ARRAY_SIZE(verdict_names), name);
}
