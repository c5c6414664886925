# QEMU guest tests of the three tiers in Debian kernels, amd64 and arm64 guests: tests/vm/README.md.
#   make vm-check                       amd64: 6.1 and 6.12, three tiers each (6 boots); arm64: the
#                                       same kernels' arm64 builds (6.12: 3 boots; 6.1: 1, see below)
#   make vm-check VM_ARCHES=amd64       only the amd64 guests (VM_ARCHES=arm64: only arm64)
#   make vm-check VM_FLAGS='--kernels bookworm --tiers lsm --filter NAME'
#   make vm-check-arm64 VM_ARM64_FLAGS='--kernels bookworm-backports --filter NAME'
#   make vm-shell VM_FLAGS='--kernels bookworm-backports --tiers fmod_ret'   (VM_SHELL_ARCH=arm64)
# The payload is a parameter: VM_AGENT=... VM_ITEST=... VM_IOCTL32=... (the 32-bit helper itest
# execs; tests/vm/standin/ tests the harness alone); arm64's, VM_ARM64_*, are cross-built on an
# x86-64 machine (make ARCH=arm64 BUILD=$(VM_ARM64_BUILD): tools/deps.sh arm64), native on arm64.

VM_AGENT ?= $(BUILD)/accelguard
VM_ITEST ?= $(BUILD)/itest
VM_IOCTL32 ?= $(BUILD)/ioctl32
VM_FLAGS ?=
# the arm64 guests' own flags (CI runs a subset there: tests/vm/README.md), VM_FLAGS by default
VM_ARM64_FLAGS ?= $(VM_FLAGS)
VM_ARM64_BUILD ?= $(if $(filter arm64,$(HOST_ARCH)),$(BUILD),$(BUILD)/arm64)
VM_ARM64_AGENT ?= $(VM_ARM64_BUILD)/accelguard
VM_ARM64_ITEST ?= $(VM_ARM64_BUILD)/itest
VM_ARM64_IOCTL32 ?= $(VM_ARM64_BUILD)/ioctl32
# an arm64 host builds no amd64 payload: only arm64 guests there
VM_ARCHES ?= $(if $(filter arm64,$(HOST_ARCH)),arm64,amd64 arm64)
VM_SHELL_ARCH ?= $(firstword $(VM_ARCHES))

.PHONY: vm-check vm-check-amd64 vm-check-arm64 vm-arm64-payload vm-shell vm-kernels vm-harness-check
# the amd64 guests' stage keeps its name (vm-check); the arm64 guests have their own line
CHECK_STAGES += vm-harness-check vm-check $(if $(filter arm64,$(VM_ARCHES)),vm-check-arm64)

# the harness's own decisions (KVM or TCG, the retry under TCG) with a stand-in QEMU
vm-harness-check:
	$(call msg,VM,accelerator choice with a stand-in QEMU)
	$(call stage,vm-harness-check) tests/vm/test_accel.sh

vm-check: $(patsubst %,vm-check-%,$(VM_ARCHES))

vm-check-amd64: $(VM_AGENT) $(VM_ITEST) $(VM_IOCTL32)
	$(call msg,VM,$(VM_AGENT) $(VM_ITEST) in QEMU guests)
	$(call stage,vm-check) env BUILD=$(BUILD) tests/vm/check.sh --agent $(VM_AGENT) --itest $(VM_ITEST) --ioctl32 $(VM_IOCTL32) $(VM_FLAGS)

# Tier 3 where no compat syscall runs (issue 21): the 6.12 guest booted with ia32_emulation=0 and x32
# left off, every itest scenario at tier 3 in one boot; there the agent enters through one
# tracepoint per judged syscall (tp_entry_by_effect asserts it; everywhere else it is the raw
# entry). amd64 only: the switch is x86's. Logs in $(BUILD)/nocompat/vm.
VM_NOCOMPAT_FLAGS ?= --kernels bookworm-backports --tiers tracepoint
.PHONY: vm-nocompat-check
CHECK_STAGES += $(if $(filter amd64,$(VM_ARCHES)),vm-nocompat-check)
vm-nocompat-check: $(VM_AGENT) $(VM_ITEST) $(VM_IOCTL32)
	$(call msg,VM,tier 3 in a guest without compat syscalls (ia32_emulation=0, no x32))
	$(call stage,vm-nocompat-check) env BUILD=$(BUILD)/nocompat AG_VM_APPEND='ia32_emulation=0 syscall.x32=n' tests/vm/check.sh --agent $(VM_AGENT) --itest $(VM_ITEST) --ioctl32 $(VM_IOCTL32) $(VM_NOCOMPAT_FLAGS)

# the arm64 payload, always asked of the sub-make (it knows when it is up to date)
vm-arm64-payload:
ifeq ($(filter arm64,$(HOST_ARCH)),)
	$(Q)[ -e /usr/lib/aarch64-linux-gnu/libbpf.so ] || { echo "vm: the arm64 guests' payload is cross-built: tools/deps.sh arm64 installs what it needs (VM_ARCHES=amd64 leaves the arm64 guests out)" >&2; exit 1; }
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 BUILD=$(VM_ARM64_BUILD) $(VM_ARM64_AGENT) $(VM_ARM64_ITEST) $(VM_ARM64_IOCTL32)
else
	$(Q)$(MAKE) --no-print-directory $(VM_ARM64_AGENT) $(VM_ARM64_ITEST) $(VM_ARM64_IOCTL32)
endif

vm-check-arm64: vm-arm64-payload
	$(call msg,VM,$(VM_ARM64_AGENT) $(VM_ARM64_ITEST) in arm64 QEMU guests)
	$(call stage,vm-check-arm64) env BUILD=$(BUILD) tests/vm/check.sh --arch arm64 --agent $(VM_ARM64_AGENT) --itest $(VM_ARM64_ITEST) --ioctl32 $(VM_ARM64_IOCTL32) $(VM_ARM64_FLAGS)

vm-shell: $(if $(filter arm64,$(VM_SHELL_ARCH)),vm-arm64-payload,$(VM_AGENT) $(VM_ITEST) $(VM_IOCTL32))
ifeq ($(VM_SHELL_ARCH),arm64)
	$(Q)BUILD=$(BUILD) tests/vm/check.sh --arch arm64 --agent $(VM_ARM64_AGENT) --itest $(VM_ARM64_ITEST) --ioctl32 $(VM_ARM64_IOCTL32) --shell $(VM_ARM64_FLAGS)
else
	$(Q)BUILD=$(BUILD) tests/vm/check.sh --agent $(VM_AGENT) --itest $(VM_ITEST) --ioctl32 $(VM_IOCTL32) --shell $(VM_FLAGS)
endif

# fetch (or refresh with AG_VM_REFRESH=1) the cached kernels only (and arm64's busybox)
vm-kernels:
	$(Q)for a in $(VM_ARCHES); do for k in $${AG_VM_KERNELS:-bookworm bookworm-backports}; do \
		AG_VM_CACHE=$${AG_VM_CACHE:-$(BUILD)/vm-cache} tests/vm/fetch-kernel.sh --arch $$a $$k >/dev/null || exit 1; done; \
		[ $$a = amd64 ] || AG_VM_CACHE=$${AG_VM_CACHE:-$(BUILD)/vm-cache} tests/vm/fetch-kernel.sh --arch $$a --busybox bookworm >/dev/null || exit 1; done
