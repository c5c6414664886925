#!/usr/bin/env bash
# The VFIO guest scenario (issue 22, a Kata-style VMM opening /dev/vfio/N): an amd64 guest of
# Debian's 6.12 kernel on QEMU's q35 machine with an emulated Intel IOMMU (intel-iommu, the guest
# booted with intel_iommu=on) and a display-class PCI device (secondary-vga, PCI class 0x0380);
# init's setup (tests/vm/vfio-setup.sh) loads vfio, vfio_iommu_type1, irqbypass, vfio-pci-core
# and vfio-pci, taken from the kernel's own .deb in the cache, and binds the device to vfio-pci,
# so /dev/vfio/N (N its IOMMU group) appears; then itest's vfio_bound judges opens of it at
# every tier the guest runs, and vfio_bound_rebind takes the device off vfio-pci and binds it
# again while the agent runs. Reports as check.sh does (vm/6.12/TIER/NAME), from its own logs
# ($BUILD/vm-vfio/vm); fails unless every boot ran both tests to "ok".
#
# Why an emulated IOMMU and not vfio's no-IOMMU mode: Debian builds its kernels without
# CONFIG_VFIO_NOIOMMU (vfio.ko has no enable_unsafe_noiommu_mode parameter), so /dev/vfio/noiommu-N
# cannot exist in them; the group here is a real IOMMU group, as on a Kata host.
#
# Usage: tests/vm/vfio.sh [--agent PATH] [--itest PATH] [--tiers "lsm fmod_ret tracepoint"]
#                         [--shell] [check.sh's other arguments]
# --shell: a busybox shell in the first tier's guest, the device bound (Ctrl-a x quits QEMU).
# Environment: BUILD, AG_VM_CACHE, AG_VM_JOBS, AG_VM_ACCEL as for check.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
export AG_VM_CACHE=${AG_VM_CACHE:-$BUILD/vm-cache}
agent=$BUILD/accelguard itest=$BUILD/itest suite=bookworm-backports rest=()
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--itest) itest=$2; shift 2 ;;
	--kernels) suite=$2; shift 2 ;;
	*) rest+=("$1"); shift ;;
	esac
done
die() { echo "vm: vfio: $*" >&2; exit 1; }
case $suite in *" "*) die "--kernels: one suite (the modules are that kernel's)" ;; esac

# the kernel (cached), and its .deb: the modules come from the very package the kernel did
# (make check runs this beside vm-check, whose fetch of the same kernel may hold the private apt
# state's lock: a failed fetch is tried again for up to 10 minutes, and a cached kernel needs none)
kdir='' tries=0
until kdir=$("$here/fetch-kernel.sh" "$suite"); do
	tries=$((tries + 1))
	[ "$tries" -lt 60 ] || die "could not fetch the $suite kernel (tests/vm/fetch-kernel.sh $suite)"
	sleep 10
done
release=$(cat "$kdir/release")
deb=$(find "$AG_VM_CACHE/debs" -maxdepth 1 -name "linux-image-${release}_*_amd64.deb" 2>/dev/null | head -n1)
[ -s "$deb" ] || die "no cached linux-image-$release .deb in $AG_VM_CACHE/debs (AG_VM_REFRESH=1 tests/vm/fetch-kernel.sh $suite)"
grep -q '^CONFIG_INTEL_IOMMU=y' "$kdir/config" || die "$release lacks CONFIG_INTEL_IOMMU=y"
grep -q '^CONFIG_VFIO_PCI=m' "$kdir/config" || die "$release lacks CONFIG_VFIO_PCI=m"

# the modules, decompressed (busybox insmod reads a plain .ko), in load order: each one's
# depends= (from its .modinfo) must name only modules loaded before it
mods=$BUILD/vm-vfio/modules
rm -rf "$mods" && mkdir -p "$mods"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ag-vfio.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
order=(irqbypass vfio vfio_iommu_type1 vfio-pci-core vfio-pci)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards \
	"./lib/modules/$release/kernel/drivers/vfio/*" "./lib/modules/$release/kernel/virt/lib/irqbypass.ko*"
adds=() loaded=,
for m in "${order[@]}"; do
	f=$(find "$tmp" -name "$m.ko*" | head -n1)
	[ -n "$f" ] || die "$m.ko not in $deb"
	case $f in *.xz) xz -dc "$f" > "$mods/$m.ko" ;; *.zst) zstd -qdc "$f" > "$mods/$m.ko" ;; *) cp "$f" "$mods/$m.ko" ;; esac
	deps=$(tr '\0' '\n' < "$mods/$m.ko" | sed -n 's/^depends=//p' | head -n1)
	for d in ${deps//,/ }; do
		case $loaded in *",$d,"* | *",${d//-/_},"*) ;; *) die "$m depends on $d, not loaded before it" ;; esac
	done
	loaded+="$m,${m//-/_},"
	adds+=(--add "$mods/$m.ko:/lib/modules/ag-vfio/$m.ko")
done
printf '%s\n' "${order[@]}" > "$mods/order"
adds+=(--add "$mods/order:/lib/modules/ag-vfio/order" --add "$here/vfio-setup.sh:/ag/setup.d/vfio")

# q35 with the IOMMU first, then the display device it translates for
export AG_VM_MACHINE=q35 AG_VM_APPEND=intel_iommu=on
export AG_VM_QEMU_ARGS="-device intel-iommu -device secondary-vga"
# this scenario's logs alone (a tier left out this time leaves none behind)
rm -rf "$BUILD/vm-vfio/vm"
mkdir -p "$BUILD/vm-vfio"
# --shell: a shell in the first guest, the device already bound (check.sh --shell)
case " ${rest[*]:-} " in *" --shell "*)
	BUILD=$BUILD/vm-vfio exec "$here/check.sh" --agent "$agent" --itest "$itest" --kernels "$suite" \
		"${adds[@]}" "${rest[@]}" ;;
esac
rc=0
BUILD=$BUILD/vm-vfio "$here/check.sh" --agent "$agent" --itest "$itest" --kernels "$suite" \
	--filter vfio_bound "${adds[@]}" "${rest[@]}" || rc=$?
# a skip is no pass here: the guests exist to run vfio_bound and vfio_bound_rebind
report=$BUILD/vm-vfio/vm/report.txt
boots=$(grep -c '^ok - vm/.*/boot$' "$report" || true)
for d in "$BUILD"/vm-vfio/vm/*/; do
	[ -s "$d/results.log" ] || continue
	sed -n "s|^@@AG-INFO setup vfio: |# vm-vfio $(basename "$d"): |p" "$d/results.log"
done
bad=0
for t in vfio_bound vfio_bound_rebind; do
	n=$(grep -c "^ok - vm/.*/$t\( (.*)\)\{0,1\}\$" "$report" || true)
	if [ "$n" = 0 ] || [ "$n" != "$boots" ]; then
		echo "not ok - vm/vfio/$t: passed in $n of $boots boots"
		bad=1
	else
		echo "ok - vm/vfio/$t: passed in $n boots"
	fi
done
[ "$bad" = 0 ] || exit 1
exit "$rc"
