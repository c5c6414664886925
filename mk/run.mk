# user/run/: `accelguard run`: the agent's set-up and its event loop (agent.c: ring buffer,
# timers, signals, sources in one epoll), its start (startup.c, issue 10: the sources' first
# snapshot, the end of the kernel's not-ready state); the events the loop makes (events.c), each
# as a line and a typed record into the batch for the sinks (out.c), the violation bookkeeping
# (viol.c), the ready event, the one snapshot for /metrics and the summary (summary.c), the
# device classes and the /proc/devices watch (devwatch.c); run.h is their shared state.
USER_SRCS += $(wildcard user/run/*.c)
# the BPF skeleton (through loader.h), before the objects that include it
$(patsubst %.c,$(BUILD)/%.o,$(wildcard user/run/*.c)): | $(SKELS)
