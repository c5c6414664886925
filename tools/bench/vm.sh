#!/usr/bin/env bash
# Tiers 1 (BPF LSM) and 2 (fmod_ret), and 3 on request, measured in QEMU guests, as ratios to
# the guest's own baseline (absolute numbers under emulation mean nothing). Reuses tests/vm/ as it
# is: its kernel cache (fetch-kernel.sh), its initramfs builder (mkinitramfs.sh, with
# tools/bench/guest.sh as the payload and agbench added) and its boot script (boot.sh); the
# results come back on the guest's results port.
#
# Usage: tools/bench/vm.sh [--agent PATH] [--agbench PATH] [--out DIR] [--kernels "SUITE..."]
#                          [--tiers "TIER..."] [--rounds N] [--timeout SECONDS] [--arch amd64|arm64]
#                          [--icount SHIFT|off] [--append] [--reads every_use|arrival]
# --icount SHIFT (default 0): QEMU's -icount shift=SHIFT,sleep=off under TCG: the guest's clocks
# follow the instructions it executes (2^SHIFT ns each), so the host's load no longer moves its
# timings and a ratio is one of executed guest instructions (BENCHMARKS.md, "Guests under
# -icount"); off: TCG or KVM as tests/vm chooses, the guest's clocks the host's. --append: add this
# run's boots to the measurements already in --out (another tier, a boot that ran out of time)
# instead of starting anew; a table row counts the rounds it has.
# --reads MODE: the agent's "reads:" setting in the guests (README "Configuration"); the run's
# labels carry it (tier "lsm/arrival").
# --arch arm64: arm64 guests (tests/vm/README.md "arm64 guests"), the agent and agbench built for
# arm64 (make bench-vm-arm64, 6.12 only by default: arm64 6.1 has no tier 1 or 2 to measure).
# Defaults: $BUILD/accelguard, $BUILD/agbench, $BUILD/bench/vm, AG_VM_KERNELS ("bookworm
# bookworm-backports"), "lsm fmod_ret", 3 rounds, 600 s a boot (under -icount a boot of 5 rounds took
# 245 s on the loaded 2-core development machine). --tiers tracepoint: tier 3 forced (the
# guest's /init passes --tier=tracepoint to the agent). Boots run one at a time: without -icount
# a guest under software emulation sees the host's contention as its own time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vmdir=$(cd "$here/../../tests/vm" && pwd)
BUILD=${BUILD:-build}
agent=$BUILD/accelguard agbench=$BUILD/agbench out=$BUILD/bench/vm
kernels=${AG_VM_KERNELS:-bookworm bookworm-backports} tiers="lsm fmod_ret" rounds=3 timeout=600 arch=amd64 icount=0 append=0 reads=
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
	--icount) icount=$2; shift 2 ;;
	--append) append=1; shift ;;
	--reads) reads=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: vm: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
export AG_VM_CACHE=${AG_VM_CACHE:-$BUILD/vm-cache}
case $reads in
''|every_use|arrival) ;;
*) echo "bench: vm: --reads must be every_use or arrival, not '$reads'" >&2; exit 2 ;;
esac
case $icount in
off) ;;
[0-9]|10) export AG_VM_ACCEL=tcg AG_VM_ICOUNT=shift=$icount,sleep=off ;;
*) echo "bench: vm: --icount must be a shift 0..10 or off, not '$icount'" >&2; exit 2 ;;
esac
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

if [ "$append" = 0 ]; then : > "$out/all.tsv"; : > "$out/checks.txt"; fi
for k in $kernels; do
	for t in $tiers; do
		d=$out/${label[$k]}-$t${reads:+-$reads}
		mkdir -p "$d"
		s=$SECONDS rc=0
		echo "bench: vm: ${label[$k]} $t ..." >&2
		"$vmdir/boot.sh" --arch "$arch" --kernel "${kdir[$k]}" --initrd "$out/initramfs.cpio" --tier "$t" --out "$d" \
			--timeout "$timeout" --args "rounds=$rounds${reads:+,reads=$reads}" > "$d/qemu.log" 2>&1 || rc=$?
		tr -d '\r' < "$d/results.log" > "$d/results.txt" || true
		got=$(sed -n 's/^@@BENCH-READY .*"tier":"\([a-z_]*\)".*/\1/p' "$d/results.txt" | head -n1)
		echo "bench: vm: ${label[$k]} $t: $((SECONDS - s)) s, QEMU exit $rc, agent tier ${got:-none}" >&2
		tl=$t${reads:+/$reads}
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

# per kernel, tier and workload, each round's ratio: the mode's median over the median of its own
# baseline run, made just before it in that round (guest.sh interleaves them); reported as the
# median of the rounds' ratios, their lowest..highest beside it (ratios.tsv: the same, for
# tools/bench/arches.sh)
awk -F'\t' '
	{ key = $1 SUBSEP $2 SUBSEP $4; lab = $3
	  if (!(key in seen)) { seen[key] = 1; order[++no] = key }
	  k = key SUBSEP lab; v[k, ++n[k]] = $5 }
	function med(a, m,   i, j, t) { # sorts a[1..m]
		for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	END {
		for (o = 1; o <= no; o++) {
			key = order[o]; split(key, K, SUBSEP)
			m = 0; delete b
			for (i = 1; i <= n[key SUBSEP "base-audit"]; i++) b[++m] = v[key SUBSEP "base-audit", i]
			for (i = 1; i <= n[key SUBSEP "base-enforce"]; i++) b[++m] = v[key SUBSEP "base-enforce", i]
			printf "%s\t%s\t%s\t%.0f", K[1], K[2], K[3], m ? med(b, m) : 0
			split("audit enforce", M, " ")
			for (x = 1; x <= 2; x++) {
				k = key SUBSEP M[x]; bk = key SUBSEP "base-" M[x]; m = 0; delete r
				for (i = 1; i <= n[k] && i <= n[bk]; i++) if (v[bk, i] > 0) r[++m] = v[k, i] / v[bk, i]
				if (m) { md = med(r, m); printf "\t%.2f\t%.2f\t%.2f\t%d", md, r[1], r[m], m }
				else printf "\t-\t-\t-\t0"
			}
			printf "\n"
		}
	}' "$out/all.tsv" > "$out/ratios.tsv"
{
	if [ "$icount" = off ]; then how="TCG or KVM, the host's clock"; else how="TCG, -icount shift=$icount,sleep=off: 1 ns = $((1 << icount)) guest instruction(s)"; fi
	echo "$arch guests ($how)"
	echo
	echo "| kernel | tier | workload | baseline ns/op (guest) | audit ratio | enforce ratio | rounds |"
	echo "|---|---|---|---|---|---|---|"
	awk -F'\t' '{ printf "| %s | %s | %s | %s |", $1, $2, $3, $4
		for (i = 5; i <= 9; i += 4) printf($(i + 3) ? " %s (%s..%s) |" : " - |", $i, $(i + 1), $(i + 2))
		printf " %d |\n", $8 }' "$out/ratios.tsv"
	echo
	echo "ratio: the median over the rounds of (the mode's median, thread CPU time in the guest, over that"
	echo "of the baseline run made just before it in the same round), the rounds' lowest..highest in"
	echo "brackets. Baseline: the median of every baseline run, guest ns under emulation, only for scale."
	echo
	echo "Checks:"
	sed 's/^/    /' "$out/checks.txt"
} > "$res"
cat "$res"
! grep -q '^FAIL' "$out/checks.txt"
