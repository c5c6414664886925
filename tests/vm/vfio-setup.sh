#!/bin/sh
# The guest's side of tests/vm/vfio.sh (run by init as /ag/setup.d/vfio, busybox sh): load the
# VFIO modules from /lib/modules/ag-vfio (in the order of its "order" file), then bind the
# guest's display-class PCI device (PCI class 0x03xx: QEMU's secondary-vga, 0x0380) to vfio-pci
# (driver_override, unbind from any driver, bind), and wait for its group's node /dev/vfio/N.
# Prints what it did on stdout (init puts it on the result port); exits non-zero naming what
# failed.
set -u
mods=/lib/modules/ag-vfio
die() { echo "vfio-setup: $*" >&2; echo "failed: $*"; exit 1; }

[ -s "$mods/order" ] || die "$mods/order: missing (tests/vm/vfio.sh puts the modules there)"
while read -r m; do
	insmod "$mods/$m.ko" || die "insmod $m failed (see the console)"
done < "$mods/order"
echo "modules: $(tr '\n' ' ' < "$mods/order")"

dev=
for d in /sys/bus/pci/devices/*; do
	case $(cat "$d/class") in 0x03*) dev=$d; break ;; esac
done
[ -n "$dev" ] || die "no display-class (0x03xx) PCI device in the guest"
bdf=${dev##*/}
[ -e "$dev/iommu_group" ] || die "$bdf has no IOMMU group (is the guest's IOMMU on: intel_iommu=on, -device intel-iommu?)"
group=$(readlink "$dev/iommu_group")
group=${group##*/}
echo vfio-pci > "$dev/driver_override" || die "$bdf: driver_override"
if [ -e "$dev/driver" ]; then
	echo "$bdf" > "$dev/driver/unbind" || die "$bdf: unbind from $(readlink "$dev/driver")"
fi
echo "$bdf" > /sys/bus/pci/drivers/vfio-pci/bind || die "$bdf: bind to vfio-pci failed (see the console)"
i=0
while [ ! -c "/dev/vfio/$group" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -c "/dev/vfio/$group" ] || die "/dev/vfio/$group did not appear after binding $bdf"
echo "bound: $bdf class $(cat "$dev/class") vendor $(cat "$dev/vendor") driver $(basename "$(readlink "$dev/driver")") group $group /dev/vfio/$group $(cat "/sys/class/vfio/$group/dev")"
