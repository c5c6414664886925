/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A JSON writer into a growing buffer, for the event stream: one object per line, written on the
 * hot path of event consumption, so no tree is built. Strings are escaped for any input: control
 * bytes as \u00XX, and bytes that are not valid UTF-8 as \u00XX of their value, so hostile process
 * names and paths always give valid JSON.
 */
#ifndef AG_JSONW_H
#define AG_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw {
	char *buf;
	size_t len, cap;
	bool need_comma;
	bool oom;
};

void jw_init(struct jw *w);
void jw_free(struct jw *w);
void jw_reset(struct jw *w);

void jw_obj_open(struct jw *w);  /* "{" */
void jw_obj_close(struct jw *w); /* "}" */
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
/* "key": for a key known at compile time (a string literal): one copy of a pre-quoted text */
#define jw_key(w, k) jw_keyq(w, "\"" k "\":", sizeof("\"" k "\":") - 1)
void jw_keyq(struct jw *w, const char *quoted, size_t n);
/* "key": for a key computed at run time (trusted ASCII) */
void jw_keys(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid (a byte jw_strn
 * writes as \u00XX). */
size_t jw_utf8_len(const char *s, size_t n);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
void jw_raw(struct jw *w, const char *s); /* trusted JSON text, as a value */
void jw_append(struct jw *w, const char *s, size_t n); /* bytes, no separator */
void jw_hex32(struct jw *w, uint32_t v);  /* "0x%08x" as a string */

/* Shorthands: key + value */
#define jw_kstr(w, k, v) (jw_key(w, k), jw_str(w, v))
#define jw_ku64(w, k, v) (jw_key(w, k), jw_u64(w, v))
#define jw_kbool(w, k, v) (jw_key(w, k), jw_bool(w, v))
#define jw_ksu64(w, k, v) (jw_keys(w, k), jw_u64(w, v)) /* run-time key */

#endif
