// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The watch stream (user/k8s/api_http.c framing, api_pods.c objects): the input arrives in chunks
 * whose sizes come from its first bytes; each line is an event whose object is parsed (api_json.c). */
#include <json-c/json.h>

#include "fuzz.h"
#include "k8s/api.h"

static int line(struct k8s_req *r, char *l, size_t len)
{
	char err[1024];
	json_object *o = strlen(l) == len ? /* as watch_line */
		k8s_json_parse(l, len, k8s_keep_watch, NULL, err, sizeof(err)) : NULL;
	struct k8s_api_pod p;
	const char *why = "";

	(void)r;
	if (k8s_jget(o, "object") && k8s_api_pod_parse(k8s_jget(o, "object"), &p, &why) <= 0)
		k8s_api_pod_free(&p);
	json_object_put(o);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_req r = { .line = line };
	size_t off = 0;
	unsigned int chunk = size ? data[0] % 64 + 1 : 1;

	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (k8s_req_feed(&r, (const char *)data + off, n) != n)
			break;
		off += n;
		chunk = chunk * 7 % 97 + 1;
	}
	k8s_req_reset(&r);
	return 0;
}
