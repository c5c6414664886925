#!/usr/bin/env bash
# Choose the guests' accelerator by effect: KVM only when a real guest makes progress under it.
#
# Usage: tests/vm/accel.sh --kernel KDIR --initrd FILE [--arch amd64|arm64] [--deadline SECONDS]
#                          [--out DIR]
# Prints "kvm" or "tcg" on stdout, and on stderr one line saying which and why, e.g.
#   vm: KVM present but a guest made no progress in 15 s under it; using TCG
#
# A /dev/kvm can exist and still be useless: QEMU aborts at the first vCPU reset ("KVM internal
# error. Suberror: 1", "emulation failure") on some nested and micro-VM hosts, and on others the
# guest never runs a single instruction while QEMU stays alive. So the probe boots the real guest
# kernel and initramfs under KVM with ag.alive=1, on which the guest's /init writes "@@AG-ALIVE" on
# the result port and powers off; only that marker, within the deadline, chooses KVM.
#
# A guest of another architecture than the host's runs under TCG, without a probe.
#
# Environment: AG_VM_ACCEL=auto|kvm|tcg (kvm and tcg are taken as given, without a probe),
# AG_VM_QEMU (the QEMU binary, default qemu-system-x86_64), AG_VM_KVM_DEV (default /dev/kvm),
# AG_VM_PROBE_DEADLINE (seconds, default 15). The probe's serial logs stay in --out (default a
# temporary directory, removed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/arch.sh"
kdir= initrd= deadline=${AG_VM_PROBE_DEADLINE:-15} out= arch=amd64
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kdir=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--deadline) deadline=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	*) echo "vm: accel: unknown argument $1" >&2; exit 2 ;;
	esac
done
kvm=${AG_VM_KVM_DEV:-/dev/kvm}

say() { echo "vm: $*" >&2; }

case ${AG_VM_ACCEL:-auto} in
kvm) say "AG_VM_ACCEL=kvm; using KVM (not probed)"; echo kvm; exit 0 ;;
tcg) say "AG_VM_ACCEL=tcg; using TCG"; echo tcg; exit 0 ;;
auto) ;;
*) say "accel: AG_VM_ACCEL must be auto, kvm or tcg, not '${AG_VM_ACCEL}'"; exit 2 ;;
esac
case $deadline in ''|*[!0-9]*|0) say "accel: --deadline must be a positive number of seconds, not '$deadline'"; exit 2 ;; esac

if [ "$arch" != "$(vm_host_arch)" ]; then say "$arch guests on an $(vm_host_arch) host; using TCG"; echo tcg; exit 0; fi
if [ ! -e "$kvm" ]; then say "no $kvm; using TCG"; echo tcg; exit 0; fi
if [ ! -r "$kvm" ] || [ ! -w "$kvm" ]; then say "$kvm is not readable and writable by $(id -un); using TCG"; echo tcg; exit 0; fi
[ -n "$kdir" ] && [ -n "$initrd" ] || { echo "usage: accel.sh --kernel KDIR --initrd FILE [--deadline S]" >&2; exit 2; }
[ -s "$kdir/vmlinuz" ] || { say "accel: no kernel at $kdir/vmlinuz"; exit 2; }
[ -s "$initrd" ] || { say "accel: no initramfs at $initrd"; exit 2; }

tmp=
if [ -z "$out" ]; then tmp=$(mktemp -d); out=$tmp; fi
mkdir -p "$out"
: > "$out/probe-console.log"; : > "$out/probe-results.log"; : > "$out/probe-qemu.log"
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		{ kill -KILL "$pid"; wait "$pid"; } 2>/dev/null || true
	fi
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# the same machine as the test boots (boot.sh), with the probe's own command line; bash's own
# report of a QEMU that aborts ("Aborted ...") is kept off stderr while the probe runs
exec 3>&2 2>/dev/null
AG_VM_SMP=1 vm_machine "$arch" kvm "file:$out/probe-console.log" "$out/probe-results.log"
"${vm_qemu[@]}" -kernel "$kdir/vmlinuz" -initrd "$initrd" \
	-append "console=$vm_console panic=-1 quiet loglevel=4 ag.alive=1 ag.results=$vm_results" \
	</dev/null >"$out/probe-qemu.log" 2>&1 &
pid=$!

start=$(date +%s%N)
limit=$((start + deadline * 1000000000))
alive=0 exited=0 rc=0
while :; do
	if grep -q '^@@AG-ALIVE' "$out/probe-results.log" 2>/dev/null; then alive=1; break; fi
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || rc=$?
		exited=1
		# the guest may have written the marker and powered off between the two checks
		grep -q '^@@AG-ALIVE' "$out/probe-results.log" 2>/dev/null && alive=1
		break
	fi
	[ "$(date +%s%N)" -lt "$limit" ] || break
	sleep 0.1
done
exec 2>&3 3>&-
ms=$((($(date +%s%N) - start) / 1000000))
secs=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))

if [ "$alive" = 1 ]; then
	say "KVM works (a guest reached init in ${secs} s under it); using KVM"
	echo kvm
	exit 0
fi
if [ "$exited" = 1 ]; then
	why=$(tr -d '\r' < "$out/probe-qemu.log" | grep -v '^[[:space:]]*$' | grep -m1 -iE 'error|fail|abort|emulation' || true)
	[ -n "$why" ] || why=$(tr -d '\r' < "$out/probe-qemu.log" | grep -v '^[[:space:]]*$' | head -n1 || true)
	say "KVM present but QEMU stopped under it after ${secs} s (exit $rc${why:+: ${why:0:160}}) before the guest reached init; using TCG"
else
	say "KVM present but a guest made no progress in ${deadline} s under it; using TCG"
fi
echo tcg
