# Evidence (issue 12): the journal sink and `accelguard journal` (user/journal.c), the self-test
# (user/selftest.c), bundles and their verification (user/evidence.c: libcrypto for sha256 and
# Ed25519). Its stage runs tests/evidence/test_evidence.py against the real agent.
#   make evidence-check                      every scenario
#   make evidence-check EVIDENCE_FILTER=journal
USER_SRCS += user/journal.c user/selftest.c user/evidence.c user/evidence_upload.c user/evidence_cluster.c user/evidence_http.c
LDLIBS    += -lcrypto
EVIDENCE_FILTER ?=

.PHONY: evidence-check
CHECK_STAGES += evidence-check

evidence-check: $(BUILD)/accelguard
	$(call msg,EVIDENCE,journal and self-test and bundles against the real agent)
	$(call stage,evidence-check) /usr/bin/python3 tests/evidence/test_evidence.py \
		--agent $(BUILD)/accelguard $(EVIDENCE_FILTER)

# paths under the cgroup2 mount are bounded by the kernel, not by the buffers' sizes
$(BUILD)/user/selftest.o $(BUILD)/user/evidence.o $(BUILD)/user/evidence_cluster.o: CFLAGS += -Wno-format-truncation
