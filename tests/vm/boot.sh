#!/usr/bin/env bash
# Boot one guest: a kernel from fetch-kernel.sh, the initramfs from mkinitramfs.sh, one tier.
#
# Usage: tests/vm/boot.sh --kernel KDIR --initrd FILE --tier lsm|fmod_ret|tracepoint --out DIR
#                         [--arch amd64|arm64] [--expect TIER] [--timeout SECONDS] [--filter NAME]
#                         [--args a,b] [--shell]
# Writes DIR/console.log (the console: kernel, stderr), DIR/results.log (the result port: result
# protocol, see init) and DIR/accel (kvm or tcg). The machine of each architecture: arch.sh.
# --expect: the tier the agent must choose, when not the boot's own (a kernel that cannot attach
# BPF trampolines: arm64 before 6.4 falls back to tier 3). AG_VM_ACCEL=auto|kvm|tcg, AG_VM_QEMU
# (the QEMU binary), AG_VM_APPEND (more kernel parameters), AG_VM_MACHINE and AG_VM_QEMU_ARGS
# (arch.sh).
# Exit status: QEMU's, or 124 when the guest did not power off within the timeout.
# --shell: interactive, console on this terminal (Ctrl-a x quits QEMU), no timeout.
#
# The tier is chosen by the boot's LSM list: with bpf the BPF LSM runs (tier 1); without it an lsm
# program still loads and attaches but never runs, and the agent must fall back to fmod_ret (tier 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/arch.sh"
kdir= initrd= tier= out= timeout=${AG_VM_TIMEOUT:-600} filter= args= shell=0 arch=amd64 expect=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kdir=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--tier) tier=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--expect) expect=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--filter) filter=$2; shift 2 ;;
	--args) args=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	*) echo "vm: boot: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$kdir" ] && [ -n "$initrd" ] && [ -n "$tier" ] && [ -n "$out" ] ||
	{ echo "usage: boot.sh --kernel KDIR --initrd FILE --tier lsm|fmod_ret|tracepoint --out DIR ..." >&2; exit 2; }

case $tier in
lsm) lsm=lockdown,capability,bpf ;;
fmod_ret) lsm=lockdown,capability ;;
# tier 3 forced (--tier tracepoint) on a kernel where tier 1 would work: the tracepoint programs,
# and tier 3's choice between its two ioctl programs, tested in each kernel
tracepoint) lsm=lockdown,capability,bpf ;;
*) echo "vm: boot: tier must be lsm, fmod_ret or tracepoint, not '$tier'" >&2; exit 2 ;;
esac
case "$filter$args" in *[[:space:]]*) echo "vm: boot: --filter/--args may not hold spaces" >&2; exit 2 ;; esac

mkdir -p "$out"
rm -f "$out/console.log" "$out/results.log"

# The accelerator: AG_VM_ACCEL=kvm|tcg as given (check.sh decides once per run with accel.sh and
# passes its answer); auto (a boot on its own) asks accel.sh, which boots this kernel under KVM and
# chooses it only when the guest shows a sign of life.
accel=${AG_VM_ACCEL:-auto}
if [ "$accel" = auto ]; then
	accel=$("$here/accel.sh" --arch "$arch" --kernel "$kdir" --initrd "$initrd" --out "$out")
fi
case $accel in kvm|tcg) ;; *) echo "vm: boot: AG_VM_ACCEL must be auto, kvm or tcg, not '$accel'" >&2; exit 2 ;; esac
echo "$accel" > "$out/accel"
console="file:$out/console.log"
[ "$shell" = 1 ] && console=mon:stdio
vm_machine "$arch" "$accel" "$console" "$out/results.log"

# syscall.x32=y: Debian's kernels build the x32 ABI in but leave it off; on, a process can reach
# a driver through the x32 syscall numbers, which the itest evasion rows try at every tier (the
# native kernel here has no x32: the agent's "off" path; other architectures ignore it). A boot
# whose AG_VM_APPEND names syscall.x32= itself keeps its own (a later syscall.x32=n does not turn
# x32 off again in Debian's 6.12: vm-nocompat-check).
append="console=$vm_console panic=-1 quiet loglevel=4 lsm=$lsm ag.tier=$tier ag.results=$vm_results"
case " ${AG_VM_APPEND:-} " in
*" syscall.x32="*) ;;
*) [ "$arch" = amd64 ] && append+=" syscall.x32=y" ;;
esac
[ -n "$expect" ] && append+=" ag.expect=$expect"
[ -n "$filter" ] && append+=" ag.filter=$filter"
[ -n "$args" ] && append+=" ag.args=$args"
# a guest scenario's own kernel parameters (tests/vm/vfio.sh: intel_iommu=on)
[ -n "${AG_VM_APPEND:-}" ] && append+=" $AG_VM_APPEND"

qemu=("${vm_qemu[@]}" -kernel "$kdir/vmlinuz" -initrd "$initrd")

if [ "$shell" = 1 ]; then
	exec "${qemu[@]}" -append "$append ag.shell=1"
fi

# panic=-1 with -no-reboot: a guest that panics (or whose init dies) ends QEMU at once
timeout -k 5 "$timeout" "${qemu[@]}" -append "$append" </dev/null
