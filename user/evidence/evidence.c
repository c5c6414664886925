// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Evidence bundles and their verification (evidence.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <zlib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "config.h"
#include "evidence.h"
#include "evidence_conformance.h"
#include "evidence_exposure.h"
#include "evjson.h"
#include "evidence_product.h"
#include "evidence_upload.h"
#include "journal.h"
#include "log.h"
#include "names.h"
#include "selftest.h"
#include "util.h"

/* the enums without their 0: index i is the value i + 1 (names.h) */
#define N_VERDICTS (AG_V__MAX - 1)
#define N_OPS (AG_OP__MAX - 1)
#define MAX_TIMELINE 2000 /* the newest violations kept for the timeline */
#define MAX_VIOL_ROWS 200 /* the newest of them in the report's table */
#define SIG_FILE "manifest.json.sig"

/* v: a verdict's index (its value - 1). A violation event: unmediated, cross-tenant, unresolved. */
static bool is_violation(int v)
{
	return v + 1 == AG_V_UNMEDIATED || v + 1 == AG_V_CROSS_TENANT || v + 1 == AG_V_UNRESOLVED;
}

/* ---- collecting ---- */

struct cell {
	char *row, *col;
	__u64 by_verdict[N_VERDICTS], by_op[N_OPS], total;
	__u64 viol_denied, viol_observed, viol_killed; /* violation events by action */
	__s64 first, last;
};

struct viol {
	__s64 t;
	int verdict, op;
	__u64 pid;
	char action[12], comm[24], ioctl[48];
	char row[200], col[48];
};

struct coll {
	__s64 since, until;
	struct cell *cells;
	size_t n_cells, cap_cells;
	size_t *hash; /* index + 1, open addressing */
	size_t hash_cap;
	struct viol *tl; /* a ring of the newest MAX_TIMELINE violations */
	size_t n_tl;
	__u64 n_viol, n_unresolved_viol, n_events;
	json_object *ready;     /* the last ready event up to the window's end */
	json_object *selftests; /* array */
	FILE *slice;            /* journal.jsonl */
	struct ag_expo *expo;   /* the exposure section (issue 22) */
};

static uint64_t str_hash(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	h = (h ^ 0x1f) * 1099511628211ULL;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ULL;
	return h;
}

static struct cell *cell_get(struct coll *c, const char *row, const char *col)
{
	size_t i;

	if ((c->n_cells + 1) * 2 > c->hash_cap) {
		size_t nc = c->hash_cap ? c->hash_cap * 2 : 1024;
		size_t *nh = calloc(nc, sizeof(*nh));

		if (!nh)
			return NULL;
		for (size_t k = 0; k < c->n_cells; k++) {
			i = str_hash(c->cells[k].row, c->cells[k].col) & (nc - 1);
			while (nh[i])
				i = (i + 1) & (nc - 1);
			nh[i] = k + 1;
		}
		free(c->hash);
		c->hash = nh;
		c->hash_cap = nc;
	}
	i = str_hash(row, col) & (c->hash_cap - 1);
	while (c->hash[i]) {
		struct cell *x = &c->cells[c->hash[i] - 1];

		if (!strcmp(x->row, row) && !strcmp(x->col, col))
			return x;
		i = (i + 1) & (c->hash_cap - 1);
	}
	if (c->n_cells == c->cap_cells) {
		size_t nc = c->cap_cells ? c->cap_cells * 2 : 256;
		struct cell *n = realloc(c->cells, nc * sizeof(*n));

		if (!n)
			return NULL;
		c->cells = n;
		c->cap_cells = nc;
	}
	memset(&c->cells[c->n_cells], 0, sizeof(struct cell));
	c->cells[c->n_cells].row = strdup(row);
	c->cells[c->n_cells].col = strdup(col);
	c->hash[i] = ++c->n_cells;
	return &c->cells[c->n_cells - 1];
}

/* the tenant of an access: pod/container when known, else the cgroup path */
static int on_event(const char *line, size_t len, __s64 t, void *ctx)
{
	struct coll *c = ctx;
	json_object *e = ag_journal_parse_record(line, len);
	const char *type = js(e, "type");

	if (!type)
		goto out;
	if (!strcmp(type, "ready") && t <= c->until) {
		json_object_put(c->ready);
		c->ready = json_object_get(e);
	}
	ag_expo_event(c->expo, type, e, t);
	if (t < c->since || t > c->until)
		goto out;
	c->n_events++;
	fwrite(line, 1, len, c->slice);
	fputc('\n', c->slice);
	if (!strcmp(type, "selftest")) {
		json_object_array_add(c->selftests, json_object_get(e));
	} else if (!strcmp(type, "access")) {
		json_object *d = jo(e, "device");
		int v = ag_verdict_parse(js(e, "verdict")) - 1;
		int op = ag_op_parse(js(e, "op")) - 1;
		char row[256], col[64];
		const char *cls = js(d, "class");
		struct cell *x;

		if (v < 0 || op < 0 || !d)
			goto out;
		ag_evidence_tenant(e, row, sizeof(row));
		snprintf(col, sizeof(col), "%d:%d %s", json_object_get_int(jo(d, "major")),
			 json_object_get_int(jo(d, "minor")), cls ? cls : "");
		x = cell_get(c, row, col);
		if (!x)
			goto out;
		x->by_verdict[v]++;
		x->by_op[op]++;
		if (!x->total++ || t < x->first)
			x->first = t;
		if (t > x->last)
			x->last = t;
		if (is_violation(v)) {
			const char *act = js(e, "action");
			bool selftest = !strncmp(row, AG_SELFTEST_ROOT "/", strlen(AG_SELFTEST_ROOT) + 1);
			json_object *pr = jo(e, "process"), *io = jo(e, "ioctl");
			struct viol *w = &c->tl[c->n_viol % MAX_TIMELINE];

			c->n_viol++;
			if (act && !strcmp(act, "denied"))
				x->viol_denied++;
			else if (act && !strcmp(act, "killed"))
				x->viol_killed++;
			else
				x->viol_observed++;
			if (act && !strcmp(act, "observed") && !selftest)
				c->n_unresolved_viol++;
			if (c->n_tl < MAX_TIMELINE)
				c->n_tl++;
			memset(w, 0, sizeof(*w));
			w->t = t;
			w->verdict = v;
			w->op = op;
			w->pid = pr ? (__u64)json_object_get_int64(jo(pr, "pid")) : 0;
			snprintf(w->action, sizeof(w->action), "%s", act ? act : "?");
			snprintf(w->comm, sizeof(w->comm), "%s", js(pr, "comm") ? js(pr, "comm") : "?");
			if (io)
				snprintf(w->ioctl, sizeof(w->ioctl), "%s",
					 js(io, "name") ? js(io, "name") : js(io, "cmd") ? js(io, "cmd") : "");
			snprintf(w->row, sizeof(w->row), "%s", row);
			snprintf(w->col, sizeof(w->col), "%s", col);
		}
	}
out:
	json_object_put(e);
	return 0;
}

/* ---- small writers ---- */

void ag_evidence_yaml_dq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static int sha256_file(const char *path, char hex[65], __u64 *size)
{
	unsigned char md[32], buf[65536];
	unsigned int mdl = 0;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	*size = 0;
	if (fd < 0 || !m || !EVP_DigestInit_ex(m, EVP_sha256(), NULL)) {
		int e = fd < 0 ? -errno : -ENOMEM;

		if (fd >= 0)
			close(fd);
		EVP_MD_CTX_free(m);
		return e;
	}
	while ((k = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(m, buf, (size_t)k);
		*size += (__u64)k;
	}
	close(fd);
	EVP_DigestFinal_ex(m, md, &mdl);
	EVP_MD_CTX_free(m);
	if (k < 0)
		return -EIO;
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	return 0;
}

static FILE *open_out(const char *dir, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return fopen(p, "wxe");
}

static int close_out(FILE *f)
{
	int r = 0;

	if (fflush(f) || fsync(fileno(f)))
		r = -errno;
	if (fclose(f) && !r)
		r = -errno;
	return r;
}

/* ---- the parts of a bundle ---- */

static void write_matrix(struct coll *c, FILE *jf, FILE *cf)
{
	char a[40], b[40];

	fprintf(cf, "tenant,device,total");
	for (int v = 0; v < N_VERDICTS; v++)
		fprintf(cf, ",%s", ag_verdict_name(v + 1));
	for (int o = 0; o < N_OPS; o++)
		fprintf(cf, ",%s", ag_op_name(o + 1));
	fprintf(cf, ",violations_denied,violations_killed,violations_observed,first_seen,last_seen\n");
	{
		json_object *root = json_object_new_object(), *arr = json_object_new_array();

		json_object_object_add(root, "note", json_object_new_string(
			"counts of access events in the window: every violation (up to rate_limit a "
			"second per tenant; suppressed ones are counted in the events' violations.total), "
			"first sightings of allowed (cgroup, device, op, ioctl command) tuples"));
		for (size_t i = 0; i < c->n_cells; i++) {
			struct cell *x = &c->cells[i];
			json_object *o = json_object_new_object(), *bv = json_object_new_object(),
				    *bo = json_object_new_object();

			ag_fmt_rfc3339(x->first, 9, a, sizeof(a));
			ag_fmt_rfc3339(x->last, 9, b, sizeof(b));
			json_object_object_add(o, "tenant", json_object_new_string(x->row));
			json_object_object_add(o, "device", json_object_new_string(x->col));
			json_object_object_add(o, "total", json_object_new_int64((int64_t)x->total));
			for (int v = 0; v < N_VERDICTS; v++)
				json_object_object_add(bv, ag_verdict_name(v + 1), json_object_new_int64((int64_t)x->by_verdict[v]));
			for (int op = 0; op < N_OPS; op++)
				json_object_object_add(bo, ag_op_name(op + 1), json_object_new_int64((int64_t)x->by_op[op]));
			json_object_object_add(o, "by_verdict", bv);
			json_object_object_add(o, "by_op", bo);
			bv = json_object_new_object();
			json_object_object_add(bv, "denied", json_object_new_int64((int64_t)x->viol_denied));
			json_object_object_add(bv, "killed", json_object_new_int64((int64_t)x->viol_killed));
			json_object_object_add(bv, "observed", json_object_new_int64((int64_t)x->viol_observed));
			json_object_object_add(o, "violations_by_action", bv);
			json_object_object_add(o, "first_seen", json_object_new_string(a));
			json_object_object_add(o, "last_seen", json_object_new_string(b));
			json_object_array_add(arr, o);
			ag_csv_field(cf, x->row);
			fputc(',', cf);
			ag_csv_field(cf, x->col);
			fprintf(cf, ",%llu", (unsigned long long)x->total);
			for (int v = 0; v < N_VERDICTS; v++)
				fprintf(cf, ",%llu", (unsigned long long)x->by_verdict[v]);
			for (int op = 0; op < N_OPS; op++)
				fprintf(cf, ",%llu", (unsigned long long)x->by_op[op]);
			fprintf(cf, ",%llu,%llu,%llu,%s,%s\n", (unsigned long long)x->viol_denied,
				(unsigned long long)x->viol_killed, (unsigned long long)x->viol_observed, a, b);
		}
		json_object_object_add(root, "cells", arr);
		fprintf(jf, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
}

static json_object *last_selftest(struct coll *c)
{
	size_t n = json_object_array_length(c->selftests);

	return n ? json_object_array_get_idx(c->selftests, n - 1) : NULL;
}

/* the self-tests of the window as JUnit (the writer `selftest --junit` uses) */
static void write_junit(struct coll *c, FILE *f)
{
	struct utsname u;

	uname(&u);
	ag_selftest_junit(f, c->selftests, u.nodename);
}

struct status {
	const char *status;
	char notes[2048];
};

static void decide(struct coll *c, struct status *st)
{
	json_object *s = last_selftest(c);
	const char *mode = js(c->ready, "mode"), *tier = js(c->ready, "tier");
	const char *sres = js(s, "result"), *smode = js(s, "mode");
	bool passed = sres && !strcmp(sres, "pass");
	bool enforce = smode ? !strcmp(smode, "enforce") : mode && !strcmp(mode, "enforce");
	size_t off;

	if (passed && enforce && !c->n_unresolved_viol)
		st->status = "Implemented";
	else if (passed || (enforce && !c->n_unresolved_viol && s == NULL))
		st->status = "Partially Implemented";
	else
		st->status = "Not Implemented";
	off = (size_t)snprintf(st->notes, sizeof(st->notes),
			       "accelguard %s, tier %s, mode %s. ",
			       js(c->ready, "version") ? js(c->ready, "version") : "?",
			       tier ? tier : "?", mode ? mode : "?");
	if (!s)
		off += (size_t)snprintf(st->notes + off, sizeof(st->notes) - off,
					"No self-test ran in the window. ");
	else
		off += (size_t)snprintf(st->notes + off, sizeof(st->notes) - off,
					"Last self-test in the window (%s): %s, mode %s. ",
					js(s, "started") ? js(s, "started") : "?", sres ? sres : "?",
					smode ? smode : "?");
	if (!enforce)
		off += (size_t)snprintf(st->notes + off, sizeof(st->notes) - off,
					"Audit mode: unallocated accesses are flagged, not denied. ");
	off += (size_t)snprintf(st->notes + off, sizeof(st->notes) - off,
				"%llu violation events in the window, %llu of them not denied "
				"(outside the self-test). ",
				(unsigned long long)c->n_viol, (unsigned long long)c->n_unresolved_viol);
	if (ag_expo_containers(c->expo))
		off += (size_t)snprintf(st->notes + off, sizeof(st->notes) - off,
					"%zu containers could reach %llu accelerator nodes beyond their "
					"allocation by their OCI spec (exposure.json); their accesses are "
					"judged against the allocation. ", ag_expo_containers(c->expo),
					ag_expo_devices(c->expo));
	if (tier && !strcmp(tier, "tracepoint"))
		snprintf(st->notes + off, sizeof(st->notes) - off,
			 "Tier 3: opens and mknod are denied with EPERM; an unallocated ioctl, read, "
			 "write or mmap is stopped by killing the process (the call itself still runs), "
			 "not denied, as is a descriptor of another tenant's device on arrival "
			 "(SCM_RIGHTS, pidfd_getfd, a move into its cgroup) and acting on another "
			 "tenant's process (ptrace, "
			 "process_vm_readv/writev, /proc/PID/mem). What tier 3 cannot promise: it judges "
			 "the file in a descriptor slot at syscall entry, and a call whose slot is "
			 "changed while it runs (another thread's dup2 while the call waits on a "
			 "userfaultfd page, a slot swapped between a decoy and a device) reaches the "
			 "device unjudged; the access counts are what syscall entry saw, approximate "
			 "under such races.");
	else
		snprintf(st->notes + off, sizeof(st->notes) - off,
			 "Opens, mknod, ioctls, reads, writes and mmaps are denied synchronously with "
			 "EPERM, judging the file itself, as is acting on another tenant's process "
			 "(ptrace, process_vm_readv/writev, /proc/PID/mem, pidfd_getfd).");
}

static const char *verdict_colour(int v)
{
	switch (v + 1) { /* v: the verdict's index, as in is_violation */
	case AG_V_ALLOWED: return "#4caf50";
	case AG_V_UNMEDIATED: case AG_V_CROSS_TENANT: return "#e53935";
	case AG_V_UNRESOLVED: return "#fbc02d";
	default: return "#9e9e9e";
	}
}

/* the i-th oldest of the violations kept */
static const struct viol *viol_at(const struct coll *c, size_t i)
{
	return &c->tl[(c->n_viol - c->n_tl + i) % MAX_TIMELINE];
}

/* The report's style: a screen page and a printout (A4 landscape, colours kept, the tables'
 * heads repeated on every page, no row cut in two). */
static const char report_css[] =
	"body{font-family:sans-serif;margin:2em;color:#222}"
	"table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
	"th{background:#f4f4f4}.cell{color:#fff;text-align:center}.cell small{display:block}"
	".st-Implemented{color:#2e7d32}.st-Partially{color:#f9a825}.st-Not{color:#c62828}"
	".has-observed{outline:3px solid #000;outline-offset:-3px}"
	"#violations-table td{font-family:monospace;font-size:12px;vertical-align:top}"
	"#violations-table td:first-child,#violations-table td:nth-child(6){white-space:nowrap}"
	"#exposure-table td{font-family:monospace;font-size:12px;vertical-align:top}"
	".act-denied,.act-killed{color:#2e7d32;font-weight:bold}.act-observed{color:#c62828;font-weight:bold}"
	"@media print{@page{size:A4 landscape;margin:12mm}body{margin:0;font-size:10pt}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	"h2{break-after:avoid}tr{break-inside:avoid}thead{display:table-header-group}"
	"td,th{font-size:9pt;padding:2px 4px}#violations-table td,#exposure-table td{font-size:8pt}"
	"svg{max-width:100%;height:auto}}";

static void write_violations(const struct coll *c, FILE *f, const char *node)
{
	size_t shown = c->n_tl < MAX_VIOL_ROWS ? c->n_tl : MAX_VIOL_ROWS;
	char a[40];

	fprintf(f, "<p id=\"violations\">%llu violation events in the window",
		(unsigned long long)c->n_viol);
	if (c->n_viol > shown)
		fprintf(f, "; the newest %zu below, newest first (all of them are in journal.jsonl)",
			shown);
	else if (shown)
		fprintf(f, ", newest first");
	fprintf(f, ".</p>\n");
	if (!shown)
		return;
	fprintf(f, "<table id=\"violations-table\" data-total=\"%llu\" data-shown=\"%zu\"><thead><tr>"
		   "<th>time (UTC)</th><th>node</th><th>tenant</th><th>process</th><th>operation</th>"
		   "<th>device, class</th><th>verdict</th><th>action</th></tr></thead><tbody>\n",
		(unsigned long long)c->n_viol, shown);
	for (size_t k = 0; k < shown; k++) {
		const struct viol *w = viol_at(c, c->n_tl - 1 - k);

		ag_fmt_rfc3339(w->t, 9, a, sizeof(a));
		fprintf(f, "<tr><td>%s</td><td>", a);
		ag_xml_esc(f, node);
		fprintf(f, "</td><td>");
		ag_xml_esc(f, w->row);
		fprintf(f, "</td><td>");
		ag_xml_esc(f, w->comm);
		fprintf(f, " (pid %llu)</td><td>%s", (unsigned long long)w->pid, ag_op_name(w->op + 1));
		if (w->ioctl[0]) {
			fputc(' ', f);
			ag_xml_esc(f, w->ioctl);
		}
		fprintf(f, "</td><td>");
		ag_xml_esc(f, w->col);
		fprintf(f, "</td><td>%s</td><td class=\"act-", ag_verdict_name(w->verdict + 1));
		ag_xml_esc(f, w->action);
		fprintf(f, "\">");
		ag_xml_esc(f, w->action);
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</tbody></table>\n");
}

/* upstream's subtests of a self-test run with --conformance, container by container */
static void write_conformance(FILE *f, json_object *conf)
{
	fprintf(f, "<h3>TestSecureAcceleratorAccess (kubernetes-sigs/ai-conformance), at this node"
		   "</h3>\n<table id=\"conformance\"><thead><tr><th>subtest</th><th>result</th>"
		   "<th>container</th><th>allocated</th><th>visible in its mount namespace</th>"
		   "<th></th></tr></thead><tbody>\n");
	for (size_t i = 0; i < json_object_array_length(conf); i++) {
		json_object *t = json_object_array_get_idx(conf, i), *cs = jo(t, "containers");
		size_t n = cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;

		fprintf(f, "<tr><td>");
		ag_xml_esc(f, js(t, "name"));
		fprintf(f, "</td><td><b>");
		ag_xml_esc(f, js(t, "result"));
		fprintf(f, "</b></td><td colspan=\"4\">");
		ag_xml_esc(f, js(t, "message"));
		fprintf(f, "</td></tr>\n");
		for (size_t k = 0; k < n; k++) {
			json_object *x = json_object_array_get_idx(cs, k), *a = jo(x, "allocated"),
				    *v = jo(x, "visible");

			fprintf(f, "<tr><td></td><td></td><td>");
			ag_xml_esc(f, js(x, "namespace"));
			fprintf(f, "/");
			ag_xml_esc(f, js(x, "pod"));
			fprintf(f, "/");
			ag_xml_esc(f, js(x, "container"));
			fprintf(f, "</td><td>");
			for (size_t j = 0; a && j < json_object_array_length(a); j++) {
				fprintf(f, "%s", j ? ", " : "");
				ag_xml_esc(f, json_object_get_string(json_object_array_get_idx(a, j)));
			}
			fprintf(f, "</td><td>");
			for (size_t j = 0; v && j < json_object_array_length(v); j++) {
				json_object *d = json_object_array_get_idx(v, j);

				fprintf(f, "%s", j ? ", " : "");
				ag_xml_esc(f, js(d, "device"));
				fprintf(f, " ");
				ag_xml_esc(f, js(d, "path"));
			}
			fprintf(f, "</td><td>");
			ag_xml_esc(f, js(x, "result"));
			if (js(x, "why")) {
				fprintf(f, ": ");
				ag_xml_esc(f, js(x, "why"));
			}
			fprintf(f, "</td></tr>\n");
		}
	}
	fprintf(f, "</tbody></table>\n");
}

/* The matrix as a grid: rows and columns in first-seen order, each cell at [row * nc + col]. */
struct grid {
	char **rows, **cols;
	size_t nr, nc;
	struct cell **cell;
};

static void grid_free(struct grid *g)
{
	free(g->rows);
	free(g->cols);
	free(g->cell);
}

static void grid_build(const struct coll *c, struct grid *g)
{
	size_t *ri = calloc(c->n_cells + 1, sizeof(size_t)), *ci = calloc(c->n_cells + 1, sizeof(size_t));

	g->rows = calloc(c->n_cells + 1, sizeof(char *));
	g->cols = calloc(c->n_cells + 1, sizeof(char *));
	for (size_t i = 0; g->rows && g->cols && ri && ci && i < c->n_cells; i++) {
		size_t k;

		for (k = 0; k < g->nr && strcmp(g->rows[k], c->cells[i].row); k++)
			;
		if (k == g->nr)
			g->rows[g->nr++] = c->cells[i].row;
		ri[i] = k;
		for (k = 0; k < g->nc && strcmp(g->cols[k], c->cells[i].col); k++)
			;
		if (k == g->nc)
			g->cols[g->nc++] = c->cells[i].col;
		ci[i] = k;
	}
	g->cell = g->nr && g->nc ? calloc(g->nr * g->nc, sizeof(*g->cell)) : NULL;
	for (size_t i = 0; g->cell && i < c->n_cells; i++)
		g->cell[ri[i] * g->nc + ci[i]] = &c->cells[i];
	if (!g->cell)
		g->nr = 0;
	free(ri);
	free(ci);
}

/* the head: the status, its notes, the tier and what it cannot do */
static void html_head(const struct coll *c, const struct status *st, FILE *f, const char *node)
{
	const char *tier = js(c->ready, "tier");

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		   "<title>accelguard evidence: ");
	ag_xml_esc(f, node);
	fprintf(f, "</title>\n<style>%s</style></head><body>\n", report_css);
	fprintf(f, "<h1>accelguard evidence: node ");
	ag_xml_esc(f, node);
	fprintf(f, "</h1>\n<p id=\"status\" class=\"st-%.*s\"><b>secure_accelerator_access: ",
		(int)strcspn(st->status, " "), st->status);
	ag_xml_esc(f, st->status);
	fprintf(f, "</b></p>\n<p id=\"notes\">");
	ag_xml_esc(f, st->notes);
	fprintf(f, "</p>\n<h2>Tier</h2>\n<p id=\"tier\">tier <b>");
	ag_xml_esc(f, tier ? tier : "?");
	fprintf(f, "</b>, mode <b>");
	ag_xml_esc(f, js(c->ready, "mode") ? js(c->ready, "mode") : "?");
	fprintf(f, "</b>, kernel ");
	ag_xml_esc(f, js(c->ready, "kernel"));
	fprintf(f, ". %s</p>\n", tier && !strcmp(tier, "tracepoint")
					 ? "What this tier cannot do: deny an ioctl, read, write or mmap "
					   "synchronously (an unallocated one is answered by killing the "
					   "process, and the call itself still runs), or see io_uring and aio "
					   "reads and writes."
					 : "Opens, mknod, ioctls, reads, writes and mmaps are denied before the "
					   "driver sees them.");
}

/* one cell of the matrix: coloured by its worst verdict, its counts as data attributes */
static void html_cell(FILE *f, const struct cell *x, const char *row, const char *col)
{
	/* the worst verdict colours the cell: a violation, unresolved, allowed, other */
	int worst = x->by_verdict[2] ? 2 : x->by_verdict[1] ? 1 : x->by_verdict[6] ? 6
		    : x->by_verdict[0] ? 0 : 3;

	fprintf(f, "<td class=\"cell%s\" style=\"background:%s\" data-tenant=\"",
		x->viol_observed ? " has-observed" : "", verdict_colour(worst));
	ag_xml_esc(f, row);
	fprintf(f, "\" data-device=\"");
	ag_xml_esc(f, col);
	fprintf(f, "\" data-total=\"%llu\"", (unsigned long long)x->total);
	for (int v = 0; v < N_VERDICTS; v++)
		fprintf(f, " data-%s=\"%llu\"", ag_verdict_name(v + 1),
			(unsigned long long)x->by_verdict[v]);
	fprintf(f, " data-denied=\"%llu\" data-observed=\"%llu\" data-killed=\"%llu\">"
		"<b class=\"n\">%llu</b>", (unsigned long long)x->viol_denied,
		(unsigned long long)x->viol_observed, (unsigned long long)x->viol_killed,
		(unsigned long long)x->total);
	if (x->viol_denied)
		fprintf(f, "<small>%llu denied</small>", (unsigned long long)x->viol_denied);
	if (x->viol_killed)
		fprintf(f, "<small>%llu killed</small>", (unsigned long long)x->viol_killed);
	if (x->viol_observed)
		fprintf(f, "<small>%llu observed</small>", (unsigned long long)x->viol_observed);
	fprintf(f, "</td>");
}

static void html_matrix(const struct coll *c, FILE *f)
{
	struct grid g = { 0 };

	grid_build(c, &g);
	fprintf(f, "<h2>Access matrix</h2>\n<p>Cells: access events by verdict (green allowed, red "
		   "cross_tenant or unmediated, yellow unresolved, grey host/exempt/admin); under the "
		   "count, what became of the violations among them: denied (stopped), killed (the "
		   "process killed after the call) or observed (let through; such a cell is "
		   "outlined in black).</p>\n"
		   "<table id=\"matrix\"><tr><th>tenant \\ device</th>");
	for (size_t k = 0; k < g.nc; k++) {
		fprintf(f, "<th>");
		ag_xml_esc(f, g.cols[k]);
		fprintf(f, "</th>");
	}
	fprintf(f, "</tr>\n");
	for (size_t r = 0; r < g.nr; r++) {
		fprintf(f, "<tr><th>");
		ag_xml_esc(f, g.rows[r]);
		fprintf(f, "</th>");
		for (size_t k = 0; k < g.nc; k++) {
			if (g.cell[r * g.nc + k])
				html_cell(f, g.cell[r * g.nc + k], g.rows[r], g.cols[k]);
			else
				fprintf(f, "<td></td>");
		}
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n");
	grid_free(&g);
}

/* the newest violations on a line, each a dot with its time, cell and verdict */
static void html_timeline(const struct coll *c, FILE *f)
{
	__s64 t0 = c->n_tl ? viol_at(c, 0)->t : 0, t1 = c->n_tl ? viol_at(c, c->n_tl - 1)->t : 1;
	char a[40];

	fprintf(f, "<svg id=\"timeline\" width=\"900\" height=\"60\" viewBox=\"0 0 900 60\" "
		   "xmlns=\"http://www.w3.org/2000/svg\"><line x1=\"10\" y1=\"30\" x2=\"890\" y2=\"30\" "
		   "stroke=\"#999\"/>");
	for (size_t i = 0; i < c->n_tl; i++) {
		const struct viol *w = viol_at(c, i);
		double x = 10 + (t1 > t0 ? 880.0 * (double)(w->t - t0) / (double)(t1 - t0) : 440);

		ag_fmt_rfc3339(w->t, 9, a, sizeof(a));
		fprintf(f, "<circle cx=\"%.1f\" cy=\"30\" r=\"5\" fill=\"%s\"><title>%s ", x,
			verdict_colour(w->verdict), a);
		ag_xml_esc(f, w->row);
		fprintf(f, " ");
		ag_xml_esc(f, w->col);
		fprintf(f, " %s (", ag_verdict_name(w->verdict + 1));
		ag_xml_esc(f, w->action);
		fprintf(f, ")</title></circle>");
	}
	fprintf(f, "</svg>\n");
}

static void html_selftest_check(FILE *f, json_object *x)
{
	fprintf(f, "<tr><td>");
	ag_xml_esc(f, js(x, "what"));
	fprintf(f, "</td><td>");
	ag_xml_esc(f, js(x, "device"));
	fprintf(f, "</td><td>");
	ag_xml_esc(f, js(jo(x, "expected"), "verdict"));
	fprintf(f, "/");
	ag_xml_esc(f, js(jo(x, "expected"), "action"));
	fprintf(f, "</td><td>");
	ag_xml_esc(f, js(jo(x, "got"), "verdict"));
	fprintf(f, "/");
	ag_xml_esc(f, js(jo(x, "got"), "action"));
	fprintf(f, ", errno ");
	ag_xml_esc(f, js(jo(x, "got"), "errno"));
	fprintf(f, "</td><td>");
	ag_xml_esc(f, js(x, "result"));
	fprintf(f, "</td></tr>\n");
}

/* the window's last self-test: its checks, and upstream's subtests when it ran them */
static void html_selftest(FILE *f, json_object *s)
{
	json_object *ch = jo(s, "checks");

	fprintf(f, "<h2>Self-test</h2>\n");
	if (!s) {
		fprintf(f, "<p id=\"selftest\">No self-test ran in the window.</p>\n");
		return;
	}
	fprintf(f, "<p id=\"selftest\">Run ");
	ag_xml_esc(f, js(s, "run"));
	fprintf(f, " at ");
	ag_xml_esc(f, js(s, "started"));
	fprintf(f, ": <b>");
	ag_xml_esc(f, js(s, "result"));
	fprintf(f, "</b> (mode ");
	ag_xml_esc(f, js(s, "mode"));
	fprintf(f, "; ");
	ag_xml_esc(f, js(s, "device_kind"));
	fprintf(f, ")</p>\n<table id=\"selftest-checks\"><tr><th>check</th><th>device</th>"
		   "<th>expected</th><th>got</th><th>result</th></tr>\n");
	for (size_t j = 0; ch && j < json_object_array_length(ch); j++)
		html_selftest_check(f, json_object_array_get_idx(ch, j));
	fprintf(f, "</table>\n");
	if (jo(s, "conformance"))
		write_conformance(f, jo(s, "conformance"));
}

static void write_html(struct coll *c, const struct status *st, FILE *f, const char *node)
{
	html_head(c, st, f, node);
	html_matrix(c, f);
	fprintf(f, "<h2>Violations</h2>\n");
	write_violations(c, f, node);
	html_timeline(c, f);
	ag_expo_write_html(c->expo, f, json_object_get_boolean(jo(c->ready, "exposure")));
	html_selftest(f, last_selftest(c));
	fprintf(f, "</body></html>\n");
}

static const char *const bundle_files[] = { "journal.jsonl", "access-matrix.json",
					    "access-matrix.csv", "exposure.json", "exposure.csv",
					    "selftest.json",
					    "selftest-junit.xml", "report.html", "PRODUCT.yaml" };

/* The requirement entry, keys at column 0; evidence paths are prefix + each file's name. */
static void write_entry(const struct status *st, FILE *f, const char *prefix)
{
	fprintf(f, "- id: secure_accelerator_access\n"
		   "  description: \"Ensure that access to accelerators from within containers is "
		   "properly isolated and mediated by the Kubernetes resource management framework "
		   "(device plugin or DRA) and container runtime, preventing unauthorized access or "
		   "interference between workloads.\"\n"
		   "  level: MUST\n  status: ");
	ag_evidence_yaml_dq(f, st->status);
	fprintf(f, "\n  evidence:\n");
	for (size_t i = 0; i < sizeof(bundle_files) / sizeof(bundle_files[0]); i++)
		if (strcmp(bundle_files[i], "PRODUCT.yaml")) {
			fprintf(f, "    - ");
			{
				char p[PATH_MAX];

				snprintf(p, sizeof(p), "%s%s", prefix, bundle_files[i]);
				ag_evidence_yaml_dq(f, p);
			}
			fputc('\n', f);
		}
	fprintf(f, "    - ");
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%smanifest.json", prefix);
		ag_evidence_yaml_dq(f, p);
	}
	fprintf(f, "\n  notes: ");
	ag_evidence_yaml_dq(f, st->notes);
	fprintf(f, "\n");
}

static void write_product(const struct status *st, FILE *f)
{
	fprintf(f, "# the secure_accelerator_access entry of PRODUCT.yaml, written by accelguard "
		   "evidence;\n# evidence paths are relative to the bundle: copy its files beside "
		   "PRODUCT.yaml\n# (or let accelguard evidence --product FILE merge it)\n");
	write_entry(st, f, "");
}

/* to, relative to the directory from (both canonical, absolute), with a trailing slash ("" for
 * the same directory) */
static void rel_dir(const char *from, const char *to, char *out, size_t len)
{
	size_t common = 0, off = 0;

	/* the longest common prefix that ends where a component ends in both */
	for (size_t i = 0;; i++) {
		if ((!from[i] || from[i] == '/') && (!to[i] || to[i] == '/'))
			common = i;
		if (!from[i] || from[i] != to[i])
			break;
	}
	out[0] = 0;
	for (const char *s = from + common; *s; s++)
		if (s[0] == '/' && s[1])
			off += (size_t)snprintf(out + off, off < len ? len - off : 0, "../");
	to += common + (to[common] == '/');
	if (*to)
		snprintf(out + off, off < len ? len - off : 0, "%s/", to);
}

/* --product: the entry merged into FILE (or FILE written from the checklist), then checked
 * as the CNCF validator would. 0: valid offline; 3: written, refused; 1: not written. */
static int product_out(const struct status *st, const char *product, const char *version,
		       const char *out)
{
	char pdir[PATH_MAX], rout[PATH_MAX], rdir[PATH_MAX], prefix[PATH_MAX], err[1024];
	char *buf = NULL;
	size_t blen = 0;
	FILE *m;
	int r;

	snprintf(pdir, sizeof(pdir), "%s", product);
	if (strrchr(pdir, '/'))
		*strrchr(pdir, '/') = 0;
	else
		snprintf(pdir, sizeof(pdir), ".");
	if (!pdir[0])
		snprintf(pdir, sizeof(pdir), "/");
	if (!realpath(pdir, rdir) || !realpath(out, rout)) {
		ag_err("evidence: --product %s: %s: %s", product, pdir, strerror(errno));
		return 1;
	}
	if (!strcmp(rdir, rout)) {
		/* the bundle's own files are sealed by its manifest */
		ag_err("evidence: --product %s: that is inside the bundle %s; put PRODUCT.yaml above "
		       "it (vX.Y/<product>/PRODUCT.yaml, the bundle in a folder beside it)", product, out);
		return 1;
	}
	rel_dir(rdir, rout, prefix, sizeof(prefix));
	m = open_memstream(&buf, &blen);
	if (!m)
		return 1;
	write_entry(st, m, prefix);
	fclose(m);
	r = ag_product_merge(product, version, buf, err, sizeof(err));
	free(buf);
	if (r) {
		ag_err("evidence: --product: %s", err);
		return 1;
	}
	r = ag_product_check(product, version, stdout);
	return r < 0 ? 1 : r ? 3 : 0;
}

static int sign_file(const char *keypath, const char *dir, char *err, size_t errlen)
{
	char p[PATH_MAX], b64[200];
	unsigned char sig[64], *msg = NULL;
	size_t siglen = sizeof(sig), n = 0;
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *m = NULL;
	FILE *f = fopen(keypath, "re");
	int r = -EINVAL;

	if (!f) {
		snprintf(err, errlen, "--sign-key %s: %s", keypath, strerror(errno));
		return -errno;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "--sign-key %s: not an Ed25519 private key in PEM "
			 "(openssl genpkey -algorithm ed25519)", keypath);
		goto out;
	}
	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	if (ag_read_file(p, (char **)&msg, &n))
		msg = NULL;
	m = EVP_MD_CTX_new();
	if (!msg || !m || EVP_DigestSignInit(m, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(m, sig, &siglen, msg, n) != 1) {
		snprintf(err, errlen, "cannot sign %s", p);
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	f = open_out(dir, SIG_FILE);
	if (!f) {
		snprintf(err, errlen, "%s/%s: %s", dir, SIG_FILE, strerror(errno));
		goto out;
	}
	fprintf(f, "%s\n", b64);
	r = close_out(f);
out:
	free(msg);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(k);
	return r;
}

static int write_tar(const char *dir, const char *tarpath, char *err, size_t errlen);
static void rm_flat(const char *dir);

/* One run of `evidence`: its options, the journal's facts, the bundle being made. */
struct build {
	const char *config, *jdir, *out, *key, *tar, *product, *cversion, *upload, *upload_ca;
	char tmpout[32], tmpb[40]; /* --tar alone: the bundle in a private directory */
	struct ag_config cfg;
	bool cfg_loaded;
	char cfgsum[65], part[PATH_MAX], node[256];
	struct utsname u;
	struct coll c;
	struct status st;
};

static int build_usage(void)
{
	printf("Usage: accelguard evidence --out DIR [--config FILE | --dir JOURNAL]\n"
	       "                           [--since T] [--until T] [--sign-key KEY.pem]\n"
	       "                           [--tar F.tar.gz [--upload URL [--upload-ca CA.pem]]]\n"
	       "                           [--product PRODUCT.yaml [--conformance-version X.Y]]\n"
	       "       accelguard evidence cluster --kubeconfig F --out DIR [--sign-key KEY.pem]\n"
	       "       accelguard evidence verify DIR [--pubkey PUB.pem]\n"
	       "       accelguard evidence product-check PRODUCT.yaml [--conformance-version X.Y]\n\n"
	       "Write an evidence bundle of the journal's window into DIR (made whole, or\n"
	       "not at all): journal.jsonl, access-matrix.json/.csv, selftest.json,\n"
	       "selftest-junit.xml, report.html, PRODUCT.yaml, manifest.json (sha256 of\n"
	       "every file) and, with --sign-key (Ed25519), manifest.json.sig.\n"
	       "--product merges the secure_accelerator_access entry (evidence paths\n"
	       "relative to it) into PRODUCT.yaml, or writes one from the version's checklist,\n"
	       "and checks it as the CNCF validator would: exit 3 when it would be refused.\n");
	return 0;
}

/* the options that go together; 2 (said why) when they do not */
static int build_check_options(const struct build *B)
{
	const char *why = NULL;

	if (!B->out && !B->tar)
		why = "--out DIR or --tar FILE.tar.gz is required";
	else if (B->upload && !B->tar)
		why = "--upload URL puts the tarball: give --tar FILE.tar.gz too";
	else if (B->product && !B->out)
		why = "--product FILE points at the bundle's files: give --out DIR too";
	else if (B->cversion && !B->product)
		why = "--conformance-version is for --product";
	if (why) {
		ag_err("evidence: %s", why);
		return 2;
	}
	if (B->cversion && !ag_product_checklist(B->cversion, NULL)) {
		ag_err("evidence: --conformance-version %s: no such checklist (1.33 to 1.37)",
		       B->cversion);
		return 2;
	}
	return -1;
}

/* The options; -1 to go on, else the exit code. */
static int build_options(struct build *B, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "dir", required_argument, NULL, 'D' },
		{ "since", required_argument, NULL, 's' },  { "until", required_argument, NULL, 'u' },
		{ "out", required_argument, NULL, 'o' },    { "sign-key", required_argument, NULL, 'k' },
		{ "tar", required_argument, NULL, 'T' },    { "help", no_argument, NULL, 'h' },
		{ "upload", required_argument, NULL, 'U' }, { "upload-ca", required_argument, NULL, 'A' },
		{ "product", required_argument, NULL, 'P' },
		{ "conformance-version", required_argument, NULL, 'V' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:D:s:u:o:k:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': B->config = optarg; break;
		case 'D': B->jdir = optarg; break;
		case 'o': B->out = optarg; break;
		case 'k': B->key = optarg; break;
		case 'T': B->tar = optarg; break;
		case 'U': B->upload = optarg; break;
		case 'A': B->upload_ca = optarg; break;
		case 'P': B->product = optarg; break;
		case 'V': B->cversion = optarg[0] == 'v' ? optarg + 1 : optarg; break;
		case 's':
		case 'u':
			if (ag_journal_parse_time(optarg, opt == 's' ? &B->c.since : &B->c.until)) {
				ag_err("evidence: --%s takes a time (RFC 3339, @SECONDS, -10m), not '%s'",
				       opt == 's' ? "since" : "until", optarg);
				return 2;
			}
			break;
		case 'h': return build_usage();
		default: return 2;
		}
	}
	return build_check_options(B);
}

/* Where the bundle goes (DIR.partial, made here), and the journal from the configuration. */
static int build_setup(struct build *B)
{
	char err[1024];
	__u64 sz;
	int r;

	if (!B->out) {
		/* a tarball alone: the bundle is made in a private directory, then removed */
		snprintf(B->tmpout, sizeof(B->tmpout), "/tmp/accelguard-evidence.XXXXXX");
		if (!mkdtemp(B->tmpout)) {
			r = -errno;
			ag_err("evidence: cannot make a directory under /tmp: %s", strerror(-r));
			B->tmpout[0] = 0;
			return r;
		}
		snprintf(B->tmpb, sizeof(B->tmpb), "%s/b", B->tmpout);
		B->out = B->tmpb;
	}
	r = ag_config_for_journal(&B->config, &B->jdir, &B->cfg, err, sizeof(err));
	if (r < 0) {
		ag_err("evidence: config: %s", err);
		return r;
	}
	B->cfg_loaded = r > 0;
	if (B->cfg_loaded)
		sha256_file(B->config, B->cfgsum, &sz);
	if (!B->jdir) {
		ag_err("evidence: no journal: give --dir or a --config with a journal: section");
		return -EINVAL;
	}
	if (!access(B->out, F_OK)) {
		ag_err("evidence: %s exists; give a new directory", B->out);
		return -EEXIST;
	}
	snprintf(B->part, sizeof(B->part), "%s.partial", B->out);
	if (mkdir(B->part, 0755)) {
		r = -errno;
		ag_err("evidence: cannot make %s: %s", B->part, strerror(-r));
		B->part[0] = 0;
		return r;
	}
	return 0;
}

/* One pass over the journal: the window's slice into journal.jsonl, and its facts. */
static int build_collect(struct build *B)
{
	struct ag_journal_read_stats rs;
	struct coll *c = &B->c;
	int r;

	c->selftests = json_object_new_array();
	c->tl = calloc(MAX_TIMELINE, sizeof(*c->tl));
	c->expo = ag_expo_new(c->since, c->until);
	c->slice = open_out(B->part, "journal.jsonl");
	if (!c->slice || !c->tl || !c->expo) {
		r = errno ? -errno : -ENOMEM;
		ag_err("evidence: %s/journal.jsonl: %s", B->part, strerror(-r));
		return r;
	}
	r = ag_journal_read(B->jdir, 0, INT64_MAX, false, false, NULL, on_event, c, &rs);
	if (r) {
		ag_err("evidence: cannot read the journal %s: %s", B->jdir,
		       strerror(r < 0 ? -r : EIO));
		return r < 0 ? r : -EIO;
	}
	r = close_out(c->slice);
	c->slice = NULL;
	if (r) {
		ag_err("evidence: %s/journal.jsonl: %s", B->part, strerror(-r));
		return r;
	}
	if (!c->ready) {
		ag_err("evidence: the journal %s holds no ready event up to the window's end",
		       B->jdir);
		return -ENOENT;
	}
	uname(&B->u);
	snprintf(B->node, sizeof(B->node), "%s", B->u.nodename);
	decide(c, &B->st);
	return 0;
}

/* the error of writing into the partial bundle, said once */
static int part_io(const struct build *B, int r)
{
	ag_err("evidence: cannot write into %s: %s", B->part, strerror(-r));
	return r;
}

static void part_matrix(struct build *B, FILE *f, FILE *cf)
{
	write_matrix(&B->c, f, cf);
}

static void part_exposure(struct build *B, FILE *f, FILE *cf)
{
	ag_expo_write_json(B->c.expo, f);
	ag_expo_write_csv(B->c.expo, cf);
}

static void part_selftests(struct build *B, FILE *f, FILE *unused)
{
	(void)unused;
	fprintf(f, "%s\n", json_object_to_json_string_ext(B->c.selftests, JSON_C_TO_STRING_PRETTY |
									     JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void part_junit(struct build *B, FILE *f, FILE *unused)
{
	(void)unused;
	write_junit(&B->c, f);
}

static void part_report(struct build *B, FILE *f, FILE *unused)
{
	(void)unused;
	write_html(&B->c, &B->st, f, B->node);
}

static void part_product(struct build *B, FILE *f, FILE *unused)
{
	(void)unused;
	write_product(&B->st, f);
}

/* the bundle's parts after journal.jsonl, each one or two files */
static const struct {
	const char *name, *name2;
	void (*write)(struct build *B, FILE *f, FILE *f2);
} parts[] = {
	{ "access-matrix.json", "access-matrix.csv", part_matrix },
	{ "exposure.json", "exposure.csv", part_exposure },
	{ "selftest.json", NULL, part_selftests },
	{ "selftest-junit.xml", NULL, part_junit },
	{ "report.html", NULL, part_report },
	{ "PRODUCT.yaml", NULL, part_product },
};

static int build_parts(struct build *B)
{
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		FILE *f = open_out(B->part, parts[i].name), *f2 = NULL;
		int r, r2 = 0;

		if (!f || (parts[i].name2 && !(f2 = open_out(B->part, parts[i].name2)))) {
			r = -errno;
			if (f)
				fclose(f);
			return part_io(B, r);
		}
		parts[i].write(B, f, f2);
		r = close_out(f);
		if (f2)
			r2 = close_out(f2);
		if (r || r2)
			return part_io(B, r ? r : r2);
	}
	return 0;
}

static json_object *jstr_or(const char *s, const char *dflt)
{
	return json_object_new_string(s ? s : dflt);
}

/* the manifest: every file above */
static int build_manifest(struct build *B)
{
	json_object *m = json_object_new_object(), *w, *ready = B->c.ready;
	char a[40], b[40];
	int r;

	json_object_object_add(m, "format", json_object_new_string("accelguard-evidence/1"));
	ag_fmt_rfc3339((__s64)ag_now_ns(CLOCK_REALTIME), 9, a, sizeof(a));
	json_object_object_add(m, "generated", json_object_new_string(a));
	json_object_object_add(m, "version", json_object_new_string(AG_VERSION));
	json_object_object_add(m, "agent_version", jstr_or(js(ready, "version"), ""));
	json_object_object_add(m, "node", json_object_new_string(B->node));
	json_object_object_add(m, "kernel", jstr_or(js(ready, "kernel"), B->u.release));
	json_object_object_add(m, "tier", jstr_or(js(ready, "tier"), ""));
	json_object_object_add(m, "mode", jstr_or(js(ready, "mode"), ""));
	w = json_object_new_object();
	ag_fmt_rfc3339(B->c.since, 9, a, sizeof(a));
	ag_fmt_rfc3339(B->c.until == INT64_MAX ? 0 : B->c.until, 9, b, sizeof(b));
	json_object_object_add(w, "since", B->c.since ? json_object_new_string(a) : NULL);
	json_object_object_add(w, "until", B->c.until != INT64_MAX ? json_object_new_string(b) : NULL);
	json_object_object_add(w, "events", json_object_new_int64((int64_t)B->c.n_events));
	json_object_object_add(m, "window", w);
	w = json_object_new_object();
	json_object_object_add(w, "path", B->config ? json_object_new_string(B->config) : NULL);
	json_object_object_add(w, "sha256", B->cfgsum[0] ? json_object_new_string(B->cfgsum) : NULL);
	json_object_object_add(m, "config", w);
	json_object_object_add(m, "status", json_object_new_string(B->st.status));
	r = ag_evidence_write_manifest(B->part, m, bundle_files, ARRAY_SIZE(bundle_files));
	return r ? part_io(B, r) : 0;
}

/* Signed, renamed whole; then the tarball and its upload. Returns the exit code. */
static int build_finish(struct build *B)
{
	char err[1024];

	if (B->key && sign_file(B->key, B->part, err, sizeof(err))) {
		ag_err("evidence: %s", err);
		return -1;
	}
	if (rename(B->part, B->out)) {
		ag_err("evidence: cannot rename %s to %s: %s", B->part, B->out, strerror(errno));
		return -1;
	}
	if (B->tar && write_tar(B->out, B->tar, err, sizeof(err))) {
		ag_err("evidence: %s", err);
		return 1;
	}
	if (B->upload && ag_evidence_upload(B->tar, B->upload, B->upload_ca, err, sizeof(err))) {
		ag_err("evidence: %s (the bundle stays in %s)", err, B->tar);
		return 1;
	}
	printf("evidence: %s: %llu events, %zu matrix cells, %llu violations, %zu self-tests, "
	       "%zu exposed containers; secure_accelerator_access: %s%s\n",
	       B->tar ? B->tar : B->out, (unsigned long long)B->c.n_events, B->c.n_cells,
	       (unsigned long long)B->c.n_viol, json_object_array_length(B->c.selftests),
	       ag_expo_containers(B->c.expo), B->st.status, B->key ? "; manifest signed" : "");
	return B->product ? product_out(&B->st, B->product, B->cversion, B->out) : 0;
}

static void coll_free(struct coll *c)
{
	if (c->slice)
		fclose(c->slice);
	for (size_t i = 0; i < c->n_cells; i++) {
		free(c->cells[i].row);
		free(c->cells[i].col);
	}
	free(c->cells);
	free(c->hash);
	free(c->tl);
	ag_expo_free(c->expo);
	json_object_put(c->selftests);
	json_object_put(c->ready);
}

static int cmd_build(int argc, char **argv)
{
	struct build B = { .c = { .since = 0, .until = INT64_MAX } };
	int ret = build_options(&B, argc, argv);

	if (ret >= 0)
		return ret;
	ret = 1;
	if (!build_setup(&B)) {
		if (build_collect(&B) || build_parts(&B) || build_manifest(&B) ||
		    (ret = build_finish(&B)) < 0) {
			rm_flat(B.part); /* nothing half-made stays */
			ret = 1;
		}
	}
	coll_free(&B.c);
	if (B.tmpb[0]) {
		rm_flat(B.tmpb);
		rmdir(B.tmpout);
	}
	if (B.cfg_loaded)
		ag_config_free(&B.cfg);
	return ret;
}

/* ---- tar.gz (ustar, flat: the bundle's files only) ---- */

static void tar_header(unsigned char h[512], const char *name, __u64 size, time_t mtime)
{
	unsigned int sum = 0;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)mtime);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6); /* magic "ustar\0" */
	h[263] = '0'; /* version "00", no terminator */
	h[264] = '0';
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static int write_tar(const char *dir, const char *tarpath, char *err, size_t errlen)
{
	char part[PATH_MAX];
	unsigned char h[512], buf[65536];
	DIR *d = opendir(dir);
	struct dirent *e;
	gzFile gz;
	int r = 0;

	snprintf(part, sizeof(part), "%s.partial", tarpath);
	gz = d ? gzopen(part, "wb9") : NULL;
	if (!gz) {
		snprintf(err, errlen, "cannot write %s: %s", part, strerror(errno));
		if (d)
			closedir(d);
		return -EIO;
	}
	while (!r && (e = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;
		ssize_t k;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		tar_header(h, e->d_name, (__u64)st.st_size, st.st_mtime);
		if (gzwrite(gz, h, 512) != 512)
			r = -EIO;
		while (!r && (k = read(fd, buf, sizeof(buf))) > 0)
			if (gzwrite(gz, buf, (unsigned int)k) != (int)k)
				r = -EIO;
		if (!r && st.st_size % 512) {
			memset(buf, 0, 512);
			if (gzwrite(gz, buf, (unsigned int)(512 - st.st_size % 512)) <= 0)
				r = -EIO;
		}
		close(fd);
	}
	closedir(d);
	memset(buf, 0, 1024);
	if (!r && gzwrite(gz, buf, 1024) != 1024)
		r = -EIO;
	if (gzclose(gz) != Z_OK)
		r = -EIO;
	if (!r && rename(part, tarpath))
		r = -errno;
	if (r) {
		snprintf(err, errlen, "cannot write %s: %s", tarpath, strerror(errno ? errno : EIO));
		unlink(part);
	}
	return r;
}

/* Extract a bundle tarball into dir: regular files with plain names only. */
static int read_tar(const char *tarpath, const char *dir)
{
	unsigned char h[512];
	gzFile gz = gzopen(tarpath, "rb");
	int r = 0;

	if (!gz)
		return -errno ? -errno : -ENOENT;
	for (;;) {
		char name[101], p[PATH_MAX];
		unsigned long long size;
		FILE *f;

		if (gzread(gz, h, 512) != 512) {
			r = -EINVAL;
			break;
		}
		if (!h[0])
			break; /* the end blocks */
		memcpy(name, h, 100);
		name[100] = 0;
		size = strtoull((char *)h + 124, NULL, 8);
		if ((h[156] != '0' && h[156] != 0) || strchr(name, '/') || name[0] == '.' ||
		    size > (1ull << 32)) {
			printf("bad entry: %s (only the bundle's plain files belong in it)\n", name);
			r = -EINVAL;
			break;
		}
		snprintf(p, sizeof(p), "%s/%s", dir, name);
		f = fopen(p, "wxe");
		if (!f && errno == EEXIST) {
			printf("bad entry: %s (given twice)\n", name);
			r = -EINVAL;
			break;
		}
		if (!f) {
			r = -errno;
			break;
		}
		for (unsigned long long left = size; left;) {
			char buf[65536];
			unsigned int want = left > sizeof(buf) ? sizeof(buf) : (unsigned int)left;
			int k = gzread(gz, buf, want);

			if (k <= 0) {
				r = -EINVAL;
				break;
			}
			fwrite(buf, 1, (size_t)k, f);
			left -= (unsigned long long)k;
		}
		fclose(f);
		if (r)
			break;
		if (size % 512 && gzread(gz, h, (unsigned int)(512 - size % 512)) <= 0) {
			r = -EINVAL;
			break;
		}
	}
	gzclose(gz);
	return r;
}

static void rm_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char p[PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* ---- verify ---- */

/* The manifest's entries against the files: a bad entry, a missing or a changed file each
 * printed; returns how many. */
static int verify_listed(const char *dir, json_object *files)
{
	size_t n = json_object_array_length(files);
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(files, i);
		const char *name = js(f, "path"), *sum = js(f, "sha256");
		char hex[65], fp[PATH_MAX];
		__u64 sz;

		if (!name || !sum || strchr(name, '/') || name[0] == '.') {
			printf("bad entry: %s\n", name ? name : "(no path)");
			bad++;
			continue;
		}
		snprintf(fp, sizeof(fp), "%s/%s", dir, name);
		if (sha256_file(fp, hex, &sz)) {
			printf("missing: %s\n", name);
			bad++;
		} else if (strcmp(hex, sum) || (int64_t)sz != json_object_get_int64(jo(f, "size"))) {
			printf("changed: %s (sha256 %s, the manifest says %s)\n", name, hex, sum);
			bad++;
		}
	}
	return bad;
}

/* The files the manifest does not list (itself and its signature aside); returns how many. */
static int verify_extra(const char *dir, json_object *files)
{
	size_t n = json_object_array_length(files);
	DIR *d = opendir(dir);
	struct dirent *e;
	int bad = 0;

	while (d && (e = readdir(d))) {
		bool listed = false;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "manifest.json") || !strcmp(e->d_name, SIG_FILE))
			continue;
		for (size_t i = 0; i < n && !listed; i++) {
			const char *name = js(json_object_array_get_idx(files, i), "path");

			listed = name && !strcmp(name, e->d_name);
		}
		if (!listed) {
			printf("extra: %s (not in the manifest)\n", e->d_name);
			bad++;
		}
	}
	if (d)
		closedir(d);
	return bad;
}

/* The signature file's bytes (base64 of 64), decoded into sig; its length, or -1. */
static int read_sig(const char *dir, unsigned char sig[128])
{
	char sp[PATH_MAX], b64[256] = "";
	FILE *f;

	snprintf(sp, sizeof(sp), "%s/%s", dir, SIG_FILE);
	f = fopen(sp, "re");
	if (f) {
		if (!fgets(b64, sizeof(b64), f))
			b64[0] = 0;
		fclose(f);
	}
	b64[strcspn(b64, "\r\n")] = 0;
	return b64[0] ? EVP_DecodeBlock(sig, (unsigned char *)b64, (int)strlen(b64)) : -1;
}

/* manifest.json's Ed25519 signature with the public key in pub: 0 good, 1 (printed why) not. */
static int verify_sig(const char *dir, const char *manifest, const char *pub)
{
	unsigned char sig[128], *msg = NULL;
	size_t len = 0;
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *mc = NULL;
	FILE *f = fopen(pub, "re");
	int sl, ok = 0;

	if (f) {
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		fclose(f);
	}
	sl = read_sig(dir, sig);
	if (ag_read_file(manifest, (char **)&msg, &len))
		msg = NULL;
	mc = EVP_MD_CTX_new();
	if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519)
		printf("signature: %s is not an Ed25519 public key in PEM\n", pub);
	else if (sl < 64)
		printf("signature: %s is missing or not base64\n", SIG_FILE);
	else if (msg && mc && EVP_DigestVerifyInit(mc, NULL, NULL, NULL, k) == 1 &&
		 EVP_DigestVerify(mc, sig, 64, msg, len) == 1)
		ok = 1;
	else
		printf("signature: does not match manifest.json with %s\n", pub);
	free(msg);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(k);
	return !ok;
}

/* A bundle directory (label: what the user named, the tarball or dir). Returns the exit code. */
static int verify_dir(const char *dir, const char *label, const char *pub)
{
	char p[PATH_MAX];
	json_object *m, *files;
	size_t n;
	int bad;

	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	m = json_object_from_file(p);
	files = jo(m, "files");
	if (!m || !files || !json_object_is_type(files, json_type_array)) {
		ag_err("evidence verify: %s: missing or not a manifest (%s)", p,
		       json_util_get_last_err() ? json_util_get_last_err() : "no files list");
		json_object_put(m);
		return 1;
	}
	n = json_object_array_length(files);
	bad = verify_listed(dir, files) + verify_extra(dir, files);
	json_object_put(m);
	if (pub) {
		bad += verify_sig(dir, p, pub);
	} else {
		snprintf(p, sizeof(p), "%s/%s", dir, SIG_FILE);
		if (!access(p, F_OK))
			printf("note: the manifest is signed; give --pubkey to check the signature\n");
	}
	if (bad) {
		printf("evidence verify: %s: FAILED (%d problems)\n", label, bad);
		return 1;
	}
	printf("evidence verify: %s: ok (%zu files%s)\n", label, n, pub ? ", signature good" : "");
	return 0;
}

static bool is_tarball(const char *path)
{
	size_t l = strlen(path);
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && l > 3 &&
	       (!strcmp(path + l - 3, ".gz") || !strcmp(path + l - 4, ".tgz"));
}

/* A bundle directory, or a tarball of one (unpacked into a fresh directory under /tmp). */
static int verify_path(const char *path, const char *pub)
{
	char tmp[] = "/tmp/accelguard-verify.XXXXXX"; /* fresh at each call */
	int r;

	if (!is_tarball(path))
		return verify_dir(path, path, pub);
	if (!mkdtemp(tmp)) {
		ag_err("evidence verify: cannot make a directory under /tmp: %s", strerror(errno));
		return 1;
	}
	r = read_tar(path, tmp);
	if (r)
		printf("evidence verify: %s: FAILED (not a whole bundle tarball: %s)\n", path,
		       strerror(-r));
	else
		r = verify_dir(tmp, path, pub);
	rm_flat(tmp);
	return r ? 1 : 0;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pub = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': pub = optarg; break;
		case 'h':
			printf("Usage: accelguard evidence verify DIR [--pubkey PUB.pem]\n\n"
			       "Check every file's sha256 against manifest.json, that the manifest covers\n"
			       "every file and nothing else, and with --pubkey its Ed25519 signature.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 1 != argc) {
		ag_err("evidence verify: give one bundle directory");
		return 2;
	}
	return verify_path(argv[optind], pub);
}

int ag_evidence_cmd(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "product-check"))
		return ag_product_check_cmd(argc - 1, argv + 1);
	return cmd_build(argc, argv);
}

/* ---- for the cluster roll-up (evidence_cluster.c) ---- */

int ag_evidence_verify(const char *path, const char *pubkey)
{
	return verify_path(path, pubkey);
}

int ag_evidence_unpack(const char *tarpath, const char *dir)
{
	return read_tar(tarpath, dir);
}

int ag_evidence_write_manifest(const char *dir, json_object *m, const char *const *names, size_t n)
{
	json_object *files = json_object_new_array();
	FILE *f;
	int r = 0;

	for (size_t i = 0; i < n && !r; i++) {
		char p[PATH_MAX], hex[65];
		__u64 sz;
		json_object *e;

		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		r = sha256_file(p, hex, &sz);
		if (r)
			break;
		e = json_object_new_object();
		json_object_object_add(e, "path", json_object_new_string(names[i]));
		json_object_object_add(e, "sha256", json_object_new_string(hex));
		json_object_object_add(e, "size", json_object_new_int64((int64_t)sz));
		json_object_array_add(files, e);
	}
	json_object_object_add(m, "files", files);
	if (!r && !(f = open_out(dir, "manifest.json")))
		r = -errno;
	if (!r) {
		fprintf(f, "%s\n", json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		r = close_out(f);
	}
	json_object_put(m);
	return r;
}

int ag_evidence_sign(const char *keypath, const char *dir, char *err, size_t errlen)
{
	return sign_file(keypath, dir, err, errlen);
}

int ag_evidence_sha256(const char *path, char hex[65], unsigned long long *size)
{
	__u64 sz = 0;
	int r = sha256_file(path, hex, &sz);

	*size = sz;
	return r;
}

void ag_evidence_rm_flat(const char *dir)
{
	rm_flat(dir);
}

