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
	char msg[1024];
	va_list ap;
	int n;

	if (!x->warn)
		return;
	/* a long file name leaves n past the buffer: clamp it (it overflowed the stack before) */
	n = snprintf(msg, sizeof(msg), "cdi: %s: ", x->file);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg) - 1)
		n = (int)sizeof(msg) - 1;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	x->warn(x->arg, msg);
}

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
	yaml_node_pair_t *p;

	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);

		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int num(yaml_node_t *n, __u32 *out)
{
	const char *s = scalar(n);
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

/* The char device nodes of one containerEdits mapping, appended to *nodes. */
static int edits_nodes(struct ctx *x, yaml_document_t *d, yaml_node_t *edits, const char *dev,
		       bool shared, struct ag_cdi_node **nodes, size_t *n)
{
	yaml_node_t *dn = map_get(d, edits, "deviceNodes");
	yaml_node_item_t *it;

	if (!dn)
		return 0;
	if (dn->type != YAML_SEQUENCE_NODE) {
		warnf(x, "device %s: deviceNodes is not a list", dev);
		return 0;
	}
	for (it = dn->data.sequence.items.start; it < dn->data.sequence.items.top; it++) {
		yaml_node_t *node = yaml_document_get_node(d, *it);
		const char *path = scalar(map_get(d, node, "path"));
		const char *host = scalar(map_get(d, node, "hostPath"));
		const char *type = scalar(map_get(d, node, "type"));
		yaml_node_t *maj = map_get(d, node, "major"), *min = map_get(d, node, "minor");
		struct ag_cdi_node cn = { .shared = shared };
		struct ag_cdi_node *nn;

		if (!path) {
			warnf(x, "device %s: a deviceNode has no path", dev);
			continue;
		}
		if (type && strcmp(type, "c") && strcmp(type, "u"))
			continue; /* block devices and fifos are no accelerators */
		if (maj) {
			if (num(maj, &cn.major) < 0 || (min && num(min, &cn.minor) < 0)) {
				warnf(x, "device %s: node %s: major/minor is not a device number", dev,
				      path);
				continue;
			}
		} else {
			char full[4096];
			struct stat st;

			snprintf(full, sizeof(full), "%s%s", x->dev_root ? x->dev_root : "",
				 host ? host : path);
			if (stat(full, &st) < 0) {
				warnf(x, "device %s: node %s gives no numbers and stat(%s) failed: %s",
				      dev, path, full, strerror(errno));
				continue;
			}
			if (!S_ISCHR(st.st_mode))
				continue;
			cn.major = major(st.st_rdev);
			cn.minor = minor(st.st_rdev);
		}
		if (*n >= AG_CDI_MAX_NODES) {
			warnf(x, "device %s: more than %u deviceNodes: the rest skipped", dev,
			      AG_CDI_MAX_NODES);
			break;
		}
		nn = realloc(*nodes, (*n + 1) * sizeof(**nodes));
		if (!nn)
			return -ENOMEM;
		*nodes = nn;
		nn[(*n)++] = cn;
	}
	return 0;
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
	return dv->kind && dv->name && dv->file ? 0 : -ENOMEM;
}

static bool valid_kind(const char *k)
{
	const char *slash = strchr(k, '/');

	return slash && slash > k && slash[1] && !strchr(slash + 1, '/') && !strchr(k, '=');
}

/* One parsed spec (parser set up by the caller) into x->c. */
static int load_doc(struct ctx *x, yaml_parser_t *parser)
{
	yaml_document_t doc;
	yaml_node_t *root, *devs, *top;
	struct ag_cdi_node *common = NULL;
	size_t n_common = 0;
	const char *kind;
	int ret = 0;

	if (!yaml_parser_load(parser, &doc)) {
		warnf(x, "line %zu: %s%s%s", parser->problem_mark.line + 1,
		      parser->problem ? parser->problem : "parse error",
		      parser->context ? " " : "", parser->context ? parser->context : "");
		return 0;
	}
	root = yaml_document_get_root_node(&doc);
	kind = scalar(map_get(&doc, root, "kind"));
	devs = map_get(&doc, root, "devices");
	if (!root || root->type != YAML_MAPPING_NODE) {
		warnf(x, "not a CDI spec (no top-level mapping)");
		goto out;
	}
	if (!kind || !valid_kind(kind)) {
		warnf(x, "kind '%s' is not vendor.com/class", kind ? kind : "");
		goto out;
	}
	if (!devs || devs->type != YAML_SEQUENCE_NODE) {
		warnf(x, "no devices list");
		goto out;
	}
	top = map_get(&doc, root, "containerEdits");
	ret = edits_nodes(x, &doc, top, "(spec)", true, &common, &n_common);
	for (yaml_node_item_t *it = devs->data.sequence.items.start;
	     !ret && it < devs->data.sequence.items.top; it++) {
		yaml_node_t *dv = yaml_document_get_node(&doc, *it);
		const char *name = scalar(map_get(&doc, dv, "name"));
		struct ag_cdi_node *nodes = NULL;
		size_t n = 0;

		if (!name || !*name || strchr(name, '=')) {
			warnf(x, "a device has no valid name");
			continue;
		}
		if (x->c->n >= AG_CDI_MAX_DEVICES) {
			warnf(x, "device %s and the rest skipped: more than %u CDI devices in all", name,
			      AG_CDI_MAX_DEVICES);
			break;
		}
		ret = edits_nodes(x, &doc, map_get(&doc, dv, "containerEdits"), name, false, &nodes,
				  &n);
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
		ret = add_device(x, kind, name, nodes, n);
	}
out:
	free(common);
	yaml_document_delete(&doc);
	return ret;
}

/* The nesting limit (yamldepth.h), on a first pass; deletes the parser. True: skip the spec. */
static bool too_deep(struct ctx *x, yaml_parser_t *parser)
{
	size_t line = 0;
	int r = ag_yaml_too_deep(parser, AG_YAML_MAX_DEPTH, &line);

	yaml_parser_delete(parser);
	if (r == 1)
		warnf(x, "line %zu: nested deeper than %d levels: skipped", line, AG_YAML_MAX_DEPTH);
	return r == 1;
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
	yaml_parser_t parser;
	struct stat st;
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
	if (fstat(fileno(f), &st) == 0 && st.st_size > AG_CDI_MAX_SPEC) {
		warnf(x, "skipped: %lld bytes, over the %u-byte limit of a spec",
		      (long long)st.st_size, AG_CDI_MAX_SPEC);
		fclose(f);
		return 0;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (too_deep(x, &parser)) {
		fclose(f);
		return 0;
	}
	rewind(f);
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	ret = load_doc(x, &parser);
	yaml_parser_delete(&parser);
	fclose(f);
	return ret;
}

int ag_cdi_load_buf(struct ag_cdi_cache *c, size_t *cap, const char *name, const char *buf,
		    size_t len, int prio, const char *dev_root, ag_cdi_warn_fn warn, void *arg)
{
	struct ctx x = { .c = c, .cap = *cap, .dev_root = dev_root, .warn = warn, .arg = arg,
			 .file = name, .prio = prio };
	yaml_parser_t parser;
	int ret;

	if (len > AG_CDI_MAX_SPEC) {
		warnf(&x, "skipped: %zu bytes, over the %u-byte limit of a spec", len,
		      AG_CDI_MAX_SPEC);
		return 0;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (too_deep(&x, &parser))
		return 0;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	ret = load_doc(&x, &parser);
	yaml_parser_delete(&parser);
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

			snprintf(path, sizeof(path), "%s/%s", dirs[i], ents[k]->d_name);
			if (!ret)
				ret = load_file(&x, path);
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
