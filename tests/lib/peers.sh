# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tests/lib/peers.sh: the node's Kubernetes side as the tests serve it: the project's protos for
# the gRPC peer (tests/k8s/peers/grpc_peer.py), the API peer (tests/k8s/peers/api_peer.py) with
# its certificates, the kubelet's and runtime's view of the test's pods. Safe under set -eu.
peers_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# cgroup2_mount: where the cgroup2 file system is mounted (nothing when it is not)
cgroup2_mount() { awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo; }

# k8s_protos PYOUT: the Python modules of proto/podresources.proto and proto/cri.proto under PYOUT/proto
k8s_protos() {
	mkdir -p "$1"
	protoc --python_out="$1" -I"$peers_repo" "$peers_repo/proto/podresources.proto" "$peers_repo/proto/cri.proto"
	touch "$1/proto/__init__.py"
}

# api_certs DIR CA-CERT: a test CA (its certificate at CA-CERT, key DIR/ca.key) and the API
# server's key and certificate for 127.0.0.1 and localhost, signed by it (DIR/api.key, DIR/api.crt)
api_certs() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=accelguard test CA" \
		-keyout "$1/ca.key" -out "$2" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=kubernetes" -keyout "$1/api.key" -out "$1/api.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$1/san.ext"
	openssl x509 -req -in "$1/api.csr" -CA "$2" -CAkey "$1/ca.key" -CAcreateserial \
		-days 1 -extfile "$1/san.ext" -out "$1/api.crt" 2>/dev/null
}

# api_peer DIR PORT TOKEN-FILE: exec the API peer for node-1 on PORT (0: any, written to DIR/port),
# HTTPS with DIR/api.{crt,key}, serving DIR/{api-pods,claims,slices}.json, faults from DIR/fault,
# its log DIR/api.log and store DIR/store.json; replaces the shell: run it with &
api_peer() {
	exec /usr/bin/python3 "$peers_repo/tests/k8s/peers/api_peer.py" --port "$2" --port-file "$1/port" \
		--cert "$1/api.crt" --key "$1/api.key" --token-file "$3" --pods "$1/api-pods.json" \
		--claims "$1/claims.json" --slices "$1/slices.json" --fault-file "$1/fault" --node node-1 \
		--log "$1/api.log" --store-file "$1/store.json"
}

# k8s_pods FX API-PODS POD...: the pods as the kubelet and the runtime (FX: the gRPC peer's
# fixture) and the API server (API-PODS: running on node-1) know them; each POD is
# "NAMESPACE NAME UID CONTAINER-ID [GPU-UUID]": one container, main, given that GPU
k8s_pods() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
fx = {"pods": [], "containers": [], "sandboxes": []}
api = []
for p in sys.argv[3:]:
    ns, name, uid, cid, *gpu = p.split()
    devs = [{"resource_name": "nvidia.com/gpu", "device_ids": gpu}] if gpu else []
    fx["pods"].append({"name": name, "namespace": ns, "containers": [{"name": "main", "devices": devs}]})
    labels = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.uid": uid}
    fx["containers"].append({"id": cid, "pod_sandbox_id": "sb-" + uid, "metadata": {"name": "main"},
                             "state": "CONTAINER_RUNNING",
                             "labels": dict(labels, **{"io.kubernetes.container.name": "main"})})
    fx["sandboxes"].append({"id": "sb-" + uid, "metadata": {"name": name, "namespace": ns, "uid": uid},
                            "state": "SANDBOX_READY", "labels": labels})
    api.append({"metadata": {"name": name, "namespace": ns, "uid": uid},
                "spec": {"nodeName": "node-1", "serviceAccountName": "default", "containers": [{"name": "main"}]},
                "status": {"phase": "Running", "containerStatuses": [{"name": "main", "containerID": "containerd://" + cid}]}})
json.dump(fx, open(sys.argv[1], "w"))
json.dump(api, open(sys.argv[2], "w"))
PY
}

# The test's pods are letters X with uid_X and cid_X set, their cgroups under $pods
# (CG2/kubepods/besteffort, the kubelet's cgroupfs layout; $cg2 the cgroup2 mount).
# kube_cgroup X: the cgroup of pod X's container, $pods/pod$uid_X/$cid_X
kube_cgroup() { eval "echo \"\$pods/pod\$uid_$1/\$cid_$1\""; }
# kube_cgroups_make X...: make the containers' cgroups of pods X...
kube_cgroups_make() {
	local p
	for p in "$@"; do mkdir -p "$(kube_cgroup "$p")"; done
}
# kube_cgroups_drop X...: remove the cgroups of pods X... (those that are empty), then $pods and kubepods
kube_cgroups_drop() {
	local p c
	for p in "$@"; do
		c=$(kube_cgroup "$p")
		rmdir "$c" "${c%/*}" 2>/dev/null || true
	done
	rmdir "$pods" "$cg2/kubepods" 2>/dev/null || true
}
