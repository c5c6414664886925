// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The policy reports sink's requests (report.h), for either kind of report. */
#include <stdio.h>

#include "k8s.h"
#include "report.h"

/* the collection of a namespace, one report, and the list of this node's reports in every
 * namespace */
static const char *const coll_fmt[] = {
	[AG_REPORTS_WGPOLICY] = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/%s/policyreports",
	[AG_REPORTS_OPENREPORTS] = "/apis/openreports.io/v1alpha1/namespaces/%s/reports",
};
static const char *const item_fmt[] = {
	[AG_REPORTS_WGPOLICY] = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/%s/policyreports/%s",
	[AG_REPORTS_OPENREPORTS] = "/apis/openreports.io/v1alpha1/namespaces/%s/reports/%s",
};
static const char *const list_fmt[] = {
	[AG_REPORTS_WGPOLICY] = "/apis/wgpolicyk8s.io/v1alpha2/policyreports?labelSelector=accelguard.io%%2Fnode%%3D%s",
	[AG_REPORTS_OPENREPORTS] = "/apis/openreports.io/v1alpha1/reports?labelSelector=accelguard.io%%2Fnode%%3D%s",
};

static const char *fmt(const char *const *t, int kind)
{
	return t[kind == AG_REPORTS_OPENREPORTS ? AG_REPORTS_OPENREPORTS : AG_REPORTS_WGPOLICY];
}

static void item(char *path, size_t n, int kind, const char *ns, const char *name)
{
	snprintf(path, n, fmt(item_fmt, kind), ns, name);
}

long k8s_rp_get(struct k8s_rw *w, int kind, const char *ns, const char *name, json_object **out)
{
	char path[900];

	item(path, sizeof(path), kind, ns, name);
	return k8s_rw_call(w, "GET", path, NULL, NULL, out);
}

long k8s_rp_create(struct k8s_rw *w, int kind, const char *ns, const char *body)
{
	char path[600];

	snprintf(path, sizeof(path), fmt(coll_fmt, kind), ns);
	return k8s_rw_call(w, "POST", path, "application/json", body, NULL);
}

long k8s_rp_update(struct k8s_rw *w, int kind, const char *ns, const char *name,
		   const char *body)
{
	char path[900];

	item(path, sizeof(path), kind, ns, name);
	return k8s_rw_call(w, "PUT", path, "application/json", body, NULL);
}

long k8s_rp_delete(struct k8s_rw *w, int kind, const char *ns, const char *name)
{
	char path[900];

	item(path, sizeof(path), kind, ns, name);
	return k8s_rw_call(w, "DELETE", path, NULL, NULL, NULL);
}

long k8s_rp_list(struct k8s_rw *w, int kind, const char *node, json_object **out)
{
	char path[600];

	snprintf(path, sizeof(path), fmt(list_fmt, kind), node);
	return k8s_rw_call(w, "GET", path, NULL, NULL, out);
}
