# Unit tests (cmocka): configuration, device classes, cgroup patterns and the verdict logic.
# The unit objects have their own rule, without the BPF skeletons, so that
# `make BUILD=/tmp/build-unit unit-check` builds and runs them on their own.

UNIT_SRCS := user/config.c user/devices.c user/cgpattern.c
USER_SRCS += $(UNIT_SRCS)

UNIT_TESTS := config devices cgpattern verdict agent
UNIT_BINS  := $(patsubst %,$(BUILD)/tests/test_%,$(UNIT_TESTS))
UNIT_OBJS  := $(patsubst %.c,$(BUILD)/unit/%.o,$(UNIT_SRCS) $(patsubst %,tests/unit/test_%.c,$(UNIT_TESTS)))
UNIT_HDRS  := include/accelguard.h include/verdict.h user/config.h user/devices.h user/cgpattern.h \
              tests/unit/unit.h
# the agent's own parsers and policy table, without a kernel (map fds -1)
AGENT_UNIT_SRCS := user/cgroups.c user/htab.c user/ioctl_names.c user/jsonw.c user/log.c \
                   user/maps.c user/policy.c user/sink.c user/sink_json.c user/util.c
UNIT_OBJS += $(patsubst %.c,$(BUILD)/unit/%.o,$(AGENT_UNIT_SRCS))
UNIT_HDRS += $(wildcard user/*.h)
UNIT_CFLAGS := -DAG_UNIT_FIXTURES='"$(CURDIR)/tests/unit/fixtures"'
UNIT_LIBS  := -lcmocka -lyaml

.PHONY: unit-check unit-memcheck
CHECK_STAGES += unit-check

$(UNIT_OBJS): $(BUILD)/unit/%.o: %.c $(UNIT_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(UNIT_CFLAGS) -c $< -o $@

$(BUILD)/tests/test_config: $(BUILD)/unit/tests/unit/test_config.o $(BUILD)/unit/user/config.o \
                            $(BUILD)/unit/user/devices.o $(BUILD)/unit/user/cgpattern.o
$(BUILD)/tests/test_devices: $(BUILD)/unit/tests/unit/test_devices.o $(BUILD)/unit/user/devices.o
$(BUILD)/tests/test_cgpattern: $(BUILD)/unit/tests/unit/test_cgpattern.o $(BUILD)/unit/user/cgpattern.o
$(BUILD)/tests/test_verdict: $(BUILD)/unit/tests/unit/test_verdict.o
$(BUILD)/tests/test_agent: $(BUILD)/unit/tests/unit/test_agent.o \
                           $(patsubst %.c,$(BUILD)/unit/%.o,$(AGENT_UNIT_SRCS)) \
                           $(BUILD)/unit/user/config.o $(BUILD)/unit/user/devices.o \
                           $(BUILD)/unit/user/cgpattern.o
$(BUILD)/tests/test_agent: UNIT_LIBS += -lbpf

$(UNIT_BINS):
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_LIBS)

# Runs every test binary; ends with "N passed, N failed" (over all binaries) and fails on any
# failure, a crash included.
unit-check: $(UNIT_BINS)
	$(Q)tests/unit/run.sh $(UNIT_BINS)

# The same under valgrind (not part of `make check`: slow, and valgrind is optional).
unit-memcheck: $(UNIT_BINS)
	$(Q)AG_UNIT_WRAP='valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99' \
		tests/unit/run.sh $(UNIT_BINS)
