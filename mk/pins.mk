# Pinned state: restart and upgrade without a window (user/pins.c, issue 10). Its tests are
# itest scenarios (restart_*, upgrade_*, uninstall) in tests/integration/itest.c.
USER_SRCS += user/pins.c
$(BUILD)/user/pins.o: | $(SKELS)
$(BUILD)/user/pins.o: CFLAGS += -Wno-format-truncation
