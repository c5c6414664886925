# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tests/lib/steps.sh: the result lines of a stage whose steps build on each other (the first
# failure ends it). Source it after setting steps=NAME; it ends with "NAME: N passed, 0 failed".
passed=0
t0=$(date +%s)
# ok WHAT: a step passed
ok() { passed=$((passed + 1)); echo "ok - $*"; }
# die WHAT: a step failed: its line, the summary ("NAME: N passed, 1 failed"), exit 1
die() { echo "not ok - $*"; echo "$steps: $passed passed, 1 failed"; exit 1; }
# since: the seconds since the stage began ("N s")
since() { echo "$(($(date +%s) - t0)) s"; }
