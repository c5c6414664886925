# Benchmarks (issue 5; BENCHMARKS.md). `make bench` runs every stage; benchmarks are never tests,
# so nothing here is in CHECK_STAGES. Needs root (BPF, cgroups, mknod, audit).
#   make bench                          native (tier 3 here) then the QEMU guests (tiers 1 and 2)
#   make bench-native BENCH_FLAGS='--stages "micro pipeline" --rounds 5'
#   make bench-vm BENCH_VM_FLAGS='--kernels bookworm-backports --tiers lsm'
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
