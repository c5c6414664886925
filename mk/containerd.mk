# The agent against a real container runtime (issue 10): Debian's containerd and runc started by
# the test with their own root, state and socket, pods made through the CRI as the kubelet makes
# them, the PodResources peer, verdicts checked from inside real containers (tests/containerd/).
# It shares /kubepods with k8s-e2e-check: both take KUBEPODS_LOCK (mk/k8s.mk).
CTD_CGPARSE := $(BUILD)/tests/containerd/cgparse
OBJS += $(BUILD)/tests/containerd/cgparse.o

$(CTD_CGPARSE): $(BUILD)/tests/containerd/cgparse.o $(BUILD)/user/k8s/cgroup.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

.PHONY: containerd-check
CHECK_STAGES += containerd-check
containerd-check: $(BUILD)/accelguard $(CTD_CGPARSE)
	$(call msg,CTD,the agent against containerd and runc)
	$(call stage,containerd-check) flock -w 900 $(KUBEPODS_LOCK) \
		tests/containerd/run.sh $(BUILD)/accelguard $(CTD_CGPARSE)

# Issue 22 on the same real runtime (tests/containerd/exposure.sh): each kind of exposure from
# the containers' OCI bundles, new containers resolved from their bundle before their entrypoint
# runs ("unresolved: deny"), and the cgroup-creation-to-policy latency over 100 pods.
.PHONY: containerd-exposure-check
CHECK_STAGES += containerd-exposure-check
containerd-exposure-check: $(BUILD)/accelguard
	$(call msg,CTD,exposure and start window against containerd and runc)
	$(call stage,containerd-exposure-check) flock -w 900 $(KUBEPODS_LOCK) \
		tests/containerd/exposure.sh $(BUILD)/accelguard
