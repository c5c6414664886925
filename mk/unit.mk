# Unit tests (cmocka): configuration, device classes, cgroup patterns and the verdict logic.
# They link the agent's own objects ($(BUILD)/user/*.o, the same the agent links), none of which
# needs the BPF skeleton, so `make BUILD=/tmp/build-unit unit-check` builds and runs them alone.

UNIT_TESTS     := config devices cgpattern verdict agent
UNIT_BINS      := $(patsubst %,$(BUILD)/tests/test_%,$(UNIT_TESTS))
UNIT_TEST_OBJS := $(patsubst %,$(BUILD)/tests/unit/test_%.o,$(UNIT_TESTS))
OBJS           += $(UNIT_TEST_OBJS)
# only the test sources need to know where their fixtures are
$(UNIT_TEST_OBJS): CFLAGS += -DAG_UNIT_FIXTURES='"$(CURDIR)/tests/unit/fixtures"'
UNIT_LIBS := -lcmocka -lyaml

U := $(BUILD)/user
# the agent's own parsers and policy table, without a kernel (map fds -1)
AGENT_UNIT_OBJS := $(patsubst %,$(U)/%.o,cgroups htab ioctl_names jsonw log maps policy \
                   sink sink_json util)

.PHONY: unit-check unit-memcheck
CHECK_STAGES += unit-check

$(BUILD)/tests/test_config: $(BUILD)/tests/unit/test_config.o $(U)/config.o $(U)/devices.o $(U)/util.o \
                            $(U)/cgpattern.o
$(BUILD)/tests/test_devices: $(BUILD)/tests/unit/test_devices.o $(U)/devices.o $(U)/vfio.o
$(BUILD)/tests/test_cgpattern: $(BUILD)/tests/unit/test_cgpattern.o $(U)/cgpattern.o
$(BUILD)/tests/test_verdict: $(BUILD)/tests/unit/test_verdict.o
$(BUILD)/tests/test_agent: $(BUILD)/tests/unit/test_agent.o $(AGENT_UNIT_OBJS) $(U)/config.o \
                           $(U)/devices.o $(U)/cgpattern.o
$(BUILD)/tests/test_agent: UNIT_LIBS += -lbpf

$(UNIT_BINS):
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_LIBS)

# Runs every test binary; ends with "N passed, N failed[, N skipped]" (over all binaries) and
# fails on any failure, a crash included.
unit-check: $(UNIT_BINS)
	$(call stage,unit-check) tests/unit/run.sh $(UNIT_BINS)

# The same under valgrind (not part of `make check`: slow, and valgrind is optional).
unit-memcheck: $(UNIT_BINS)
	$(Q)AG_UNIT_WRAP='valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99' \
		tests/unit/run.sh $(UNIT_BINS)
