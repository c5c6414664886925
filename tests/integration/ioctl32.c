// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A 32-bit process's ioctl, for the integration tests (built with gcc -m32 -static on x86-64,
 * arm-linux-gnueabihf-gcc -static for arm64's AArch32; itest execs it): its ioctls go through the
 * kernel's compat path (compat_sys_ioctl, the ia32 or AArch32 syscall table), which the 64-bit
 * hooks do not see.
 *
 *   ioctl32 [--open PATH] [--fd N] [--cgroup DIR] [--op ioctl|read|mmap2|old_mmap]
 *   ioctl32 --pid N --op ptrace-seize|vm-read
 *
 * Opens PATH (or uses the inherited descriptor N), moves itself into the cgroup DIR when given,
 * then FIONREAD on the descriptor (--op ioctl, the default), or reads a byte (read, the ia32
 * table's 3), or maps a page (mmap2, 192, as glibc does; old_mmap, 90, whose arguments are a
 * struct in memory). Exit status: 0 the hooks let it through (the driver's answer, ENOTTY for
 * the ioctl, or success), 1 EPERM, 2 another errno from the ioctl, 3 the open failed, 4 the move
 * failed, 5 usage, 6 no such operation on this architecture (old_mmap outside i386).
 *
 * Another process, by the compat syscall table: ptrace-seize seizes process N (and exits, which
 * detaches it); vm-read reads 8 bytes of its memory with process_vm_readv at an address no
 * 32-bit process can name in a 64-bit one (EFAULT: the check of the access, which the hooks
 * judge, comes first). Exit status 0: let through (EFAULT counts), 1 EPERM, 2 another errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert(sizeof(long) == 4, "ioctl32 is built with -m32");

int main(int argc, char **argv)
{
	const char *path = NULL, *cg = NULL, *op = "ioctl";
	int fd = -1, n, pid = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--open"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--fd"))
			fd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--cgroup"))
			cg = argv[i + 1];
		else if (!strcmp(argv[i], "--op"))
			op = argv[i + 1];
		else if (!strcmp(argv[i], "--pid"))
			pid = atoi(argv[i + 1]);
		else
			return 5;
	}
	if (pid > 0 && !strcmp(op, "ptrace-seize"))
		return ptrace(PTRACE_SEIZE, pid, 0, 0) ? errno == EPERM ? 1 : 2 : 0;
	if (pid > 0 && !strcmp(op, "vm-read")) {
		char b[8];
		struct iovec l = { b, sizeof(b) }, r = { (void *)0x1000, sizeof(b) };

		if (process_vm_readv(pid, &l, 1, &r, 1, 0) >= 0 || errno == EFAULT)
			return 0;
		return errno == EPERM ? 1 : 2;
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
	if (!strcmp(op, "read")) {
		char b;

		return read(fd, &b, 1) < 0 && errno == EPERM;
	}
	if (!strcmp(op, "mmap2"))
		return mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM;
	if (!strcmp(op, "old_mmap")) {
#if defined(__i386__)
		unsigned int a[6] = { 0, 4096, PROT_READ, MAP_SHARED, (unsigned int)fd, 0 };

		return syscall(SYS_mmap, a) == -1 && errno == EPERM; /* i386 SYS_mmap is old_mmap */
#else
		return 6; /* AArch32 (EABI) has no old_mmap */
#endif
	}
	if (strcmp(op, "ioctl"))
		return 5;
	if (ioctl(fd, FIONREAD, &n) < 0)
		return errno == ENOTTY ? 0 : errno == EPERM ? 1 : 2;
	return 0;
}
