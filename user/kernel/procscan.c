// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/kcmp.h>
#include <unistd.h>
#include "cgroups.h"
#include "procscan.h"
#include "util.h"

/* The descriptors already reported for one process: (fd, file) pairs, so that the threads that
 * share a table report it once. */
struct seen {
	struct {
		int fd;
		dev_t dev;
		ino_t ino;
	} *v;
	size_t n, cap;
};

static bool seen_add(struct seen *s, int fd, const struct stat *st)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].fd == fd && s->v[i].dev == st->st_dev && s->v[i].ino == st->st_ino)
			return false;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *v = realloc(s->v, cap * sizeof(*s->v));

		if (!v)
			return true; /* no memory: report it again rather than not at all */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].fd = fd;
	s->v[s->n].dev = st->st_dev;
	s->v[s->n++].ino = st->st_ino;
	return true;
}

/* One descriptor table: dirfd is a task's directory (/proc/PID/task/TID). */
static int scan_table(int taskfd, const struct ag_devtab *dt, pid_t pid, struct seen *seen,
		      ag_open_fd_cb cb, void *ctx)
{
	struct ag_open_fd f = { .pid = pid };
	int fdfd = openat(taskfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), found = 0;
	bool have_meta = false;
	struct dirent *fe;
	char text[8192];
	DIR *fdd;

	fdd = fdfd >= 0 ? fdopendir(fdfd) : NULL;
	if (!fdd) {
		if (fdfd >= 0)
			close(fdfd);
		return 0;
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
		f.fd = atoi(fe->d_name);
		if (!seen_add(seen, f.fd, &st))
			continue;
		if (!have_meta) {
			/* the thread's own: its group leader may have exited */
			ag_read_small(taskfd, "comm", f.comm, sizeof(f.comm));
			f.comm[strcspn(f.comm, "\n")] = 0;
			ag_read_small(taskfd, "cgroup", text, sizeof(text));
			if (ag_proc_cgroup_parse(text, f.cgroup, sizeof(f.cgroup)))
				f.cgroup[0] = 0;
			have_meta = true;
		}
		found++;
		cb(&f, ctx);
	}
	closedir(fdd);
	return found;
}

/* Whether proc's pids are ours (kcmp takes pids of the caller's namespace). */
static bool in_our_pid_ns(const char *proc)
{
	char p[4096], link[32];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/self", proc);
	n = readlink(p, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	return atoi(link) == getpid();
}

/* Whether thread tid shares its descriptor table with a thread already read (most threads do:
 * reading each of a thousand threads' tables would read one table a thousand times). */
static bool shares_table(const pid_t *reps, size_t n, pid_t pid, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (syscall(SYS_kcmp, reps[i], tid, KCMP_FILES, 0, 0) == 0)
			return true;
	return false;
}

/*
 * Every descriptor table of every thread: /proc/PID/fd is the group leader's table only, and a
 * leader that exited (pthread_exit in main) has none while its threads hold theirs; a thread that
 * did unshare(CLONE_FILES) has a table of its own. So each thread's table is read,
 * /proc/PID/task/TID/fd, once per table (kcmp KCMP_FILES tells which threads share one, where
 * proc is of our pid namespace; elsewhere every thread's is read), and a descriptor is reported
 * once per process.
 */
int ag_scan_open_fds(const char *proc, const struct ag_devtab *dt, ag_open_fd_cb cb, void *ctx)
{
	DIR *pd = opendir(proc);
	struct seen seen = { 0 };
	struct dirent *pe;
	int found = 0;
	pid_t self = getpid(), reps[8];
	size_t n_reps;
	bool same_ns = in_our_pid_ns(proc);

	if (!pd)
		return 0;
	while ((pe = readdir(pd))) {
		struct dirent *te;
		int pfd, tfd;
		DIR *td;
		pid_t pid;

		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		pid = atoi(pe->d_name);
		if (pid == self)
			continue;
		pfd = openat(dirfd(pd), pe->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		tfd = openat(pfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		td = tfd >= 0 ? fdopendir(tfd) : NULL;
		if (!td) {
			if (tfd >= 0)
				close(tfd);
			close(pfd);
			continue;
		}
		seen.n = 0;
		n_reps = 0;
		while ((te = readdir(td))) {
			pid_t tid = atoi(te->d_name);
			int taskfd;

			if (!isdigit((unsigned char)te->d_name[0]) ||
			    (same_ns && shares_table(reps, n_reps, pid, tid)))
				continue;
			if (n_reps < ARRAY_SIZE(reps))
				reps[n_reps++] = tid;
			taskfd = openat(dirfd(td), te->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (taskfd < 0)
				continue;
			found += scan_table(taskfd, dt, pid, &seen, cb, ctx);
			close(taskfd);
		}
		closedir(td);
		close(pfd);
	}
	free(seen.v);
	closedir(pd);
	return found;
}
