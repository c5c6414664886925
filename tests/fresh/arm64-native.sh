#!/usr/bin/env bash
# make arm64-native-check: the native arm64 build (no cross prefix, HOST_ARCH arm64, build/), run
# as arm64 code on any machine: in a Debian bookworm arm64 root, through qemu-user-static's binfmt
# handler on an x86-64 host (natively on an arm64 one). The approach of tests/fresh/fresh.sh:
#
#   1. an arm64 root from the package archive (mmdebstrap --arch=arm64 --variant=minbase) with
#      tools/deps/build.txt's packages and libcmocka-dev (unit-check) in it, cached as a tarball
#      under $BUILD/arm64-native, named by the hash of that list (a changed build group makes a
#      new one), and unpacked anew each run;
#   2. this tree put in it as `git archive` makes a release (tracked and untracked files as they
#      are in the working tree);
#   3. in the root: `uname -m` says aarch64, a plain `make` (which must take HOST_ARCH arm64 and
#      build into build/, no cross compiler), the agent an AArch64 ELF, its --version and --help,
#      and `make unit-check`.
#
# Not here: probe or run (qemu-user does not translate bpf(2)), nor the guests (make vm-check-arm64).
# Needs root (chroot, mounts, binfmt_misc), qemu-user-static and binfmt-support on x86-64
# (tools/deps.sh arm64-native), and the Debian archive this machine's apt uses.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
steps=arm64-native
. "$repo/tests/lib/steps.sh"
. "$repo/tests/lib/bareroot.sh"
build=${BUILD:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
cache=$build/arm64-native
root=$cache/root
mkdir -p "$cache"

# 0. arm64 code runs here: natively, or through a binfmt handler that is registered with F (the
# interpreter opened at registration, so it works inside the chroot)
if [ "$(uname -m)" != aarch64 ]; then
	bf=/proc/sys/fs/binfmt_misc
	[ -e "$bf/register" ] || mount -t binfmt_misc binfmt_misc "$bf" ||
		die "binfmt_misc is not mounted on $bf and cannot be"
	conf=/usr/lib/binfmt.d/qemu-aarch64.conf
	if ! grep -qx enabled "$bf/qemu-aarch64" 2>/dev/null; then
		[ -f "$conf" ] || die "no $conf: qemu-user-static is not installed (tools/deps.sh arm64-native)"
		cat "$conf" > "$bf/register" || die "registering $conf in $bf/register"
	fi
	grep -q '^flags: .*F' "$bf/qemu-aarch64" ||
		die "$bf/qemu-aarch64 is registered without the F flag: its interpreter cannot be found inside a chroot"
	ok "arm64 code runs here through $(sed -n 's/^interpreter //p' "$bf/qemu-aarch64") (binfmt_misc, flags $(sed -n 's/^flags: //p' "$bf/qemu-aarch64"))"
fi

read -r uri _ < <("$repo/tools/debian-archive.sh" | head -n 1) || true
[ -n "${uri:-}" ] || die "no Debian archive in this machine's apt sources to make the root from"

# 1. the root with the build group (and cmocka), cached by the list's hash
pkgs=$( (grep -v '^#' "$repo/tools/deps/build.txt"; echo libcmocka-dev) | sed 's/|.*//' | sort -u | tr '\n' ',' | sed 's/,$//')
key=$(printf '%s' "$pkgs" | sha256sum | cut -c1-12)
tarball=$cache/bookworm-arm64-build-$key.tar
if [ ! -s "$tarball" ]; then
	case $uri in https:*) pkgs=$pkgs,ca-certificates ;; esac
	rm -f "$cache"/bookworm-arm64-build-*.tar
	bareroot_mmdebstrap "$cache/new.tar" "$uri" --arch=arm64 --variant=minbase --include="$pkgs" \
		> "$cache/mmdebstrap.log" 2>&1 || {
		tail -n 5 "$cache/mmdebstrap.log" | sed 's/^/# /'
		die "mmdebstrap --arch=arm64 bookworm from $uri failed (log: $cache/mmdebstrap.log)"
	}
	mv "$cache/new.tar" "$tarball"
	ok "an arm64 bookworm root with the build group made ($(since); $(du -m "$tarball" | cut -f1) MB, cached)"
fi
bareroot_unpack "$tarball" "$root"
ok "the arm64 root unpacked ($(since))"

# 2. the tree, as git archive writes it
version=$(bareroot_put_tree "$repo" "$root" "arm64-native-check: the working tree")
ok "the tree as git archive makes it (version $version)"

inroot() { bareroot_in "$root" "" "$@"; }

# 3. the native build
m=$(inroot 'uname -m')
[ "$m" = aarch64 ] || die "uname -m in the root says '$m', not aarch64"
got=$(inroot 'make -s -f Makefile --eval "p:; @echo \$(HOST_ARCH) \$(ARCH) \$(BUILD) [\$(CROSS_COMPILE)] \$(CC)" p')
[ "$got" = "arm64 arm64 build [] cc" ] || die "the Makefile in the root: HOST_ARCH ARCH BUILD [CROSS_COMPILE] CC are '$got', expected 'arm64 arm64 build [] cc'"
ok "uname -m aarch64; the Makefile takes the native path ($got)"
s=$(date +%s)
inroot 'make -j"$(nproc)"' > "$cache/build.log" 2>&1 || {
	grep -E 'fatal error|error:|cannot find|not found|No such file' "$cache/build.log" | head -n 5 | sed 's/^/# /'
	die "make in the arm64 root (log: $cache/build.log)"
}
ok "make: the native arm64 build ($(($(date +%s) - s)) s under $( [ "$(uname -m)" = aarch64 ] && echo no emulation || echo qemu-user))"
desc=$(file -b "$root/src/build/accelguard")
case $desc in *"ARM aarch64"*) ;; *) die "build/accelguard is not an AArch64 ELF: $desc" ;; esac
for o in open ioctl file syscall cgroup ptrace receive; do
	[ -s "$root/src/build/bpf/$o.bpf.o" ] || die "no build/bpf/$o.bpf.o"
done
ok "build/accelguard: $(echo "$desc" | cut -d, -f1-2), and the seven BPF objects"
got=$(inroot 'build/accelguard --version')
[ "$got" = "accelguard $version" ] || die "accelguard --version: '$got', expected 'accelguard $version'"
ok "build/accelguard --version: $got"
inroot 'build/accelguard --help' > "$cache/help.txt" 2>&1 || die "build/accelguard --help (output: $cache/help.txt)"
grep -q 'Usage' "$cache/help.txt" || grep -qi 'usage' "$cache/help.txt" || die "build/accelguard --help printed no usage ($cache/help.txt)"
ok "build/accelguard --help ($(wc -l < "$cache/help.txt") lines)"
s=$(date +%s)
if inroot 'make unit-check' > "$cache/unit.log" 2>&1; then
	ok "make unit-check in the root: $(sed -n 's/^unit-check: passed: \([0-9]*\) tests.*/\1 passed/p' "$cache/unit.log" | tail -n 1) ($(($(date +%s) - s)) s)"
else
	tail -n 20 "$cache/unit.log" | sed 's/^/# /'
	die "make unit-check in the arm64 root (log: $cache/unit.log)"
fi
echo "# arm64-native: $(since) in all"
echo "arm64-native: $passed passed, 0 failed"
