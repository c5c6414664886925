#!/usr/bin/env bash
# Build the guest's initramfs: busybox, tests/vm/init, the agent and the test binary (as /ag/accelguard
# and /ag/itest) with the shared libraries they load, at the paths the host's ldd names.
#
# Usage: tests/vm/mkinitramfs.sh --agent PATH --itest PATH [--add HOST:GUEST]... OUT.cpio
# The archive is left uncompressed: QEMU hands it to the kernel as is, and unpacking it under
# software emulation is faster than decompressing it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
agent= itest= out= adds=()
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--itest) itest=$2; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	-*) echo "vm: mkinitramfs: unknown option $1" >&2; exit 2 ;;
	*) out=$1; shift ;;
	esac
done
[ -n "$agent" ] && [ -n "$itest" ] && [ -n "$out" ] ||
	{ echo "usage: mkinitramfs.sh --agent PATH --itest PATH [--add HOST:GUEST]... OUT.cpio" >&2; exit 2; }

die() { echo "vm: mkinitramfs: $*" >&2; exit 1; }
busybox=$(command -v busybox) || die "busybox not found (tools/deps.sh vm installs busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked: install busybox-static"

root=$(mktemp -d "${TMPDIR:-/tmp}/ag-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

# merged-/usr layout, like the Debian host the binaries were linked on
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,etc,ag,proc,sys,dev,tmp,run,root}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
cp "$busybox" "$root/usr/bin/busybox"
ln -s busybox "$root/usr/bin/sh"
install -m 0755 "$here/init" "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
: > "$root/etc/ld.so.conf"

# A file and, when it is a dynamic ELF, every library ldd resolves for it (ldd lists the whole
# closure and the dynamic loader). Libraries are copied dereferenced, under the name asked for.
add_file() { # HOST GUEST
	local src=$1 dst=$2 lib
	[ -f "$src" ] || die "$src: no such file (is it built?)"
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
	[ "$(head -c4 "$src" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
	ldd "$src" >/dev/null 2>&1 || return 0 # static
	for lib in $(ldd "$src" | awk '/=> \// { print $3; next } $1 ~ /^\// { print $1 }'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

add_file "$agent" /ag/accelguard
add_file "$itest" /ag/itest
for a in "${adds[@]}"; do add_file "${a%%:*}" "${a#*:}"; done
# glibc dlopens libgcc_s for pthread_cancel and unwinding; ldd does not show it
for l in /lib/x86_64-linux-gnu/libgcc_s.so.1; do
	[ -e "$l" ] && [ ! -e "$root$l" ] && cp -L "$l" "$root$l"
done

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --owner 0:0) > "$out.tmp"
mv "$out.tmp" "$out"
echo "vm: initramfs $out ($(du -h "$out" | cut -f1))" >&2
