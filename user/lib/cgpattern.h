/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgroup path patterns of the configuration ("tenants", "exempt", "allocations[].cgroup").
 * Paths are relative to the cgroup2 root and start with '/'. '*' and '?' and [...] match within
 * one path component; '**' as a whole component matches zero or more components.
 */
#ifndef AG_CGPATTERN_H
#define AG_CGPATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the path matches the pattern exactly (not a descendant of a match). */
bool ag_cgpattern_match(const char *pattern, const char *path);

/* Whether the path or one of its ancestors matches. */
bool ag_cgpattern_match_or_ancestor(const char *pattern, const char *path);

/* The fewest leading components of path (at least one, unless path is "/") that the pattern
 * matches, or -1 when it matches no prefix. Linear in the path for a pattern without "**". */
int ag_cgpattern_prefix(const char *pattern, const char *path);

/* The longest literal directory of the pattern, the one whose new children may become tenants:
 * "/tenants/t-*" -> "/tenants", "/a/b" -> "/a", a pattern of only "**" -> "/".
 * Returns 0 or -ENAMETOOLONG. */
int ag_cgpattern_parent(const char *pattern, char *buf, size_t len);

/* Syntax check: returns NULL or a static string saying what is wrong. */
const char *ag_cgpattern_check(const char *pattern);

#endif
