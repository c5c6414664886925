#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The agent against a real container runtime: Debian's containerd and runc (own root, state dir
# and socket, cgroupfs driver), an image built offline from busybox-static, pods and containers
# made through the CRI the way the kubelet makes them (tests/containerd/kubelet.py: its
# io.kubernetes.* labels, cgroup_parent per QoS class, host network), the project's PodResources
# peer (tests/k8s/peers/grpc_peer.py) serving the allocations, and every verdict checked from
# inside the containers (errno of real opens) and in the agent's events.
#   - start-up: containers hold devices open and hammer their own before the agent starts, in
#     enforce mode with "unresolved: deny": no EPERM for them during the start, no kubepods access
#     judged "host", the held descriptors judged with pod identity (the cross-tenant one as such);
#   - live: allowed (ENXIO: no driver behind 195:N), cross_tenant and unmediated (EPERM) from a
#     plain, a privileged (mknod inside) and a restarted container (new id);
#   - containerd restarted under the agent, a pod made after; a pod removed;
#   - where runc put each cgroup (logged), parsed by user/k8s/cgroup.c (cgparse).
# Cleans up everything it started (trap), and skips with the reason when containerd/runc cannot
# run here.
# Usage: tests/containerd/run.sh BUILD/accelguard BUILD/tests/containerd/cgparse   (root)
set -uo pipefail
agent=$(realpath "$1")
cgparse=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
tap=containerd
. "$here/../lib/tap.sh"
. "$here/../lib/containerd.sh"
. "$here/../lib/agent.sh"
. "$here/../lib/peers.sh"
. "$here/../lib/nvnode.sh"

why=$(ctd_unmet)
[ -z "$why" ] || skip "$why"
cg2=$(cgroup2_mount)

tmp=$(mktemp -d /tmp/ag-ctd.XXXXXX)
sock=$tmp/containerd.sock
peer="" agent_pid=""
uids=()
K() { $PY "$here/kubelet.py" --sock "$sock" --pyout "$tmp/py" "$@"; }

cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	[ -n "$peer" ] && kill "$peer" 2>/dev/null
	# the pods, through the runtime while it runs
	if [ -n "$ctd_pid" ] && [ -S "$sock" ]; then
		for sb in $(cat "$tmp/sandboxes" 2>/dev/null); do K rmpod "$sb" >/dev/null 2>&1; done
	fi
	ctd_stop
	# shims of this containerd, and whatever still runs in our pods
	ctd_kill_shims "$sock"
	for u in "${uids[@]}"; do
		for d in $(find "$cg2/kubepods" -depth -type d -name "pod$u" 2>/dev/null); do
			for p in $(cat $(find "$d" -name cgroup.procs) 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		done
	done
	sleep 0.2
	ctd_umount_under "$tmp"
	# the cgroups runc made, in every hierarchy (it leaves the pod and QoS parents)
	for u in "${uids[@]}"; do
		find /sys/fs/cgroup -depth -type d -path "*/kubepods*" -name "*" 2>/dev/null |
			grep -e "/pod$u" | while read -r d; do rmdir "$d" 2>/dev/null; done
	done
	ctd_drop_kubepods "$cg2"
	[ -n "${CTD_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# --- containerd, its own everything
mkdir -p "$tmp/py" "$tmp/dev" "$tmp/cdi" "$tmp/cni" "$tmp/proc/driver/nvidia/gpus"
{ ctd_config "$tmp"; ctd_cri_config "$tmp"; } >"$tmp/containerd.toml"
start_containerd() { ctd_start "$tmp/containerd.toml" "$tmp/containerd.log" "$sock"; }
start_containerd || skip "containerd does not start here: $(tail -3 "$tmp/containerd.log")"
rc=0
ctd_test_image "$tmp" "$sock" || rc=$?
[ "$rc" != 1 ] || { nok image "mkimage.py failed"; summary; exit 1; }
[ "$rc" = 0 ] || skip "ctr cannot import the image here: $(tail -2 "$tmp/import.log")"
protoc --python_out="$tmp/py" -I"$here" "$here/kubelet_cri.proto"
k8s_protos "$tmp/py"

# --- the node: two GPUs in NVIDIA procfs, their nodes; a 1:7 (/dev/full) "accelerator" given by
# DRA through CDI, which can really be held open
gpu0=GPU-3b3b3b3b-1111-4000-8000-00000000000a gpu1=GPU-5e5e5e5e-2222-4000-8000-00000000000b
gpu2=GPU-9a9a9a9a-3333-4000-8000-00000000000c
for g in "0000:3b:00.0 $gpu0 0" "0000:5e:00.0 $gpu1 1" "0000:9a:00.0 $gpu2 2"; do
	nvidia_gpu "$tmp/proc/driver" $g
done
nvidia_proc_devices "$tmp/proc/devices"
mknod "$tmp/dev/nvidia0" c 195 0
mknod "$tmp/dev/nvidia1" c 195 1
mknod "$tmp/dev/nvidia2" c 195 2
cat >"$tmp/cdi/acc.yaml" <<EOF
cdiVersion: 0.6.0
kind: example.com/acc
devices:
  - name: a0
    containerEdits:
      deviceNodes:
        - {path: /dev/full, major: 1, minor: 7}
EOF

# --- pods, as the kubelet makes them (one per QoS class), before the agent starts
uid_a=$(cat /proc/sys/kernel/random/uuid) uid_b=$(cat /proc/sys/kernel/random/uuid)
uid_c=$(cat /proc/sys/kernel/random/uuid) uid_d=$(cat /proc/sys/kernel/random/uuid)
uid_m=$(cat /proc/sys/kernel/random/uuid) uid_n=$(cat /proc/sys/kernel/random/uuid)
uids=("$uid_a" "$uid_b" "$uid_c" "$uid_d" "$uid_m" "$uid_n")
pod() { # NAME NS UID QOS -> sandbox id (also kept for the cleanup)
	local sb
	sb=$(K pod "$@") || return 1
	echo "$sb" >>"$tmp/sandboxes"
	echo "$sb"
}
sb_a=$(pod train-a team-a "$uid_a" guaranteed 2>"$tmp/pod.err") ||
	skip "the CRI cannot run a pod sandbox here: $(grep -o 'details = .*' "$tmp/pod.err" | head -1)"
sb_b=$(pod train-b team-b "$uid_b" burstable) || { nok pods "RunPodSandbox train-b"; summary; exit 1; }
sb_c=$(pod web team-c "$uid_c" besteffort privileged) || { nok pods "RunPodSandbox web"; summary; exit 1; }
sb_m=$(pod multi team-m "$uid_m" burstable) || { nok pods "RunPodSandbox multi"; summary; exit 1; }
sb_n=$(pod cpu team-n "$uid_n" besteffort) || { nok pods "RunPodSandbox cpu"; summary; exit 1; }
# GPU nodes given to a container (as a device plugin does) keep their host path inside: when its
# mknod at runc create is denied (a container born after ready is unresolved then, and with
# "unresolved: deny" its mknod is refused; or another agent on this machine refuses it), runc
# bind-mounts the node from the host path named by the container path instead
dev() { echo "--device $tmp/dev/$1=$tmp/dev/$1"; }
# ... and where a device plugin puts them, /dev/nvidiaN (made by mknod before the agent starts)
devn() { echo "--device $tmp/dev/$1=/dev/$1"; }
nv=$tmp/dev/nvidia
# the 1:7 "accelerator" is /dev/full, which runc gives every container
# A holds its own device open, opens it in a loop counting failures, and issues ioctls on it in
# another (stty: TCGETS) counting the processes killed (tier 3 kills a denied ioctl)
c_a=$(K ctr "$sb_a" train-a team-a "$uid_a" guaranteed main 0 $(devn nvidia0) -- \
	sh -c 'exec 3</dev/full; j=0; while :; do stty -F /dev/full >/dev/null 2>&1; [ $? -ge 128 ] && echo K >>/tmp/kills; j=$((j+1)); [ $((j % 20)) = 0 ] && echo $j >/tmp/ioctls; done & i=0; while :; do if : </dev/full 2>/dev/null; then i=$((i+1)); [ $((i % 200)) = 0 ] && echo $i >/tmp/opens; else echo F >>/tmp/fails; fi; done')
# B holds A's device open (cross-tenant), and was given A's GPU node by mistake beside its own
c_b=$(K ctr "$sb_b" train-b team-b "$uid_b" burstable main 0 $(devn nvidia0) $(devn nvidia1) -- \
	sh -c 'exec 3</dev/full; exec sleep 1000000')
c_c=$(K ctr "$sb_c" web team-c "$uid_c" besteffort main 0 --privileged -- sleep 1000000)
# upstream's multi-container pod: one container holds a GPU, the other none; and a pod without
c_ma=$(K ctr "$sb_m" multi team-m "$uid_m" burstable authorized 0 $(devn nvidia2) -- sleep 1000000)
c_mu=$(K ctr "$sb_m" multi team-m "$uid_m" burstable unauthorized 0 -- sleep 1000000)
c_n=$(K ctr "$sb_n" cpu team-n "$uid_n" besteffort main 0 -- sleep 1000000)
[ -n "$c_a" ] && [ -n "$c_b" ] && [ -n "$c_c" ] && [ -n "$c_ma" ] && [ -n "$c_mu" ] && [ -n "$c_n" ] ||
	{ nok containers "CreateContainer failed"; summary; exit 1; }
ok "pods and containers through the CRI (guaranteed, burstable, besteffort, privileged)"
pid_b=$(K pid "$c_b")
for _ in $(seq 100); do K exec "$c_a" cat /tmp/opens >/dev/null 2>&1 && break; sleep 0.1; done

# --- the kubelet's PodResources
cat >"$tmp/fx.json" <<EOF
{"pods": [
 {"name": "train-a", "namespace": "team-a", "containers": [
   {"name": "main", "devices": [{"resource_name": "nvidia.com/gpu", "device_ids": ["$gpu0"]}],
    "dynamic_resources": [{"claim_name": "acc", "claim_namespace": "team-a", "claim_resources": [
      {"cdi_devices": [{"name": "example.com/acc=a0"}], "driver_name": "acc.example.com",
       "pool_name": "node-1", "device_name": "a0"}]}]},
   {"name": "side", "devices": []}]},
 {"name": "train-b", "namespace": "team-b", "containers": [
   {"name": "main", "devices": [{"resource_name": "nvidia.com/gpu", "device_ids": ["$gpu1"]}]}]},
 {"name": "web", "namespace": "team-c", "containers": [{"name": "main", "devices": []}]},
 {"name": "late", "namespace": "team-d", "containers": [{"name": "main", "devices": []}]},
 {"name": "multi", "namespace": "team-m", "containers": [
   {"name": "authorized", "devices": [{"resource_name": "nvidia.com/gpu", "device_ids": ["$gpu2"]}]},
   {"name": "unauthorized", "devices": []}]},
 {"name": "cpu", "namespace": "team-n", "containers": [{"name": "main", "devices": []}]}
]}
EOF
$PY "$repo/tests/k8s/peers/grpc_peer.py" --fixture "$tmp/fx.json" --podresources "$tmp/kubelet.sock" \
	--pyout "$tmp/py" --log "$tmp/peer.log" 2>"$tmp/peer.err" &
peer=$!
for _ in $(seq 100); do [ -S "$tmp/kubelet.sock" ] && break; sleep 0.05; done

# --- the agent, enforce mode, unresolved: deny, CRI = this containerd
cat >"$tmp/config.yaml" <<EOF
mode: enforce
unresolved: deny
devices:
  - class: test-acc
    major: 1
    minor: 7
kubernetes:
  node_name: node-1
  podresources_socket: $tmp/kubelet.sock
  cri_socket: $sock
  api_server: "off"
host:
  proc: $tmp/proc
  cdi_dirs: [$tmp/cdi]
journal:
  dir: $tmp/journal
  flush_ms: 100
selftest:
  socket: $tmp/control.sock
EOF
ev=$tmp/events.jsonl
# the count file is rewritten as it goes: read it until it is whole
count() { local v; for _ in 1 2 3 4 5; do v=$(K exec "$c_a" cat "$1"); [ -n "$v" ] && break; done; echo "${v:-0}"; }
opens() { count /tmp/opens; }
fails_before=$(K exec "$c_a" sh -c 'cat /tmp/fails 2>/dev/null | wc -l')
opens_before=$(opens)
"$agent" run --config "$tmp/config.yaml" --events "$ev" --pin-dir off 2>"$tmp/agent.log" &
agent_pid=$!
agent_wait_ready "$ev" || { nok ready "agent not ready: $(tail -5 "$tmp/agent.log")"; summary; exit 1; }
sleep 1
fails_after=$(K exec "$c_a" sh -c 'cat /tmp/fails 2>/dev/null | wc -l')
kills=$(K exec "$c_a" sh -c 'cat /tmp/kills 2>/dev/null | wc -l')
ioctls=$(count /tmp/ioctls)
opens_after=$(opens)
echo "# start-up: container train-a/main opened its own device $((opens_after - opens_before)) times during the start ($fails_before -> $fails_after failures)"
check "start: no EPERM for a preexisting allocated container (enforce, unresolved: deny)" \
	"$((fails_after - fails_before)) opens failed" [ "$fails_after" = "$fails_before" ]
echo "# start-up: its ioctl loop: ${ioctls:-0} ioctl processes so far, $kills killed"
check "start: no process of a preexisting allocated container killed for its ioctls" \
	"$kills killed" [ "$kills" = 0 -a "${ioctls:-0}" -gt 0 ]
check "start: the hammer ran through the start" "no opens counted ($opens_before -> $opens_after)" \
	[ "$opens_after" -gt "$opens_before" ]

# events as JSON: q EXPR prints those of $ev for which EXPR holds, has EXPR (tests/lib/agent.sh)
# (only this test's pods: another test on the machine may have its own under /kubepods)
ours="any(u in g('cgroup','path') for u in ('$uid_a', '$uid_b', '$uid_c'))"
host_q="e.get('type')=='access' and e.get('verdict')=='host' and g('cgroup','path').startswith('/kubepods') and $ours"
unres_q="e.get('verdict')=='unresolved' and e.get('action') in ('denied','killed') and $ours"
check "start: no kubepods access judged host" "$(q "$host_q" | head -2)" [ -z "$(q "$host_q")" ]
check "start: nothing denied or killed as unresolved" "$(q "$unres_q" | head -2)" [ -z "$(q "$unres_q")" ]
for _ in $(seq 50); do has "e.get('hook')=='scan' and g('process','pid')==$pid_b and e.get('verdict')=='cross_tenant'" && break; sleep 0.1; done
check "start: the cross-tenant descriptor held since before start is cross_tenant, with pod identity" \
	"$(q "e.get('hook')=='scan' and g('process','pid')==$pid_b")" \
	has "e.get('hook')=='scan' and g('process','pid')==$pid_b and e.get('verdict')=='cross_tenant' and g('pod','name')=='train-b' and g('container','name')=='main'"
check "start: the allocated descriptor held since before start is allowed, with pod identity" \
	"$(q "e.get('hook')=='scan' and g('pod','name')=='train-a'")" \
	has "e.get('hook')=='scan' and g('pod','name')=='train-a' and e.get('verdict')=='allowed' and g('device','minor')==7"

# --- live verdicts, from inside the containers
probe() { K exec "$1" sh -c "exec 2>&1; $2"; }
expect_open() { # NAME CID PATH ERRNO-TEXT [SETUP]
	local out
	out=$(probe "$2" "${5:+$5; }: <$3 && echo OPENED")
	check "$1" "open $3 said: $out" grep -q "$4" <<<"$out"
}
expect_event() { # NAME PYTHON-CONDITION
	wait_for "$2"
	check "$1" "no such event: $2" has "$2"
}
ENXIO="No such device or address" EPERM="Operation not permitted"
expect_open "live: allocated GPU opens (ENXIO: no driver)" "$c_a" /dev/nvidia0 "$ENXIO"
expect_event "live: allocated GPU is allowed for train-a/main" \
	"e.get('type')=='access' and e.get('verdict')=='allowed' and g('pod','name')=='train-a' and g('device','minor')==0 and g('device','major')==195"
expect_open "live: another pod's GPU is denied (EPERM)" "$c_b" /dev/nvidia0 "$EPERM"
expect_event "live: ... reported cross_tenant, denied, for train-b/main" \
	"e.get('verdict')=='cross_tenant' and e.get('action')=='denied' and g('pod','name')=='train-b' and g('device','minor')==0"
expect_open "live: its own GPU opens (ENXIO)" "$c_b" /dev/nvidia1 "$ENXIO"
expect_open "live: privileged container, mknod of another pod's GPU: EPERM" "$c_c" /tmp/n0 "$EPERM" "mknod /tmp/n0 c 195 0"
expect_event "live: ... cross_tenant for team-c/web" \
	"e.get('verdict')=='cross_tenant' and g('pod','name')=='web' and g('device','minor')==0"
expect_open "live: privileged container, mknod of an unallocated GPU: EPERM" "$c_c" /tmp/n5 "$EPERM" "mknod /tmp/n5 c 195 5"
expect_event "live: ... unmediated for team-c/web" \
	"e.get('verdict')=='unmediated' and g('pod','name')=='web' and g('device','minor')==5"

# --- upstream's test at the node (selftest --conformance): each running container's GPU nodes in
# its own mount namespace against its allocation, then accelguard's runtime checks (a real pod's
# GPU tried from another tenant: denied, with its event); train-b/main was given train-a's GPU
# beside its own (PositiveAccessTest must fail, naming it); into the journal, then the bundle
"$agent" selftest --config "$tmp/config.yaml" --conformance --json --junit "$tmp/junit.xml" \
	>"$tmp/selftest.json" 2>"$tmp/selftest.err"
st_rc=$?
# the same from the journal alone (an agent that does not answer "tenants": here none answers)
"$agent" selftest --config "$tmp/config.yaml" --socket "$tmp/nobody.sock" --conformance --json \
	>"$tmp/selftest-journal.json" 2>"$tmp/selftest-journal.err"
"$agent" evidence --config "$tmp/config.yaml" --out "$tmp/bundle" >"$tmp/evidence.out" 2>&1 ||
	nok "conformance: evidence bundle" "$(cat "$tmp/evidence.out")"
while read -r line; do
	case "$line" in
	"ok "*) ok "${line#ok }" ;;
	"not ok "*) nok "${line#not ok }" "" ;;
	*) echo "$line" ;;
	esac
done < <($PY "$here/conformance_check.py" --rc "$st_rc" --result "$tmp/selftest.json" \
	--journal-result "$tmp/selftest-journal.json" \
	--junit "$tmp/junit.xml" --bundle "$tmp/bundle" --events "$ev" --stderr "$tmp/selftest.err" 2>&1)

# --- a container restarted with a new id (born after ready)
side0=$(K ctr "$sb_a" train-a team-a "$uid_a" guaranteed side 0 $(dev nvidia0) -- sleep 1000000)
K rmctr "$side0"
side1=$(K ctr "$sb_a" train-a team-a "$uid_a" guaranteed side 1 $(dev nvidia0) -- sleep 1000000)
check "restart: the new container has a new id" "'$side0' -> '$side1'" [ -n "$side1" -a "$side0" != "$side1" ]
expect_event "restart: the new id is resolved to train-a/side" \
	"e.get('type')=='tenant' and e.get('event')=='resolved' and g('container','id')=='$side1' and g('container','name')=='side'"
expect_open "restart: the new container's open of a GPU it was not given: EPERM" "$side1" ${nv}0 "$EPERM"
expect_event "restart: ... cross_tenant with the new id" \
	"e.get('verdict')=='cross_tenant' and g('container','id')=='$side1'"

# --- containerd restarted under the agent
ctd_stop
seen=""
for i in $(seq 40); do # 2 s: its watch (500 ms) or the next call that needs it
	grep -q "CRI at $sock: " "$tmp/agent.log" && { seen=$((i * 50)); break; }
	sleep 0.05
done
echo "# $(grep "CRI at $sock: " "$tmp/agent.log" | head -1)"
check "containerd restart: the agent sees the runtime gone within 2 s" \
	"$(grep 'CRI at' "$tmp/agent.log" | tail -2)" [ -n "$seen" ]
echo "# containerd down: seen by the agent within ${seen:-?} ms"
sleep 2
start_containerd || { nok "containerd restart" "$(tail -3 "$tmp/containerd.log")"; summary; exit 1; }
for _ in $(seq 100); do grep -q "CRI at $sock is reachable again" "$tmp/agent.log" && break; sleep 0.05; done
outage=$(sed -n "s/.*CRI at .* is reachable again after \([0-9.]*\) s.*/\1/p" "$tmp/agent.log" | tail -1)
echo "# containerd outage as the agent measured it: ${outage:-?} s (down for 2 s and its start)"
check "containerd restart: the outage is measured from when it was seen (>= 2 s)" \
	"reachable again after '${outage}' s" $PY -c "import sys; sys.exit(not ('$outage' and float('$outage') >= 2.0))"
sb_d=$(pod late team-d "$uid_d" besteffort)
c_d=$(K ctr "$sb_d" late team-d "$uid_d" besteffort main 0 -- sleep 1000000)
expect_event "containerd restart: a pod made after it resolves through the CRI" \
	"e.get('type')=='tenant' and e.get('event')=='resolved' and g('container','id')=='$c_d' and g('pod','name')=='late'"
expect_open "containerd restart: the running containers are still judged (EPERM)" "$c_b" /dev/nvidia0 "$EPERM"

# --- a pod removed
K rmpod "$sb_c"
expect_event "pod removed: its container's tenant is removed" \
	"e.get('type')=='tenant' and e.get('event')=='removed' and g('container','id')=='$c_c'"

# --- where runc put the cgroups, and what the project's parser makes of them
paths=()
while read -r d; do paths+=("${d#"$cg2"}"); done < <(find "$cg2/kubepods" -mindepth 1 -maxdepth 3 -type d |
	grep -E "pod($uid_a|$uid_b|$uid_d)" | sort)
"$cgparse" "${paths[@]}" >"$tmp/cgparse.out"
sed 's/^/# cgroup: /' "$tmp/cgparse.out"
bad=$(awk -v a="$uid_a" -v b="$uid_b" -v d="$uid_d" '
	{ n = split($1, c, "/"); last = c[n]
	  qos = ($1 ~ "^/kubepods/burstable/") ? "burstable" : ($1 ~ "^/kubepods/besteffort/") ? "besteffort" : "guaranteed"
	  if (last ~ /^pod/) { want = "pod"; uid = substr(last, 4); cid = "-" }
	  else { want = "container"; uid = substr(c[n-1], 4); cid = last }
	  if ($2 != want || $3 != qos || $4 != uid || $5 != cid) print "bad: " $0 " (want " want " " qos " " uid " " cid ")" }' "$tmp/cgparse.out")
check "cgroups: runc's paths (pods, sandboxes, containers; 3 QoS classes) parse as the kubelet's" \
	"$bad; $(grep -c ' container ' "$tmp/cgparse.out") containers" \
	[ -z "$bad" -a "$(grep -c ' container ' "$tmp/cgparse.out")" -ge 6 ]

kill "$agent_pid"
wait "$agent_pid"
agent_pid=""
check "summary: both descriptors held since before start counted" "$(q 'e.get("type")=="summary"')" \
	has "e.get('type')=='summary' and g('events','preexisting')>=2"
summary
