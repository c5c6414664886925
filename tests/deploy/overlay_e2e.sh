#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# One rendered overlay run as the DaemonSet runs it: the ConfigMap's files, as the kubelet mounts
# them, at /etc/accelguard, the container's args and env, nothing rewritten. The peers answer at
# the paths and addresses the configuration names (its in-cluster defaults): a mount namespace of
# the test's own puts the kubelet's PodResources socket at /var/lib/kubelet/pod-resources, the
# runtime's at /run/containerd, the service account at /var/run/secrets/kubernetes.io/serviceaccount,
# an empty /run (the pod's emptyDir), a bpffs of its own at /sys/fs/bpf (enforce's pins), an
# empty journal hostPath at /var/log/accelguard, and /proc/devices and /proc/driver of a node
# with two NVIDIA GPUs; a network namespace of its own gives the pod's port 9464 and the API
# server (KUBERNETES_SERVICE_HOST/PORT, as the kubelet sets them).
# Then each use the README promises, checked on what happened: the violation's Event and the
# policy report (the API peer's store), the journal (`accelguard journal`), the self-test
# (`accelguard selftest`), an evidence bundle (`accelguard evidence`, verified), /metrics and
# /readyz; enforce: the violation denied, a container not resolved yet allowed (unresolved:
# allow). Then a restart (SIGTERM), a rollout (the next agent starts before the old one stops)
# and an OOM kill (SIGKILL): the pod stays `fail` with its count, the Event's series goes on.
# Usage: tests/deploy/overlay_e2e.sh BUILD/accelguard RENDERED.yaml OVERLAY   (root)
set -uo pipefail
if [ "${1:-}" != --inner ]; then
	agent=$(realpath "$1") rendered=$(realpath "$2") overlay=$3
	here=$(cd "$(dirname "$0")" && pwd)
	tmp=$(mktemp -d /tmp/ag-overlay.XXXXXX)
	chmod 0755 "$tmp"
	# mount points that a node has and this machine may not: made empty, removed after
	made=()
	for d in /etc/accelguard /var/lib/kubelet/pod-resources /var/log/accelguard; do
		if [ ! -d "$d" ]; then
			top=$d
			while [ ! -d "$(dirname "$top")" ]; do top=$(dirname "$top"); done
			mkdir -p "$d" && made+=("$top")
		fi
	done
	unshare --mount --net --propagation private "$0" --inner "$agent" "$rendered" "$overlay" "$tmp" "$here"
	rc=$?
	for d in "${made[@]}"; do find "$d" -depth -type d -empty -delete 2>/dev/null; done
	[ -n "${DEPLOY_KEEP:-}" ] || rm -rf "$tmp"
	exit $rc
fi
shift
agent=$1 rendered=$2 overlay=$3 tmp=$4 here=$5
PY=/usr/bin/python3
tap=deploy/$overlay/e2e
. "$here/../lib/tap.sh"
. "$here/../lib/agent.sh"
. "$here/../lib/peers.sh"
. "$here/../lib/nvnode.sh"
pids=()
cg2=$(cgroup2_mount)
pods=$cg2/kubepods/besteffort
hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
uid_a=$(cat /proc/sys/kernel/random/uuid) uid_b=$(cat /proc/sys/kernel/random/uuid) uid_u=$(cat /proc/sys/kernel/random/uuid)
cid_a=$(hex) cid_b=$(hex) cid_u=$(hex)
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	kube_cgroups_drop a b u
}
trap cleanup EXIT

# --- what the manifests give the container: the ConfigMap's files, the args, the env
$PY - "$rendered" "$tmp" <<'EOF' || { echo "not ok - deploy/$overlay/e2e: cannot read the rendered overlay"; exit 1; }
import json, os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
ds = [d for d in docs if d["kind"] == "DaemonSet"][0]
c = ds["spec"]["template"]["spec"]["containers"][0]
os.makedirs(sys.argv[2] + "/cm", exist_ok=True)
for k, v in cm["data"].items():
    open(os.path.join(sys.argv[2], "cm", k), "w").write(v)
json.dump({"args": c["args"], "env": [e["name"] for e in c.get("env", [])],
           "mounts": {m["name"]: m["mountPath"] for m in c["volumeMounts"]}},
          open(sys.argv[2] + "/pod.json", "w"))
EOF
mapfile -t args < <($PY -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["args"]))' "$tmp/pod.json")
cfgdir=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["mounts"]["config"])' "$tmp/pod.json")

# --- the node, as the pod sees it
ip link set lo up
# the ConfigMap volume as the kubelet lays it out: a timestamped directory, ..data, links; read-only
mount -t tmpfs -o mode=0755 cm "$cfgdir"
ts=..2026_12_07_00_00_00.000000001
mkdir "$cfgdir/$ts"
cp "$tmp"/cm/* "$cfgdir/$ts/"
chmod 0644 "$cfgdir/$ts"/*
ln -s "$ts" "$cfgdir/..data"
for f in "$tmp"/cm/*; do ln -s "..data/$(basename "$f")" "$cfgdir/$(basename "$f")"; done
mount -o remount,ro "$cfgdir"
mount -t tmpfs -o mode=0755 run /run # the pod's emptyDir; the runtime's and the kubelet's below
mkdir -p /run/containerd /run/secrets/kubernetes.io/serviceaccount /run/crio
mount -t tmpfs -o mode=0755 kubelet /var/lib/kubelet/pod-resources
mount -t tmpfs -o mode=0755 journal /var/log/accelguard
mount -t bpf bpf /sys/fs/bpf
nvidia_gpus_ab "$tmp/driver" "$tmp/dev" pcie
awk '{print} /^Character devices:/ {print "195 nvidia"; print "195 nvidiactl"}' /proc/devices >"$tmp/devices"
mount --bind "$tmp/devices" /proc/devices
mount --bind "$tmp/driver" /proc/driver

# --- the peers: kubelet and runtime (gRPC) at their sockets, the API server (HTTPS)
sa=/var/run/secrets/kubernetes.io/serviceaccount
echo "token-$(hex)" >"$sa/token"
echo accelguard >"$sa/namespace"
api_certs "$tmp" "$sa/ca.crt"
k8s_protos "$tmp/py"
k8s_pods "$tmp/fx.json" "$tmp/api-pods.json" "team-a train-a $uid_a $cid_a $gpu_a" "team-b web-b $uid_b $cid_b"
echo '[]' >"$tmp/claims.json"
echo '[]' >"$tmp/slices.json"
$PY "$here/../k8s/peers/grpc_peer.py" --fixture "$tmp/fx.json" \
	--podresources /var/lib/kubelet/pod-resources/kubelet.sock --cri /run/containerd/containerd.sock \
	--pyout "$tmp/py" --log "$tmp/grpc.log" 2>"$tmp/grpc.err" &
pids+=($!)
api_peer "$tmp" 0 "$sa/token" 2>"$tmp/api.err" &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/port" ] && [ -S /run/containerd/containerd.sock ] &&
	[ -S /var/lib/kubelet/pod-resources/kubelet.sock ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { nok peers "$(tail -3 "$tmp/api.err" "$tmp/grpc.err")"; summary; exit 1; }
kube_cgroups_make a b

# --- the agent, as the container runs it: the image's entrypoint with the DaemonSet's args
n_agent=0
agent_pid=""
start_agent() {
	n_agent=$((n_agent + 1))
	out=$tmp/stdout-$n_agent
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NODE_NAME=node-1 KUBERNETES_SERVICE_HOST=127.0.0.1 \
		KUBERNETES_SERVICE_PORT="$(cat "$tmp/port")" "$agent" "${args[@]}" >"$out" 2>"$tmp/stderr-$n_agent" &
	agent_pid=$!
	pids+=("$agent_pid")
	if ! agent_wait_ready "$out"; then
		nok "agent-$n_agent-ready" "$(tail -5 "$tmp/stderr-$n_agent")"
		return 1
	fi
	for _ in $(seq 200); do
		[ "$(grep -c '"type":"tenant".*"namespace":"team-' "$out")" -ge 2 ] && break
		sleep 0.05
	done
}
stop_agent() { # PID SIGNAL
	kill -"$2" "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
try_open() { # pod letter, device: the errno's text, or "ok"
	local cg
	cg=$(kube_cgroup "$1")
	sh -c 'echo $$ >"$1/cgroup.procs" && exec cat "$2" 2>&1 >/dev/null' sh "$cg" "$tmp/dev/$2" 2>&1 |
		sed -n 's/.*: \(No such device or address\|Operation not permitted\)$/\1/p'
}
store_wait() { # a Python expression over S (stored objects) and R(ns) (results of ns), 15 s
	$PY - "$tmp/store.json" "$1" <<'EOF'
import json, sys, time
end = time.time() + 15
while True:
    try:
        S = list(json.load(open(sys.argv[1]))["objects"].values())
    except (OSError, ValueError):
        S = []
    def R(ns):
        r = [o for o in S if o["kind"] in ("PolicyReport", "Report") and o["metadata"]["namespace"] == ns]
        return {x["resources"][0]["name"]: (x["result"], x["properties"]["violations"]) for x in r[0]["results"]} if r else None
    def E(pod):
        return [(o["reason"], o.get("series", {}).get("count", 1)) for o in S if o["kind"] == "Event" and o["regarding"]["name"] == pod]
    try:
        good = eval("(" + sys.argv[2] + ")")
    except Exception as e:
        good = False
    if good:
        sys.exit(0)
    if time.time() > end:
        print("timed out: %s; reports %s, Events %s" % (sys.argv[2], {n: R(n) for n in ("team-a", "team-b")}, E("web-b")))
        sys.exit(1)
    time.sleep(0.1)
EOF
}

mode=$(grep -ho '^mode: *[a-z]*' "$cfgdir"/*.yaml | tail -1 | awk '{print $2}')
start_agent || { summary; exit 1; }
grep -q "\"mode\":\"$overlay\"" "$tmp/stdout-1" && [ "$mode" = "$overlay" ] && ok "mode-$overlay" ||
	nok "mode-$overlay" "configured $mode; ready: $(grep -o '"mode":"[a-z]*"' "$tmp/stdout-1" | head -1)"
# web-b opens train-a's GPU three times; train-a its own
r=""
for _ in 1 2 3; do r="$r$(try_open b nvidia0)|"; done
own=$(try_open a nvidia0)
want="No such device or address"
[ "$overlay" = enforce ] && want="Operation not permitted"
[ "$r" = "$want|$want|$want|" ] && [ "$own" = "No such device or address" ] && ok "verdicts ($want for web-b, its own GPU for train-a)" ||
	nok verdicts "web-b: $r train-a: $own"
if [ "$overlay" = enforce ]; then
	# a container the kubelet and the runtime do not know yet (a new pod): allowed, flagged
	# (verdict unresolved, action observed)
	kube_cgroups_make u
	u=$(try_open u nvidia1)
	# the event reaches stdout through the ring buffer and the writer: wait for it (10 s)
	for _ in $(seq 100); do
		grep -q '"verdict":"unresolved","action":"observed"' "$tmp/stdout-1" && break
		sleep 0.1
	done
	[ "$u" = "No such device or address" ] && grep -q '"verdict":"unresolved","action":"observed"' "$tmp/stdout-1" &&
		ok "unresolved-allowed" || nok "unresolved-allowed" "open: '$u'; $(grep '"verdict":"unresolved"' "$tmp/stdout-1" | head -1 | cut -c1-200)"
	rmdir "$pods/pod$uid_u/$cid_u" "$pods/pod$uid_u"
fi
check_run events-and-report store_wait 'R("team-b") == {"web-b": ("fail", "3")} and R("team-a") == {"train-a": ("pass", "0")} and
	len(E("web-b")) == 1 and E("web-b")[0][1] == 3'
# the journal, where the DaemonSet keeps it (the configuration's journal.dir)
jdir=$(grep -h '^ *dir:' "$cfgdir"/*.yaml | tail -1 | awk '{print $2}')
sleep 1.2 # flush_ms
"$agent" journal --dir "$jdir" >"$tmp/journal.out" 2>"$tmp/journal.err"
nj=$(grep -c "\"type\":\"access\".*\"name\":\"web-b\"" "$tmp/journal.out")
[ "$nj" = 3 ] && ok "journal (3 accesses of web-b in $jdir)" || nok journal "$nj accesses of web-b: $(tail -2 "$tmp/journal.err")"
# the self-test, against the running agent, with the DaemonSet's configuration
if "$agent" selftest --config "$cfgdir" --json >"$tmp/selftest.json" 2>"$tmp/selftest.err"; then
	ok "selftest ($(grep -o '"passed":[0-9]*' "$tmp/selftest.json" | head -1))"
else
	why=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print([(c["name"], c["expected"], c["got"]) for c in r["checks"] if c["result"] != "pass"])' "$tmp/selftest.json" 2>&1 | cut -c1-600)
	# the agent judged right and only the kernel's errno differs (EPERM in audit): another
	# agent of this machine, in enforce mode, judges the self-test's cgroups too
	others=$(pgrep -f 'accelguard run' | grep -vx "$agent_pid" | wc -l)
	if [ "$overlay" = audit ] && [ "$others" -gt 0 ] && $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); bad=[c for c in r["checks"] if c["result"] != "pass"]; sys.exit(0 if bad and all(c["got"]["verdict"] == c["expected"]["verdict"] and c["got"]["action"] == c["expected"]["action"] and c["got"]["errno"] == "EPERM" for c in bad) else 1)' "$tmp/selftest.json"; then
		echo "skip - deploy/$overlay/e2e/selftest: verdicts right, EPERM from one of the $others other agents of this machine: $why"
	else nok selftest "$(tail -3 "$tmp/selftest.err") $why"; fi
fi
# an evidence bundle of the journal, verified
"$agent" evidence --config "$cfgdir" --out "$tmp/bundle" >"$tmp/evidence.out" 2>&1
erc=$?
if [ -s "$tmp/bundle/manifest.json" ] && "$agent" evidence verify "$tmp/bundle" >>"$tmp/evidence.out" 2>&1 &&
	grep -q '"selftest"' "$tmp/bundle/journal.jsonl"; then
	ok "evidence (exit $erc, verified, the self-test in it)"
else nok evidence "exit $erc: $(tail -3 "$tmp/evidence.out")"; fi
# the pod's port: /metrics and /readyz
if curl -sf http://127.0.0.1:9464/metrics >"$tmp/metrics" && curl -sf http://127.0.0.1:9464/readyz >/dev/null &&
	grep -q '^accelguard_' "$tmp/metrics"; then ok "metrics-and-readyz (0.0.0.0:9464)"
else nok metrics-and-readyz "$(head -3 "$tmp/metrics" 2>/dev/null)"; fi
grep -q '"type":"access"' "$tmp/stdout-1" && ok "events-on-stdout (the container log)" || nok events-on-stdout "no access event"

# --- a restart (SIGTERM, then a new agent): the pod stays fail with its count
first=$agent_pid
stop_agent "$first" TERM
start_agent
check_run restart-keeps-fail store_wait 'R("team-b") == {"web-b": ("fail", "3")}'
try_open b nvidia0 >/dev/null
check_run restart-counts-on store_wait 'R("team-b") == {"web-b": ("fail", "4")}'
# --- a rollout: the next agent starts while this one runs; one violation while both run
old=$agent_pid
start_agent
try_open b nvidia0 >/dev/null
sleep 1.5
stop_agent "$old" TERM
try_open b nvidia0 >/dev/null
check_run rollout-keeps-count store_wait 'R("team-b") == {"web-b": ("fail", "6")}'
# --- an OOM kill: nothing drained; the next agent reads the report (what the killed one had
# not written yet, at most its last second, is in the journal only: the kill comes after)
check_run rollout-event-series store_wait 'len(E("web-b")) == 1 and 6 <= E("web-b")[0][1] <= 7'
stop_agent "$agent_pid" KILL
rv_before=$($PY -c 'import json,sys; S=json.load(open(sys.argv[1]))["objects"]; print(max(int(o["metadata"]["resourceVersion"]) for o in S.values()))' "$tmp/store.json")
start_agent
try_open a nvidia0 >/dev/null
check_run oom-kill-keeps-fail store_wait 'R("team-b") == {"web-b": ("fail", "6")} and R("team-a") == {"train-a": ("pass", "0")} and
	max(int(o["metadata"]["resourceVersion"]) for o in S if o["kind"] in ("PolicyReport", "Report")) > '"$rv_before"
try_open b nvidia0 >/dev/null
check_run oom-kill-counts-on store_wait 'R("team-b") == {"web-b": ("fail", "7")}'
# the Event's series went on through every agent: one Event, no violation missing from its
# count (7; while two agents run, each writes what it saw: one more at most)
check_run event-series-goes-on store_wait 'len(E("web-b")) == 1 and 7 <= E("web-b")[0][1] <= 8'
stop_agent "$agent_pid" TERM
if [ "$fail" != 0 ]; then
	for f in "$tmp"/stderr-*; do echo "# $f:"; tail -6 "$f" | sed 's/^/#   /'; done
	tail -8 "$tmp/api.log" | sed 's/^/#   api: /'
fi
summary
