#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Kubernetes Events and policy reports end to end: the real agent (kubernetes.events: on,
# kubernetes.reports: wgpolicyk8s | openreports) with the gRPC kubelet/runtime peer and the HTTPS
# API peer (tests/k8s/peers/api_peer.py), kubelet-shaped cgroups and real opens from inside them.
# Asserts what the API peer stored (the Events' reason, type, regarding, note, series.count; the
# reports' result per pod, a pod that went away losing its result) and the refusals: 403 (logged
# once, paused, the agent goes on denying), 409 on a report's PUT (read again, retried), 429 with
# Retry-After (honoured), and an API server that goes away and comes back.
# Then a flood straight into the Events sink (BUILD/tests/k8s/report_flood): the queue's bound,
# the per-node and per-pod token buckets, checked on what the peer received.
# Usage: tests/k8s/report_e2e.sh BUILD/accelguard [BUILD/tests/k8s/report_flood]   (root)
set -euo pipefail
agent=$(realpath "$1")
flood=${2:+$(realpath "$2")}
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
tap=k8s-report
. "$here/../lib/tap.sh"
. "$here/../lib/agent.sh"
. "$here/../lib/peers.sh"
. "$here/../lib/nvnode.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
for m in grpc google.protobuf; do
	$PY -c "import $m" 2>/dev/null || give_up "$PY lacks $m (tools/deps.sh k8s)"
done
command -v openssl >/dev/null || give_up "no openssl"
cg2=$(cgroup2_mount)
tmp=$(mktemp -d /tmp/ag-k8s-report.XXXXXX)
uid_a=$(cat /proc/sys/kernel/random/uuid) uid_b=$(cat /proc/sys/kernel/random/uuid)
uid_c=$(cat /proc/sys/kernel/random/uuid) uid_d=$(cat /proc/sys/kernel/random/uuid)
hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
cid_a=$(hex) cid_b=$(hex) cid_c=$(hex) cid_d=$(hex)
pods=$cg2/kubepods/besteffort
grpc=""
api=""
agent_pid=""
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
	[ -n "$api" ] && kill "$api" 2>/dev/null || true
	[ -n "$grpc" ] && kill "$grpc" 2>/dev/null || true
	kube_cgroups_drop a b c d
	[ -n "${K8S_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# --- the node: procfs of two GPUs, device nodes
nvidia_gpus_ab "$tmp/proc/driver" "$tmp/dev" pcie
nvidia_proc_devices "$tmp/proc/devices" uvm
mknod "$tmp/dev/nvidiactl" c 195 255

# --- the kubelet and the runtime (gRPC), the API server (HTTPS)
k8s_protos "$tmp/py"
k8s_pods "$tmp/fx.json" "$tmp/api-pods.json" "team-a train-a $uid_a $cid_a $gpu_a" \
	"team-b train-b $uid_b $cid_b $gpu_b" "team-c web $uid_c $cid_c" "team-d monitor $uid_d $cid_d"
echo '[]' >"$tmp/claims.json"
echo '[]' >"$tmp/slices.json"
echo "token-$(hex)" >"$tmp/token"
api_certs "$tmp" "$tmp/ca.crt"

# what the API server holds from before: this node's report in a namespace whose pods went while
# no agent ran (to be deleted), and another node's (to be left alone)
$PY - "$tmp/store.json" <<'EOF'
import json, sys
def rep(ns, node):
    return {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
            "metadata": {"name": "accelguard-" + node, "namespace": ns, "resourceVersion": "10",
                         "labels": {"app.kubernetes.io/managed-by": "accelguard", "accelguard.io/node": node}},
            "summary": {"pass": 1, "fail": 0, "warn": 0, "error": 0, "skip": 0},
            "results": [{"policy": "secure_accelerator_access", "result": "pass", "timestamp": {"seconds": 1, "nanos": 0},
                         "resources": [{"apiVersion": "v1", "kind": "Pod", "namespace": ns, "name": "gone"}]}]}
objs = {"wgpolicyk8s.io|policyreports|team-old|accelguard-node-1": rep("team-old", "node-1"),
        "wgpolicyk8s.io|policyreports|team-x|accelguard-node-2": rep("team-x", "node-2")}
json.dump({"rv": 100, "objects": objs}, open(sys.argv[1], "w"))
EOF
$PY "$here/peers/grpc_peer.py" --fixture "$tmp/fx.json" --podresources "$tmp/kubelet.sock" \
	--cri "$tmp/cri.sock" --pyout "$tmp/py" --log "$tmp/grpc.log" 2>"$tmp/grpc.err" &
grpc=$!
port=0
start_api() { # on $port (0: any; the first start chooses it)
	rm -f "$tmp/port"
	api_peer "$tmp" "$port" "$tmp/token" 2>>"$tmp/api.err" &
	api=$!
	for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	port=$(cat "$tmp/port")
}
stop_api() { sleep 0.2; kill "$api"; wait "$api" 2>/dev/null || true; api=""; }
start_api
for _ in $(seq 100); do [ -S "$tmp/kubelet.sock" ] && [ -S "$tmp/cri.sock" ] && break; sleep 0.05; done

fault() { # write a fault for the API peer and wait until it took it
	echo "$1" >"$tmp/fault.new"
	mv "$tmp/fault.new" "$tmp/fault" # whole: the peer polls for it
	for _ in $(seq 100); do [ -e "$tmp/fault" ] || return 0; sleep 0.05; done
	echo "# the API peer did not take the fault $1"
}

# --- one run of the agent
run_agent() { # mode, reports[, more configuration]
	cat >"$tmp/config.yaml" <<EOF
mode: $1
${3:-}
kubernetes:
  node_name: node-1
  podresources_socket: $tmp/kubelet.sock
  cri_socket: $tmp/cri.sock
  api_server: https://127.0.0.1:$port
  token_file: $tmp/token
  ca_file: $tmp/ca.crt
  events: on
  reports: $2
host:
  proc: $tmp/proc
  cdi_dirs: [$tmp/cdi]
EOF
	kube_cgroups_make a b c d
	ev=$tmp/events-$1-$2.jsonl
	: >"$tmp/grpc.log"
	"$agent" run --config "$tmp/config.yaml" --events "$ev" 2>"$tmp/agent-$1-$2.log" &
	agent_pid=$!
	agent_wait_ready "$ev" || { nok "$1-ready" "$(tail -5 "$tmp/agent-$1-$2.log")"; return 1; }
	# every container resolved (the tenant events with the pod's identity)
	for _ in $(seq 200); do
		[ "$(grep -c "\"event\":\"\(resolved\|present\)\".*\"namespace\":\"team-" "$ev" || true)" -ge 4 ] && break
		sleep 0.05
	done
}
stop_agent() {
	kill -TERM "$agent_pid"
	local rc=0
	wait "$agent_pid" || rc=$?
	agent_pid=""
	[ "$rc" = 0 ] || nok agent-exit "the agent exited $rc"
}
# open DEVICE from the container cgroup CG; prints the errno name the kernel gave, or "ok"
try_open() {
	sh -c 'echo $$ >"$1/cgroup.procs" && exec cat "$2" 2>&1 >/dev/null' sh "$1" "$2" 2>&1 |
		sed -n 's/.*: \(No such device or address\|Operation not permitted\)$/\1/p' || true
}
in_pod() { try_open "$pods/pod$(eval echo \$uid_$1)/$(eval echo \$cid_$1)" "$tmp/dev/$2"; }
drop_pod() {
	eval "rmdir \"$pods/pod\$uid_$1/\$cid_$1\" \"$pods/pod\$uid_$1\""
}
# wait until the store satisfies a Python expression over S (the stored objects), 15 s at most
store_wait() {
	$PY - "$tmp/store.json" "$1" <<'EOF'
import json, sys, time
end = time.time() + 15
while True:
    try:
        S = list(json.load(open(sys.argv[1]))["objects"].values())
    except (OSError, ValueError):
        S = []
    if eval("(" + sys.argv[2] + ")"):
        sys.exit(0)
    if time.time() > end:
        print("timed out waiting for: %s" % sys.argv[2])
        sys.exit(1)
    time.sleep(0.1)
EOF
}
# a Python check over the store (S), the uids and the node: prints "ok - ..."/"not ok - ..."
store_check() { # name, expression that is true when right, expression to show when wrong
	$PY - "$tmp/store.json" "$1" "$2" "$3" "$uid_a" "$uid_b" "$uid_c" <<'EOF' >>"$tmp/checks"
import json, sys
S = list(json.load(open(sys.argv[1]))["objects"].values())
ua, ub, uc = sys.argv[5:8]
def events(pod=None, reason=None):
    return [o for o in S if o["kind"] == "Event" and (pod is None or o["regarding"]["name"] == pod)
            and (reason is None or o["reason"] == reason)]
def report(ns, kind):
    r = [o for o in S if o["kind"] == kind and o["metadata"]["namespace"] == ns]
    return r[0] if r else None
def results(ns, kind):
    r = report(ns, kind)
    return {x["resources"][0]["name"]: x["result"] for x in r["results"]} if r else None
try:
    good = eval(sys.argv[3])
    shown = None if good else eval(sys.argv[4])
except Exception as e:
    good, shown = False, repr(e)
print(("ok - k8s-report/%s" % sys.argv[2]) if good else "not ok - k8s-report/%s: %s" % (sys.argv[2], shown))
EOF
}
: >"$tmp/checks"
summary_says() { # a Python expression over the last summary's kubernetes_events (E) and _reports (R)
	$PY - "$ev" "$1" <<'EOF'
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"type":"summary"' in l][-1]
E, R = s.get("kubernetes_events", {}), s.get("kubernetes_reports", {})
print("summary: events %s, reports %s" % (E, R))
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# === bad configurations: refused at start, naming what is missing
printf 'kubernetes:\n  node_name: node-1\n  api_server: "off"\n  cri_socket: "off"\n  podresources_socket: "off"\n  events: on\n' >"$tmp/bad1.yaml"
printf 'kubernetes:\n  api_server: https://127.0.0.1:%s\n  cri_socket: "off"\n  podresources_socket: "off"\n  reports: openreports\n' "$port" >"$tmp/bad2.yaml"
for b in "bad1:kubernetes.events: no API server" "bad2:kubernetes.reports: no node name"; do
	rc=0
	env -u NODE_NAME -u KUBERNETES_SERVICE_HOST timeout 30 "$agent" run --config "$tmp/${b%%:*}.yaml" \
		--events /dev/null --duration 1 2>"$tmp/${b%%:*}.log" || rc=$?
	if [ "$rc" != 0 ] && grep -q "error: ${b#*:}" "$tmp/${b%%:*}.log"; then ok "refused-${b%%:*}"
	else nok "refused-${b%%:*}" "exit $rc: $(tail -1 "$tmp/${b%%:*}.log")"; fi
done

# === run 1: audit, wgpolicyk8s: reasons, series, reports, a pod that goes away
run_agent audit wgpolicyk8s "exempt: [{namespace: team-d}]"
in_pod a nvidia0 >/dev/null # its own GPU: no Event
for _ in 1 2 3 4 5; do in_pod a nvidia1 >/dev/null; done
in_pod c nvidiactl >/dev/null
store_wait 'any(o["kind"] == "Event" and o.get("series", {}).get("count") == 5 for o in S) and
            any(o["kind"] == "Event" and o["reason"] == "UnmediatedAcceleratorAccess" for o in S) and
            all(any(o["kind"] == "PolicyReport" and o["metadata"]["namespace"] == n for o in S)
                for n in ("team-a", "team-b", "team-c", "team-d")) and
            any(o["kind"] == "PolicyReport" and o["metadata"]["namespace"] == "team-c" and
                o["summary"]["fail"] == 1 for o in S)' || true
store_check "event-cross-tenant" \
	'len(events("train-a")) == 1 and events("train-a")[0]["reason"] == "CrossTenantAcceleratorAccess" and events("train-a")[0]["type"] == "Warning" and events("train-a")[0]["action"] == "Observed"' \
	'[(e["reason"], e["type"], e["action"]) for e in events("train-a")]'
store_check "event-regarding-pod" \
	'events("train-a")[0]["regarding"] == {"apiVersion": "v1", "kind": "Pod", "namespace": "team-a", "name": "train-a", "uid": ua} and events("train-a")[0]["metadata"]["namespace"] == "team-a"' \
	'events("train-a")[0]["regarding"]'
store_check "event-series-count-5" \
	'events("train-a")[0]["series"]["count"] == 5 and events("train-a")[0]["series"]["lastObservedTime"] >= events("train-a")[0]["eventTime"]' \
	'events("train-a")[0].get("series")'
store_check "event-note" \
	'all(len(e["note"].encode()) <= 1024 and "195:1" in events("train-a")[0]["note"] and "cat" in e["note"] and "verdict cross_tenant" in events("train-a")[0]["note"] for e in events())' \
	'[e["note"] for e in events()]'
store_check "event-reporting" \
	'all(e["reportingController"] == "accelguard.io/agent" and e["reportingInstance"] == "accelguard-node-1" for e in events())' \
	'[(e["reportingController"], e["reportingInstance"]) for e in events()]'
store_check "event-unmediated" \
	'len(events("web", "UnmediatedAcceleratorAccess")) == 1 and "195:255" in events("web")[0]["note"] and "series" not in events("web")[0]' \
	'events("web")'
store_wait 'not any(o["metadata"]["namespace"] == "team-old" for o in S)' || true
store_check "policyreport-stale-deleted" \
	'report("team-old", "PolicyReport") is None and report("team-x", "PolicyReport")["metadata"]["name"] == "accelguard-node-2"' \
	'[report(n, "PolicyReport") for n in ("team-old", "team-x")]'
store_check "no-event-for-allowed" 'events("train-b") == []' 'events("train-b")'
store_check "policyreport-results" \
	'results("team-a", "PolicyReport") == {"train-a": "fail"} and results("team-b", "PolicyReport") == {"train-b": "pass"} and results("team-c", "PolicyReport") == {"web": "fail"} and results("team-d", "PolicyReport") == {"monitor": "skip"} and report("team-d", "PolicyReport")["summary"]["skip"] == 1' \
	'[results(n, "PolicyReport") for n in ("team-a", "team-b", "team-c", "team-d")]'
store_check "policyreport-format" \
	'report("team-a", "PolicyReport")["apiVersion"] == "wgpolicyk8s.io/v1alpha2" and report("team-a", "PolicyReport")["metadata"]["name"] == "accelguard-node-1" and report("team-a", "PolicyReport")["summary"] == {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0} and all(r["policy"] == "secure_accelerator_access" and isinstance(r["timestamp"]["seconds"], int) and abs(r["timestamp"]["seconds"] - __import__("time").time()) < 600 and r["resources"][0]["kind"] == "Pod" for r in report("team-a", "PolicyReport")["results"])' \
	'report("team-a", "PolicyReport")'
# pod b goes away: its namespace's report goes with its last result
drop_pod b
store_wait 'not any(o["kind"] == "PolicyReport" and o["metadata"]["namespace"] == "team-b" for o in S)' || true
store_check "policyreport-pod-gone" 'report("team-b", "PolicyReport") is None and results("team-a", "PolicyReport") == {"train-a": "fail"}' \
	'report("team-b", "PolicyReport")'
stop_agent

# === run 2: enforce, openreports; Events refused (403); reports: 409 and 429
fault "deny events.k8s.io"
run_agent enforce openreports
r1=$(in_pod a nvidia1)
r2=$(in_pod a nvidia1)
r3=$(in_pod c nvidia0)
store_wait 'all(any(o["kind"] == "Report" and o["metadata"]["namespace"] == ns and o["summary"]["fail"] == f for o in S)
                for ns, f in (("team-a", 1), ("team-b", 0), ("team-c", 1)))' || true
ndenied=$(grep -c '"type":"access".*"action":"denied".*"namespace":"team-' "$ev" || true)
[ "$r1$r2$r3" = "Operation not permittedOperation not permittedOperation not permitted" ] && [ "$ndenied" = 3 ] &&
	ok "403-agent-still-denies" || nok "403-agent-still-denies" "got '$r1' '$r2' '$r3', $ndenied denied in the journal"
n403=$(grep -c 'kubernetes.events: .*HTTP 403.*paused' "$tmp/agent-enforce-openreports.log" || true)
[ "$n403" = 1 ] && ok "403-logged-once" || nok "403-logged-once" "$n403 lines: $(grep -i events "$tmp/agent-enforce-openreports.log" | head -3)"
store_check "403-no-event-written" 'not any(e["reason"] == "AcceleratorAccessDenied" for e in events())' 'events()'
store_check "openreports-results" \
	'report("team-a", "Report")["apiVersion"] == "openreports.io/v1alpha1" and report("team-a", "Report")["source"] == "accelguard" and results("team-a", "Report") == {"train-a": "fail"} and results("team-c", "Report") == {"web": "fail"} and results("team-b", "Report") == {"train-b": "pass"}' \
	'[report(n, "Report") for n in ("team-a", "team-c")]'
# 409: a concurrent writer changes the report twice: read again, retried
fault "conflict 2"
in_pod b nvidia0 >/dev/null
store_wait 'any(o["kind"] == "Report" and o["metadata"]["namespace"] == "team-b" and o["summary"]["fail"] == 1 for o in S)' || true
n409=$(grep -c '^409 PUT /apis/openreports.io/v1alpha1/namespaces/' "$tmp/api.log" || true)
[ "$n409" = 2 ] && ok "409-reread-and-retried" || nok "409-reread-and-retried" "$n409 conflicts seen"
store_check "409-report-right" 'results("team-b", "Report") == {"train-b": "fail"} and results("team-a", "Report") == {"train-a": "fail"}' 'report("team-b", "Report")'
# 429 with Retry-After: 2: the next write waits
fault "throttle 1 2"
in_pod c nvidiactl >/dev/null
store_wait 'any(o["kind"] == "Report" and o["metadata"]["namespace"] == "team-c" and "195:255" in o["results"][0]["message"] for o in S)' || true
$PY - "$tmp/api.log" >"$tmp/check.out" <<'EOF' && ok "429-retry-after-honoured" || nok "429-retry-after-honoured" "$(cat "$tmp/check.out")"
import sys
lines = open(sys.argv[1]).read().split("\n")
i = max(i for i, l in enumerate(lines) if l.startswith("429 "))
t429 = float(lines[i].split()[-1])
after = [float(l.split()[-1]) for l in lines[i + 1:] if l.split()[:1] and l.split()[0] in ("GET", "PUT", "POST") and
         l.split()[-1].replace(".", "").isdigit()]
print("429 at %.3f, next request at %s" % (t429, after[:1]))
sys.exit(0 if after and after[0] - t429 >= 1.9 else 1)
EOF
store_check "429-report-written-after" 'results("team-c", "Report") == {"web": "fail"}' 'report("team-c", "Report")'
# the API server goes away and comes back: the report catches up
stop_api
in_pod c nvidia1 >/dev/null
sleep 1
start_api
store_wait 'any(o["kind"] == "Report" and o["metadata"]["namespace"] == "team-c" and "195:1 " in o["results"][0]["message"] for o in S)' || true
store_check "server-back-report-current" \
	'"195:1 " in report("team-c", "Report")["results"][0]["message"] and report("team-c", "Report")["results"][0]["properties"]["violations"] == "3"' \
	'report("team-c", "Report")["results"]'
stop_agent
check_run "summary-events-paused" summary_says 'E["paused"] and E["errors"] >= 1 and R["writes"] >= 3 and R["conflicts"] == 2 and not R["paused"]'

# === run 2b: the agent restarts (openreports): the reports it reads back keep every fail and
# its count; its own violations add to them
rvs=$($PY -c 'import json,sys; print(max(int(o["metadata"]["resourceVersion"]) for o in json.load(open(sys.argv[1]))["objects"].values() if o["kind"] == "Report"))' "$tmp/store.json")
mv "$ev" "$ev.run2"
fault "deny events.k8s.io" # as in run 2 (the peer restarted since): run 3 counts its own Events
run_agent enforce openreports
store_wait 'all(any(o["kind"] == "Report" and o["metadata"]["namespace"] == ns and int(o["metadata"]["resourceVersion"]) > '"$rvs"' for o in S)
                for ns in ("team-a", "team-b", "team-c"))' || true
store_check "restart-openreports-keeps-fail-and-count" \
	'results("team-a", "Report") == {"train-a": "fail"} and results("team-b", "Report") == {"train-b": "fail"} and results("team-c", "Report") == {"web": "fail"} and report("team-c", "Report")["results"][0]["properties"]["violations"] == "3" and report("team-a", "Report")["results"][0]["properties"]["violations"] == "2" and int(report("team-c", "Report")["metadata"]["resourceVersion"]) > '"$rvs" \
	'[(n, results(n, "Report"), report(n, "Report")["results"][0]["properties"], report(n, "Report")["metadata"]["resourceVersion"]) for n in ("team-a", "team-b", "team-c")]'
in_pod a nvidia1 >/dev/null
store_wait 'any(o["kind"] == "Report" and o["metadata"]["namespace"] == "team-a" and o["results"][0]["properties"]["violations"] == "3" for o in S)' || true
store_check "restart-openreports-counts-on" 'report("team-a", "Report")["results"][0]["properties"]["violations"] == "3"' \
	'report("team-a", "Report")["results"]'
stop_agent

# === run 3: enforce, Events: 429 on a create, then the API server goes away and comes back
fault "allow events.k8s.io"
fault "throttle 1 2"
mport=$((20000 + RANDOM % 20000))
run_agent enforce off "metrics: {listen: 127.0.0.1:$mport}"
in_pod a nvidia1 >/dev/null
store_wait 'any(o["kind"] == "Event" and o["reason"] == "AcceleratorAccessDenied" for o in S)' || true
store_check "denied-event" \
	'len(events("train-a", "AcceleratorAccessDenied")) == 1 and events("train-a", "AcceleratorAccessDenied")[0]["action"] == "Denied" and "action denied" in events("train-a", "AcceleratorAccessDenied")[0]["note"]' \
	'events("train-a")'
$PY - "$tmp/api.log" >"$tmp/check.out" <<'EOF' && ok "429-event-retry-after-honoured" || nok "429-event-retry-after-honoured" "$(cat "$tmp/check.out")"
import sys
lines = [l.split() for l in open(sys.argv[1]).read().split("\n") if l]
i = max(i for i, l in enumerate(lines) if l[0] == "429" and "events.k8s.io" in l[2])
t429 = float(lines[i][-1])
nxt = [float(l[-1]) for l in lines[i + 1:] if l[0] == "POST" and "events.k8s.io" in l[1]]
print("429 at %.3f, next POST at %s" % (t429, nxt[:1]))
sys.exit(0 if nxt and nxt[0] - t429 >= 1.9 else 1)
EOF
stop_api
sleep 0.3
for _ in 1 2 3; do in_pod a nvidia1 >/dev/null; done
in_pod c nvidiactl >/dev/null
sleep 1.5
start_api
store_wait 'any(o["kind"] == "Event" and o["reason"] == "AcceleratorAccessDenied" and o["regarding"]["name"] == "web" for o in S) and
            any(o["kind"] == "Event" and o["reason"] == "AcceleratorAccessDenied" and o.get("series", {}).get("count") == 4 for o in S)' || true
store_check "server-back-events-sent" \
	'events("train-a", "AcceleratorAccessDenied")[0]["series"]["count"] == 4 and len(events("web", "AcceleratorAccessDenied")) == 1' \
	'[(e["regarding"]["name"], e["reason"], e.get("series")) for e in events()]'
# the Event expires on the server: the next repeat's PATCH gets 404 and the Event is written anew
fault expire
sleep 1.1 # past the series' once-a-second
in_pod a nvidia1 >/dev/null
store_wait 'any(o["kind"] == "Event" and o["regarding"]["name"] == "train-a" and o.get("series", {}).get("count") == 5 for o in S)' || true
store_check "expired-event-written-anew" \
	'len(events("train-a", "AcceleratorAccessDenied")) == 1 and events("train-a", "AcceleratorAccessDenied")[0]["series"]["count"] == 5' \
	'[(e["metadata"]["name"], e.get("series")) for e in events("train-a")]'
ndown=$(grep -c 'kubernetes.events: .*backoff' "$tmp/agent-enforce-off.log" || true)
[ "$ndown" = 1 ] && ok "server-away-logged-once" || nok "server-away-logged-once" "$ndown lines"
grep -q 'kubernetes.events: the API server answers again' "$tmp/agent-enforce-off.log" && ok "server-back-logged" ||
	nok "server-back-logged" "$(tail -3 "$tmp/agent-enforce-off.log")"
# the same counts on /metrics (promtool-valid)
sleep 1.2 # the loop hands the metrics a snapshot each second
curl -s "http://127.0.0.1:$mport/metrics" >"$tmp/metrics.txt" || true
if command -v promtool >/dev/null; then
	check_run "metrics-promtool" sh -c "promtool check metrics <'$tmp/metrics.txt'"
fi
check_run "metrics-events" grep -qx 'accelguard_k8s_events_written_total{kind="created"} 3' "$tmp/metrics.txt"
check_run "metrics-events-pending-none" grep -qx 'accelguard_k8s_events_pending 0' "$tmp/metrics.txt"
check_run "metrics-events-not-paused" grep -qx 'accelguard_k8s_sink_paused{sink="events"} 0' "$tmp/metrics.txt"
stop_agent
check_run "summary-events" summary_says 'E["sent"] == 3 and E["patched"] >= 1 and E["deduplicated"] == 4 and E["pending"] == 0 and E["dropped"] == 0 and E["up"] and "writes" not in R'

# === run 4: the report's CRD is not installed: said once, then a pause, no request storm
fault "nocrd wgpolicyk8s.io"
from=$(wc -l <"$tmp/api.log")
run_agent audit wgpolicyk8s
in_pod c nvidiactl >/dev/null
sleep 2.5
stop_agent
nposts=$(tail -n +"$((from + 1))" "$tmp/api.log" | grep -c '^POST /apis/wgpolicyk8s.io/v1alpha2/namespaces/.* [0-9.]*$' || true)
ncrd=$(grep -c 'kubernetes.reports: .*is the wgpolicyk8s.io/v1alpha2 CRD installed' "$tmp/agent-audit-wgpolicyk8s.log" || true)
[ "$ncrd" = 1 ] && [ "$nposts" = 1 ] && ok "no-crd-said-once-and-paused" ||
	nok "no-crd-said-once-and-paused" "$ncrd warnings, $nposts POSTs of PolicyReports in all"
fault "allow wgpolicyk8s.io"

# === run 5: per-namespace refusals never hold back other namespaces: team-a is being deleted
# (403 with the cause NamespaceTerminating), team-b is gone (404 of the namespace), team-d's
# Events are refused as invalid (422); team-c's Events and report go on, at once
fault "allow events.k8s.io"
fault "terminating team-a"
fault "nonamespace team-b"
fault "invalid team-d"
from=$(wc -l <"$tmp/api.log")
rm -f "$tmp/events-audit-wgpolicyk8s.jsonl" # run 1's and run 4's: their ready lines
run_agent audit wgpolicyk8s
t0=$(date +%s.%N)
in_pod a nvidia1 >/dev/null
in_pod b nvidia0 >/dev/null
in_pod d nvidiactl >/dev/null
sleep 0.5
in_pod c nvidiactl >/dev/null
since=$(date -u -d @"${t0%.*}" +%Y-%m-%dT%H:%M:%S)
# web's Event of run 1 (the same pod, reason, device, process): its series goes on
store_wait 'any(o["kind"] == "Event" and o["regarding"]["name"] == "web" and max(o["eventTime"], o.get("series", {}).get("lastObservedTime", "")) >= "'"$since"'" for o in S) and
            any(o["kind"] == "PolicyReport" and o["metadata"]["namespace"] == "team-c" and o["summary"]["fail"] == 1 for o in S)' || true
t1=$(date +%s.%N)
$PY - "$tmp/store.json" "$t0" "$t1" <<'EOF2' >>"$tmp/checks"
import json, sys
S = list(json.load(open(sys.argv[1]))["objects"].values())
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
web = [o for o in S if o["kind"] == "Event" and o["regarding"]["name"] == "web" and
       max(o["eventTime"], o.get("series", {}).get("lastObservedTime", ""))[:19] >=
       __import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(t0))]
good = len(web) == 1 and t1 - t0 < 8
print(("ok - k8s-report/ns-refusals-hold-back-no-other-namespace (team-c's Event after %.1f s)" % (t1 - t0)) if good else
      "not ok - k8s-report/ns-refusals-hold-back-no-other-namespace: %d new Events of web after %.1f s" % (len(web), t1 - t0))
rep = [o for o in S if o["kind"] == "PolicyReport" and o["metadata"]["namespace"] == "team-c"]
good = rep and {r["resources"][0]["name"]: r["result"] for r in rep[0]["results"]} == {"web": "fail"}
print("ok - k8s-report/ns-refusals-report-of-others-written" if good else
      "not ok - k8s-report/ns-refusals-report-of-others-written: %s" % rep)
EOF2
newlog=$(tail -n +"$((from + 1))" "$tmp/api.log")
n403=$(echo "$newlog" | grep -c '^403 POST /apis/events.k8s.io/v1/namespaces/team-a/.*(namespace terminating)' || true)
n404=$(echo "$newlog" | grep -c '^404 POST /apis/events.k8s.io/v1/namespaces/team-b/.*(no namespace)' || true)
n422=$(echo "$newlog" | grep -c '^422 POST /apis/events.k8s.io/v1/namespaces/team-d/' || true)
[ "$n403" = 1 ] && [ "$n404" = 1 ] && [ "$n422" = 1 ] && ok "ns-refusals-each-tried-once (403 team-a, 404 team-b, 422 team-d)" ||
	nok "ns-refusals-each-tried-once" "403 x$n403, 404 x$n404, 422 x$n422"
log5=$tmp/agent-audit-wgpolicyk8s.log
grep -q 'kubernetes.events: namespace team-a refuses Events (.*HTTP 403.*being terminated' "$log5" &&
	grep -q 'kubernetes.events: namespace team-b refuses Events (.*HTTP 404' "$log5" &&
	! grep -q 'check the ClusterRole' "$log5" && ok "ns-refusals-told-apart-from-rbac" ||
	nok "ns-refusals-told-apart-from-rbac" "$(grep -i 'events\|reports' "$log5" | head -4)"
# team-a's next violation within the pause: dropped at once, no request
in_pod a nvidia1 >/dev/null
sleep 1
n403b=$(tail -n +"$((from + 1))" "$tmp/api.log" | grep -c '^403 POST /apis/events.k8s.io/v1/namespaces/team-a/' || true)
[ "$n403b" = 1 ] && ok "ns-refused-namespace-paused-alone" || nok "ns-refused-namespace-paused-alone" "$n403b 403s for team-a"
stop_agent
check_run "summary-ns-refused" summary_says 'E["namespace_refused"] >= 3 and not E["paused"] and E["sent"] == 1'
fault "ok team-a"
fault "ok team-b"
fault "ok team-d"

# === run 5b: the agent restarts: web's Event (the same pod, reason, device, process) is found
# under its name and its series goes on
rm -f "$tmp/events-audit-off.jsonl"
run_agent audit off
in_pod c nvidiactl >/dev/null
store_wait 'any(o["kind"] == "Event" and o["regarding"]["name"] == "web" and o.get("series", {}).get("count") == 2 for o in S)' || true
stop_agent
store_check "event-series-goes-on-after-restart" \
	'len(events("web", "UnmediatedAcceleratorAccess")) == 1 and events("web", "UnmediatedAcceleratorAccess")[0]["series"]["count"] == 2' \
	'[(e["metadata"]["name"], e.get("series")) for e in events("web")]'
check_run "summary-event-continued" summary_says 'E["continued"] == 1 and E["sent"] == 0 and E["patched"] == 1'

# === the flood: 101 pods, 2,060 distinct Events, each 3 times, within a few milliseconds
if [ -n "$flood" ]; then
	"$flood" "https://127.0.0.1:$port" "$tmp/token" "$tmp/ca.crt" node-1 100 20 60 3 3 \
		>"$tmp/flood.json" 2>"$tmp/flood.err" || nok flood "report_flood failed: $(tail -3 "$tmp/flood.err")"
	echo "# flood: $(cat "$tmp/flood.json")"
	sleep 0.3 # the peer writes its store within 50 ms
	$PY - "$tmp/flood.json" "$tmp/store.json" "$tmp/api.log" >"$tmp/flood.checks" <<'EOF'
import json, math, sys
st = json.load(open(sys.argv[1]))
S = [o for o in json.load(open(sys.argv[2]))["objects"].values()
     if o["kind"] == "Event" and o["metadata"]["namespace"] == "flood"]
ts = [float(l.split()[-1]) for l in open(sys.argv[3])
      if l.split()[:1] in (["POST"], ["PATCH"]) and "/namespaces/flood/" in l]
def res(name, good, why):
    print(("ok - k8s-report/%s" % name) if good else "not ok - k8s-report/%s: %s" % (name, why))
res("flood-all-taken", st["queued"] == st["lines"] == 6180, st)
res("flood-queue-bounded", st["dropped"] > 0 and st["pending"] <= 1024 and st["deduplicated"] > 0, st)
# the node's bucket: burst 50, 10 a second: in the first T seconds at most 50 + 10 T writes
worst = max((sum(1 for t in ts if t <= ts[0] + T) - (50 + 10 * T) for T in (0.5, 1, 2, 3)), default=1)
res("flood-node-rate-limited", ts and worst <= 1 and st["rate_limited"] > 0,
    "%d writes, %d over the node's limit" % (len(ts), worst))
span = (ts[-1] - ts[0]) if ts else 0
hot = [o for o in S if o["regarding"]["name"] == "hot"]
res("flood-pod-rate-limited", 20 <= len(hot) <= 25 + math.ceil(span / 10) + 1,
    "%d Events of pod hot (60 distinct) in %.1f s" % (len(hot), span))
# (one request cut at the exit may have reached the peer uncounted)
res("flood-events-valid", st["sent"] <= len(S) <= st["sent"] + 1 and all(len(o["note"].encode()) <= 1024 for o in S),
    "%d stored, %d sent" % (len(S), st["sent"]))
EOF
	cat "$tmp/flood.checks" >>"$tmp/checks"
else
	echo "skip - k8s-report/flood: no report_flood binary given"
fi

tap_lines "$tmp/checks"
if [ "$fail" != 0 ]; then
	for f in "$tmp"/agent-*.log; do echo "# $f:"; tail -8 "$f" | sed 's/^/#   /'; done
	echo "# api peer:"; tail -15 "$tmp/api.log" | sed 's/^/#   /'; tail -5 "$tmp/api.err" 2>/dev/null | sed 's/^/#   /'
fi
summary
