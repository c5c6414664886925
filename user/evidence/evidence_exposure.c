// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The evidence bundle's exposure section (evidence_exposure.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "evidence_exposure.h"
#include "evjson.h"
#include "util.h"

#define ag_fmt_rfc3339_ns(ns, buf, len) ag_fmt_rfc3339(ns, 9, buf, len)

#define MAX_EXPO_ROWS 500 /* the report's table; every one is in exposure.json and .csv */

struct expo {
	__u64 id;
	char *path;
	json_object *ev;         /* the latest exposure event */
	__s64 first, last, removed;
	bool in_window;          /* reported in the window, not only before it */
};

struct ag_expo {
	__s64 since, until;
	__s64 prev_ready, last_summary; /* before the window */
	struct expo *v;
	size_t n, cap;
};

/* the row an event is reported under: its pod and container, else its cgroup path */
void ag_evidence_tenant(json_object *e, char *buf, size_t len)
{
	json_object *pod = jo(e, "pod"), *ctr = jo(e, "container");
	const char *path = js(jo(e, "cgroup"), "path");

	if (pod && js(pod, "name"))
		snprintf(buf, len, "pod %s/%s container %s", js(pod, "namespace") ? js(pod, "namespace") : "?",
			 js(pod, "name"), ctr && js(ctr, "name") ? js(ctr, "name") : "?");
	else
		snprintf(buf, len, "%s", path ? path : "?");
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

struct ag_expo *ag_expo_new(__s64 since, __s64 until)
{
	struct ag_expo *x = calloc(1, sizeof(*x));

	if (x) {
		x->since = since;
		x->until = until;
	}
	return x;
}

static void drop(struct ag_expo *x, size_t i)
{
	free(x->v[i].path);
	json_object_put(x->v[i].ev);
	memmove(&x->v[i], &x->v[i + 1], (x->n - i - 1) * sizeof(x->v[0]));
	x->n--;
}

void ag_expo_free(struct ag_expo *x)
{
	if (!x)
		return;
	while (x->n)
		drop(x, x->n - 1);
	free(x->v);
	free(x);
}

/* the entry of cgroup (id, path), or -1 */
static long find(const struct ag_expo *x, __u64 id, const char *path)
{
	for (size_t i = x->n; i-- > 0;)
		if (x->v[i].id == id && !strcmp(x->v[i].path, path))
			return (long)i;
	return -1;
}

void ag_expo_event(struct ag_expo *x, const char *type, json_object *e, __s64 t)
{
	json_object *cg = jo(e, "cgroup"), *devs = jo(e, "devices");
	const char *path = js(cg, "path");
	__u64 id = cg ? (__u64)json_object_get_int64(jo(cg, "id")) : 0;
	long i;

	if (!x || t > x->until)
		return;
	if (!strcmp(type, "exposure") && path && devs && json_object_is_type(devs, json_type_array)) {
		struct expo *p;

		i = find(x, id, path);
		if (i < 0) {
			if (x->n == x->cap) {
				size_t nc = x->cap ? x->cap * 2 : 64;
				struct expo *nv = realloc(x->v, nc * sizeof(*nv));

				if (!nv)
					return;
				x->v = nv;
				x->cap = nc;
			}
			p = &x->v[x->n];
			memset(p, 0, sizeof(*p));
			if (!(p->path = strdup(path)))
				return;
			p->id = id;
			p->first = t;
			i = (long)x->n++;
		}
		p = &x->v[i];
		json_object_put(p->ev);
		p->ev = json_object_get(e);
		p->last = t;
		p->removed = 0;
		p->in_window |= t >= x->since;
	} else if (!strcmp(type, "tenant") && path && js(e, "event") &&
		   !strcmp(js(e, "event"), "removed") && (i = find(x, id, path)) >= 0) {
		if (t < x->since)
			drop(x, (size_t)i); /* gone before the window */
		else if (!x->v[i].removed)
			x->v[i].removed = t;
	} else if (!strcmp(type, "summary") && t < x->since) {
		x->last_summary = t;
	} else if (!strcmp(type, "ready") && t < x->since) {
		/* an agent's start-up reports every running container's exposure again: one reported
		 * only before the previous agent's end (its summary; else its ready) was gone */
		__s64 b = x->last_summary > x->prev_ready ? x->last_summary : x->prev_ready;

		for (size_t k = x->n; b && k-- > 0;)
			if (!x->v[k].in_window && x->v[k].last < b)
				drop(x, k);
		x->prev_ready = t;
	}
}

size_t ag_expo_containers(const struct ag_expo *x)
{
	return x ? x->n : 0;
}

static unsigned long long n_devices(const struct expo *p)
{
	json_object *d = jo(p->ev, "devices");

	return json_object_array_length(d) + (unsigned long long)json_object_get_int64(jo(p->ev, "more"));
}

unsigned long long ag_expo_devices(const struct ag_expo *x)
{
	unsigned long long n = 0;

	for (size_t i = 0; x && i < x->n; i++)
		n += n_devices(&x->v[i]);
	return n;
}

static json_object *time_or_null(__s64 t)
{
	char a[40];

	if (!t)
		return NULL;
	ag_fmt_rfc3339_ns(t, a, sizeof(a));
	return json_object_new_string(a);
}

static json_object *copy(json_object *o)
{
	json_object *c = NULL;

	if (!o || json_object_deep_copy(o, &c, NULL))
		return NULL;
	return c;
}

void ag_expo_write_json(const struct ag_expo *x, FILE *f)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(root, "note", json_object_new_string(
		"containers whose OCI spec (devices, device cgroup rules, privileged, CAP_MKNOD, "
		"mounts of /dev, NVIDIA_VISIBLE_DEVICES/AMD_VISIBLE_DEVICES) let them reach accelerator "
		"nodes beyond their allocation, from the journal's exposure events: those reported in the "
		"window and those reported before it that still stood at its start; each container's "
		"devices and reasons are its latest report's. An exposure is what a container could "
		"reach, not an access: its accesses are in access-matrix.json"));
	json_object_object_add(root, "containers_total", json_object_new_int64((int64_t)x->n));
	json_object_object_add(root, "devices_total",
			       json_object_new_int64((int64_t)ag_expo_devices(x)));
	for (size_t i = 0; i < x->n; i++) {
		const struct expo *p = &x->v[i];
		json_object *o = json_object_new_object();
		char row[512];

		ag_evidence_tenant(p->ev, row, sizeof(row));
		json_object_object_add(o, "tenant", json_object_new_string(row));
		json_object_object_add(o, "pod", copy(jo(p->ev, "pod")));
		json_object_object_add(o, "container", copy(jo(p->ev, "container")));
		json_object_object_add(o, "cgroup", copy(jo(p->ev, "cgroup")));
		json_object_object_add(o, "bundle", copy(jo(p->ev, "bundle")));
		json_object_object_add(o, "first_reported", time_or_null(p->first));
		json_object_object_add(o, "last_reported", time_or_null(p->last));
		json_object_object_add(o, "reported_before_window", json_object_new_boolean(!p->in_window));
		json_object_object_add(o, "removed", time_or_null(p->removed));
		json_object_object_add(o, "devices", copy(jo(p->ev, "devices")));
		json_object_object_add(o, "more", json_object_new_int64(json_object_get_int64(jo(p->ev, "more"))));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "containers", arr);
	fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/* the reasons of device d, "; " between them */
static void reasons(json_object *d, FILE *f, void (*put)(FILE *, const char *), const char *sep)
{
	json_object *r = jo(d, "reasons");

	for (size_t k = 0; r && json_object_is_type(r, json_type_array) &&
			   k < json_object_array_length(r); k++) {
		if (k)
			fputs(sep, f);
		put(f, json_object_get_string(json_object_array_get_idx(r, k)));
	}
}

static void put_raw(FILE *f, const char *s)
{
	fputs(s ? s : "", f);
}

void ag_expo_write_csv(const struct ag_expo *x, FILE *f)
{
	fprintf(f, "tenant,namespace,pod,container,container_id,cgroup,device,major,minor,reasons,"
		   "first_reported,last_reported,removed,bundle\n");
	for (size_t i = 0; i < x->n; i++) {
		const struct expo *p = &x->v[i];
		json_object *devs = jo(p->ev, "devices"), *pod = jo(p->ev, "pod"),
			    *ctr = jo(p->ev, "container");
		long long more = json_object_get_int64(jo(p->ev, "more"));
		char row[512], a[40], b[40], r[40] = "";
		size_t n = json_object_array_length(devs);

		ag_evidence_tenant(p->ev, row, sizeof(row));
		ag_fmt_rfc3339_ns(p->first, a, sizeof(a));
		ag_fmt_rfc3339_ns(p->last, b, sizeof(b));
		if (p->removed)
			ag_fmt_rfc3339_ns(p->removed, r, sizeof(r));
		for (size_t k = 0; k < n + (more > 0); k++) {
			json_object *d = k < n ? json_object_array_get_idx(devs, k) : NULL;
			char *rs = NULL, more_s[64];
			size_t rl = 0;
			FILE *m;

			ag_csv_field(f, row);
			fputc(',', f);
			ag_csv_field(f, js(pod, "namespace"));
			fputc(',', f);
			ag_csv_field(f, js(pod, "name"));
			fputc(',', f);
			ag_csv_field(f, js(ctr, "name"));
			fputc(',', f);
			ag_csv_field(f, js(ctr, "id"));
			fputc(',', f);
			ag_csv_field(f, p->path);
			fputc(',', f);
			if (d) {
				ag_csv_field(f, js(d, "path"));
				fprintf(f, ",%lld,%lld,", (long long)json_object_get_int64(jo(d, "major")),
					(long long)json_object_get_int64(jo(d, "minor")));
				m = open_memstream(&rs, &rl);
				if (m) {
					reasons(d, m, put_raw, "; ");
					fclose(m);
				}
				ag_csv_field(f, rs);
				free(rs);
			} else {
				/* the event's bound: the devices past it are counted, not named */
				snprintf(more_s, sizeof(more_s), "%lld more devices, not named", more);
				ag_csv_field(f, more_s);
				fprintf(f, ",,,\"\"");
			}
			fprintf(f, ",%s,%s,%s,", a, b, r);
			ag_csv_field(f, js(p->ev, "bundle"));
			fputc('\n', f);
		}
	}
}

void ag_expo_write_html(const struct ag_expo *x, FILE *f, bool checked)
{
	unsigned long long nd = ag_expo_devices(x), rows = 0;
	char a[40];

	fprintf(f, "<h2>Exposure</h2>\n<p id=\"exposure\">");
	if (!x->n) {
		fprintf(f, checked ? "No container could reach an accelerator node beyond its allocation "
				     "in the window (the agent checks every container's OCI spec at "
				     "start-up and at its creation).</p>\n"
				   : "Not checked: the agent ran without its Kubernetes source, which "
				     "reads each container's OCI spec.</p>\n");
		return;
	}
	fprintf(f, "%zu container%s could reach %llu accelerator node%s beyond %s allocation, by "
		   "%s OCI spec: what the runtime gave %s, whether or not it was used (the accesses "
		   "are in the matrix above). One row per container and device",
		x->n, x->n == 1 ? "" : "s", nd, nd == 1 ? "" : "s", x->n == 1 ? "its" : "their",
		x->n == 1 ? "its" : "their", x->n == 1 ? "it" : "them");
	if (nd > MAX_EXPO_ROWS)
		fprintf(f, "; the first %d below (all of them are in exposure.json and exposure.csv)",
			MAX_EXPO_ROWS);
	fprintf(f, ".</p>\n<table id=\"exposure-table\" data-containers=\"%zu\" data-devices=\"%llu\">"
		   "<thead><tr><th>first reported (UTC)</th><th>tenant</th><th>container id</th>"
		   "<th>device</th><th>reasons</th><th>state at the window's end</th></tr></thead>"
		   "<tbody>\n", x->n, nd);
	for (size_t i = 0; i < x->n && rows < MAX_EXPO_ROWS; i++) {
		const struct expo *p = &x->v[i];
		json_object *devs = jo(p->ev, "devices");
		long long more = json_object_get_int64(jo(p->ev, "more"));
		size_t n = json_object_array_length(devs);
		char row[512];

		ag_evidence_tenant(p->ev, row, sizeof(row));
		for (size_t k = 0; k < n + (more > 0) && rows < MAX_EXPO_ROWS; k++, rows++) {
			json_object *d = k < n ? json_object_array_get_idx(devs, k) : NULL;

			ag_fmt_rfc3339_ns(p->first, a, sizeof(a));
			fprintf(f, "<tr><td>%s</td><td>", a);
			ag_xml_esc(f, row);
			fprintf(f, "</td><td>");
			ag_xml_esc(f, or_empty(js(jo(p->ev, "container"), "id")));
			fprintf(f, "</td><td>");
			if (d) {
				ag_xml_esc(f, or_empty(js(d, "path")));
				fprintf(f, " (%lld:%lld)</td><td>",
					(long long)json_object_get_int64(jo(d, "major")),
					(long long)json_object_get_int64(jo(d, "minor")));
				reasons(d, f, ag_xml_esc, "<br>");
			} else {
				fprintf(f, "%lld more devices</td><td>not named (the event's bound)", more);
			}
			if (p->removed) {
				ag_fmt_rfc3339_ns(p->removed, a, sizeof(a));
				fprintf(f, "</td><td>removed at %s</td></tr>\n", a);
			} else {
				fprintf(f, "</td><td>not removed</td></tr>\n");
			}
		}
	}
	fprintf(f, "</tbody></table>\n");
}
