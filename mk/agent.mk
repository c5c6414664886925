# The agent's own modules (user/main.c links them into build/accelguard).
USER_SRCS += user/cgpattern.c user/config.c user/devices.c user/vfio.c
USER_SRCS += user/agent.c user/cgroups.c user/htab.c user/ioctl_names.c user/jsonw.c \
             user/loader.c user/log.c user/maps.c user/names.c user/policy.c user/procscan.c user/sink.c \
             user/sink_json.c user/util.c

AGENT_MAIN_OBJ := $(BUILD)/user/main.o

# the BPF skeleton (through loader.h), before the objects that include it
$(BUILD)/user/agent.o $(BUILD)/user/loader.o $(AGENT_MAIN_OBJ): | $(SKELS)
