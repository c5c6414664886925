// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Kubernetes API peer's life cycle and the resolver's view of its snapshot (api.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static void snap_free(struct k8s_api_snap *s)
{
	for (size_t i = 0; i < s->n_pods; i++)
		k8s_api_pod_free(&s->pods[i]);
	free(s->pods);
	for (size_t i = 0; i < s->n_claims; i++)
		k8s_api_claim_free(&s->claims[i]);
	free(s->claims);
	memset(s, 0, sizeof(*s));
}

void k8s_api_init(struct k8s_api *api, const struct k8s_env *env, struct k8s_devmap *map)
{
	memset(api, 0, sizeof(*api));
	api->env = env;
	api->map = map;
	k8s_lock_init(&api->lock, K8S_RANK_API, "api");
	k8s_cond_init(&api->cond);
}

int k8s_api_start(struct k8s_api *api)
{
	int ret;

	ret = -pthread_create(&api->th_pods, NULL, k8s_api_pods_thread, api);
	if (ret)
		return ret;
	api->have_pods = true;
	ret = -pthread_create(&api->th_claims, NULL, k8s_api_claims_thread, api);
	if (ret)
		return ret;
	api->have_claims = true;
	return 0;
}

void k8s_api_stop(struct k8s_api *api)
{
	k8s_lock(&api->lock);
	pthread_cond_broadcast(&api->cond);
	k8s_unlock(&api->lock);
	if (api->have_pods)
		pthread_join(api->th_pods, NULL);
	if (api->have_claims)
		pthread_join(api->th_claims, NULL);
	api->have_pods = api->have_claims = false;
}

void k8s_api_fini(struct k8s_api *api)
{
	snap_free(&api->snap);
	k8s_lock_destroy(&api->lock);
	pthread_cond_destroy(&api->cond);
}
