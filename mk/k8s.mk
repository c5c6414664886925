# Kubernetes correlation (issue 4): user/k8s*.c, the protobuf-c code generated from proto/, and
# its tests (tests/k8s/). Its objects have their own rules, without the BPF skeletons, so that
# `make BUILD=/tmp/build-k8s k8s-check` builds and runs them on their own.

K8S_SRCS   := $(wildcard user/k8s/*.c)
K8S_HDRS   := $(wildcard user/k8s/*.h) user/source.h user/config.h user/devices.h \
              user/log.h user/util.h include/accelguard.h
K8S_PROTOS := podresources cri
K8S_PB_C   := $(patsubst %,$(BUILD)/proto/%.pb-c.c,$(K8S_PROTOS))
K8S_PB_H   := $(patsubst %,$(BUILD)/proto/%.pb-c.h,$(K8S_PROTOS))
K8S_PB_OBJS := $(K8S_PB_C:.c=.o)
K8S_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(K8S_SRCS))
K8S_LIBS   := -lcurl -lprotobuf-c -ljson-c -lyaml -lpthread

USER_SRCS  += $(K8S_SRCS)
GEN_HDRS   += $(K8S_PB_H)
LDLIBS     += -lcurl -lprotobuf-c -ljson-c
CHECK_STAGES += k8s-check

# the generated code goes into the agent's library too ($^ of libag.a collects every prerequisite)
$(BUILD)/libag.a: $(K8S_PB_OBJS)

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(BUILD)/proto
	$(Q)protoc-c --c_out=$(BUILD) -I. $<

$(K8S_PB_OBJS): %.o: %.c $(K8S_PB_H)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(K8S_OBJS): $(BUILD)/%.o: %.c $(K8S_HDRS) $(K8S_PB_H)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Tests: the cgroup path unit test (cmocka) and the source driven against real peers.
K8S_TEST_DEPS := $(BUILD)/k8s/devices.o $(BUILD)/k8s/log.o $(BUILD)/k8s/util.o
$(BUILD)/k8s/%.o: user/%.c $(K8S_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/k8s/%.o: tests/k8s/%.c $(K8S_HDRS) $(K8S_PB_H)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/k8s/cgroup_test: $(BUILD)/tests/k8s/cgroup_test.o $(BUILD)/user/k8s/cgroup.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(BUILD)/tests/k8s/k8s_test: $(BUILD)/tests/k8s/k8s_test.o $(K8S_OBJS) $(K8S_PB_OBJS) $(K8S_TEST_DEPS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(K8S_LIBS) -lbpf -lcmocka

.PHONY: k8s-check k8s-test
k8s-check: $(BUILD)/tests/k8s/cgroup_test $(BUILD)/tests/k8s/k8s_test
	$(Q)$(BUILD)/tests/k8s/cgroup_test
	$(Q)tests/k8s/run.sh $(BUILD)/tests/k8s/k8s_test

# End to end: the real agent with a kubernetes: section against the gRPC kubelet and runtime
# peers, kubelet-shaped cgroups and real opens (tests/k8s/e2e.sh).
.PHONY: k8s-e2e-check
CHECK_STAGES += k8s-e2e-check
k8s-e2e-check: $(BUILD)/accelguard
	$(call msg,E2E,kubernetes source in the agent)
	$(Q)tests/k8s/e2e.sh $(BUILD)/accelguard
