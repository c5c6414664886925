// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A 32-bit process's ioctl, for the integration tests (built with gcc -m32 -static; itest execs
 * it): its ioctls go through the kernel's compat path (compat_sys_ioctl, the ia32 syscall
 * table), which the 64-bit hooks do not see.
 *
 *   ioctl32 [--open PATH] [--fd N] [--cgroup DIR]
 *
 * Opens PATH (or uses the inherited descriptor N), moves itself into the cgroup DIR when given,
 * then FIONREAD on the descriptor. Exit status: 0 the hooks let it through (the driver's ENOTTY,
 * or success), 1 EPERM, 2 another errno, 3 the open failed, 4 the move failed, 5 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

_Static_assert(sizeof(long) == 4, "ioctl32 is built with -m32");

int main(int argc, char **argv)
{
	const char *path = NULL, *cg = NULL;
	int fd = -1, n;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--open"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--fd"))
			fd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--cgroup"))
			cg = argv[i + 1];
		else
			return 5;
	}
	if (argc % 2 == 0 || (!path && fd < 0))
		return 5;
	if (path) {
		fd = open(path, O_RDWR);
		if (fd < 0)
			return 3;
	}
	if (cg) {
		char procs[4096];
		int c;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
		c = open(procs, O_WRONLY);
		if (c < 0 || write(c, "0", 1) != 1)
			return 4;
		close(c);
	}
	if (ioctl(fd, FIONREAD, &n) < 0)
		return errno == ENOTTY ? 0 : errno == EPERM ? 1 : 2;
	return 0;
}
