#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Run one stage of `make check` and record its result in DIR/STAGE, one line:
#   passed: N tests                      every test ran and passed
#   passed: N tests, N skipped (WHY; ..) it ran, and some tests skipped
#   skipped: WHY                         every test skipped, or the stage could not run
#   failed: ...                          a test failed, or a command exited non-zero
# Usage: tests/stage.sh STAGE DIR -- CMD [ARG...] [:: CMD [ARG...]]...
# The commands run in turn (the first that fails ends the stage), their output passing through
# (and kept in DIR/STAGE.log). The counts are the sums of the runners' summary lines
# "[PREFIX: ]N passed, N failed[, N skipped]"; the reasons, their "skip - NAME: why" lines.
# Exits with the status of the command that failed, 1 when a summary counts a failure, else 0.
set -uo pipefail
# The tests' configuration files and their directories must not be group-writable (the agent
# refuses them: README "Configuration"): the stages make their files with CI's umask, whatever
# the developer's is.
umask 022
stage=$1 dir=$2
shift 2
[ "${1:-}" = -- ] && shift
mkdir -p "$dir"
log=$dir/$stage.log
: >"$log"
rm -f "$dir/$stage"
rc=0
while [ $# -gt 0 ]; do
	cmd=()
	while [ $# -gt 0 ] && [ "$1" != "::" ]; do
		cmd+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	"${cmd[@]}" 2>&1 | tee -a "$log"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || break
done

read -r p f s < <(awk '
	/^([A-Za-z0-9_.\/-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ {
		sub(/^[A-Za-z0-9_.\/-]+: /, "")
		p += $1; f += $3; if (NF >= 6) s += $5
	}
	END { print p + 0, f + 0, s + 0 }' "$log")
why=$(sed -n 's/^skip - //p' "$log" | awk '!seen[$0]++' | head -n 5 | paste -sd';' - | sed 's/;/; /g')
n_why=$(sed -n 's/^skip - //p' "$log" | sort -u | wc -l)
[ "$n_why" -le 5 ] || why="$why; and $((n_why - 5)) more"

if [ "$rc" != 0 ] || [ "$f" != 0 ]; then
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		result="failed: exit $rc after $p passed"
	else
		result="failed: $p passed, $f failed"
	fi
	[ "$s" = 0 ] || result="$result, $s skipped"
	[ "$rc" != 0 ] || rc=1
elif [ "$p" = 0 ]; then
	result="skipped: ${why:-ran no test}"
elif [ "$s" != 0 ]; then
	result="passed: $p tests, $s skipped (${why:-no reason given})"
else
	result="passed: $p tests"
fi
echo "$result" >"$dir/$stage"
echo "$stage: $result"
exit "$rc"
