#!/usr/bin/env bash
# The node most clusters run: cgroup v2 alone. Boots Debian's 6.12 amd64 kernel with
# cgroup_no_v1=all (the guest's /init mounts cgroup2 alone) and the BPF LSM active, with the agent,
# Debian's runc and bpftool (from this machine, with the libraries ldd names) and a busybox
# container image in the initramfs, and runs tests/vm/runc-v2-guest.sh there: runc driven with
# hand-written OCI bundles attaches its own BPF_CGROUP_DEVICE program to each container's cgroup
# beside the agent's cgroup/dev program on the root, and what either denies stays denied
# (tests/vm/README.md, "cgroup v2 alone: runc's device program beside the agent's").
# Lines: "ok - vm/6.12/runc-v2/NAME" ..., then "N passed, N failed".
#
# Usage: tests/vm/runc-v2.sh [--agent PATH] [--kernel SUITE] [--timeout SECONDS]
# Defaults: $BUILD/accelguard, bookworm-backports (6.12), AG_VM_TIMEOUT or 900 s. AG_VM_ACCEL,
# AG_VM_CACHE, AG_VM_MEM as for tests/vm/check.sh. Logs in $BUILD/vm/runc-v2/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/arch.sh"
BUILD=${BUILD:-build}
agent=$BUILD/accelguard suite=bookworm-backports timeout=${AG_VM_TIMEOUT:-900}
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--kernel) suite=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm: runc-v2: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
[ "$(uname -m)" = x86_64 ] ||
	{ echo "skip - vm/runc-v2: an amd64 guest, with this machine's runc: x86-64 hosts only"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
for b in runc bpftool busybox; do
	command -v "$b" >/dev/null || { echo "vm: runc-v2: $b is not installed (tools/deps.sh build containerd vm)" >&2; exit 1; }
done
export AG_VM_CACHE=${AG_VM_CACHE:-$BUILD/vm-cache}
d=$BUILD/vm/runc-v2
mkdir -p "$d"
start=$SECONDS

kdir=$("$here/fetch-kernel.sh" "$suite")
label=$(cat "$kdir/label")
"$here/mkinitramfs.sh" --agent "$agent" --itest none \
	--add "$(command -v runc):/usr/sbin/runc" --add "$(command -v bpftool):/usr/sbin/bpftool" \
	--add "$(command -v busybox):/ag/rootfs/busybox" --add "$here/runc-v2-guest.sh:/ag/runc-v2.sh" \
	"$d/initramfs.cpio"
accel=$("$here/accel.sh" --kernel "$kdir" --initrd "$d/initramfs.cpio" --out "$d/accel-probe" 2>"$d/accel.txt") ||
	{ cat "$d/accel.txt" >&2; exit 1; }
cat "$d/accel.txt" >&2

boot() { # ACCEL
	local scale=1
	[ "$1" = kvm ] || scale=3
	echo "$1" > "$d/accel"
	rm -f "$d/console.log" "$d/results.log"
	vm_machine amd64 "$1" "file:$d/console.log" "$d/results.log"
	rc=0
	timeout -k 5 "$timeout" "${vm_qemu[@]}" -kernel "$kdir/vmlinuz" -initrd "$d/initramfs.cpio" \
		-append "console=$vm_console panic=-1 quiet loglevel=4 lsm=lockdown,capability,bpf cgroup_no_v1=all ag.tier=lsm ag.results=$vm_results ag.run=/ag/runc-v2.sh ag.args=--timeout-scale,$scale" \
		</dev/null >"$d/qemu.log" 2>&1 || rc=$?
}
rm -f "$d/retried"
boot "$accel"
# as check.sh: a boot that did not run to its end under KVM is retried once under TCG
if [ "$accel" = kvm ] && ! grep -q '^@@AG-END' "$d/results.log" 2>/dev/null; then
	for f in console.log results.log qemu.log; do mv -f "$d/$f" "$d/kvm-$f" 2>/dev/null || true; done
	echo "under KVM the guest did not run to its end (QEMU exit $rc; logs kvm-*.log); retried under TCG" > "$d/retried"
	boot tcg
fi

p=vm/$label/runc-v2
{
	sed 's/^/# /' "$d/accel.txt"
	echo "# $p: ${kdir##*/} $(cat "$kdir/release"), cgroup_no_v1=all, $(cat "$d/accel"), $((SECONDS - start))s, QEMU exit $rc"
	if [ -s "$d/retried" ]; then echo "# $p: $(cat "$d/retried")"; fi
	if [ -s "$d/qemu.log" ]; then sed 's/^/# qemu: /' "$d/qemu.log"; fi
	# the guest's "# " lines (bpftool's listing, the containers' output)
	tr -d '\r' < "$d/results.log" | grep '^# ' || true
	AG_VM_TAIL=80 "$here/report.sh" --prefix "$p" --tier lsm --dir "$d" --rc "$rc" --timeout "$timeout" || true
} > "$d/report.txt"
cat "$d/report.txt"
passed=$(grep -c '^ok - ' "$d/report.txt" || true)
failed=$(grep -c '^not ok - ' "$d/report.txt" || true)
echo "# vm: runc-v2 in $((SECONDS - start))s; logs in $d"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
