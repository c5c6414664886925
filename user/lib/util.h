/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef AG_UTIL_H
#define AG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Read a whole file (NUL-terminated). Returns 0 or -errno. */
int ag_read_file(const char *path, char **out, size_t *len);
/* The same, at most max bytes (the rest is not read). */
int ag_read_file_max(const char *path, size_t max, char **out, size_t *len);
/* A small file (procfs, sysfs) into buf in one read: name under dirfd (AT_FDCWD: a path), at
 * most len - 1 bytes, NUL-terminated ("" when it cannot be read). The byte count, or -errno. */
ssize_t ag_read_small(int dirfd, const char *name, char *buf, size_t len);

/* Write a whole file atomically: a temporary file in the same directory, fsync, rename.
 * Returns 0 or -errno; on error the old file is left as it was. */
int ag_write_file_atomic(const char *path, const void *data, size_t len);

/* Whether the file open on fd (opened by the name name) may steer the agent: it, and every
 * directory above the path the kernel resolved it to (symlinks followed), owned by root or the
 * effective uid; the file not writable by group or others; a directory writable by them only
 * when sticky (like /tmp: the entries in it are root's or ours, and only their owner can rename
 * or remove them). On a read-only mount the write bits do not count (Kubernetes mounts a
 * ConfigMap read-only, its volume directory 0777). what says what a writer could do, for the
 * message ("turn enforcement off"). Returns 0, or -EPERM (-errno when the path cannot be
 * resolved or a directory not stat'ed, -ESTALE when the file was moved meanwhile) with
 * "NAME: reason" in err. */
int ag_file_trusted(int fd, const char *name, const char *what, char *err, size_t errlen);

/* Now on clock (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME), in ns. */
uint64_t ag_now_ns(int clock);

/* strncpy that always terminates (a NULL src copies ""); returns 0, or -ENAMETOOLONG when cut. */
int ag_strlcpy(char *dst, const char *src, size_t len);

/* ns since the epoch as RFC 3339 in UTC with digits (1-9) of the second's fraction:
 * "2026-12-07T04:38:10.123Z" (digits 3). */
void ag_fmt_rfc3339(int64_t ns, int digits, char *buf, size_t len);

/* s (NULL: nothing) as XML or HTML text and attribute values: <>&"' as references, a control
 * byte other than newline and tab (which XML 1.0 cannot hold) as U+FFFD. */
void ag_xml_esc(FILE *f, const char *s);

/* s as one CSV field (RFC 4180): in double quotes, a double quote doubled. */
void ag_csv_field(FILE *f, const char *s);

#endif
