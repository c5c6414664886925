#!/usr/bin/env bash
# Run every test: install what is missing, build, make check. Needs root (BPF, cgroups, mknod).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: run as root (BPF, cgroups, mknod, packages); as another user: sudo $0" >&2; exit 1; }
# the groups the tests need; `make bench` installs its own (bpftrace, auditd) when it runs
tools/deps.sh build test vm k8s containerd metrics deploy fresh arm64
make -j"$(nproc)" check
# the same stages under AddressSanitizer + UndefinedBehaviorSanitizer (a separate build), and the
# static analysers (README "Hardening")
make -j"$(nproc)" BUILD=build-san SANITIZE=1 unit-check itest-check k8s-check k8s-e2e-check limits-check
make lint
