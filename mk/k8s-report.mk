# Kubernetes Events and policy reports (user/k8s/report.c, issue 11): sinks that write to the
# API server. report.c formats the summary with jsonw.c and is a sink (sink.c), so the module's
# test binary links those too. The stage runs the real agent against the HTTPS API peer
# (tests/k8s/report_e2e.sh), its refusals included.

$(BUILD)/tests/k8s/k8s_test: $(BUILD)/user/sink.o $(BUILD)/user/jsonw.o

.PHONY: k8s-report-check
CHECK_STAGES += k8s-report-check
k8s-report-check: $(BUILD)/accelguard
	$(call msg,E2E,Kubernetes Events and policy reports)
	$(call stage,k8s-report-check) tests/k8s/report_e2e.sh $(BUILD)/accelguard
