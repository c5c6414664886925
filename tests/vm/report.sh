#!/usr/bin/env bash
# Turn one boot's serial output into the native tests' lines, prefixed with kernel and tier:
#   ok - vm/6.1/lsm/NAME | not ok - vm/6.1/lsm/NAME: reason | skip - vm/6.1/lsm/NAME: reason
# plus the harness's own checks for the boot: PREFIX/boot (the guest ran to the end),
# PREFIX/probe (`accelguard probe --json` chose the expected tier) and PREFIX/itest-summary
# (the closing line is there and agrees with the lines and the exit status). When anything failed,
# the tail of both serial ports follows as "# " lines.
#
# Usage: tests/vm/report.sh --prefix vm/6.1/lsm --tier lsm --dir BOOTDIR --rc QEMU_RC [--timeout S]
# Exit status 0 when every line is ok or skip.
set -euo pipefail

prefix= tier= dir= qrc= timeout='?'
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=$2; shift 2 ;;
	--tier) tier=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--rc) qrc=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	*) echo "vm: report: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$prefix" ] && [ -n "$tier" ] && [ -n "$dir" ] && [ -n "$qrc" ] ||
	{ echo "usage: report.sh --prefix P --tier T --dir BOOTDIR --rc N" >&2; exit 2; }

# A failure of this script itself is a failed line, never a short report that reads as a pass
# (check.sh counts the lines).
trap 'echo "not ok - $prefix/report: tests/vm/report.sh stopped at line $LINENO (status $?)"' ERR

res=$dir/results.log
con=$dir/console.log
touch "$res" "$con"
failed=0
ok() { echo "ok - $prefix/$1"; }
notok() { echo "not ok - $prefix/$1: $2"; failed=1; }

clean() { tr -d '\r' < "$1" | tr -c '\n[:print:]\t' '?'; }

# the test binary's lines, between the probe and the exit marker
body=$(clean "$res" | awk '/^@@AG-PROBE-END/ { on = 1; next } /^@@AG-EXIT/ { on = 0 } on')

if grep -q '^@@AG-END' <(clean "$res"); then
	ok boot
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	notok boot "guest did not finish within ${timeout}s (killed)"
elif ! grep -q '^@@AG-BEGIN' <(clean "$res"); then
	notok boot "guest stopped before init reported (QEMU exit $qrc)"
else
	notok boot "guest stopped before the tests finished (QEMU exit $qrc)"
fi

# (awk reads to the end: an early exit would kill clean with SIGPIPE, a failure under pipefail)
probe=$(clean "$res" | awk '/^@@AG-PROBE-END/ { done = 1 } on && !done; /^@@AG-PROBE-BEGIN/ { on = 1 }' | tr '\n' ' ')
prc=$(clean "$res" | sed -n 's/^@@AG-PROBE-END \([0-9]*\).*/\1/p')
got=$(printf '%s' "$probe" | sed -n 's/.*"tier"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
if [ "$tier" = tracepoint ] && [ "$prc" = 0 ] &&
	printf '%s' "$probe" | grep -q '"tracepoint":{"loaded":true'; then
	ok probe # forced tier 3: the probe must find it loading (it chooses the strongest tier)
elif [ "$got" = "$tier" ] && [ "$prc" = 0 ]; then
	ok probe
elif [ -z "$prc" ]; then
	notok probe "no probe output"
else
	notok probe "expected tier \"$tier\", probe --json exited $prc with: ${probe:0:300}"
fi

n_ok=0 n_fail=0 n_skip=0 summary=
while IFS= read -r line; do
	case $line in
	"ok - "*) echo "ok - $prefix/${line#ok - }"; n_ok=$((n_ok + 1)) ;;
	"not ok - "*) echo "not ok - $prefix/${line#not ok - }"; n_fail=$((n_fail + 1)); failed=1 ;;
	"skip - "*) echo "skip - $prefix/${line#skip - }"; n_skip=$((n_skip + 1)) ;;
	[0-9]*" passed, "[0-9]*" failed"*) summary=$line ;;
	esac
done <<<"$body"

if grep -q '^@@AG-EXIT' <(clean "$res"); then
	irc=$(clean "$res" | sed -n 's/^@@AG-EXIT \([0-9]*\).*/\1/p')
	if [ -z "$summary" ]; then
		notok itest-summary "no closing 'N passed, N failed' line (itest exit $irc)"
	elif ! [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]; then
		notok itest-summary "unreadable closing line: $summary"
	elif [ "${BASH_REMATCH[1]}" != "$n_ok" ] || [ "${BASH_REMATCH[2]}" != "$n_fail" ] ||
		[ "${BASH_REMATCH[4]:-$n_skip}" != "$n_skip" ]; then
		notok itest-summary "closing line '$summary' disagrees with the lines ($n_ok ok, $n_fail not ok, $n_skip skip)"
	elif [ $((n_ok + n_fail)) = 0 ]; then
		notok itest-summary "no test ran"
	elif { [ "$irc" = 0 ] && [ "$n_fail" != 0 ]; } || { [ "$irc" != 0 ] && [ "$n_fail" = 0 ]; }; then
		notok itest-summary "exit status $irc disagrees with '$summary'"
	else
		ok itest-summary
	fi
fi

if [ "$failed" = 1 ]; then
	if grep -q -- '-- END PROG LOAD LOG --' "$con"; then
		echo "# $prefix: verifier log endings in $con:"
		clean "$con" | grep -B8 -- '-- END PROG LOAD LOG --' | head -n 60 | sed 's/^/#   /'
	fi
	echo "# $prefix: serial console, last ${AG_VM_TAIL:-40} lines of $con:"
	clean "$con" | tail -n "${AG_VM_TAIL:-40}" | sed 's/^/#   /'
	echo "# $prefix: result port, last 15 lines of $res:"
	clean "$res" | tail -n 15 | sed 's/^/#   /'
fi
exit "$failed"
