#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A real gRPC server (python3-grpcio) on Unix sockets, serving the kubelet's PodResources v1
and/or the CRI RuntimeService from a JSON fixture, for tests/k8s/k8s_test.c.

The fixture is read again whenever its file changes (the test swaps it with rename()), so one
server process follows a whole scenario. Its "fault" key makes the server misbehave on purpose:
  "podresources-garbage": List/Get answer bytes that are no ListPodResourcesResponse
  "podresources-internal": List/Get fail with grpc-status INTERNAL
  "cri-garbage": ListContainers answers bytes that are no ListContainersResponse
Messages are built from the fixture with google.protobuf.json_format (proto field names).
Usage: grpc_peer.py --fixture F [--podresources SOCK] [--cri SOCK] [--no-get] --pyout DIR
"""
import argparse
import json
import os
import signal
import sys
import threading
from concurrent import futures

p = argparse.ArgumentParser()
p.add_argument("--fixture", required=True)
p.add_argument("--podresources")
p.add_argument("--cri")
p.add_argument("--no-get", action="store_true", help="answer Get with UNIMPLEMENTED (old kubelet)")
p.add_argument("--pyout", required=True, help="where protoc --python_out wrote the modules")
p.add_argument("--log")
args = p.parse_args()
sys.path.insert(0, args.pyout)

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from proto import cri_pb2, podresources_pb2 as pr  # noqa: E402

lock = threading.Lock()
state = {"mtime": None, "fx": {}}
calls = {}


def log(msg):
    if args.log:
        with open(args.log, "a") as f:
            f.write(msg + "\n")


def fixture():
    with lock:
        st = os.stat(args.fixture)
        key = (st.st_mtime_ns, st.st_ino, st.st_size)
        if key != state["mtime"]:
            with open(args.fixture) as f:
                state["fx"] = json.load(f)
            state["mtime"] = key
        return state["fx"]


def count(name):
    with lock:
        calls[name] = calls.get(name, 0) + 1
    log(name)


def pod_msg(d):
    return json_format.ParseDict(d, pr.PodResources(), ignore_unknown_fields=False)


def pr_list(req, ctx):
    count("List")
    fx = fixture()
    fault = fx.get("fault")
    if fault == "podresources-garbage":
        return b"\x0a\xff\xff\xff\xff\x0f\x01"  # a length-delimited field longer than the message
    if fault == "podresources-internal":
        ctx.abort(grpc.StatusCode.INTERNAL, "podresources: test fault")
    resp = pr.ListPodResourcesResponse(pod_resources=[pod_msg(x) for x in fx.get("pods", [])])
    return resp.SerializeToString()


def pr_get(req, ctx):
    count("Get")
    if args.no_get:
        ctx.abort(grpc.StatusCode.UNIMPLEMENTED, "method Get not implemented")
    fx = fixture()
    if fx.get("fault") == "podresources-garbage":
        return b"\x0a\xff\xff\xff\xff\x0f\x01"
    r = pr.GetPodResourcesRequest.FromString(req)
    for x in fx.get("pods", []):
        if x.get("name") == r.pod_name and x.get("namespace") == r.pod_namespace:
            return pr.GetPodResourcesResponse(pod_resources=pod_msg(x)).SerializeToString()
    ctx.abort(grpc.StatusCode.NOT_FOUND, "pod %s/%s not found" % (r.pod_namespace, r.pod_name))


def pr_alloc(req, ctx):
    count("GetAllocatableResources")
    return pr.AllocatableResourcesResponse().SerializeToString()


def cri_list_containers(req, ctx):
    count("ListContainers")
    fx = fixture()
    if fx.get("fault") == "cri-garbage":
        return b"\xff\xff\xff"
    r = cri_pb2.ListContainersRequest.FromString(req)
    out = cri_pb2.ListContainersResponse()
    for c in fx.get("containers", []):
        if r.filter.id and c["id"] != r.filter.id:
            continue
        out.containers.append(json_format.ParseDict(c, cri_pb2.Container()))
    return out.SerializeToString()


def cri_container_status(req, ctx):
    count("ContainerStatus")
    fx = fixture()
    r = cri_pb2.ContainerStatusRequest.FromString(req)
    for c in fx.get("containers", []):
        if c["id"] == r.container_id or (len(r.container_id) >= 12 and c["id"].startswith(r.container_id)):
            st = cri_pb2.ContainerStatus(id=c["id"])
            st.metadata.name = c.get("metadata", {}).get("name", "")
            st.state = cri_pb2.CONTAINER_RUNNING
            st.labels.update(c.get("labels", {}))
            st.annotations.update(c.get("annotations", {}))
            return cri_pb2.ContainerStatusResponse(status=st).SerializeToString()
    ctx.abort(grpc.StatusCode.NOT_FOUND, 'an error occurred when try to find container "%s": not found'
              % r.container_id)


def cri_list_sandboxes(req, ctx):
    count("ListPodSandbox")
    fx = fixture()
    r = cri_pb2.ListPodSandboxRequest.FromString(req)
    out = cri_pb2.ListPodSandboxResponse()
    for s in fx.get("sandboxes", []):
        if r.filter.id and s["id"] != r.filter.id:
            continue
        out.items.append(json_format.ParseDict(s, cri_pb2.PodSandbox()))
    return out.SerializeToString()


def raw(fn):
    # bytes in, bytes out: the handlers (de)serialize themselves, so that faults can send garbage
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=None, response_serializer=None)


servers = []
if args.podresources:
    s = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    s.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("v1.PodResourcesLister", {
        "List": raw(pr_list), "Get": raw(pr_get), "GetAllocatableResources": raw(pr_alloc)}),))
    s.add_insecure_port("unix:" + args.podresources)
    servers.append(s)
if args.cri:
    s = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    s.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("runtime.v1.RuntimeService", {
        "ListContainers": raw(cri_list_containers), "ContainerStatus": raw(cri_container_status),
        "ListPodSandbox": raw(cri_list_sandboxes)}),))
    s.add_insecure_port("unix:" + args.cri)
    servers.append(s)
for s in servers:
    s.start()
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
signal.signal(signal.SIGINT, lambda *a: done.set())
log("ready")
done.wait()
for s in servers:
    s.stop(0)
