// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The API's JSON, bounded before json-c sees it. json-c's tree costs about 784 bytes for an empty
 * object and 64 for a two-byte number, so a body of tiny values ("[{},{},...]", 3 bytes each) takes
 * over 250 times its size, and a real Pod's managedFields (hundreds of "f:x":{} a pod) more than 30.
 * A linear pass over the text first:
 *  - checks its structure (strings, nesting up to json-c's 32 levels) and finds each value's extent;
 *  - blanks the members the agent does not read (a keep list: the keys it looks at, level by level;
 *    whitespace is JSON, so the text keeps its length and stays valid), so json-c builds only what
 *    is used (a real pod: a few dozen values whatever its size);
 *  - adds up what json-c's tree of the rest would cost, and refuses the body when that passes
 *    K8S_JSON_FACTOR times its size plus K8S_JSON_FIXED, naming it.
 * The check runs over the text untouched (so a refusal can quote it), then the pass that blanks.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

/* json-c 0.16 on x86-64, as malloc_usable_size counts it (measured; a little over) */
#define COST_OBJECT 800u /* the object and its 16-entry hash table */
#define COST_MEMBER 96u	 /* a hash entry past the first 10 (the table doubles at 2/3 full) */
#define COST_ARRAY  160u /* the array and its 32 slots */
#define COST_SLOT   16u	 /* a slot past the first 32 (the list doubles) */
#define COST_VALUE  96u	 /* a number, string (plus its bytes), boolean */

struct scan {
	char *p, *end, *start;
	bool write;	     /* blank what is not kept */
	size_t cost, values;
	size_t longest;	     /* the longest string kept: json-c's tokener holds 2x it meanwhile */
	const char *why;     /* the first problem */
	size_t at;	     /* its byte offset */
};

static bool fail(struct scan *s, const char *why)
{
	if (!s->why) {
		s->why = why;
		s->at = (size_t)(s->p - s->start);
	}
	return false;
}

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* A string at s->p ('"'): its contents in *k, *kl (escapes left as they are). */
static bool string(struct scan *s, const char **k, size_t *kl)
{
	const char *b = ++s->p;

	*k = b;
	*kl = 0;
	while (s->p < s->end && *s->p != '"') {
		if ((unsigned char)*s->p < 0x20)
			return fail(s, "a control character in a string");
		if (*s->p == '\\')
			s->p++;
		s->p++;
	}
	if (s->p >= s->end)
		return fail(s, "an unterminated string");
	*k = b;
	*kl = (size_t)(s->p - b);
	s->p++;
	return true;
}

static const struct k8s_jkeep *find(const struct k8s_jkeep *keep, const char *k, size_t kl)
{
	for (; keep && keep->key; keep++)
		if (strlen(keep->key) == kl && !memcmp(keep->key, k, kl))
			return keep;
	return NULL;
}

static void blank(struct scan *s, char *from, const char *to)
{
	if (s->write)
		memset(from, ' ', (size_t)(to - from));
}

/*
 * One value at s->p. keep: the keys kept in the objects it holds (through arrays); whole: all of
 * it is kept; neither: none of it costs (it is blanked by the caller).
 */
static bool value(struct scan *s, const struct k8s_jkeep *keep, bool whole, bool kept, int depth);

/* An object or an array at s->p: its members or elements, those not kept blanked out. */
static bool container(struct scan *s, const struct k8s_jkeep *keep, bool whole, bool kept,
		      int depth)
{
	const char *k = NULL;
	size_t kl = 0;
	bool obj = *s->p == '{';
	char close = obj ? '}' : ']', *comma = NULL, c;
	size_t n = 0;

	if (depth >= K8S_JSON_MAX_DEPTH)
		return fail(s, "nested deeper than " K8S_JSON_MAX_DEPTH_S " levels");
	if (kept)
		s->cost += obj ? COST_OBJECT : COST_ARRAY;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	for (;;) {
		char *m;
		bool keep_it = kept;
		const struct k8s_jkeep *sub = keep;
		bool sub_whole = whole;

		ws(s);
		m = s->p;
		if (obj) {
			const struct k8s_jkeep *e = NULL;

			if (s->p >= s->end || *s->p != '"')
				return fail(s, "an object member without a quoted name");
			if (!string(s, &k, &kl))
				return false;
			ws(s);
			if (s->p >= s->end || *s->p != ':')
				return fail(s, "no ':' after a member's name");
			s->p++;
			if (kept && !whole) {
				e = find(keep, k, kl);
				keep_it = e != NULL;
				sub = e ? e->sub : NULL;
				sub_whole = e && !e->sub;
			}
			if (keep_it)
				s->cost += (n >= 10 ? 2 * COST_MEMBER : 0) + kl + 32;
		} else if (kept && n >= 32) {
			s->cost += COST_SLOT;
		}
		if (!value(s, sub, sub_whole, keep_it, depth + 1))
			return false;
		ws(s);
		if (s->p >= s->end)
			return fail(s, obj ? "an unterminated object" : "an unterminated array");
		c = *s->p; /* before a blank covers it */
		if (c != close && c != ',')
			return fail(s, obj ? "no ',' or '}' after a member" :
				    "no ',' or ']' after an element");
		if (kept && !keep_it) {
			/* the member and one comma go: its own, or the last one kept */
			if (c == ',') {
				blank(s, m, s->p + 1);
			} else if (comma) {
				blank(s, comma, s->p);
				comma = NULL;
			} else {
				blank(s, m, s->p);
			}
		} else {
			n++;
			if (c == ',')
				comma = s->p;
		}
		s->p++;
		if (c == close)
			return true;
	}
}

static bool value(struct scan *s, const struct k8s_jkeep *keep, bool whole, bool kept, int depth)
{
	const char *k = NULL;
	size_t kl = 0;

	ws(s);
	if (s->p >= s->end)
		return fail(s, "the text ends where a value was expected");
	if (kept)
		s->values++;
	if (*s->p == '{' || *s->p == '[')
		return container(s, keep, whole, kept, depth);
	if (*s->p == '"') {
		if (!string(s, &k, &kl))
			return false;
		if (kept) {
			s->cost += COST_VALUE + kl;
			if (kl > s->longest)
				s->longest = kl;
		}
		return true;
	}
	/* a number or a literal: json-c says whether it is one */
	k = s->p;
	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' &&
	       *s->p != '\t' && *s->p != '\n' && *s->p != '\r' && *s->p != '"' && *s->p != '{' &&
	       *s->p != '[' && (unsigned char)*s->p >= 0x20)
		s->p++;
	if (s->p == k)
		return fail(s, "an unexpected character");
	if (kept)
		s->cost += COST_VALUE;
	return true;
}

static bool scan(struct scan *s, char *buf, size_t len, const struct k8s_jkeep *keep, bool write)
{
	memset(s, 0, sizeof(*s));
	s->p = s->start = buf;
	s->end = buf + len;
	s->write = write;
	if (!value(s, keep, false, true, 0))
		return false;
	ws(s);
	return s->p == s->end || fail(s, "more after the value");
}

size_t k8s_json_bound(size_t len)
{
	return K8S_JSON_FACTOR * len + K8S_JSON_FIXED;
}

json_object *k8s_json_parse(char *buf, size_t len, const struct k8s_jkeep *keep, const char *what,
			    char *err, size_t errlen)
{
	return k8s_json_parse_within(buf, len, keep, what, k8s_json_bound(len), NULL, err, errlen);
}

json_object *k8s_json_parse_within(char *buf, size_t len, const struct k8s_jkeep *keep,
				   const char *what, size_t bound, size_t *cost, char *err,
				   size_t errlen)
{
	struct json_tokener *tok;
	json_object *o;
	struct scan s;

	const char *sep = what ? ": " : "";

	what = what ? what : "";
	if (len > (size_t)INT_MAX) {
		snprintf(err, errlen, "%.600s%s%zu bytes of JSON, too large", what, sep, len);
		return NULL;
	}
	if (!scan(&s, buf, len, keep, false)) {
		snprintf(err, errlen, "%.600s%snot JSON at byte %zu: %s", what, sep, s.at, s.why);
		return NULL;
	}
	s.cost += 2 * s.longest;
	if (cost)
		*cost = s.cost;
	if (s.cost > bound) {
		if (bound < k8s_json_bound(len))
			snprintf(err, errlen, "%.600s%sits %zu JSON values used would take about %zu "
				 "bytes parsed, more than the %zu bytes left of the whole answer's bound",
				 what, sep, s.values, s.cost, bound);
		else
			snprintf(err, errlen, "%.600s%sits %zu JSON values used would take about %zu "
				 "bytes parsed, more than %u times its %zu bytes plus %u KiB", what, sep,
				 s.values, s.cost, K8S_JSON_FACTOR, len, K8S_JSON_FIXED >> 10);
		return NULL;
	}
	if (!scan(&s, buf, len, keep, true)) { /* the same walk as the check: cannot fail */
		snprintf(err, errlen, "%.600s%snot JSON at byte %zu: %s", what, sep, s.at, s.why);
		return NULL;
	}
	tok = json_tokener_new_ex(K8S_JSON_MAX_DEPTH);
	if (!tok) {
		snprintf(err, errlen, "%.600s%sout of memory", what, sep);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success)
		snprintf(err, errlen, "%.600s%snot JSON: %s", what, sep,
			 json_tokener_error_desc(json_tokener_get_error(tok)));
	if (o && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The elements of the array at s->p (after its '['), each as a span of buf; at most max kept,
 * the rest counted. Stops at the ']'. */
static bool split_array(struct scan *s, char *buf, struct k8s_jspan **v, size_t *cnt, size_t max)
{
	ws(s);
	while (s->p < s->end && *s->p != ']') {
		struct k8s_jspan *nv;
		char *b;

		ws(s);
		b = s->p;
		if (!value(s, NULL, false, false, 2))
			return false;
		if (*cnt >= max) { /* counted, not kept: no memory past max */
			(*cnt)++;
			goto next;
		}
		if (!(*cnt & (*cnt - 1))) { /* 0, 1, 2, 4, ...: double */
			nv = realloc(*v, (*cnt ? 2 * *cnt : 1) * sizeof(**v));
			if (!nv)
				return fail(s, "out of memory");
			*v = nv;
		}
		(*v)[*cnt].off = (uint32_t)(b - buf);
		(*v)[(*cnt)++].len = (uint32_t)(s->p - b);
next:
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p >= s->end || *s->p != ']')
			return fail(s, "no ',' or ']' after an element");
	}
	if (s->p >= s->end)
		return fail(s, "an unterminated array");
	return true;
}

int k8s_json_split(char *buf, size_t len, const char *key, struct k8s_jspan **spans, size_t *n,
		   size_t max, char *err, size_t errlen)
{
	struct k8s_jspan *v = NULL;
	size_t cnt = 0, kl0 = strlen(key);
	char *open = NULL, *close = NULL;
	struct scan s;

	*spans = NULL;
	*n = 0;
	if (len > UINT32_MAX) {
		snprintf(err, errlen, "%zu bytes of JSON, too large", len);
		return -EBADMSG;
	}
	memset(&s, 0, sizeof(s));
	s.p = s.start = buf;
	s.end = buf + len;
	ws(&s);
	if (s.p >= s.end || *s.p != '{') {
		/* what is wrong with the text first, if anything */
		if (value(&s, NULL, false, false, 0))
			s.p = s.start, fail(&s, "not a JSON object");
		goto bad;
	}
	s.p++;
	ws(&s);
	if (s.p < s.end && *s.p == '}')
		return 0;
	for (;;) {
		const char *k;
		size_t kl;

		ws(&s);
		if (s.p >= s.end || *s.p != '"') {
			fail(&s, "an object member without a quoted name");
			goto bad;
		}
		if (!string(&s, &k, &kl))
			goto bad;
		ws(&s);
		if (s.p >= s.end || *s.p != ':') {
			fail(&s, "no ':' after a member's name");
			goto bad;
		}
		s.p++;
		ws(&s);
		if (!open && kl == kl0 && !memcmp(k, key, kl) && s.p < s.end && *s.p == '[') {
			open = s.p++;
			if (!split_array(&s, buf, &v, &cnt, max))
				goto bad;
			close = s.p++;
		} else if (!value(&s, NULL, false, false, 1)) {
			goto bad;
		}
		ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p < s.end && *s.p == '}')
			break;
		fail(&s, "no ',' or '}' after a member");
		goto bad;
	}
	(void)close;
	*spans = v;
	*n = cnt;
	return cnt > max ? -E2BIG : 0;
bad:
	snprintf(err, errlen, "not JSON at byte %zu: %s", s.at, s.why ? s.why : "?");
	free(v);
	return -EBADMSG;
}

/* ---- what the agent reads (api_pods.c, api_claims.c, k8s_http_error) ---- */

static const struct k8s_jkeep keep_name[] = { { "name" }, { NULL } };
static const struct k8s_jkeep keep_resources[] = { { "claims", keep_name }, { NULL } };
static const struct k8s_jkeep keep_ctr[] = { { "name" }, { "resources", keep_resources },
					     { NULL } };
static const struct k8s_jkeep keep_ctr_status[] = { { "name" }, { "containerID" }, { NULL } };
static const struct k8s_jkeep keep_claim_ref[] = { { "name" }, { "resourceClaimName" }, { NULL } };
static const struct k8s_jkeep keep_pod_md[] = { { "uid" }, { "name" }, { "namespace" },
						{ "labels" }, { "resourceVersion" }, { NULL } };
static const struct k8s_jkeep keep_pod_spec[] = {
	{ "serviceAccountName" }, { "containers", keep_ctr }, { "initContainers", keep_ctr },
	{ "ephemeralContainers", keep_ctr }, { "resourceClaims", keep_claim_ref }, { NULL }
};
static const struct k8s_jkeep keep_pod_status[] = {
	{ "containerStatuses", keep_ctr_status }, { "initContainerStatuses", keep_ctr_status },
	{ "ephemeralContainerStatuses", keep_ctr_status },
	{ "resourceClaimStatuses", keep_claim_ref }, { NULL }
};

const struct k8s_jkeep k8s_keep_pod[] = {
	{ "metadata", keep_pod_md }, { "spec", keep_pod_spec }, { "status", keep_pod_status },
	{ "kind" }, { NULL }
};

static const struct k8s_jkeep keep_list_md[] = { { "resourceVersion" }, { "continue" },
						 { NULL } };
const struct k8s_jkeep k8s_keep_podlist[] = { { "metadata", keep_list_md },
					      { "items", k8s_keep_pod }, { NULL } };

/* an event's object: a Pod, a Status (ERROR), or a BOOKMARK's metadata */
static const struct k8s_jkeep keep_event_obj[] = {
	{ "metadata", keep_pod_md }, { "spec", keep_pod_spec }, { "status", keep_pod_status },
	{ "code" }, { "message" }, { NULL }
};
const struct k8s_jkeep k8s_keep_watch[] = { { "type" }, { "object", keep_event_obj }, { NULL } };

static const struct k8s_jkeep keep_uid[] = { { "uid" }, { NULL } };
static const struct k8s_jkeep keep_result[] = { { "request" }, { "driver" }, { "pool" },
						{ "device" }, { "adminAccess" }, { NULL } };
static const struct k8s_jkeep keep_results[] = { { "results", keep_result }, { NULL } };
static const struct k8s_jkeep keep_alloc[] = { { "devices", keep_results }, { NULL } };
static const struct k8s_jkeep keep_claim_status[] = { { "allocation", keep_alloc }, { NULL } };
const struct k8s_jkeep k8s_keep_claim[] = { { "metadata", keep_uid },
					    { "status", keep_claim_status }, { "kind" }, { NULL } };

static const struct k8s_jkeep keep_string[] = { { "string" }, { NULL } };
static const struct k8s_jkeep keep_attrs[] = { { "uuid", keep_string },
					       { "pcieBusID", keep_string }, { NULL } };
static const struct k8s_jkeep keep_slice_dev[] = { { "name" }, { "attributes", keep_attrs },
						   { NULL } };
static const struct k8s_jkeep keep_slice_spec[] = { { "driver" }, { "pool", keep_name },
						    { "devices", keep_slice_dev }, { NULL } };
const struct k8s_jkeep k8s_keep_slice[] = { { "spec", keep_slice_spec }, { NULL } };
const struct k8s_jkeep k8s_keep_slices[] = { { "items", k8s_keep_slice }, { "kind" }, { NULL } };

const struct k8s_jkeep k8s_keep_status[] = { { "message" }, { NULL } };
