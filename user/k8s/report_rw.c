// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One request of the Events and reports sinks, and what its answer does to the worker (report.h). */
#include <errno.h>
#include <string.h>

#include "k8s.h"
#include "report.h"

/*
 * The API's Status tells a refusal of one namespace from one of the agent's rights: the
 * NamespaceLifecycle admission plugin answers a create in a namespace being deleted with 403,
 * reason Forbidden and the cause NamespaceTerminating (details.causes[].reason); a create in a
 * namespace that does not exist is 404 NotFound with details.kind "namespaces". RBAC's 403 has
 * reason Forbidden and no such cause.
 */
static bool ns_refusal(const struct k8s_req *req, long http)
{
	json_object *o, *det, *causes;
	bool scoped = false;

	if ((http != 403 && http != 404) || !req->body || !req->len)
		return false;
	o = json_tokener_parse(req->body);
	det = k8s_jget(o, "details");
	if (http == 404) {
		scoped = k8s_jstr(det, "kind") && !strcmp(k8s_jstr(det, "kind"), "namespaces");
	} else {
		const char *reason = k8s_jstr(o, "reason");

		scoped = reason && !strcmp(reason, "NamespaceTerminating");
		causes = k8s_jarr(det, "causes");
		for (size_t i = 0; causes && !scoped && i < json_object_array_length(causes); i++) {
			const char *c = k8s_jstr(json_object_array_get_idx(causes, i), "reason");

			scoped = c && !strcmp(c, "NamespaceTerminating");
		}
	}
	json_object_put(o);
	return scoped;
}

long k8s_rw_call(struct k8s_rw *w, const char *method, const char *path, const char *ctype,
		 const char *body, json_object **out)
{
	uint64_t now;
	long http = 0;
	int r;

	if (out)
		*out = NULL;
	k8s_req_reset(&w->req);
	if (strcmp(method, "GET"))
		r = k8s_http_send(&w->env, w->curl, method, path, ctype, body, &w->req, &http,
				  w->err, sizeof(w->err));
	else
		r = k8s_http_get(&w->env, w->curl, path, &w->req, &http, 0, w->err, sizeof(w->err));
	now = k8s_mono_ns();
	pthread_mutex_lock(&w->mu);
	w->ns_refused = r >= 0 && ns_refusal(&w->req, http);
	if (r < 0 || http >= 500 || http == 0) {
		if (r >= 0)
			k8s_http_error(&w->req, http, w->err, sizeof(w->err));
		w->errors++;
		if (!w->warned_down)
			ag_warn("kubernetes.%s: %s; trying again with a backoff (up to %d s), what "
				"waits stays queued", w->what, w->err, AG_K8S_BACKOFF_MAX_MS / 1000);
		w->warned_down = w->down = true;
		w->gate_ns = now + w->backoff_ms * K8S_MS;
		w->backoff_ms = w->backoff_ms * 2 > AG_K8S_BACKOFF_MAX_MS ? AG_K8S_BACKOFF_MAX_MS
									 : w->backoff_ms * 2;
		pthread_mutex_unlock(&w->mu);
		return r < 0 ? r : http ? http : -EIO;
	}
	if (w->down)
		ag_info("kubernetes.%s: the API server answers again", w->what);
	w->down = w->warned_down = false;
	w->backoff_ms = AG_K8S_BACKOFF_MIN_MS;
	if (w->ns_refused) {
		/* the namespace's, not ours: nothing paused; the caller holds back that namespace */
		k8s_http_error(&w->req, http, w->err, sizeof(w->err));
		ag_dbg("kubernetes.%s: %s", w->what, w->err);
	} else if (http == 401 || http == 403) {
		w->errors++;
		if (!w->paused) {
			k8s_http_error(&w->req, http, w->err, sizeof(w->err));
			ag_warn("kubernetes.%s: %s; paused for %d s (the agent goes on enforcing; check "
				"the ClusterRole)", w->what, w->err, AG_K8S_PAUSE_S);
		}
		w->paused = true;
		w->gate_ns = now + AG_K8S_PAUSE_S * K8S_SEC;
	} else if (http == 429) {
		long ra = w->req.retry_after < 0 ? 1 : w->req.retry_after;

		if (ra > AG_K8S_RETRY_AFTER_MAX_S)
			ra = AG_K8S_RETRY_AFTER_MAX_S;
		ag_dbg("kubernetes.%s: %s answered 429; waiting %ld s (Retry-After)", w->what,
		       w->req.url, ra);
		w->gate_ns = now + (uint64_t)ra * K8S_SEC;
	} else {
		if (w->paused)
			ag_info("kubernetes.%s: allowed again", w->what);
		w->paused = false;
	}
	pthread_mutex_unlock(&w->mu);
	if (out && w->req.body && w->req.len)
		*out = json_tokener_parse(w->req.body);
	return http;
}
