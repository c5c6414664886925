# The agent against a real container runtime (issue 10): Debian's containerd and runc started by
# the test with their own root, state and socket, pods made through the CRI as the kubelet makes
# them, the PodResources peer, verdicts checked from inside real containers (tests/containerd/).
# It shares /kubepods with k8s-e2e-check: both take KUBEPODS_LOCK (mk/k8s.mk).
CTD_CGPARSE := $(BUILD)/tests/containerd/cgparse
OBJS += $(BUILD)/tests/containerd/cgparse.o

$(BUILD)/tests/containerd/cgparse.o: CFLAGS += -Iuser
$(CTD_CGPARSE): $(BUILD)/tests/containerd/cgparse.o $(BUILD)/user/k8s/cgroup.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

.PHONY: containerd-check
CHECK_STAGES += containerd-check
containerd-check: $(BUILD)/accelguard $(CTD_CGPARSE)
	$(call msg,CTD,the agent against containerd and runc)
	$(call stage,containerd-check) flock -w 900 $(KUBEPODS_LOCK) \
		tests/containerd/run.sh $(BUILD)/accelguard $(CTD_CGPARSE)
