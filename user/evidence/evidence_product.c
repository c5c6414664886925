// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* PRODUCT.yaml: merged, written from the checklist, checked offline (evidence_product.h).
 *
 * The checks are those of cncf/k8s-ai-conformance scripts/validate.go (read at its June 2026
 * version): the file is decoded by yaml.v3 into {metadata: map, spec: map of []Requirement}; a
 * decoding error refuses the whole file. Metadata: each of the required fields present (camelCase
 * or snake_case), a string, not empty, not a "[placeholder]" (an optional field too),
 * k8sConformanceUrl matching ^https://github.com/cncf/k8s-conformance/tree/(master|main)/vN.N/
 * NAME/?$. Spec: every category and id of the version's checklist present; a SHOULD with status ""
 * and no evidence passes; else status one of four, a MUST "Implemented", "N/A" with notes, and
 * each evidence entry an http(s) URL (fetched: online) or a path that exists relative to the
 * PRODUCT.yaml's folder (filepath.Join, lexical). Online only: URLs answering < 400, vendorName
 * a CNCF member in the landscape.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "conformance_checklists.h" /* generated from docs/conformance/ (mk/evidence.mk) */
#include "evidence_product.h"
#include "log.h"

#define ENTRY_ID "secure_accelerator_access"

const char *ag_product_checklist(const char *version, size_t *len)
{
	for (size_t i = 0; i < sizeof(ag_checklists) / sizeof(ag_checklists[0]); i++)
		if (version && !strcmp(ag_checklists[i].version, version)) {
			if (len)
				*len = ag_checklists[i].len;
			return ag_checklists[i].text;
		}
	return NULL;
}

static void known_versions(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(ag_checklists) / sizeof(ag_checklists[0]) && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
					ag_checklists[i].version);
}

/* ---- a YAML document, as yaml.v3 would decode it ---- */

struct ydoc {
	yaml_document_t d;
	bool loaded;
};

static yaml_node_t *ynode(struct ydoc *y, int idx)
{
	return idx ? yaml_document_get_node(&y->d, idx) : NULL;
}

static bool yscalar_eq(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

static const char *ystr(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A plain scalar's resolved type as yaml.v3 sees it: null, bool, int, float, or a string. */
enum ykind { Y_NULL, Y_BOOL, Y_INT, Y_FLOAT, Y_STR, Y_OTHER };

static bool rx_match(const char *re, const char *s)
{
	regex_t r;
	bool m;

	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB))
		return false;
	m = !regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	return m;
}

static enum ykind ykind(const yaml_node_t *n)
{
	const char *s, *tag;
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE" };

	if (!n)
		return Y_NULL;
	if (n->type != YAML_SCALAR_NODE)
		return Y_OTHER;
	s = (const char *)n->data.scalar.value;
	tag = (const char *)n->tag;
	if (tag && strcmp(tag, YAML_STR_TAG))
		return !strcmp(tag, YAML_NULL_TAG) ? Y_NULL : !strcmp(tag, YAML_BOOL_TAG) ? Y_BOOL
		       : !strcmp(tag, YAML_INT_TAG) ? Y_INT : !strcmp(tag, YAML_FLOAT_TAG) ? Y_FLOAT
		       : Y_STR;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return Y_STR;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp(s, nulls[i]))
			return Y_NULL;
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (!strcmp(s, bools[i]))
			return Y_BOOL;
	/* Go's strconv.ParseInt(s, 0, 64) and yaml.v3's float pattern */
	if (rx_match("^[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$", s))
		return Y_INT;
	if (rx_match("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", s) ||
	    rx_match("^[-+]?\\.(inf|Inf|INF)$", s) || rx_match("^\\.(nan|NaN|NAN)$", s))
		return Y_FLOAT;
	return Y_STR;
}

/* The value of key in mapping m (the last one: keys are checked to be unique at load). */
static yaml_node_t *yget(struct ydoc *y, yaml_node_t *m, const char *key)
{
	yaml_node_t *v = NULL;

	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
		if (yscalar_eq(ynode(y, p->key), key))
			v = ynode(y, p->value);
	return v;
}

static bool yhas(struct ydoc *y, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return false;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
		if (yscalar_eq(ynode(y, p->key), key))
			return true;
	return false;
}

/* yaml.v3 refuses a mapping that defines a key twice */
static int ydup_keys(struct ydoc *y, char *err, size_t errlen)
{
	for (yaml_node_t *n = y->d.nodes.start; n < y->d.nodes.top; n++) {
		if (n->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
			for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
				yaml_node_t *a = ynode(y, p->key), *b = ynode(y, q->key);

				if (ystr(a) && ystr(b) && !strcmp(ystr(a), ystr(b))) {
					snprintf(err, errlen, "line %zu: mapping key \"%s\" already "
						 "defined at line %zu", a->start_mark.line + 1, ystr(a),
						 b->start_mark.line + 1);
					return -EINVAL;
				}
			}
	}
	return 0;
}

static int yload(struct ydoc *y, const char *text, size_t len, char *err, size_t errlen)
{
	yaml_parser_t p;

	memset(y, 0, sizeof(*y));
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &y->d)) {
		snprintf(err, errlen, "line %zu: %s%s%s", p.problem_mark.line + 1,
			 p.problem ? p.problem : "not YAML", p.context ? " " : "",
			 p.context ? p.context : "");
		yaml_parser_delete(&p);
		return -EINVAL;
	}
	yaml_parser_delete(&p);
	y->loaded = true;
	return ydup_keys(y, err, errlen);
}

static void yfree(struct ydoc *y)
{
	if (y->loaded)
		yaml_document_delete(&y->d);
	y->loaded = false;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	char *b = NULL;

	if (!f)
		return NULL;
	if (!fstat(fileno(f), &st) && (b = malloc((size_t)st.st_size + 1))) {
		*len = fread(b, 1, (size_t)st.st_size, f);
		b[*len] = 0;
	}
	fclose(f);
	if (!b)
		errno = ENOMEM;
	return b;
}

/* ---- the requirement, decoded as validate.go's Requirement struct ---- */

struct req {
	yaml_node_t *node;
	const char *id, *status, *notes, *level, *description;
	yaml_node_t *evidence; /* a sequence, or NULL */
};

/* A string field: a scalar's text ("" for null); anything else is a decoding error. */
static int str_field(struct ydoc *y, yaml_node_t *m, const char *key, const char **out,
		     char *err, size_t errlen)
{
	yaml_node_t *v = yget(y, m, key);

	*out = "";
	if (!v || ykind(v) == Y_NULL)
		return 0;
	if (v->type != YAML_SCALAR_NODE) {
		snprintf(err, errlen, "line %zu: cannot unmarshal a %s into %s (a string)",
			 v->start_mark.line + 1, v->type == YAML_MAPPING_NODE ? "mapping" : "sequence",
			 key);
		return -EINVAL;
	}
	*out = ystr(v);
	return 0;
}

static int decode_req(struct ydoc *y, yaml_node_t *n, struct req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->node = n;
	r->id = r->status = r->notes = r->level = r->description = "";
	if (!n || ykind(n) == Y_NULL)
		return 0;
	if (n->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "line %zu: a requirement is not a mapping", n->start_mark.line + 1);
		return -EINVAL;
	}
	if (str_field(y, n, "id", &r->id, err, errlen) ||
	    str_field(y, n, "status", &r->status, err, errlen) ||
	    str_field(y, n, "notes", &r->notes, err, errlen) ||
	    str_field(y, n, "level", &r->level, err, errlen) ||
	    str_field(y, n, "description", &r->description, err, errlen))
		return -EINVAL;
	r->evidence = yget(y, n, "evidence");
	if (r->evidence && ykind(r->evidence) == Y_NULL)
		r->evidence = NULL;
	if (r->evidence && r->evidence->type != YAML_SEQUENCE_NODE) {
		snprintf(err, errlen, "line %zu: cannot unmarshal evidence into a list of strings",
			 r->evidence->start_mark.line + 1);
		return -EINVAL;
	}
	for (yaml_node_item_t *i = r->evidence ? r->evidence->data.sequence.items.start : NULL;
	     i && i < r->evidence->data.sequence.items.top; i++) {
		yaml_node_t *e = ynode(y, *i);

		if (e && e->type != YAML_SCALAR_NODE) {
			snprintf(err, errlen, "line %zu: an evidence entry is not a string",
				 e->start_mark.line + 1);
			return -EINVAL;
		}
	}
	return 0;
}

/* the whole document decodes (metadata: a mapping; spec: a mapping of lists of requirements) */
static int decode_all(struct ydoc *y, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(&y->d), *md, *spec;

	if (!root || ykind(root) == Y_NULL)
		return 0;
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "the document is not a mapping");
		return -EINVAL;
	}
	md = yget(y, root, "metadata");
	if (md && ykind(md) != Y_NULL && md->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "line %zu: metadata is not a mapping", md->start_mark.line + 1);
		return -EINVAL;
	}
	spec = yget(y, root, "spec");
	if (!spec || ykind(spec) == Y_NULL)
		return 0;
	if (spec->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "line %zu: spec is not a mapping", spec->start_mark.line + 1);
		return -EINVAL;
	}
	for (yaml_node_pair_t *p = spec->data.mapping.pairs.start; p < spec->data.mapping.pairs.top; p++) {
		yaml_node_t *v = ynode(y, p->value);
		struct req r;

		if (!v || ykind(v) == Y_NULL)
			continue;
		if (v->type != YAML_SEQUENCE_NODE) {
			snprintf(err, errlen, "line %zu: spec.%s is not a list", v->start_mark.line + 1,
				 ystr(ynode(y, p->key)) ? ystr(ynode(y, p->key)) : "?");
			return -EINVAL;
		}
		for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++)
			if (decode_req(y, ynode(y, *i), &r, err, errlen))
				return -EINVAL;
	}
	return 0;
}

/* ---- paths, as Go's path/filepath does them (lexically) ---- */

static void go_clean(char *p)
{
	char out[PATH_MAX], *seg, *save = NULL;
	size_t n = 0, dots = 0; /* leading ".." that cannot be removed in a relative path */
	bool abs = p[0] == '/';
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", p);
	out[0] = 0;
	for (seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			if (n > dots) {
				char *s = strrchr(out, '/');

				if (s)
					*s = 0;
				else
					out[0] = 0;
				n--;
				continue;
			}
			if (abs)
				continue;
			dots++;
		}
		if (strlen(out) + strlen(seg) + 2 >= sizeof(out))
			break;
		if (n)
			strcat(out, "/");
		strcat(out, seg);
		n++;
	}
	snprintf(p, PATH_MAX, "%s%s", abs ? "/" : "", out[0] ? out : abs ? "" : ".");
}

static void go_dir(const char *path, char *out)
{
	const char *s = strrchr(path, '/');

	if (!s)
		snprintf(out, PATH_MAX, ".");
	else
		snprintf(out, PATH_MAX, "%.*s", (int)(s - path + 1), path);
	go_clean(out);
}

/* ---- the check ---- */

struct ck {
	FILE *out;
	int refused;
};

static void refuse(struct ck *c, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(struct ck *c, const char *rule, const char *fmt, ...)
{
	va_list ap;

	fprintf(c->out, "refused: [%s] ", rule);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	c->refused++;
}

static const struct {
	const char *camel, *snake;
	bool required;
} md_fields[] = {
	{ "kubernetesVersion", "kubernetes_version", true },
	{ "platformName", "platform_name", true },
	{ "platformVersion", "platform_version", true },
	{ "vendorName", "vendor_name", true },
	{ "websiteUrl", "website_url", true },
	{ "repoUrl", "repo_url", false },
	{ "documentationUrl", "documentation_url", true },
	{ "productLogoUrl", "product_logo_url", true },
	{ "description", "description", true },
	{ "contactEmailAddress", "contact_email_address", true },
	{ "k8sConformanceUrl", "k8s_conformance_url", true },
};

static void check_metadata(struct ydoc *y, yaml_node_t *md, struct ck *c, int *online)
{
	if (!md || ykind(md) == Y_NULL) {
		refuse(c, "metadata", "Missing 'metadata' section");
		return;
	}
	for (size_t i = 0; i < sizeof(md_fields) / sizeof(md_fields[0]); i++) {
		const char *f = md_fields[i].camel;
		yaml_node_t *v = yhas(y, md, f) ? yget(y, md, f) : yget(y, md, md_fields[i].snake);
		enum ykind k = ykind(v);
		const char *s = ystr(v);
		size_t l;

		if (k == Y_NULL) {
			if (md_fields[i].required)
				refuse(c, "metadata.required", "Missing metadata field: %s (or %s)", f,
				       md_fields[i].snake);
			continue;
		}
		if (k != Y_STR) {
			refuse(c, "metadata.string", "Metadata field %s is not a string", f);
			continue;
		}
		l = strlen(s);
		if (!l) {
			if (md_fields[i].required)
				refuse(c, "metadata.empty", "Metadata field %s is empty", f);
		} else if (s[0] == '[' && s[l - 1] == ']') {
			refuse(c, "metadata.placeholder", "Metadata field %s has placeholder value: %s "
			       "(fill it in)", f, s);
		} else if (!strcmp(f, "k8sConformanceUrl")) {
			if (!rx_match("^https://github\\.com/cncf/k8s-conformance/tree/(master|main)/"
				      "v[0-9]+\\.[0-9]+/[^/]+/?$", s))
				refuse(c, "metadata.k8sConformanceUrl", "Invalid k8sConformanceUrl format: "
				       "%s. Expected format: https://github.com/cncf/k8s-conformance/tree/"
				       "master/v{version}/{product}", s);
			else
				(*online)++, fprintf(c->out, "online: [url] %s: %s must answer < 400 "
						     "(not checked offline)\n", f, s);
		} else if (!strncmp(s, "http", 4)) {
			(*online)++;
			fprintf(c->out, "online: [url] %s: %s must answer < 400 (not checked offline)\n",
				f, s);
		}
	}
	{
		yaml_node_t *v = yhas(y, md, "vendorName") ? yget(y, md, "vendorName")
							   : yget(y, md, "vendor_name");

		if (ykind(v) == Y_STR && ystr(v)[0]) {
			(*online)++;
			fprintf(c->out, "online: [vendorName.member] vendorName '%s' must be a CNCF member "
				"named exactly so in the landscape (not checked offline)\n", ystr(v));
		}
	}
}

static void check_evidence(struct ydoc *y, const struct req *r, const char *pdir, struct ck *c,
			   int *online)
{
	for (yaml_node_item_t *i = r->evidence ? r->evidence->data.sequence.items.start : NULL;
	     i && i < r->evidence->data.sequence.items.top; i++) {
		yaml_node_t *e = ynode(y, *i);
		const char *s = ykind(e) == Y_NULL ? "" : ystr(e);
		char full[PATH_MAX];
		struct stat st;

		if (!s || !s[0])
			continue;
		if (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)) {
			(*online)++;
			fprintf(c->out, "online: [url] evidence of '%s': %s must answer < 400 (not checked "
				"offline)\n", r->id, s);
			continue;
		}
		snprintf(full, sizeof(full), "%s/%s", pdir, s);
		go_clean(full);
		if (stat(full, &st) && errno == ENOENT)
			refuse(c, "evidence.file", "Invalid evidence file for '%s': %s (not found at %s)%s",
			       r->id, s, full, !strncmp(s, "file://", 7)
			       ? " (the validator takes file:// entries for paths: give the path "
				 "relative to PRODUCT.yaml)" : "");
	}
}

/* the X.Y of the first vX.Y/ folder in path, as the validator's (?:^|/)(v\d+\.\d+)/ */
static int version_of_path(const char *path, char *ver, size_t len)
{
	regex_t r;
	regmatch_t m[3];
	int found;

	if (regcomp(&r, "(^|/)v([0-9]+\\.[0-9]+)/", REG_EXTENDED))
		return -EINVAL;
	found = !regexec(&r, path, 3, m, 0);
	if (found)
		snprintf(ver, len, "%.*s", (int)(m[2].rm_eo - m[2].rm_so), path + m[2].rm_so);
	regfree(&r);
	return found ? 0 : -ENOENT;
}

/* One walk of a PRODUCT.yaml against its checklist. */
struct pcheck {
	struct ydoc *sd, *pd; /* the checklist, the product */
	const char *version, *pdir;
	struct ck *c;
	int *online;
};

/* The product's entry of the checklist's requirement s in its category's list pl: the last
 * entry of an id wins, as in the validator's map. false when there is none. */
static bool find_req(struct pcheck *P, const struct req *s, yaml_node_t *pl, struct req *r)
{
	char err[512];
	bool found = false;

	for (yaml_node_item_t *j = pl && pl->type == YAML_SEQUENCE_NODE
					   ? pl->data.sequence.items.start : NULL;
	     j && j < pl->data.sequence.items.top; j++) {
		struct req x;

		decode_req(P->pd, ynode(P->pd, *j), &x, err, sizeof(err));
		if (!strcmp(x.id, s->id))
			*r = x, found = true;
	}
	return found;
}

/* One requirement of the checklist (s, in category cat) against the product's list pl. */
static void check_req(struct pcheck *P, const struct req *s, yaml_node_t *pl, const char *cat)
{
	struct ck *c = P->c;
	struct req r = { 0 };

	if (!find_req(P, s, pl, &r)) {
		refuse(c, "spec.requirement", "Missing requirement '%s' in category '%s'", s->id, cat);
		return;
	}
	if (strcmp(r.description, s->description))
		fprintf(c->out, "note: [description] '%s': the description differs from the "
			"v%s checklist's (the validator does not compare it; the "
			"instructions ask to keep it unchanged)\n", s->id, P->version);
	if (strcmp(r.level, s->level))
		fprintf(c->out, "note: [level] '%s': level '%s', the checklist says '%s' (the "
			"validator goes by the checklist's)\n", s->id, r.level, s->level);
	if (!strcmp(s->level, "SHOULD") && !r.status[0] &&
	    (!r.evidence || !r.evidence->data.sequence.items.top ||
	     r.evidence->data.sequence.items.top == r.evidence->data.sequence.items.start))
		return;
	if (strcmp(r.status, "Implemented") && strcmp(r.status, "Not Implemented") &&
	    strcmp(r.status, "Partially Implemented") && strcmp(r.status, "N/A"))
		refuse(c, "status", "Invalid status '%s' for '%s'. Must be one of "
		       "[Implemented Not Implemented Partially Implemented N/A]", r.status, s->id);
	if (!strcmp(s->level, "MUST") && strcmp(r.status, "Implemented"))
		refuse(c, "status.must", "Requirement '%s' is MUST level but status is "
		       "'%s'. It must be 'Implemented'.", s->id, r.status);
	if (!strcmp(r.status, "N/A") && !r.notes[0])
		refuse(c, "status.na_notes", "Notes required for '%s' when status is N/A", s->id);
	check_evidence(P->pd, &r, P->pdir, c, P->online);
}

/* Every category and requirement of the checklist's spec against the product's spec. */
static void check_spec(struct pcheck *P, yaml_node_t *sspec, yaml_node_t *pspec)
{
	char err[512];

	for (yaml_node_pair_t *p = sspec->data.mapping.pairs.start; p < sspec->data.mapping.pairs.top; p++) {
		const char *cat = ystr(ynode(P->sd, p->key));
		yaml_node_t *sl = ynode(P->sd, p->value), *pl;

		if (!yhas(P->pd, pspec, cat)) {
			refuse(P->c, "spec.category", "Missing spec category: %s", cat);
			continue;
		}
		pl = yget(P->pd, pspec, cat);
		for (yaml_node_item_t *i = sl->data.sequence.items.start; i < sl->data.sequence.items.top; i++) {
			struct req s;

			decode_req(P->sd, ynode(P->sd, *i), &s, err, sizeof(err));
			check_req(P, &s, pl, cat);
		}
	}
}

/* The checklist's version: from the path (the validator's way), or as given; NULL (refused)
 * when there is none. */
static const char *check_version(struct ck *c, const char *path, const char *version, char *pver,
				 size_t len)
{
	if (version_of_path(path, pver, len)) {
		char rp[PATH_MAX];

		/* the validator reads the version from the path it is given (vX.Y/NAME/PRODUCT.yaml,
		 * relative to the repository): the canonical path will do here */
		if (realpath(path, rp))
			version_of_path(rp, pver, len);
	}
	if (!pver[0]) {
		refuse(c, "version.path", "Could not determine version from path %s: the validator "
		       "takes it from vX.Y/<product>/PRODUCT.yaml", path);
		if (!version)
			return NULL;
	} else if (version && strcmp(version, pver)) {
		refuse(c, "version.path", "%s is under v%s/, not v%s/ (--conformance-version)", path,
		       pver, version);
	}
	return version ? version : pver;
}

static void check_verdict(const struct ck *c, const char *path, const char *version, int online)
{
	if (c->refused)
		fprintf(c->out, "product: %s: the validator would refuse it (%d %s)%s\n", path,
			c->refused, c->refused == 1 ? "rule" : "rules",
			online ? "; the online checks above were not made" : "");
	else
		fprintf(c->out, "product: %s: valid offline for v%s (%d online %s not made: URLs "
			"must answer, vendorName must be a CNCF member)\n", path, version, online,
			online == 1 ? "check" : "checks");
}

int ag_product_check(const char *path, const char *version, FILE *out)
{
	char pver[32] = "", err[512], pdir[PATH_MAX], kv[128];
	struct ydoc sd = { 0 }, pd = { 0 };
	struct ck c = { .out = out };
	struct pcheck P = { &sd, &pd, NULL, pdir, &c, NULL };
	const char *stext;
	char *text = NULL;
	size_t slen, plen = 0;
	int online = 0;
	yaml_node_t *proot, *pspec;

	P.online = &online;
	known_versions(kv, sizeof(kv));
	version = check_version(&c, path, version, pver, sizeof(pver));
	if (!version)
		return c.refused;
	P.version = version;
	stext = ag_product_checklist(version, &slen);
	if (!stext) {
		refuse(&c, "version.schema", "Schema not found: no checklist AIConformance-%s.yaml "
		       "(accelguard has %s)", version, kv);
		return c.refused;
	}
	if (yload(&sd, stext, slen, err, sizeof(err))) {
		fprintf(out, "error: the built-in checklist %s does not load: %s\n", version, err);
		yfree(&sd);
		return -1;
	}
	text = slurp(path, &plen);
	if (!text) {
		fprintf(out, "error: %s: %s\n", path, strerror(errno));
		yfree(&sd);
		return -1;
	}
	if (yload(&pd, text, plen, err, sizeof(err)) || decode_all(&pd, err, sizeof(err))) {
		refuse(&c, "load", "Error loading product %s: %s", path, err);
		goto out;
	}
	fprintf(out, "checklist: v%s (%s)\n", version, path);
	proot = yaml_document_get_root_node(&pd.d);
	check_metadata(&pd, yget(&pd, proot, "metadata"), &c, &online);
	go_dir(path, pdir);
	pspec = yget(&pd, proot, "spec");
	if (!pspec || ykind(pspec) == Y_NULL)
		refuse(&c, "spec", "Missing 'spec' section");
	else
		check_spec(&P, yget(&sd, yaml_document_get_root_node(&sd.d), "spec"), pspec);
out:
	check_verdict(&c, path, version, online);
	yfree(&pd);
	yfree(&sd);
	free(text);
	return c.refused;
}

/* ---- merging ---- */

static size_t line_start(const char *t, size_t line)
{
	size_t off = 0;

	for (size_t l = 0; l < line && t[off]; off++)
		if (t[off] == '\n')
			l++;
	return off;
}

/* the end (offset) of the block sequence item whose dash is at column col on the line at off:
 * the first later line, not blank, indented col or less */
static size_t item_end(const char *t, size_t off, size_t col)
{
	const char *nl = strchr(t + off, '\n');

	while (nl) {
		const char *l = nl + 1;
		size_t ind = strspn(l, " ");

		if (!*l)
			return (size_t)(l - t);
		if (l[ind] != '\n' && l[ind] != '\r' && ind <= col)
			return (size_t)(l - t);
		nl = strchr(l, '\n');
	}
	return strlen(t);
}

static char *indent_entry(const char *entry, size_t col)
{
	size_t n = 1;
	char *o, *w;

	for (const char *s = entry; *s; s++)
		n += 1 + (*s == '\n' ? col : 0);
	o = malloc(n + col);
	if (!o)
		return NULL;
	w = o;
	for (const char *s = entry; *s;) {
		const char *e = strchr(s, '\n');
		size_t l = e ? (size_t)(e - s + 1) : strlen(s);

		memset(w, ' ', col);
		w += col;
		memcpy(w, s, l);
		w += l;
		s += l;
	}
	*w = 0;
	return o;
}

/* text with [from, to) replaced by ins */
static char *text_splice(const char *text, size_t from, size_t to, const char *ins)
{
	size_t tl = strlen(text), il = strlen(ins);
	char *o = malloc(tl - (to - from) + il + 2);

	if (!o)
		return NULL;
	snprintf(o, tl - (to - from) + il + 2, "%.*s%s%s", (int)from, text, ins, text + to);
	return o;
}

/* The text with the entry in spec.security (replacing the one of the same id). */
static char *merge_text(const char *text, const char *entry, char *err, size_t errlen)
{
	struct ydoc y;
	yaml_node_t *root, *sec;
	char *ind = NULL, *o = NULL;
	size_t col = 4, from, to;

	if (yload(&y, text, strlen(text), err, errlen) || decode_all(&y, err, errlen)) {
		yfree(&y);
		return NULL;
	}
	root = yaml_document_get_root_node(&y.d);
	sec = yget(&y, yget(&y, root, "spec"), "security");
	if (!sec || sec->type != YAML_SEQUENCE_NODE || sec->data.sequence.style != YAML_BLOCK_SEQUENCE_STYLE ||
	    sec->data.sequence.items.top == sec->data.sequence.items.start) {
		snprintf(err, errlen, "spec.security is not a list of requirements in block style (as "
			 "the checklist has it): start from the template (a --product file that does "
			 "not exist yet is written whole)");
		yfree(&y);
		return NULL;
	}
	{
		yaml_node_t *first = ynode(&y, *sec->data.sequence.items.start), *hit = NULL;

		/* the dash is two columns before an item's first key */
		col = first->start_mark.column >= 2 ? first->start_mark.column - 2 : 0;
		for (yaml_node_item_t *i = sec->data.sequence.items.start; i < sec->data.sequence.items.top; i++) {
			yaml_node_t *n = ynode(&y, *i);

			if (yscalar_eq(yget(&y, n, "id"), ENTRY_ID))
				hit = n;
		}
		if (hit) {
			from = line_start(text, hit->start_mark.line);
			to = item_end(text, from, col);
		} else {
			yaml_node_t *last = ynode(&y, sec->data.sequence.items.top[-1]);

			from = to = item_end(text, line_start(text, last->start_mark.line), col);
		}
	}
	ind = indent_entry(entry, col);
	if (ind) {
		/* an item cut at the end of a file without a newline */
		if (from == to && from && text[from - 1] != '\n') {
			char *x = malloc(strlen(ind) + 2);

			if (x)
				sprintf(x, "\n%s", ind);
			free(ind);
			ind = x;
		}
		o = ind ? text_splice(text, from, to, ind) : NULL;
	}
	free(ind);
	yfree(&y);
	if (!o)
		snprintf(err, errlen, "out of memory");
	return o;
}

/* The checklist as a whole PRODUCT.yaml: k8sConformanceUrl added to the metadata where the
 * checklist lacks it (the validator requires it), as a placeholder. */
static char *template_text(const char *version, char *err, size_t errlen)
{
	size_t len;
	const char *t = ag_product_checklist(version, &len);
	const char *at;
	char add[256];

	if (!t) {
		char kv[128];

		known_versions(kv, sizeof(kv));
		snprintf(err, errlen, "no checklist for v%s (accelguard has %s)", version, kv);
		return NULL;
	}
	if (strstr(t, "\n  k8sConformanceUrl:") || !(at = strstr(t, "\n  contactEmailAddress:")))
		return strdup(t);
	at = strchr(at + 1, '\n');
	snprintf(add, sizeof(add), "  k8sConformanceUrl: \"[URL of the k8s-conformance submission: "
		 "https://github.com/cncf/k8s-conformance/tree/master/v%s/<product>]\"\n", version);
	{
		size_t off = at ? (size_t)(at - t + 1) : len;

		return text_splice(t, off, off, add);
	}
}

int ag_product_merge(const char *path, const char *version, const char *entry, char *err,
		     size_t errlen)
{
	char tmp[PATH_MAX], *text = NULL, *merged = NULL;
	size_t len = 0;
	struct stat st = { .st_mode = 0644 };
	FILE *f;
	int r = 0;

	if (!stat(path, &st)) {
		text = slurp(path, &len);
		if (!text) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -errno;
		}
	} else if (errno == ENOENT) {
		char pver[32] = "", d[PATH_MAX], rp[PATH_MAX];

		go_dir(path, d);
		if (!version && (!version_of_path(path, pver, sizeof(pver)) ||
				 (realpath(d, rp) && strcat(rp, "/") &&
				  !version_of_path(rp, pver, sizeof(pver)))))
			version = pver;
		if (!version) {
			snprintf(err, errlen, "%s: which checklist? give --conformance-version X.Y, or "
				 "put the file under vX.Y/<product>/", path);
			return -EINVAL;
		}
		text = template_text(version, err, errlen);
		if (!text)
			return -ENOENT;
	} else {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	merged = merge_text(text, entry, err, errlen);
	if (!merged) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: cannot merge the entry: %s", path, why);
		free(text);
		return -EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f || fputs(merged, f) < 0 || fflush(f) || fsync(fileno(f)) ||
	    fchmod(fileno(f), st.st_mode & 07777)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	}
	if (f && fclose(f) && !r) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	}
	if (!r && rename(tmp, path)) {
		r = -errno;
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	}
	if (r)
		unlink(tmp);
	free(text);
	free(merged);
	return r;
}

int ag_product_check_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "conformance-version", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *version = NULL;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "V:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'V': version = optarg[0] == 'v' ? optarg + 1 : optarg; break;
		case 'h':
			printf("Usage: accelguard evidence product-check PRODUCT.yaml "
			       "[--conformance-version X.Y]\n\n"
			       "Check a submission's PRODUCT.yaml offline as cncf/k8s-ai-conformance's\n"
			       "scripts/validate.go does, naming the rule of each refusal; the version is\n"
			       "taken from the path (vX.Y/<product>/PRODUCT.yaml) unless given. Not checked\n"
			       "offline (listed): URLs answering, vendorName a CNCF member.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 1 != argc) {
		ag_err("evidence product-check: give one PRODUCT.yaml");
		return 2;
	}
	r = ag_product_check(argv[optind], version, stdout);
	return r < 0 ? 1 : r ? 1 : 0;
}
