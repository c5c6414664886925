# The guest machine of each architecture, sourced by boot.sh and accel.sh (bash).
#
#   vm_machine ARCH ACCEL CONSOLE RESULTS
# sets the array vm_qemu (the QEMU command up to -kernel: binary, accelerator, machine, CPU,
# memory, the two serial channels) and vm_console, vm_results (the guest's device names of the
# console and of the result port, for the kernel command line). CONSOLE is a QEMU -serial
# argument (file:PATH, mon:stdio), RESULTS a file path.
#
# amd64: the pc machine, two 8250 UARTs (ttyS0 console, ttyS1 results).
# arm64: the virt machine (GICv3; -cpu max under TCG, pointer authentication with QEMU's cheap
# implementation-defined algorithm, the architected one costs much emulation time; -cpu host under
# KVM on an arm64 host); the console on its PL011 (ttyAMA0), results on a PCI 8250 (ttyS0:
# CONFIG_SERIAL_8250_PCI is built into Debian's arm64 kernels, where virtio-console is a module).
# AG_VM_QEMU overrides the binary, AG_VM_SMP and AG_VM_MEM the vCPUs and MiB; AG_VM_ICOUNT (TCG
# only, vm_icount) adds QEMU's -icount; a guest scenario may name another amd64 machine
# (AG_VM_MACHINE, default pc) and add QEMU arguments (AG_VM_QEMU_ARGS, split at spaces:
# tests/vm/vfio.sh's q35 with an emulated IOMMU and a display device).

vm_host_arch() {
	case $(uname -m) in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac
}

vm_machine() { # ARCH ACCEL CONSOLE RESULTS
	local arch=$1 accel=$2 console=$3 results=$4 cpu
	case $arch in
	amd64)
		cpu=max
		[ "$accel" = kvm ] && cpu=host
		vm_qemu=("${AG_VM_QEMU:-qemu-system-x86_64}" -accel "$accel" -machine "${AG_VM_MACHINE:-pc}" -cpu "$cpu")
		vm_qemu+=(-serial "$console" -serial "file:$results")
		vm_console=ttyS0 vm_results=/dev/ttyS1
		;;
	arm64)
		cpu=max,pauth-impdef=on
		[ "$accel" = kvm ] && cpu=host
		vm_qemu=("${AG_VM_QEMU:-qemu-system-aarch64}" -accel "$accel" -machine virt,gic-version=3 -cpu "$cpu")
		vm_qemu+=(-serial "$console" -chardev "file,id=agresults,path=$results"
			-device pci-serial,chardev=agresults)
		vm_console=ttyAMA0 vm_results=/dev/ttyS0
		;;
	*)
		echo "vm: no guest machine for architecture '$arch' (amd64, arm64)" >&2
		return 2
		;;
	esac
	vm_qemu+=(-smp "${AG_VM_SMP:-1}" -m "${AG_VM_MEM:-2048}" -nodefaults -no-user-config -display none
		-no-reboot)
	vm_extra_args
	vm_icount "$accel"
}

# a scenario's own QEMU arguments (AG_VM_QEMU_ARGS), after the machine's
vm_extra_args() {
	local a
	for a in ${AG_VM_QEMU_ARGS:-}; do vm_qemu+=("$a"); done
}

# AG_VM_ICOUNT=shift=0,sleep=off (tools/bench/vm.sh): the guest's clocks follow the instructions it
# executes (2^shift ns each), not the host's time, so the host's load cannot move the guest's
# timings; sleep=off lets an idle guest's clock jump to its next timer. TCG only (KVM refuses it).
vm_icount() { # ACCEL
	[ -n "${AG_VM_ICOUNT:-}" ] || return 0
	if [ "$1" != tcg ]; then
		echo "vm: AG_VM_ICOUNT=$AG_VM_ICOUNT needs TCG (AG_VM_ACCEL=tcg), not $1" >&2
		return 2
	fi
	vm_qemu+=(-icount "$AG_VM_ICOUNT")
}
