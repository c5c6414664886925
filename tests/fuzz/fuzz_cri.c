// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* CRI ListContainers / ListPodSandbox answers (user/k8s/cri.c); the first byte chooses. */
#include "fuzz.h"
#include "k8s/cri.h"
#include "k8s/grpc.h"
#include "proto/cri.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m = NULL;
	struct k8s_cri_snap s = { 0 };
	unsigned char *body;
	size_t cap = 0, n;
	char err[512];

	if (!size)
		return 0;
	d = data[0] & 1 ? &runtime__v1__list_pod_sandbox_response__descriptor
			: &runtime__v1__list_containers_response__descriptor;
	n = size - 1;
	body = malloc(n + 5);
	if (!body)
		abort();
	body[0] = 0;
	body[1] = (unsigned char)(n >> 24);
	body[2] = (unsigned char)(n >> 16);
	body[3] = (unsigned char)(n >> 8);
	body[4] = (unsigned char)n;
	memcpy(body + 5, data + 1, n);
	if (ag_grpc_unframe(body, n + 5, d, &m, err, sizeof(err)) == 0) {
		if (data[0] & 1)
			(void)k8s_cri_add_sandboxes(&s, &cap, (Runtime__V1__ListPodSandboxResponse *)m);
		else
			(void)k8s_cri_add_containers(&s, &cap, (Runtime__V1__ListContainersResponse *)m);
		k8s_cri_snap_free(&s);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	free(body);
	return 0;
}
