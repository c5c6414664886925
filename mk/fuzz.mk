# Hardening (issue 13): libFuzzer targets for every parser (tests/fuzz/), a seed corpus in the
# repository (tests/fuzz/corpus/TARGET/), `make fuzz` (FUZZ_SECONDS each, default 60) and the
# fuzz-check stage of `make check` (FUZZ_CHECK_SECONDS each, default 8). The parsers are compiled
# again with clang and -fsanitize=fuzzer-no-link,address,undefined into $(BUILD)/fuzz/.

FUZZ_TARGETS := config cdi nvidia procdevices cgroups cgpath pod watch podresources cri grpc oci
FZ           := $(BUILD)/fuzz
FUZZ_BINS    := $(patsubst %,$(FZ)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -std=gnu11 -Wall -Wextra -Werror \
                -Wno-unused-parameter -Wno-missing-field-initializers -D_GNU_SOURCE -Iinclude \
                $(USER_INC) -I$(BUILD) -DAG_VERSION='"fuzz"'
# (this fragment is read before k8s.mk: its variables are not set yet)
FUZZ_PB_H    := $(BUILD)/proto/podresources.pb-c.h $(BUILD)/proto/cri.pb-c.h
FUZZ_LIB_SRCS := user/sources/config.c user/sources/devices.c user/lib/cgpattern.c \
                 user/sources/cgroups.c user/lib/util.c user/lib/log.c user/sources/vfio.c $(wildcard user/k8s/*.c)
FUZZ_LIB_OBJS := $(patsubst %.c,$(FZ)/obj/%.o,$(FUZZ_LIB_SRCS)) \
                 $(FZ)/obj/proto/podresources.pb-c.o $(FZ)/obj/proto/cri.pb-c.o
FUZZ_LIBS    := -lyaml -ljson-c -lprotobuf-c -lcurl -lbpf -lpthread
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 8

$(FZ)/obj/user/%.o: user/%.c | $(FUZZ_PB_H)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FZ)/obj/proto/%.o: $(BUILD)/proto/%.c | $(FUZZ_PB_H)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FZ)/obj/tests/fuzz/%.o: tests/fuzz/%.c | $(FUZZ_PB_H)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FZ)/libfuzzag.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FZ)/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FZ)/libfuzzag.a
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

-include $(FUZZ_LIB_OBJS:.o=.d) $(patsubst %,$(FZ)/obj/tests/fuzz/fuzz_%.d,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-build fuzz-check
fuzz-build: $(FUZZ_BINS)

# Each target for FUZZ_SECONDS (FUZZ=NAME for one); new inputs go to $(FZ)/corpus/TARGET, crashes
# to $(FZ)/artifacts/ (keep them in tests/fuzz/corpus/TARGET/ once fixed).
fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/run.sh $(FZ) $(FUZZ_SECONDS) $(if $(FUZZ),$(FUZZ),$(FUZZ_TARGETS))

CHECK_STAGES += fuzz-check
fuzz-check: $(FUZZ_BINS)
	$(call stage,fuzz-check) tests/fuzz/run.sh $(FZ) $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

# Every parser at its stated limit: accepted, one past refused with the input named, bounded time
# and memory (tests/fuzz/limits_test.c, cmocka, gcc like the agent); and a configuration that only
# the host's drivers make unloadable, refused at start with its line (tests/fuzz/config_load.sh).
LIMITS_TEST := $(BUILD)/tests/fuzz/limits_test
OBJS        += $(BUILD)/tests/fuzz/limits_test.o
$(BUILD)/tests/fuzz/limits_test.o: | $(FUZZ_PB_H)
$(LIMITS_TEST): $(BUILD)/tests/fuzz/limits_test.o $(BUILD)/libag.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcurl -lprotobuf-c -ljson-c -lyaml -lbpf -lcmocka -lpthread

.PHONY: limits-check
CHECK_STAGES += limits-check
limits-check: $(LIMITS_TEST) $(BUILD)/accelguard
	$(call stage,limits-check) tests/unit/run.sh $(LIMITS_TEST) \
		:: tests/fuzz/config_load.sh $(BUILD)/accelguard
