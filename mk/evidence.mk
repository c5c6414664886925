# Evidence (issue 12): the journal sink and `accelguard journal` (user/journal.c), the self-test
# (user/selftest.c), bundles and their verification (user/evidence.c: libcrypto for sha256 and
# Ed25519). Its stage runs tests/evidence/test_evidence.py against the real agent.
#   make evidence-check                      every scenario
#   make evidence-check EVIDENCE_FILTER=journal
USER_SRCS += user/journal.c user/selftest.c user/evidence.c user/evidence_upload.c user/evidence_cluster.c user/evidence_http.c \
             user/evidence_product.c user/evidence_conformance.c user/evidence_exposure.c
LDLIBS    += -lcrypto
EVIDENCE_FILTER ?=

# The conformance checklists (docs/conformance/AIConformance-X.Y.yaml, as cncf/k8s-ai-conformance
# publishes them) built into the program: PRODUCT.yaml templates and the offline validation.
CHECKLISTS := $(sort $(wildcard docs/conformance/AIConformance-*.yaml))
$(BUILD)/conformance_checklists.h: $(CHECKLISTS) mk/evidence.mk
	$(call msg,GEN,$@)
	$(Q){ echo '/* generated from docs/conformance/ by mk/evidence.mk */'; \
	  for f in $(CHECKLISTS); do v=$$(basename $$f .yaml | sed 's/^AIConformance-//'); \
	    n=$$(echo $$v | tr . _); echo "static const char checklist_$$n[] = {"; \
	    od -An -v -tx1 $$f | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '0 };'; done; \
	  echo 'static const struct { const char *version; const char *text; size_t len; } ag_checklists[] = {'; \
	  for f in $(CHECKLISTS); do v=$$(basename $$f .yaml | sed 's/^AIConformance-//'); \
	    n=$$(echo $$v | tr . _); echo "	{ \"$$v\", checklist_$$n, sizeof(checklist_$$n) - 1 },"; done; \
	  echo '};'; } > $@
$(BUILD)/user/evidence_product.o: | $(BUILD)/conformance_checklists.h

.PHONY: evidence-check
CHECK_STAGES += evidence-check

evidence-check: $(BUILD)/accelguard
	$(call msg,EVIDENCE,journal and self-test and bundles against the real agent)
	$(call stage,evidence-check) /usr/bin/python3 tests/evidence/test_evidence.py \
		--agent $(BUILD)/accelguard $(EVIDENCE_FILTER)

# paths under the cgroup2 mount are bounded by the kernel, not by the buffers' sizes
$(BUILD)/user/selftest.o $(BUILD)/user/evidence.o $(BUILD)/user/evidence_cluster.o $(BUILD)/user/evidence_product.o $(BUILD)/user/evidence_conformance.o: CFLAGS += -Wno-format-truncation
