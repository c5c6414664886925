// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The batch: each event as one JSON line and one typed record (run.h, sinks/event.h). */
#include <string.h>
#include <time.h>
#include "log.h"
#include "run.h"
#include "util.h"

#define AG_FLUSH_AT (256 * 1024) /* bytes of pending lines that make a batch go out at once */

/* RFC 3339 in UTC with nanoseconds; the date and time of day are formatted once a second. */
static void fmt_time(struct agent *a, __u64 boot_ns, char *buf)
{
	__s64 real = (__s64)boot_ns + a->boot_to_real;
	__s64 sec = real / 1000000000LL;
	__u32 ns = real % 1000000000LL;

	if (sec != a->tcache_sec) {
		time_t t = sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		snprintf(a->tcache, sizeof(a->tcache), "%04d-%02d-%02dT%02d:%02d:%02d.",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		a->tcache_sec = sec;
	}
	memcpy(buf, a->tcache, 20);
	for (int i = 28; i >= 20; i--, ns /= 10)
		buf[i] = '0' + ns % 10;
	buf[29] = 'Z';
	buf[30] = 0;
}

/* Events are written straight into the batch, one line and one typed record each (the record's
 * fields beside the line's, from the same data). */
void ag_ev_begin(struct agent *a, int kind, const char *type, __u64 boot_ns)
{
	__u64 t_ns = boot_ns ? boot_ns : ag_now_ns(CLOCK_BOOTTIME);
	char t[32];

	a->ev_start = a->jw.len;
	a->jw.need_comma = false;
	jw_obj_open(&a->jw);
	jw_kstr(&a->jw, "type", type);
	fmt_time(a, t_ns, t);
	jw_kstr(&a->jw, "time", t);
	ag_evb_begin(&a->evb, kind);
	ag_evb_cur(&a->evb)->time_ns = (__u64)((__s64)t_ns + a->boot_to_real);
	AG_EVB_STR(&a->evb, time, t, sizeof(t));
}

void ag_ev_end(struct agent *a)
{
	jw_obj_close(&a->jw);
	jw_append(&a->jw, "\n", 1);
	if (a->jw.oom || !ag_evb_end(&a->evb)) {
		/* no memory for this line or its record: drop both, keep the events before them */
		a->jw.len = a->ev_start;
		if (a->jw.buf)
			a->jw.buf[a->jw.len] = 0;
		a->jw.oom = false;
		ag_evb_cancel(&a->evb);
		a->lines_lost++;
		return;
	}
	a->lines_written++;
	a->batch_lines++;
	if (a->jw.len >= AG_FLUSH_AT)
		ag_ev_flush(a); /* a flood must not grow the batch without bound */
}

/* Hand the batch to the sinks: formatted once, queued for each without waiting for any. */
void ag_ev_flush(struct agent *a)
{
	struct ag_sink_batch b = { .buf = a->jw.buf, .len = a->jw.len, .ev = a->evb.buf,
				   .evlen = a->evb.len, .n = a->batch_lines };

	if (!a->jw.len)
		return;
	ag_sinks_emit_batch(a->sinks, &b);
	a->batch_lines = 0;
	jw_reset(&a->jw);
	ag_evb_reset(&a->evb);
}

/* cg: the cgroup that answers for id (for a cgroup below a tenant, the tenant); path: id's own
 * path when it is not cg's (NULL: cg's). */
void ag_ev_put_cgroup_at(struct agent *a, struct jw *w, __u64 id, const struct ag_cg *cg,
			  const char *path)
{
	struct ag_evb *b = &a->evb;

	ag_evb_cur(b)->cgroup_id = id;
	AG_EVB_STR(b, cgroup_path, path ? path : cg ? cg->path : "", AG_EV_STR_MAX);
	if (cg && path && strcmp(path, cg->path)) {
		ag_evb_cur(b)->tenant_id = cg->id;
		AG_EVB_STR(b, tenant_path, cg->path, AG_EV_STR_MAX);
	}
	if (cg && (cg->t.pod_uid[0] || cg->t.pod_name[0])) {
		AG_EVB_STR(b, pod_ns, cg->t.pod_namespace, sizeof(cg->t.pod_namespace));
		AG_EVB_STR(b, pod_name, cg->t.pod_name, sizeof(cg->t.pod_name));
		AG_EVB_STR(b, pod_uid, cg->t.pod_uid, sizeof(cg->t.pod_uid));
	}
	if (cg && (cg->t.container_id[0] || cg->t.container_name[0])) {
		AG_EVB_STR(b, container_name, cg->t.container_name, sizeof(cg->t.container_name));
		AG_EVB_STR(b, container_id, cg->t.container_id, sizeof(cg->t.container_id));
	}
	jw_key(w, "cgroup");
	jw_obj_open(w);
	jw_ku64(w, "id", id);
	jw_kstr(w, "path", path ? path : cg ? cg->path : "");
	if (cg && path && strcmp(path, cg->path)) {
		/* below a tenant: judged, counted and limited as the tenant */
		jw_ku64(w, "tenant_id", cg->id);
		jw_kstr(w, "tenant_path", cg->path);
	}
	jw_obj_close(w);
	if (!cg)
		return;
	if (cg->t.pod_uid[0] || cg->t.pod_name[0]) {
		jw_key(w, "pod");
		jw_obj_open(w);
		jw_kstr(w, "namespace", cg->t.pod_namespace);
		jw_kstr(w, "name", cg->t.pod_name);
		jw_kstr(w, "uid", cg->t.pod_uid);
		jw_obj_close(w);
	}
	if (cg->t.container_id[0] || cg->t.container_name[0]) {
		jw_key(w, "container");
		jw_obj_open(w);
		jw_kstr(w, "name", cg->t.container_name);
		jw_kstr(w, "id", cg->t.container_id);
		jw_obj_close(w);
	}
}

void ag_ev_put_cgroup(struct agent *a, struct jw *w, __u64 id, const struct ag_cg *cg)
{
	ag_ev_put_cgroup_at(a, w, id, cg, NULL);
}

void ag_ev_sync_clocks(struct agent *a)
{
	a->boot_to_real = (__s64)ag_now_ns(CLOCK_REALTIME) - (__s64)ag_now_ns(CLOCK_BOOTTIME);
}
