#!/usr/bin/env bash
# Run every test: install what is missing, build, make check. Needs root (BPF, cgroups, mknod).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: run as root (BPF, cgroups, mknod, packages); as another user: sudo $0" >&2; exit 1; }
# the groups the tests need; `make bench` installs its own (bpftrace, auditd) when it runs
tools/deps.sh build test vm k8s containerd metrics deploy fresh arm64
# The guests (software emulation) are the longest stages: one guest at a time in each of the two
# guest stages (amd64, arm64), which make runs side by side; the amd64 guests at tiers 1 and 2,
# which only they can test (tier 3 runs natively in itest-check), and the arm64 guests on Debian's
# 6.12 alone, which has every tier (6.1 on arm64 only shows the fall back to tier 3). Plain `make
# check` (or `make vm-check`) boots them all. So CI stays well inside its 90 minutes (README "Tests").
export AG_VM_JOBS=${AG_VM_JOBS:-1}
make -j"$(nproc)" VM_FLAGS="${VM_FLAGS:---tiers lsm,fmod_ret}" \
	VM_ARM64_FLAGS="${VM_ARM64_FLAGS:---kernels bookworm-backports}" check
# the same stages under AddressSanitizer + UndefinedBehaviorSanitizer (a separate build), and the
# static analysers (README "Hardening")
make -j"$(nproc)" BUILD=build-san SANITIZE=1 unit-check itest-check k8s-check k8s-e2e-check limits-check
make lint
