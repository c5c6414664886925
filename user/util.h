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

/* Now on clock (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME), in ns. */
uint64_t ag_now_ns(int clock);

/* strncpy that always terminates (a NULL src copies ""); returns 0, or -ENAMETOOLONG when cut. */
int ag_strlcpy(char *dst, const char *src, size_t len);

#endif
