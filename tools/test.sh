#!/usr/bin/env bash
# Run every test: install what is missing, build, make check. Needs root (BPF, cgroups, mknod).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: run as root (BPF, cgroups, mknod, packages); as another user: sudo $0" >&2; exit 1; }
# the groups the tests need; `make bench` installs its own (bpftrace, auditd) when it runs
tools/deps.sh build test vm k8s containerd metrics deploy
make -j"$(nproc)" check
