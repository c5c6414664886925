#!/bin/sh
# Install the Debian packages of the named groups (tools/deps/<group>.txt) that are missing.
# Usage: tools/deps.sh GROUP...   Idempotent; needs root (or sudo) only when something is missing.
set -eu
dir=$(dirname "$0")/deps
missing=""
[ "${1:-}" = all ] && set -- $(cd "$dir" && ls *.txt | sed 's/\.txt$//')
for g in "$@"; do
	[ -f "$dir/$g.txt" ] || { echo "deps: no package group '$g' ($dir/$g.txt)" >&2; exit 2; }
	for p in $(grep -v '^#' "$dir/$g.txt"); do
		# "a|b": either package will do (the first is installed when neither is)
		have=""
		for alt in $(echo "$p" | tr '|' ' '); do
			dpkg-query -W -f='${Status}' "$alt" 2>/dev/null | grep -q 'ok installed' && have=1
		done
		[ -n "$have" ] || missing="$missing ${p%%|*}"
	done
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
