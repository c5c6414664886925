#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The real agent's /metrics, /healthz and /readyz: a scenario of real opens from tenant cgroups
# (enforce mode, tier 3 natively), then a second agent whose Kubernetes source's kubelet is down:
#   - promtool check metrics (Debian's prometheus) on the scrape,
#   - the values against what the scenario did (the kernel's exact totals, the per-event counts,
#     denials, violations, the peer's health),
#   - the health endpoints: /healthz ok, /readyz ready, 404 and 405 answers,
#   - the unit test of the module (cardinality cap, health states, listen errors), whose
#     rendering promtool checks too,
#   - a port already taken: the agent refuses to start and says which address and why.
# Usage: tests/metrics/metrics.sh BUILD/accelguard   (root)
set -uo pipefail
agent=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
build=$(dirname "$agent")
pass=0 fail=0
ok() { echo "ok - metrics/$1"; pass=$((pass + 1)); }
nok() { echo "not ok - metrics/$1: $2"; fail=$((fail + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got '$2', expected '$3'"; return 1; fi; }
done_() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

if [ "$(id -u)" != 0 ]; then echo "skip - metrics: needs root (BPF, cgroups, mknod)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; fi
for t in promtool curl; do
	command -v $t >/dev/null || { echo "not ok - metrics: $t is missing (tools/deps.sh metrics)"; echo "0 passed, 1 failed"; exit 1; }
done
cg2=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
tmp=$(mktemp -d /tmp/ag-metrics.XXXXXX)
top=$cg2/ag-metrics-$$
agent_pid="" other_pid=""
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	[ -n "$other_pid" ] && kill "$other_pid" 2>/dev/null
	rmdir "$top/job-a" "$top/job-b" "$top" "$top-agent" 2>/dev/null
	[ -n "${METRICS_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# --- the module's own test: its rendering goes through promtool as well
if [ -x "$build/tests/metrics/metrics_test" ]; then
	if AG_METRICS_RENDER="$tmp/unit.prom" "$build/tests/metrics/metrics_test" >"$tmp/unit.log" 2>&1; then
		ok "unit-test ($(grep -c '^\[       OK \]' "$tmp/unit.log") cases)"
	else
		nok unit-test "$(grep -E 'FAILED|error' "$tmp/unit.log" | head -5)"
	fi
	out=$(promtool check metrics <"$tmp/unit.prom" 2>&1) && ok "promtool-unit-rendering (500 pods, pod labels)" ||
		nok promtool-unit-rendering "$out"
fi

mkdir -p "$tmp/dev" "$top/job-a" "$top/job-b"
mknod "$tmp/dev/nvidia0" c 195 0
mknod "$tmp/dev/nvidia1" c 195 1
cat >"$tmp/config.yaml" <<EOC
mode: enforce
tenants: ["/ag-metrics-$$/*"]
allocations:
  - cgroup: /ag-metrics-$$/job-a
    devices: ["195:0"]
metrics:
  listen: 127.0.0.1:0
EOC
ev=$tmp/events.jsonl
# the agent as in a pod: in a cgroup namespace of its own, rooted at a cgroup of its own; it
# must join the host's (hostns.c) for the tenants' paths to match
mkdir -p "$top-agent"
# (this machine's PID 1 may be in a user namespace of its own: the test's cgroup namespace is the
# host's)
ACCELGUARD_HOST_CGROUPNS=/proc/$$/ns/cgroup \
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec unshare --cgroup "$@"' sh "$top-agent" \
	"$agent" run --config "$tmp/config.yaml" --events "$ev" 2>"$tmp/agent.log" &
agent_pid=$!
port=""
for _ in $(seq 200); do
	port=$(sed -n 's/.*metrics: .* (port \([0-9]*\)).*/\1/p' "$tmp/agent.log")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { nok listen "no port in the log: $(tail -3 "$tmp/agent.log")"; done_; }
url=http://127.0.0.1:$port
# /healthz answers from the start; /readyz turns 200 once the programs are attached and the
# policy is loaded (the ready event)
first_ready=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")
for _ in $(seq 400); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && break
	sleep 0.05
done
check readyz-after-start "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" 200
grep -q '"type":"ready"' "$ev" && ok "ready-event-before-readyz" || nok ready-event-before-readyz "readyz 200 without a ready event"
echo "# first /readyz answer: $first_ready (503 while the programs load, if the scrape came early)"
grep -q "cgroup: joined the host's cgroup namespace" "$tmp/agent.log" && ok joined-host-cgroupns ||
	nok joined-host-cgroupns "$(grep cgroup "$tmp/agent.log" | head -3)"
check healthz "$(curl -s "$url/healthz")" ok
check not-found "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" 404
check post-refused "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")" 405
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$url/metrics")
check content-type "$ctype" "text/plain; version=0.0.4; charset=utf-8"

# --- a second agent on the same port: it says which address and why, and keeps running (and
# enforcing) without the endpoint; a bad address is a bad configuration: refused at start
sed -e "s/127.0.0.1:0/127.0.0.1:$port/" -e 's/^mode: enforce/mode: audit/' "$tmp/config.yaml" >"$tmp/busy.yaml"
"$agent" run --config "$tmp/busy.yaml" --events "$tmp/busy.jsonl" --duration 1 2>"$tmp/busy.log"
rc=$?
if [ "$rc" = 0 ] && grep -q "metrics: cannot listen on 127.0.0.1:$port: Address already in use" "$tmp/busy.log" &&
	grep -q '"type":"ready"' "$tmp/busy.jsonl"; then
	ok "port-taken-agent-keeps-running"
else
	nok port-taken-agent-keeps-running "exit $rc: $(tail -2 "$tmp/busy.log")"
fi
sed -e "s/127.0.0.1:0/localhost:9464/" "$tmp/config.yaml" >"$tmp/badaddr.yaml"
"$agent" run --config "$tmp/badaddr.yaml" --events "$tmp/bad.jsonl" --duration 1 2>"$tmp/bad.log"
rc=$?
if [ "$rc" != 0 ] && grep -q "metrics: 'localhost:9464' is no address to listen on" "$tmp/bad.log" &&
	! grep -q '"type":"ready"' "$tmp/bad.jsonl" 2>/dev/null; then
	ok "bad-address-refused"
else
	nok bad-address-refused "exit $rc: $(tail -2 "$tmp/bad.log")"
fi

# --- the scenario: opens from the tenants' cgroups (tier 3 denies violations with EPERM)
try_open() { sh -c 'echo $$ >"$1/cgroup.procs" && exec cat "$2" 2>/dev/null >/dev/null' sh "$1" "$2" || true; }
for _ in 1 2 3; do try_open "$top/job-a" "$tmp/dev/nvidia0"; done   # allowed x3 (its own)
for _ in 1 2; do try_open "$top/job-a" "$tmp/dev/nvidia1"; done      # unmediated x2 (nobody's)
try_open "$top/job-b" "$tmp/dev/nvidia0"                             # cross_tenant x1 (job-a's)
# counters are read once a second: wait for the scrape to show the last access
for _ in $(seq 60); do
	curl -s "$url/metrics" >"$tmp/scrape.prom"
	grep -q '^accelguard_accesses_total{op="open",verdict="cross_tenant"} 1$' "$tmp/scrape.prom" &&
		grep -q '^accelguard_denials_total 3$' "$tmp/scrape.prom" && break
	sleep 0.1
done
out=$(promtool check metrics <"$tmp/scrape.prom" 2>&1) && ok "promtool-check-metrics" || nok promtool-check-metrics "$out"
val() { awk -v k="$1" '$1 == k {print $2}' "$tmp/scrape.prom"; }
check accesses-open-allowed "$(val 'accelguard_accesses_total{op="open",verdict="allowed"}')" 3
check accesses-open-unmediated "$(val 'accelguard_accesses_total{op="open",verdict="unmediated"}')" 2
check accesses-open-cross-tenant "$(val 'accelguard_accesses_total{op="open",verdict="cross_tenant"}')" 1
check violations "$(val accelguard_violations_total)" 3 ||
	grep '"type":"access"' "$ev" | grep -v '"verdict":"allowed"' | cut -c1-300 | sed 's/^/# /' 
check denials "$(val accelguard_denials_total)" 3
check kills "$(val accelguard_kills_total)" 0
check suppressed "$(val accelguard_violation_events_suppressed_total)" 0
# per-event counts: a first sighting once, every violation
check events-allowed "$(val 'accelguard_access_events_total{verdict="allowed",op="open",class="nvidia-gpu",namespace=""}')" 1
check events-unmediated "$(val 'accelguard_access_events_total{verdict="unmediated",op="open",class="nvidia-gpu",namespace=""}')" 2
check events-cross-tenant "$(val 'accelguard_access_events_total{verdict="cross_tenant",op="open",class="nvidia-gpu",namespace=""}')" 1
check tenants "$(val 'accelguard_policy_cgroups{state="tenant"}')" 2
check ringbuf-drops "$(val 'accelguard_ringbuf_drops_total{kind="violation"}')" 0
check agent-info "$(grep -c '^accelguard_agent_info{tier="tracepoint",mode="enforce",ioctl_program="[a-z_]*"} 1$' "$tmp/scrape.prom")" 1
check ready-gauge "$(val accelguard_ready)" 1
check no-peers-without-kubernetes "$(grep -c '^accelguard_peer_up' "$tmp/scrape.prom")" 0
js=$(val 'accelguard_sink_written_lines_total{sink="json"}')
lines=$(wc -l <"$ev")
[ "${js:-0}" -ge 1 ] && [ "$js" -le "$lines" ] && ok "journal-written ($js of $lines lines)" ||
	nok journal-written "json sink wrote '$js', the journal has $lines lines"
check journal-dropped "$(val 'accelguard_sink_dropped_lines_total{sink="json"}')" 0
cp "$tmp/scrape.prom" "$tmp/scrape-main.prom"

kill -TERM "$agent_pid"; rc=0; wait "$agent_pid" || rc=$?; agent_pid=""
check agent-exit "$rc" 0
s=$(grep '"type":"summary"' "$ev")
case "$s" in *'"metrics":{"queued"'*) ok summary-lists-metrics-sink ;; *) nok summary-lists-metrics-sink "$s" ;; esac

# --- the peers' health: a Kubernetes source whose kubelet is down, the CRI and the API off
cat >"$tmp/k8s.yaml" <<EOC
kubernetes:
  node_name: node-1
  podresources_socket: $tmp/no-kubelet.sock
  cri_socket: "off"
  api_server: "off"
metrics:
  listen: 127.0.0.1:0
EOC
"$agent" run --config "$tmp/k8s.yaml" --events "$tmp/k8s.jsonl" 2>"$tmp/k8s.log" &
agent_pid=$!
port=""
for _ in $(seq 200); do
	port=$(sed -n 's/.*metrics: .* (port \([0-9]*\)).*/\1/p' "$tmp/k8s.log")
	[ -n "$port" ] && break
	sleep 0.05
done
for _ in $(seq 60); do
	curl -s "http://127.0.0.1:$port/metrics" >"$tmp/scrape.prom" 2>/dev/null
	e=$(val 'accelguard_peer_errors_total{peer="kubelet"}')
	[ "${e:-0}" -ge 1 ] && break
	sleep 0.1
done
out=$(promtool check metrics <"$tmp/scrape.prom" 2>&1) && ok "promtool-check-metrics-k8s" || nok promtool-check-metrics-k8s "$out"
check peer-kubelet-down "$(val 'accelguard_peer_up{peer="kubelet"}')" 0
errs=$(val 'accelguard_peer_errors_total{peer="kubelet"}')
[ "${errs:-0}" -ge 1 ] && ok "peer-kubelet-errors ($errs)" || nok peer-kubelet-errors "got '$errs', expected >= 1"
check peer-cri-off-absent "$(grep -c 'peer="cri"' "$tmp/scrape.prom")" 0
check peer-api-off-absent "$(grep -c 'peer="apiserver"' "$tmp/scrape.prom")" 0
check histogram-inf "$(grep -c '^accelguard_k8s_resolution_duration_seconds_bucket{le="+Inf"} ' "$tmp/scrape.prom")" 1
kill -TERM "$agent_pid"; rc=0; wait "$agent_pid" || rc=$?; agent_pid=""
check agent-exit-k8s "$rc" 0

# --- the Grafana dashboard against both scrapes (the agent, and its Kubernetes source)
cat "$tmp/scrape-main.prom" "$tmp/scrape.prom" >"$tmp/both.prom"
cp "$tmp/both.prom" "${METRICS_SCRAPE_OUT:-$tmp/keep.prom}" 2>/dev/null || true
/usr/bin/python3 "$here/dashboard_check.py" "$here/../../deploy/grafana/accelguard.json" "$tmp/both.prom" "$tmp" >"$tmp/dash.out" 2>&1
grep -v '^ok ' "$tmp/dash.out" | grep -v '^[0-9]* passed'
read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$tmp/dash.out")
[ -n "${p:-}" ] || nok dashboard "the checker failed: $(tail -3 "$tmp/dash.out")"
echo "# dashboard: ${p:-0} checks passed, ${f:-0} failed"
pass=$((pass + ${p:-0})) fail=$((fail + ${f:-0}))
done_
