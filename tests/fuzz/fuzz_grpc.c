// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gRPC framing of a unary answer (user/k8s/grpc.c): the raw body, every answer type. */
#include "fuzz.h"
#include "k8s/grpc.h"
#include "proto/cri.pb-c.h"
#include "proto/podresources.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		&v1__list_pod_resources_response__descriptor,
		&v1__get_pod_resources_response__descriptor,
		&runtime__v1__list_containers_response__descriptor,
		&runtime__v1__list_pod_sandbox_response__descriptor,
		&runtime__v1__container_status_response__descriptor,
	};
	ProtobufCMessage *m = NULL;
	char err[256];
	int ret;

	ret = ag_grpc_unframe(data, size, descs[size % (sizeof(descs) / sizeof(descs[0]))], &m, err,
			      sizeof(err));
	if (ret == 0)
		protobuf_c_message_free_unpacked(m, NULL);
	else if (m || !err[0])
		abort();
	return 0;
}
