#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The end of `make check`: a table of the stages' results (recorded by tests/stage.sh in DIR),
# then "make check: N stages passed, N skipped (NAME: why; ...)[, N failed (NAME ...)]".
# Fails when a stage failed or left no result (it did not run: something it needs did not build).
# Usage: tests/stages.sh DIR STAGE...
set -u
dir=$1
shift
passed=0 skipped=0 failed=0 skips=() fails=()
echo "make check: results"
for st in "$@"; do
	if [ -s "$dir/$st" ]; then
		r=$(head -n 1 "$dir/$st")
	else
		r="failed: did not run (something it needs failed to build)"
	fi
	printf '  %-18s %s\n' "$st" "$r"
	case $r in
	passed*) passed=$((passed + 1)) ;;
	skipped*) skipped=$((skipped + 1)); skips+=("$st: ${r#skipped: }") ;;
	*) failed=$((failed + 1)); fails+=("$st") ;;
	esac
done
line="make check: $passed stages passed, $skipped skipped"
if [ "$skipped" != 0 ]; then
	j=$(printf '%s; ' "${skips[@]}")
	line="$line (${j%; })"
fi
if [ "$failed" != 0 ]; then
	line="$line, $failed failed (${fails[*]})"
fi
echo "$line"
[ "$failed" = 0 ]
