#!/usr/bin/env bash
# The micro benchmark in an amd64 and an arm64 guest, the same method for both, side by side
# (`make bench-vm-arches`; BENCHMARKS.md, "amd64 and arm64 guests side by side"). Runs
# tools/bench/vm.sh once per architecture (one boot at a time, under -icount by default: the
# guests' clocks count executed instructions, so host load does not move them), then joins their
# ratios.tsv into DIR/results.md.
#
# Usage: tools/bench/arches.sh --amd64 AGENT,AGBENCH --arm64 AGENT,AGBENCH [--out DIR]
#                              [--arches "amd64 arm64"] [--append]
#                              [vm.sh options: --kernels --tiers --rounds --timeout --icount]
# --arches: the architectures measured now (default both); the table joins whatever DIR/amd64 and
# DIR/arm64 hold. --append: vm.sh --append (add tiers or rounds to DIR's measurements).
# Defaults: $BUILD/bench/arches, and vm.sh's defaults but for --kernels bookworm-backports (arm64
# 6.1 has no tier 1 or 2), --tiers "lsm fmod_ret tracepoint", --rounds 5, --timeout 1200.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
out=$BUILD/bench/arches
declare -A payload
arches="amd64 arm64"
vmargs=(--kernels bookworm-backports --tiers "lsm fmod_ret tracepoint" --rounds 5 --timeout 1200)
while [ $# -gt 0 ]; do
	case $1 in
	--amd64|--arm64) payload[${1#--}]=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--arches) arches=$2; shift 2 ;;
	--append) vmargs+=(--append); shift ;;
	--kernels|--tiers|--rounds|--timeout|--icount) vmargs+=("$1" "$2"); shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: arches: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
rc=0
for a in $arches; do
	p=${payload[$a]:-}
	[ -n "$p" ] && [ "${p#*,}" != "$p" ] ||
		{ echo "bench: arches: --$a AGENT,AGBENCH is needed (the $a agent and agbench)" >&2; exit 2; }
	s=$SECONDS
	BUILD=$BUILD "$here/vm.sh" --arch "$a" --agent "${p%%,*}" --agbench "${p#*,}" --out "$out/$a" "${vmargs[@]}" \
		> "$out/$a.log" 2>&1 || rc=1
	echo "bench: arches: $a: $((SECONDS - s)) s (exit $rc; $out/$a/results.md)" >&2
done

# one row per kernel, tier and workload that both architectures measured
{
	head -n1 "$out/amd64/results.md"
	head -n1 "$out/arm64/results.md"
	echo
	echo "| kernel | tier | workload | audit amd64 | audit arm64 | enforce amd64 | enforce arm64 |"
	echo "|---|---|---|---|---|---|---|"
	awk -F'\t' '
		function cell(f, i) { return f[i + 3] ? sprintf("%s (%s..%s; %d)", f[i], f[i + 1], f[i + 2], f[i + 3]) : "-" }
		FNR == NR { amd[$1 SUBSEP $2 SUBSEP $3] = $0; next }
		($1 SUBSEP $2 SUBSEP $3) in amd {
			split(amd[$1 SUBSEP $2 SUBSEP $3], A, "\t"); split($0, R, "\t")
			printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, cell(A, 5), cell(R, 5), cell(A, 9), cell(R, 9)
		}' "$out/amd64/ratios.tsv" "$out/arm64/ratios.tsv"
	echo
	echo "Each cell: the median over the rounds of the paired ratio (with the agent / no agent, thread"
	echo "CPU time in the guest), the rounds' lowest..highest and their number in brackets; emulated"
	echo "guests (TCG), so under -icount these are ratios of executed guest instructions, not of time"
	echo "on hardware."
	echo
	echo "Checks:"
	for a in amd64 arm64; do sed "s/^/    $a: /" "$out/$a/checks.txt"; done
} > "$out/results.md"
cat "$out/results.md"
exit $rc
