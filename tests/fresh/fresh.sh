#!/usr/bin/env bash
# make fresh-check: the README's first promise, checked on any machine, not only a new one.
#
#   1. a bare Debian bookworm root from the package archive (mmdebstrap --variant=minbase: none of
#      this machine's packages), cached as a tarball under $BUILD/fresh and unpacked anew each run;
#   2. this tree put in it as `git archive` makes a release (no .git; tracked and untracked files
#      as they are in the working tree, so an uncommitted change is what is checked);
#   3. in the root: `tools/deps.sh build` alone, `make build/accelguard`, the agent's --help,
#      version (a build without .git still knows its version) and probe;
#   4. `tools/demo.sh` as the README prints it (it installs its own groups), and its enforce half
#      checked against the README's block (tests/demo/check.sh).
#
# A package missing from tools/deps/build.txt fails step 3 with the compiler's or linker's word
# for the missing header or library. Downloaded packages are kept in $BUILD/fresh/apt-archives.
# Needs root (chroot, mounts, BPF) and the Debian archive this machine's apt uses.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
steps=fresh
. "$repo/tests/lib/steps.sh"
. "$repo/tests/lib/bareroot.sh"
build=${BUILD:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
cache=$build/fresh
root=$cache/root
mkdir -p "$cache/apt-archives"

read -r uri _ < <("$repo/tools/debian-archive.sh" | head -n 1) || true
[ -n "${uri:-}" ] || die "no Debian archive in this machine's apt sources to make the root from"

# 1. the bare root (this machine's apt settings that the archive needs, e.g. an archive snapshot's
# Check-Valid-Until, go into the root's apt.conf with it)
if [ ! -s "$cache/bookworm-minbase.tar" ]; then
	include=()
	case $uri in https:*) include=(--include=ca-certificates) ;; esac
	bareroot_mmdebstrap "$cache/bookworm-minbase.new.tar" "$uri" --variant=minbase "${include[@]}" ||
		die "mmdebstrap bookworm from $uri failed"
	mv "$cache/bookworm-minbase.new.tar" "$cache/bookworm-minbase.tar"
fi
bareroot_unpack "$cache/bookworm-minbase.tar" "$root"
for t in make gcc clang bpftool; do
	[ ! -e "$root/usr/bin/$t" ] && [ ! -e "$root/usr/sbin/$t" ] || die "the bare root already has $t"
done
ok "a bare Debian bookworm root ($(since)): no make, gcc, clang, bpftool"

# 2. the tree, as git archive writes it (export-subst fills VERSION in)
version=$(bareroot_put_tree "$repo" "$root" "fresh-check: the working tree")
[ ! -e "$root/src/.git" ] || die "the archive has a .git"
ok "the tree as git archive makes it (version $version, no .git)"

# 3 and 4 run in the root, in a mount namespace of their own: /proc, /sys (cgroup2, bpffs,
# tracefs, BTF) and /dev of this machine, its DNS, and the package cache; nothing else.
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
inroot() { bareroot_in "$root" "$cache/apt-archives" "$@"; }

inroot 'tools/deps.sh build' || die "tools/deps.sh build in the bare root"
ok "tools/deps.sh build in the bare root ($(since))"
inroot 'make -j"$(nproc)" build/accelguard' >"$cache/build.log" 2>&1 || {
	grep -E 'fatal error|error:|cannot find|not found|No such file' "$cache/build.log" | head -n 5 | sed 's/^/# /'
	die "make build/accelguard in the bare root with the build group alone (log: $cache/build.log)"
}
ok "make build/accelguard with the build group alone ($(since))"
inroot 'build/accelguard --help' >/dev/null || die "accelguard --help in the bare root"
ok "accelguard --help"
got=$(inroot 'build/accelguard version')
[ "$got" = "accelguard $version" ] || die "accelguard version in a tree without .git: '$got', expected 'accelguard $version'"
ok "accelguard version without .git: $got"
probe=$(inroot 'build/accelguard probe') || { printf '%s\n' "$probe" | sed 's/^/# /'; die "accelguard probe in the bare root"; }
printf '%s\n' "$probe" | sed 's/^/# /'
ok "accelguard probe ($(printf '%s\n' "$probe" | grep '^tier:' | tr -s ' '))"

# 4. the demo, as printed in the README
inroot 'tools/demo.sh' >"$cache/demo.out" 2>"$cache/demo.err" || {
	tail -n 20 "$cache/demo.err" | sed 's/^/# /'
	die "tools/demo.sh in the bare root (output: $cache/demo.out)"
}
ok "tools/demo.sh in the bare root ($(since) in all)"
if "$repo/tests/demo/check.sh" "$cache/demo.out" "$repo/README.md" >"$cache/demo.check" 2>&1; then
	ok "the demo printed the README's lines ($(tail -n 1 "$cache/demo.check"))"
else
	grep '^not ok' "$cache/demo.check" | sed 's/^/# /'
	die "the demo's output differs from the README's block"
fi
echo "fresh: $passed passed, 0 failed"
