// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Violations into the Kubernetes API (layer 3, part "sinks"): two sinks of user/sinks/sink.h.
 *
 *   Events   each violation of a pod becomes an events.k8s.io/v1 Event on the pod; repeats
 *            are folded into the Event's series (PATCH of series.count / lastObservedTime);
 *            writes are limited by token buckets per pod and per node.
 *   Reports  per namespace one report of this node (wgpolicyk8s.io/v1alpha2 PolicyReport or
 *            openreports.io/v1alpha1 Report) with a pass or fail result per pod for the
 *            secure_accelerator_access policy; a pod that went away loses its result.
 *
 * The agent loop is untouched: each sink's emit() runs on the sink's thread, reads the fields of
 * the typed events it is given (user/sinks/event.h: access, exposure, tenant, ready; never the
 * JSON lines) and updates a bounded table under a mutex. A worker thread of its own does the HTTPS
 * calls (api_http.c: token read again per request, own CA), so a slow or absent API server
 * costs neither the agent loop nor the sink's queue. Refusals:
 *   401/403  logged once, the feature paused for AG_K8S_PAUSE_S, then tried again; but a 403
 *            whose Status has the cause NamespaceTerminating, or a 404 of the namespace, holds
 *            back that namespace alone (its Events are dropped for AG_K8S_PAUSE_S, its report
 *            written again after it), never the others
 *   422      that one Event dropped (said once)
 *   429      Retry-After honoured (1 s when absent, at most 60 s)
 *   5xx, no answer  backoff from 0.5 s doubling to 30 s; what waits stays queued
 *   409      an Event name taken: a new name; a report changed under us: read again, retry
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "event.h"
#include "jsonw.h"
#include "k8s.h"
#include "names.h"
#include "report.h"
#include "sink.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define AG_K8S_EXIT_MS 1000          /* what a worker may still send at exit */

#define EV_MAX AG_K8S_EVENTS_QUEUE   /* distinct Events tracked, the queue's bound */
#define EV_WINDOW_NS (600 * K8S_SEC) /* a repeat within this of the last one: a series update */
#define EV_SERIES_MIN_NS (1 * K8S_SEC) /* at most one series PATCH per Event per second */
#define EV_NOTE_MAX 1024             /* the API's limit on note (bytes) */
#define EV_NAME_MAX 253
#define EV_PODS_MAX 1024             /* per-pod buckets kept */
#define EV_NSGATE_MAX 64             /* namespaces refused at once (terminating, gone) */

#define RP_PODS_MAX 4096
#define RP_CG_PER_POD 32
#define RP_MIN_INTERVAL_NS (1 * K8S_SEC) /* one namespace's report written at most once a second */
#define RP_CONFLICT_TRIES 5
#define RP_CARRY_MAX 256 /* failed pods of a report from before, not known yet, kept for them */
#define RP_PRE_MAX 64    /* a pod's unwritten violations whose times are kept (merge_stored) */
#define RP_SAME_NS (5 * K8S_MS) /* two agents' times of one kernel event differ by less */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc;

static void curl_init(void)
{
	curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the worker common to both sinks ---- */

struct bucket {
	double tokens, burst, per_s;
	uint64_t at_ns;
};

static void bucket_init(struct bucket *b, double burst, double per_s, uint64_t now)
{
	b->tokens = b->burst = burst;
	b->per_s = per_s;
	b->at_ns = now;
}

static void bucket_fill(struct bucket *b, uint64_t now)
{
	if (now > b->at_ns) {
		b->tokens += (double)(now - b->at_ns) / 1e9 * b->per_s;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->at_ns = now;
}

/* When the bucket has a token, in ns from now (0: now). */
static uint64_t bucket_wait(struct bucket *b, uint64_t now)
{
	bucket_fill(b, now);
	if (b->tokens >= 1.0)
		return 0;
	return (uint64_t)((1.0 - b->tokens) / b->per_s * 1e9) + 1;
}

static int worker_init(struct k8s_rw *w, const char *what, const struct ag_config *cfg, char *err,
		       size_t errlen)
{
	const struct ag_cfg_kubernetes *kc = &cfg->kubernetes;
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *node = kc->node_name ? kc->node_name : getenv("NODE_NAME");
	pthread_condattr_t ca;
	char url[300] = "";

	w->what = what;
	if (kc->api_server && strcmp(kc->api_server, "off")) {
		snprintf(url, sizeof(url), "%s", kc->api_server);
	} else if (!kc->api_server && host && *host) {
		bool v6 = strchr(host, ':') != NULL;

		snprintf(url, sizeof(url), "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
			 port && *port ? port : "443");
	}
	if (!url[0]) {
		snprintf(err, errlen, "kubernetes.%s: no API server (kubernetes.api_server is off, "
			 "and KUBERNETES_SERVICE_HOST is unset)", what);
		return -EINVAL;
	}
	if (!node || !*node) {
		snprintf(err, errlen, "kubernetes.%s: no node name (kubernetes.node_name or NODE_NAME)",
			 what);
		return -EINVAL;
	}
	/* drop a trailing slash: paths are appended */
	if (url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	pthread_once(&curl_once, curl_init);
	if (curl_rc != CURLE_OK) {
		snprintf(err, errlen, "kubernetes.%s: libcurl: %s", what, curl_easy_strerror(curl_rc));
		return -EIO;
	}
	w->env.api_server = strdup(url);
	w->env.node_name = strdup(node);
	w->env.token_file = strdup(kc->token_file ? kc->token_file : SA_DIR "/token");
	w->env.ca_file = strdup(kc->ca_file ? kc->ca_file : SA_DIR "/ca.crt");
	w->env.rpc_timeout_ms = 5000;
	w->env.notify_fd = -1;
	w->curl = curl_easy_init();
	if (!w->env.api_server || !w->env.node_name || !w->env.token_file || !w->env.ca_file ||
	    !w->curl) {
		snprintf(err, errlen, "kubernetes.%s: out of memory", what);
		return -ENOMEM;
	}
	w->req.env = &w->env;
	w->backoff_ms = AG_K8S_BACKOFF_MIN_MS;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static void worker_fini(struct k8s_rw *w)
{
	if (w->curl)
		curl_easy_cleanup(w->curl);
	k8s_req_reset(&w->req);
	free(w->env.api_server);
	free(w->env.node_name);
	free(w->env.token_file);
	free(w->env.ca_file);
	if (w->what) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
	}
}

/* mu held: wait until deadline (monotonic ns; 0: until signalled) or stop. */
static void worker_sleep(struct k8s_rw *w, uint64_t deadline)
{
	struct timespec ts;

	if (!deadline) {
		pthread_cond_wait(&w->cv, &w->mu);
		return;
	}
	ts.tv_sec = deadline / K8S_SEC;
	ts.tv_nsec = deadline % K8S_SEC;
	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

static int worker_start(struct k8s_rw *w, void *(*fn)(void *), void *arg)
{
	int r = pthread_create(&w->th, NULL, fn, arg);

	if (r)
		return -r;
	w->started = true;
	return 0;
}

/* Let the worker send what it holds for up to AG_K8S_EXIT_MS, then stop it. */
static void worker_stop(struct k8s_rw *w, bool (*idle)(void *), void *arg)
{
	uint64_t dl = k8s_mono_ns() + AG_K8S_EXIT_MS * K8S_MS;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->closing = true;
	pthread_cond_broadcast(&w->cv);
	while (!idle(arg) && k8s_mono_ns() < dl && !w->down && !w->paused)
		worker_sleep(w, k8s_mono_ns() + 20 * K8S_MS);
	w->stop = true;
	atomic_store(&w->env.stop, 1);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	w->started = false;
}

/* ---- common to the parsers ---- */

static uint64_t fnv(uint64_t h, const char *s)
{
	if (!h)
		h = 1469598103934665603ull;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (h * 1099511628211ull) ^ 0xff;
}

/* Drop an incomplete UTF-8 sequence at the end of s: a cut string (copy()), or a process name
 * the kernel cut at 15 bytes, inside a character as likely as not. */
static void utf8_trim(char *s)
{
	size_t n = strlen(s), i = n, need;
	unsigned char c;

	while (i && ((unsigned char)s[i - 1] & 0xc0) == 0x80 && n - i < 3)
		i--;
	if (!i)
		return;
	c = (unsigned char)s[i - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

/* strlcpy: what does not fit is cut (the fields' bounds are the API's), never inside a UTF-8
 * sequence */
static void copy(char *dst, size_t n, const char *src)
{
	size_t l = src ? strnlen(src, n - 1) : 0;

	if (l)
		memcpy(dst, src, l);
	dst[l] = '\0';
	if (l == n - 1)
		utf8_trim(dst); /* perhaps cut: not inside a character */
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* "2026-12-01T16:19:56.123456789Z" (the agent's) -> MicroTime "2026-12-01T16:19:56.123456Z";
 * anything else: now. */
static void micro_time(const char *t, char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char b[64];

	if (t && strlen(t) >= 27 && t[19] == '.' && t[10] == 'T') {
		snprintf(out, n, "%.26sZ", t);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	copy(out, n, b);
}

static int64_t unix_of(const char *t)
{
	struct tm tm = { 0 };

	if (t && strptime(t, "%Y-%m-%dT%H:%M:%S", &tm))
		return (int64_t)timegm(&tm);
	return (int64_t)time(NULL);
}

/* One violation as both sinks see it. */
struct viol {
	const char *ns, *pod, *uid, *container, *reason, *action, *verdict, *time;
	char note[EV_NOTE_MAX + 1];
	uint64_t key;
};

static const char *cap_action(const char *a)
{
	return !strcmp(a, "denied") ? "Denied" : !strcmp(a, "killed") ? "Killed" : "Observed";
}

/* An access event of a pod -> a violation of it; false for anything else. */
static bool parse_violation(const struct ag_event *e, struct viol *v)
{
	const char *verdict = ag_verdict_name(e->verdict), *action = ag_action_name(e->action);
	const char *op = ag_op_name(e->op), *comm = ag_event_str(e, e->comm);
	const char *cls = ag_event_str(e, e->cls), *tier = ag_event_str(e, e->tier);
	bool denied, viol;
	char dv[48], ic[96] = "", cm[64];

	if (e->kind != AG_EVK_ACCESS || !e->pod_uid || !e->pod_name || !e->pod_ns ||
	    !*ag_event_str(e, e->pod_uid))
		return false;
	denied = e->action == AG_ACT_DENIED || e->action == AG_ACT_KILLED;
	viol = e->verdict == AG_V_UNMEDIATED || e->verdict == AG_V_CROSS_TENANT;
	if (!denied && !viol)
		return false;
	v->ns = ag_event_str(e, e->pod_ns);
	v->pod = ag_event_str(e, e->pod_name);
	v->uid = ag_event_str(e, e->pod_uid);
	v->container = e->container_name ? ag_event_str(e, e->container_name) : "";
	v->verdict = verdict;
	v->action = cap_action(action);
	v->reason = denied ? "AcceleratorAccessDenied" :
		    e->verdict == AG_V_CROSS_TENANT ? "CrossTenantAcceleratorAccess" :
						      "UnmediatedAcceleratorAccess";
	v->time = ag_event_str(e, e->time);
	if (comm) { /* the kernel's 15 bytes may end inside a character: not into the note */
		snprintf(cm, sizeof(cm), "%s", comm);
		utf8_trim(cm);
		comm = cm;
	}
	snprintf(dv, sizeof(dv), "%d:%d", (int)e->major, (int)e->minor);
	if (e->op == AG_OP_IOCTL) {
		if (e->ioctl_name)
			snprintf(ic, sizeof(ic), " %s", ag_event_str(e, e->ioctl_name));
		else
			snprintf(ic, sizeof(ic), " 0x%08x", e->cmd);
	}
	snprintf(v->note, sizeof(v->note),
		 "%s%s of device %s (class %s) by process %s (pid %" PRId64 ") in container %s: "
		 "verdict %s, action %s (tier %s, hook %s)",
		 op, ic, dv, cls ? cls : "unknown", comm ? comm : "?", (int64_t)e->pid,
		 *v->container ? v->container : "?", verdict, action, tier ? tier : "?",
		 ag_event_hook(e));
	utf8_cut(v->note, EV_NOTE_MAX);
	/* the same Event: pod, reason, action, operation, device, process name, container */
	v->key = fnv(fnv(fnv(fnv(fnv(fnv(fnv(0, v->uid), v->reason), action), op), dv),
			 comm), v->container);
	return true;
}

/* An exposure event (issue 22) -> a Warning Event on its pod, reason AcceleratorExposure, the
 * devices and their reasons in the note; false for anything else. */
static bool parse_exposure(const struct ag_event *e, struct viol *v)
{
	const struct ag_event_xdev *d = ag_event_xdevs(e);
	size_t n;

	if (e->kind != AG_EVK_EXPOSURE || !e->pod_uid || !*ag_event_str(e, e->pod_uid) ||
	    !e->pod_name || !e->pod_ns)
		return false;
	v->ns = ag_event_str(e, e->pod_ns);
	v->pod = ag_event_str(e, e->pod_name);
	v->uid = ag_event_str(e, e->pod_uid);
	v->container = e->container_name ? ag_event_str(e, e->container_name) : "";
	v->verdict = "exposure";
	v->action = "Exposed";
	v->reason = "AcceleratorExposure";
	v->time = ag_event_str(e, e->time);
	n = (size_t)snprintf(v->note, sizeof(v->note), "container %s can reach accelerator devices "
			     "it was not allocated, before any access:", *v->container ? v->container : "?");
	for (size_t i = 0; d && i < e->n_xdev && n < sizeof(v->note); i++) {
		n += (size_t)snprintf(v->note + n, sizeof(v->note) - n, "%s %s (%d:%d):", i ? ";" : "",
				      ag_event_str(e, d[i].path) ?: "?", (int)d[i].major,
				      (int)d[i].minor);
		for (size_t j = 0; j < d[i].n_reasons && n < sizeof(v->note); j++)
			n += (size_t)snprintf(v->note + n, sizeof(v->note) - n, "%s %s", j ? "," : "",
					      ag_event_str(e, d[i].reasons[j]) ?: "");
	}
	utf8_cut(v->note, EV_NOTE_MAX);
	v->key = fnv(fnv(fnv(0, v->uid), v->reason), v->container);
	return true;
}

/* Each record of the batch to fn. */
static void for_events(const struct ag_sink_batch *b, void (*fn)(void *, const struct ag_event *),
		       void *arg)
{
	for (const struct ag_event *e = ag_event_next(b->ev, b->evlen, NULL); e;
	     e = ag_event_next(b->ev, b->evlen, e))
		fn(arg, e);
}

/* ---- Events ---- */

struct ev {
	bool used;
	uint64_t key;
	char ns[64], pod[EV_NAME_MAX + 1], uid[64];
	char reason[40], action[16], note[EV_NOTE_MAX + 1];
	char name[EV_NAME_MAX + 1];
	char first[32], last[32]; /* MicroTime */
	uint64_t count, sent_count;
	uint64_t seen_ns, wrote_ns;
	bool created, limited;
	bool named_anew; /* its stable name was someone else's Event: a name of its own */
};

struct podbucket {
	char uid[64];
	struct bucket b;
	uint64_t used_ns;
};

struct nsgate {
	char ns[64];
	uint64_t until_ns;
};

struct events {
	struct k8s_rw w;
	struct ev *ev; /* EV_MAX */
	struct podbucket *pb; /* EV_PODS_MAX */
	struct nsgate gate[EV_NSGATE_MAX]; /* namespaces that refuse Events for now */
	struct bucket node;
	uint64_t seq;
	struct ag_k8s_events_stats st;
	char instance[129];
	bool warned_full, warned_bad;
};

static bool ev_has_work(const struct ev *e)
{
	return e->used && (!e->created || e->count > e->sent_count);
}

static bool events_idle(void *arg)
{
	struct events *E = arg;

	for (size_t i = 0; i < EV_MAX; i++)
		if (ev_has_work(&E->ev[i]))
			return false;
	return true;
}

/* mu held: the namespace refuses Events for now (terminating, gone) */
static bool ns_gated(struct events *E, const char *ns, uint64_t now)
{
	for (size_t i = 0; i < EV_NSGATE_MAX; i++)
		if (E->gate[i].until_ns > now && !strcmp(E->gate[i].ns, ns))
			return true;
	return false;
}

/* mu held: ns refused an Event for itself (w->err says why): its Events are dropped for
 * AG_K8S_PAUSE_S, the other namespaces' go on. */
static void ns_refuse(struct events *E, const char *ns, uint64_t now)
{
	struct nsgate *g = &E->gate[0];
	size_t n = 0;

	for (size_t i = 0; i < EV_NSGATE_MAX; i++) {
		if (!strcmp(E->gate[i].ns, ns) || E->gate[i].until_ns <= now) {
			g = &E->gate[i];
			break;
		}
		if (E->gate[i].until_ns < g->until_ns)
			g = &E->gate[i];
	}
	copy(g->ns, sizeof(g->ns), ns);
	g->until_ns = now + AG_K8S_PAUSE_S * K8S_SEC;
	for (size_t i = 0; i < EV_MAX; i++) {
		struct ev *x = &E->ev[i];

		if (x->used && ev_has_work(x) && !strcmp(x->ns, ns)) {
			x->used = false;
			n++;
		}
	}
	E->st.namespace_refused += n;
	ag_info("kubernetes.events: namespace %s refuses Events (%s): its %zu pending Event%s "
		"dropped, and its new ones for %d s; other namespaces go on", ns, E->w.err, n,
		n == 1 ? "" : "s", AG_K8S_PAUSE_S);
}

static void events_line(void *arg, const struct ag_event *o)
{
	struct events *E = arg;
	uint64_t now = k8s_mono_ns();
	struct ev *e = NULL, *free_slot = NULL, *oldest = NULL;
	struct viol v;

	if (!parse_violation(o, &v) && !parse_exposure(o, &v))
		return;
	pthread_mutex_lock(&E->w.mu);
	E->st.queued++;
	if (ns_gated(E, v.ns, now)) {
		E->st.namespace_refused++;
		pthread_mutex_unlock(&E->w.mu);
		return;
	}
	for (size_t i = 0; i < EV_MAX; i++) {
		struct ev *x = &E->ev[i];

		if (x->used && x->key == v.key && !strcmp(x->uid, v.uid)) {
			e = x;
			break;
		}
		if (x->used && !ev_has_work(x) && now - x->seen_ns > EV_WINDOW_NS)
			x->used = false; /* its series ended */
		if (!x->used) {
			if (!free_slot)
				free_slot = x;
		} else if (!ev_has_work(x) && (!oldest || x->seen_ns < oldest->seen_ns)) {
			oldest = x;
		}
	}
	if (e && now - e->seen_ns > EV_WINDOW_NS && !ev_has_work(e)) {
		e->used = false; /* too long since: a new Event */
		free_slot = e;
		e = NULL;
	}
	if (e) {
		e->count++;
		e->seen_ns = now;
		micro_time(v.time, e->last, sizeof(e->last));
		E->st.deduplicated++;
	} else if ((e = free_slot ? free_slot : oldest)) {
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->key = v.key;
		copy(e->ns, sizeof(e->ns), v.ns);
		copy(e->pod, sizeof(e->pod), v.pod);
		copy(e->uid, sizeof(e->uid), v.uid);
		copy(e->reason, sizeof(e->reason), v.reason);
		copy(e->action, sizeof(e->action), v.action);
		copy(e->note, sizeof(e->note), v.note);
		micro_time(v.time, e->first, sizeof(e->first));
		memcpy(e->last, e->first, sizeof(e->last));
		e->count = 1;
		e->seen_ns = now;
	} else {
		E->st.dropped++;
		if (!E->warned_full) {
			E->warned_full = true;
			ag_warn("kubernetes.events: %d Events wait to be written: new violations are "
				"dropped for Events and counted (kubernetes_events.dropped)", EV_MAX);
		}
	}
	pthread_cond_signal(&E->w.cv);
	pthread_mutex_unlock(&E->w.mu);
}

static size_t events_emit(void *ctx, const struct ag_sink_batch *b)
{
	for_events(b, events_line, ctx);
	return 0;
}

static struct bucket *pod_bucket(struct events *E, const char *uid, uint64_t now)
{
	struct podbucket *lru = NULL;

	for (size_t i = 0; i < EV_PODS_MAX; i++) {
		struct podbucket *p = &E->pb[i];

		if (p->uid[0] && !strcmp(p->uid, uid)) {
			p->used_ns = now;
			return &p->b;
		}
		if (!lru || p->used_ns < lru->used_ns)
			lru = p;
	}
	copy(lru->uid, sizeof(lru->uid), uid);
	lru->used_ns = now;
	bucket_init(&lru->b, AG_K8S_EVENTS_POD_BURST, 1.0 / AG_K8S_EVENTS_POD_REFILL_S, now);
	return &lru->b;
}

static json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static char *event_body(struct events *E, const struct ev *e)
{
	json_object *o = json_object_new_object(), *md = json_object_new_object(),
		    *lb = json_object_new_object(), *rg = json_object_new_object();
	char *s;

	json_object_object_add(o, "apiVersion", jstr("events.k8s.io/v1"));
	json_object_object_add(o, "kind", jstr("Event"));
	json_object_object_add(md, "name", jstr(e->name));
	json_object_object_add(md, "namespace", jstr(e->ns));
	json_object_object_add(lb, "app.kubernetes.io/managed-by", jstr("accelguard"));
	json_object_object_add(md, "labels", lb);
	json_object_object_add(o, "metadata", md);
	json_object_object_add(o, "eventTime", jstr(e->first));
	json_object_object_add(o, "reportingController", jstr(AG_K8S_REPORTING_CONTROLLER));
	json_object_object_add(o, "reportingInstance", jstr(E->instance));
	json_object_object_add(o, "action", jstr(e->action));
	json_object_object_add(o, "reason", jstr(e->reason));
	json_object_object_add(o, "type", jstr("Warning"));
	json_object_object_add(o, "note", jstr(e->note));
	json_object_object_add(rg, "apiVersion", jstr("v1"));
	json_object_object_add(rg, "kind", jstr("Pod"));
	json_object_object_add(rg, "namespace", jstr(e->ns));
	json_object_object_add(rg, "name", jstr(e->pod));
	json_object_object_add(rg, "uid", jstr(e->uid));
	json_object_object_add(o, "regarding", rg);
	if (e->count >= 2) {
		json_object *se = json_object_new_object();

		json_object_object_add(se, "count", json_object_new_int64((int64_t)e->count));
		json_object_object_add(se, "lastObservedTime", jstr(e->last));
		json_object_object_add(o, "series", se);
	}
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static char *series_body(const struct ev *e)
{
	char *s = NULL;

	if (asprintf(&s, "{\"series\":{\"count\":%" PRIu64 ",\"lastObservedTime\":\"%s\"}}",
		     e->count, e->last) < 0)
		return NULL;
	return s;
}

/*
 * mu held (released for the GET). The Event's stable name is taken: an Event of this agent's
 * before a restart, or of the agent a rollout replaces, on the same pod, for the same reason. Its
 * series goes on: its count plus ours, patched next. Anything else under the name (another
 * controller's, another pod's): a name of our own.
 */
static void series_goes_on(struct events *E, struct ev *e, const struct ev *snap)
{
	struct k8s_rw *w = &E->w;
	json_object *cur = NULL, *rg;
	const char *ctl, *uid;
	uint64_t had = 0;
	bool ours;
	long http;

	pthread_mutex_unlock(&w->mu);
	http = k8s_ev_get(w, snap->ns, snap->name, &cur);
	pthread_mutex_lock(&w->mu);
	rg = k8s_jget(cur, "regarding");
	ctl = k8s_jstr(cur, "reportingController");
	uid = k8s_jstr(rg, "uid");
	ours = http == 200 && ctl && !strcmp(ctl, AG_K8S_REPORTING_CONTROLLER) && uid &&
	       !strcmp(uid, snap->uid) && k8s_jstr(cur, "reason") &&
	       !strcmp(k8s_jstr(cur, "reason"), snap->reason);
	if (ours) {
		had = (uint64_t)json_object_get_int64(k8s_jget(k8s_jget(cur, "series"), "count"));
		if (!had)
			had = 1; /* an Event without a series counts one */
	}
	json_object_put(cur);
	if (!e->used || e->key != snap->key || strcmp(e->name, snap->name))
		return; /* reused meanwhile */
	if (!ours) {
		if (http >= 0 && http < 500 && http != 429) {
			e->named_anew = true;
			e->name[0] = '\0';
		}
		return; /* no answer: the create is tried again, and the 409 read again */
	}
	e->created = true;
	e->sent_count = had;
	e->count += had;
	E->st.continued++;
}

/* mu held: the oldest Event with work whose pod and node buckets allow a write, now; NULL and
 * *wake (0: none) when the next can go. */
static struct ev *next_event(struct events *E, uint64_t now, uint64_t *wake)
{
	struct ev *e = NULL;
	uint64_t wait;

	*wake = 0;
	for (size_t i = 0; i < EV_MAX; i++) {
		struct ev *x = &E->ev[i];
		uint64_t t;

		if (!ev_has_work(x))
			continue;
		if (x->created && x->wrote_ns + EV_SERIES_MIN_NS > now) {
			t = x->wrote_ns + EV_SERIES_MIN_NS;
		} else if ((wait = bucket_wait(pod_bucket(E, x->uid, now), now))) {
			t = now + wait;
			if (!x->limited) {
				x->limited = true;
				E->st.rate_limited++;
			}
		} else {
			if (!e || x->seen_ns < e->seen_ns)
				e = x;
			continue;
		}
		if (!*wake || t < *wake)
			*wake = t;
	}
	if (e && (wait = bucket_wait(&E->node, now))) {
		if (!e->limited) {
			e->limited = true;
			E->st.rate_limited++;
		}
		*wake = now + wait;
		e = NULL;
	}
	return e;
}

/* mu held: the answer http to the write of snap (create: a new Event, else its series) into e. */
static void event_written(struct events *E, struct ev *e, const struct ev *snap, bool create,
			  long http)
{
	struct k8s_rw *w = &E->w;

	/* the record may have been reused meanwhile: only the same Event is updated */
	if (!e->used || e->key != snap->key || strcmp(e->name, snap->name))
		return;
	e->wrote_ns = k8s_mono_ns();
	if (w->ns_refused) {
		E->st.errors++;
		ns_refuse(E, snap->ns, e->wrote_ns);
	} else if (http >= 200 && http < 300) {
		e->created = true;
		e->sent_count = snap->count;
		if (create)
			E->st.sent++;
		else
			E->st.patched++;
	} else if (http == 409 && create && !e->named_anew) {
		series_goes_on(E, e, snap);
	} else if (http == 409 && create) {
		e->name[0] = '\0'; /* the name is taken: another */
	} else if (http == 404 && !create) {
		e->created = false; /* expired on the server (1 h): written anew, whole */
		e->name[0] = '\0';
	} else if (http == 400 || http == 404 || http == 422) {
		E->st.errors++;
		if (!E->warned_bad) {
			E->warned_bad = true;
			k8s_http_error(&w->req, http, w->err, sizeof(w->err));
			ag_warn("kubernetes.events: the API refused an Event: %s; dropped", w->err);
		}
		e->used = false;
	} else if (http < 0 || http >= 500 || http == 401 || http == 403) {
		E->st.errors++; /* kept; the gate is set */
	}
}

static void *events_main(void *arg)
{
	struct events *E = arg;
	struct k8s_rw *w = &E->w;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		uint64_t now = k8s_mono_ns(), wake;
		struct ev *e, snap;
		char *body;
		bool create;
		long http;

		if (w->gate_ns > now) {
			worker_sleep(w, w->gate_ns);
			continue;
		}
		e = next_event(E, now, &wake);
		if (!e) {
			worker_sleep(w, wake);
			continue;
		}
		e->limited = false;
		pod_bucket(E, e->uid, now)->tokens -= 1.0;
		E->node.tokens -= 1.0;
		create = !e->created;
		if (create && !e->name[0]) {
			char pod[EV_NAME_MAX - 16];

			/* a stable name first (the pod and what makes the Event the same): the agent
			 * after a restart, or the next one of a rollout, finds the Event and goes on
			 * with its series */
			copy(pod, sizeof(pod), e->pod);
			snprintf(e->name, sizeof(e->name), "%s.%016" PRIx64, pod,
				 e->named_anew ? fnv(e->key, "") ^ (uint64_t)time(NULL) ^ ++E->seq
					       : fnv(e->key, ""));
		}
		snap = *e;
		pthread_mutex_unlock(&w->mu);

		if (create) {
			body = event_body(E, &snap);
			http = body ? k8s_ev_create(w, snap.ns, body) : -ENOMEM;
		} else {
			body = series_body(&snap);
			http = body ? k8s_ev_patch(w, snap.ns, snap.name, body) : -ENOMEM;
		}
		free(body);

		pthread_mutex_lock(&w->mu);
		event_written(E, e, &snap, create, http);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- policy reports ---- */

struct rpod {
	bool used;
	char uid[64], ns[64], name[EV_NAME_MAX + 1];
	uint64_t cg[RP_CG_PER_POD];
	unsigned int n_cg;
	bool fail;
	bool exempt; /* its containers are exempt (the configuration's exempt rules): "skip" */
	bool warn;   /* an exposure (issue 22) and no violation: "warn" */
	char wnote[EV_NOTE_MAX + 1];
	uint64_t violations;
	int64_t since, last; /* Unix seconds: first seen, last violation */
	char note[EV_NOTE_MAX + 1];
	char last_time[64]; /* the last violation's time, as the agent wrote it (ns) */
	uint64_t unsynced; /* own violations not in the stored report yet (merge_stored) */
	uint64_t writing;  /* of them, in the write under way */
	int64_t uns_t[RP_PRE_MAX]; /* the first of them: their times (Unix ns) */
	unsigned int n_t;
};

/* a failed pod of a report from before whose pod is not known yet (its tenant event comes) */
struct rcarry {
	char uid[64];
	uint64_t violations;
	int64_t last, last_ns;
	char last_time[64];
	char note[EV_NOTE_MAX + 1];
};

struct rns {
	char ns[64];
	bool dirty;
	uint64_t wrote_ns;
};

struct reports {
	struct k8s_rw w;
	int kind; /* AG_REPORTS_* */
	struct rpod *pods; /* RP_PODS_MAX */
	struct rns *nss;   /* RP_PODS_MAX */
	size_t n_ns;
	struct rcarry *carry; /* RP_CARRY_MAX */
	size_t n_carry;
	struct ag_k8s_reports_stats st;
	char name[EV_NAME_MAX + 1];
	bool warned_full, warned_bad;
	bool ready, swept; /* the agent's ready line came (every tenant present is known); the
			    * reports of this node left from before were looked for */
};

static struct rns *ns_of(struct reports *R, const char *ns)
{
	for (size_t i = 0; i < R->n_ns; i++)
		if (!strcmp(R->nss[i].ns, ns))
			return &R->nss[i];
	if (R->n_ns >= RP_PODS_MAX) {
		/* full: take the place of a namespace written and left without pods */
		for (size_t i = 0; i < R->n_ns; i++) {
			struct rns *x = &R->nss[i];
			bool pods = false;

			for (size_t j = 0; j < RP_PODS_MAX && !pods && !x->dirty; j++)
				pods = R->pods[j].used && !strcmp(R->pods[j].ns, x->ns);
			if (!x->dirty && !pods) {
				memset(x, 0, sizeof(*x));
				copy(x->ns, sizeof(x->ns), ns);
				return x;
			}
		}
		return NULL;
	}
	copy(R->nss[R->n_ns].ns, sizeof(R->nss[0].ns), ns);
	return &R->nss[R->n_ns++];
}

static bool reports_idle(void *arg)
{
	struct reports *R = arg;

	for (size_t i = 0; i < R->n_ns; i++)
		if (R->nss[i].dirty)
			return false;
	return true;
}

static struct rpod *rpod_of(struct reports *R, const char *uid, bool create)
{
	struct rpod *fr = NULL;

	for (size_t i = 0; i < RP_PODS_MAX; i++) {
		if (R->pods[i].used && !strcmp(R->pods[i].uid, uid))
			return &R->pods[i];
		if (!R->pods[i].used && !fr)
			fr = &R->pods[i];
	}
	if (!create || !fr) {
		if (create && !R->warned_full) {
			R->warned_full = true;
			ag_warn("kubernetes.reports: more than %d pods; the others have no result",
				RP_PODS_MAX);
		}
		return NULL;
	}
	memset(fr, 0, sizeof(*fr));
	fr->used = true;
	copy(fr->uid, sizeof(fr->uid), uid);
	return fr;
}

/* "2026-12-01T16:19:56.123456789Z" -> Unix ns; 0 when it is no such time */
static int64_t unix_ns_of(const char *t)
{
	struct tm tm = { 0 };
	const char *f;
	int64_t ns = 0, scale = 100000000;

	if (!t || !(f = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)))
		return 0;
	if (*f == '.')
		for (f++; *f >= '0' && *f <= '9'; f++, scale /= 10)
			ns += (*f - '0') * scale;
	return (int64_t)timegm(&tm) * 1000000000 + ns;
}

/* a stored result: its pod's uid, fail, count, last violation (its time, the note) */
struct stored {
	const char *uid, *note, *last_time;
	bool fail;
	uint64_t violations;
	int64_t last, last_ns;
};

static bool stored_of(json_object *r, struct stored *st)
{
	json_object *pr = k8s_jget(r, "properties");
	const char *res = k8s_jstr(r, "result"), *msg = k8s_jstr(r, "message"), *n;
	const char *cnt = k8s_jstr(pr, "violations");

	memset(st, 0, sizeof(*st));
	st->uid = k8s_jstr(json_object_array_get_idx(k8s_jget(r, "resources"), 0), "uid");
	if (!res || !st->uid || !*st->uid)
		return false;
	st->fail = !strcmp(res, "fail");
	st->violations = cnt ? strtoull(cnt, NULL, 10) : 0;
	if (st->fail && !st->violations)
		st->violations = 1; /* a fail has had one at least */
	st->last_time = k8s_jstr(pr, "last_violation");
	st->last_ns = unix_ns_of(st->last_time);
	st->last = json_object_get_int64(k8s_jget(k8s_jget(r, "timestamp"), "seconds"));
	n = msg ? strstr(msg, "; the last: ") : NULL;
	st->note = n ? n + strlen("; the last: ") : msg ? msg : "";
	return true;
}

/*
 * mu held. The report is the record, and a write adds to it: before each write the report as
 * the API holds it now (cur; NULL: none) is read, and each pod's result becomes the stored one
 * plus this agent's violations not written yet. So a restart (a rollout, an OOM kill, a
 * liveness restart) loses no fail and no count, and two agents that overlap add their own
 * violations (the PUT's resourceVersion orders them; a 409 reads again). A violation both saw
 * (each with its own ring buffer) is counted once: both write the kernel's time of the event,
 * and an unwritten one no later than the stored last violation is in the stored count already.
 * A failed pod of the report that is not known yet is kept (carry) until its tenant event.
 */
static void merge_stored(struct reports *R, const char *ns, json_object *cur)
{
	json_object *results = k8s_jarr(cur, "results");
	size_t n = results ? json_object_array_length(results) : 0;

	for (size_t i = 0; i < RP_PODS_MAX; i++) {
		struct rpod *p = &R->pods[i];
		struct stored st = { 0 };
		bool found = false;
		uint64_t dup = 0;

		if (!p->used || strcmp(p->ns, ns))
			continue;
		for (size_t j = 0; j < n && !found; j++)
			found = stored_of(json_object_array_get_idx(results, j), &st) &&
				!strcmp(st.uid, p->uid);
		for (size_t j = 0; !found && j < R->n_carry; j++) {
			struct rcarry *c = &R->carry[j];

			if (strcmp(c->uid, p->uid))
				continue;
			found = true;
			memset(&st, 0, sizeof(st));
			st.fail = true;
			st.violations = c->violations;
			st.last = c->last;
			st.last_ns = c->last_ns;
			st.last_time = c->last_time;
			st.note = c->note;
		}
		if (!found)
			memset(&st, 0, sizeof(st));
		for (unsigned int k = 0; st.last_ns && k < p->n_t; k++)
			dup += p->uns_t[k] <= st.last_ns + (int64_t)RP_SAME_NS;
		if (dup > p->unsynced)
			dup = p->unsynced;
		p->violations = st.violations + p->unsynced - dup;
		p->fail = p->fail || st.fail;
		if (st.fail && st.last_ns >= unix_ns_of(p->last_time)) {
			/* the stored last violation is the later one */
			p->last = st.last;
			copy(p->last_time, sizeof(p->last_time), st.last_time);
			copy(p->note, sizeof(p->note), st.note);
		}
		p->writing = p->unsynced;
	}
	for (size_t j = 0; j < n; j++) {
		struct stored st;
		bool known = false;

		if (!stored_of(json_object_array_get_idx(results, j), &st) || !st.fail)
			continue;
		known = rpod_of(R, st.uid, false) != NULL;
		for (size_t k = 0; k < R->n_carry && !known; k++)
			known = !strcmp(R->carry[k].uid, st.uid);
		if (!known && R->n_carry < RP_CARRY_MAX && strlen(st.uid) < sizeof(R->carry[0].uid)) {
			struct rcarry *c = &R->carry[R->n_carry++];

			copy(c->uid, sizeof(c->uid), st.uid);
			c->violations = st.violations;
			c->last = st.last;
			c->last_ns = st.last_ns;
			copy(c->last_time, sizeof(c->last_time), st.last_time);
			copy(c->note, sizeof(c->note), st.note);
		}
	}
}

/* mu held: the report of ns was written with what merge_stored() counted: those violations are
 * the stored record's now, and so are the carried results of its pods */
static void written(struct reports *R, const char *ns)
{
	for (size_t i = 0; i < RP_PODS_MAX; i++) {
		struct rpod *p = &R->pods[i];
		uint64_t k;
		unsigned int kt;

		if (!p->used || strcmp(p->ns, ns))
			continue;
		k = p->writing < p->unsynced ? p->writing : p->unsynced;
		kt = k < p->n_t ? (unsigned int)k : p->n_t;
		p->unsynced -= k;
		memmove(p->uns_t, p->uns_t + kt, (p->n_t - kt) * sizeof(p->uns_t[0]));
		p->n_t -= kt;
		p->writing = 0;
		for (size_t j = 0; j < R->n_carry; j++)
			if (!strcmp(R->carry[j].uid, p->uid)) {
				R->carry[j] = R->carry[--R->n_carry];
				break;
			}
	}
}

static void reports_line(void *arg, const struct ag_event *o)
{
	struct reports *R = arg;
	const char *uid = ag_event_str(o, o->pod_uid), *ns = ag_event_str(o, o->pod_ns),
		   *name = ag_event_str(o, o->pod_name);
	uint64_t cg = o->cgroup_id;
	struct rpod *p;
	struct rns *n;

	if (o->kind == AG_EVK_READY) {
		pthread_mutex_lock(&R->w.mu);
		R->ready = true;
		pthread_cond_signal(&R->w.cv);
		pthread_mutex_unlock(&R->w.mu);
		return;
	}
	if (o->kind != AG_EVK_TENANT && o->kind != AG_EVK_EXPOSURE && o->kind != AG_EVK_ACCESS)
		return;
	if (!uid || !*uid || !ns || !*ns || !name || !*name)
		return;
	pthread_mutex_lock(&R->w.mu);
	if (o->kind == AG_EVK_TENANT) {
		const char *what = ag_event_str(o, o->what);
		bool gone = what && !strcmp(what, "removed");
		unsigned int i;

		p = rpod_of(R, uid, !gone);
		if (!p)
			goto out;
		for (i = 0; i < p->n_cg && p->cg[i] != cg; i++)
			;
		if (gone) {
			if (i < p->n_cg)
				p->cg[i] = p->cg[--p->n_cg];
			if (p->n_cg)
				goto out;
			p->used = false; /* the pod's last cgroup went: so did the pod */
			R->st.pods--;
		} else {
			const char *state = ag_event_str(o, o->state);

			if (i == p->n_cg && p->n_cg < RP_CG_PER_POD)
				p->cg[p->n_cg++] = cg;
			if (state && (!strcmp(state, "exempt") || !strcmp(state, "tenant"))) {
				bool ex = !strcmp(state, "exempt");

				if (ex != p->exempt && p->ns[0]) {
					p->exempt = ex;
					goto dirty;
				}
				p->exempt = ex;
			}
			if (p->ns[0])
				goto out;
			copy(p->ns, sizeof(p->ns), ns);
			copy(p->name, sizeof(p->name), name);
			p->since = unix_of(ag_event_str(o, o->time));
			R->st.pods++;
		}
	} else if (o->kind == AG_EVK_EXPOSURE) {
		struct viol v;

		if (!parse_exposure(o, &v) || !(p = rpod_of(R, uid, false)))
			goto out;
		p->warn = true;
		copy(p->wnote, sizeof(p->wnote), v.note);
	} else {
		struct viol v;

		if (!parse_violation(o, &v) || !(p = rpod_of(R, uid, false)))
			goto out; /* a pod seen only by a violation has a tenant event first */
		p->fail = true;
		p->violations++;
		p->last = unix_of(v.time);
		copy(p->last_time, sizeof(p->last_time), v.time);
		p->unsynced++;
		if (p->n_t < RP_PRE_MAX)
			p->uns_t[p->n_t++] = unix_ns_of(v.time);
		copy(p->note, sizeof(p->note), v.note);
	}
dirty:
	n = ns_of(R, ns);
	if (n) {
		n->dirty = true;
		pthread_cond_signal(&R->w.cv);
	}
out:
	pthread_mutex_unlock(&R->w.mu);
}

static size_t reports_emit(void *ctx, const struct ag_sink_batch *b)
{
	for_events(b, reports_line, ctx);
	return 0;
}

static int cmp_result(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	json_object *rx = json_object_array_get_idx(k8s_jget(x, "resources"), 0),
		    *ry = json_object_array_get_idx(k8s_jget(y, "resources"), 0);

	return strcmp(k8s_jstr(rx, "name") ?: "", k8s_jstr(ry, "name") ?: "");
}

/* mu held: the results of ns; *n_pass, *n_fail, *n_skip. */
static json_object *results_of(struct reports *R, const char *ns, int *n_pass, int *n_fail,
			       int *n_skip, int *n_warn)
{
	json_object *arr = json_object_new_array();

	*n_pass = *n_fail = *n_skip = *n_warn = 0;
	for (size_t i = 0; i < RP_PODS_MAX; i++) {
		struct rpod *p = &R->pods[i];
		json_object *r, *res, *ts, *pr;
		char msg[EV_NOTE_MAX + 200], cnt[24];

		if (!p->used || !p->ns[0] || strcmp(p->ns, ns))
			continue;
		r = json_object_new_object();
		res = json_object_new_object();
		ts = json_object_new_object();
		pr = json_object_new_object();
		json_object_object_add(r, "source", jstr("accelguard"));
		json_object_object_add(r, "policy", jstr("secure_accelerator_access"));
		json_object_object_add(r, "rule", jstr("mediated-accelerator-access"));
		json_object_object_add(r, "category", jstr("AI Conformance"));
		json_object_object_add(r, "severity", jstr("high"));
		json_object_object_add(ts, "seconds", json_object_new_int64(p->fail ? p->last : p->since));
		json_object_object_add(ts, "nanos", json_object_new_int(0));
		json_object_object_add(r, "timestamp", ts);
		json_object_object_add(r, "result", jstr(p->fail ? "fail" : p->exempt ? "skip" :
							 p->warn ? "warn" : "pass"));
		json_object_object_add(r, "scored", json_object_new_boolean(1));
		json_object_object_add(res, "apiVersion", jstr("v1"));
		json_object_object_add(res, "kind", jstr("Pod"));
		json_object_object_add(res, "namespace", jstr(p->ns));
		json_object_object_add(res, "name", jstr(p->name));
		json_object_object_add(res, "uid", jstr(p->uid));
		json_object_object_add(r, "resources", json_object_new_array());
		json_object_array_add(k8s_jget(r, "resources"), res);
		if (p->fail)
			snprintf(msg, sizeof(msg), "%" PRIu64 " accelerator access violation%s; the last: %s",
				 p->violations, p->violations == 1 ? "" : "s", p->note);
		else if (p->exempt)
			snprintf(msg, sizeof(msg), "exempt from the policy by the agent's configuration");
		else if (p->warn)
			snprintf(msg, sizeof(msg), "no violation, but %s", p->wnote);
		else
			snprintf(msg, sizeof(msg), "every accelerator access seen on node %s was "
				 "mediated (allocated to the container)", R->w.env.node_name);
		json_object_object_add(r, "message", jstr(msg));
		snprintf(cnt, sizeof(cnt), "%" PRIu64, p->violations);
		json_object_object_add(pr, "violations", jstr(cnt));
		if (p->last_time[0])
			json_object_object_add(pr, "last_violation", jstr(p->last_time));
		json_object_object_add(pr, "node", jstr(R->w.env.node_name));
		json_object_object_add(r, "properties", pr);
		json_object_array_add(arr, r);
		if (p->fail)
			(*n_fail)++;
		else if (p->exempt)
			(*n_skip)++;
		else if (p->warn)
			(*n_warn)++;
		else
			(*n_pass)++;
	}
	json_object_array_sort(arr, cmp_result);
	return arr;
}

static const char *rp_group(const struct reports *R)
{
	return R->kind == AG_REPORTS_OPENREPORTS ? "openreports.io/v1alpha1" : "wgpolicyk8s.io/v1alpha2";
}

/* Bring one namespace's report up to date: GET, then PUT with its resourceVersion (POST when
 * there is none, DELETE when no pod is left); 409: read again. mu not held. Returns 0, or
 * -EAGAIN to try later. */
/* The report of ns (its results taken: freed with it), as JSON text (malloc()ed); rv: the
 * resourceVersion replaced, NULL for a new one. */
static char *report_body(struct reports *R, const char *ns, const char *rv, json_object *results,
			 int pass, int fail, int warn, int skip)
{
	json_object *o = json_object_new_object(), *md = json_object_new_object(),
		    *lb = json_object_new_object(), *sum = json_object_new_object();
	struct k8s_rw *w = &R->w;
	char *body;

	json_object_object_add(o, "apiVersion", jstr(rp_group(R)));
	json_object_object_add(o, "kind", jstr(R->kind == AG_REPORTS_OPENREPORTS ? "Report"
									 : "PolicyReport"));
	json_object_object_add(md, "name", jstr(R->name));
	json_object_object_add(md, "namespace", jstr(ns));
	json_object_object_add(lb, "app.kubernetes.io/managed-by", jstr("accelguard"));
	if (strlen(w->env.node_name) <= 63)
		json_object_object_add(lb, "accelguard.io/node", jstr(w->env.node_name));
	json_object_object_add(md, "labels", lb);
	if (rv)
		json_object_object_add(md, "resourceVersion", jstr(rv));
	json_object_object_add(o, "metadata", md);
	if (R->kind == AG_REPORTS_OPENREPORTS)
		json_object_object_add(o, "source", jstr("accelguard"));
	json_object_object_add(sum, "pass", json_object_new_int(pass));
	json_object_object_add(sum, "fail", json_object_new_int(fail));
	json_object_object_add(sum, "warn", json_object_new_int(warn));
	json_object_object_add(sum, "error", json_object_new_int(0));
	json_object_object_add(sum, "skip", json_object_new_int(skip));
	json_object_object_add(o, "summary", sum);
	json_object_object_add(o, "results", results);
	body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return body;
}

static int sync_ns(struct reports *R, const char *ns)
{
	struct k8s_rw *w = &R->w;

	for (int tries = 0; tries < RP_CONFLICT_TRIES; tries++) {
		json_object *cur = NULL, *results;
		const char *rv;
		int pass, fail, skip, warn;
		long http;
		char *body;

		http = k8s_rp_get(w, R->kind, ns, R->name, &cur);
		if (http != 200 && http != 404) {
			json_object_put(cur);
			return -EAGAIN;
		}
		rv = http == 200 ? k8s_jstr(k8s_jget(cur, "metadata"), "resourceVersion") : NULL;
		pthread_mutex_lock(&w->mu);
		merge_stored(R, ns, http == 200 ? cur : NULL);
		results = results_of(R, ns, &pass, &fail, &skip, &warn);
		pthread_mutex_unlock(&w->mu);
		if (!json_object_array_length(results)) {
			json_object_put(results);
			json_object_put(cur);
			if (http == 404)
				return 0;
			http = k8s_rp_delete(w, R->kind, ns, R->name);
			if (http == 200 || http == 202 || http == 404) {
				R->st.deleted++;
				return 0;
			}
			if (http == 409)
				continue;
			return -EAGAIN;
		}
		body = report_body(R, ns, rv, results, pass, fail, warn, skip);
		json_object_put(cur);
		if (!body)
			return -EAGAIN;
		http = rv ? k8s_rp_update(w, R->kind, ns, R->name, body)
			  : k8s_rp_create(w, R->kind, ns, body);
		free(body);
		if (http >= 200 && http < 300) {
			R->st.writes++;
			pthread_mutex_lock(&w->mu);
			written(R, ns);
			pthread_mutex_unlock(&w->mu);
			return 0;
		}
		if (w->ns_refused) { /* terminating or gone: this namespace alone waits */
			R->st.errors++;
			ag_info("kubernetes.reports: namespace %s refuses its report (%s); written again "
				"in %d s, other namespaces go on", ns, w->err, AG_K8S_PAUSE_S);
			return -ENOENT;
		}
		if (http == 409) { /* changed (PUT) or made (POST) meanwhile: read again */
			R->st.conflicts++;
			continue;
		}
		if (http == 400 || http == 404 || http == 422) {
			/* no CRD, or a report the API does not take: again only after a pause */
			R->st.errors++;
			if (!R->warned_bad) {
				R->warned_bad = true;
				k8s_http_error(&w->req, http, w->err, sizeof(w->err));
				ag_warn("kubernetes.reports: the API refused a report: %s (is the %s "
					"CRD installed?); trying again every %d s", w->err, rp_group(R),
					AG_K8S_PAUSE_S);
			}
			pthread_mutex_lock(&w->mu);
			w->gate_ns = k8s_mono_ns() + AG_K8S_PAUSE_S * K8S_SEC;
			pthread_mutex_unlock(&w->mu);
			return -EAGAIN;
		}
		R->st.errors++;
		return -EAGAIN;
	}
	R->st.errors++;
	return -EAGAIN;
}

/*
 * Once, when the agent is ready: this node's reports from before (an agent restarted while pods
 * went) in namespaces where no pod is known now are marked for writing, which deletes them. mu
 * not held. Returns false to try again later (no answer).
 */
static bool sweep(struct reports *R)
{
	struct k8s_rw *w = &R->w;
	json_object *list = NULL, *items;
	long http;

	if (strlen(w->env.node_name) > 63)
		return true; /* no node label to select by */
	http = k8s_rp_list(w, R->kind, w->env.node_name, &list);
	if (http < 0 || http >= 500 || http == 429) {
		json_object_put(list);
		return false;
	}
	items = http == 200 ? k8s_jarr(list, "items") : NULL;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *md = k8s_jget(json_object_array_get_idx(items, i), "metadata");
		const char *ns = k8s_jstr(md, "namespace"), *name = k8s_jstr(md, "name");
		struct rns *n;

		if (ns && name && !strcmp(name, R->name) && strlen(ns) < sizeof(n->ns) &&
		    (n = ns_of(R, ns)))
			n->dirty = true;
	}
	pthread_mutex_unlock(&w->mu);
	json_object_put(list);
	return true;
}

static void *reports_main(void *arg)
{
	struct reports *R = arg;
	struct k8s_rw *w = &R->w;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		uint64_t now = k8s_mono_ns(), wake = 0;
		struct rns *n = NULL;
		char ns[64];
		int r;

		if (w->gate_ns > now) {
			worker_sleep(w, w->gate_ns);
			continue;
		}
		if (!R->ready) { /* no write before every present pod is known: a report from
				  * before is merged, not cut to the pods known so far */
			worker_sleep(w, 0);
			continue;
		}
		if (!R->swept) {
			bool done;

			pthread_mutex_unlock(&w->mu);
			done = sweep(R);
			pthread_mutex_lock(&w->mu);
			R->swept = done;
			continue;
		}
		for (size_t i = 0; i < R->n_ns; i++) {
			struct rns *x = &R->nss[i];
			uint64_t t = x->wrote_ns + RP_MIN_INTERVAL_NS;

			if (!x->dirty)
				continue;
			if (t <= now || w->closing) {
				n = x;
				break;
			}
			if (!wake || t < wake)
				wake = t;
		}
		if (!n) {
			worker_sleep(w, wake);
			continue;
		}
		n->dirty = false;
		n->wrote_ns = now;
		copy(ns, sizeof(ns), n->ns);
		pthread_mutex_unlock(&w->mu);
		r = sync_ns(R, ns);
		pthread_mutex_lock(&w->mu);
		if (r) { /* the same namespace, for n may have moved: found again by name */
			struct rns *x = ns_of(R, ns);

			if (x)
				x->dirty = true;
			if (r == -ENOENT) { /* that namespace alone, after a pause */
				if (x)
					x->wrote_ns = k8s_mono_ns() + AG_K8S_PAUSE_S * K8S_SEC -
						      RP_MIN_INTERVAL_NS;
				continue;
			}
			if (w->gate_ns <= k8s_mono_ns())
				w->gate_ns = k8s_mono_ns() + AG_K8S_BACKOFF_MIN_MS * K8S_MS;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- the sinks and their owner ---- */

struct ag_k8s_sinks {
	struct events *E;
	struct reports *R;
};

static void events_close(void *ctx)
{
	struct events *E = ctx;

	worker_stop(&E->w, events_idle, E);
}

static void reports_close(void *ctx)
{
	struct reports *R = ctx;

	worker_stop(&R->w, reports_idle, R);
}

static const struct ag_sink_ops events_ops = {
	.name = "kubernetes_events",
	.takes = AG_SINK_EVENTS,
	.emit = events_emit,
	.close = events_close,
};

static const struct ag_sink_ops reports_ops = {
	.name = "kubernetes_reports",
	.takes = AG_SINK_EVENTS,
	.emit = reports_emit,
	.close = reports_close,
};

static void events_free(struct events *E)
{
	if (!E)
		return;
	worker_fini(&E->w);
	free(E->ev);
	free(E->pb);
	free(E);
}

static void reports_free(struct reports *R)
{
	if (!R)
		return;
	worker_fini(&R->w);
	free(R->pods);
	free(R->nss);
	free(R->carry);
	free(R);
}

int ag_k8s_sinks_add(struct ag_sinks *s, const struct ag_config *cfg, struct ag_k8s_sinks **out,
		     char *err, size_t errlen)
{
	const struct ag_cfg_kubernetes *kc = &cfg->kubernetes;
	struct ag_k8s_sinks *h;
	int r = 0;

	*out = NULL;
	if (!kc->present || (!kc->events && kc->reports == AG_REPORTS_OFF))
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (kc->events) {
		struct events *E = calloc(1, sizeof(*E));

		if (!E || !(E->ev = calloc(EV_MAX, sizeof(*E->ev))) ||
		    !(E->pb = calloc(EV_PODS_MAX, sizeof(*E->pb)))) {
			events_free(E);
			r = -ENOMEM;
			goto fail;
		}
		r = worker_init(&E->w, "events", cfg, err, errlen);
		if (r) {
			events_free(E);
			goto fail;
		}
		bucket_init(&E->node, AG_K8S_EVENTS_NODE_BURST, AG_K8S_EVENTS_NODE_QPS, k8s_mono_ns());
		snprintf(E->instance, sizeof(E->instance), "accelguard-%.116s", E->w.env.node_name);
		r = worker_start(&E->w, events_main, E);
		if (!r) {
			r = ag_sinks_add(s, &events_ops, E, 0);
			if (r)
				worker_stop(&E->w, events_idle, E);
		}
		if (r) {
			snprintf(err, errlen, "kubernetes.events: cannot start: %s", strerror(-r));
			events_free(E);
			goto fail;
		}
		h->E = E;
	}
	if (kc->reports != AG_REPORTS_OFF) {
		struct reports *R = calloc(1, sizeof(*R));

		if (!R || !(R->pods = calloc(RP_PODS_MAX, sizeof(*R->pods))) ||
		    !(R->nss = calloc(RP_PODS_MAX, sizeof(*R->nss))) ||
		    !(R->carry = calloc(RP_CARRY_MAX, sizeof(*R->carry)))) {
			reports_free(R);
			r = -ENOMEM;
			goto fail;
		}
		R->kind = kc->reports;
		r = worker_init(&R->w, "reports", cfg, err, errlen);
		if (r) {
			reports_free(R);
			goto fail;
		}
		snprintf(R->name, sizeof(R->name), "accelguard-%.200s", R->w.env.node_name);
		r = worker_start(&R->w, reports_main, R);
		if (!r) {
			r = ag_sinks_add(s, &reports_ops, R, 0);
			if (r)
				worker_stop(&R->w, reports_idle, R);
		}
		if (r) {
			snprintf(err, errlen, "kubernetes.reports: cannot start: %s", strerror(-r));
			reports_free(R);
			goto fail;
		}
		h->R = R;
	}
	*out = h;
	return 0;
fail:
	/* a sink already added stays with the sinks (closed by ag_sinks_free); h owns its memory */
	*out = h->E ? h : NULL;
	if (!h->E)
		free(h);
	return r;
}

bool ag_k8s_events_stats(struct ag_k8s_sinks *h, struct ag_k8s_events_stats *out)
{
	struct events *E = h ? h->E : NULL;
	size_t pending = 0;

	if (!E)
		return false;
	pthread_mutex_lock(&E->w.mu);
	*out = E->st;
	for (size_t i = 0; i < EV_MAX; i++)
		pending += ev_has_work(&E->ev[i]);
	out->pending = pending;
	out->paused = E->w.paused;
	out->up = !E->w.down;
	pthread_mutex_unlock(&E->w.mu);
	return true;
}

bool ag_k8s_reports_stats(struct ag_k8s_sinks *h, struct ag_k8s_reports_stats *out)
{
	struct reports *R = h ? h->R : NULL;

	if (!R)
		return false;
	pthread_mutex_lock(&R->w.mu);
	*out = R->st;
	out->pending_namespaces = 0;
	for (size_t i = 0; i < R->n_ns; i++)
		out->pending_namespaces += R->nss[i].dirty;
	out->paused = R->w.paused;
	out->up = !R->w.down;
	pthread_mutex_unlock(&R->w.mu);
	return true;
}

void ag_k8s_sinks_free(struct ag_k8s_sinks *h)
{
	if (!h)
		return;
	events_free(h->E);
	reports_free(h->R);
	free(h);
}

void ag_k8s_sinks_summary(struct ag_k8s_sinks *h, struct jw *w)
{
	struct ag_k8s_events_stats es;
	struct ag_k8s_reports_stats rs;

	if (ag_k8s_events_stats(h, &es)) {
		jw_key(w, "kubernetes_events");
		jw_obj_open(w);
		jw_ku64(w, "queued", es.queued);
		jw_ku64(w, "sent", es.sent);
		jw_ku64(w, "patched", es.patched);
		jw_ku64(w, "deduplicated", es.deduplicated);
		jw_ku64(w, "rate_limited", es.rate_limited);
		jw_ku64(w, "dropped", es.dropped);
		jw_ku64(w, "errors", es.errors);
		jw_ku64(w, "namespace_refused", es.namespace_refused);
		jw_ku64(w, "continued", es.continued);
		jw_ku64(w, "pending", es.pending);
		jw_kbool(w, "paused", es.paused);
		jw_kbool(w, "up", es.up);
		jw_obj_close(w);
	}
	if (ag_k8s_reports_stats(h, &rs)) {
		jw_key(w, "kubernetes_reports");
		jw_obj_open(w);
		jw_ku64(w, "writes", rs.writes);
		jw_ku64(w, "conflicts", rs.conflicts);
		jw_ku64(w, "deleted", rs.deleted);
		jw_ku64(w, "errors", rs.errors);
		jw_ku64(w, "pods", rs.pods);
		jw_ku64(w, "pending_namespaces", rs.pending_namespaces);
		jw_kbool(w, "paused", rs.paused);
		jw_kbool(w, "up", rs.up);
		jw_obj_close(w);
	}
}
