#!/bin/sh
# Inside the cgroup-v2-only guest (tests/vm/runc-v2.sh boots it; /init runs this as ag.run=):
# Debian's runc, driven directly with hand-written OCI bundles, attaches its own
# BPF_CGROUP_DEVICE program to each container's cgroup, beside the agent's cgroup/dev program on
# the cgroup2 root (BPF_F_ALLOW_MULTI). Both must hold:
#   - runc denies, the agent would allow: a container of tenant a (allocated 195:0) whose spec has
#     no rule for 195:0 mknods it and opens it: EPERM, and the agent denied nothing of tenant a;
#   - the agent denies, runc allows: a container of tenant b (allocated 195:1) whose spec gives it
#     /dev/nvidia0 (a's) and /dev/nvidia5 (no one's): EPERM, with the agent's cross_tenant and
#     unmediated events, action denied;
#   - both allow: a's container given 195:0 in its spec, b's own 195:1: ENXIO (no driver behind
#     195:N, so the open went past both device programs).
# Each round runs with the agent at the tier it chooses (lsm on this boot: its file_open hook
# judges opens, after the device programs), again at --tier fmod_ret (the same place, through
# fmod_ret on security_file_open) and at --tier tracepoint (its cgroup/dev program judges opens,
# beside runc's). bpftool shows the two programs effective on a container's cgroup.
# Output: "ok - NAME" / "not ok - NAME: why" lines, then "N passed, N failed"; exit 1 on a failure.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
agent=/ag/accelguard
w=/tmp/rv2
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1: $2"; fail=$((fail + 1)); }
log() { echo "runc-v2: $*" >&2; }
EPERM="Operation not permitted" ENXIO="No such device or address"

mkdir -p $w
chmod 0755 $w

# --- the node: cgroup v2 alone
grep -qw cgroup_no_v1=all /proc/cmdline && ok "guest booted with cgroup_no_v1=all" ||
	nok "guest booted with cgroup_no_v1=all" "$(cat /proc/cmdline)"
v1=$(awk '$3 == "cgroup" { print $2 }' /proc/mounts)
mkdir -p $w/v1
if mount -t cgroup -o devices none $w/v1 2>/dev/null; then
	umount $w/v1
	nok "no cgroup v1 devices controller" "mount -t cgroup -o devices succeeded"
elif [ -n "$v1" ]; then
	nok "no cgroup v1 devices controller" "v1 hierarchies mounted at $v1"
else
	echo "# the v1 devices controller's mount is refused; cgroup2 alone at $(awk '$3 == "cgroup2" { print $2 }' /proc/mounts)"
	ok "no cgroup v1 devices controller"
fi

# --- the container image: busybox, and the device nodes a device plugin would make on the node
rootfs=$w/rootfs
mkdir -p $rootfs/bin $rootfs/tmp $rootfs/proc $rootfs/dev $rootfs/sys
cp /ag/rootfs/busybox $rootfs/bin/busybox
for a in sh sleep mknod cat echo; do ln -sf busybox $rootfs/bin/$a; done
for m in 0 1 5; do [ -e /dev/nvidia$m ] || mknod /dev/nvidia$m c 195 $m; done

# A bundle: NAME CGROUP SCRIPT [DEVICE-MINOR...] (each minor: a /dev/nvidiaN node in the spec and
# an allow rule c 195:N rwm; runc appends its own defaults after, /dev/null and such, and mknod of
# any char device: "c *:* m")
bundle() {
	name=$1 b=$w/b-$1 cg=$2 script=$3
	shift 3
	nodes= rules='{"allow": false, "access": "rwm"}'
	for m in "$@"; do
		nodes="$nodes${nodes:+,}{\"path\": \"/dev/nvidia$m\", \"type\": \"c\", \"major\": 195, \"minor\": $m, \"fileMode\": 438, \"uid\": 0, \"gid\": 0}"
		rules="$rules, {\"allow\": true, \"type\": \"c\", \"major\": 195, \"minor\": $m, \"access\": \"rwm\"}"
	done
	caps='"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_MKNOD", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"'
	rm -rf "$b"
	mkdir -p "$b"
	cat >"$b/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["/bin/sh", "-c", "exec 2>&1; $script"],
    "env": ["PATH=/bin"],
    "cwd": "/",
    "capabilities": {"bounding": [$caps], "effective": [$caps], "permitted": [$caps]},
    "noNewPrivileges": true
  },
  "root": {"path": "$rootfs", "readonly": false},
  "hostname": "$name",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=1777"]}
  ],
  "linux": {
    "cgroupsPath": "$cg",
    "devices": [$nodes],
    "resources": {"devices": [$rules]},
    "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]
  }
}
EOF
}

ev=$w/events.jsonl
# a wait is up to 10 s, scaled for software emulation (ag.args=--timeout-scale,N); by the clock,
# as each try forks a few processes, slow under emulation
scale=$(sed -n 's/.*--timeout-scale,\([0-9]*\).*/\1/p' /proc/cmdline)
wait_s=$((10 * ${scale:-1}))
# the agent's events that match every fixed string given
events() { # STRING...
	cp $ev $w/ev.tmp 2>/dev/null || : >$w/ev.tmp
	for s in "$@"; do grep -F -- "$s" $w/ev.tmp >$w/ev.tmp2; mv $w/ev.tmp2 $w/ev.tmp; done
	cat $w/ev.tmp
}
wait_event() { # STRING...
	local end=$(($(date +%s) + wait_s))
	while :; do
		[ -n "$(events "$@")" ] && return 0
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# Create a container (its cgroup, runc's device program), wait until the agent has the tenant's
# policy, run it, and print its output. NAME TENANT
run_ctr() {
	id=$1 tenant=$2
	( cd $w/b-$id && runc --root $w/runc create --no-pivot "$id" </dev/null >$w/out-$id 2>$w/err-$id ) ||
		{ echo "runc create failed: $(cat $w/err-$id)"; return 1; }
	wait_event '"type":"tenant"' "\"path\":\"$tenant\"" || log "no tenant event for $tenant"
	runc --root $w/runc start "$id" 2>>$w/err-$id || { echo "runc start failed: $(cat $w/err-$id)"; return 1; }
	local end=$(($(date +%s) + wait_s))
	while [ "$(date +%s)" -lt "$end" ]; do
		runc --root $w/runc state "$id" 2>/dev/null | grep -q '"status": "stopped"' && break
		sleep 0.05
	done
	runc --root $w/runc delete -f "$id" 2>/dev/null
	cat $w/out-$id
}

# NAME OUTPUT EXPECTED-TEXT
expect_out() {
	if echo "$2" | grep -q "$3"; then ok "$1"; else nok "$1" "the container said: $(echo "$2" | tr '\n' ' ')"; fi
}

round() { # TIER (empty: the agent's choice)
	t=${1:-chosen}
	rm -f $ev
	cat >$w/config.yaml <<EOF
mode: enforce
unresolved: allow
tenants: ["/tenants/*"]
allocations:
  - cgroup: /tenants/a
    devices: ["195:0"]
  - cgroup: /tenants/b
    devices: ["195:1"]
EOF
	$agent run --config $w/config.yaml --events $ev --pin-dir off ${1:+--tier $1} 2>$w/agent-$t.log &
	apid=$!
	for _ in 1 2 3; do wait_event '"type":"ready"' && break; done # loading under emulation: 90 s
	if ! wait_event '"type":"ready"'; then
		nok "$t: agent ready in enforce mode" "no ready event: $(tail -5 $w/agent-$t.log)"
		kill $apid 2>/dev/null
		return
	fi
	tier=$(events '"type":"ready"' | sed -n 's/.*"tier":"\([a-z_]*\)".*/\1/p' | head -1)
	t=${1:-$tier}
	# the agent's program that judges opens at this tier
	hook=$t
	[ "$t" = tracepoint ] && hook=cgroup_dev
	if events '"type":"ready"' '"mode":"enforce"' | grep -q .; then
		ok "$t: agent ready in enforce mode"
	else
		nok "$t: agent ready in enforce mode" "$(events '"type":"ready"')"
	fi

	# runc denies what the agent allows: a's own GPU, no rule for it in a's spec
	bundle a-norule /tenants/a/norule-$t 'mknod /tmp/g0 c 195 0 || echo MKNOD-FAILED; true </tmp/g0 && echo OPENED'
	out=$(run_ctr a-norule /tenants/a)
	expect_out "$t: runc's program denies tenant a its own GPU, not in its spec (EPERM)" "$out" "sh: can't open /tmp/g0: $EPERM\$"
	d=$(events '"type":"access"' '"path":"/tenants/a' '"action":"denied"')
	[ -z "$d" ] && ok "$t: ... and the agent denied nothing of tenant a" ||
		nok "$t: ... and the agent denied nothing of tenant a" "$d"
	if [ "$t" = tracepoint ]; then
		# tier 3 judges opens in its cgroup/dev program, which runs beside runc's: it saw the open
		d=$(events '"type":"access"' '"op":"open"' '"path":"/tenants/a' '"minor":0' '"verdict":"allowed"' '"hook":"cgroup_dev"')
		[ -n "$d" ] && ok "$t: ... the agent's cgroup/dev program judged that open allowed" ||
			nok "$t: ... the agent's cgroup/dev program judged that open allowed" "$(events '"path":"/tenants/a')"
	fi

	# both allow: a's GPU in a's spec
	bundle a-rule /tenants/a/rule-$t 'true </dev/nvidia0 && echo OPENED' 0
	out=$(run_ctr a-rule /tenants/a)
	expect_out "$t: tenant a's GPU in its spec passes both programs (ENXIO: no driver)" "$out" "sh: can't open /dev/nvidia0: $ENXIO\$"
	wait_event '"type":"access"' '"op":"open"' '"path":"/tenants/a' '"minor":0' '"verdict":"allowed"' &&
		ok "$t: ... judged allowed by the agent" ||
		nok "$t: ... judged allowed by the agent" "$(events '"path":"/tenants/a')"

	# the agent denies what runc allows: a's GPU and an unallocated one in b's spec, beside its own;
	# created first, to see the two device programs on its cgroup
	bundle b /tenants/b/main-$t 'true </dev/nvidia0; true </dev/nvidia5; true </dev/nvidia1; echo DONE' 0 1 5
	if ( cd $w/b-b && runc --root $w/runc create --no-pivot b </dev/null >$w/out-b 2>$w/err-b ); then
		ag_ids=$(bpftool cgroup show /sys/fs/cgroup 2>/dev/null | awk '$2 ~ /device/ { print $1 }')
		runc_ids=$(bpftool cgroup show /sys/fs/cgroup/tenants/b/main-$t 2>/dev/null | awk '$2 ~ /device/ { print $1 }')
		eff=$(bpftool cgroup show /sys/fs/cgroup/tenants/b/main-$t effective 2>&1)
		echo "$eff" | sed "s/^/# bpftool cgroup show \/sys\/fs\/cgroup\/tenants\/b\/main-$t effective: /"
		have=1
		for id in $ag_ids $runc_ids; do echo "$eff" | awk -v i="$id" '$1 == i { f = 1 } END { exit !f }' || have=0; done
		names=$(for id in $ag_ids; do bpftool prog show id "$id"; done | head -1)
		if [ -n "$ag_ids" ] && [ -n "$runc_ids" ] && [ "$have" = 1 ] && echo "$names" | grep -q ag_cgroup_dev; then
			echo "# $t: runc's device program $runc_ids on the container's cgroup, the agent's $ag_ids on the root"
			ok "$t: two device programs effective on the container's cgroup"
		else
			nok "$t: two device programs effective on the container's cgroup" "root: '$ag_ids' ($names), container: '$runc_ids', effective: $(echo "$eff" | tr '\n' ' ')"
		fi
		runc --root $w/runc delete -f b 2>/dev/null
	else
		nok "$t: runc create b" "$(cat $w/err-b)"
	fi
	out=$(run_ctr b /tenants/b)
	echo "$out" | sed 's/^/# container b: /'
	expect_out "$t: tenant b, a's GPU in its spec: EPERM" "$out" "sh: can't open /dev/nvidia0: $EPERM\$"
	wait_event '"type":"access"' '"op":"open"' '"path":"/tenants/b' '"minor":0' '"verdict":"cross_tenant"' '"action":"denied"' "\"hook\":\"$hook\"" &&
		ok "$t: ... denied by the agent ($hook): cross_tenant" ||
		nok "$t: ... denied by the agent ($hook): cross_tenant" "$(events '"path":"/tenants/b')"
	expect_out "$t: tenant b, an unallocated GPU in its spec: EPERM" "$out" "sh: can't open /dev/nvidia5: $EPERM\$"
	wait_event '"type":"access"' '"op":"open"' '"path":"/tenants/b' '"minor":5' '"verdict":"unmediated"' '"action":"denied"' "\"hook\":\"$hook\"" &&
		ok "$t: ... denied by the agent ($hook): unmediated" ||
		nok "$t: ... denied by the agent ($hook): unmediated" "$(events '"path":"/tenants/b')"
	expect_out "$t: tenant b's own GPU passes both programs (ENXIO)" "$out" "sh: can't open /dev/nvidia1: $ENXIO\$"

	kill $apid
	wait $apid
	grep -q '"type":"summary"' $ev && ok "$t: agent stopped with its summary" ||
		nok "$t: agent stopped with its summary" "$(tail -5 $w/agent-$t.log)"
	log "events of round $t:"
	grep -v '"type":"ready"\|"type":"summary"' $ev >&2
	for d in /sys/fs/cgroup/tenants/*/*-$t /sys/fs/cgroup/tenants/*; do rmdir "$d" 2>/dev/null; done
}

runc --version | head -1 | sed 's/^/# /'
round ""
round fmod_ret
round tracepoint

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
