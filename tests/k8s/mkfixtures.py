#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Writes the node's fixtures for tests/k8s: what the kubelet's PodResources, the CRI and the
Kubernetes API say of one node's pods. k8s_test.c builds the same UIDs and container ids
(uid(n), cid(n, k), sid(n) below).  Usage: mkfixtures.py OUTDIR"""
import copy
import json
import os
import sys

NODE = "node-a"
GPU = {"3b": "GPU-3b3b3b3b-0000-4000-8000-000000000001", "5e": "GPU-5e5e5e5e-0000-4000-8000-000000000000",
       "86": "GPU-86868686-0000-4000-8000-000000000002", "af": "GPU-afafafaf-0000-4000-8000-000000000003"}


def uid(n):
    return "%08x-1111-4222-8333-%012x" % (n, n)


def cid(n, k):
    return "%02x%02x" % (n, k) + "c" * 60


def sid(n):
    return "%02xff" % n + "5" * 60


def claim_uid(n):
    return "0c1a1000-0000-4000-8000-%012x" % n


def dp(resource, *ids):
    return {"resource_name": resource, "device_ids": list(ids)}


def dra(claim, ns, driver, pool, device, cdi):
    return {"claim_name": claim, "claim_namespace": ns, "claim_resources": [
        {"cdi_devices": [{"name": c} for c in cdi], "driver_name": driver, "pool_name": pool,
         "device_name": device}]}


# n: (namespace, name, labels, serviceAccount, [(container, [devices], [dynamic], [pod claim names])])
PODS = {
    1: ("ml", "train-dp", {"app": "train"}, "default", [("trainer", [dp("nvidia.com/gpu", GPU["3b"])], [], [])]),
    2: ("ml", "infer-dra", {"app": "infer"}, "default", [("server", [], [dra(
        "infer-dra-gpu-7xk2p", "ml", "gpu.nvidia.com", NODE, "gpu-2",
        ["k8s.gpu.nvidia.com/claim=%s-gpu-2" % claim_uid(2)])], ["gpu"])]),
    3: ("web", "frontend", {"app": "frontend"}, "default", [("nginx", [], [], []), ("log", [], [], [])]),
    4: ("ml", "other-dp", {"app": "other"}, "default", [("worker", [dp("nvidia.com/gpu", GPU["5e"])], [], [])]),
    5: ("ml", "mig-legacy", {"app": "mig"}, "default",
        [("m", [dp("nvidia.com/mig-1g.10gb", "MIG-%s/1/0" % GPU["af"])], [], [])]),
    6: ("ml", "mig-new", {"app": "mig"}, "default",
        [("m", [dp("nvidia.com/mig-1g.10gb", "MIG-aaaaaaaa-bbbb-5ccc-8ddd-eeeeeeeeeeee")], [], [])]),
    7: ("ml", "ts-a", {"app": "ts"}, "default", [("c", [dp("nvidia.com/gpu", GPU["86"] + "::0")], [], [])]),
    8: ("ml", "ts-b", {"app": "ts"}, "default", [("c", [dp("nvidia.com/gpu", GPU["86"] + "::3")], [], [])]),
    9: ("ops", "debug-admin", {"app": "debug"}, "default", [("dbg", [], [dra(
        "admin-claim", "ops", "gpu.nvidia.com", NODE, "gpu-0",
        ["k8s.gpu.nvidia.com/claim=%s-gpu-0" % claim_uid(9)])], ["gpu"])]),
    10: ("ml", "idx", {"app": "idx"}, "default", [("a", [dp("nvidia.com/gpu", "0")], [], []),
                                                   ("b", [dp("nvidia.com/mig-1g.10gb", "1:0")], [], [])]),
    11: ("gpu-operator", "dcgm-exporter-x7k", {"app": "nvidia-dcgm-exporter"}, "nvidia-dcgm-exporter",
         [("exporter", [], [], [])]),
    12: ("ml", "late", {"app": "late"}, "default", [("main", [dp("nvidia.com/gpu", GPU["af"])], [], [])]),
    13: ("amd", "rocm", {"app": "rocm"}, "default", [("r", [dp("amd.com/gpu", "gpu0")], [], [])]),
    14: ("ml", "unmapped", {"app": "unmapped"}, "default",
         [("u", [dp("nvidia.com/gpu", "GPU-deadbeef-0000-4000-8000-00000000dead")], [], [])]),
    16: ("ml", "late2", {"app": "late2"}, "default", [("main", [dp("nvidia.com/gpu", GPU["3b"])], [], [])]),
    15: ("team-b", "api-only", {"app": "api-only", "tier": "batch"}, "runner",
         [("job", [dp("nvidia.com/gpu", GPU["5e"])], [], [])]),
}
LATE = {12, 16}
API_ONLY = {15}  # known to the API only: not in the CRI


def podresources(pods):
    out = []
    for n in sorted(pods):
        ns, name, _, _, ctrs = PODS[n]
        cs = []
        for cname, devs, dyn, _ in ctrs:
            c = {"name": cname}
            if devs:
                c["devices"] = devs
            if dyn:
                c["dynamic_resources"] = dyn
            cs.append(c)
        out.append({"name": name, "namespace": ns, "containers": cs})
    return out


def cri(pods):
    containers, sandboxes = [], []
    for n in sorted(pods):
        if n in API_ONLY:
            continue
        ns, name, labels, _, ctrs = PODS[n]
        kl = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": ns,
              "io.kubernetes.pod.uid": uid(n)}
        sl = dict(labels)
        sl.update(kl)
        sl["io.kubernetes.container.name"] = "POD"
        sandboxes.append({"id": sid(n), "metadata": {"name": name, "uid": uid(n), "namespace": ns},
                          "state": "SANDBOX_READY", "labels": sl})
        for k, (cname, _, _, _) in enumerate(ctrs):
            cl = dict(kl)
            cl["io.kubernetes.container.name"] = cname
            containers.append({"id": cid(n, k), "pod_sandbox_id": sid(n), "metadata": {"name": cname},
                               "image": {"image": "registry.example/img:1"}, "state": "CONTAINER_RUNNING",
                               "labels": cl, "annotations": {"io.kubernetes.container.restartCount": "0"}})
    return containers, sandboxes


def node(pods, fault=None):
    c, s = cri(pods)
    d = {"pods": podresources(pods), "containers": c, "sandboxes": s}
    if fault:
        d["fault"] = fault
    return d


def api_pod(n, rv):
    ns, name, labels, sa, ctrs = PODS[n]
    spec_ctrs, statuses = [], []
    claims = sorted({c for _, _, _, cl in ctrs for c in cl})
    for k, (cname, devs, _, cl) in enumerate(ctrs):
        sc = {"name": cname, "image": "registry.example/img:1", "resources": {}}
        if devs:
            sc["resources"]["limits"] = {devs[0]["resource_name"]: "1"}
        if cl:
            sc["resources"]["claims"] = [{"name": x} for x in cl]
        spec_ctrs.append(sc)
        statuses.append({"name": cname, "containerID": "containerd://" + cid(n, k), "ready": True,
                         "restartCount": 0, "image": "registry.example/img:1", "imageID": "sha256:00",
                         "started": True, "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}})
    pod = {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": ns, "uid": uid(n), "resourceVersion": str(rv),
                     "labels": labels, "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"nodeName": NODE, "serviceAccountName": sa, "containers": spec_ctrs},
        "status": {"phase": "Running", "podIP": "10.0.0.%d" % n, "qosClass": "Burstable",
                   "containerStatuses": statuses},
    }
    if claims:
        gen = PODS[n][4][0][2][0]["claim_name"] if PODS[n][4][0][2] else None
        pod["spec"]["resourceClaims"] = [{"name": c, "resourceClaimTemplateName": name + "-" + c} for c in claims]
        pod["status"]["resourceClaimStatuses"] = [{"name": c, "resourceClaimName": gen} for c in claims]
    return pod


def claims():
    out = []
    for n, admin in ((2, False), (9, True)):
        ns, name, _, _, ctrs = PODS[n]
        d = ctrs[0][2][0]
        r = d["claim_resources"][0]
        res = {"request": "gpu", "driver": r["driver_name"], "pool": r["pool_name"], "device": r["device_name"]}
        if admin:
            res["adminAccess"] = True
        out.append({
            "kind": "ResourceClaim", "apiVersion": "resource.k8s.io/v1",
            "metadata": {"name": d["claim_name"], "namespace": ns, "uid": claim_uid(n), "resourceVersion": "50%d" % n},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com",
                                                                       "adminAccess": admin}}]}},
            "status": {"allocation": {"devices": {"results": [res]}},
                       "reservedFor": [{"resource": "pods", "name": name, "uid": uid(n)}]},
        })
    return out


def slices():
    devs = []
    for minor, bus in ((1, "3b"), (0, "5e"), (2, "86"), (3, "af")):
        devs.append({"name": "gpu-%d" % minor, "attributes": {
            "type": {"string": "gpu"}, "uuid": {"string": GPU[bus]},
            "productName": {"string": "NVIDIA A100-SXM4-80GB"},
            "pcieBusID": {"string": "0000:%s:00.0" % bus}}})
    return [{"kind": "ResourceSlice", "apiVersion": "resource.k8s.io/v1",
             "metadata": {"name": NODE + "-gpu.nvidia.com-x", "resourceVersion": "700"},
             "spec": {"driver": "gpu.nvidia.com", "nodeName": NODE,
                      "pool": {"name": NODE, "generation": 1, "resourceSliceCount": 1}, "devices": devs}}]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    base = set(PODS) - LATE
    files = {
        "node.json": node(base),
        "node-late.json": node(set(PODS) - {16}),
        "node-late2.json": node(set(PODS)),
        "node-pr-garbage.json": node(set(PODS), "podresources-garbage"),
        "node-pr-internal.json": node(set(PODS), "podresources-internal"),
        "node-cri-garbage.json": node(set(PODS), "cri-garbage"),
        "api-pods.json": [api_pod(n, 100 + n) for n in sorted(base)],
        "api-pods-late.json": [api_pod(n, 100 + n) for n in sorted(PODS)],
        "api-claims.json": claims(),
        "api-slices.json": slices(),
    }
    for name, d in files.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(d, f, indent=1)


main()
