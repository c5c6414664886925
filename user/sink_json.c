// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The JSON-lines sink: the event journal (a file appended to), stdout or a FIFO (sink.h). */
#include <errno.h>
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
	char name[];
};

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
static size_t json_emit(void *ctx, const char *buf, size_t len, size_t n)
{
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
	r = ag_sinks_add(s, &json_ops, j, queue_max);
	if (r)
		free(j);
	return r;
}
