#!/usr/bin/env bash
# The README's promise for tools/demo.sh, checked against what the demo printed: every line of
# the block the README shows ("the enforce half prints:") must appear in the demo's enforce half,
# in the same order (other lines may come between). The README shows tier 3; at tiers 1-2 the
# same lines are expected with a denial (EPERM) where tier 3 kills after the fact.
# Usage: tests/demo/check.sh DEMO_OUTPUT [README]
set -euo pipefail
out=${1:?usage: check.sh DEMO_OUTPUT [README]}
readme=${2:-$(dirname "$0")/../../README.md}

expected=$(awk '/the enforce half prints:/ { want = 1; next }
	want && /^```/ { if (inside) exit; inside = 1; next }
	inside { print }' "$readme")
[ -n "$expected" ] || { echo "demo: no 'the enforce half prints:' block in $readme"; echo "demo: 0 passed, 1 failed"; exit 1; }
enforce=$(awk '/^=== accelguard run --mode enforce/ { on = 1 } /^=== accelguard evidence/ { on = 0 } on' "$out")
[ -n "$enforce" ] || { echo "demo: $out has no enforce half (=== accelguard run --mode enforce)"; echo "demo: 0 passed, 1 failed"; exit 1; }
tier=$(printf '%s\n' "$enforce" | sed -n 's/.*"tier":"\([a-z_]*\)".*/\1/p' | head -n 1)
[ -n "$tier" ] || { echo "demo: the enforce half names no tier"; echo "demo: 0 passed, 1 failed"; exit 1; }
if [ "$tier" != tracepoint ]; then
	# tiers 1-2 judge the use, not the arrival: the two receives (the shell killed at its move
	# into t-b) are stty's ioctl and dd's read there, denied
	expected=$(printf '%s\n' "$expected" | sed -e 's/killed (SIGKILL) (exit 137)/Operation not permitted (exit 1)/' -e 's/, killed$/, denied/' |
		awk '/^    receive 1:7 \(test-accel\) by sh in t-b: cross_tenant, denied$/ {
			n++
			if (n == 1) print "    ioctl 1:7 (test-accel) cmd 0x00005401 by stty in t-b: cross_tenant, denied"
			else print "    read 1:7 (test-accel) by dd in t-b: cross_tenant, denied"
			next } { print }')
fi

passed=0 failed=0
rest=$enforce
while IFS= read -r want; do
	# the first occurrence at or after the previous match: the lines keep the README's order
	n=$(printf '%s\n' "$rest" | grep -nFx -- "$want" | head -n 1 | cut -d: -f1 || true)
	if [ -n "$n" ]; then
		passed=$((passed + 1))
		echo "ok - $want"
		rest=$(printf '%s\n' "$rest" | tail -n +"$((n + 1))")
	else
		failed=$((failed + 1))
		echo "not ok - not printed (in the README's order, tier $tier): $want"
	fi
done <<<"$expected"
echo "demo: $passed passed, $failed failed"
[ "$failed" = 0 ]
