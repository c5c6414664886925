#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A layering, checked on the built objects. LAYERS_FILE declares units, one a line:
#   NAME  LAYER  PART
# NAME is a source file (x.c) or a folder (x/, every .c under it) of the directory that holds
# LAYERS_FILE. A unit may use the symbols of a lower layer, and of its own layer only within its
# own part; every source under that directory must be in exactly one unit; the files' use of each
# other (every file of every unit) must have no cycle; no symbol may be defined twice.
#   user/layers      the folders of user/ (make unit-check)
#   user/k8s/layers  the files of the Kubernetes module (make k8s-check)
# Usage: tests/layers.sh LAYERS_FILE OBJ_DIR     (e.g. user/layers build/user)
# OBJ_DIR holds the objects as the sources lie (DIR/a/b.c -> OBJ_DIR/a/b.o). The messages begin
# with the name of the directory ("user-layers:", "k8s-layers:").
set -euo pipefail
layers=$1
objdir=$2
NM=${NM:-nm}
srcdir=$(dirname "$layers")
me=$(basename "$srcdir")-layers
tmp=$(mktemp -d /tmp/ag-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
failed() { echo "$me: FAILED (layers declared in $layers)"; echo "$me: 0 passed, 1 failed"; exit 1; }

declare -A layer part unit
units=()
while read -r n l p _; do
	case "$n" in '' | '#'*) continue ;; esac
	if ! [[ "$l" =~ ^[0-9]+$ ]] || [ -z "$p" ]; then
		echo "$me: $layers: '$n $l $p': expected NAME LAYER PART, LAYER a number"
		fail=1
		continue
	fi
	if [ ! -e "$srcdir/$n" ]; then
		echo "$me: $layers names $n, which $srcdir does not have"
		fail=1
		continue
	fi
	layer[$n]=$l
	part[$n]=$p
	units+=("$n")
done <"$layers"
[ "$fail" = 0 ] || failed

# every source in exactly one unit
files=()
while IFS= read -r c; do
	f=${c#"$srcdir"/}
	u=
	for n in "${units[@]}"; do
		case "$n" in
		*/) [[ "$f" == "$n"* ]] || continue ;;
		*) [ "$f" = "$n" ] || continue ;;
		esac
		if [ -n "$u" ]; then
			echo "$me: $c is in two units of $layers: $u and $n"
			fail=1
		fi
		u=$n
	done
	if [ -z "$u" ]; then
		echo "$me: $c has no layer in $layers"
		fail=1
		continue
	fi
	unit[$f]=$u
	files+=("$f")
done < <(find "$srcdir" -name '*.c' | sort)

# who defines what
: >"$tmp/defs"
for f in "${files[@]}"; do
	o="$objdir/${f%.c}.o"
	if [ ! -f "$o" ]; then
		echo "$me: $o missing (build it first)"
		fail=1
		continue
	fi
	$NM --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print $3, f }' >>"$tmp/defs"
done
[ "$fail" = 0 ] || failed
dups=$(awk '{ print $1 }' "$tmp/defs" | sort | uniq -d)
if [ -n "$dups" ]; then
	echo "$me: symbols defined twice: $dups"
	failed
fi

declare -A def
while read -r s f; do def[$s]=$f; done <"$tmp/defs"

: >"$tmp/edges"
n_uses=0
for f in "${files[@]}"; do
	o="$objdir/${f%.c}.o"
	echo "$f $f" >>"$tmp/edges"
	u=${unit[$f]}
	for s in $($NM --undefined-only "$o" | awk '{ print $NF }'); do
		d=${def[$s]:-}
		[ -n "$d" ] || continue # outside (libc, libcurl, another module's objects, ...)
		n_uses=$((n_uses + 1))
		echo "$d $f" >>"$tmp/edges"
		v=${unit[$d]}
		[ "$u" != "$v" ] || continue
		if [ "${layer[$v]}" -gt "${layer[$u]}" ]; then
			echo "$me: $f ($u: layer ${layer[$u]}, ${part[$u]}) uses $s of $d ($v: layer ${layer[$v]}, ${part[$v]}): an upward use"
			fail=1
		elif [ "${layer[$v]}" -eq "${layer[$u]}" ] && [ "${part[$v]}" != "${part[$u]}" ]; then
			echo "$me: $f (${part[$u]}) uses $s of $d (${part[$v]}): two parts of layer ${layer[$u]} must not use each other"
			fail=1
		fi
	done
done
if ! sort -u "$tmp/edges" | tsort >/dev/null 2>"$tmp/tsort"; then
	echo "$me: the files use each other in a cycle:"
	sed 's/^/    /' "$tmp/tsort"
	fail=1
fi
[ "$fail" = 0 ] || failed
echo "$me: ${#units[@]} units, ${#files[@]} files, $n_uses uses of their own symbols, no upward use, no cycle"
echo "$me: 1 passed, 0 failed"
