/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The host's cgroup namespace. In a pod the runtime gives the agent a private cgroup namespace
 * (containerd on cgroup v2) and Kubernetes has no setting for the host's; cgroup paths in
 * /proc/PID/cgroup and mountinfo would then be relative to the agent's own container. With
 * hostPID, PID 1 is the host's init: the agent joins its cgroup namespace before any thread
 * exists (setns(CLONE_NEWCGROUP), CAP_SYS_ADMIN), so that every path is relative to the host root.
 */
#ifndef AG_HOSTNS_H
#define AG_HOSTNS_H

/* 0: already there (the host, a standalone install) or joined (1 returned); -errno otherwise,
 * with the cause logged. proc: the procfs to find PID 1 in (NULL: /proc). */
int ag_join_host_cgroupns(const char *proc);

#endif
