#!/usr/bin/env bash
# accelguard's main job on a machine without GPUs: build, then audit and enforce a real scenario.
#
#   tools/demo.sh            # as root: audit, then enforce
#   tools/demo.sh audit      # one mode only
#
# It makes NVIDIA-numbered device nodes with mknod (195:0 and 195:1; their opens reach every hook
# and then fail with ENXIO, as no driver is loaded) and a copy of /dev/full registered as a test
# accelerator class (its ioctls reach the hooks too), two tenant cgroups (t-a, allocated
# nvidia0 and the test accelerator; t-b, allocated nothing), runs the agent, drives real syscalls
# from each tenant and from the host, and prints the agent's verdicts, runs `accelguard
# selftest` against the running agent, and ends by writing and verifying an evidence bundle of
# the last run and printing its PRODUCT.yaml entry (AG_DEMO_KEEP=DIR keeps the bundle).
# Everything it made is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo: run as root (BPF, cgroups, mknod); as another user: sudo $0" >&2; exit 1; }
tools/deps.sh build >&2 # the build group is all the demo needs (make fresh-check proves it)
make -s build/accelguard >&2

modes=("${@:-audit enforce}")
modes=(${modes[@]})
cg2=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
[ -n "$cg2" ] || { echo "demo: no cgroup2 file system mounted" >&2; exit 1; }
work=$(mktemp -d /tmp/accelguard-demo.XXXXXX)
root=/accelguard-demo-$$

pins=/sys/fs/bpf/accelguard-demo-$$ # enforce mode pins its programs here (uninstalled at the end)
cleanup() {
	build/accelguard uninstall --pin-dir "$pins" >/dev/null 2>&1 || true
	for c in t-a t-b ""; do rmdir "$cg2$root/$c" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$cg2$root/t-a" "$cg2$root/t-b"
mknod "$work/nvidia0" c 195 0
mknod "$work/nvidia1" c 195 1
mknod "$work/accel0" c 1 7
ln "$work/nvidia1" "$work/innocent-name"
cat >"$work/config.yaml" <<EOF
# two tenants; t-a was given nvidia0 and the test accelerator, t-b nothing
tenants: ["$root/t-*"]
devices:
  - class: test-accel
    major: 1
    minor: 7
allocations:
  - cgroup: $root/t-a
    devices: ["$work/nvidia0", "1:7"]
# the durable journal that the self-test and the evidence bundle read
journal:
  dir: $work/journal
  flush_ms: 100
selftest:
  socket: $work/control.sock
EOF
chmod 0644 "$work/config.yaml" # the agent refuses a group-writable one (a umask of 002)

# Run a command in a tenant cgroup (or on the host) and say what the kernel answered.
in_tenant() {
	local cg=$1 what=$2; shift 2
	local out rc=0
	out=$(sh -c 'if [ -n "$1" ]; then echo $$ > "$1/cgroup.procs"; fi; shift; exec "$@"' \
		sh "${cg:+$cg2$root/$cg}" "$@" 2>&1) || rc=$?
	printf '  %-8s %-44s -> %s\n' "${cg:-host}" "$what" \
		"$(if [ $rc = 0 ]; then echo ok; elif [ $rc = 137 ]; then echo "killed (SIGKILL)";
		   else echo "${out##*: }"; fi) (exit $rc)"
}

for mode in "${modes[@]}"; do
	echo
	echo "=== accelguard run --mode $mode"
	ev="$work/events-$mode.jsonl"
	since=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
	build/accelguard run --config "$work/config.yaml" --mode "$mode" --events "$ev" --pin-dir "$pins" 2>"$work/agent.log" &
	agent=$!
	for _ in $(seq 200); do grep -q '"type":"ready"' "$ev" 2>/dev/null && break; sleep 0.05; done
	grep -q '"type":"ready"' "$ev" || { cat "$work/agent.log" >&2; exit 1; }
	echo "  ready: $(grep -o '"tier":"[a-z_]*"' "$ev" | head -1), $(grep -o '"ioctl_enforcement":"[a-z_]*"' "$ev" | head -1)"
	echo "  what the processes saw:"
	in_tenant t-a "open nvidia0 (allocated)" cat "$work/nvidia0"
	in_tenant t-a "open nvidia1 (allocated to nobody)" cat "$work/nvidia1"
	in_tenant t-b "open nvidia0 (t-a's GPU)" cat "$work/nvidia0"
	in_tenant t-b "open nvidia1 through a hard link" cat "$work/innocent-name"
	in_tenant t-b "mknod a new node for 195:1" mknod "$work/made-by-b" c 195 1
	in_tenant "" "open nvidia1 from the host" cat "$work/nvidia1"
	# stty makes a TCGETS ioctl on its standard input: on the test accelerator the driver answers
	# ENOTTY, after the hooks have judged it
	in_tenant t-a "ioctl on the test accelerator (allocated)" stty -F "$work/accel0"
	exec 9<"$work/accel0" # opened on the host, inherited by t-b below
	in_tenant t-b "ioctl on an inherited accelerator fd" stty <&9
	in_tenant t-b "read from the inherited accelerator fd" dd bs=16 count=1 status=none of=/dev/null <&9
	exec 9<&-
	rm -f "$work/made-by-b"
	echo "  accelguard selftest (against this agent, in throwaway tenants):"
	build/accelguard selftest --config "$work/config.yaml" --junit "$work/selftest-$mode.xml" |
		sed 's/^/    /' || true
	sleep 0.3
	kill -TERM "$agent"; wait "$agent"
	echo "  what accelguard reported (access events from the tenants and for the GPUs):"
	grep '"type":"access"' "$ev" | grep -E "\"path\":\"$root/|\"major\":195" |
		grep -v '"comm":"accelguard"' | # the self-test's own probes: its lines above
		sed -E 's/.*"op":"([a-z]+)","verdict":"([a-z_]+)","action":"([a-z]+)".*"device":\{"major":([0-9]+),"minor":([0-9]+),"class":"([^"]*)"\}(,"ioctl":\{"cmd":"[^"]*")?.*"comm":"([^"]*)".*"cgroup":\{"id":[0-9]+,"path":"([^"]*)"\}.*/    \1 \4:\5 (\6)\7 by \8 in \9: \2, \3/' |
		sed -E "s/,\"ioctl\":\\{\"cmd\":\"([^\"]*)\"/ cmd \\1/; s# in $root/# in #; s# in /:# on the host:#"
	echo "  summary: $(grep '"type":"summary"' "$ev" | grep -o '"violations":{[^}]*}'), $(grep '"type":"summary"' "$ev" | grep -o '"drops":{[^}]*}')"
	echo "  full event stream: $(wc -l <"$ev") JSON lines (kept in $ev until exit)"
done

# the evidence of the last run: a bundle of its window of the journal, verified, and the entry
# for PRODUCT.yaml
echo
echo "=== accelguard evidence (the $mode run)"
build/accelguard evidence --config "$work/config.yaml" --since "$since" --out "$work/evidence" |
	sed 's/^/  /'
build/accelguard evidence verify "$work/evidence" | sed 's/^/  /'
echo "  PRODUCT.yaml entry:"
grep -v '^#' "$work/evidence/PRODUCT.yaml" | sed 's/^/    /'
if [ -n "${AG_DEMO_KEEP:-}" ]; then
	rm -rf "$AG_DEMO_KEEP"
	cp -r "$work/evidence" "$AG_DEMO_KEEP"
	echo "  the bundle is kept in $AG_DEMO_KEEP"
fi
