#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs tests/k8s/k8s_test against the peers it starts (gRPC servers for PodResources and the CRI,
# an HTTPS Kubernetes API), then checks the log lines the scenarios must leave.
# Usage: tests/k8s/run.sh BUILD/tests/k8s/k8s_test
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
. "$here/../lib/peers.sh"
tmp=$(mktemp -d /tmp/ag-k8s-test.XXXXXX)
[ -n "${K8S_KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT

for m in grpc google.protobuf; do
	if ! $PY -c "import $m" 2>/dev/null; then
		echo "skip - k8s-check/k8s_test: $PY lacks $m (tools/deps.sh k8s installs python3-grpcio, python3-protobuf)"
		echo "k8s-check: 0 passed, 0 failed, 1 skipped"
		exit 0
	fi
done
# Python message classes for the peers, from the same .proto files as the C code
k8s_protos "$tmp/py"
$PY "$here/mkfixtures.py" "$tmp/fx"
# The CDI specs from a copy that only root writes: the source skips a spec that others can write
# (a checkout made with umask 002 has group-writable files and directories).
cp -r "$here/fixtures/cdi" "$tmp/cdi"
chmod -R go-w "$tmp/cdi"
# ... and one that is writable by all, sorted first in /var/run/cdi: were it believed, it would
# give the DRA claim device 195:7 instead of 195:2 (the first of a directory is kept), and
# test_dra_claim would fail
cat >"$tmp/cdi/run/0-writable.yaml" <<'EOF'
cdiVersion: 0.6.0
kind: k8s.gpu.nvidia.com/claim
devices:
  - name: 0c1a1000-0000-4000-8000-000000000002-gpu-2
    containerEdits:
      deviceNodes:
        - {path: /dev/nvidia7, major: 195, minor: 7}
EOF
chmod 0666 "$tmp/cdi/run/0-writable.yaml"

# an own CA and a server certificate for the HTTPS peer
api_certs "$tmp" "$tmp/ca.crt"

set +e
K8S_TEST_TMP="$tmp" K8S_TEST_REPO="$repo" "$bin" 2>"$tmp/log"
rc=$?
set -e
sed 's/^/    log: /' "$tmp/log" >"$tmp/log.indented"
if [ "$rc" != 0 ]; then
	cat "$tmp/log.indented"
	echo "k8s-check: k8s_test failed (exit $rc)"
	echo "k8s-check: $(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$tmp/log" | tail -1) passed, $rc failed"
	exit 1
fi

# The log lines the scenarios must leave: what a person reading the agent's log would look for.
fail=0
expect() {
	if ! grep -qE -- "$1" "$tmp/log"; then
		echo "k8s-check: missing log line /$1/ ($2)"
		fail=1
	fi
}
expect 'cdi: .*broken.yaml: line [0-9]+' "a broken CDI spec names its file and line"
expect 'cdi: .*/0-writable.yaml: skipped: writable by group and others \(mode 0666\): anyone who can write it can change which devices a CDI name stands for; chmod go-w it' "a CDI spec that others can write is skipped, naming the file"
expect 'devmap: device plugin nvidia.com/gpu id GPU-deadbeef.* maps to no device number' "unmapped id"
expect 'kubelet PodResources at .*: grpc .* socket absent|kubelet PodResources at .*Couldn.t connect' "kubelet down"
expect 'kubelet PodResources at .* is reachable again after' "kubelet back"
expect 'do not decode as v1.ListPodResourcesResponse' "malformed PodResources answer"
expect 'grpc-status 13 \(INTERNAL\): podresources: test fault' "gRPC error status"
expect 'CRI at .*do not decode as runtime.v1.ListContainersResponse' "malformed CRI answer"
expect 'API https://127.0.0.1:[0-9]+: reachable; watching the pods of node node-a' "API watch started"
expect 'resourceVersion [0-9]+ expired \(410 Gone\): relisting' "410 in the watch stream"
expect 'API https://.*watch=1.*: 410 Gone: relisting|HTTP 410' "410 answer to a watch request"
expect 'watch event refused \(not JSON' "malformed watch event"
expect 'API https://127.0.0.1:[0-9]+/api/v1/pods.*(Couldn.t connect|Connection refused)' "API server down"
expect 'API https://127.0.0.1:[0-9]+: reachable again' "API server back"
if ! grep -q 'watch resumed from bookmark' "$tmp/api-peer.log"; then
	echo "k8s-check: no watch resumed from a bookmark's resourceVersion"
	fail=1
fi
if [ "$fail" != 0 ]; then
	cat "$tmp/log.indented"
	sed 's/^/    api-peer: /' "$tmp/api-peer.log" | tail -40
	exit 1
fi
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$tmp/log" | tail -1)
echo "k8s-check: log lines as expected"
echo "k8s-check: ${passed:-0} passed, 0 failed"
