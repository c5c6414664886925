// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes objects from the API (user/k8s/api_json.c, api_pods.c, api_claims.c): the text through
 * the bounded parse with each keep list as the agent uses it, then a Pod, a PodList, a
 * ResourceClaim, the items of a ResourceSliceList. */
#include <json-c/json.h>

#include "fuzz.h"
#include "k8s/api.h"

/* The input blanked and parsed as keep says (a copy each time: the parse blanks in place). */
static json_object *parse(const uint8_t *data, size_t size, const struct k8s_jkeep *keep,
			  char **copy)
{
	char err[1024];
	json_object *o;

	*copy = fuzz_str(data, size);
	o = k8s_json_parse(*copy, size, keep, "fuzz", err, sizeof(err));
	if (!o && !err[0])
		abort(); /* a refusal says why */
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *o;
	char *copy;

	if (size > 1 << 24)
		return 0;
	o = parse(data, size, k8s_keep_slices, &copy);
	if (k8s_jarr(o, "items")) {
		struct k8s_slice_dev *v = NULL;
		size_t n = 0;

		if (k8s_api_slices_parse(k8s_jarr(o, "items"), &v, &n) == 0)
			k8s_slices_free(v, n);
	}
	json_object_put(o);
	free(copy);
	o = parse(data, size, k8s_keep_claim, &copy);
	if (o) {
		struct k8s_api_claim c;

		(void)k8s_api_claim_parse(o, "ns", "claim", &c);
		k8s_api_claim_free(&c);
	}
	json_object_put(o);
	free(copy);
	o = parse(data, size, k8s_keep_pod, &copy);
	if (o) {
		struct k8s_api_pod p;
		const char *why = NULL;

		if (k8s_api_pod_parse(o, &p, &why) < 0 && (!why || !*why))
			abort(); /* a refusal says why */
		k8s_api_pod_free(&p);
	}
	json_object_put(o);
	free(copy);
	{
		struct k8s_api_pod *pods = NULL;
		char rv[64], cont[64], err[1024] = "";
		size_t n = 0;

		copy = fuzz_str(data, size);
		if (k8s_api_podlist_parse(copy, size, "fuzz", &pods, &n, NULL, rv, sizeof(rv), cont,
					  sizeof(cont), err, sizeof(err)) == 0) {
			for (size_t i = 0; i < n; i++)
				k8s_api_pod_free(&pods[i]);
			free(pods);
		} else if (!err[0]) {
			abort();
		}
		free(copy);
	}
	return 0;
}
