/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small helpers shared by the k8s_*.c files. */
#ifndef AG_K8S_UTIL_H
#define AG_K8S_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Copy src into dst[len], truncating; returns whether it fit. */
static inline bool ag_scpy(char *dst, size_t len, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	bool fit = n < len;

	if (!len)
		return false;
	if (!fit)
		n = len - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return fit;
}

static inline uint64_t ag_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline bool ag_streq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

#endif
