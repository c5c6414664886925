#!/usr/bin/env bash
# Run every test: install what is missing, build, make check. Needs root (BPF, cgroups, mknod).
set -euo pipefail
cd "$(dirname "$0")/.."
# the groups the tests need; `make bench` installs its own (bpftrace, auditd) when it runs
tools/deps.sh build test vm k8s
make -j"$(nproc)" check
