#!/usr/bin/env bash
# Tiers 1 (BPF LSM) and 2 (fmod_ret) measured in QEMU guests, as ratios to the guest's own
# baseline (absolute numbers under emulation mean nothing). Reuses tests/vm/ as it is: its kernel
# cache (fetch-kernel.sh), its initramfs builder (mkinitramfs.sh, with tools/bench/guest.sh as the
# payload and agbench added) and its boot script (boot.sh); the results come back on the guest's
# results port.
#
# Usage: tools/bench/vm.sh [--agent PATH] [--agbench PATH] [--out DIR] [--kernels "SUITE..."]
#                          [--tiers "TIER..."] [--rounds N] [--timeout SECONDS] [--arch amd64|arm64]
# --arch arm64: arm64 guests (tests/vm/README.md "arm64 guests"), the agent and agbench built for
# arm64 (make bench-vm-arm64, 6.12 only by default: arm64 6.1 has no tier 1 or 2 to measure).
# Defaults: $BUILD/accelguard, $BUILD/agbench, $BUILD/bench/vm, AG_VM_KERNELS ("bookworm
# bookworm-backports"), "lsm fmod_ret", 3 rounds, 240 s a boot. Boots run one at a time: a guest
# under software emulation sees the host's contention as its own time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vmdir=$(cd "$here/../../tests/vm" && pwd)
BUILD=${BUILD:-build}
agent=$BUILD/accelguard agbench=$BUILD/agbench out=$BUILD/bench/vm
kernels=${AG_VM_KERNELS:-bookworm bookworm-backports} tiers="lsm fmod_ret" rounds=3 timeout=240 arch=amd64
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--agbench) agbench=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--kernels) kernels=$2; shift 2 ;;
	--tiers) tiers=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: vm: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
export AG_VM_CACHE=${AG_VM_CACHE:-$BUILD/vm-cache}
mkdir -p "$out"
out=$(cd "$out" && pwd)
res=$out/results.md

declare -A kdir label
for k in $kernels; do
	kdir[$k]=$("$vmdir/fetch-kernel.sh" --arch "$arch" "$k")
	label[$k]=$(cat "${kdir[$k]}/label")
done
bb=()
if [ "$arch" != amd64 ] || [ "$(uname -m)" != x86_64 ]; then
	set -- $kernels
	bb=(--busybox "$("$vmdir/fetch-kernel.sh" --arch "$arch" --busybox "${1%-backports}")")
fi
"$vmdir/mkinitramfs.sh" --arch "$arch" "${bb[@]}" --agent "$agent" --itest "$here/guest.sh" \
	--add "$agbench:/ag/agbench" "$out/initramfs.cpio"

: > "$out/all.tsv"
: > "$out/checks.txt"
for k in $kernels; do
	for t in $tiers; do
		d=$out/${label[$k]}-$t
		mkdir -p "$d"
		s=$SECONDS rc=0
		echo "bench: vm: ${label[$k]} $t ..." >&2
		"$vmdir/boot.sh" --arch "$arch" --kernel "${kdir[$k]}" --initrd "$out/initramfs.cpio" --tier "$t" --out "$d" \
			--timeout "$timeout" --args "rounds=$rounds" > "$d/qemu.log" 2>&1 || rc=$?
		tr -d '\r' < "$d/results.log" > "$d/results.txt" || true
		got=$(sed -n 's/^@@BENCH-READY .*"tier":"\([a-z_]*\)".*/\1/p' "$d/results.txt" | head -n1)
		echo "bench: vm: ${label[$k]} $t: $((SECONDS - s)) s, QEMU exit $rc, agent tier ${got:-none}" >&2
		tl=$t
		if [ "$got" != "$t" ]; then
			# the numbers are still those of the tier the agent ran: kept, labelled so
			echo "FAIL vm/${label[$k]}/$t: the agent chose tier '${got:-none}' in this boot (QEMU exit $rc; see $d/results.txt, $d/console.log)" >> "$out/checks.txt"
			[ -n "$got" ] || continue
			tl="$t boot, agent ran $got"
		fi
		sed -n 's/^@@BENCH-CHECK /vm\/'"${label[$k]}"'\/'"$t"': /p' "$d/results.txt" |
			sed -e 's/^\(vm[^:]*\): ok /ok   \1: /' -e 's/^\(vm[^:]*\): FAIL /FAIL \1: /' >> "$out/checks.txt"
		awk -F'\t' -v k="${label[$k]}" -v t="$tl" '$1 == "@@BENCH" { print k "\t" t "\t" $0 }' "$d/results.txt" |
			cut -f1,2,4- >> "$out/all.tsv"
	done
done

# per kernel, tier and workload: the lowest of the rounds' medians for each mode over the lowest of
# its own baseline runs (the run just before it in each round; the estimator of run.sh), the
# highest round in brackets
{
	echo "| kernel | tier | workload | baseline ns/op (guest) | audit ratio | enforce ratio |"
	echo "|---|---|---|---|---|---|"
	awk -F'\t' '
		{ key = $1 SUBSEP $2 SUBSEP $4; lab = $3
		  if (!(key in seen)) { seen[key] = 1; order[++no] = key }
		  k = key SUBSEP lab; n[k]++
		  if (n[k] == 1 || $5 < lo[k]) lo[k] = $5
		  if (n[k] == 1 || $5 > hi[k]) hi[k] = $5 }
		END {
			for (o = 1; o <= no; o++) {
				key = order[o]; split(key, K, SUBSEP)
				b1 = lo[key SUBSEP "base-audit"]; b2 = lo[key SUBSEP "base-enforce"]
				printf "| %s | %s | %s | %.0f |", K[1], K[2], K[3], b1 < b2 ? b1 : b2
				split("audit enforce", M, " ")
				for (i = 1; i <= 2; i++) {
					k = key SUBSEP M[i]; b = lo[key SUBSEP "base-" M[i]]
					if (n[k] && b) printf " %.2f (%.2f) |", lo[k] / b, hi[k] / b; else printf " - |"
				}
				printf "\n"
			}
		}' "$out/all.tsv"
	echo
	echo "ratio: the lowest of the rounds' medians (thread CPU time in the guest) over the lowest of the"
	echo "baseline runs made just before that mode, the highest round in brackets. Baseline: guest ns"
	echo "under emulation, only for scale."
	echo
	echo "Checks:"
	sed 's/^/    /' "$out/checks.txt"
} > "$res"
cat "$res"
! grep -q '^FAIL' "$out/checks.txt"
