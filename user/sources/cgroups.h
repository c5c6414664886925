/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup v2: where it is mounted, a cgroup's id (the directory's kernfs id, as the kernel's
 * bpf_get_current_cgroup_id() gives it), the tree walk, and a process's cgroup. */
#ifndef AG_CGROUPS_H
#define AG_CGROUPS_H

#include <linux/types.h>
#include <stddef.h>
#include <sys/types.h>

/* The mount point of the cgroup2 file system from mountinfo text (the contents of
 * /proc/self/mountinfo). Returns 0, or -ENOENT when no cgroup2 is mounted. */
int ag_mountinfo_cgroup2(const char *mountinfo, char *mnt, size_t len);

/* The same from /proc/self/mountinfo. */
int ag_cgroup2_mount(char *mnt, size_t len);

/* The cgroup id of a cgroup2 directory (absolute path). Returns 0 or -errno. */
int ag_cgroup_id(const char *dir, __u64 *id);

/* Walk every cgroup below (and including) mnt; path is relative to mnt, "/" for the root.
 * A callback returning non-zero stops the walk with that value. */
typedef int (*ag_cgroup_cb)(const char *path, __u64 id, void *ctx);
int ag_cgroup_walk(const char *mnt, ag_cgroup_cb cb, void *ctx);

/* The path (relative to mnt) of the cgroup with this id: opened by its file handle (the id is
 * kernfs' handle), else found by a walk. Returns 0, -ENOENT. */
int ag_cgroup_path_of(const char *mnt, __u64 id, char *path, size_t len);
/* The same by the handle alone (no walk): -EOPNOTSUPP where the file system has no handles. */
int ag_cgroup_path_of_id(const char *mnt, __u64 id, char *path, size_t len);

/* The v2 path ("0::/path" line) in /proc/PID/cgroup text. Returns 0, -ENOENT (v1 only). */
int ag_proc_cgroup_parse(const char *text, char *path, size_t len);
int ag_proc_cgroup(pid_t pid, char *path, size_t len);

#endif
