// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "cgroups.h"
#include "procscan.h"
#include "util.h"

static void read_small(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
}

int ag_scan_open_fds(const char *proc, const struct ag_devtab *dt, ag_open_fd_cb cb, void *ctx)
{
	DIR *pd = opendir(proc);
	struct dirent *pe;
	int found = 0;
	pid_t self = getpid();

	if (!pd)
		return 0;
	while ((pe = readdir(pd))) {
		struct ag_open_fd f;
		struct dirent *fe;
		char text[8192];
		int pfd, fdfd;
		DIR *fdd;
		bool have_meta = false;

		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		f.pid = atoi(pe->d_name);
		if (f.pid == self)
			continue;
		pfd = openat(dirfd(pd), pe->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		fdfd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fdd = fdfd >= 0 ? fdopendir(fdfd) : NULL;
		if (!fdd) {
			if (fdfd >= 0)
				close(fdfd);
			close(pfd);
			continue;
		}
		while ((fe = readdir(fdd))) {
			struct stat st;

			if (!isdigit((unsigned char)fe->d_name[0]))
				continue;
			/* follows the magic link to the file the descriptor refers to */
			if (fstatat(dirfd(fdd), fe->d_name, &st, 0) || !S_ISCHR(st.st_mode))
				continue;
			f.major = major(st.st_rdev);
			f.minor = minor(st.st_rdev);
			f.class_id = ag_devtab_lookup(dt, f.major, f.minor);
			if (!f.class_id)
				continue;
			if (!have_meta) {
				read_small(pfd, "comm", f.comm, sizeof(f.comm));
				f.comm[strcspn(f.comm, "\n")] = 0;
				read_small(pfd, "cgroup", text, sizeof(text));
				if (ag_proc_cgroup_parse(text, f.cgroup, sizeof(f.cgroup)))
					f.cgroup[0] = 0;
				have_meta = true;
			}
			f.fd = atoi(fe->d_name);
			found++;
			cb(&f, ctx);
		}
		closedir(fdd);
		close(pfd);
	}
	closedir(pd);
	return found;
}
