#!/bin/sh
# The benchmark payload of a QEMU guest (tools/bench/vm.sh): tests/vm's /init runs it in place of
# the integration tests, as /ag/itest --agent /ag/accelguard --expect-tier TIER --workdir DIR ...,
# with its stdout on the results port. It measures the micro workloads with no agent, then with
# the agent in audit and in enforce mode (each paired with a baseline just before), and prints:
#   @@BENCH-READY <the agent's ready event>
#   @@BENCH <agbench micro line: label workload ns_median ...>
#   @@BENCH-CHECK ok|FAIL text
# Parameters after the harness's (ag.args=a,b on the kernel command line): rounds=N reps=N
# reads=every_use|arrival (the agent's "reads:" setting; default: the configuration's default)
agent=/ag/accelguard agbench=/ag/agbench work=/tmp/bench rounds=3 reps=7 agent_args= reads=
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--workdir) work=$2; shift 2 ;;
	--expect-tier) shift 2 ;;
	--agent-arg) agent_args="$agent_args $2"; shift 2 ;; # tier 3 forced: --tier=tracepoint (init)
	rounds=*) rounds=${1#rounds=}; shift ;;
	reps=*) reps=${1#reps=}; shift ;;
	reads=*) reads=${1#reads=}; shift ;;
	*) shift ;;
	esac
done

cg2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
mkdir -p "$work" "$cg2/bench/a" "$cg2/bench/b"
echo guest > "$work/file"
mknod "$work/accel0" c 1 3
mknod "$work/zero" c 1 5
cat > "$work/bench.yaml" <<EOF
mode: audit
tenants: ["/bench/*"]
devices: [{class: test-null, major: 1, minor: 3}]
allocations: [{cgroup: /bench/a, devices: ["1:3"]}]
EOF
[ -z "$reads" ] || echo "reads: $reads" >> "$work/bench.yaml"

micro() { # LABEL
	"$agbench" micro --label "$1" --cpu 0 --reps "$reps" --rep-ms 50 --warmup-ms 50 \
		--file "$work/file" --devnode "$work/zero" --accel "$work/accel0" --cgroup "$cg2/bench/a" \
		open-file open-dev ioctl-pipe ioctl-accel getppid read-file read-dev read-accel \
		write-file write-dev | grep -v '^#' | sed 's/^/@@BENCH\t/'
}

r=1
while [ "$r" -le "$rounds" ]; do
	for mode in audit enforce; do
		micro "base-$mode"
		ev=$work/ev-$mode-$r.json
		"$agent" run $agent_args --config "$work/bench.yaml" --mode "$mode" --events "$ev" --pin-dir off 2>/dev/console &
		apid=$!
		i=0
		while ! grep -q '"type":"ready"' "$ev" 2>/dev/null && [ $i -lt 1200 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		[ "$r" = 1 ] && echo "@@BENCH-READY $(grep '"type":"ready"' "$ev")"
		micro "$mode" > "$work/out"
		cat "$work/out"
		kill -INT $apid
		wait $apid
		ops=$(awk -F'\t' '$3 == "ioctl-accel" { print $12 }' "$work/out")
		got=$(grep '"type":"summary"' "$ev" | sed -n 's/.*"ioctl":{"allowed":\([0-9]*\).*/\1/p')
		if [ -n "$ops" ] && [ "$ops" = "$got" ]; then
			echo "@@BENCH-CHECK ok $mode/$r: every allowed accelerator ioctl counted ($got)"
		else
			echo "@@BENCH-CHECK FAIL $mode/$r: generator $ops, kernel $got"
		fi
		if [ "$reads" = arrival ]; then
			# the mode measured is the one named: no arrival attached the per-use hook
			if grep '"type":"summary"' "$ev" | grep -q '"reads":{"mode":"arrival","per_use_attached":false'; then
				echo "@@BENCH-CHECK ok $mode/$r: reads: arrival, the per-use hook never attached"
			else
				echo "@@BENCH-CHECK FAIL $mode/$r: reads: arrival not in force or the per-use hook attached: $(grep -o '"reads":{[^}]*}' "$ev" | tail -n1)"
			fi
		fi
	done
	r=$((r + 1))
done
exit 0
