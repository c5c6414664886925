#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The layering check (tests/layers.sh) on copies of the real tree and its objects, each with one
# fault planted: it must fail, naming the planted file and the fault; the copies as built pass.
# Usage: tests/layers_test.sh OBJ_DIR     (the built objects of user/, e.g. build/user)
set -uo pipefail
objdir=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
tmp=$(mktemp -d /tmp/ag-layers-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - layers/$1"; pass=$((pass + 1)); }
nok() { echo "not ok - layers/$1: $2"; fail=$((fail + 1)); }

# fresh copies of user/ (sources and layers files) and of its objects
fresh() {
	rm -rf "$tmp/src" "$tmp/obj"
	cp -r "$repo/user" "$tmp/src" && cp -r "$objdir" "$tmp/obj"
}
# plant FILE (relative to user/) with the C text, compiled beside the other objects
plant() {
	mkdir -p "$(dirname "$tmp/src/$1")" "$(dirname "$tmp/obj/${1%.c}.o")"
	printf '%s\n' "$2" >"$tmp/src/$1"
	$CC -c -o "$tmp/obj/${1%.c}.o" "$tmp/src/$1"
}
# expect NAME LAYERS OBJ WANT...: tests/layers.sh fails and its output holds every WANT
expect_fail() {
	local name=$1 layers=$2 obj=$3 out
	shift 3
	if out=$("$repo/tests/layers.sh" "$layers" "$obj" 2>&1); then
		nok "$name" "the check passed: $(tail -1 <<<"$out")"
		return
	fi
	for w in "$@"; do
		grep -qF -- "$w" <<<"$out" || { nok "$name" "no '$w' in: $(head -3 <<<"$out")"; return; }
	done
	ok "$name"
}

fresh
if out=$("$repo/tests/layers.sh" "$tmp/src/layers" "$tmp/obj" 2>&1); then
	ok "copy-as-built-passes"
else
	nok "copy-as-built-passes" "$(head -3 <<<"$out")"
fi

# lib/ (layer 0) calls a command (cmd/, layer 5)
fresh
plant lib/zz_planted.c 'int ag_cmd_paths(int argc, char **argv);
int zz_planted(void) { return ag_cmd_paths(0, 0); }'
expect_fail upward-call-fails "$tmp/src/layers" "$tmp/obj" \
	"lib/zz_planted.c (lib/: layer 0, lib) uses ag_cmd_paths of cmd/paths.c" "an upward use"

# sources/ and serve/ share layer 1: neither may use the other
fresh
plant sources/zz_planted.c 'struct ag_http;
struct ag_http *ag_http_start(const char *l, void *h, void *ctx, char *err, unsigned long n);
void *zz_planted(void) { return ag_http_start(0, 0, 0, 0, 0); }'
expect_fail same-layer-other-part-fails "$tmp/src/layers" "$tmp/obj" \
	"sources/zz_planted.c (sources) uses ag_http_start of serve/http.c (serve)"

# two files of one folder that call each other
fresh
plant lib/zz_a.c 'int zz_b(int); int zz_a(int n) { return n ? zz_b(n - 1) : 0; }'
plant lib/zz_b.c 'int zz_a(int); int zz_b(int n) { return n ? zz_a(n - 1) : 1; }'
expect_fail cycle-fails "$tmp/src/layers" "$tmp/obj" "use each other in a cycle" "lib/zz_a.c" "lib/zz_b.c"

# a folder that user/layers does not name
fresh
plant zz_new/zz.c 'int zz(void) { return 0; }'
expect_fail unlisted-folder-fails "$tmp/src/layers" "$tmp/obj" "zz_new/zz.c has no layer"

# one symbol defined in two folders
fresh
plant policy/zz_planted.c 'int ag_cmd_paths(int argc, char **argv) { return argc; }'
expect_fail defined-twice-fails "$tmp/src/layers" "$tmp/obj" "symbols defined twice: ag_cmd_paths"

# the Kubernetes module's own layers: its base (layer 0) calls the resolver (layer 3)
fresh
plant k8s/zz_planted.c 'void *ag_k8s_source_new(const void *o, int notify_fd, char *err, unsigned long n);
void *zz_planted(void) { return ag_k8s_source_new(0, -1, 0, 0); }'
echo "zz_planted.c 0 base" >>"$tmp/src/k8s/layers"
expect_fail k8s-upward-call-fails "$tmp/src/k8s/layers" "$tmp/obj/k8s" \
	"zz_planted.c (zz_planted.c: layer 0, base) uses ag_k8s_source_new of source.c" "an upward use"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
