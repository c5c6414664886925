# Benchmarks (issue 5; BENCHMARKS.md). `make bench` runs every stage; benchmarks are never tests,
# so nothing here is in CHECK_STAGES. Needs root (BPF, cgroups, mknod, audit).
#   make bench                          native (tier 3 here) then the QEMU guests (tiers 1 and 2)
#   make bench-native BENCH_FLAGS='--stages "micro pipeline" --rounds 5'
#   make bench-vm BENCH_VM_FLAGS='--kernels bookworm-backports --tiers lsm'
#   make bench-vm-arm64                 the same in arm64 guests (cross-built payload; not in `make bench`)
#   make bench-vm-arches                amd64 and arm64 guests side by side, under -icount (not in `make bench`)
# Results: $(BUILD)/bench/results.md and $(BUILD)/bench/vm/results.md, raw data beside them.

BENCH_FLAGS    ?=
BENCH_VM_FLAGS ?=
BENCH_STAGES   += bench-native bench-vm

.PHONY: bench-native bench-vm

BENCH_OBJS := $(BUILD)/tools/bench/agbench.o
OBJS       += $(BENCH_OBJS)

$(BUILD)/agbench: $(BENCH_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -static -o $@ $^

bench-native: $(BUILD)/accelguard $(BUILD)/agbench
	$(Q)tools/deps.sh bench
	$(Q)BUILD=$(BUILD) tools/bench/run.sh --agent $(BUILD)/accelguard --agbench $(BUILD)/agbench \
		--out $(BUILD)/bench $(BENCH_FLAGS)

# under `make bench`, the guests run after the native benchmarks, never beside them
ifneq ($(filter bench,$(MAKECMDGOALS)),)
bench-vm: | bench-native
endif
bench-vm: $(BUILD)/accelguard $(BUILD)/agbench
	$(Q)tools/deps.sh vm
	$(Q)BUILD=$(BUILD) tools/bench/vm.sh --agent $(BUILD)/accelguard --agbench $(BUILD)/agbench \
		--out $(BUILD)/bench/vm $(BENCH_VM_FLAGS)

# arm64 guests: the agent and agbench built for arm64 (cross on x86-64: tools/deps.sh arm64)
BENCH_VM_ARM64_FLAGS ?= --kernels bookworm-backports
.PHONY: bench-vm-arm64
bench-vm-arm64: vm-arm64-payload
	$(Q)$(MAKE) --no-print-directory $(if $(filter arm64,$(HOST_ARCH)),,ARCH=arm64) BUILD=$(VM_ARM64_BUILD) $(VM_ARM64_BUILD)/agbench
	$(Q)BUILD=$(BUILD) tools/bench/vm.sh --arch arm64 --agent $(VM_ARM64_AGENT) --agbench $(VM_ARM64_BUILD)/agbench \
		--out $(BUILD)/bench/vm-arm64 $(BENCH_VM_ARM64_FLAGS)

# the micro benchmark in an amd64 and an arm64 guest side by side, the same method (-icount: the
# guests' clocks count executed instructions): tools/bench/arches.sh, $(BUILD)/bench/arches/results.md.
# The amd64 payload is this machine's build: x86-64 hosts only.
BENCH_ARCHES_FLAGS ?=
.PHONY: bench-vm-arches
bench-vm-arches: vm-arm64-payload $(BUILD)/accelguard $(BUILD)/agbench
	$(Q)[ "$(HOST_ARCH)" = x86 ] || { echo "bench-vm-arches: the amd64 guest's payload is this machine's build: run it on x86-64 (HOST_ARCH $(HOST_ARCH))" >&2; exit 1; }
	$(Q)tools/deps.sh vm
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 BUILD=$(VM_ARM64_BUILD) $(VM_ARM64_BUILD)/agbench
	$(Q)BUILD=$(BUILD) tools/bench/arches.sh --amd64 $(BUILD)/accelguard,$(BUILD)/agbench \
		--arm64 $(VM_ARM64_AGENT),$(VM_ARM64_BUILD)/agbench --out $(BUILD)/bench/arches $(BENCH_ARCHES_FLAGS)
