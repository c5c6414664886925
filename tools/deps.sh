#!/bin/sh
# Install the Debian packages of the named groups (tools/deps/<group>.txt) that are missing.
# Usage: tools/deps.sh GROUP...   Idempotent; needs root (or sudo) only when something is missing.
# A package named "name:ARCH" is another architecture's build (multiarch): ARCH is added to dpkg's
# foreign architectures first when it is neither the native one nor already there.
set -eu
dir=$(dirname "$0")/deps
missing=""
# "all": every group but those marked "# deps: by name only" (the cross toolchains: a native arm64
# machine has no gcc-aarch64-linux-gnu to install, nor needs one)
[ "${1:-}" = all ] && set -- $(cd "$dir" && grep -L '^# deps: by name only' *.txt | sed 's/\.txt$//')
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
for a in $(printf '%s\n' $missing | sed -n 's/^[^:]*:\([a-z0-9]*\)$/\1/p' | sort -u); do
	[ "$a" = "$(dpkg --print-architecture)" ] && continue
	dpkg --print-foreign-architectures | grep -qx "$a" && continue
	echo "deps: adding the $a architecture (dpkg --add-architecture $a)"
	$SUDO dpkg --add-architecture "$a"
done
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
