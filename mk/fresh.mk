# The README's two commands on a brand-new machine (issue 17), checked on any machine: the agent
# built in a bare Debian bookworm root with the build group alone, its --help, version and probe
# there, and tools/demo.sh run in it as printed, its lines checked against the README
# (tests/fresh/fresh.sh; the root's tarball and the downloaded packages are kept in $(BUILD)/fresh).
.PHONY: fresh-check
CHECK_STAGES += fresh-check
fresh-check:
	$(call msg,FRESH,the agent and the demo in a bare Debian root)
	$(call stage,fresh-check) env BUILD=$(BUILD) tests/fresh/fresh.sh
