# `make SANITIZE=1 ...` (issue 13): the agent, its tests and their objects built with
# AddressSanitizer and UndefinedBehaviorSanitizer (gcc or clang); any report fails the test that
# triggered it (-fno-sanitize-recover, halt_on_error). The BPF objects are unaffected. Use a
# separate BUILD directory: `make BUILD=build-san SANITIZE=1 unit-check itest-check k8s-check`.
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS    += $(SAN_FLAGS)
LDFLAGS   += $(SAN_FLAGS)
export ASAN_OPTIONS  ?= halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
# `make check SANITIZE=1`: the unit, integration, Kubernetes, limits and fuzz stages; the VM stages
# are left out (not tried under the sanitizers: the guests run under emulation, with little memory,
# and ASan makes the agent several times slower and larger)
CHECK_SKIP += vm-check vm-harness-check
# tests/k8s/e2e.sh waits this long for the agent's refresh after the peers' first lists
export AG_E2E_SETTLE ?= 2
endif
