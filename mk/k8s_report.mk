# Kubernetes Events and policy reports (user/k8s/report.c, issue 11): sinks that write to the
# API server. report.c formats the summary with jsonw.c and is a sink (sink.c), so the module's
# test binary links those too. The stage runs the real agent against the HTTPS API peer
# (tests/k8s/report_e2e.sh), its refusals included.

$(BUILD)/tests/k8s/k8s_test: $(BUILD)/user/sink.o $(BUILD)/user/jsonw.o

# a flood of violations straight into the Events sink (its limits, against the API peer)
OBJS += $(BUILD)/tests/k8s/report_flood.o
$(BUILD)/tests/k8s/report_flood: $(BUILD)/tests/k8s/report_flood.o $(K8S_OBJS) $(K8S_PB_OBJS) \
                                 $(BUILD)/user/sink.o $(BUILD)/user/jsonw.o $(BUILD)/user/devices.o \
                                 $(BUILD)/user/log.o $(BUILD)/user/util.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(K8S_LIBS) -lbpf

.PHONY: k8s-report-check
CHECK_STAGES += k8s-report-check
k8s-report-check: $(BUILD)/accelguard $(BUILD)/tests/k8s/report_flood
	$(call msg,E2E,Kubernetes Events and policy reports)
	$(call stage,k8s-report-check) tests/k8s/report_e2e.sh $(BUILD)/accelguard \
		$(BUILD)/tests/k8s/report_flood
