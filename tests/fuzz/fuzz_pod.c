// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes objects from the API (user/k8s/api_pods.c, api_claims.c): a Pod, a ResourceClaim,
 * the items of a ResourceSliceList, by the object's kind. */
#include <json-c/json.h>

#include "fuzz.h"
#include "k8s/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	if (!tok)
		abort();
	o = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 1 << 24 ? 1 << 24 : size));
	json_tokener_free(tok);
	if (!o)
		return 0;
	if (k8s_jarr(o, "items")) {
		struct k8s_slice_dev *v = NULL;
		size_t n = 0;

		if (k8s_api_slices_parse(k8s_jarr(o, "items"), &v, &n) == 0)
			k8s_slices_free(v, n);
	} else if (k8s_jstr(o, "kind") && !strcmp(k8s_jstr(o, "kind"), "ResourceClaim")) {
		struct k8s_api_claim c;

		(void)k8s_api_claim_parse(o, "ns", "claim", &c);
		k8s_api_claim_free(&c);
	} else {
		struct k8s_api_pod p;
		const char *why = NULL;

		if (k8s_api_pod_parse(o, &p, &why) < 0 && (!why || !*why))
			abort(); /* a refusal says why */
		k8s_api_pod_free(&p);
	}
	json_object_put(o);
	return 0;
}
