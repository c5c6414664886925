// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The JSON-lines sink: the event journal (a file appended to), stdout or a FIFO (sink.h). A file
 * rotates: past AG_EVENTS_FILE_MAX bytes it is renamed FILE.1 (FILE.1 to FILE.2, ..., the
 * oldest, FILE.AG_EVENTS_FILE_KEEP, deleted) and FILE begins anew, so that it never fills the
 * disk: at most (AG_EVENTS_FILE_KEEP + 1) x AG_EVENTS_FILE_MAX bytes, whole lines in each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "sink.h"

struct json_sink {
	int fd;
	bool regular;
	__u64 write_errors;
	__u64 max_bytes; /* rotate past this (regular files) */
	bool warned_rotate;
	char name[];
};

/* FILE -> FILE.1 (and up); FILE opened anew on the same descriptor. */
static void rotate(struct json_sink *j)
{
	char from[4200], to[4200];
	int fd;

	for (int i = AG_EVENTS_FILE_KEEP; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", j->name);
		else
			snprintf(from, sizeof(from), "%s.%d", j->name, i - 1);
		snprintf(to, sizeof(to), "%s.%d", j->name, i);
		if (rename(from, to) && errno != ENOENT && !j->warned_rotate) {
			j->warned_rotate = true;
			ag_warn("events: cannot rotate %s to %s: %s", from, to, strerror(errno));
		}
	}
	fd = open(j->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0 || dup3(fd, j->fd, O_CLOEXEC) < 0) {
		if (!j->warned_rotate) {
			j->warned_rotate = true;
			ag_warn("events: cannot open %s anew after rotating it: %s; writing on to %s.1",
				j->name, strerror(errno), j->name);
		}
	}
	if (fd >= 0)
		close(fd);
}

static size_t count_lines(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/*
 * Write the batch with whole lines only: a write that fails part-way (a full disk) is cut back
 * to the batch's start, so the journal never holds a half-written event.
 */
static size_t json_emit(void *ctx, const struct ag_sink_batch *b)
{
	const char *buf = b->buf;
	size_t len = b->len, n = b->n;
	struct json_sink *j = ctx;
	const char *p = buf;
	size_t left = len, lost = 0;
	off_t start = -1;

	if (j->regular)
		start = lseek(j->fd, 0, SEEK_END);
	while (left) {
		ssize_t w = ag_sink_write(j->fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w > 0) {
			p += w;
			left -= w;
			continue;
		}
		/* cut a regular file back to the batch's start: the whole batch is lost, no line
		 * is left half-written; elsewhere what did not go out is lost */
		if (start >= 0 && !ftruncate(j->fd, start))
			lost = n;
		else
			lost = count_lines(p, left) + (p > buf && p[-1] != '\n');
		if (!j->write_errors++)
			ag_err("events: cannot write to %s: %s; %zu events lost (counted in the summary)",
			       j->name, w < 0 ? strerror(errno) : "no space", lost);
		break;
	}
	if (start >= 0 && !left && j->max_bytes && (__u64)start + len >= j->max_bytes)
		rotate(j);
	return lost;
}

static void json_close(void *ctx)
{
	struct json_sink *j = ctx;

	if (j->fd > STDERR_FILENO)
		close(j->fd);
	free(j);
}

static const struct ag_sink_ops json_ops = {
	.name = "json",
	.emit = json_emit,
	.close = json_close,
};

__u64 ag_events_file_max(void)
{
	const char *e = getenv("ACCELGUARD_EVENTS_FILE_MAX");
	char *end;
	unsigned long long v;

	if (!e || !*e)
		return AG_EVENTS_FILE_MAX_DEFAULT;
	v = strtoull(e, &end, 10);
	if (*end || v < 4096) {
		ag_warn("events: ACCELGUARD_EVENTS_FILE_MAX=%s is no number of bytes >= 4096; "
			"rotating at %llu", e, AG_EVENTS_FILE_MAX_DEFAULT);
		return AG_EVENTS_FILE_MAX_DEFAULT;
	}
	return v;
}

int ag_sinks_add_json(struct ag_sinks *s, int fd, const char *name, size_t queue_max)
{
	struct json_sink *j = calloc(1, sizeof(*j) + strlen(name) + 1);
	struct stat st;
	int r;

	if (!j)
		return -ENOMEM;
	j->fd = fd;
	j->regular = !fstat(fd, &st) && S_ISREG(st.st_mode);
	strcpy(j->name, name);
	j->max_bytes = j->regular && fd > STDERR_FILENO ? ag_events_file_max() : 0;
	r = ag_sinks_add(s, &json_ops, j, queue_max);
	if (r)
		free(j);
	return r;
}
