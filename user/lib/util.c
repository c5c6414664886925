// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

int ag_read_file(const char *path, char **out, size_t *lenp)
{
	return ag_read_file_max(path, SIZE_MAX, out, lenp);
}

ssize_t ag_read_small(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC), e;
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = 0;
	return n;
}

int ag_read_file_max(const char *path, size_t max, char **out, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0 || !buf) {
		err = fd < 0 ? -errno : -ENOMEM;
		free(buf);
		if (fd >= 0)
			close(fd);
		return err;
	}
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
		if (len >= max) {
			len = max;
			break;
		}
	}
	close(fd);
	buf[len] = 0;
	*out = buf;
	if (lenp)
		*lenp = len;
	return 0;
fail:
	close(fd);
	free(buf);
	return err;
}

int ag_write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	const char *p = data;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		p += n;
		len -= n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

uint64_t ag_now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int ag_strlcpy(char *dst, const char *src, size_t len)
{
	size_t n;

	if (!src)
		src = "";
	n = strlen(src);

	if (!len)
		return -ENAMETOOLONG;
	if (n >= len) {
		memcpy(dst, src, len - 1);
		dst[len - 1] = 0;
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

static const char *writers(mode_t m)
{
	if ((m & S_IWGRP) && (m & S_IWOTH))
		return "group and others";
	return (m & S_IWGRP) ? "group" : "others";
}

/* Nothing is written through a read-only mount, whatever the mode says (r: the statvfs call's). */
static bool read_only_mount(int r, const struct statvfs *sv)
{
	return r == 0 && (sv->f_flag & ST_RDONLY);
}

/* The write bits of the mode count for POSIX ACLs too: a named user's or group's write
 * permission shows in the group bits (the ACL mask), so an ACL granting write is refused. */
int ag_file_trusted(int fd, const char *name, const char *what, char *err, size_t errlen)
{
	uid_t euid = geteuid();
	char link[64], path[PATH_MAX], who[64];
	struct stat st, pst;
	struct statvfs sv;
	ssize_t n;
	int ret;

	if (euid == 0)
		snprintf(who, sizeof(who), "root");
	else
		snprintf(who, sizeof(who), "root or uid %u (the agent's)", (unsigned int)euid);
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot stat: %s", name, strerror(-ret));
		return ret;
	}
	if (st.st_uid != 0 && st.st_uid != euid) {
		snprintf(err, errlen, "%s: owned by uid %u, not %s: its owner can %s; chown root it",
			 name, (unsigned int)st.st_uid, who, what);
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !read_only_mount(fstatvfs(fd, &sv), &sv)) {
		snprintf(err, errlen,
			 "%s: writable by %s (mode %04o): anyone who can write it can %s; chmod go-w it",
			 name, writers(st.st_mode), (unsigned int)(st.st_mode & 07777), what);
		return -EPERM;
	}
	/* The directories are those of what was opened, as the kernel resolved it, not of the name
	 * (a symlink, a ConfigMap's ..data): /proc/self/fd/N, else realpath() checked to be the
	 * same file. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n > 0 && (size_t)n < sizeof(path) - 1) {
		path[n] = '\0';
	} else if (!realpath(name, path)) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot resolve its path: %s", name, strerror(-ret));
		return ret;
	}
	if (path[0] != '/' || stat(path, &pst) || pst.st_dev != st.st_dev || pst.st_ino != st.st_ino) {
		snprintf(err, errlen, "%s: moved or replaced while it was read (it was %s); try again",
			 name, path);
		return -ESTALE;
	}
	while (strcmp(path, "/")) {
		char *slash = strrchr(path, '/');

		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
		/* lstat: the resolved path has no symlink in it, unless it was changed meanwhile */
		if (lstat(path, &pst)) {
			ret = -errno;
			snprintf(err, errlen, "%s: cannot stat directory %s: %s", name, path,
				 strerror(-ret));
			return ret;
		}
		if (!S_ISDIR(pst.st_mode)) {
			snprintf(err, errlen, "%s: %s is no directory any more (moved while it was read); try again",
				 name, path);
			return -ESTALE;
		}
		if (pst.st_uid != 0 && pst.st_uid != euid) {
			snprintf(err, errlen,
				 "%s: directory %s is owned by uid %u, not %s: its owner can put another file in its place and %s",
				 name, path, (unsigned int)pst.st_uid, who, what);
			return -EPERM;
		}
		if ((pst.st_mode & (S_IWGRP | S_IWOTH)) && !(pst.st_mode & S_ISVTX) &&
		    !read_only_mount(statvfs(path, &sv), &sv)) {
			snprintf(err, errlen,
				 "%s: directory %s is writable by %s (mode %04o, not sticky): anyone who can write it can put another file in its place and %s; chmod go-w %s",
				 name, path, writers(pst.st_mode), (unsigned int)(pst.st_mode & 07777), what,
				 path);
			return -EPERM;
		}
	}
	return 0;
}

void ag_fmt_rfc3339(int64_t ns, int digits, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000LL);
	long long frac = ns % 1000000000LL;
	struct tm tm;

	for (int i = digits; i < 9; i++)
		frac /= 10;
	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%0*lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, digits, frac);
}

void ag_xml_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fputs("&#xFFFD;", f);
			else
				fputc(*s, f);
		}
	}
}

void ag_csv_field(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}
