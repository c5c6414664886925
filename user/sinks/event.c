// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Typed events (event.h): the records the loop builds beside its lines. */
#include <stdlib.h>
#include <string.h>
#include "event.h"
#include "jsonw.h"
#include "names.h"

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

const char *ag_event_hook(const struct ag_event *e)
{
	return e->flags & AG_EVF_SCANNED ? "scan" : ag_hook_name(e->hook);
}

/* room for len more bytes; false (and the record marked) without */
static bool room(struct ag_evb *b, size_t len)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + len <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + len)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->buf = p;
	b->cap = cap;
	return true;
}

void ag_evb_begin(struct ag_evb *b, int kind)
{
	b->at = b->len;
	b->oom = false;
	b->open = true;
	b->nofix = !room(b, sizeof(struct ag_event));
	if (b->nofix)
		return;
	memset(b->buf + b->at, 0, sizeof(struct ag_event));
	ag_evb_cur(b)->kind = (__u8)kind;
	b->len += sizeof(struct ag_event);
}

ag_evstr ag_evb_tail(struct ag_evb *b, size_t len)
{
	size_t off;

	len = ALIGN8(len);
	if (!b->open || !room(b, len))
		return 0;
	off = b->len - b->at;
	memset(b->buf + b->len, 0, len);
	b->len += len;
	return (ag_evstr)off;
}

ag_evstr ag_evb_str(struct ag_evb *b, const char *s, size_t max)
{
	size_t n, off;

	if (!s || !b->open)
		return 0;
	n = strnlen(s, max);
	if (!room(b, n + 1))
		return 0;
	off = b->len - b->at;
	memcpy(b->buf + b->len, s, n);
	b->buf[b->len + n] = 0;
	b->len += n + 1;
	return (ag_evstr)off;
}

ag_evstr ag_evb_str_as_json(struct ag_evb *b, const char *s, size_t n)
{
	size_t off, o, l;

	if (!s || !b->open || !room(b, 2 * n + 1))
		return 0;
	off = b->len - b->at;
	o = b->len;
	for (size_t i = 0; i < n; i += l) {
		unsigned char c = (unsigned char)s[i];

		l = c < 0x80 ? 1 : jw_utf8_len(s + i, n - i);
		if (l) {
			memcpy(b->buf + o, s + i, l);
			o += l;
		} else {
			b->buf[o++] = (char)(0xc0 | (c >> 6));
			b->buf[o++] = (char)(0x80 | (c & 0x3f));
			l = 1;
		}
	}
	b->buf[o++] = 0;
	b->len = o;
	return (ag_evstr)off;
}

bool ag_evb_end(struct ag_evb *b)
{
	size_t pad;

	if (!b->open)
		return false;
	b->open = false;
	pad = ALIGN8(b->len) - b->len;
	if (b->oom || b->nofix || !room(b, pad)) {
		b->len = b->at;
		b->oom = b->nofix = false;
		return false;
	}
	memset(b->buf + b->len, 0, pad);
	b->len += pad;
	ag_evb_cur(b)->size = (__u32)(b->len - b->at);
	return true;
}

void ag_evb_cancel(struct ag_evb *b)
{
	if (b->open)
		b->len = b->at;
	b->open = b->oom = b->nofix = false;
}

void ag_evb_reset(struct ag_evb *b)
{
	b->len = b->at = 0;
	b->open = b->oom = b->nofix = false;
}

void ag_evb_free(struct ag_evb *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}
