# user/sinks/: where events go: the typed events the loop builds beside its lines (event.c), the
# bounded queues and writer threads (sink.c),
# JSON lines (sink_json.c), the journal and `accelguard journal` (journal.c, issue 12), the
# metrics snapshot and counting sink (metrics.c, issue 11; served by user/serve/http.c).
USER_SRCS += $(wildcard user/sinks/*.c)

# /metrics, /healthz, /readyz of the real agent, checked with promtool (tests/metrics/metrics.sh)
.PHONY: metrics-check
CHECK_STAGES += metrics-check
metrics-check: $(BUILD)/accelguard
	$(call msg,METRICS,/metrics /healthz /readyz of the real agent (promtool))
	$(call stage,metrics-check) tests/metrics/metrics.sh $(BUILD)/accelguard

# the module's own test (cmocka, a real libcurl client against the real server)
METRICS_TEST_OBJ := $(BUILD)/tests/metrics/metrics_test.o
OBJS += $(METRICS_TEST_OBJ)
$(BUILD)/tests/metrics/metrics_test: $(METRICS_TEST_OBJ) $(BUILD)/user/sinks/metrics.o \
                                     $(BUILD)/user/serve/http.o $(BUILD)/user/lib/log.o \
                                     $(BUILD)/user/lib/util.o $(BUILD)/user/sinks/sink.o \
                                     $(BUILD)/user/lib/names.o $(BUILD)/user/sinks/event.o \
                                     $(BUILD)/user/lib/jsonw.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd -ljson-c -lcurl -lcmocka -lpthread -lbpf
metrics-check: $(BUILD)/tests/metrics/metrics_test
