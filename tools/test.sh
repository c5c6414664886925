#!/usr/bin/env bash
# Run every test: install what is missing, build, make check. Needs root (BPF, cgroups, mknod).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh all
make -j"$(nproc)" check
