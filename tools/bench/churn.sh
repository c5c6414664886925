#!/usr/bin/env bash
# Tenant cgroup churn (issue 13, "Faults"): N tenant cgroups made and removed, ROUNDS times, under
# one audit agent; after each round the agent's RSS and heap and the entry counts of its policy,
# viol and counters maps. No growth from round to round is the goal. Needs root.
#
# Usage: tools/bench/churn.sh [--agent PATH] [--n N] [--rounds R] [--out FILE]
#   default: build/accelguard, 10000 cgroups, 3 rounds, results to stdout (tab-separated)
set -euo pipefail
agent=${BUILD:-build}/accelguard n=10000 rounds=3 out=
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--n) n=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "churn: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "churn: needs root (BPF, cgroups)" >&2; exit 1; }
[ -x "$agent" ] || { echo "churn: build $agent first (make)" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "churn: needs bpftool" >&2; exit 1; }
cg2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
[ -n "$cg2" ] || { echo "churn: no cgroup2 mount" >&2; exit 1; }
tag=churn-$$ work=/tmp/churn-$$ apid=
cgr=$cg2/$tag
cleanup() {
	set +e
	if [ -n "$apid" ]; then kill -INT "$apid" 2>/dev/null; wait "$apid" 2>/dev/null; fi
	if [ -d "$cgr" ]; then
		find "$cgr" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null
		rmdir "$cgr" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
if [ -n "$out" ]; then exec 3>>"$out"; else exec 3>&1; fi
mkdir -p "$work" "$cgr/t"
cat > "$work/churn.yaml" <<EOC
mode: audit
tenants: ["/$tag/t/*"]
devices: [{class: test-null, major: 1, minor: 3}]
allocations: [{cgroup: "/$tag/t/*", devices: ["1:3"]}]
EOC
ev=$work/ev.json
"$agent" run --config "$work/churn.yaml" --events "$ev" --pin-dir off 2>"$work/log" &
apid=$!
for _ in $(seq 1 1000); do
	grep -q '"type":"ready"' "$ev" 2>/dev/null && break
	kill -0 "$apid" 2>/dev/null || { echo "churn: the agent exited: $(cat "$work/log")" >&2; exit 1; }
	sleep 0.02
done
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# entries NAME: entries of the agent's map named NAME (its descriptors' map ids, bpftool)
entries() {
	local f id
	for f in "/proc/$apid/fdinfo/"*; do
		id=$(awk '$1 == "map_id:" { print $2 }' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		if bpftool -j map show id "$id" 2>/dev/null | grep -q "\"name\":\"$1\""; then
			bpftool -j map dump id "$id" 2>/dev/null | jq length
			return
		fi
	done
	echo "?"
}
count_ev() { grep -c "\"type\":\"tenant\",\"time\":\"[^\"]*\",\"event\":\"$1\"" "$ev" || true; }
wait_ev() { # EVENT N
	for _ in $(seq 1 1200); do
		[ "$(count_ev "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "churn: the agent reported $(count_ev "$1") tenant $1 events, expected $2" >&2
	exit 1
}
row() {
	sleep 1
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(kb "$apid" VmRSS)" "$(kb "$apid" RssAnon)" \
		"$(entries policy)" "$(entries viol)" "$(entries counters)" >&3
}
printf 'state\tRSS KiB\tanon KiB\tpolicy entries\tviol entries\tcounters entries\n' >&3
row "ready, no tenant"
for r in $(seq 1 "$rounds"); do
	for i in $(seq 1 "$n"); do mkdir "$cgr/t/c$i"; done
	wait_ev added $((r * n))
	row "round $r: $n tenants made"
	for i in $(seq 1 "$n"); do rmdir "$cgr/t/c$i"; done
	wait_ev removed $((r * n))
	row "round $r: removed"
done
kill -INT "$apid"
wait "$apid" || echo "churn: the agent exited with status $?" >&2
apid=
grep '"type":"summary"' "$ev" | tail -n1 | jq -c '{policy: .policy, events: {written: .events.written, lost: .events.lost}}' >&3
