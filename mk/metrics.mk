# Metrics and health (issue 11): /metrics, /healthz, /readyz on libmicrohttpd (user/http.c,
# user/metrics.c), tested against the real agent with promtool (tests/metrics/metrics.sh).
USER_SRCS += user/http.c user/metrics.c user/hostns.c user/paths.c
LDLIBS    += -lmicrohttpd

.PHONY: metrics-check
CHECK_STAGES += metrics-check
metrics-check: $(BUILD)/accelguard
	$(call msg,METRICS,/metrics /healthz /readyz of the real agent (promtool))
	$(call stage,metrics-check) tests/metrics/metrics.sh $(BUILD)/accelguard

# the module's own test (cmocka, a real libcurl client against the real server)
METRICS_TEST_OBJ := $(BUILD)/tests/metrics/metrics_test.o
OBJS += $(METRICS_TEST_OBJ)
$(BUILD)/tests/metrics/metrics_test: $(METRICS_TEST_OBJ) $(BUILD)/user/metrics.o $(BUILD)/user/http.o \
                                     $(BUILD)/user/log.o $(BUILD)/user/util.o $(BUILD)/user/sink.o \
                                     $(BUILD)/user/names.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd -ljson-c -lcurl -lcmocka -lpthread -lbpf
metrics-check: $(BUILD)/tests/metrics/metrics_test
