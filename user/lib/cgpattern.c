// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroup path patterns: a glob per path component (fnmatch(3)), and "**" as a whole component for
 * zero or more components. Matching is a dynamic programme over (pattern component, path
 * component), so several "**" cost O(pattern x path), never exponential backtracking.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cgpattern.h"

#define AG_CGPATTERN_MAX 4096

/* Split a copy of s (in buf, modified) into its non-empty '/'-separated components. Returns the
 * number of components and fills comp (allocated, caller frees), or -1 on allocation failure. */
static int split(char *buf, char ***comp)
{
	size_t n = 0, cap = 1;
	char *p, **v;

	for (p = buf; *p; p++)
		if (*p == '/')
			cap++;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return -1;
	p = buf;
	while (*p) {
		while (*p == '/')
			*p++ = '\0';
		if (!*p)
			break;
		v[n++] = p;
		while (*p && *p != '/')
			p++;
	}
	*comp = v;
	return (int)n;
}

static bool is_globstar(const char *c)
{
	return c[0] == '*' && c[1] == '*' && c[2] == '\0';
}

/* A pattern and a path split into components, and two rows of the dynamic programme (one
 * bool per path component and one more). */
struct dp {
	char *pbuf, *sbuf, **pc, **sc;
	int np, ns;
	bool *x, *y;
};

static void dp_free(struct dp *d)
{
	free(d->x);
	free(d->y);
	free(d->pc);
	free(d->sc);
	free(d->pbuf);
	free(d->sbuf);
}

/* 0, or -1 (d freed) when pattern is not absolute or memory runs out */
static int dp_init(struct dp *d, const char *pattern, const char *path)
{
	memset(d, 0, sizeof(*d));
	if (!pattern || !path || pattern[0] != '/')
		return -1;
	d->pbuf = strdup(pattern);
	d->sbuf = strdup(path);
	if (!d->pbuf || !d->sbuf)
		goto fail;
	d->np = split(d->pbuf, &d->pc);
	d->ns = split(d->sbuf, &d->sc);
	if (d->np < 0 || d->ns < 0)
		goto fail;
	d->x = calloc((size_t)d->ns + 1, sizeof(*d->x));
	d->y = calloc((size_t)d->ns + 1, sizeof(*d->y));
	if (!d->x || !d->y)
		goto fail;
	return 0;
fail:
	dp_free(d);
	return -1;
}

/*
 * Whether pattern matches path; with ancestor set, also when it matches an ancestor of path
 * (the pattern ends while path components remain).
 */
static bool match(const char *pattern, const char *path, bool ancestor)
{
	struct dp d;
	bool *cur, *next, ok;
	int i, j;

	if (dp_init(&d, pattern, path))
		return false;
	cur = d.x;
	next = d.y;
	/* next[j]: pattern components i+1.. match path components j.. ; start with i = np. */
	for (j = 0; j <= d.ns; j++)
		next[j] = ancestor || j == d.ns;
	for (i = d.np - 1; i >= 0; i--) {
		for (j = d.ns; j >= 0; j--) {
			if (is_globstar(d.pc[i]))
				cur[j] = next[j] || (j < d.ns && cur[j + 1]);
			else
				cur[j] = j < d.ns && next[j + 1] && fnmatch(d.pc[i], d.sc[j], 0) == 0;
		}
		bool *t = cur;
		cur = next;
		next = t;
	}
	ok = next[0];
	dp_free(&d);
	return ok;
}

bool ag_cgpattern_match(const char *pattern, const char *path)
{
	return match(pattern, path, false);
}

bool ag_cgpattern_match_or_ancestor(const char *pattern, const char *path)
{
	return match(pattern, path, true);
}

/*
 * Forward over the path: a[j] is whether the pattern's first i components match the path's first
 * j. One pass gives every prefix at once, O(pattern x path) at worst and O(pattern) without "**"
 * (fnmatch runs only where the previous row matched).
 */
int ag_cgpattern_prefix(const char *pattern, const char *path)
{
	struct dp d;
	bool *a, *b;
	int ret = -1;

	if (dp_init(&d, pattern, path))
		return -1;
	a = d.x;
	b = d.y;
	a[0] = true;
	for (int i = 0; i < d.np; i++) {
		bool any = false, *t;

		for (int j = 0; j <= d.ns; j++) {
			if (is_globstar(d.pc[i])) {
				any = any || a[j];
				b[j] = any;
			} else {
				b[j] = j > 0 && a[j - 1] && fnmatch(d.pc[i], d.sc[j - 1], 0) == 0;
			}
		}
		t = a;
		a = b;
		b = t;
	}
	for (int j = d.ns ? 1 : 0; j <= d.ns; j++) {
		if (a[j]) {
			ret = j;
			break;
		}
	}
	dp_free(&d);
	return ret;
}

static bool has_magic(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\')
			return true;
	return false;
}

int ag_cgpattern_parent(const char *pattern, char *buf, size_t len)
{
	const char *p = pattern, *end_lit = pattern;
	size_t n;

	if (!pattern || pattern[0] != '/')
		return -EINVAL;
	/*
	 * Keep the leading components that are literal, but never the last component: the pattern
	 * names cgroups, which appear in their parent directory ("/a/b" -> "/a").
	 */
	for (;;) {
		const char *c, *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		e = strchrnul(c, '/');
		if (has_magic(c, (size_t)(e - c)))
			break;
		if (!*e || !e[strspn(e, "/")])
			break; /* the last component */
		end_lit = e;
		p = e;
	}
	n = (size_t)(end_lit - pattern);
	if (n == 0)
		n = 1; /* "/" */
	if (n + 1 > len)
		return -ENAMETOOLONG;
	memcpy(buf, pattern, n);
	buf[n] = '\0';
	return 0;
}

const char *ag_cgpattern_check(const char *pattern)
{
	const char *p, *c;

	if (!pattern || !*pattern)
		return "empty pattern";
	if (pattern[0] != '/')
		return "must start with '/' (paths are relative to the cgroup2 root)";
	if (strlen(pattern) >= AG_CGPATTERN_MAX)
		return "too long";
	for (p = pattern; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	if (pattern[1] == '\0')
		return NULL; /* the root itself */

	for (p = pattern + 1;; p++) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);

		c = p;
		if (n == 0)
			return *e ? "empty path component ('//')" : "trailing '/'";
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return "'.' and '..' are not allowed";
		if (!(n == 2 && c[0] == '*' && c[1] == '*')) {
			size_t i;

			for (i = 0; i < n; i++) {
				if (c[i] == '\\') {
					if (i + 1 == n)
						return "trailing '\\' in a path component";
					i++;
				} else if (c[i] == '*' && i + 1 < n && c[i + 1] == '*') {
					return "'**' must be a whole path component";
				} else if (c[i] == '[') {
					size_t k = i + 1;

					/* fnmatch(3): "[!" or "[^" negate; a ']' first is literal */
					if (k < n && (c[k] == '!' || c[k] == '^'))
						k++;
					if (k < n && c[k] == ']')
						k++;
					while (k < n && c[k] != ']')
						k++;
					if (k >= n)
						return "unterminated '[' in a path component";
					i = k;
				}
			}
		}
		if (!*e)
			break;
		p = e;
	}
	return NULL;
}
