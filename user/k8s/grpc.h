/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unary gRPC calls over a Unix socket: libcurl speaks HTTP/2 with prior knowledge, protobuf-c
 * packs and unpacks the messages. One struct ag_grpc per peer and per thread (it keeps the HTTP/2
 * connection between calls); not thread-safe.
 */
#ifndef AG_K8S_GRPC_H
#define AG_K8S_GRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stddef.h>

/* gRPC status codes (grpc/doc/statuscodes.md) that callers act upon */
#define AG_GRPC_OK 0
#define AG_GRPC_NOT_FOUND 5
#define AG_GRPC_RESOURCE_EXHAUSTED 8
#define AG_GRPC_UNIMPLEMENTED 12
#define AG_GRPC_UNAVAILABLE 14

#define AG_GRPC_MAX_MSG (16u << 20) /* the kubelet's and grpc-go's default receive limit */

struct ag_grpc {
	void *curl;              /* CURL * */
	char *socket;
	const atomic_int *stop;  /* a call in flight returns -ECANCELED soon after *stop turns non-zero */
	long timeout_ms;
	int last_status;         /* grpc-status of the last call that got one, else -1 */
};

/* Returns 0 or -errno (-ENOMEM, -EINVAL for a socket path that does not fit a sockaddr_un). */
int ag_grpc_init(struct ag_grpc *g, const char *socket_path, const atomic_int *stop,
		 long timeout_ms);
void ag_grpc_fini(struct ag_grpc *g);

/*
 * Call method ("/v1.PodResourcesLister/List") with req; on success *resp is the unpacked answer
 * (free with protobuf_c_message_free_unpacked). Errors, with err naming the socket, the method
 * and the cause:
 *   -ENOENT      the socket does not exist
 *   -ECONNREFUSED nobody listens (the peer is restarting)
 *   -ETIMEDOUT, -ECANCELED (stop flag), -EMSGSIZE (answer over AG_GRPC_MAX_MSG)
 *   -EPROTO      not a gRPC answer (HTTP status, content-type, framing, compression)
 *   -EREMOTEIO   the peer answered a gRPC error: g->last_status holds the code
 *   -EBADMSG     the message does not decode as resp_desc
 */
int ag_grpc_call(struct ag_grpc *g, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, char *err,
		 size_t errlen);

const char *ag_grpc_status_name(int code);

/* The peer's cheap watch: whether something accepts connections on the socket (a connect() and a
 * close, no request). 0, or -errno (-ENOENT: no socket, -ECONNREFUSED: nobody listens), with err. */
#define AG_GRPC_WATCH_MS 500 /* between two probes of a peer that is up */
int ag_grpc_reachable(const char *socket_path, char *err, size_t errlen);
/* What a message may cost decoded (README "Input limits"): protobuf-c's allocations while
 * unpacking at most FACTOR times the message plus SLACK; past it the answer is refused. */
#define AG_GRPC_DECODE_FACTOR 32u
#define AG_GRPC_DECODE_SLACK  (64u << 10)
/* The body of a unary answer (one length-prefixed message) -> *resp: 0, -EPROTO (framing),
 * -EMSGSIZE (over a limit) or -EBADMSG, with err saying why. The fuzz entry point. */
int ag_grpc_unframe(const unsigned char *body, size_t len, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **resp, char *err, size_t errlen);

#endif
