// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's YAML configuration, loaded with libyaml's document API so that every node keeps its
 * line. Strict: unknown keys, wrong types and bad values are refused with "FILE:LINE: reason",
 * where the reason names the key (as a path: "allocations[0].devices[1]"), what was expected and
 * what was found. libyaml resolves no implicit types, so "195:0" stays a string (YAML 1.1 would
 * read it as a base-60 integer) and integers are parsed here, decimal only.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <yaml.h>

#include "accelguard.h"
#include "cgpattern.h"
#include "config.h"
#include "yamldepth.h"
#include "devices.h"
#include "util.h"

#define AG_CONFIG_MAX_SIZE (1u << 20) /* README "Input limits" */
#define AG_RATE_LIMIT_DEFAULT 1000u
#define AG_RATE_LIMIT_MIN 100u
#define AG_RATE_LIMIT_MAX 10000000u
#define AG_MINOR_MAX 0xfffffu
#define KEYLEN 128

struct ctx {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	struct ag_config *cfg;
};

const char *ag_mode_name(int mode)
{
	switch (mode) {
	case AG_MODE_AUDIT:
		return "audit";
	case AG_MODE_ENFORCE:
		return "enforce";
	default:
		return "unknown";
	}
}

int ag_mode_parse(const char *s)
{
	if (s && !strcmp(s, "audit"))
		return AG_MODE_AUDIT;
	if (s && !strcmp(s, "enforce"))
		return AG_MODE_ENFORCE;
	return -EINVAL;
}

static int line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

/* Write "FILE:LINE: reason" and return -EINVAL. */
static int vfail(struct ctx *c, int line, const char *fmt, va_list ap)
{
	int off;

	off = snprintf(c->err, c->errlen, "%s:%d: ", c->file, line);
	if (off >= 0 && (size_t)off < c->errlen)
		vsnprintf(c->err + off, c->errlen - (size_t)off, fmt, ap);
	return -EINVAL;
}

__attribute__((format(printf, 3, 4)))
static int fail_at_(struct ctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(c, line, fmt, ap);
	va_end(ap);
	return ret;
}

__attribute__((format(printf, 3, 4)))
static int fail_(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(c, line_of(n), fmt, ap);
	va_end(ap);
	return ret;
}

/* -EINVAL in plain sight: the static analyzer does not follow the return of a variadic function */
#define fail(...) (fail_(__VA_ARGS__), -EINVAL)
#define fail_at(...) (fail_at_(__VA_ARGS__), -EINVAL)

static yaml_node_t *node(struct ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* What a node is, for "found ...": printable, short. */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
	const unsigned char *v;
	size_t i, o = 0, max;

	if (!n)
		return "nothing";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (is_null(n))
		return "nothing";
	v = n->data.scalar.value;
	if (n->data.scalar.length == 0)
		return "an empty string";
	max = len > 8 ? len - 8 : 0;
	if (max > 64)
		max = 64;
	if (o < len)
		buf[o++] = '\'';
	for (i = 0; i < n->data.scalar.length && o + 1 < max; i++)
		buf[o++] = (v[i] < 0x20 || v[i] == 0x7f) ? '?' : (char)v[i];
	if (i < n->data.scalar.length && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	if (o + 1 < len)
		buf[o++] = '\'';
	buf[o < len ? o : len - 1] = '\0';
	return buf;
}

/* A non-empty string scalar (no NUL inside). */
static int get_str(struct ctx *c, const yaml_node_t *n, const char *key, const char *what,
		   const char **out)
{
	char d[80];

	if (!n || n->type != YAML_SCALAR_NODE || is_null(n) || n->data.scalar.length == 0)
		return fail(c, n, "%s: expected %s, found %s", key, what, describe(n, d, sizeof(d)));
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return fail(c, n, "%s: expected %s, found a string with a NUL byte", key, what);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

static int dup_str(struct ctx *c, const yaml_node_t *n, const char *key, const char *what,
		   char **out)
{
	const char *s;
	int err = get_str(c, n, key, what, &s);

	if (err)
		return err;
	free(*out); /* set by an earlier file of a configuration directory */
	*out = strdup(s);
	if (!*out)
		return -ENOMEM;
	return 0;
}

/* true or false. */
static int get_bool(struct ctx *c, const yaml_node_t *n, const char *key, bool *out)
{
	const char *s = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
	char d[80];

	if (strcmp(s, "true") && strcmp(s, "false"))
		return fail(c, n, "%s: expected true or false, found %s", key, describe(n, d, sizeof(d)));
	*out = !strcmp(s, "true");
	return 0;
}

/* A plain decimal integer in [min, max]. */
static int get_uint(struct ctx *c, const yaml_node_t *n, const char *key, __u32 min, __u32 max,
		    const char *what, __u32 *out)
{
	const char *s;
	unsigned long long v = 0;
	char d[80];

	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    is_null(n))
		goto bad;
	s = (const char *)n->data.scalar.value;
	if (!*s || (s[0] == '0' && s[1]))
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			goto bad;
	}
	if (v < min)
		goto bad;
	*out = (__u32)v;
	return 0;
bad:
	return fail(c, n, "%s: expected %s, found %s", key, what, describe(n, d, sizeof(d)));
}

static int expect_type(struct ctx *c, const yaml_node_t *n, yaml_node_type_t type,
		       const char *key, const char *what)
{
	char d[80];

	if (n && n->type == type)
		return 0;
	return fail(c, n, "%s: expected %s, found %s", key, what, describe(n, d, sizeof(d)));
}

static void join_keys(const char *const *keys, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (; *keys && o < len; keys++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", *keys);
}

/*
 * Check a mapping's keys: scalars, known, not repeated. where is the mapping's own key path
 * ("" at the top level).
 */
static int check_keys(struct ctx *c, const yaml_node_t *map, const char *where,
		      const char *const *allowed)
{
	yaml_node_pair_t *p, *q;
	char d[80], list[256];

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(c, p->key);
		const char *const *a;
		const char *name;

		if (!k || k->type != YAML_SCALAR_NODE || is_null(k))
			return fail(c, k, "%s%sexpected a key name, found %s", where, *where ? ": " : "",
				    describe(k, d, sizeof(d)));
		name = (const char *)k->data.scalar.value;
		/* "mode\0junk" must not pass as "mode" */
		if (memchr(name, '\0', k->data.scalar.length))
			return fail(c, k, "%s%sexpected a key name, found a key with a NUL byte", where,
				    *where ? ": " : "");
		for (a = allowed; *a; a++)
			if (!strcmp(*a, name))
				break;
		if (!*a) {
			join_keys(allowed, list, sizeof(list));
			return fail(c, k, "unknown key %s%s%s (expected one of: %s)",
				    describe(k, d, sizeof(d)), *where ? " in " : "", where, list);
		}
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			const yaml_node_t *k2 = node(c, q->key);

			if (!strcmp((const char *)k2->data.scalar.value, name))
				return fail(c, k, "%s%sduplicate key '%s' (first on line %d)", where,
					    *where ? ": " : "", name, line_of(k2));
		}
	}
	return 0;
}

static const char *key_name(struct ctx *c, const yaml_node_pair_t *p)
{
	return (const char *)node(c, p->key)->data.scalar.value;
}

static yaml_node_t *map_get(struct ctx *c, const yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
		if (!strcmp(key_name(c, p), name))
			return node(c, p->value);
	return NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* A list or mapping of at most max entries (README "Input limits"): matching costs grow with them. */
static int check_count(struct ctx *c, const yaml_node_t *n, const char *key, size_t cnt, size_t max)
{
	if (cnt > max)
		return fail(c, n, "%s: %zu entries, at most %zu", key, cnt, max);
	return 0;
}

static void *alloc_n(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

static int get_pattern(struct ctx *c, const yaml_node_t *n, const char *key, char **out)
{
	const char *s, *why;
	char d[80];
	int err;

	err = get_str(c, n, key, "a cgroup pattern", &s);
	if (err)
		return err;
	why = ag_cgpattern_check(s);
	if (why)
		return fail(c, n, "%s: bad cgroup pattern %s: %s", key, describe(n, d, sizeof(d)), why);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int get_abs_path(struct ctx *c, const yaml_node_t *n, const char *key, bool allow_off,
			char **out)
{
	const char *what = allow_off ? "an absolute path or off" : "an absolute path";
	const char *s;
	char d[80];
	int err;

	err = get_str(c, n, key, what, &s);
	if (err)
		return err;
	if (s[0] != '/' && !(allow_off && !strcmp(s, "off")))
		return fail(c, n, "%s: expected %s, found %s", key, what, describe(n, d, sizeof(d)));
	free(*out); /* set by an earlier file of a configuration directory */
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static void free_strv(char **v, size_t n);

/* ---- top-level scalars ---- */

static int parse_mode(struct ctx *c, const yaml_node_t *n)
{
	const char *s = NULL;
	char d[80];
	int m;

	if (n && n->type == YAML_SCALAR_NODE)
		s = (const char *)n->data.scalar.value;
	m = ag_mode_parse(s);
	if (m < 0 || is_null(n))
		return fail(c, n, "mode: expected audit or enforce, found %s", describe(n, d, sizeof(d)));
	c->cfg->mode = m;
	return 0;
}

static int parse_unresolved(struct ctx *c, const yaml_node_t *n)
{
	const char *s = n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
	char d[80];

	if (!is_null(n) && !strcmp(s, "allow"))
		c->cfg->unresolved_deny = false;
	else if (!is_null(n) && !strcmp(s, "deny"))
		c->cfg->unresolved_deny = true;
	else
		return fail(c, n, "unresolved: expected allow or deny, found %s",
			    describe(n, d, sizeof(d)));
	return 0;
}

static int parse_reads(struct ctx *c, const yaml_node_t *n)
{
	const char *s = n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
	char d[80];

	if (!is_null(n) && !strcmp(s, "every_use"))
		c->cfg->reads = AG_READS_EVERY_USE;
	else if (!is_null(n) && !strcmp(s, "arrival"))
		c->cfg->reads = AG_READS_ARRIVAL;
	else
		return fail(c, n, "reads: expected every_use or arrival, found %s",
			    describe(n, d, sizeof(d)));
	return 0;
}

static int parse_rate_limit(struct ctx *c, const yaml_node_t *n)
{
	return get_uint(c, n, "rate_limit", AG_RATE_LIMIT_MIN, AG_RATE_LIMIT_MAX,
			"an integer from 100 to 10000000 (violation events per tenant per second)",
			&c->cfg->rate_limit);
}

/* pin_dir: where enforce mode pins its maps and links (pins.h); "off": nothing pinned */
static int parse_pin_dir(struct ctx *c, const yaml_node_t *n)
{
	free(c->cfg->pin_dir);
	c->cfg->pin_dir = NULL;
	return get_abs_path(c, n, "pin_dir", true, &c->cfg->pin_dir);
}

/* ---- tenants ---- */

static int parse_tenants(struct ctx *c, const yaml_node_t *n)
{
	struct ag_config *cfg = c->cfg;
	yaml_node_item_t *it;
	char key[KEYLEN];
	int err;

	err = expect_type(c, n, YAML_SEQUENCE_NODE, "tenants", "a list of cgroup patterns");
	if (!err)
		err = check_count(c, n, "tenants", seq_len(n), AG_CONFIG_MAX_LIST);
	if (err)
		return err;
	cfg->tenants = alloc_n(seq_len(n), sizeof(*cfg->tenants));
	if (!cfg->tenants)
		return -ENOMEM;
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		snprintf(key, sizeof(key), "tenants[%zu]", cfg->n_tenants);
		err = get_pattern(c, node(c, *it), key, &cfg->tenants[cfg->n_tenants]);
		if (err)
			return err;
		cfg->n_tenants++;
	}
	return 0;
}

/* ---- exempt ---- */

static int parse_labels(struct ctx *c, const yaml_node_t *n, const char *key,
			struct ag_cfg_exempt_k8s *e)
{
	yaml_node_pair_t *p, *q;
	char k[KEYLEN + 64], d[80];
	const char *name, *value;
	size_t cnt;
	int err;

	err = expect_type(c, n, YAML_MAPPING_NODE, key, "a mapping of label names to values");
	if (err)
		return err;
	cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	err = check_count(c, n, key, cnt, AG_CONFIG_MAX_LABELS);
	if (err)
		return err;
	if (!cnt)
		return fail(c, n, "%s: expected at least one label (an empty selector would match every pod)",
			    key);
	e->label_keys = alloc_n(cnt, sizeof(char *));
	e->label_values = alloc_n(cnt, sizeof(char *));
	if (!e->label_keys || !e->label_values)
		return -ENOMEM;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);

		err = get_str(c, kn, key, "a label name", &name);
		if (err)
			return err;
		for (q = n->data.mapping.pairs.start; q < p; q++)
			if (!strcmp(key_name(c, q), name))
				return fail(c, kn, "%s: duplicate label '%s' (first on line %d)", key, name,
					    line_of(node(c, q->key)));
		snprintf(k, sizeof(k), "%s.%s", key, name);
		/* A label value may be empty, but only written as "": a bare key is YAML null. */
		if (!vn || vn->type != YAML_SCALAR_NODE || is_null(vn) ||
		    memchr(vn->data.scalar.value, '\0', vn->data.scalar.length))
			return fail(c, vn, "%s: expected a label value (a string; \"\" for empty), found %s",
				    k, describe(vn, d, sizeof(d)));
		value = (const char *)vn->data.scalar.value;
		e->label_keys[e->n_labels] = strdup(name);
		e->label_values[e->n_labels] = strdup(value);
		e->n_labels++; /* both freed by ag_config_free, NULL or not */
		if (!e->label_keys[e->n_labels - 1] || !e->label_values[e->n_labels - 1])
			return -ENOMEM;
	}
	return 0;
}

static int parse_exempt(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "cgroup", "namespace", "labels", "serviceAccount", NULL };
	struct ag_config *cfg = c->cfg;
	yaml_node_item_t *it;
	char key[KEYLEN], k2[KEYLEN + 32], d[80];
	size_t cnt, i = 0;
	int err;

	err = expect_type(c, n, YAML_SEQUENCE_NODE, "exempt",
			  "a list of cgroup patterns or {cgroup, namespace, labels, serviceAccount} mappings");
	if (err)
		return err;
	cnt = seq_len(n);
	err = check_count(c, n, "exempt", cnt, AG_CONFIG_MAX_LIST);
	if (err)
		return err;
	cfg->exempt = alloc_n(cnt, sizeof(*cfg->exempt));
	cfg->exempt_k8s = alloc_n(cnt, sizeof(*cfg->exempt_k8s));
	if (!cfg->exempt || !cfg->exempt_k8s)
		return -ENOMEM;
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
		const yaml_node_t *e = node(c, *it), *v;
		struct ag_cfg_exempt_k8s *k8s;

		snprintf(key, sizeof(key), "exempt[%zu]", i);
		if (e && e->type == YAML_SCALAR_NODE) {
			err = get_pattern(c, e, key, &cfg->exempt[cfg->n_exempt]);
			if (err)
				return err;
			cfg->n_exempt++;
			continue;
		}
		if (!e || e->type != YAML_MAPPING_NODE)
			return fail(c, e, "%s: expected a cgroup pattern or a mapping, found %s", key,
				    describe(e, d, sizeof(d)));
		err = check_keys(c, e, key, keys);
		if (err)
			return err;
		if (!map_get(c, e, "namespace") && !map_get(c, e, "labels") &&
		    !map_get(c, e, "serviceAccount")) {
			v = map_get(c, e, "cgroup");
			if (!v)
				return fail(c, e, "%s: expected at least one of cgroup, namespace, labels, serviceAccount",
					    key);
			snprintf(k2, sizeof(k2), "%s.cgroup", key);
			err = get_pattern(c, v, k2, &cfg->exempt[cfg->n_exempt]);
			if (err)
				return err;
			cfg->n_exempt++;
			continue;
		}
		/*
		 * A cgroup pattern and Kubernetes terms in one entry would mean "both must match",
		 * which a consumer reading only the Kubernetes terms would widen into an exemption of
		 * every such pod: refuse it rather than exempt more than was written.
		 */
		if ((v = map_get(c, e, "cgroup")))
			return fail(c, v, "%s.cgroup: cannot be combined with namespace, labels or serviceAccount in one exemption; write two entries",
				    key);
		k8s = &cfg->exempt_k8s[cfg->n_exempt_k8s++];
		k8s->line = line_of(e);
		if ((v = map_get(c, e, "namespace"))) {
			snprintf(k2, sizeof(k2), "%s.namespace", key);
			err = dup_str(c, v, k2, "a namespace name", &k8s->namespace);
			if (err)
				return err;
		}
		if ((v = map_get(c, e, "serviceAccount"))) {
			snprintf(k2, sizeof(k2), "%s.serviceAccount", key);
			err = dup_str(c, v, k2, "a service account name", &k8s->service_account);
			if (err)
				return err;
		}
		if ((v = map_get(c, e, "labels"))) {
			snprintf(k2, sizeof(k2), "%s.labels", key);
			err = parse_labels(c, v, k2, k8s);
			if (err)
				return err;
		}
	}
	return 0;
}

/* ---- devices ---- */

static bool class_name_ok(const char *s)
{
	if (!*s || strlen(s) >= AG_CLASS_NAME_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* "LO-HI" or "*" */
static int parse_minors(struct ctx *c, const yaml_node_t *n, const char *key, __u32 *lo,
			__u32 *hi)
{
	static const char what[] = "a minor range \"LO-HI\" (0-1048575) or \"*\"";
	unsigned long a, b;
	const char *s;
	char *end, d[80];

	if (!n || n->type != YAML_SCALAR_NODE || is_null(n))
		goto bad;
	s = (const char *)n->data.scalar.value;
	if (!strcmp(s, "*")) {
		*lo = 0;
		*hi = AG_MINOR_ANY;
		return 0;
	}
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
		goto bad;
	b = strtoul(end + 1, &end, 10);
	if (errno || *end || a > AG_MINOR_MAX || b > AG_MINOR_MAX || a > b)
		goto bad;
	*lo = (__u32)a;
	*hi = (__u32)b;
	return 0;
bad:
	return fail(c, n, "%s: expected %s, found %s", key, what, describe(n, d, sizeof(d)));
}

static void fmt_range(char *buf, size_t len, __u32 major, __u32 lo, __u32 hi)
{
	if (hi == AG_MINOR_ANY)
		snprintf(buf, len, "%u:*", major);
	else if (lo == hi)
		snprintf(buf, len, "%u:%u", major, lo);
	else
		snprintf(buf, len, "%u:%u-%u", major, lo, hi);
}

/* Classes must not overlap the built-in ones (nor each other): the class of a device number
 * would depend on the order of the ranges. Dynamic majors are checked by the agent at start. */
static int check_classes(struct ctx *c)
{
	struct ag_config *cfg = c->cfg;
	struct ag_devtab *t;
	char a[48], b[48];
	size_t i;
	int err;

	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = ag_devtab_init(t, NULL);
	for (i = 0; !err && i < cfg->n_devices; i++) {
		const struct ag_cfg_devclass *dc = &cfg->devices[i];
		const struct ag_class_range *r = NULL;
		unsigned int j;

		err = ag_devtab_add(t, dc->class_name, dc->major, dc->lo, dc->hi);
		if (err >= 0) {
			unsigned int on_major = 0;

			/* the kernel's table holds AG_MAX_RANGES per major: refuse here, with the line,
			 * what the agent could not load (it failed at start, naming no line) */
			for (j = 0; j < t->n_ranges; j++)
				on_major += t->ranges[j].major == dc->major;
			if (on_major > AG_MAX_RANGES) {
				err = fail_at(c, dc->line, "devices[%zu]: major %u has more than %d minor ranges (built-in ones included)",
					      i, dc->major, AG_MAX_RANGES);
				break;
			}
			err = 0;
			continue;
		}
		fmt_range(a, sizeof(a), dc->major, dc->lo, dc->hi);
		for (j = 0; err == -EEXIST && !r && j < t->n_ranges; j++)
			if (t->ranges[j].major == dc->major && dc->lo <= t->ranges[j].hi &&
			    t->ranges[j].lo <= dc->hi)
				r = &t->ranges[j];
		if (r) {
			fmt_range(b, sizeof(b), r->major, r->lo, r->hi);
			err = fail_at(c, dc->line, "devices[%zu]: %s of class '%s' overlaps %s of class '%s'",
				      i, a, dc->class_name, b, ag_devtab_class(t, r->class_id)->name);
		} else if (err == -ENOSPC) {
			err = fail_at(c, dc->line, "devices[%zu]: too many device classes or ranges (at most %d and %d)",
				      i, AG_MAX_CLASSES, AG_MAX_CLASS_RANGES);
		} else {
			err = fail_at(c, dc->line, "devices[%zu]: class '%s' %s refused: %s", i,
				      dc->class_name, a, strerror(-err));
		}
	}
	free(t);
	return err;
}

static int parse_devices(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "class", "major", "minor", "minors", NULL };
	struct ag_config *cfg = c->cfg;
	yaml_node_item_t *it;
	char key[KEYLEN], k2[KEYLEN + 16], d[80];
	int err;

	err = expect_type(c, n, YAML_SEQUENCE_NODE, "devices",
			  "a list of {class, major, minor | minors} mappings");
	if (err)
		return err;
	cfg->devices = alloc_n(seq_len(n), sizeof(*cfg->devices));
	if (!cfg->devices)
		return -ENOMEM;
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		const yaml_node_t *e = node(c, *it), *v, *minor, *minors;
		struct ag_cfg_devclass *dc = &cfg->devices[cfg->n_devices];
		const char *s;

		snprintf(key, sizeof(key), "devices[%zu]", cfg->n_devices);
		err = expect_type(c, e, YAML_MAPPING_NODE, key, "a {class, major, minor | minors} mapping");
		if (err)
			return err;
		err = check_keys(c, e, key, keys);
		if (err)
			return err;
		dc->line = line_of(e);
		if (!(v = map_get(c, e, "class")))
			return fail(c, e, "%s: missing 'class' (the name events give these devices)", key);
		snprintf(k2, sizeof(k2), "%s.class", key);
		err = get_str(c, v, k2, "a class name", &s);
		if (err)
			return err;
		if (!class_name_ok(s))
			return fail(c, v, "%s: expected a class name of letters, digits, '-', '_' or '.' (at most %d), found %s",
				    k2, AG_CLASS_NAME_LEN - 1, describe(v, d, sizeof(d)));
		dc->class_name = strdup(s);
		if (!dc->class_name)
			return -ENOMEM;
		cfg->n_devices++; /* from here on ag_config_free owns class_name */
		if (!(v = map_get(c, e, "major")))
			return fail(c, e, "%s: missing 'major'", key);
		snprintf(k2, sizeof(k2), "%s.major", key);
		err = get_uint(c, v, k2, 1, AG_MAX_MAJOR - 1, "an integer from 1 to 4095", &dc->major);
		if (err)
			return err;
		minor = map_get(c, e, "minor");
		minors = map_get(c, e, "minors");
		if (minor && minors)
			return fail(c, minors, "%s: give either 'minor' or 'minors', not both", key);
		if (minor) {
			snprintf(k2, sizeof(k2), "%s.minor", key);
			err = get_uint(c, minor, k2, 0, AG_MINOR_MAX, "an integer from 0 to 1048575",
				       &dc->lo);
			if (err)
				return err;
			dc->hi = dc->lo;
		} else if (minors) {
			snprintf(k2, sizeof(k2), "%s.minors", key);
			err = parse_minors(c, minors, k2, &dc->lo, &dc->hi);
			if (err)
				return err;
		} else {
			dc->lo = 0;
			dc->hi = AG_MINOR_ANY;
		}
	}
	return check_classes(c);
}

/* ---- allocations ---- */

static int parse_devspec_node(struct ctx *c, const yaml_node_t *n, const char *key,
			      struct ag_cfg_dev *dev)
{
	static const char what[] = "a device as MAJOR:MINOR, MAJOR:LO-HI, MAJOR:* or a device path";
	const char *s;
	char d[80];
	int err;

	err = get_str(c, n, key, what, &s);
	if (err)
		return err;
	err = ag_parse_devspec(s, &dev->major, &dev->lo, &dev->hi);
	switch (err) {
	case 0:
		break;
	case -EINVAL:
		if (s[0] != '/')
			return fail(c, n, "%s: expected %s, found %s", key, what, describe(n, d, sizeof(d)));
		return fail(c, n, "%s: device path %s: %s", key, describe(n, d, sizeof(d)), strerror(-err));
	case -ENOENT:
		return fail(c, n, "%s: device path %s does not exist", key, describe(n, d, sizeof(d)));
	case -ENOTBLK:
		return fail(c, n, "%s: device path %s is not a character device", key,
			    describe(n, d, sizeof(d)));
	default:
		return fail(c, n, "%s: device path %s: cannot stat: %s", key, describe(n, d, sizeof(d)),
			    strerror(-err));
	}
	dev->spec = strdup(s);
	if (!dev->spec)
		return -ENOMEM;
	dev->line = line_of(n);
	return 0;
}

static int parse_allocations(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "cgroup", "devices", NULL };
	struct ag_config *cfg = c->cfg;
	yaml_node_item_t *it, *dt;
	char key[KEYLEN], k2[KEYLEN + 32];
	int err;

	err = expect_type(c, n, YAML_SEQUENCE_NODE, "allocations", "a list of {cgroup, devices} mappings");
	if (!err)
		err = check_count(c, n, "allocations", seq_len(n), AG_CONFIG_MAX_LIST);
	if (err)
		return err;
	cfg->allocs = alloc_n(seq_len(n), sizeof(*cfg->allocs));
	if (!cfg->allocs)
		return -ENOMEM;
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		const yaml_node_t *e = node(c, *it), *v;
		struct ag_cfg_alloc *a = &cfg->allocs[cfg->n_allocs];

		snprintf(key, sizeof(key), "allocations[%zu]", cfg->n_allocs);
		err = expect_type(c, e, YAML_MAPPING_NODE, key, "a {cgroup, devices} mapping");
		if (err)
			return err;
		err = check_keys(c, e, key, keys);
		if (err)
			return err;
		cfg->n_allocs++;
		a->line = line_of(e);
		if (!(v = map_get(c, e, "cgroup")))
			return fail(c, e, "%s: missing 'cgroup'", key);
		snprintf(k2, sizeof(k2), "%s.cgroup", key);
		err = get_pattern(c, v, k2, &a->cgroup);
		if (err)
			return err;
		if (!(v = map_get(c, e, "devices")))
			return fail(c, e, "%s: missing 'devices'", key);
		snprintf(k2, sizeof(k2), "%s.devices", key);
		err = expect_type(c, v, YAML_SEQUENCE_NODE, k2, "a list of devices");
		if (err)
			return err;
		if (seq_len(v) == 0)
			return fail(c, v, "%s: expected at least one device", k2);
		if (seq_len(v) > AG_MAX_ALLOWED)
			return fail(c, v, "%s: at most %d devices per allocation, found %zu", k2,
				    AG_MAX_ALLOWED, seq_len(v));
		a->devices = alloc_n(seq_len(v), sizeof(*a->devices));
		if (!a->devices)
			return -ENOMEM;
		for (dt = v->data.sequence.items.start; dt < v->data.sequence.items.top; dt++) {
			snprintf(k2, sizeof(k2), "%s.devices[%zu]", key, a->n_devices);
			err = parse_devspec_node(c, node(c, *dt), k2, &a->devices[a->n_devices]);
			if (err)
				return err;
			a->n_devices++;
		}
	}
	return 0;
}

/* ---- kubernetes, host ---- */

static int parse_kubernetes(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "node_name", "podresources_socket", "cri_socket",
					    "api_server", "token_file", "ca_file", "events", "reports",
					    NULL };
	struct ag_cfg_kubernetes *k = &c->cfg->kubernetes;
	yaml_node_pair_t *p;
	char key[KEYLEN], d[80];
	int err;

	k->present = true;
	if (is_null(n))
		return 0; /* "kubernetes:" alone: on, with every default */
	err = expect_type(c, n, YAML_MAPPING_NODE, "kubernetes", "a mapping");
	if (err)
		return err;
	err = check_keys(c, n, "kubernetes", keys);
	if (err)
		return err;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *name = key_name(c, p), *s;
		const yaml_node_t *v = node(c, p->value);

		snprintf(key, sizeof(key), "kubernetes.%s", name);
		if (!strcmp(name, "node_name")) {
			err = dup_str(c, v, key, "a node name", &k->node_name);
		} else if (!strcmp(name, "podresources_socket")) {
			err = get_abs_path(c, v, key, true, &k->podresources_socket);
		} else if (!strcmp(name, "cri_socket")) {
			err = get_abs_path(c, v, key, true, &k->cri_socket);
		} else if (!strcmp(name, "token_file")) {
			err = get_abs_path(c, v, key, false, &k->token_file);
		} else if (!strcmp(name, "ca_file")) {
			err = get_abs_path(c, v, key, false, &k->ca_file);
		} else if (!strcmp(name, "events")) { /* on|off (YAML 1.1 reads them as true|false) */
			err = get_str(c, v, key, "on or off", &s);
			if (err)
				return err;
			if (!strcmp(s, "on") || !strcmp(s, "true"))
				k->events = true;
			else if (!strcmp(s, "off") || !strcmp(s, "false"))
				k->events = false; /* over an earlier file's on */
			else
				return fail(c, v, "%s: expected on or off, found %s", key,
					    describe(v, d, sizeof(d)));
		} else if (!strcmp(name, "reports")) {
			err = get_str(c, v, key, "wgpolicyk8s, openreports or off", &s);
			if (err)
				return err;
			if (!strcmp(s, "wgpolicyk8s"))
				k->reports = AG_REPORTS_WGPOLICY;
			else if (!strcmp(s, "openreports"))
				k->reports = AG_REPORTS_OPENREPORTS;
			else if (!strcmp(s, "off") || !strcmp(s, "false"))
				k->reports = AG_REPORTS_OFF;
			else
				return fail(c, v, "%s: expected wgpolicyk8s, openreports or off, found %s",
					    key, describe(v, d, sizeof(d)));
		} else { /* api_server: the token is sent to it, so plain http is refused */
			err = get_str(c, v, key, "an https:// URL or off", &s);
			if (err)
				return err;
			if (strcmp(s, "off") && (strncmp(s, "https://", 8) || !s[8]))
				return fail(c, v, "%s: expected an https:// URL or off, found %s", key,
					    describe(v, d, sizeof(d)));
			free(k->api_server);
			k->api_server = strdup(s);
			if (!k->api_server)
				return -ENOMEM;
		}
		if (err)
			return err;
	}
	return 0;
}

static int parse_host(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "proc", "sys", "cdi_dirs", "bundle_dirs", NULL };
	struct ag_cfg_host *h = &c->cfg->host;
	yaml_node_item_t *it;
	const yaml_node_t *v;
	char key[KEYLEN];
	int err;

	err = expect_type(c, n, YAML_MAPPING_NODE, "host", "a mapping");
	if (err)
		return err;
	err = check_keys(c, n, "host", keys);
	if (err)
		return err;
	if ((v = map_get(c, n, "proc"))) {
		err = get_abs_path(c, v, "host.proc", false, &h->proc);
		if (err)
			return err;
	}
	if ((v = map_get(c, n, "sys"))) {
		free(h->sys); /* a later file's replaces it */
		h->sys = NULL;
		err = get_abs_path(c, v, "host.sys", false, &h->sys);
		if (err)
			return err;
	}
	if ((v = map_get(c, n, "cdi_dirs"))) {
		err = expect_type(c, v, YAML_SEQUENCE_NODE, "host.cdi_dirs", "a list of directories");
		if (err)
			return err;
		if (seq_len(v) == 0)
			return fail(c, v, "host.cdi_dirs: expected at least one directory (leave the key out for the defaults)");
		free_strv(h->cdi_dirs, h->n_cdi_dirs); /* a later file's list replaces it */
		h->n_cdi_dirs = 0;
		h->cdi_dirs = alloc_n(seq_len(v), sizeof(*h->cdi_dirs));
		if (!h->cdi_dirs)
			return -ENOMEM;
		for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			snprintf(key, sizeof(key), "host.cdi_dirs[%zu]", h->n_cdi_dirs);
			err = get_abs_path(c, node(c, *it), key, false, &h->cdi_dirs[h->n_cdi_dirs]);
			if (err)
				return err;
			h->n_cdi_dirs++;
		}
	}
	if ((v = map_get(c, n, "bundle_dirs"))) {
		err = expect_type(c, v, YAML_SEQUENCE_NODE, "host.bundle_dirs", "a list of directories");
		if (err)
			return err;
		if (seq_len(v) == 0)
			return fail(c, v, "host.bundle_dirs: expected at least one directory (leave the key out for the defaults)");
		h->bundle_dirs = alloc_n(seq_len(v), sizeof(*h->bundle_dirs));
		if (!h->bundle_dirs)
			return -ENOMEM;
		for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			snprintf(key, sizeof(key), "host.bundle_dirs[%zu]", h->n_bundle_dirs);
			err = get_abs_path(c, node(c, *it), key, false, &h->bundle_dirs[h->n_bundle_dirs]);
			if (err)
				return err;
			h->n_bundle_dirs++;
		}
	}
	return 0;
}

static int parse_metrics(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "listen", "pod_labels", "max_series", "evidence",
					    "evidence_hours", NULL };
	struct ag_cfg_metrics *m = &c->cfg->metrics;
	const yaml_node_t *v;
	const char *s;
	char d[80];
	int err;

	err = expect_type(c, n, YAML_MAPPING_NODE, "metrics", "a mapping");
	if (!err)
		err = check_keys(c, n, "metrics", keys);
	if (err)
		return err;
	if ((v = map_get(c, n, "listen"))) {
		err = get_str(c, v, "metrics.listen", "IPV4:PORT, [IPV6]:PORT or off", &s);
		if (err)
			return err;
		if (strcmp(s, "off") && !strchr(s, ':'))
			return fail(c, v, "metrics.listen: expected IPV4:PORT, [IPV6]:PORT or off "
				    "(127.0.0.1:9464, 0.0.0.0:9464), found %s", describe(v, d, sizeof(d)));
		free(m->listen);
		m->listen = strdup(s);
		if (!m->listen)
			return -ENOMEM;
	}
	if ((v = map_get(c, n, "pod_labels")) && (err = get_bool(c, v, "metrics.pod_labels", &m->pod_labels)))
		return err;
	if ((v = map_get(c, n, "evidence")) && (err = get_bool(c, v, "metrics.evidence", &m->evidence)))
		return err;
	if ((v = map_get(c, n, "evidence_hours")) &&
	    (err = get_uint(c, v, "metrics.evidence_hours", 1, 8760,
			    "an integer from 1 to 8760 (hours of the journal in the bundle)",
			    &m->evidence_hours)))
		return err;
	if ((v = map_get(c, n, "max_series")))
		return get_uint(c, v, "metrics.max_series", 10, 100000,
				"an integer from 10 to 100000 (label sets of the per-event counts)",
				&m->max_series);
	return 0;
}

/* ---- journal, selftest ---- */

static int parse_journal(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "dir", "segment_kb", "segment_age_s", "max_kb",
					    "flush_ms", NULL };
	struct ag_cfg_journal *j = &c->cfg->journal;
	const yaml_node_t *v;
	int err = 0;

	err = expect_type(c, n, YAML_MAPPING_NODE, "journal", "a mapping with dir");
	if (err)
		return err;
	err = check_keys(c, n, "journal", keys);
	if (err)
		return err;
	if (!j->present) { /* the defaults, unless an earlier file of the directory set them */
		j->present = true;
		j->segment_kb = 16384;
		j->segment_age_s = 3600;
		j->max_kb = 262144;
		j->flush_ms = 1000;
	}
	v = map_get(c, n, "dir");
	if (!v && !j->dir)
		return fail(c, n, "journal: dir is required (the directory of the journal's segments)");
	if (v)
		err = get_abs_path(c, v, "journal.dir", false, &j->dir);
	if (!err && (v = map_get(c, n, "segment_kb")))
		err = get_uint(c, v, "journal.segment_kb", 4, 4u << 20,
			       "an integer from 4 to 4194304 (KiB)", &j->segment_kb);
	if (!err && (v = map_get(c, n, "segment_age_s")))
		err = get_uint(c, v, "journal.segment_age_s", 1, 31u * 86400,
			       "an integer from 1 to 2678400 (seconds)", &j->segment_age_s);
	if (!err && (v = map_get(c, n, "max_kb")))
		err = get_uint(c, v, "journal.max_kb", 8, 0xffffffffu,
			       "an integer of at least 8 (KiB)", &j->max_kb);
	if (!err && (v = map_get(c, n, "flush_ms")))
		err = get_uint(c, v, "journal.flush_ms", 10, 600000,
			       "an integer from 10 to 600000 (milliseconds)", &j->flush_ms);
	if (!err && j->max_kb < 2 * (__u64)j->segment_kb)
		err = fail(c, n, "journal: max_kb (%u) must be at least twice segment_kb (%u)",
			   j->max_kb, j->segment_kb);
	return err;
}

static int parse_selftest(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = { "at_start", "interval_s", "socket", NULL };
	struct ag_cfg_selftest *t = &c->cfg->selftest;
	const yaml_node_t *v;
	int err;

	err = expect_type(c, n, YAML_MAPPING_NODE, "selftest", "a mapping");
	if (!err)
		err = check_keys(c, n, "selftest", keys);
	if (err)
		return err;
	if ((v = map_get(c, n, "at_start")) && (err = get_bool(c, v, "selftest.at_start", &t->at_start)))
		return err;
	if ((v = map_get(c, n, "socket"))) {
		err = get_abs_path(c, v, "selftest.socket", true, &t->socket);
		if (err)
			return err;
	}
	if ((v = map_get(c, n, "interval_s")))
		err = get_uint(c, v, "selftest.interval_s", 0, 7u * 86400,
			       "an integer from 0 (never) to 604800 (seconds)", &t->interval_s);
	return err;
}

static const struct {
	const char *key;
	int (*parse)(struct ctx *c, const yaml_node_t *n);
} top[] = {
	{ "mode", parse_mode },
	{ "unresolved", parse_unresolved },
	{ "rate_limit", parse_rate_limit },
	{ "reads", parse_reads },
	{ "pin_dir", parse_pin_dir },
	{ "tenants", parse_tenants },
	{ "exempt", parse_exempt },
	{ "devices", parse_devices },
	{ "allocations", parse_allocations },
	{ "kubernetes", parse_kubernetes },
	{ "host", parse_host },
	{ "metrics", parse_metrics },
	{ "journal", parse_journal },
	{ "selftest", parse_selftest },
};

static void free_exempt_k8s(struct ag_config *cfg);
static void free_devices(struct ag_config *cfg);
static void free_allocs(struct ag_config *cfg);

/* A list set by an earlier file of a configuration directory is replaced whole by a later
 * file's (nothing to drop for the first file). */
static void drop_list(struct ag_config *cfg, const char *key)
{
	if (!strcmp(key, "tenants")) {
		free_strv(cfg->tenants, cfg->n_tenants);
		cfg->tenants = NULL;
		cfg->n_tenants = 0;
	} else if (!strcmp(key, "exempt")) {
		free_strv(cfg->exempt, cfg->n_exempt);
		cfg->exempt = NULL;
		cfg->n_exempt = 0;
		free_exempt_k8s(cfg);
	} else if (!strcmp(key, "devices")) {
		free_devices(cfg);
	} else if (!strcmp(key, "allocations")) {
		free_allocs(cfg);
	}
}

static int parse_root(struct ctx *c, const yaml_node_t *root)
{
	const char *keys[sizeof(top) / sizeof(top[0]) + 1];
	yaml_node_pair_t *p;
	char d[80];
	size_t i;
	int err;

	if (root->type != YAML_MAPPING_NODE)
		return fail(c, root, "expected a mapping of settings (mode, tenants, ...) at the top level, found %s",
			    describe(root, d, sizeof(d)));
	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		keys[i] = top[i].key;
	keys[i] = NULL;
	err = check_keys(c, root, "", keys);
	if (err)
		return err;
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *name = key_name(c, p);

		for (i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
			if (strcmp(top[i].key, name))
				continue;
			drop_list(c->cfg, name);
			err = top[i].parse(c, node(c, p->value));
			if (err)
				return err;
		}
	}
	return 0;
}

static bool has_nul(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       memchr(n->data.scalar.value, '\0', n->data.scalar.length);
}

/* A key for a message: its text when printable, else describe()'s form. */
static const char *key_text(const yaml_node_t *k, char *buf, size_t len)
{
	if (k && k->type == YAML_SCALAR_NODE && !has_nul(k)) {
		const unsigned char *v = k->data.scalar.value;
		size_t i;

		for (i = 0; i < k->data.scalar.length && v[i] >= 0x20 && v[i] != 0x7f; i++)
			;
		if (i == k->data.scalar.length && i < 64)
			return (const char *)v;
	}
	return describe(k, buf, len);
}

/*
 * No setting takes a NUL byte, and the parsers compare C strings: "enforce\0junk" would read as
 * enforce, or worse as a shorter path. Refuse every scalar that holds one, keys included, after
 * the settings' own checks (whose messages say what was expected). One linear pass over the
 * document's nodes: aliases (even a cycle) cost nothing more.
 */
static int refuse_nul(struct ctx *c)
{
	yaml_node_t *n;
	char d[80], k[80];

	for (n = c->doc->nodes.start; n < c->doc->nodes.top; n++) {
		yaml_node_pair_t *p;
		yaml_node_item_t *it;

		if (n->type != YAML_MAPPING_NODE)
			continue;
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			const yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);

			if (has_nul(kn))
				return fail(c, kn, "a key with a NUL byte: %s (no setting takes one)",
					    describe(kn, d, sizeof(d)));
			if (has_nul(vn))
				return fail(c, vn, "%s: a NUL byte in %s (no setting takes one)",
					    key_text(kn, k, sizeof(k)), describe(vn, d, sizeof(d)));
			if (!vn || vn->type != YAML_SEQUENCE_NODE)
				continue;
			for (it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++)
				if (has_nul(node(c, *it)))
					return fail(c, node(c, *it),
						    "%s[%zu]: a NUL byte in %s (no setting takes one)",
						    key_text(kn, k, sizeof(k)),
						    (size_t)(it - vn->data.sequence.items.start),
						    describe(node(c, *it), d, sizeof(d)));
		}
	}
	/* anything else: the top level, a list in a list */
	for (n = c->doc->nodes.start; n < c->doc->nodes.top; n++)
		if (has_nul(n))
			return fail(c, n, "a NUL byte in %s (no setting takes one)",
				    describe(n, d, sizeof(d)));
	return 0;
}

/* 1-based line of a byte offset, for libyaml reader errors (which carry no mark). */
static int line_at(const char *buf, size_t len, size_t off)
{
	size_t i;
	int line = 1;

	for (i = 0; i < off && i < len; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}

static int yaml_fail(struct ctx *c, yaml_parser_t *p, const char *buf, size_t len)
{
	int line = p->error == YAML_READER_ERROR ? line_at(buf, len, p->problem_offset)
						 : (int)p->problem_mark.line + 1;

	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(c->err, c->errlen, "%s: out of memory while parsing", c->file);
		return -ENOMEM;
	}
	if (p->context)
		snprintf(c->err, c->errlen, "%s:%d: invalid YAML: %s (%s on line %d)", c->file, line,
			 p->problem ? p->problem : "syntax error", p->context,
			 (int)p->context_mark.line + 1);
	else
		snprintf(c->err, c->errlen, "%s:%d: invalid YAML: %s", c->file, line,
			 p->problem ? p->problem : "syntax error");
	return -EINVAL;
}

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fileno(f), &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* whoever can write it (or swap it, through a directory above it) decides what is
	 * enforced: the file that was opened, and its directories, are checked */
	ret = ag_file_trusted(fileno(f), path, "turn enforcement off", err, errlen);
	if (ret)
		goto out;
	if ((unsigned long long)st.st_size > AG_CONFIG_MAX_SIZE) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s: too large (%lld bytes, at most %u)", path,
			 (long long)st.st_size, AG_CONFIG_MAX_SIZE);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		ret = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		free(buf);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	ret = 0;
out:
	fclose(f);
	return ret;
}

/* Parse buf (len bytes; buf[len] == '\0' not required) into c->cfg, set up by the caller. */
static int parse_buf(struct ctx *c, const char *buf, size_t len)
{
	const char *path = c->file;
	char *err = c->err;
	size_t errlen = c->errlen;
	yaml_document_t doc, doc2;
	yaml_parser_t parser;
	yaml_node_t *root;
	int ret;

	if (len > AG_CONFIG_MAX_SIZE) {
		snprintf(err, errlen, "%s: too large (%zu bytes, at most %u)", path, len,
			 AG_CONFIG_MAX_SIZE);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	{
		size_t line = 0;

		if (ag_yaml_too_deep(&parser, AG_YAML_MAX_DEPTH, &line) == 1) {
			snprintf(err, errlen, "%s:%zu: nested deeper than %d levels", path, line,
				 AG_YAML_MAX_DEPTH);
			yaml_parser_delete(&parser);
			return -EINVAL;
		}
		yaml_parser_delete(&parser);
		if (!yaml_parser_initialize(&parser))
			return -ENOMEM;
		yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	}
	if (!yaml_parser_load(&parser, &doc)) { /* the loader deletes doc on failure */
		ret = yaml_fail(c, &parser, buf, len);
		goto out_parser;
	}
	c->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || is_null(root)) {
		/* line 1: an empty node's mark points past the comments and "---" */
		snprintf(err, errlen, "%s:1: empty configuration (expected a mapping of settings: mode, tenants, ...)",
			 path);
		ret = -EINVAL;
		goto out_doc;
	}
	/* A second document would be silently ignored: refuse it. */
	if (!yaml_parser_load(&parser, &doc2)) {
		ret = yaml_fail(c, &parser, buf, len);
		goto out_doc;
	}
	if (yaml_document_get_root_node(&doc2)) {
		snprintf(err, errlen, "%s:%d: more than one YAML document (only one is read)", path,
			 (int)doc2.start_mark.line + 1);
		yaml_document_delete(&doc2);
		ret = -EINVAL;
		goto out_doc;
	}
	yaml_document_delete(&doc2);
	ret = parse_root(c, root);
	if (!ret)
		ret = refuse_nul(c);
out_doc:
	yaml_document_delete(&doc);
	c->doc = NULL;
out_parser:
	yaml_parser_delete(&parser);
	return ret;
}

static int config_init(struct ag_config *cfg, const char *path, char *err, size_t errlen)
{
	err[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = AG_MODE_AUDIT;
	cfg->rate_limit = AG_RATE_LIMIT_DEFAULT;
	if (!path) {
		snprintf(err, errlen, "(null): no configuration file given");
		return -EINVAL;
	}
	return 0;
}

/* The files of a configuration directory: *.yaml and *.yml, no hidden ones (a ConfigMap
 * volume's ..data and its timestamped directory), in byte order. */
static int yaml_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' &&
	       ((n > 5 && !strcmp(d->d_name + n - 5, ".yaml")) ||
		(n > 4 && !strcmp(d->d_name + n - 4, ".yml")));
}

/* Parse one file into c->cfg, on top of what earlier files set. */
static int load_one(struct ctx *c, const char *file)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	c->file = file;
	ret = read_file(file, &buf, &len, c->err, c->errlen);
	if (ret)
		return ret;
	ret = parse_buf(c, buf, len);
	free(buf);
	return ret;
}

/*
 * path is a file, or a directory whose *.yaml files are read in byte order, each on top of
 * the ones before: a later file's scalar replaces an earlier one's, a mapping (kubernetes,
 * metrics, journal, ...) is merged key by key, a list replaces the earlier list whole. A
 * Kubernetes overlay adds a small file to the base's ConfigMap this way.
 */
int ag_config_load(const char *path, struct ag_config *cfg, char *err, size_t errlen)
{
	char dummy[1];
	struct ctx c = { .file = path, .cfg = cfg, .err = err, .errlen = errlen };
	struct dirent **ents = NULL;
	struct stat st;
	int ret, n = 0;

	if (!cfg)
		return -EINVAL;
	if (!err || !errlen) {
		c.err = err = dummy;
		c.errlen = errlen = sizeof(dummy);
	}
	ret = config_init(cfg, path, err, errlen);
	if (ret)
		return ret;
	cfg->path = strdup(path);
	if (!cfg->path)
		return -ENOMEM;
	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		ret = load_one(&c, path);
		goto out;
	}
	n = scandir(path, &ents, yaml_file, alphasort);
	if (n < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot read the directory: %s", path, strerror(-ret));
		goto out;
	}
	if (!n) {
		ret = -ENOENT;
		snprintf(err, errlen, "%s: a directory without *.yaml files", path);
		goto out;
	}
	for (int i = 0; i < n && !ret; i++) {
		char *file = NULL;

		if (asprintf(&file, "%s/%s", path, ents[i]->d_name) < 0) {
			ret = -ENOMEM;
			break;
		}
		ret = load_one(&c, file);
		free(file);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
out:
	if (ret)
		ag_config_free(cfg);
	return ret;
}

int ag_config_for_journal(const char **path, const char **dir, struct ag_config *cfg, char *err,
			  size_t errlen)
{
	int r;

	if (!*path && !*dir && !access("/etc/accelguard/config.yaml", R_OK))
		*path = "/etc/accelguard/config.yaml";
	if (!*path)
		return 0;
	r = ag_config_load(*path, cfg, err, errlen);
	if (r)
		return r < 0 ? r : -EINVAL;
	if (!*dir && cfg->journal.present)
		*dir = cfg->journal.dir;
	return 1;
}

int ag_config_parse(const char *name, const char *buf, size_t len, struct ag_config *cfg, char *err,
		    size_t errlen)
{
	char dummy[1];
	struct ctx c = { .file = name, .cfg = cfg, .err = err, .errlen = errlen };
	int ret;

	if (!cfg)
		return -EINVAL;
	if (!err || !errlen) {
		c.err = err = dummy;
		c.errlen = errlen = sizeof(dummy);
	}
	ret = config_init(cfg, name, err, errlen);
	if (ret)
		return ret;
	cfg->path = strdup(name);
	ret = cfg->path ? parse_buf(&c, buf, len) : -ENOMEM;
	if (ret)
		ag_config_free(cfg);
	return ret;
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_exempt_k8s(struct ag_config *cfg)
{
	for (size_t i = 0; cfg->exempt_k8s && i < cfg->n_exempt_k8s; i++) {
		struct ag_cfg_exempt_k8s *e = &cfg->exempt_k8s[i];

		free(e->namespace);
		free(e->service_account);
		free_strv(e->label_keys, e->n_labels);
		free_strv(e->label_values, e->n_labels);
	}
	free(cfg->exempt_k8s);
	cfg->exempt_k8s = NULL;
	cfg->n_exempt_k8s = 0;
}

static void free_devices(struct ag_config *cfg)
{
	for (size_t i = 0; cfg->devices && i < cfg->n_devices; i++)
		free(cfg->devices[i].class_name);
	free(cfg->devices);
	cfg->devices = NULL;
	cfg->n_devices = 0;
}

static void free_allocs(struct ag_config *cfg)
{
	for (size_t i = 0; cfg->allocs && i < cfg->n_allocs; i++) {
		struct ag_cfg_alloc *a = &cfg->allocs[i];

		free(a->cgroup);
		for (size_t j = 0; a->devices && j < a->n_devices; j++)
			free(a->devices[j].spec);
		free(a->devices);
	}
	free(cfg->allocs);
	cfg->allocs = NULL;
	cfg->n_allocs = 0;
}

void ag_config_free(struct ag_config *cfg)
{

	if (!cfg)
		return;
	free(cfg->path);
	free_strv(cfg->tenants, cfg->n_tenants);
	free_strv(cfg->exempt, cfg->n_exempt);
	free_exempt_k8s(cfg);
	free_devices(cfg);
	free_allocs(cfg);
	free(cfg->kubernetes.node_name);
	free(cfg->kubernetes.podresources_socket);
	free(cfg->kubernetes.cri_socket);
	free(cfg->kubernetes.api_server);
	free(cfg->kubernetes.token_file);
	free(cfg->kubernetes.ca_file);
	free(cfg->host.proc);
	free(cfg->host.sys);
	free(cfg->pin_dir);
	free_strv(cfg->host.cdi_dirs, cfg->host.n_cdi_dirs);
	free_strv(cfg->host.bundle_dirs, cfg->host.n_bundle_dirs);
	free(cfg->metrics.listen);
	free(cfg->journal.dir);
	free(cfg->selftest.socket);
	memset(cfg, 0, sizeof(*cfg));
}
