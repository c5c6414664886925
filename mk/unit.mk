# Unit tests (cmocka): configuration, device classes, cgroup patterns and the verdict logic.
# They link the agent's own objects ($(BUILD)/user/*/*.o, the same the agent links), none of which
# needs the BPF skeleton. The stage also checks the layers of user/ (user/layers, tests/layers.sh)
# on every object of the agent, the skeleton's users included, and that check itself on copies
# with a fault planted (tests/layers_test.sh).

UNIT_TESTS     := config devices cgpattern verdict agent
UNIT_BINS      := $(patsubst %,$(BUILD)/tests/test_%,$(UNIT_TESTS))
UNIT_TEST_OBJS := $(patsubst %,$(BUILD)/tests/unit/test_%.o,$(UNIT_TESTS))
OBJS           += $(UNIT_TEST_OBJS)
# only the test sources need to know where their fixtures are
$(UNIT_TEST_OBJS): CFLAGS += -DAG_UNIT_FIXTURES='"$(CURDIR)/tests/unit/fixtures"'
UNIT_LIBS := -lcmocka -lyaml

U := $(BUILD)/user
# the agent's own parsers and policy table, without a kernel (map fds -1)
AGENT_UNIT_OBJS := $(patsubst %,$(U)/%.o,sources/cgroups lib/htab lib/ioctl_names lib/jsonw lib/log \
                   kernel/maps policy/policy sinks/sink sinks/sink_json sinks/event lib/names lib/util)

.PHONY: unit-check unit-memcheck
CHECK_STAGES += unit-check

$(BUILD)/tests/test_config: $(BUILD)/tests/unit/test_config.o $(U)/sources/config.o $(U)/sources/devices.o $(U)/lib/util.o \
                            $(U)/lib/cgpattern.o
$(BUILD)/tests/test_devices: $(BUILD)/tests/unit/test_devices.o $(U)/sources/devices.o $(U)/sources/vfio.o \
                             $(U)/lib/util.o
$(BUILD)/tests/test_cgpattern: $(BUILD)/tests/unit/test_cgpattern.o $(U)/lib/cgpattern.o
$(BUILD)/tests/test_verdict: $(BUILD)/tests/unit/test_verdict.o
$(BUILD)/tests/test_agent: $(BUILD)/tests/unit/test_agent.o $(AGENT_UNIT_OBJS) $(U)/sources/config.o \
                           $(U)/sources/devices.o $(U)/lib/cgpattern.o
$(BUILD)/tests/test_agent: UNIT_LIBS += -lbpf

$(UNIT_BINS):
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_LIBS)

# Runs every test binary; ends with "N passed, N failed[, N skipped]" (over all binaries) and
# fails on any failure, a crash included.
# (the layering check reads every object of user/: the agent's link builds them all)
unit-check: $(UNIT_BINS) $(USER_OBJS) $(AGENT_MAIN_OBJ) $(BUILD)/accelguard
	$(call stage,unit-check) tests/unit/run.sh $(UNIT_BINS) \
		:: tests/layers.sh user/layers $(BUILD)/user :: tests/layers_test.sh $(BUILD)/user

# the layering of user/ alone: each folder uses only lower layers (user/layers), no cycle
.PHONY: layers-check
layers-check: $(USER_OBJS) $(AGENT_MAIN_OBJ) $(BUILD)/accelguard
	$(Q)tests/layers.sh user/layers $(BUILD)/user && tests/layers_test.sh $(BUILD)/user

# The same under valgrind (not part of `make check`: slow, and valgrind is optional).
unit-memcheck: $(UNIT_BINS)
	$(Q)AG_UNIT_WRAP='valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99' \
		tests/unit/run.sh $(UNIT_BINS)
