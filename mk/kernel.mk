# user/kernel/: the agent's side of the kernel: loading and attaching the programs by tier
# (loader.c), the one owner of the maps (maps.c), the pinned state that outlives the agent
# (pins.c, issue 10; its tests are itest's restart_*, upgrade_*, uninstall), and the descriptors
# processes already hold at start (procscan.c).
USER_SRCS += $(wildcard user/kernel/*.c)
# the BPF skeleton (through loader.h and pins.h), before the objects that include it
$(BUILD)/user/kernel/loader.o $(BUILD)/user/kernel/pins.o: | $(SKELS)
$(BUILD)/user/kernel/pins.o: CFLAGS += -Wno-format-truncation
