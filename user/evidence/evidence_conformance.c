// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The upstream conformance test's checks at the node (evidence_conformance.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <json-c/json.h>
#include "evidence_conformance.h"
#include "util.h"

#define GPU_MAJOR 195u
#define GPU_MINOR_MAX 247u /* /dev/nvidia<N>: N = 0-247 (nv-chardev-numbers.h) */
#define MAX_SEEN 64
#define WALK_DEPTH 4

struct seen {
	unsigned int n;
	unsigned short minor[MAX_SEEN];
	char path[MAX_SEEN][160]; /* where, inside the container */
};

static void add_seen(struct seen *s, dev_t rdev, const char *where)
{
	unsigned int mi = minor(rdev);

	if (major(rdev) != GPU_MAJOR || mi > GPU_MINOR_MAX)
		return;
	for (unsigned int i = 0; i < s->n; i++)
		if (s->minor[i] == mi)
			return;
	if (s->n == MAX_SEEN)
		return;
	s->minor[s->n] = (unsigned short)mi;
	snprintf(s->path[s->n], sizeof(s->path[0]), "%s", where);
	s->n++;
}

/* the character devices under dir (root-relative 'rel'), symlinks not followed */
static void walk(const char *root, const char *rel, int depth, struct seen *s)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *e;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	d = opendir(p);
	while (d && (e = readdir(d))) {
		char r[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(r, sizeof(r), "%s/%s", rel, e->d_name);
		snprintf(p, sizeof(p), "%s%s", root, r);
		if (lstat(p, &st))
			continue;
		if (S_ISCHR(st.st_mode))
			add_seen(s, st.st_rdev, r);
		else if (S_ISDIR(st.st_mode) && depth > 0)
			walk(root, r, depth - 1, s);
	}
	if (d)
		closedir(d);
}

/* mountinfo's octal escapes (\040 for a space) */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
}

/* What the container of pid can reach in its mount namespace: /dev, and every mount point that
 * is a device node (a node bind-mounted anywhere). 0 or -errno. */
static int visible(pid_t pid, struct seen *s)
{
	char root[64], mi[64], line[4096];
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	if (access(root, X_OK))
		return -errno;
	walk(root, "/dev", WALK_DEPTH, s);
	snprintf(mi, sizeof(mi), "/proc/%d/mountinfo", (int)pid);
	f = fopen(mi, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], p[PATH_MAX];
		struct stat st;

		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		unescape(mp);
		snprintf(p, sizeof(p), "%s%s", root, mp);
		if (!lstat(p, &st) && S_ISCHR(st.st_mode))
			add_seen(s, st.st_rdev, mp);
	}
	fclose(f);
	return 0;
}

/* a process of the container: in its cgroup, else in one below it (a runtime may nest) */
static pid_t first_pid(const char *cg2, const char *path, int depth)
{
	char p[PATH_MAX];
	FILE *f;
	int pid = 0;
	DIR *d;
	struct dirent *e;

	snprintf(p, sizeof(p), "%s%s/cgroup.procs", cg2, path);
	f = fopen(p, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid > 0 || depth <= 0)
		return pid;
	snprintf(p, sizeof(p), "%s%s", cg2, path);
	d = opendir(p);
	while (d && pid <= 0 && (e = readdir(d))) {
		char sub[PATH_MAX];

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		pid = first_pid(cg2, sub, depth - 1);
	}
	if (d)
		closedir(d);
	return pid;
}

struct probe {
	const struct ag_conf_ctr *c;
	pid_t pid;
	int err;
	struct seen s;
	bool exact; /* visible == allocated */
};

static bool has_minor(const unsigned short *v, unsigned int n, unsigned int m)
{
	for (unsigned int i = 0; i < n; i++)
		if (v[i] == m)
			return true;
	return false;
}

static json_object *ctr_json(const struct probe *p, bool pass, const char *why)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	char d[32];

	json_object_object_add(o, "namespace", json_object_new_string(p->c->ns));
	json_object_object_add(o, "pod", json_object_new_string(p->c->pod));
	json_object_object_add(o, "container", json_object_new_string(p->c->ctr));
	json_object_object_add(o, "cgroup", json_object_new_string(p->c->path));
	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	for (unsigned int i = 0; i < p->c->n_gpus; i++) {
		snprintf(d, sizeof(d), "%u:%u", GPU_MAJOR, p->c->gpus[i]);
		json_object_array_add(a, json_object_new_string(d));
	}
	json_object_object_add(o, "allocated", a);
	a = json_object_new_array();
	for (unsigned int i = 0; i < p->s.n; i++) {
		json_object *v = json_object_new_object();

		snprintf(d, sizeof(d), "%u:%u", GPU_MAJOR, p->s.minor[i]);
		json_object_object_add(v, "device", json_object_new_string(d));
		json_object_object_add(v, "path", json_object_new_string(p->s.path[i]));
		json_object_array_add(a, v);
	}
	json_object_object_add(o, "visible", a);
	json_object_object_add(o, "accelerator_count", json_object_new_int((int)p->s.n));
	json_object_object_add(o, "result", json_object_new_string(pass ? "pass" : "fail"));
	if (!pass)
		json_object_object_add(o, "why", json_object_new_string(why));
	return o;
}

/* why a container fails "exactly its allocation" ("" when it passes) */
static void judge(const struct probe *p, char *why, size_t len)
{
	size_t off = 0;

	why[0] = 0;
	if (p->err) {
		snprintf(why, len, "its mount namespace cannot be read: %s", strerror(-p->err));
		return;
	}
	for (unsigned int i = 0; i < p->s.n && off < len; i++)
		if (!has_minor(p->c->gpus, p->c->n_gpus, p->s.minor[i]))
			off += (size_t)snprintf(why + off, len - off, "%ssees %u:%u (%s), not allocated to it",
						off ? "; " : "", GPU_MAJOR, p->s.minor[i], p->s.path[i]);
	for (unsigned int i = 0; i < p->c->n_gpus && off < len; i++)
		if (!has_minor(p->s.minor, p->s.n, p->c->gpus[i]))
			off += (size_t)snprintf(why + off, len - off, "%sdoes not see its allocated %u:%u",
						off ? "; " : "", GPU_MAJOR, p->c->gpus[i]);
}

static bool same_pod(const struct ag_conf_ctr *a, const struct ag_conf_ctr *b)
{
	return !strcmp(a->uid, b->uid) && !strcmp(a->ns, b->ns) && !strcmp(a->pod, b->pod);
}

struct json_object *ag_conformance_run(const char *cg2, const struct ag_conf_ctr *c, size_t n,
				       int *failed)
{
	static const char *const names[] = { "PositiveAccessTest", "NegativeIsolationTest",
					     "MultiContainerIsolationTest" };
	static const char *const none[] = {
		"no running container on this node holds an NVIDIA GPU",
		"no running pod on this node without an NVIDIA GPU",
		"no running pod on this node with two or more containers, one holding an NVIDIA GPU",
	};
	struct probe *p = calloc(n + 1, sizeof(*p));
	json_object *arr = json_object_new_array();
	size_t np = 0;

	*failed = 0;
	for (size_t i = 0; p && i < n; i++) {
		pid_t pid = first_pid(cg2, c[i].path, 2);

		if (pid <= 0)
			continue; /* not running (a container that exited, a pod being removed) */
		p[np].c = &c[i];
		p[np].pid = pid;
		p[np].err = visible(pid, &p[np].s);
		if (p[np].err == -ENOENT || p[np].err == -ESRCH)
			continue; /* it exited meanwhile: not running */
		np++;
	}
	for (int t = 0; t < 3; t++) {
		json_object *st = json_object_new_object(), *cs = json_object_new_array();
		int total = 0, bad = 0;
		char msg[512];

		for (size_t i = 0; i < np; i++) {
			bool pod_has_gpu = false, pod_multi = false;
			char why[1024];

			for (size_t k = 0; k < np; k++)
				if (same_pod(p[i].c, p[k].c)) {
					pod_has_gpu |= p[k].c->n_gpus > 0;
					pod_multi |= k != i;
				}
			/* Positive: a container holding a GPU; Negative: a container of a pod with
			 * none; MultiContainer: every container of a pod of two or more, one with
			 * a GPU */
			if ((t == 0 && !p[i].c->n_gpus) || (t == 1 && pod_has_gpu) ||
			    (t == 2 && !(pod_multi && pod_has_gpu)))
				continue;
			judge(&p[i], why, sizeof(why));
			total++;
			bad += why[0] != 0;
			json_object_array_add(cs, ctr_json(&p[i], !why[0], why));
		}
		json_object_object_add(st, "name", json_object_new_string(names[t]));
		if (!total)
			snprintf(msg, sizeof(msg), "%s", none[t]);
		else
			snprintf(msg, sizeof(msg), "%d of %d containers see exactly the GPUs of their "
				 "allocation", total - bad, total);
		json_object_object_add(st, "result", json_object_new_string(!total ? "skipped"
									     : bad ? "fail" : "pass"));
		json_object_object_add(st, "message", json_object_new_string(msg));
		json_object_object_add(st, "containers", cs);
		json_object_array_add(arr, st);
		*failed += bad > 0;
	}
	free(p);
	return arr;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : "";
}

void ag_conformance_junit(FILE *f, struct json_object *subtests, const char *hostname,
			  const char *timestamp)
{
	size_t n = subtests && json_object_is_type(subtests, json_type_array)
			   ? json_object_array_length(subtests) : 0;
	int fails = 0, skips = 0;

	for (size_t i = 0; i < n; i++) {
		const char *r = jstr(json_object_array_get_idx(subtests, i), "result");

		fails += !strcmp(r, "fail");
		skips += !strcmp(r, "skipped");
	}
	fprintf(f, "  <testsuite name=\"TestSecureAcceleratorAccess\" tests=\"%zu\" failures=\"%d\" "
		   "errors=\"0\" skipped=\"%d\" timestamp=\"", n + 1, fails + (fails > 0), skips);
	ag_xml_esc(f, timestamp);
	fprintf(f, "\" hostname=\"");
	ag_xml_esc(f, hostname);
	fprintf(f, "\">\n    <properties>\n      <property name=\"upstream\" value=\"kubernetes-sigs/"
		   "ai-conformance test/ai_conformance_test.go TestSecureAcceleratorAccess\"/>\n"
		   "      <property name=\"accelerator-type\" value=\"nvidia\"/>\n"
		   "      <property name=\"scope\" value=\"every running container on this node, in "
		   "its own mount namespace, by device number (195:0-247)\"/>\n    </properties>\n");
	fprintf(f, "    <testcase classname=\"conformance\" name=\"TestSecureAcceleratorAccess\">%s\n",
		fails ? "<failure message=\"a subtest failed\"/>" : "");
	fprintf(f, "    </testcase>\n");
	for (size_t i = 0; i < n; i++) {
		json_object *st = json_object_array_get_idx(subtests, i), *cs;
		const char *r = jstr(st, "result");
		size_t k;

		fprintf(f, "    <testcase classname=\"conformance\" name=\"TestSecureAcceleratorAccess/");
		ag_xml_esc(f, jstr(st, "name"));
		fprintf(f, "\">\n");
		if (!strcmp(r, "skipped")) {
			fprintf(f, "      <skipped message=\"");
			ag_xml_esc(f, jstr(st, "message"));
			fprintf(f, "\"/>\n");
		} else if (!strcmp(r, "fail")) {
			fprintf(f, "      <failure message=\"");
			ag_xml_esc(f, jstr(st, "message"));
			fprintf(f, "\"/>\n");
		}
		fprintf(f, "      <system-out>");
		cs = NULL;
		json_object_object_get_ex(st, "containers", &cs);
		k = cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
		for (size_t j = 0; j < k; j++) {
			json_object *x = json_object_array_get_idx(cs, j), *v = NULL;

			ag_xml_esc(f, jstr(x, "namespace"));
			fprintf(f, "/");
			ag_xml_esc(f, jstr(x, "pod"));
			fprintf(f, "/");
			ag_xml_esc(f, jstr(x, "container"));
			fprintf(f, ": RESULT: ACCELERATOR_COUNT=");
			json_object_object_get_ex(x, "accelerator_count", &v);
			fprintf(f, "%d", v ? json_object_get_int(v) : 0);
			fprintf(f, " %s", jstr(x, "result"));
			if (*jstr(x, "why")) {
				fprintf(f, ": ");
				ag_xml_esc(f, jstr(x, "why"));
			}
			fprintf(f, "\n");
		}
		fprintf(f, "</system-out>\n    </testcase>\n");
	}
	fprintf(f, "  </testsuite>\n");
}

static double jnum(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

/* One check of a run as a testcase: its result, and in system-out what was probed, what was
 * expected and what came. */
static void selftest_case(FILE *f, json_object *x)
{
	json_object *want = NULL, *got = NULL;
	bool judged;

	json_object_object_get_ex(x, "expected", &want);
	json_object_object_get_ex(x, "got", &got);
	judged = *jstr(got, "verdict");
	fprintf(f, "    <testcase classname=\"accelguard.selftest\" name=\"");
	ag_xml_esc(f, jstr(x, "name"));
	fprintf(f, "\" time=\"%.3f\">\n", (jnum(x, "open_ms") + jnum(x, "judged_ms")) / 1e3);
	if (strcmp(jstr(x, "result"), "pass")) {
		fprintf(f, "      <failure message=\"");
		ag_xml_esc(f, jstr(x, "why"));
		fprintf(f, "\"/>\n");
	}
	fprintf(f, "      <system-out>");
	ag_xml_esc(f, jstr(x, "what"));
	fprintf(f, ": open ");
	ag_xml_esc(f, jstr(x, "device"));
	fprintf(f, " from ");
	ag_xml_esc(f, jstr(x, "cgroup"));
	fprintf(f, "; expected ");
	ag_xml_esc(f, jstr(want, "verdict"));
	fprintf(f, "/");
	ag_xml_esc(f, jstr(want, "action"));
	fprintf(f, "%s; got ", !strcmp(jstr(want, "errno"), "EPERM") ? "/EPERM" : "");
	ag_xml_esc(f, judged ? jstr(got, "verdict") : "(no event)");
	fprintf(f, "/");
	ag_xml_esc(f, judged ? jstr(got, "action") : "-");
	fprintf(f, ", errno ");
	ag_xml_esc(f, jstr(got, "errno"));
	fprintf(f, "</system-out>\n    </testcase>\n");
}

/* accelguard's own suite of one run */
static void selftest_suite(FILE *f, json_object *run, const char *hostname)
{
	json_object *ch = NULL;
	size_t n = 0;
	int failures = 0;

	if (json_object_object_get_ex(run, "checks", &ch) && json_object_is_type(ch, json_type_array))
		n = json_object_array_length(ch);
	for (size_t i = 0; i < n; i++)
		failures += !!strcmp(jstr(json_object_array_get_idx(ch, i), "result"), "pass");
	fprintf(f, "  <testsuite name=\"accelguard-selftest\" id=\"");
	ag_xml_esc(f, jstr(run, "run"));
	fprintf(f, "\" tests=\"%zu\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"%.3f\" "
		   "timestamp=\"", n, failures, jnum(run, "duration_ms") / 1e3);
	ag_xml_esc(f, jstr(run, "started"));
	fprintf(f, "\" hostname=\"");
	ag_xml_esc(f, hostname);
	fprintf(f, "\">\n    <properties>\n      <property name=\"mode\" value=\"");
	ag_xml_esc(f, jstr(run, "mode"));
	fprintf(f, "\"/>\n      <property name=\"tier\" value=\"");
	ag_xml_esc(f, jstr(run, "tier"));
	fprintf(f, "\"/>\n      <property name=\"device_kind\" value=\"");
	ag_xml_esc(f, jstr(run, "device_kind"));
	fprintf(f, "\"/>\n    </properties>\n");
	for (size_t i = 0; i < n; i++)
		selftest_case(f, json_object_array_get_idx(ch, i));
	fprintf(f, "  </testsuite>\n");
}

void ag_selftest_junit(FILE *f, struct json_object *runs, const char *hostname)
{
	size_t n = runs && json_object_is_type(runs, json_type_array) ? json_object_array_length(runs) : 0;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	for (size_t i = 0; i < n; i++) {
		json_object *run = json_object_array_get_idx(runs, i), *conf = NULL;

		/* a run with --conformance: upstream's test suite first, as the run wrote it */
		if (json_object_object_get_ex(run, "conformance", &conf))
			ag_conformance_junit(f, conf, hostname, jstr(run, "started"));
		selftest_suite(f, run, hostname);
	}
	fprintf(f, "</testsuites>\n");
}
