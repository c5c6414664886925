// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A PodResources List answer (user/k8s/podresources.c), decoded under the gRPC decode budget
 * (user/k8s/grpc.c), its ids mapped through an empty device mapping. */
#include "fuzz.h"
#include "k8s/grpc.h"
#include "k8s/podresources.h"
#include "proto/podresources.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct k8s_devmap map;
	static int init;
	unsigned char *body = malloc(size + 5);
	ProtobufCMessage *m = NULL;
	struct k8s_pr pr = { .map = &map };
	struct k8s_pr_snap s;
	uint64_t unmapped = 0;
	char err[512];

	if (!init) {
		if (k8s_map_init(&map, "/nonexistent", NULL, NULL, 0))
			abort();
		init = 1;
	}
	if (!body)
		abort();
	body[0] = 0;
	body[1] = (unsigned char)(size >> 24);
	body[2] = (unsigned char)(size >> 16);
	body[3] = (unsigned char)(size >> 8);
	body[4] = (unsigned char)size;
	memcpy(body + 5, data, size);
	if (ag_grpc_unframe(body, size + 5, &v1__list_pod_resources_response__descriptor, &m, err,
			    sizeof(err)) == 0) {
		if (k8s_pr_build(&pr, (V1__ListPodResourcesResponse *)m, &s, &unmapped, err,
				 sizeof(err)) == 0) {
			for (size_t i = 0; i < s.n; i++)
				if (!k8s_pr_find(&(struct k8s_pr){ .snap = s }, s.c[i].ns, s.c[i].pod,
						 s.c[i].name))
					abort(); /* the snapshot is sorted */
			k8s_pr_snap_free(&s);
		}
		protobuf_c_message_free_unpacked(m, NULL);
	}
	free(body);
	return 0;
}
