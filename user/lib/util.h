/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef AG_UTIL_H
#define AG_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Read a whole file (NUL-terminated). Returns 0 or -errno. */
int ag_read_file(const char *path, char **out, size_t *len);

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

#endif
