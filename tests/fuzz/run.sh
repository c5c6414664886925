#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Run libFuzzer targets for SECONDS each: first over every seed of tests/fuzz/corpus/TARGET (a
# regression run: each seed once), then fuzzing from them. A crash, leak, sanitizer report or
# timeout fails the target; its input is left in FZDIR/artifacts/. Ends "N passed, N failed".
# Usage: tests/fuzz/run.sh FZDIR SECONDS TARGET...
set -u
fz=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
mkdir -p "$fz/artifacts"
for t in "$@"; do
	bin=$fz/fuzz_$t seeds=$here/corpus/$t work=$fz/corpus/$t
	mkdir -p "$work"
	if [ ! -x "$bin" ]; then
		echo "fuzz $t: $bin not built"
		failed=$((failed + 1))
		continue
	fi
	opts=(-rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -max_len=65536
	      -artifact_prefix="$fz/artifacts/$t-" -print_final_stats=1)
	log=$fz/$t.log
	# regression: every seed, once (the inputs of fixed findings are among them)
	if ! "$bin" "${opts[@]}" -runs=0 "$seeds" >"$log" 2>&1; then
		tail -n 30 "$log"
		echo "fuzz $t: a seed of $seeds fails (log $log)"
		failed=$((failed + 1))
		continue
	fi
	if "$bin" "${opts[@]}" -max_total_time="$secs" "$work" "$seeds" >>"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
		echo "fuzz $t: ok, ${runs:-?} runs in ${secs}s"
		passed=$((passed + 1))
	else
		tail -n 40 "$log"
		echo "fuzz $t: FAILED (input in $fz/artifacts/$t-*, log $log)"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
