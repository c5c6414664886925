# QEMU guest tests of tiers 1 (BPF LSM) and 2 (fmod_ret) in Debian kernels: tests/vm/README.md.
#   make vm-check                       4 boots: 6.1 and 6.12, each with and without bpf in lsm=
#   make vm-check VM_FLAGS='--kernels bookworm --tiers lsm --filter NAME'
#   make vm-shell VM_FLAGS='--kernels bookworm-backports --tiers fmod_ret'
# The payload is a parameter: VM_AGENT=... VM_ITEST=... VM_IOCTL32=... (the 32-bit helper itest
# execs; tests/vm/standin/ tests the harness alone).

VM_AGENT ?= $(BUILD)/accelguard
VM_ITEST ?= $(BUILD)/itest
VM_IOCTL32 ?= $(BUILD)/ioctl32
VM_FLAGS ?=

.PHONY: vm-check vm-shell vm-kernels vm-harness-check
CHECK_STAGES += vm-harness-check vm-check

# the harness's own decisions (KVM or TCG, the retry under TCG) with a stand-in QEMU
vm-harness-check:
	$(call msg,VM,accelerator choice with a stand-in QEMU)
	$(call stage,vm-harness-check) tests/vm/test_accel.sh

vm-check: $(VM_AGENT) $(VM_ITEST) $(VM_IOCTL32)
	$(call msg,VM,$(VM_AGENT) $(VM_ITEST) in QEMU guests)
	$(call stage,vm-check) env BUILD=$(BUILD) tests/vm/check.sh --agent $(VM_AGENT) --itest $(VM_ITEST) --ioctl32 $(VM_IOCTL32) $(VM_FLAGS)

vm-shell: $(VM_AGENT) $(VM_ITEST) $(VM_IOCTL32)
	$(Q)BUILD=$(BUILD) tests/vm/check.sh --agent $(VM_AGENT) --itest $(VM_ITEST) --ioctl32 $(VM_IOCTL32) --shell $(VM_FLAGS)

# fetch (or refresh with AG_VM_REFRESH=1) the cached kernels only
vm-kernels:
	$(Q)for k in $${AG_VM_KERNELS:-bookworm bookworm-backports}; do \
		AG_VM_CACHE=$${AG_VM_CACHE:-$(BUILD)/vm-cache} tests/vm/fetch-kernel.sh $$k >/dev/null || exit 1; done
