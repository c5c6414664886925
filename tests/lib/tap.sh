# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tests/lib/tap.sh: the result lines of a test script, as tests/stage.sh counts them.
# Source it after setting tap=NAME: each test prints "ok - NAME/TEST" or "not ok - NAME/TEST: why",
# the script ends with summary ("N passed, N failed"). Safe under set -eu.
pass=0
fail=0
# ok TEST: a test passed
ok() { echo "ok - $tap/$1"; pass=$((pass + 1)); }
# nok TEST WHY: a test failed, and why
nok() { echo "not ok - $tap/$1: $2"; fail=$((fail + 1)); }
# check TEST WHY CMD...: ok when CMD succeeds, else nok with WHY
check() {
	local n=$1 d=$2
	shift 2
	if "$@"; then ok "$n"; else nok "$n" "$d"; fi
}
# check_run TEST CMD...: ok when CMD succeeds, else nok with the last 3 lines CMD printed (kept in $tmp/check.out)
check_run() {
	local n=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then ok "$n"; else nok "$n" "$(tail -3 "$tmp/check.out" | tr '\n' ' ')"; fi
}
# skip WHY: the whole script cannot run here: one skip line, a summary that counts it, exit 0
skip() { echo "skip - $tap: $1"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
# give_up WHY: the script cannot go on (before any test): one failure line, its summary, exit 1
give_up() { echo "not ok - $tap: $1"; echo "$pass passed, $((fail + 1)) failed"; exit 1; }
# summary: the counts line; fails when a test failed
summary() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
# tap_lines FILE: pass on FILE's "ok - " and "not ok - " lines (written by a helper), counted; its other lines as comments
tap_lines() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) echo "$line"; pass=$((pass + 1)) ;;
		"not ok - "*) echo "$line"; fail=$((fail + 1)) ;;
		*) echo "# $line" ;;
		esac
	done <"$1"
}
