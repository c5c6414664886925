// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroups.h"
#include "util.h"

/* mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS";
 * the mount point is octal-escaped (\040 for a space). */
static void unescape_octal(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
}

/* Whether a cgroup2 mount of the hierarchy's root ("/" as the 4th field) follows. */
static bool first_root_later(const char *rest)
{
	while (rest && *++rest) {
		const char *end = strchr(rest, '\n'), *sep = strstr(rest, " - cgroup2 ");
		const char *f = rest;

		if (sep && (!end || sep < end)) {
			for (int i = 0; i < 3 && f; i++)
				f = strchr(f, ' ') ? strchr(f, ' ') + 1 : NULL;
			if (f && f[0] == '/' && f[1] == ' ')
				return true;
		}
		rest = end;
	}
	return false;
}

int ag_mountinfo_cgroup2(const char *mountinfo, char *mnt, size_t len)
{
	const char *line = mountinfo;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char buf[4096], *f[8] = { 0 }, *sepp, *save = NULL, *tok;
		int i = 0;

		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = 0;
			sepp = strstr(buf, " - ");
			if (sepp) {
				*sepp = 0;
				for (tok = strtok_r(buf, " ", &save); tok && i < 8;
				     tok = strtok_r(NULL, " ", &save))
					f[i++] = tok;
				/* a mount of a sub-tree (a container's own /sys/fs/cgroup) is
				 * skipped for one of the root (a host path mounted over it) */
				if (i >= 5 && strncmp(sepp + 3, "cgroup2 ", 8) == 0 &&
				    (!strcmp(f[3], "/") || !first_root_later(end))) {
					unescape_octal(f[4]);
					if (strlen(f[4]) >= len)
						return -ENAMETOOLONG;
					strcpy(mnt, f[4]);
					return 0;
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int ag_cgroup2_mount(char *mnt, size_t len)
{
	char *text = NULL;
	int err = ag_read_file("/proc/self/mountinfo", &text, NULL);

	if (err)
		return err;
	err = ag_mountinfo_cgroup2(text, mnt, len);
	free(text);
	return err;
}

int ag_cgroup_id(const char *dir, __u64 *id)
{
	struct {
		struct file_handle fh;
		unsigned char raw[16];
	} h;
	int mount_id;
	struct stat st;

	h.fh.handle_bytes = sizeof(h.raw);
	if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0) == 0 && h.fh.handle_bytes == 8) {
		memcpy(id, h.fh.f_handle, 8);
		return 0;
	}
	/* kernfs without export support: the inode number is the same id on 64-bit */
	if (stat(dir, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

static __thread struct {
	ag_cgroup_cb cb;
	void *ctx;
	size_t base;
	int ret;
} walk;

static int walk_one(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *rel = fpath + walk.base;
	__u64 id = 0;

	if (type != FTW_D)
		return 0;
	if (ag_cgroup_id(fpath, &id))
		return 0; /* removed under our feet */
	walk.ret = walk.cb(*rel ? rel : "/", id, walk.ctx);
	return walk.ret;
}

int ag_cgroup_walk(const char *mnt, ag_cgroup_cb cb, void *ctx)
{
	size_t n = strlen(mnt);

	while (n > 1 && mnt[n - 1] == '/')
		n--;
	walk.cb = cb;
	walk.ctx = ctx;
	walk.base = n == 1 ? 0 : n; /* mounted at "/": keep the leading slash */
	walk.ret = 0;
	if (nftw(mnt, walk_one, 32, FTW_PHYS | FTW_MOUNT) < 0 && !walk.ret)
		walk.ret = -errno;
	walk.ctx = NULL; /* the caller's context does not outlive the call */
	return walk.ret;
}

struct path_of {
	__u64 id;
	char *path;
	size_t len;
};

static int path_of_one(const char *path, __u64 id, void *ctx)
{
	struct path_of *p = ctx;

	if (id != p->id)
		return 0;
	return ag_strlcpy(p->path, path, p->len) ? -ENAMETOOLONG : 1;
}

/* The cgroup's directory opened by its handle (what name_to_handle_at gives for it: its id), its
 * path read back from /proc/self/fd: one lookup, where a walk costs the whole tree. */
int ag_cgroup_path_of_id(const char *mnt, __u64 id, char *path, size_t len)
{
	struct {
		struct file_handle fh;
		unsigned char raw[16];
	} h;
	char link[64], buf[8192];
	int mount_id, mfd, fd;
	size_t n = strlen(mnt);
	ssize_t l;

	while (n > 1 && mnt[n - 1] == '/')
		n--;
	h.fh.handle_bytes = sizeof(h.raw);
	if (name_to_handle_at(AT_FDCWD, mnt, &h.fh, &mount_id, 0) || h.fh.handle_bytes != 8)
		return -EOPNOTSUPP; /* the type comes from the root's handle */
	memcpy(h.fh.f_handle, &id, 8);
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, buf, sizeof(buf) - 1);
	close(fd);
	if (l < 0)
		return -errno;
	buf[l] = 0;
	if ((size_t)l >= 10 && !strcmp(buf + l - 10, " (deleted)"))
		return -ENOENT;
	if (n == 1) /* mounted at "/" */
		return ag_strlcpy(path, buf, len) ? -ENAMETOOLONG : 0;
	if (strncmp(buf, mnt, n) || (buf[n] && buf[n] != '/'))
		return -ENOENT; /* not below the mount as this process sees it */
	return ag_strlcpy(path, buf[n] ? buf + n : "/", len) ? -ENAMETOOLONG : 0;
}

int ag_cgroup_path_of(const char *mnt, __u64 id, char *path, size_t len)
{
	struct path_of p = { .id = id, .path = path, .len = len };
	int r = ag_cgroup_path_of_id(mnt, id, path, len);

	if (!r || r == -ENAMETOOLONG)
		return r;
	r = ag_cgroup_walk(mnt, path_of_one, &p);
	return r == 1 ? 0 : r < 0 ? r : -ENOENT;
}

int ag_proc_cgroup_parse(const char *text, char *path, size_t len)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n >= 3 && strncmp(line, "0::", 3) == 0) {
			n -= 3;
			if (n >= len)
				return -ENAMETOOLONG;
			memcpy(path, line + 3, n);
			path[n] = 0;
			/* a process in a cgroup that was removed: "/path (deleted)" */
			if (n > 10 && strcmp(path + n - 10, " (deleted)") == 0)
				path[n - 10] = 0;
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int ag_proc_cgroup(pid_t pid, char *path, size_t len)
{
	char fn[64], *text = NULL;
	int err;

	snprintf(fn, sizeof(fn), "/proc/%d/cgroup", pid);
	err = ag_read_file(fn, &text, NULL);
	if (err)
		return err;
	err = ag_proc_cgroup_parse(text, path, len);
	free(text);
	return err;
}
