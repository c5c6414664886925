// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Kubernetes API: pods of this node (list + watch), their ResourceClaims, ResourceSlices. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_internal.h"
#include "k8s_util.h"

void k8s_api_free(struct k8s_api_snap *s)
{
	memset(s, 0, sizeof(*s));
}

const struct k8s_api_pod *k8s_api_pod_by_uid(const struct k8s *k, const char *uid)
{
	for (size_t i = 0; uid && i < k->api.n_pods; i++)
		if (!strcmp(k->api.pods[i].uid, uid))
			return &k->api.pods[i];
	return NULL;
}

const struct k8s_api_claim *k8s_api_claim(const struct k8s *k, const char *ns, const char *name)
{
	for (size_t i = 0; ns && name && i < k->api.n_claims; i++)
		if (!strcmp(k->api.claims[i].ns, ns) && !strcmp(k->api.claims[i].name, name))
			return &k->api.claims[i];
	return NULL;
}

int k8s_api_start(struct k8s *k)
{
	k8s_log(AG_LOG_WARN, "Kubernetes API client not built yet: %s unused", k->api_server);
	return 0;
}
