# Metrics and health (issue 11): /metrics, /healthz, /readyz on libmicrohttpd (user/http.c,
# user/metrics.c), tested against the real agent with promtool (tests/metrics/metrics.sh).
USER_SRCS += user/http.c user/metrics.c
LDLIBS    += -lmicrohttpd

.PHONY: metrics-check
CHECK_STAGES += metrics-check
metrics-check: $(BUILD)/accelguard
	$(call msg,METRICS,/metrics /healthz /readyz of the real agent (promtool))
	$(call stage,metrics-check) tests/metrics/metrics.sh $(BUILD)/accelguard
