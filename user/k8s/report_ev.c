// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Events sink's requests (report.h): create an Event, patch its series. */
#include <stdio.h>

#include "k8s.h"
#include "report.h"

long k8s_ev_create(struct k8s_rw *w, const char *ns, const char *body)
{
	char path[512];

	snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events", ns);
	return k8s_rw_call(w, "POST", path, "application/json", body, NULL);
}

long k8s_ev_patch(struct k8s_rw *w, const char *ns, const char *name, const char *merge_patch)
{
	char path[800];

	snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events/%s", ns, name);
	return k8s_rw_call(w, "PATCH", path, "application/merge-patch+json", merge_patch, NULL);
}
