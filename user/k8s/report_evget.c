// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Events sink's read of one Event (report.h): an Event of its name already there (written
 * before a restart, or by the agent it overlaps in a rollout) whose series goes on. A file of its
 * own: tests/deploy reads a file's verbs off its methods and paths, and this GET is no list. */
#include <stdio.h>

#include "k8s.h"
#include "report.h"

long k8s_ev_get(struct k8s_rw *w, const char *ns, const char *name, json_object **out)
{
	char path[800];

	snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events/%s", ns, name);
	return k8s_rw_call(w, "GET", path, NULL, NULL, out);
}
