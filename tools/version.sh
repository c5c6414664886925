#!/bin/sh
# The version a build of this tree calls itself (events, pins, evidence): `git describe --always
# --dirty` in a git checkout of this tree; in a tree without .git (`git archive`, a release
# tarball), the VERSION file that `git archive` filled in (export-subst, .gitattributes).
# Prints "unknown" and says why on stderr only for a tree that has neither.
# Usage: tools/version.sh [DIR]   (default: the tree this script is in)
set -eu
dir=$(cd "${1:-$(dirname "$0")/..}" && pwd -P)
# only this tree's own repository: a tree unpacked inside another checkout must not take its version
top=$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null || true)
if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$dir" ]; then
	git -C "$dir" describe --always --dirty
	exit 0
fi
# VERSION: line 1 `git describe` (empty when no annotated tag), line 2 the abbreviated commit
v=$(grep -v -e '^[[:space:]]*$' -e '\$Format' "$dir/VERSION" 2>/dev/null | head -n 1 || true)
if [ -n "$v" ]; then
	echo "$v"
else
	echo "version: $dir has no .git and its VERSION file was not filled in by git archive: unknown" >&2
	echo unknown
fi
