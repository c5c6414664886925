// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "log.h"

int ag_log_level = AG_LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

/* One write(2) per line: threads (the Kubernetes source's peers) never interleave inside one. */
static void vlog(int level, const char *fmt, va_list ap)
{
	char line[2048], *big = NULL, *out = line;
	va_list ap2;
	int n, m;

	if (level > ag_log_level)
		return;
	va_copy(ap2, ap);
	n = snprintf(line, sizeof(line), "accelguard: %s: ", level_names[level]);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m >= (int)sizeof(line) - n - 1 && (big = malloc((size_t)n + (size_t)m + 2))) {
		/* a long input (a path) must not cut off the cause that follows it */
		memcpy(big, line, (size_t)n);
		vsnprintf(big + n, (size_t)m + 1, fmt, ap2);
		out = big;
		n += m;
	} else {
		n = m < 0 ? n : n + m < (int)sizeof(line) - 1 ? n + m : (int)sizeof(line) - 2;
	}
	va_end(ap2);
	out[n++] = '\n';
	(void)!write(STDERR_FILENO, out, n); /* nowhere left to say it if this fails */
	free(big);
}

void ag_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

int ag_log_errno(int level, int err, const char *fmt, ...)
{
	int e = err < 0 ? -err : err ? err : EIO;
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ag_log(level, "%s: %s", msg ? msg : fmt, strerror(e));
	free(msg);
	return -e;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int l = level == LIBBPF_WARN ? AG_LOG_WARN : level == LIBBPF_INFO ? AG_LOG_INFO : AG_LOG_DEBUG;

	/* libbpf ends its lines with '\n' itself: print them as they come, at -v only */
	if (ag_log_level < AG_LOG_DEBUG && l > AG_LOG_WARN)
		return 0;
	if (ag_log_level < AG_LOG_DEBUG)
		return 0; /* load failures are reported by the agent with context; details at -v */
	fputs("accelguard: libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void ag_log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
