#!/usr/bin/env bash
# The VM stage: boot each Debian kernel three times (tier 1: BPF LSM active; tier 2: BPF LSM not in
# the LSM list; tier 3 forced) with the agent and the integration tests in an initramfs, and report
# every guest test as "ok - vm/KERNEL/TIER/NAME" (arm64: vm/arm64/KERNEL/TIER/NAME), then
# "N passed, N failed[, N skipped]". See tests/vm/README.md.
#
# Usage: tests/vm/check.sh [--arch amd64|arm64] [--agent PATH] [--itest PATH] [--ioctl32 PATH]
#                          [--kernels "SUITE..."] [--tiers "TIER..."] [--filter NAME] [--args a,b]
#                          [--timeout SECONDS] [--jobs N] [--shell] [--add HOST:GUEST]...
# --add: one more file in the initramfs (mkinitramfs.sh --add; a guest scenario's files, e.g.
# tests/vm/vfio.sh's modules and its /ag/setup.d script, which init runs before the tests).
# --arch: the guests' architecture (default amd64); the binaries must be built for it (make
# ARCH=arm64), the guests' busybox and kernels are fetched for it. A kernel that cannot attach
# BPF trampolines (arm64 without DYNAMIC_FTRACE_WITH_DIRECT_CALLS, before 6.4) gets one boot, the
# lsm one, expecting the agent to fall back to tier 3 by effect; its fmod_ret and tracepoint boots
# are "skip" lines saying so.
# Defaults: $BUILD/accelguard, $BUILD/itest, the 32-bit helper ioctl32 beside itest (as
# /ag/ioctl32, beside /ag/itest in the guest; left out when there is none), AG_VM_KERNELS ("bookworm bookworm-backports"),
# AG_VM_TIERS ("lsm fmod_ret tracepoint"), AG_VM_TIMEOUT (1200 s a boot; 1500 for arm64 guests
# emulated on x86-64), AG_VM_JOBS (number of CPUs),
# AG_VM_ARGS (extra itest arguments, comma-separated: "--timeout-scale,3"; 5 for arm64 guests
# emulated on x86-64).
# Logs: $BUILD/vm/<kernel>-<tier>/{console,results}.log, summary in $BUILD/vm/report.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
agent=$BUILD/accelguard itest=$BUILD/itest ioctl32= arch=amd64
kernels=${AG_VM_KERNELS:-bookworm bookworm-backports}
tiers=${AG_VM_TIERS:-lsm fmod_ret tracepoint}
args_given=0 extra_adds=()
timeout=${AG_VM_TIMEOUT:-} jobs=${AG_VM_JOBS:-$(nproc)} filter= shell=0
# itest's waits for the agent, scaled for software emulation (only a failing test waits that long)
args=${AG_VM_ARGS---timeout-scale,3}
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--itest) itest=$2; shift 2 ;;
	--ioctl32) ioctl32=$2; shift 2 ;;
	--kernels) kernels=$2; shift 2 ;;
	--tiers) tiers=${2//,/ }; shift 2 ;; # "lsm fmod_ret" or lsm,fmod_ret
	--filter) filter=$2; shift 2 ;;
	--args) args=$2 args_given=1; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	--add) extra_adds+=(--add "$2"); shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
# a boot's limit: 1200 s (an amd64 boot took 300 to 565 s beside the arm64 guests and the other
# stages, and a boot killed at its limit counts none of its tests); arm64 guests emulated on x86-64
# take 1.5 to 3 times an amd64 guest's
# time (6.1's, all of it at tier 3 under the hammer tests, the longest: 1121 s on a loaded
# 2-core machine, tests/vm/README.md), 1500 s, and itest's waits scaled by 5, not 3
emulated=0
[ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] && emulated=1
[ -n "$timeout" ] || { if [ "$emulated" = 1 ]; then timeout=1500; else timeout=1200; fi; }
[ -n "${AG_VM_ARGS+set}" ] || [ "$args_given" = 1 ] || [ "$emulated" = 0 ] || args=--timeout-scale,5
export AG_VM_CACHE=${AG_VM_CACHE:-$BUILD/vm-cache}
# amd64 keeps the names it always had (vm/6.1/lsm, $BUILD/vm); another architecture is named in
# both (vm/arm64/6.1/lsm, $BUILD/vm/arm64)
case $arch in
amd64) vm=$BUILD/vm tag= ;;
arm64) vm=$BUILD/vm/arm64 tag=arm64/ ;;
*) echo "vm: --arch must be amd64 or arm64, not '$arch'" >&2; exit 2 ;;
esac
mkdir -p "$vm"
start=$SECONDS

declare -A kdir label notramp
for k in $kernels; do
	kdir[$k]=$("$here/fetch-kernel.sh" --arch "$arch" "$k")
	label[$k]=$(cat "${kdir[$k]}/label")
	# arm64 attaches BPF trampolines (fentry, fmod_ret, BPF LSM) through ftrace direct calls
	notramp[$k]=
	if [ "$arch" = arm64 ] && ! grep -q '^CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y' "${kdir[$k]}/config"; then
		notramp[$k]=1
	fi
done
ioctl32=${ioctl32:-$(dirname "$itest")/ioctl32}
adds=()
if [ -f "$ioctl32" ]; then adds+=(--add "$ioctl32:/ag/ioctl32"); fi
if [ "$arch" != amd64 ] || [ "$(uname -m)" != x86_64 ]; then
	set -- $kernels
	# busybox-static is in the base suite, not in bookworm-backports
	adds+=(--busybox "$("$here/fetch-kernel.sh" --arch "$arch" --busybox "${1%-backports}")")
fi
"$here/mkinitramfs.sh" --arch "$arch" --agent "$agent" --itest "$itest" "${adds[@]}" "${extra_adds[@]}" "$vm/initramfs.cpio"

# The accelerator, once per run and by effect: the first kernel is booted under KVM and KVM is
# chosen only when its /init shows a sign of life (accel.sh); AG_VM_ACCEL=kvm|tcg forces one.
set -- $kernels
accel=$("$here/accel.sh" --arch "$arch" --kernel "${kdir[$1]}" --initrd "$vm/initramfs.cpio" --out "$vm/accel-probe" \
	2>"$vm/accel.txt") || { cat "$vm/accel.txt" >&2; exit 1; }
cat "$vm/accel.txt" >&2

if [ "$shell" = 1 ]; then
	set -- $kernels; k=$1
	set -- $tiers; t=$1
	echo "vm: shell in ${label[$k]} ($k), tier $t; Ctrl-a x quits QEMU" >&2
	AG_VM_ACCEL=$accel exec "$here/boot.sh" --arch "$arch" --kernel "${kdir[$k]}" --initrd "$vm/initramfs.cpio" --tier "$t" \
		--out "$vm/shell" --shell
fi

# Boots run in parallel, one vCPU each (TCG runs a vCPU on one host thread).
# expect[k:t]: the tier the agent must choose in that boot; skip_why[k:t]: why it does not run
boots=() nskip=0
declare -A expect skip_why
for k in $kernels; do for t in $tiers; do
	expect[$k:$t]=$t
	if [ -n "${notramp[$k]}" ]; then
		case $t in
		lsm) expect[$k:$t]=tracepoint ;;
		*) skip_why[$k:$t]="this kernel cannot attach BPF trampolines (no DYNAMIC_FTRACE_WITH_DIRECT_CALLS: arm64 before 6.4), so tiers 1 and 2 cannot load; the lsm boot tests the fall back to tier 3"
		   nskip=$((nskip + 1)) ;;
		esac
	fi
	boots+=("$k:$t")
done; done
running=0
for b in "${boots[@]}"; do
	k=${b%%:*} t=${b#*:} d=$vm/${label[$k]}-$t
	[ -z "${skip_why[$b]:-}" ] || continue
	mkdir -p "$d"
	(
		boot() { # ACCEL
			rc=0
			AG_VM_ACCEL=$1 "$here/boot.sh" --arch "$arch" --expect "${expect[$b]}" --kernel "${kdir[$k]}" --initrd "$vm/initramfs.cpio" --tier "$t" \
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
	k=${b%%:*} t=${b#*:} d=$vm/${label[$k]}-$t p=vm/$tag${label[$k]}/$t
	if [ -n "${skip_why[$b]:-}" ]; then
		echo "skip - $p: ${skip_why[$b]}" >> "$vm/report.txt"
		continue
	fi
	echo "# $p: ${kdir[$k]##*/} $(cat "${kdir[$k]}/release"), $(cat "$d/accel" 2>/dev/null || echo "$accel"), $(cat "$d/seconds")s, QEMU exit $(cat "$d/rc")" \
		>> "$vm/report.txt"
	if [ "${expect[$b]}" != "$t" ]; then echo "# $p: the agent must choose ${expect[$b]} (${notramp[$k]:+no BPF trampolines on this kernel})" >> "$vm/report.txt"; fi
	if [ -s "$d/retried" ]; then echo "# $p: $(cat "$d/retried")" >> "$vm/report.txt"; fi
	if [ -s "$d/qemu.log" ]; then sed 's/^/# qemu: /' "$d/qemu.log" >> "$vm/report.txt"; fi
	"$here/report.sh" --prefix "$p" --tier "${expect[$b]}" --dir "$d" --rc "$(cat "$d/rc")" \
		--timeout "$timeout" >> "$vm/report.txt" || true
done
cat "$vm/report.txt"
passed=$(grep -c '^ok - ' "$vm/report.txt" || true)
failed=$(grep -c '^not ok - ' "$vm/report.txt" || true)
skipped=$(grep -c '^skip - ' "$vm/report.txt" || true)
echo "# vm: $arch, $((${#boots[@]} - nskip)) boots in $((SECONDS - start))s under ${accel^^}$(n=$(cat "$vm"/*/retried 2>/dev/null | wc -l); [ "$n" = 0 ] || echo ", $n retried under TCG"); logs in $vm"
if [ "$skipped" = 0 ]; then echo "$passed passed, $failed failed"; else echo "$passed passed, $failed failed, $skipped skipped"; fi
[ "$failed" = 0 ]
