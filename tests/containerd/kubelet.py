#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The kubelet's side of the CRI, enough to run pods the way it does (python3-grpcio over the
runtime's socket, messages from kubelet_cri.proto): its io.kubernetes.* labels, cgroupfs
cgroup_parent per QoS class, host network (no CNI), the pod's sandbox config passed again with
each container.
  kubelet.py --sock S --pyout D pod NAME NAMESPACE UID QOS [privileged] [handler=H] -> sandbox id
  kubelet.py ... ctr SANDBOX NAME NAMESPACE UID QOS CNAME ATTEMPT [--privileged]
                 [--device HOST=CONTAINER]... [--env K=V]... [--mount HOST=CONTAINER]...
                 -- CMD...                                          -> container id
  kubelet.py ... bulk N PREFIX NAMESPACE QOS -- CMD...  (N pods of one container each, made one
                 after the other; prints "NAME UID SANDBOX CONTAINER" per pod)
  kubelet.py ... exec CID CMD...   (stdout, stderr passed through; exits with the command's code)
  kubelet.py ... rmctr CID | rmpod SANDBOX... | pid CID
"""
import argparse
import json
import sys

p = argparse.ArgumentParser()
p.add_argument("--sock", required=True)
p.add_argument("--pyout", required=True)
p.add_argument("op")
p.add_argument("rest", nargs=argparse.REMAINDER)
args = p.parse_args()
sys.path.insert(0, args.pyout)

import grpc  # noqa: E402
import kubelet_cri_pb2 as cri  # noqa: E402

IMAGE = "docker.io/agtest/busybox:1"
ch = grpc.insecure_channel("unix:" + args.sock)
svc = "/runtime.v1.RuntimeService/"


def call(method, req, resp_cls, timeout=60):
    f = ch.unary_unary(svc + method, request_serializer=lambda m: m.SerializeToString(),
                       response_deserializer=resp_cls.FromString)
    return f(req, timeout=timeout)


def cgroup_parent(qos, uid):
    # the kubelet's cgroupfs driver: Guaranteed pods directly under kubepods
    return "/kubepods/pod" + uid if qos == "guaranteed" else "/kubepods/%s/pod%s" % (qos, uid)


def sandbox_config(name, ns, uid, qos, privileged=False):
    c = cri.PodSandboxConfig()
    c.metadata.name, c.metadata.namespace, c.metadata.uid = name, ns, uid
    c.labels.update({"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": ns,
                     "io.kubernetes.pod.uid": uid})
    c.linux.cgroup_parent = cgroup_parent(qos, uid)
    c.linux.security_context.namespace_options.network = cri.NODE
    c.linux.security_context.privileged = privileged
    return c


op, rest = args.op, args.rest
if op == "pod":
    name, ns, uid, qos = rest[:4]
    priv = "privileged" in rest[4:]
    handler = "".join(a[8:] for a in rest[4:] if a.startswith("handler="))
    r = call("RunPodSandbox", cri.RunPodSandboxRequest(config=sandbox_config(name, ns, uid, qos, priv),
                                                       runtime_handler=handler),
             cri.RunPodSandboxResponse)
    print(r.pod_sandbox_id)
elif op == "ctr":
    sb, name, ns, uid, qos, cname, attempt = rest[:7]
    opts, cmd = rest[7:rest.index("--")], rest[rest.index("--") + 1:]
    c = cri.ContainerConfig()
    c.metadata.name, c.metadata.attempt = cname, int(attempt)
    c.image.image = IMAGE
    c.command.extend(cmd)
    c.labels.update({"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": ns,
                     "io.kubernetes.pod.uid": uid, "io.kubernetes.container.name": cname})
    c.annotations["io.kubernetes.container.restartCount"] = attempt
    c.linux.security_context.namespace_options.network = cri.NODE
    c.linux.security_context.namespace_options.pid = cri.CONTAINER
    i = 0
    while i < len(opts):
        if opts[i] == "--privileged":
            c.linux.security_context.privileged = True
        elif opts[i] == "--device":
            i += 1
            host, cont = opts[i].split("=", 1)
            c.devices.add(host_path=host, container_path=cont, permissions="rwm")
        elif opts[i] == "--env":
            i += 1
            k, v = opts[i].split("=", 1)
            c.envs.add(key=k, value=v)
        elif opts[i] == "--mount":
            i += 1
            host, cont = opts[i].split("=", 1)
            c.mounts.add(host_path=host, container_path=cont)
        i += 1
    r = call("CreateContainer", cri.CreateContainerRequest(
        pod_sandbox_id=sb, config=c,
        sandbox_config=sandbox_config(name, ns, uid, qos, c.linux.security_context.privileged)),
        cri.CreateContainerResponse)
    call("StartContainer", cri.StartContainerRequest(container_id=r.container_id),
         cri.StartContainerResponse)
    print(r.container_id)
elif op == "bulk":
    import uuid
    n, prefix, ns, qos = int(rest[0]), rest[1], rest[2], rest[3]
    cmd = rest[rest.index("--") + 1:]
    for i in range(n):
        name, uid = "%s-%d" % (prefix, i), str(uuid.uuid4())
        sbc = sandbox_config(name, ns, uid, qos)
        sb = call("RunPodSandbox", cri.RunPodSandboxRequest(config=sbc),
                  cri.RunPodSandboxResponse).pod_sandbox_id
        c = cri.ContainerConfig()
        c.metadata.name, c.metadata.attempt = "main", 0
        c.image.image = IMAGE
        c.command.extend(cmd)
        c.labels.update({"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": ns,
                         "io.kubernetes.pod.uid": uid, "io.kubernetes.container.name": "main"})
        c.linux.security_context.namespace_options.network = cri.NODE
        r = call("CreateContainer", cri.CreateContainerRequest(pod_sandbox_id=sb, config=c,
                                                               sandbox_config=sbc),
                 cri.CreateContainerResponse)
        call("StartContainer", cri.StartContainerRequest(container_id=r.container_id),
             cri.StartContainerResponse)
        print(name, uid, sb, r.container_id, flush=True)
elif op == "exec":
    r = call("ExecSync", cri.ExecSyncRequest(container_id=rest[0], cmd=rest[1:], timeout=30),
             cri.ExecSyncResponse)
    sys.stdout.write(r.stdout.decode(errors="replace"))
    sys.stderr.write(r.stderr.decode(errors="replace"))
    sys.exit(r.exit_code)
elif op == "pid":
    r = call("ContainerStatus", cri.ContainerStatusRequest(container_id=rest[0], verbose=True),
             cri.ContainerStatusResponse)
    print(json.loads(r.info["info"])["pid"])
elif op == "rmctr":
    call("StopContainer", cri.StopContainerRequest(container_id=rest[0], timeout=0),
         cri.StopContainerResponse)
    call("RemoveContainer", cri.RemoveContainerRequest(container_id=rest[0]),
         cri.RemoveContainerResponse)
elif op == "rmpod":
    failed = 0
    for sb in rest:  # one or more sandboxes, one after the other; a failure does not stop the rest
        try:
            call("StopPodSandbox", cri.StopPodSandboxRequest(pod_sandbox_id=sb),
                 cri.StopPodSandboxResponse)
            call("RemovePodSandbox", cri.RemovePodSandboxRequest(pod_sandbox_id=sb),
                 cri.RemovePodSandboxResponse)
        except grpc.RpcError as e:
            failed += 1
            if len(rest) == 1:
                raise
            sys.stderr.write("kubelet.py: rmpod %s: %s\n" % (sb, e.details()))
    sys.exit(1 if failed else 0)
else:
    sys.exit("kubelet.py: unknown operation " + op)
