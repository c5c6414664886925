/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Descriptors to accelerators that processes already hold when the agent starts. */
#ifndef AG_PROCSCAN_H
#define AG_PROCSCAN_H

#include <linux/types.h>
#include <sys/types.h>
#include "devices.h"

struct ag_open_fd {
	pid_t pid;
	int fd;
	__u32 major, minor, class_id;
	char comm[16];
	char cgroup[4096]; /* v2 path, "" when unknown */
};

typedef void (*ag_open_fd_cb)(const struct ag_open_fd *f, void *ctx);

/* Walk proc (normally "/proc"); the caller's own process is skipped. Returns the number found. */
int ag_scan_open_fds(const char *proc, const struct ag_devtab *dt, ag_open_fd_cb cb, void *ctx);

#endif
