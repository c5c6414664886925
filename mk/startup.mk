# The agent's start (issue 10): the sources' first snapshot, the kernel's not-ready state
# (user/startup.c; its tests are k8s-e2e-check's and containerd-check's start-up cases).
USER_SRCS += user/startup.c
$(BUILD)/user/startup.o: | $(SKELS)
