#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Static analysis of the user-space C (make lint): cppcheck (warning, portability, performance;
# suppressions in tools/lint/cppcheck-suppressions.txt) and clang-tidy (checks in .clang-tidy).
# Any finding fails. Usage: tools/lint.sh BUILD_DIR (for the generated protobuf-c headers).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# user/ and each of its folders but k8s/ (whose headers are included as "k8s/NAME.h"), as the
# Makefile's USER_INC has them
incs=(-Iinclude -Iuser)
for d in user/*/; do [ "$d" = user/k8s/ ] || incs+=(-I"${d%/}"); done
incs+=(-I"$build")
flags=(-std=gnu11 -D_GNU_SOURCE "${incs[@]}" -DAG_VERSION='"lint"')
srcs=(user/*/*.c)
tests=(tests/unit/*.c tests/k8s/*.c tests/fuzz/*.c tests/integration/*.c)
passed=0 failed=0
for tool in cppcheck clang-tidy; do
	command -v "$tool" >/dev/null || { echo "skip - lint/$tool: $tool not installed (tools/deps/test.txt)"; continue; }
done
if command -v cppcheck >/dev/null; then
	# The BPF skeleton carries the BPF object as a string of 1.2 MB: cppcheck spends minutes on it
	# for every file that includes it (8 min 47 s against 1.1 s for loader.c alone). It reads a
	# copy without that string (the same declarations; $build/lint/, first on its path).
	mkdir -p "$build/lint"
	if [ -f "$build/accelguard.skel.h" ]; then
		awk '/return \(const void \*\)"\\$/ { print "\treturn (const void *)\"\";"; skip = 1; next }
		     skip && /";$/ { skip = 0; next } !skip' "$build/accelguard.skel.h" > "$build/lint/accelguard.skel.h"
	fi
	if out=$(cppcheck -q --std=c11 --enable=warning,portability,performance --inline-suppr \
		--error-exitcode=1 --suppressions-list=tools/lint/cppcheck-suppressions.txt \
		-D_GNU_SOURCE -I"$build/lint" "${incs[@]}" "${srcs[@]}" "${tests[@]}" 2>&1) && [ -z "$out" ]; then
		echo "ok - lint/cppcheck (${#srcs[@]} sources, ${#tests[@]} test sources)"
		passed=$((passed + 1))
	else
		printf '%s\n' "$out"
		echo "not ok - lint/cppcheck"
		failed=$((failed + 1))
	fi
fi
if command -v clang-tidy >/dev/null; then
	# two at a time (the machine's cores); each file's findings are printed whole
	if out=$(printf '%s\n' "${srcs[@]}" | xargs -P2 -I{} clang-tidy -quiet {} -- "${flags[@]}" 2>/dev/null) &&
	   ! grep -qE '(warning|error):' <<<"$out"; then
		echo "ok - lint/clang-tidy (${#srcs[@]} sources)"
		passed=$((passed + 1))
	else
		printf '%s\n' "$out"
		echo "not ok - lint/clang-tidy"
		failed=$((failed + 1))
	fi
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
