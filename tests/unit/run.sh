#!/usr/bin/env bash
# Run cmocka test binaries, sum their results, end with "N passed, N failed[, N skipped]"; a test
# that skipped (cmocka skip()) is also listed as "skip - BINARY/TEST: skipped by the test".
# A binary that exits non-zero without reporting a failure (a crash) counts as one failure.
# AG_UNIT_WRAP, when set, prefixes each run (e.g. valgrind).
set -u
passed=0
failed=0
skipped=0
for t in "$@"; do
	out=$(${AG_UNIT_WRAP:-} "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
	sk=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -n1)
	p=${p:-0}
	f=${f:-0}
	sk=${sk:-0}
	if [ "$sk" -gt 0 ]; then
		printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p' | sort -u |
			while read -r name; do echo "skip - $(basename "$t")/$name: skipped by the test"; done
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$t: exited with status $rc without reporting a failure" >&2
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$sk" -eq 0 ]; then
		echo "$t: ran no test" >&2
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + sk))
done
if [ "$skipped" -eq 0 ]; then
	echo "$passed passed, $failed failed"
else
	echo "$passed passed, $failed failed, $skipped skipped"
fi
[ "$failed" -eq 0 ]
