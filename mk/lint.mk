# Static analysis (issue 13): cppcheck and clang-tidy over the user-space C, the checks chosen in
# .clang-tidy and tools/lint/cppcheck-suppressions.txt (README "Static analysis"). Not a stage of
# `make check` (about two minutes on two cores); tools/test.sh runs it after `make check`.
.PHONY: lint
# the generated headers the sources include: a fresh clone has none
lint: $(BUILD)/proto/podresources.pb-c.h $(BUILD)/proto/cri.pb-c.h $(SKELS) $(BUILD)/conformance_checklists.h
	$(Q)tools/lint.sh $(BUILD)
