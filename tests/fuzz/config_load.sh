#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A configuration that passes the file's checks but cannot be loaded on this host is refused at
# start naming its line: eight classes on the major a driver registered in /proc/devices
# (nvidia-uvm's, through host.proc), nine ranges on it with the driver's own.
# Usage: tests/fuzz/config_load.sh AGENT. Ends "N passed, N failed".
set -u
agent=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
mkdir -p "$tmp/proc"
printf 'Character devices:\n  1 mem\n195 nvidia\n510 nvidia-uvm\n\nBlock devices:\n  8 sd\n' >"$tmp/proc/devices"
{
	echo "host: {proc: $tmp/proc}"
	echo "tenants: [/ag-config-load/*]"
	echo "devices:"
	for i in 0 1 2 3 4 5 6 7; do echo "  - {class: c$i, major: 510, minor: $((i + 10))}"; done
} >"$tmp/config.yaml"
timeout 20 "$agent" run --config "$tmp/config.yaml" --events "$tmp/events.jsonl" 2>"$tmp/err"
rc=$?
want="config: $tmp/config.yaml:4: device class c0: major 510 would have 10 minor ranges with the drivers of $tmp/proc/devices (at most 8)"
if [ "$rc" = 1 ] && grep -qF "$want" "$tmp/err"; then
	echo "ok - config-load/ranges-per-major-with-drivers"
	pass=$((pass + 1))
else
	echo "not ok - config-load/ranges-per-major-with-drivers: exit $rc, stderr: $(head -c 600 "$tmp/err")"
	fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
