# user/run/: `accelguard run`: the agent's set-up and its event loop (agent.c: ring buffer,
# timers, signals, sources in one epoll), its start (startup.c, issue 10: the sources' first
# snapshot, the end of the kernel's not-ready state).
USER_SRCS += $(wildcard user/run/*.c)
# the BPF skeleton (through loader.h), before the objects that include it
$(BUILD)/user/run/agent.o $(BUILD)/user/run/startup.o: | $(SKELS)
