# Integration tests on this machine's kernel (tier 3 natively): tests/integration/itest.c.
#   make itest-check                      all scenarios, asserting the native tier
#   make itest-check ITEST_FILTER=ioctl   the scenarios whose name holds "ioctl" (ioctl32_*: a 32-bit
#                                         process, $(BUILD)/ioctl32, built with gcc -m32 -static)
ITEST_EXPECT_TIER ?= tracepoint
ITEST_FILTER ?=

.PHONY: itest itest-check
CHECK_STAGES += itest-check

itest: $(BUILD)/itest $(BUILD)/ioctl32

ITEST_OBJS := $(BUILD)/tests/integration/itest.o
OBJS       += $(ITEST_OBJS)
$(ITEST_OBJS): CFLAGS += -Wno-format-truncation

$(BUILD)/itest: $(ITEST_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -ljson-c

# A 32-bit process for the compat ioctl path (gcc-multilib); itest finds it beside itself.
$(BUILD)/ioctl32: tests/integration/ioctl32.c
	$(call msg,CC32,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(COMPAT32_CC) $(filter-out $(SAN_FLAGS),$(CFLAGS)) -static -o $@ $<

# the native run, then the scenarios on a descriptor again with tier 3's fallback program (CO-RE
# reads): ioctl, descriptors passed, read/write/mmap
itest-check: $(BUILD)/accelguard $(BUILD)/itest $(BUILD)/ioctl32
	$(call msg,ITEST,native kernel$(if $(ITEST_EXPECT_TIER), (expects tier $(ITEST_EXPECT_TIER))) then ioctl, fd_ and evasion_rw with ACCELGUARD_TP_IOCTL=core)
	$(call stage,itest-check) $(BUILD)/itest --agent $(BUILD)/accelguard \
		$(if $(ITEST_EXPECT_TIER),--expect-tier $(ITEST_EXPECT_TIER)) $(ITEST_FILTER) \
		:: env ACCELGUARD_TP_IOCTL=core $(BUILD)/itest --agent $(BUILD)/accelguard ioctl \
		:: env ACCELGUARD_TP_IOCTL=core $(BUILD)/itest --agent $(BUILD)/accelguard fd_ \
		:: env ACCELGUARD_TP_IOCTL=core $(BUILD)/itest --agent $(BUILD)/accelguard evasion_rw
