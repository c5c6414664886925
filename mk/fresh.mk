# The README's two commands on a brand-new machine (issue 17), checked on any machine: the agent
# built in a bare Debian bookworm root with the build group alone, its --help, version and probe
# there, and tools/demo.sh run in it as printed, its lines checked against the README
# (tests/fresh/fresh.sh; the root's tarball and the downloaded packages are kept in $(BUILD)/fresh).
.PHONY: fresh-check
CHECK_STAGES += fresh-check
fresh-check:
	$(call msg,FRESH,the agent and the demo in a bare Debian root)
	$(call stage,fresh-check) env BUILD=$(BUILD) tests/fresh/fresh.sh

# The native arm64 build (issue 24): a plain `make` (HOST_ARCH arm64), the agent's --version and
# --help and `make unit-check`, in a Debian bookworm arm64 root run through qemu-user on x86-64
# (tests/fresh/arm64-native.sh; the root's tarball cached in $(BUILD)/arm64-native). Not in
# CHECK_STAGES: see the README's "Architectures" for its time.
.PHONY: arm64-native-check
arm64-native-check:
	$(Q)$(if $(filter arm64,$(HOST_ARCH)),,tools/deps.sh arm64-native)
	$(call msg,ARM64,the native arm64 build in an arm64 root)
	$(call stage,arm64-native-check) env BUILD=$(BUILD) tests/fresh/arm64-native.sh
