# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tests/lib/nvnode.sh: a node's NVIDIA GPUs as a test fakes them: the driver's procfs files (in a
# directory the agent reads as host.proc's driver/) and the GPUs' device nodes. Safe under set -eu.

# The two GPUs most tests give their pods
gpu_a=GPU-3b3b3b3b-1111-4000-8000-00000000000a
gpu_b=GPU-5e5e5e5e-2222-4000-8000-00000000000b

# nvidia_gpu DRIVER BUS UUID MINOR [pcie|full]: DRIVER/nvidia/gpus/BUS/information as the driver
# writes it: model, UUID, bus location, minor, not excluded (pcie: and the bus type; full: and
# IRQ, video BIOS, bus type and DMA too)
nvidia_gpu() {
	local f=$1/nvidia/gpus/$2
	mkdir -p "$f"
	case ${5:-} in
	full) printf 'Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 42\nGPU UUID: \t %s\nVideo BIOS: \t 96.00.99.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\nBus Location: \t %s\nDevice Minor: \t %s\nGPU Excluded:\t No\n' \
		"$3" "$2" "$4" >"$f/information" ;;
	pcie) printf 'Model: \t\t NVIDIA H100 80GB HBM3\nGPU UUID: \t %s\nBus Type: \t PCIe\nBus Location: \t %s\nDevice Minor: \t %s\nGPU Excluded:\t No\n' \
		"$3" "$2" "$4" >"$f/information" ;;
	*) printf 'Model: \t\t NVIDIA H100 80GB HBM3\nGPU UUID: \t %s\nBus Location: \t %s\nDevice Minor: \t %s\nGPU Excluded:\t No\n' \
		"$3" "$2" "$4" >"$f/information" ;;
	esac
}

# nvidia_gpus_ab DRIVER DEV [pcie|full]: GPUs $gpu_a (0000:3b:00.0, minor 0) and $gpu_b
# (0000:5e:00.0, minor 1) in DRIVER (as nvidia_gpu), their nodes DEV/nvidia0 and DEV/nvidia1
nvidia_gpus_ab() {
	mkdir -p "$2"
	nvidia_gpu "$1" 0000:3b:00.0 "$gpu_a" 0 "${3:-}"
	nvidia_gpu "$1" 0000:5e:00.0 "$gpu_b" 1 "${3:-}"
	mknod "$2/nvidia0" c 195 0
	mknod "$2/nvidia1" c 195 1
}

# nvidia_proc_devices FILE [uvm]: a /proc/devices with the NVIDIA majors (uvm: and nvidia-uvm, 508)
nvidia_proc_devices() {
	{
		printf 'Character devices:\n  1 mem\n195 nvidia\n195 nvidiactl\n'
		[ "${2:-}" != uvm ] || printf '508 nvidia-uvm\n'
		printf '\nBlock devices:\n  8 sd\n'
	} >"$1"
}
