#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The layering of user/k8s/, checked on the built objects: every symbol an object of the module
# uses and the module defines must be defined in the same file, a lower layer, or the same layer
# and part (user/k8s/layers); the files' use of each other must have no cycle; every source of
# the module must have a layer.
# Usage: tests/k8s/layers.sh LAYERS_FILE OBJ_DIR     (e.g. user/k8s/layers build/user/k8s)
set -euo pipefail
layers=$1
objdir=$2
NM=${NM:-nm}
srcdir=$(dirname "$layers")
tmp=$(mktemp -d /tmp/ag-k8s-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

declare -A layer part
while read -r f l p _; do
	case "$f" in '' | '#'*) continue ;; esac
	layer[$f]=$l
	part[$f]=$p
done <"$layers"

fail=0
for c in "$srcdir"/*.c; do
	f=$(basename "$c")
	if [ -z "${layer[$f]:-}" ]; then
		echo "k8s-layers: $c has no layer in $layers"
		fail=1
	fi
done

# who defines what
: >"$tmp/defs"
for f in "${!layer[@]}"; do
	o="$objdir/${f%.c}.o"
	if [ ! -f "$o" ]; then
		echo "k8s-layers: $o missing (build it first)"
		fail=1
		continue
	fi
	$NM --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print $3, f }' >>"$tmp/defs"
done
if [ "$fail" != 0 ]; then echo "k8s-layers: 0 passed, 1 failed"; exit 1; fi
dups=$(awk '{ print $1 }' "$tmp/defs" | sort | uniq -d)
if [ -n "$dups" ]; then
	echo "k8s-layers: symbols defined twice: $dups"
	echo "k8s-layers: 0 passed, 1 failed"
	exit 1
fi

declare -A def
while read -r s f; do def[$s]=$f; done <"$tmp/defs"

: >"$tmp/edges"
n_uses=0
for f in "${!layer[@]}"; do
	o="$objdir/${f%.c}.o"
	echo "$f $f" >>"$tmp/edges"
	for s in $($NM --undefined-only "$o" | awk '{ print $NF }'); do
		d=${def[$s]:-}
		[ -n "$d" ] || continue # outside the module (libc, libcurl, user/lib/log.c, ...)
		n_uses=$((n_uses + 1))
		echo "$d $f" >>"$tmp/edges"
		if [ "${layer[$d]}" -gt "${layer[$f]}" ]; then
			echo "k8s-layers: $f (layer ${layer[$f]}, ${part[$f]}) uses $s of $d (layer ${layer[$d]}, ${part[$d]}): an upward use"
			fail=1
		elif [ "${layer[$d]}" -eq "${layer[$f]}" ] && [ "${part[$d]}" != "${part[$f]}" ]; then
			echo "k8s-layers: $f (${part[$f]}) uses $s of $d (${part[$d]}): two parts of layer ${layer[$f]} must not use each other"
			fail=1
		fi
	done
done
if ! sort -u "$tmp/edges" | tsort >/dev/null 2>"$tmp/tsort"; then
	echo "k8s-layers: the files use each other in a cycle:"
	sed 's/^/    /' "$tmp/tsort"
	fail=1
fi
if [ "$fail" != 0 ]; then
	echo "k8s-layers: FAILED (layers declared in $layers)"
	echo "k8s-layers: 0 passed, 1 failed"
	exit 1
fi
echo "k8s-layers: ${#layer[@]} files, $n_uses uses of the module's own symbols, no upward use, no cycle"
echo "k8s-layers: 1 passed, 0 failed"
