#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Write the generated seeds of tests/fuzz/corpus/ (protobuf answers, JSON objects, procfs text).
The seeds are committed; run this again only to change them. Hand-rolled protobuf encoding (wire
format: varint keys, length-delimited fields), so it needs no generated module.
Usage: tests/fuzz/mkseeds.py [CORPUS_DIR]"""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def varint(n):
    b = bytearray()
    while True:
        x = n & 0x7F
        n >>= 7
        if n:
            b.append(x | 0x80)
        else:
            b.append(x)
            return bytes(b)


def ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def kv(field, k, v):
    return ld(field, ld(1, k) + ld(2, v))


def write(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def frame(msg):
    return b"\0" + len(msg).to_bytes(4, "big") + msg


# PodResources: a device plugin GPU, a DRA claim, an empty id (skipped), a replica id
devs = ld(1, "nvidia.com/gpu") + ld(2, "GPU-8b6d1f3e-0000-4000-8000-000000000001") + ld(2, "") + \
    ld(2, "GPU-8b6d1f3e-0000-4000-8000-000000000002::3")
claim = ld(1, ld(1, "k8s.gpu.nvidia.com/claim=node-a-gpu-0")) + ld(2, "gpu.nvidia.com") + \
    ld(3, "node-a") + ld(4, "gpu-0")
dyn = ld(2, "claim-1") + ld(3, "team-a") + ld(4, claim)
ctr = ld(1, "train") + ld(2, devs) + ld(5, dyn)
pod = ld(1, "job-0") + ld(2, "team-a") + ld(3, ctr) + ld(3, ld(1, "sidecar"))
list_pr = ld(1, pod) + ld(1, ld(1, "empty") + ld(2, "kube-system"))
write("podresources", "list", list_pr)
write("podresources", "empty", b"")
# a regression seed: many empty device ids (the 2 MB answer of the issue, scaled down)
ids = ld(2, ld(1, "r") + ld(2, "") * 2000)
write("podresources", "empty-ids", ld(1, ld(1, "p") + ld(2, "n") + ld(3, ld(1, "c") + ids)))

labels = kv(8, "io.kubernetes.pod.namespace", "team-a") + kv(8, "io.kubernetes.pod.name", "job-0") + \
    kv(8, "io.kubernetes.pod.uid", "0d1f6c7e-1111-4222-8333-444455556666") + \
    kv(8, "io.kubernetes.container.name", "train")
ctrs = ld(1, ld(1, "a" * 64) + ld(2, "b" * 64) + labels) + ld(1, ld(1, "nolabels"))
write("cri", "containers", b"\0" + ctrs)
sb_labels = labels.replace(b"\x42", b"\x2a")  # field 8 -> field 5 (PodSandbox.labels)
sbs = ld(1, ld(1, "b" * 64) + kv(5, "io.kubernetes.pod.namespace", "team-a") +
         kv(5, "io.kubernetes.pod.name", "job-0") + kv(5, "app", "trainer"))
write("cri", "sandboxes", b"\1" + sbs)

# gRPC bodies: the size of the input picks the answer type (size % 5): pad to the wanted one
for name, msg, kind in (("list", list_pr, 0), ("containers", ctrs, 2), ("sandboxes", sbs, 3)):
    body = frame(msg)
    while len(body) % 5 != kind:
        msg += ld(15, "")  # an unknown field: kept by protobuf-c, harmless
        body = frame(msg)
    write("grpc", name, body)
write("grpc", "short", b"\0\0\0")
write("grpc", "compressed", b"\1\0\0\0\0")

# Kubernetes objects
podj = {
    "kind": "Pod",
    "metadata": {"uid": "0d1f6c7e-1111-4222-8333-444455556666", "name": "job-0", "namespace": "team-a",
                 "resourceVersion": "42", "labels": {"app": "trainer", "tier": "gpu"}},
    "spec": {"serviceAccountName": "trainer", "nodeName": "node-a",
             "containers": [{"name": "train", "resources": {"claims": [{"name": "gpu"}]}}],
             "initContainers": [{"name": "init"}],
             "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "one-gpu"}]},
    "status": {"containerStatuses": [{"name": "train", "containerID": "containerd://" + "a" * 64}],
               "resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "job-0-gpu-x"}]},
}
write("pod", "pod.json", json.dumps(podj))
# regression seed: two containerStatuses of one name (each pod event leaked a string)
dup = json.loads(json.dumps(podj))
dup["status"]["containerStatuses"].append({"name": "train", "containerID": "containerd://" + "c" * 64})
write("pod", "dup-status.json", json.dumps(dup))
write("pod", "claim.json", json.dumps({
    "kind": "ResourceClaim", "metadata": {"uid": "u-1", "name": "job-0-gpu-x", "namespace": "team-a"},
    "status": {"allocation": {"devices": {"results": [
        {"request": "gpu", "driver": "gpu.nvidia.com", "pool": "node-a", "device": "gpu-0", "adminAccess": False}]}}}}))
write("pod", "slices.json", json.dumps({"kind": "ResourceSliceList", "items": [{"spec": {
    "driver": "gpu.nvidia.com", "pool": {"name": "node-a"}, "devices": [{"name": "gpu-0", "attributes": {
        "uuid": {"string": "GPU-8b6d1f3e-0000-4000-8000-000000000001"}, "pcieBusID": {"string": "0000:3b:00.0"}}}]}}]}))
# regression seeds of the bounded parse (api_json.c): members blanked around kept ones, a body of
# tiny objects over the bound, nesting past 32, a control character in a string
write("pod", "podlist-blanked.json", json.dumps({"kind": "PodList", "x": 1, "metadata": {"a": [1], "resourceVersion": "9", "b": {}},
                                                 "items": [podj, {"z": 0}, dup], "y": {"q": 1}}))
write("pod", "tiny-objects.json", '{"metadata":{"resourceVersion":"1"},"items":[' + ",".join(["{}"] * 20000) + "]}")
write("pod", "deep.json", "[" * 40 + "]" * 40)
write("pod", "control-char.json", '{"metadata":{"uid":"u\u0001"}}')
ev = [json.dumps({"type": "ADDED", "object": podj}), json.dumps({"type": "MODIFIED", "object": dup}),
      json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "43"}}}),
      json.dumps({"type": "DELETED", "object": podj}),
      json.dumps({"type": "ERROR", "object": {"code": 410, "message": "too old"}})]
write("watch", "events", "\n".join(ev) + "\n")
write("watch", "short-lines", "\n" * 50 + "{}\n" * 50)

# cgroups: mountinfo, /proc/PID/cgroup
write("cgroups", "mountinfo", "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "25 1 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n")
write("cgroups", "escaped", "30 1 0:30 / /run/my\\040cgroup rw - cgroup2 none rw\n")
write("cgroups", "proc-cgroup", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d1f6c7e_1111.slice/cri-containerd-" + "a" * 64 + ".scope\n")
write("cgroups", "proc-cgroup-v1", "12:devices:/docker/abc\n0::/system.slice/ssh.service\n")

# cgroup paths: "PATTERN\nPATH"
write("cgpath", "systemd", "/kubepods.slice/*\n/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d1f6c7e_1111_4222_8333_444455556666.slice/cri-containerd-" + "a" * 64 + ".scope")
write("cgpath", "cgroupfs", "/tenants/**\n/kubepods/besteffort/pod0d1f6c7e-1111-4222-8333-444455556666/" + "b" * 64)
write("cgpath", "guaranteed", "/a/*/c\n/kubepods.slice/kubepods-pod0d1f6c7e_1111.slice/crio-" + "c" * 64 + ".scope")
