#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# End to end: the real agent with a kubernetes: section, a real gRPC kubelet (PodResources) and
# container runtime (CRI) served by tests/k8s/peers/grpc_peer.py, NVIDIA procfs from a fixture
# tree, kubelet-shaped cgroups (cgroupfs driver) and real opens from inside them, in enforce mode.
# Asserts errno, verdicts and the pod/container identity on the events, and that a container
# the kubelet did not know yet is first "unresolved" (denied: the configuration says
# "unresolved: deny") and re-judged once it is.
# Usage: tests/k8s/e2e.sh BUILD/accelguard   (root)
set -euo pipefail
agent=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
tap=k8s-e2e
. "$here/../lib/tap.sh"
. "$here/../lib/agent.sh"
. "$here/../lib/peers.sh"
. "$here/../lib/nvnode.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
for m in grpc google.protobuf; do
	$PY -c "import $m" 2>/dev/null || give_up "$PY lacks $m (tools/deps.sh k8s)"
done
cg2=$(cgroup2_mount)
tmp=$(mktemp -d /tmp/ag-k8s-e2e.XXXXXX)
uid_a=$(cat /proc/sys/kernel/random/uuid) uid_b=$(cat /proc/sys/kernel/random/uuid)
uid_c=$(cat /proc/sys/kernel/random/uuid) uid_l=$(cat /proc/sys/kernel/random/uuid)
uid_p=$(cat /proc/sys/kernel/random/uuid)
hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
cid_a=$(hex) cid_b=$(hex) cid_c=$(hex) cid_l=$(hex) cid_p=$(hex)
pods=$cg2/kubepods/besteffort
peer=""
agent_pid=""
holder=""
pins=/sys/fs/bpf/accelguard-e2e-$$ # enforce mode pins here; removed at the end
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
	[ -n "$agent_pid" ] && wait "$agent_pid" 2>/dev/null || true
	"$agent" uninstall --pin-dir "$pins" >/dev/null 2>&1 || true
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null || true
	[ -n "$peer" ] && kill "$peer" 2>/dev/null || true
	kube_cgroups_drop a b c l p
	[ -n "${K8S_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# --- the node: procfs of two GPUs, device nodes, cgroups of three running containers
nvidia_gpus_ab "$tmp/proc/driver" "$tmp/dev" full
nvidia_proc_devices "$tmp/proc/devices" uvm
mknod "$tmp/dev/nvidiactl" c 195 255
mknod "$tmp/dev/nvidia-uvm" c 508 0
# p: a container that ran before the agent and that the peers do not know yet (issue 10: never
# denied for being unresolved, whatever "unresolved:" says)
kube_cgroups_make a b c p

# --- the kubelet and the runtime
k8s_protos "$tmp/py"
fixture() { # $1: "late" to include the late pod
	$PY - "$1" >"$tmp/fx.json.new" <<EOF
import json, sys
late = sys.argv[1] == "late"
def gpu(i): return [{"resource_name": "nvidia.com/gpu", "device_ids": [i]}]
pods = [("team-a", "train-a", "$uid_a", "$cid_a", gpu("$gpu_a")),
        ("team-b", "train-b", "$uid_b", "$cid_b", gpu("$gpu_b" + "::3")),
        ("team-c", "web", "$uid_c", "$cid_c", [])]
if late: pods.append(("team-l", "late", "$uid_l", "$cid_l", []))
if late: pods.append(("team-p", "old", "$uid_p", "$cid_p", []))
fx = {"pods": [], "containers": [], "sandboxes": []}
for ns, name, uid, cid, devs in pods:
    fx["pods"].append({"name": name, "namespace": ns, "containers": [{"name": "main", "devices": devs}]})
    labels = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": ns,
              "io.kubernetes.pod.uid": uid}
    fx["containers"].append({"id": cid, "pod_sandbox_id": "sb-" + uid, "metadata": {"name": "main"},
                             "state": "CONTAINER_RUNNING",
                             "labels": dict(labels, **{"io.kubernetes.container.name": "main"})})
    fx["sandboxes"].append({"id": "sb-" + uid, "metadata": {"name": name, "namespace": ns, "uid": uid},
                            "state": "SANDBOX_READY", "labels": labels})
print(json.dumps(fx))
EOF
	mv "$tmp/fx.json.new" "$tmp/fx.json"
}
fixture early
$PY "$here/peers/grpc_peer.py" --fixture "$tmp/fx.json" --podresources "$tmp/kubelet.sock" \
	--cri "$tmp/cri.sock" --pyout "$tmp/py" --log "$tmp/peer.log" 2>"$tmp/peer.err" &
peer=$!
for _ in $(seq 100); do [ -S "$tmp/kubelet.sock" ] && [ -S "$tmp/cri.sock" ] && break; sleep 0.05; done

cat >"$tmp/config.yaml" <<EOF
mode: enforce
unresolved: deny
kubernetes:
  node_name: node-1
  podresources_socket: $tmp/kubelet.sock
  cri_socket: $tmp/cri.sock
  api_server: "off"
host:
  proc: $tmp/proc
  cdi_dirs: [$tmp/cdi]
devices:                 # /dev/full: a node that really opens, to be held across the start
  - class: test-acc
    major: 1
    minor: 7
EOF
# the container that ran before the agent holds a descriptor open since then
sh -c 'echo $$ >"$1/cgroup.procs" && exec 3</dev/full && exec sleep 1000' sh "$pods/pod$uid_p/$cid_p" &
holder=$!
for _ in $(seq 100); do [ -e "/proc/$holder/fd/3" ] && break; sleep 0.02; done
ev=$tmp/events.jsonl
"$agent" run --config "$tmp/config.yaml" --events "$ev" --pin-dir "$pins" 2>"$tmp/agent.log" &
agent_pid=$!
agent_wait_ready "$ev" || { nok ready "agent not ready: $(tail -5 "$tmp/agent.log")"; summary; exit 1; }
# until the peers have answered, the containers are unresolved: wait for the source's first
# lists (then its notification and the agent's refresh)
for _ in $(seq 200); do
	grep -q '^List$' "$tmp/peer.log" 2>/dev/null && grep -q '^ListContainers$' "$tmp/peer.log" && break
	sleep 0.05
done
# the agent's refresh after the lists: AG_E2E_SETTLE seconds (longer under SANITIZE=1, where the
# agent runs several times slower)
sleep "${AG_E2E_SETTLE:-0.5}"

# open DEVICE from the container cgroup CG; prints the errno name the kernel gave
try_open() {
	sh -c 'echo $$ >"$1/cgroup.procs" && exec cat "$2" 2>&1 >/dev/null' sh "$1" "$2" 2>&1 |
		sed -n 's/.*: \(No such device or address\|Operation not permitted\)$/\1/p' || true
}
declare -A got
got[a0]=$(try_open "$pods/pod$uid_a/$cid_a" "$tmp/dev/nvidia0")
got[a1]=$(try_open "$pods/pod$uid_a/$cid_a" "$tmp/dev/nvidia1")
got[actl]=$(try_open "$pods/pod$uid_a/$cid_a" "$tmp/dev/nvidiactl")
got[auvm]=$(try_open "$pods/pod$uid_a/$cid_a" "$tmp/dev/nvidia-uvm")
got[b1]=$(try_open "$pods/pod$uid_b/$cid_b" "$tmp/dev/nvidia1")
got[b0]=$(try_open "$pods/pod$uid_b/$cid_b" "$tmp/dev/nvidia0")
got[c0]=$(try_open "$pods/pod$uid_c/$cid_c" "$tmp/dev/nvidia0")
got[cctl]=$(try_open "$pods/pod$uid_c/$cid_c" "$tmp/dev/nvidiactl")
# a container the kubelet and the runtime do not know yet
mkdir -p "$pods/pod$uid_l/$cid_l"
got[l0]=$(try_open "$pods/pod$uid_l/$cid_l" "$tmp/dev/nvidia0")
got[p0]=$(try_open "$pods/pod$uid_p/$cid_p" "$tmp/dev/nvidia0")
fixture late
for _ in $(seq 200); do [ "$(grep -c '"rejudged":true' "$ev")" -ge 3 ] && break; sleep 0.05; done
sleep 0.2
kill -TERM "$agent_pid"; rc=0; wait "$agent_pid" || rc=$?
[ "$rc" = 0 ] || nok agent-exit "the agent exited $rc: $(tail -3 "$tmp/agent.log")"
agent_pid=""

want() { # key, expected errno text, name
	if [ "${got[$1]}" = "$2" ]; then ok "$3 errno"; else nok "$3 errno" "got '${got[$1]}', expected '$2'"; fi
}
ENXIO="No such device or address" EPERM="Operation not permitted"
want a0 "$ENXIO" "own-gpu"
want a1 "$EPERM" "other-pods-gpu"
want actl "$ENXIO" "control-node-with-gpu"
want auvm "$ENXIO" "uvm-with-gpu"
want b1 "$ENXIO" "time-sliced-replica"
want b0 "$EPERM" "replica-pod-other-gpu"
want c0 "$EPERM" "no-gpu-pod"
want cctl "$EPERM" "no-gpu-pod-control-node"
want l0 "$EPERM" "unknown-container-denied"
want p0 "$ENXIO" "preexisting-unknown-container-not-denied"

# the events: verdict and identity per (container, device)
$PY - "$ev" "$cg2" >"$tmp/checks" 2>&1 <<EOF || echo "not ok - k8s-e2e/events: the checker failed" >>"$tmp/checks"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
acc = [e for e in evs if e["type"] == "access" and e["op"] == "open"]
def find(cid, minor, major=195, rejudged=False):
    for e in acc:
        if (e["cgroup"]["path"].endswith("/" + cid) and e["device"]["minor"] == minor
                and e["device"]["major"] == major and bool(e.get("rejudged")) == rejudged):
            return e
cases = [("own-gpu", "$cid_a", 0, 195, "allowed", "observed", "team-a", "train-a", "$uid_a"),
         ("other-pods-gpu", "$cid_a", 1, 195, "cross_tenant", "denied", "team-a", "train-a", "$uid_a"),
         ("control-node-with-gpu", "$cid_a", 255, 195, "allowed", "observed", "team-a", "train-a", "$uid_a"),
         ("uvm-with-gpu", "$cid_a", 0, 508, "allowed", "observed", "team-a", "train-a", "$uid_a"),
         ("time-sliced-replica", "$cid_b", 1, 195, "allowed", "observed", "team-b", "train-b", "$uid_b"),
         ("no-gpu-pod", "$cid_c", 0, 195, "cross_tenant", "denied", "team-c", "web", "$uid_c"),
         ("no-gpu-pod-control-node", "$cid_c", 255, 195, "unmediated", "denied", "team-c", "web", "$uid_c")]
for name, cid, minor, major, verdict, action, ns, pod, uid in cases:
    e = find(cid, minor, major)
    if not e:
        print("not ok - k8s-e2e/%s event: none" % name); continue
    got = (e["verdict"], e["action"], e.get("pod", {}).get("namespace"), e.get("pod", {}).get("name"),
           e.get("pod", {}).get("uid"), e.get("container", {}).get("name"), e.get("container", {}).get("id"))
    exp = (verdict, action, ns, pod, uid, "main", cid)
    print(("ok - k8s-e2e/%s event" % name) if got == exp else
          "not ok - k8s-e2e/%s event: got %s, expected %s" % (name, got, exp))
first, later = find("$cid_l", 0), find("$cid_l", 0, rejudged=True)
if not first:
    print("not ok - k8s-e2e/unknown-container event: none")
elif (first["verdict"], first["action"]) != ("unresolved", "denied"):
    print("not ok - k8s-e2e/unknown-container event: %s, %s; expected unresolved, denied (unresolved: deny)"
          % (first["verdict"], first["action"]))
elif not later or later["verdict"] != "cross_tenant" or later.get("pod", {}).get("name") != "late":
    print("not ok - k8s-e2e/unknown-container rejudged: %s" % later)
else:
    print("ok - k8s-e2e/unknown-container unresolved, then rejudged cross_tenant")
first, later = find("$cid_p", 0), find("$cid_p", 0, rejudged=True)
if not first or (first["verdict"], first["action"]) != ("unresolved", "observed"):
    print("not ok - k8s-e2e/preexisting-unknown-container event: %s; expected unresolved, observed" % first)
elif not later or later["verdict"] != "cross_tenant" or later.get("pod", {}).get("name") != "old":
    print("not ok - k8s-e2e/preexisting-unknown-container rejudged: %s" % later)
else:
    print("ok - k8s-e2e/preexisting-unknown-container unresolved and observed, then rejudged cross_tenant")
held = [e for e in evs if e["type"] == "access" and e.get("hook") == "scan" and e["process"]["pid"] == $holder]
first = [e for e in held if not e.get("rejudged")]
later = [e for e in held if e.get("rejudged")]
if not first or first[0]["verdict"] != "unresolved" or first[0]["process"].get("fd") != 3:
    print("not ok - k8s-e2e/held-descriptor scanned: %s; expected unresolved, fd 3" % first)
elif not later or later[0]["verdict"] != "unmediated" or later[0].get("pod", {}).get("name") != "old":
    print("not ok - k8s-e2e/held-descriptor rejudged: %s; expected unmediated for team-p/old" % later)
else:
    print("ok - k8s-e2e/held-descriptor scanned unresolved, re-judged unmediated with pod identity")
s = [e for e in evs if e["type"] == "summary"][0]
k = s.get("kubernetes", {})
print(("ok - k8s-e2e/summary" if k.get("podresources_up") and k.get("cri_up") and k.get("resolved", 0) >= 1
       else "not ok - k8s-e2e/summary: %s" % k))
EOF
tap_lines "$tmp/checks"
[ "$fail" = 0 ] || { echo "# agent log:"; tail -20 "$tmp/agent.log" | sed 's/^/#   /'; }
summary
