// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <yaml.h>

#include "cdi.h"
#include "util.h"
#include "yamldepth.h"

struct ctx {
	struct ag_cdi_cache *c;
	size_t cap;
	const char *dev_root;
	ag_cdi_warn_fn warn;
	void *arg;
	const char *file;
	int prio;
};

static void warnf(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct ctx *x, const char *fmt, ...)
{
	char *why = NULL, *msg = NULL;
	va_list ap;
	int r;

	if (!x->warn)
		return;
	/* whole, whatever the file's name: a directory of 1,000 characters cut the cause off */
	va_start(ap, fmt);
	r = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (r < 0)
		why = NULL;
	if (asprintf(&msg, "cdi: %s: %s", x->file, why ? why : fmt) < 0)
		msg = NULL;
	x->warn(x->arg, msg ? msg : "cdi: a warning (no memory to say it)");
	free(msg);
	free(why);
}

/*
 * The spec is read from libyaml's events, not a document tree: the tree of a spec of short
 * scalars cost about 29 times the spec (a yaml_node_t, a tag and a value copy for each), the events
 * cost a few KiB whatever the spec. Passes over the text, each linear: the first checks it (the
 * nesting limit, parse errors of its first document) and learns the kind and each device's name
 * (either may come after what needs it); the second reads the spec's own containerEdits, the third
 * the devices. What is kept is what the cache holds: the device names and their nodes.
 */
struct ev {
	yaml_parser_t p;
	yaml_event_t e;
	bool live;
	size_t alias_line; /* 1-based line of the first alias met (0: none) */
};

static void ev_open(struct ev *v, const char *buf, size_t len)
{
	yaml_parser_initialize(&v->p);
	yaml_parser_set_input_string(&v->p, (const unsigned char *)buf, len);
	v->live = false;
	v->alias_line = 0;
}

static void ev_close(struct ev *v)
{
	if (v->live)
		yaml_event_delete(&v->e);
	v->live = false;
	yaml_parser_delete(&v->p);
}

static bool ev_next(struct ev *v)
{
	if (v->live)
		yaml_event_delete(&v->e);
	v->live = yaml_parser_parse(&v->p, &v->e);
	if (v->live && v->e.type == YAML_ALIAS_EVENT && !v->alias_line)
		v->alias_line = v->e.start_mark.line + 1;
	return v->live;
}

static bool ev_is(const struct ev *v, yaml_event_type_t t)
{
	return v->live && v->e.type == t;
}

/* The scalar of the current event, or NULL (a list, a mapping, an alias). */
static const char *ev_scalar(const struct ev *v)
{
	return ev_is(v, YAML_SCALAR_EVENT) ? (const char *)v->e.data.scalar.value : NULL;
}

/* Past the value that starts at the current event: the current event is then its last. */
static bool ev_skip(struct ev *v)
{
	int depth = 0;

	for (;;) {
		if (ev_is(v, YAML_SEQUENCE_START_EVENT) || ev_is(v, YAML_MAPPING_START_EVENT))
			depth++;
		else if (ev_is(v, YAML_SEQUENCE_END_EVENT) || ev_is(v, YAML_MAPPING_END_EVENT))
			depth--;
		if (depth <= 0)
			return v->live;
		if (!ev_next(v))
			return false;
	}
}

/*
 * The next key of the mapping being read: 1 with *key its name (NULL for a key that is no scalar:
 * it is skipped, as a lookup by name never matches it) and the current event its value's first;
 * 0 at the mapping's end; -1 on a parse error.
 */
static int ev_key(struct ev *v, char *key, size_t keylen, bool *named)
{
	if (!ev_next(v))
		return -1;
	if (ev_is(v, YAML_MAPPING_END_EVENT))
		return 0;
	*named = ev_scalar(v) != NULL;
	if (*named) {
		/* only short keys are looked for: a longer one is no match; compared up to a NUL
		 * byte (strcmp, as the document API's reading was) */
		const char *k = ev_scalar(v);
		size_t n = strlen(k);

		if (n >= keylen)
			*named = false;
		else
			memcpy(key, k, n + 1);
	} else if (!ev_skip(v)) {
		return -1;
	}
	return ev_next(v) ? 1 : -1;
}

/* Into the first document's root: the current event is its first, or false (no document). */
static bool ev_root(struct ev *v)
{
	while (ev_next(v)) {
		if (ev_is(v, YAML_DOCUMENT_START_EVENT))
			return ev_next(v);
		if (ev_is(v, YAML_STREAM_END_EVENT))
			return false;
	}
	return false;
}

/* In the root mapping, to the value of its first key of that name (the current event). */
static bool ev_find_root_key(struct ev *v, const char *name)
{
	char key[32];
	bool named;

	if (!ev_root(v) || !ev_is(v, YAML_MAPPING_START_EVENT))
		return false;
	while (ev_key(v, key, sizeof(key), &named) == 1) {
		if (named && !strcmp(key, name))
			return true;
		if (!ev_skip(v))
			return false;
	}
	return false;
}

static int num(const char *s, __u32 *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0xfffff)
		return -EINVAL;
	*out = (__u32)v;
	return 0;
}

/* A deviceNode's fields (the first of each name, NULL where that is no scalar), copied out of
 * the events. */
struct dnode {
	char *path, *host, *type, *maj, *min;
	bool has_path, has_host, has_type, has_maj, has_min;
};

static void dnode_free(struct dnode *d)
{
	free(d->path);
	free(d->host);
	free(d->type);
	free(d->maj);
	free(d->min);
	memset(d, 0, sizeof(*d));
}

/* One item of deviceNodes (its first event current) -> d. 0, -ENOMEM, -EBADMSG (parse error). */
static int dnode_read(struct ev *v, struct dnode *d)
{
	char key[16];
	bool named;
	int r;

	memset(d, 0, sizeof(*d));
	if (!ev_is(v, YAML_MAPPING_START_EVENT))
		return ev_skip(v) ? 0 : -EBADMSG;
	while ((r = ev_key(v, key, sizeof(key), &named)) == 1) {
		char **f = NULL;
		bool *has = NULL;

		if (!named)
			;
		else if (!strcmp(key, "path"))
			f = &d->path, has = &d->has_path;
		else if (!strcmp(key, "hostPath"))
			f = &d->host, has = &d->has_host;
		else if (!strcmp(key, "type"))
			f = &d->type, has = &d->has_type;
		else if (!strcmp(key, "major"))
			f = &d->maj, has = &d->has_maj;
		else if (!strcmp(key, "minor"))
			f = &d->min, has = &d->has_min;
		if (f && !*has) {
			*has = true;
			if (ev_scalar(v) && !(*f = strdup(ev_scalar(v))))
				return -ENOMEM;
		}
		if (!ev_skip(v))
			return -EBADMSG;
	}
	return r < 0 ? -EBADMSG : 0;
}

/* The value of a deviceNodes key (its first event current): char device nodes onto *nodes. */
static int read_nodes(struct ctx *x, struct ev *v, const char *dev, bool shared,
		      struct ag_cdi_node **nodes, size_t *n)
{
	bool full = false;

	if (!ev_is(v, YAML_SEQUENCE_START_EVENT)) {
		warnf(x, "device %s: deviceNodes is not a list", dev);
		return ev_skip(v) ? 0 : -EBADMSG;
	}
	while (ev_next(v) && !ev_is(v, YAML_SEQUENCE_END_EVENT)) {
		struct ag_cdi_node cn = { .shared = shared };
		struct ag_cdi_node *nn;
		struct dnode d;
		int ret;

		if (full) {
			if (!ev_skip(v))
				return -EBADMSG;
			continue;
		}
		ret = dnode_read(v, &d);
		if (ret) {
			dnode_free(&d);
			return ret;
		}
		if (!d.path) {
			warnf(x, "device %s: a deviceNode has no path", dev);
			dnode_free(&d);
			continue;
		}
		if (d.type && strcmp(d.type, "c") && strcmp(d.type, "u")) {
			dnode_free(&d);
			continue; /* block devices and fifos are no accelerators */
		}
		if (d.has_maj) {
			if (num(d.maj, &cn.major) < 0 || (d.has_min && num(d.min, &cn.minor) < 0)) {
				warnf(x, "device %s: node %s: major/minor is not a device number", dev,
				      d.path);
				dnode_free(&d);
				continue;
			}
		} else {
			char full_path[4096];
			struct stat st;

			snprintf(full_path, sizeof(full_path), "%s%s", x->dev_root ? x->dev_root : "",
				 d.host ? d.host : d.path);
			if (stat(full_path, &st) < 0) {
				warnf(x, "device %s: node %s gives no numbers and stat(%s) failed: %s",
				      dev, d.path, full_path, strerror(errno));
				dnode_free(&d);
				continue;
			}
			if (!S_ISCHR(st.st_mode)) {
				dnode_free(&d);
				continue;
			}
			cn.major = major(st.st_rdev);
			cn.minor = minor(st.st_rdev);
		}
		dnode_free(&d);
		if (*n >= AG_CDI_MAX_NODES) {
			warnf(x, "device %s: more than %u deviceNodes: the rest skipped", dev,
			      AG_CDI_MAX_NODES);
			full = true;
			continue;
		}
		nn = realloc(*nodes, (*n + 1) * sizeof(**nodes));
		if (!nn)
			return -ENOMEM;
		*nodes = nn;
		nn[(*n)++] = cn;
	}
	return v->live ? 0 : -EBADMSG;
}

/* The value of a containerEdits key: its deviceNodes (the first such key). */
static int read_edits(struct ctx *x, struct ev *v, const char *dev, bool shared,
		      struct ag_cdi_node **nodes, size_t *n)
{
	char key[16];
	bool named, done = false;
	int r, ret = 0;

	if (!ev_is(v, YAML_MAPPING_START_EVENT))
		return ev_skip(v) ? 0 : -EBADMSG;
	while (!ret && (r = ev_key(v, key, sizeof(key), &named)) == 1) {
		if (named && !done && !strcmp(key, "deviceNodes")) {
			done = true;
			ret = read_nodes(x, v, dev, shared, nodes, n);
		} else if (!ev_skip(v)) {
			ret = -EBADMSG;
		}
	}
	return ret ? ret : r < 0 ? -EBADMSG : 0;
}

static int add_device(struct ctx *x, const char *kind, const char *name, struct ag_cdi_node *nodes,
		      size_t n)
{
	struct ag_cdi_cache *c = x->c;
	struct ag_cdi_device *dv;

	for (size_t i = 0; i < c->n; i++) {
		dv = &c->devs[i];
		if (strcmp(dv->kind, kind) || strcmp(dv->name, name))
			continue;
		if (dv->prio == x->prio) {
			warnf(x, "device %s=%s is also defined in %s: keeping that one", kind, name,
			      dv->file);
			free(nodes);
			return 0;
		}
		/* a later directory wins */
		c->n_nodes += n - dv->n_nodes;
		free(dv->nodes);
		free(dv->file);
		dv->nodes = nodes;
		dv->n_nodes = n;
		dv->prio = x->prio;
		dv->file = strdup(x->file);
		return dv->file ? 0 : -ENOMEM;
	}
	if (c->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;

		dv = realloc(c->devs, cap * sizeof(*dv));
		if (!dv) {
			free(nodes);
			return -ENOMEM;
		}
		c->devs = dv;
		x->cap = cap;
	}
	dv = &c->devs[c->n];
	dv->kind = strdup(kind);
	dv->name = strdup(name);
	dv->file = strdup(x->file);
	dv->nodes = nodes;
	dv->n_nodes = n;
	dv->prio = x->prio;
	c->n++;
	c->n_nodes += n;
	return dv->kind && dv->name && dv->file ? 0 : -ENOMEM;
}

static bool valid_kind(const char *k)
{
	const char *slash = strchr(k, '/');

	return slash && slash > k && slash[1] && !strchr(slash + 1, '/') && !strchr(k, '=');
}

/* What the first pass learns: the kind, and the name of each device item that has a valid one
 * (its index among the items, its name in one pool of names: about the size of the names). */
struct first {
	bool mapping, kind_seen, devs_seen, devs_list;
	char *kind;
	struct { __u32 item, off; } *names;
	size_t n_names, cap_names;
	char *pool;
	size_t pool_len, pool_cap;
};

static void first_free(struct first *f)
{
	free(f->kind);
	free(f->names);
	free(f->pool);
}

static int add_name(struct first *f, size_t item, const char *name)
{
	size_t l = strlen(name) + 1;

	if (f->n_names == f->cap_names) {
		size_t cap = f->cap_names ? f->cap_names * 2 : 64;
		void *nv = realloc(f->names, cap * sizeof(*f->names));

		if (!nv)
			return -ENOMEM;
		f->names = nv;
		f->cap_names = cap;
	}
	if (f->pool_len + l > f->pool_cap) {
		size_t cap = f->pool_cap ? f->pool_cap : 1024;
		char *np;

		while (cap < f->pool_len + l)
			cap *= 2;
		np = realloc(f->pool, cap);
		if (!np)
			return -ENOMEM;
		f->pool = np;
		f->pool_cap = cap;
	}
	memcpy(f->pool + f->pool_len, name, l);
	f->names[f->n_names].item = (__u32)item;
	f->names[f->n_names++].off = (__u32)f->pool_len;
	f->pool_len += l;
	return 0;
}

static bool valid_name(const char *name)
{
	return name && *name && !strchr(name, '=');
}

/* The name of a device item (its first event current), or NULL; the item is then consumed. */
static int item_name(struct ev *v, char **out)
{
	char key[8];
	bool named, done = false;
	int r;

	*out = NULL;
	if (!ev_is(v, YAML_MAPPING_START_EVENT))
		return ev_skip(v) ? 0 : -EBADMSG;
	while ((r = ev_key(v, key, sizeof(key), &named)) == 1) {
		if (named && !done && !strcmp(key, "name")) {
			done = true;
			if (ev_scalar(v) && !(*out = strdup(ev_scalar(v))))
				return -ENOMEM;
		}
		if (!ev_skip(v))
			return -EBADMSG;
	}
	return r < 0 ? -EBADMSG : 0;
}

/*
 * The first pass: the nesting limit over the whole stream (yamldepth.h: it bounds libyaml's cost),
 * parse errors of the first document (a later one is not read, as yaml_parser_load did), the root's
 * kind and device names. 1: the spec is skipped (warned), 0: go on, -ENOMEM.
 */
static int first_pass(struct ctx *x, const char *buf, size_t len, struct first *f)
{
	struct ev v;
	size_t line = 0;
	int r, ret = 0;

	ev_open(&v, buf, len);
	r = ag_yaml_too_deep(&v.p, AG_YAML_MAX_DEPTH, &line);
	ev_close(&v);
	if (r == 1) {
		warnf(x, "line %zu: nested deeper than %d levels: skipped", line, AG_YAML_MAX_DEPTH);
		return 1;
	}
	ev_open(&v, buf, len);
	if (ev_root(&v) && ev_is(&v, YAML_MAPPING_START_EVENT)) {
		char key[16];
		bool named;

		f->mapping = true;
		while (!ret && (r = ev_key(&v, key, sizeof(key), &named)) == 1) {
			if (named && !f->kind_seen && !strcmp(key, "kind")) {
				f->kind_seen = true;
				if (ev_scalar(&v) && !(f->kind = strdup(ev_scalar(&v))))
					ret = -ENOMEM;
			} else if (named && !f->devs_seen && !strcmp(key, "devices")) {
				f->devs_seen = true;
				f->devs_list = ev_is(&v, YAML_SEQUENCE_START_EVENT);
				for (size_t i = 0; !ret && f->devs_list && ev_next(&v) &&
				     !ev_is(&v, YAML_SEQUENCE_END_EVENT); i++) {
					char *name = NULL;

					ret = item_name(&v, &name);
					if (!ret && valid_name(name))
						ret = add_name(f, i, name);
					free(name);
				}
				if (!ret && f->devs_list && !v.live)
					ret = -EBADMSG;
				continue;
			}
			if (!ret && !ev_skip(&v))
				ret = -EBADMSG;
		}
		if (!ret && r < 0)
			ret = -EBADMSG;
		/* the document's end, where yaml_parser_load stopped */
		if (!ret && !ev_next(&v))
			ret = -EBADMSG;
	} else if (v.live) {
		/* no CDI spec, unless there is a parse error in it (reported first, as before) */
		if (!ev_is(&v, YAML_STREAM_END_EVENT) && (!ev_skip(&v) || !ev_next(&v)))
			ret = -EBADMSG;
	} else {
		ret = -EBADMSG;
	}
	if (ret == -EBADMSG) {
		warnf(x, "line %zu: %s%s%s", v.p.problem_mark.line + 1,
		      v.p.problem ? v.p.problem : "parse error", v.p.context ? " " : "",
		      v.p.context ? v.p.context : "");
		ret = 1;
	} else if (!ret && f->mapping && v.alias_line) {
		/* the events do not resolve an alias (a document tree would: at its cost); a spec
		 * read without what it refers to could give a device the wrong nodes */
		warnf(x, "line %zu: a YAML alias: aliases are not supported in a CDI spec: skipped",
		      v.alias_line);
		ret = 1;
	}
	ev_close(&v);
	return ret;
}

/* One spec of len bytes into x->c. */
static int load_spec(struct ctx *x, const char *buf, size_t len)
{
	struct first f = { 0 };
	struct ag_cdi_node *common = NULL;
	size_t n_common = 0, next = 0;
	struct ev v;
	int ret;

	ret = first_pass(x, buf, len, &f);
	if (ret) {
		first_free(&f);
		return ret == 1 ? 0 : ret;
	}
	if (!f.mapping) {
		warnf(x, "not a CDI spec (no top-level mapping)");
		goto out;
	}
	if (!f.kind || !valid_kind(f.kind)) {
		warnf(x, "kind '%s' is not vendor.com/class", f.kind ? f.kind : "");
		goto out;
	}
	if (!f.devs_list) {
		warnf(x, "no devices list");
		goto out;
	}
	ev_open(&v, buf, len);
	if (ev_find_root_key(&v, "containerEdits"))
		ret = read_edits(x, &v, "(spec)", true, &common, &n_common);
	ev_close(&v);
	if (ret)
		goto out;
	ev_open(&v, buf, len);
	if (!ev_find_root_key(&v, "devices")) {
		ev_close(&v);
		goto out;
	}
	for (size_t i = 0; !ret && ev_next(&v) && !ev_is(&v, YAML_SEQUENCE_END_EVENT); i++) {
		struct ag_cdi_node *nodes = NULL;
		size_t n = 0;
		const char *name;
		char key[16];
		bool named, done = false;
		int r;

		if (next >= f.n_names || f.names[next].item != i) {
			warnf(x, "a device has no valid name");
			if (!ev_skip(&v))
				ret = -EBADMSG;
			continue;
		}
		name = f.pool + f.names[next++].off;
		if (x->c->n >= AG_CDI_MAX_DEVICES) {
			warnf(x, "device %s and the rest skipped: more than %u CDI devices in all", name,
			      AG_CDI_MAX_DEVICES);
			break;
		}
		/* a device with a name is a mapping */
		while (!ret && (r = ev_key(&v, key, sizeof(key), &named)) == 1) {
			if (named && !done && !strcmp(key, "containerEdits")) {
				done = true;
				ret = read_edits(x, &v, name, false, &nodes, &n);
			} else if (!ev_skip(&v)) {
				ret = -EBADMSG;
			}
		}
		if (!ret && r < 0)
			ret = -EBADMSG;
		if (!ret && x->c->n_nodes + n + n_common > AG_CDI_MAX_NODES_ALL) {
			warnf(x, "device %s and the rest skipped: more than %u deviceNodes in all", name,
			      AG_CDI_MAX_NODES_ALL);
			free(nodes);
			break;
		}
		if (!ret && n_common) {
			struct ag_cdi_node *nn = realloc(nodes, (n + n_common) * sizeof(*nn));

			if (!nn) {
				ret = -ENOMEM;
			} else {
				memcpy(nn + n, common, n_common * sizeof(*nn));
				nodes = nn;
				n += n_common;
			}
		}
		if (ret) {
			free(nodes);
			break;
		}
		ret = add_device(x, f.kind, name, nodes, n);
	}
	ev_close(&v);
	/* the first pass read this text without an error: none is met again */
	if (ret == -EBADMSG)
		ret = 0;
out:
	free(common);
	first_free(&f);
	return ret;
}

/* A spec says which device nodes a CDI name (a DRA claim's, a MIG device's) stands for: one
 * that others can write or replace is not believed (util.h ag_file_trusted: what was opened on
 * fd, and the directories above it). */
static bool trusted_spec(struct ctx *x, int fd, const char *path)
{
	char why[1024];
	size_t pl = strlen(path);

	if (!ag_file_trusted(fd, path, "change which devices a CDI name stands for", why, sizeof(why)))
		return true;
	/* why is "PATH: reason", and warnf names the file already */
	warnf(x, "skipped: %s",
	      !strncmp(why, path, pl) && !strncmp(why + pl, ": ", 2) ? why + pl + 2 : why);
	return false;
}

static int load_file(struct ctx *x, const char *path)
{
	struct stat st;
	char *buf;
	size_t n, cap;
	FILE *f;
	int ret;

	x->file = path;
	f = fopen(path, "re");
	if (!f) {
		warnf(x, "cannot read: %s", strerror(errno));
		return 0;
	}
	if (!trusted_spec(x, fileno(f), path)) {
		fclose(f);
		return 0;
	}
	if (fstat(fileno(f), &st) < 0)
		st.st_size = AG_CDI_MAX_SPEC;
	if (st.st_size > AG_CDI_MAX_SPEC) {
		warnf(x, "skipped: %lld bytes, over the %u-byte limit of a spec",
		      (long long)st.st_size, AG_CDI_MAX_SPEC);
		fclose(f);
		return 0;
	}
	/* read whole, into a buffer of its size and one byte more; a file grown since the fstat gets
	 * the limit's (one more byte: past it, refused as too large) */
	cap = st.st_size >= 0 ? (size_t)st.st_size + 1 : AG_CDI_MAX_SPEC + 1;
	buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, cap, f);
	if (n == cap && cap < AG_CDI_MAX_SPEC + 1 && !ferror(f)) {
		char *nb = realloc(buf, AG_CDI_MAX_SPEC + 1);

		if (!nb) {
			free(buf);
			fclose(f);
			return -ENOMEM;
		}
		buf = nb;
		n += fread(buf + n, 1, AG_CDI_MAX_SPEC + 1 - n, f);
	}
	if (ferror(f)) {
		warnf(x, "cannot read: %s", strerror(errno));
		ret = 0;
	} else if (n > AG_CDI_MAX_SPEC) {
		warnf(x, "skipped: over the %u-byte limit of a spec", AG_CDI_MAX_SPEC);
		ret = 0;
	} else {
		ret = load_spec(x, buf, n);
	}
	free(buf);
	fclose(f);
	return ret;
}

int ag_cdi_load_buf(struct ag_cdi_cache *c, size_t *cap, const char *name, const char *buf,
		    size_t len, int prio, const char *dev_root, ag_cdi_warn_fn warn, void *arg)
{
	struct ctx x = { .c = c, .cap = *cap, .dev_root = dev_root, .warn = warn, .arg = arg,
			 .file = name, .prio = prio };
	int ret;

	if (len > AG_CDI_MAX_SPEC) {
		warnf(&x, "skipped: %zu bytes, over the %u-byte limit of a spec", len,
		      AG_CDI_MAX_SPEC);
		return 0;
	}
	ret = load_spec(&x, buf, len);
	*cap = x.cap;
	return ret;
}

static bool spec_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && ((l > 5 && !strcmp(n + l - 5, ".yaml")) ||
			       (l > 4 && !strcmp(n + l - 4, ".yml")) ||
			       (l > 5 && !strcmp(n + l - 5, ".json")));
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int only_specs(const struct dirent *d)
{
	return spec_name(d->d_name);
}

int ag_cdi_load(struct ag_cdi_cache *c, const char *const *dirs, size_t n_dirs,
		const char *dev_root, ag_cdi_warn_fn warn, void *arg)
{
	struct ctx x = { .c = c, .dev_root = dev_root, .warn = warn, .arg = arg };
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->stamp = ag_cdi_stamp(dirs, n_dirs);
	for (size_t i = 0; i < n_dirs && !ret; i++) {
		struct dirent **ents;
		int n = scandir(dirs[i], &ents, only_specs, by_name);

		if (n < 0)
			continue; /* an absent directory holds no spec */
		x.prio = (int)i;
		for (int k = 0; k < n; k++) {
			char path[4096];
			int pn = snprintf(path, sizeof(path), "%s/%s", dirs[i], ents[k]->d_name);

			if (pn < 0 || (size_t)pn >= sizeof(path)) {
				x.file = dirs[i];
				warnf(&x, "%s: the path is longer than %zu bytes: skipped",
				      ents[k]->d_name, sizeof(path) - 1);
			} else if (!ret) {
				ret = load_file(&x, path);
			}
			free(ents[k]);
		}
		free(ents);
	}
	if (ret)
		ag_cdi_free(c);
	return ret;
}

void ag_cdi_free(struct ag_cdi_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->devs[i].kind);
		free(c->devs[i].name);
		free(c->devs[i].file);
		free(c->devs[i].nodes);
	}
	free(c->devs);
	memset(c, 0, sizeof(*c));
}

uint64_t ag_cdi_stamp(const char *const *dirs, size_t n_dirs)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n_dirs; i++) {
		struct stat st;
		uint64_t v = 0;

		if (stat(dirs[i], &st) == 0)
			v = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec +
			    (uint64_t)st.st_ino;
		h = (h ^ v) * 1099511628211ull;
	}
	return h;
}

const struct ag_cdi_device *ag_cdi_find(const struct ag_cdi_cache *c, const char *qualified)
{
	const char *eq = strchr(qualified, '=');
	size_t kl;

	if (!eq)
		return NULL;
	kl = (size_t)(eq - qualified);
	for (size_t i = 0; i < c->n; i++) {
		const struct ag_cdi_device *d = &c->devs[i];

		if (strlen(d->kind) == kl && !memcmp(d->kind, qualified, kl) && !strcmp(d->name, eq + 1))
			return d;
	}
	return NULL;
}

/* "k8s.device-plugin.nvidia.com/gpu" has vendor "nvidia.com" */
static bool vendor_matches(const char *kind, const char *vendor)
{
	const char *slash = strchr(kind, '/');
	size_t kl, vl = strlen(vendor);

	if (!slash)
		return false;
	kl = (size_t)(slash - kind);
	if (kl == vl)
		return !memcmp(kind, vendor, vl);
	return kl > vl && kind[kl - vl - 1] == '.' && !memcmp(kind + kl - vl, vendor, vl);
}

const struct ag_cdi_device *ag_cdi_find_vendor(const struct ag_cdi_cache *c, const char *vendor,
					       const char *class_, const char *name)
{
	const struct ag_cdi_device *any = NULL;

	for (size_t i = 0; i < c->n; i++) {
		const struct ag_cdi_device *d = &c->devs[i];

		if (strcmp(d->name, name) || !vendor_matches(d->kind, vendor))
			continue;
		if (class_) {
			const char *slash = strchr(d->kind, '/');

			if (!strcmp(slash + 1, class_) && !strncmp(d->kind, vendor, strlen(vendor)) &&
			    d->kind[strlen(vendor)] == '/')
				return d;
		}
		if (!any)
			any = d;
	}
	return any;
}
