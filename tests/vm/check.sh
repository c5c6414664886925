#!/usr/bin/env bash
# The VM stage: boot each Debian kernel twice (tier 1: BPF LSM active; tier 2: BPF LSM not in the
# LSM list) with the agent and the integration tests in an initramfs, and report every guest test
# as "ok - vm/KERNEL/TIER/NAME", then "N passed, N failed[, N skipped]". See tests/vm/README.md.
#
# Usage: tests/vm/check.sh [--agent PATH] [--itest PATH] [--ioctl32 PATH] [--kernels "SUITE..."]
#                          [--tiers "TIER..."] [--filter NAME] [--args a,b] [--timeout SECONDS]
#                          [--jobs N] [--shell]
# Defaults: $BUILD/accelguard, $BUILD/itest, the 32-bit helper ioctl32 beside itest (as
# /ag/ioctl32, beside /ag/itest in the guest; left out when there is none), AG_VM_KERNELS ("bookworm bookworm-backports"),
# AG_VM_TIERS ("lsm fmod_ret tracepoint"), AG_VM_TIMEOUT (600 s a boot), AG_VM_JOBS (number of CPUs),
# AG_VM_ARGS (extra itest arguments, comma-separated: "--timeout-scale,3").
# Logs: $BUILD/vm/<kernel>-<tier>/{console,results}.log, summary in $BUILD/vm/report.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
agent=$BUILD/accelguard itest=$BUILD/itest ioctl32=
kernels=${AG_VM_KERNELS:-bookworm bookworm-backports}
tiers=${AG_VM_TIERS:-lsm fmod_ret tracepoint}
timeout=${AG_VM_TIMEOUT:-600} jobs=${AG_VM_JOBS:-$(nproc)} filter= shell=0
# itest's waits for the agent, scaled for software emulation (only a failing test waits that long)
args=${AG_VM_ARGS---timeout-scale,3}
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--itest) itest=$2; shift 2 ;;
	--ioctl32) ioctl32=$2; shift 2 ;;
	--kernels) kernels=$2; shift 2 ;;
	--tiers) tiers=$2; shift 2 ;;
	--filter) filter=$2; shift 2 ;;
	--args) args=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
export AG_VM_CACHE=${AG_VM_CACHE:-$BUILD/vm-cache}
vm=$BUILD/vm
mkdir -p "$vm"
start=$SECONDS

declare -A kdir label
for k in $kernels; do
	kdir[$k]=$("$here/fetch-kernel.sh" "$k")
	label[$k]=$(cat "${kdir[$k]}/label")
done
ioctl32=${ioctl32:-$(dirname "$itest")/ioctl32}
adds=()
if [ -f "$ioctl32" ]; then adds+=(--add "$ioctl32:/ag/ioctl32"); fi
"$here/mkinitramfs.sh" --agent "$agent" --itest "$itest" "${adds[@]}" "$vm/initramfs.cpio"

# The accelerator, once per run and by effect: the first kernel is booted under KVM and KVM is
# chosen only when its /init shows a sign of life (accel.sh); AG_VM_ACCEL=kvm|tcg forces one.
set -- $kernels
accel=$("$here/accel.sh" --kernel "${kdir[$1]}" --initrd "$vm/initramfs.cpio" --out "$vm/accel-probe" \
	2>"$vm/accel.txt") || { cat "$vm/accel.txt" >&2; exit 1; }
cat "$vm/accel.txt" >&2

if [ "$shell" = 1 ]; then
	set -- $kernels; k=$1
	set -- $tiers; t=$1
	echo "vm: shell in ${label[$k]} ($k), tier $t; Ctrl-a x quits QEMU" >&2
	AG_VM_ACCEL=$accel exec "$here/boot.sh" --kernel "${kdir[$k]}" --initrd "$vm/initramfs.cpio" --tier "$t" \
		--out "$vm/shell" --shell
fi

# Boots run in parallel, one vCPU each (TCG runs a vCPU on one host thread).
boots=()
for k in $kernels; do for t in $tiers; do boots+=("$k:$t"); done; done
running=0
for b in "${boots[@]}"; do
	k=${b%%:*} t=${b#*:} d=$vm/${label[$k]}-$t
	mkdir -p "$d"
	(
		boot() { # ACCEL
			rc=0
			AG_VM_ACCEL=$1 "$here/boot.sh" --kernel "${kdir[$k]}" --initrd "$vm/initramfs.cpio" --tier "$t" \
				--out "$d" --timeout "$timeout" ${filter:+--filter "$filter"} ${args:+--args "$args"} \
				>"$d/qemu.log" 2>&1 || rc=$?
		}
		s=$SECONDS
		rm -f "$d/retried"
		boot "$accel"
		# A boot that did not run to its end under KVM (the probe passed, yet KVM can still stop a
		# guest later) is retried once under TCG; the report says so. A boot that ran to its end is
		# judged as it is: failing tests are never retried.
		if [ "$accel" = kvm ] && ! grep -q '^@@AG-END' "$d/results.log" 2>/dev/null; then
			for f in console.log results.log qemu.log; do mv -f "$d/$f" "$d/kvm-$f" 2>/dev/null || true; done
			echo "under KVM the guest did not run to its end (QEMU exit $rc, $((SECONDS - s))s; logs kvm-*.log); retried under TCG" > "$d/retried"
			boot tcg
		fi
		echo "$rc" > "$d/rc"
		echo $((SECONDS - s)) > "$d/seconds"
	) &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

: > "$vm/report.txt"
sed 's/^/# /' "$vm/accel.txt" >> "$vm/report.txt"
for b in "${boots[@]}"; do
	k=${b%%:*} t=${b#*:} d=$vm/${label[$k]}-$t
	echo "# vm/${label[$k]}/$t: ${kdir[$k]##*/} $(cat "${kdir[$k]}/release"), $(cat "$d/accel" 2>/dev/null || echo "$accel"), $(cat "$d/seconds")s, QEMU exit $(cat "$d/rc")" \
		>> "$vm/report.txt"
	if [ -s "$d/retried" ]; then echo "# vm/${label[$k]}/$t: $(cat "$d/retried")" >> "$vm/report.txt"; fi
	if [ -s "$d/qemu.log" ]; then sed 's/^/# qemu: /' "$d/qemu.log" >> "$vm/report.txt"; fi
	"$here/report.sh" --prefix "vm/${label[$k]}/$t" --tier "$t" --dir "$d" --rc "$(cat "$d/rc")" \
		--timeout "$timeout" >> "$vm/report.txt" || true
done
cat "$vm/report.txt"
passed=$(grep -c '^ok - ' "$vm/report.txt" || true)
failed=$(grep -c '^not ok - ' "$vm/report.txt" || true)
skipped=$(grep -c '^skip - ' "$vm/report.txt" || true)
echo "# vm: ${#boots[@]} boots in $((SECONDS - start))s under ${accel^^}$(n=$(cat "$vm"/*/retried 2>/dev/null | wc -l); [ "$n" = 0 ] || echo ", $n retried under TCG"); logs in $vm"
if [ "$skipped" = 0 ]; then echo "$passed passed, $failed failed"; else echo "$passed passed, $failed failed, $skipped skipped"; fi
[ "$failed" = 0 ]
