# Kubernetes correlation (issue 4): the module user/k8s/ (layers in user/k8s/layers), the
# protobuf-c code generated from proto/, and its tests (tests/k8s/). Only podresources.o and
# cri.o need generated headers (protobuf-c's), none the BPF skeleton, so that
# `make BUILD=/tmp/build-k8s k8s-check` builds and runs them on their own.

K8S_SRCS    := $(wildcard user/k8s/*.c)
K8S_OBJS    := $(patsubst %.c,$(BUILD)/%.o,$(K8S_SRCS))
K8S_PROTOS  := podresources cri
K8S_PB_C    := $(patsubst %,$(BUILD)/proto/%.pb-c.c,$(K8S_PROTOS))
K8S_PB_H    := $(patsubst %,$(BUILD)/proto/%.pb-c.h,$(K8S_PROTOS))
K8S_PB_OBJS := $(K8S_PB_C:.c=.o)
K8S_LIBS    := -lcurl -lprotobuf-c -ljson-c -lyaml -lpthread
K8S_TESTS   := cgroup_test lock_test k8s_test
K8S_TEST_BINS := $(patsubst %,$(BUILD)/tests/k8s/%,$(K8S_TESTS))
K8S_TEST_OBJS := $(patsubst %,$(BUILD)/tests/k8s/%.o,$(K8S_TESTS))

USER_SRCS  += $(K8S_SRCS)
OBJS       += $(K8S_PB_OBJS) $(K8S_TEST_OBJS)
LDLIBS     += -lcurl -lprotobuf-c -ljson-c
CHECK_STAGES += k8s-check

# the generated code goes into the agent's library too ($^ of libag.a collects every prerequisite)
$(BUILD)/libag.a: $(K8S_PB_OBJS)

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(BUILD)/proto
	$(Q)protoc-c --c_out=$(BUILD) -I. $<

$(K8S_PB_OBJS): %.o: %.c | $(K8S_PB_H)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/user/k8s/podresources.o $(BUILD)/user/k8s/cri.o: | $(K8S_PB_H)

# Tests: the cgroup path unit test and the ranked locks (cmocka), the layering of the objects,
# and the source driven against real peers.
$(BUILD)/tests/k8s/cgroup_test: $(BUILD)/user/k8s/cgroup.o
$(BUILD)/tests/k8s/lock_test: $(BUILD)/user/k8s/base.o $(BUILD)/user/lib/log.o $(BUILD)/user/lib/util.o
$(BUILD)/tests/k8s/k8s_test: $(K8S_OBJS) $(K8S_PB_OBJS) $(BUILD)/user/sources/devices.o $(BUILD)/user/sources/vfio.o \
                             $(BUILD)/user/lib/log.o $(BUILD)/user/lib/util.o
$(K8S_TEST_BINS): %: %.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(K8S_LIBS) -lbpf -lcmocka

.PHONY: k8s-check k8s-layers-check
k8s-check: $(K8S_TEST_BINS) $(K8S_OBJS)
	$(call stage,k8s-check) tests/layers.sh user/k8s/layers $(BUILD)/user/k8s \
		:: tests/unit/run.sh $(BUILD)/tests/k8s/cgroup_test $(BUILD)/tests/k8s/lock_test \
		:: tests/k8s/run.sh $(BUILD)/tests/k8s/k8s_test

# the layering alone: every object of user/k8s/ uses only its own and lower layers, no cycle
k8s-layers-check: $(K8S_OBJS)
	$(Q)tests/layers.sh user/k8s/layers $(BUILD)/user/k8s

# End to end: the real agent with a kubernetes: section against the gRPC kubelet and runtime
# peers, kubelet-shaped cgroups and real opens (tests/k8s/e2e.sh).
.PHONY: k8s-e2e-check
CHECK_STAGES += k8s-e2e-check
# The stages whose agents judge the kubelet's /kubepods (enforce mode, "unresolved: deny") take
# this lock, so that under `make -j check` one's agent never judges the other's containers.
KUBEPODS_LOCK ?= /tmp/accelguard-kubepods.lock
k8s-e2e-check: $(BUILD)/accelguard
	$(call msg,E2E,kubernetes source in the agent)
	$(call stage,k8s-e2e-check) flock -w 900 $(KUBEPODS_LOCK) tests/k8s/e2e.sh $(BUILD)/accelguard

# The OCI bundle reader and the exposure computation (issue 22) on real containerd bundles, a
# CRI-O one and hostile ones (tests/k8s/oci_test.c, fixtures in tests/k8s/fixtures/oci).
K8S_OCI_TEST := $(BUILD)/tests/k8s/oci_test
OBJS += $(BUILD)/tests/k8s/oci_test.o
$(BUILD)/tests/k8s/oci_test.o: CFLAGS += -DFIXTURES='"$(CURDIR)/tests/k8s/fixtures"'
$(K8S_OCI_TEST): $(BUILD)/tests/k8s/oci_test.o $(BUILD)/user/k8s/oci.o $(BUILD)/user/k8s/exposure.o $(BUILD)/user/k8s/amd.o \
                 $(BUILD)/user/k8s/devmap.o $(BUILD)/user/k8s/cdi.o $(BUILD)/user/sources/vfio.o \
                 $(BUILD)/user/k8s/nvidia.o $(BUILD)/user/k8s/base.o $(BUILD)/user/sources/devices.o \
                 $(BUILD)/user/lib/log.o $(BUILD)/user/lib/util.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -ljson-c -lyaml -lpthread -lbpf -lcmocka

.PHONY: k8s-oci-check
CHECK_STAGES += k8s-oci-check
k8s-oci-check: $(K8S_OCI_TEST)
	$(call stage,k8s-oci-check) tests/unit/run.sh $(K8S_OCI_TEST)

# Kubernetes Events and policy reports (user/k8s/report.c, issue 11): sinks that write to the
# API server. report.c formats the summary with lib/jsonw.c and is a sink (sinks/sink.c), so the module's
# test binary links those too. The stage runs the real agent against the HTTPS API peer
# (tests/k8s/report_e2e.sh), its refusals included.

$(BUILD)/tests/k8s/k8s_test: $(BUILD)/user/sinks/sink.o $(BUILD)/user/sinks/event.o $(BUILD)/user/lib/jsonw.o \
                             $(BUILD)/user/lib/names.o

# a flood of violations straight into the Events sink (its limits, against the API peer)
OBJS += $(BUILD)/tests/k8s/report_flood.o
$(BUILD)/tests/k8s/report_flood: $(BUILD)/tests/k8s/report_flood.o $(K8S_OBJS) $(K8S_PB_OBJS) \
                                 $(BUILD)/user/sinks/sink.o $(BUILD)/user/sinks/event.o $(BUILD)/user/lib/names.o \
                                 $(BUILD)/user/lib/jsonw.o $(BUILD)/user/sources/devices.o \
                                 $(BUILD)/user/sources/vfio.o $(BUILD)/user/lib/log.o $(BUILD)/user/lib/util.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(K8S_LIBS) -lbpf

.PHONY: k8s-report-check
CHECK_STAGES += k8s-report-check
k8s-report-check: $(BUILD)/accelguard $(BUILD)/tests/k8s/report_flood
	$(call msg,E2E,Kubernetes Events and policy reports)
	$(call stage,k8s-report-check) tests/k8s/report_e2e.sh $(BUILD)/accelguard \
		$(BUILD)/tests/k8s/report_flood
