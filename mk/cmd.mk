# user/cmd/: the sub-commands: main.c's table dispatches each (bpftool-style) and links
# build/accelguard; `paths` (paths.c) and `selftest` (selftest.c) live here, the others in the
# folder of what they run (run/, sinks/journal.c, evidence/, kernel/pins.c).
USER_SRCS += $(filter-out user/cmd/main.c,$(wildcard user/cmd/*.c))
AGENT_MAIN_OBJ := $(BUILD)/user/cmd/main.o
$(AGENT_MAIN_OBJ): | $(SKELS)
# paths under the cgroup2 mount are bounded by the kernel, not by the buffers' sizes
$(BUILD)/user/cmd/selftest.o: CFLAGS += -Wno-format-truncation
