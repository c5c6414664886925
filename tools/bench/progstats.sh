#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# What each of accelguard's BPF programs costs per run, measured by the kernel itself
# (kernel.bpf_stats_enabled: run_cnt and run_time_ns of every program), while COMMAND runs.
#
# Usage: tools/bench/progstats.sh [--out FILE] [--holder COMM] -- COMMAND [ARGS...]
#   e.g. tools/bench/progstats.sh -- tools/bench/run.sh --stages micro --rounds 1 --tools audit
#
# The statistics are cumulative while a program is loaded, so they are sampled every 0.2 s and the
# last sample of each program id is kept (at most the last 0.2 s of a program's life is lost: an
# average, not a count). Only programs that a process named COMM (default accelguard) started by
# COMMAND holds (a program or link descriptor: /proc/PID/fdinfo) are reported: another agent or
# BPF user on the machine is left out. The time is the program's own (the
# kernel reads the clock around the program, so turning the statistics on adds its own cost to
# every run; compare programs with each other, not with the whole-syscall figures of run.sh).
# Each program is reported under the executable of the process that holds it, so that two agents
# run by COMMAND (run.sh --agent-before: a before and an after build) are told apart.
# Output: a table (markdown) on stdout and in FILE when given. Needs root and bpftool.
set -euo pipefail

out= holder=accelguard
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--holder) holder=$2; shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "progstats: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "progstats: no command (--help)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "progstats: needs root (kernel.bpf_stats_enabled, bpftool)" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "progstats: bpftool not installed" >&2; exit 1; }
command -v /usr/bin/python3 >/dev/null || { echo "progstats: /usr/bin/python3 not found" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ag-progstats.XXXXXX)
stats0=$(cat /proc/sys/kernel/bpf_stats_enabled)
cmd=
cleanup() {
	# stopped early (an error, a signal): COMMAND does not run on unmeasured, with statistics off
	if [ -n "$cmd" ] && kill -0 "$cmd" 2>/dev/null; then
		kill -TERM "$cmd" 2>/dev/null
		wait "$cmd" 2>/dev/null
	fi
	echo "$stats0" > /proc/sys/kernel/bpf_stats_enabled
	rm -rf "$tmp"
}
trap cleanup EXIT
echo 1 > /proc/sys/kernel/bpf_stats_enabled

# PID descends from COMMAND (another agent on the machine does not)
descends() {
	local p=$1
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[ "$p" = "$cmd" ] && return 0
		p=$(awk '{ print $4 }' /proc/"$p"/stat 2>/dev/null)
	done
	return 1
}

"$@" &
cmd=$!
n=0
while kill -0 "$cmd" 2>/dev/null; do
	bpftool prog show --json > "$tmp/s.$n" 2>/dev/null || true
	# the programs COMM's processes hold: their descriptors' (programs', links') prog_id
	for pid in $(pgrep -x "$holder" || true); do
		descends "$pid" || continue
		exe=$(readlink /proc/"$pid"/exe 2>/dev/null || echo "?")
		# a descriptor closed between the glob and the read is no error (the agent's start-up
		# opens and closes many)
		{ cat /proc/"$pid"/fdinfo/* 2>/dev/null || true; } | awk -v exe="$exe" '$1 == "prog_id:" { print $2, exe }'
	done | sort -u > "$tmp/ids.$n"
	n=$((n + 1))
	sleep 0.2
done
rc=0
wait "$cmd" || rc=$?
cmd=

/usr/bin/python3 - "$tmp" "$n" "$holder" > "$tmp/table" <<'EOF'
import json, sys
d, n, holder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
last = {}  # prog id -> (holder's executable, name, type, run_cnt, run_time_ns)
for i in range(n):
    try:
        progs = json.load(open("%s/s.%d" % (d, i)))
    except Exception:
        continue
    ids = {}
    try:
        for line in open("%s/ids.%d" % (d, i)):
            f = line.split(None, 1)
            if f:
                ids[int(f[0])] = f[1].strip() if len(f) > 1 else "?"
    except Exception:
        pass
    for p in progs:
        if p["id"] not in ids:
            continue
        last[p["id"]] = (ids[p["id"]], p.get("name", "?"), p.get("type", "?"), p.get("run_cnt", 0), p.get("run_time_ns", 0))
by = {}  # (executable, name, type) -> [runs, ns, loads]
for exe, name, typ, cnt, ns in last.values():
    b = by.setdefault((exe, name, typ), [0, 0, 0])
    b[0] += cnt
    b[1] += ns
    b[2] += 1
print("| agent | program | type | runs | ns per run | loads |")
print("| --- | --- | --- | ---: | ---: | ---: |")
for (exe, name, typ), (cnt, ns, loads) in sorted(by.items(), key=lambda kv: (kv[0][0], -kv[1][0])):
    if cnt:
        print("| %s | `%s` | %s | %d | %.1f | %d |" % (exe, name, typ, cnt, ns / cnt, loads))
idle = sorted("%s (%s)" % (name, exe) for (exe, name, typ), (cnt, ns, loads) in by.items() if not cnt)
if idle:
    print("\nloaded, never run: " + ", ".join("`%s`" % x for x in idle))
if not by:
    print("no program held by a process named '%s' was seen" % holder)
EOF
cat "$tmp/table"
[ -z "$out" ] || cp "$tmp/table" "$out"
exit "$rc"
