// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonw.h"

void jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
}

void jw_free(struct jw *w)
{
	free(w->buf);
	jw_init(w);
}

void jw_reset(struct jw *w)
{
	w->len = 0;
	w->need_comma = false;
	w->oom = false;
	if (w->buf)
		w->buf[0] = 0;
}

/* The slow path of put(): grow the buffer. */
static __attribute__((noinline)) bool grow(struct jw *w, size_t n)
{
	char *nb;
	size_t cap;

	cap = w->cap ? w->cap : 512;
	while (cap < w->len + n + 1)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		w->oom = true;
		return false;
	}
	w->buf = nb;
	w->cap = cap;
	return true;
}

static inline __attribute__((always_inline)) bool reserve(struct jw *w, size_t n)
{
	return w->len + n + 1 <= w->cap || grow(w, n);
}

static inline __attribute__((always_inline)) void put(struct jw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static inline __attribute__((always_inline)) void putc_(struct jw *w, char c)
{
	if (!reserve(w, 1))
		return;
	w->buf[w->len++] = c;
	w->buf[w->len] = 0;
}

static void sep(struct jw *w)
{
	if (w->need_comma)
		putc_(w, ',');
	w->need_comma = true;
}

void jw_obj_open(struct jw *w)
{
	sep(w);
	putc_(w, '{');
	w->need_comma = false;
}

void jw_obj_close(struct jw *w)
{
	putc_(w, '}');
	w->need_comma = true;
}

void jw_arr_open(struct jw *w)
{
	sep(w);
	putc_(w, '[');
	w->need_comma = false;
}

void jw_arr_close(struct jw *w)
{
	putc_(w, ']');
	w->need_comma = true;
}

void jw_keyq(struct jw *w, const char *quoted, size_t n)
{
	sep(w);
	put(w, quoted, n);
	w->need_comma = false;
}

void jw_keys(struct jw *w, const char *key)
{
	sep(w);
	putc_(w, '"');
	put(w, key, strlen(key));
	put(w, "\":", 2);
	w->need_comma = false;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are invalid */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Bytes that go out as they are: printable ASCII but the quote and the backslash. */
static inline bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static const char hexd[] = "0123456789abcdef";

size_t jw_utf8_len(const char *s, size_t n)
{
	return n ? utf8_len((const unsigned char *)s, n) : 0;
}

void jw_strn(struct jw *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[6] = { '\\', 'u', '0', '0' };
	size_t i = 0, run, l;

	sep(w);
	putc_(w, '"');
	while (i < n) {
		unsigned char c = s[i];

		/* the common case: a run of plain bytes, copied at once */
		for (run = i; run < n && plain(s[run]); run++)
			;
		if (run > i) {
			put(w, (const char *)s + i, run - i);
			i = run;
			continue;
		}
		if (c == '"' || c == '\\') {
			esc[1] = c;
			put(w, esc, 2);
			esc[1] = 'u';
			i++;
		} else if (c == '\n') {
			put(w, "\\n", 2);
			i++;
		} else if (c == '\t') {
			put(w, "\\t", 2);
			i++;
		} else if (c >= 0x80 && (l = utf8_len(s + i, n - i))) {
			put(w, (const char *)s + i, l);
			i += l;
		} else {
			/* a control byte, or a byte that is no UTF-8: keep its value, visibly */
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 15];
			put(w, esc, 6);
			i++;
		}
	}
	putc_(w, '"');
}

void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

/* Decimal digits of v at the end of b (24 bytes); returns where they start. */
static char *digits(char *end, uint64_t v)
{
	do {
		*--end = '0' + v % 10;
		v /= 10;
	} while (v);
	return end;
}

void jw_u64(struct jw *w, uint64_t v)
{
	char b[24], *p = digits(b + sizeof(b), v);

	sep(w);
	put(w, p, b + sizeof(b) - p);
}

void jw_i64(struct jw *w, int64_t v)
{
	char b[24], *p = digits(b + sizeof(b), v < 0 ? -(uint64_t)v : (uint64_t)v);

	if (v < 0)
		*--p = '-';
	sep(w);
	put(w, p, b + sizeof(b) - p);
}

void jw_double(struct jw *w, double v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%.6g", v);

	sep(w);
	put(w, b, n);
}

void jw_bool(struct jw *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void jw_raw(struct jw *w, const char *s)
{
	sep(w);
	put(w, s, strlen(s));
}

void jw_append(struct jw *w, const char *s, size_t n)
{
	put(w, s, n);
}

void jw_hex32(struct jw *w, uint32_t v)
{
	char b[12] = { '"', '0', 'x' };

	for (int i = 0; i < 8; i++)
		b[3 + i] = hexd[(v >> (28 - 4 * i)) & 15];
	b[11] = '"';
	sep(w);
	put(w, b, sizeof(b));
}
