#!/usr/bin/env bash
# Build the guest's initramfs: busybox, tests/vm/init, the agent and the test binary (as /ag/accelguard
# and /ag/itest) with the shared libraries they load, at the paths the host's ldd names.
#
# Usage: tests/vm/mkinitramfs.sh --agent PATH --itest PATH|none [--arch amd64|arm64] [--busybox PATH]
#                                [--add HOST:GUEST]... OUT.cpio
# (--itest none: a guest scenario of its own instead, put in with --add: tests/vm/runc-v2.sh)
# Another architecture's binaries (arm64 on an amd64 host: make ARCH=arm64) cannot go through
# ldd: their libraries are found from the ELF itself (readelf: the interpreter and NEEDED, each
# looked up in that architecture's multiarch directories, transitively), and --busybox names
# that architecture's static busybox (tests/vm/fetch-kernel.sh --arch arm64 --busybox).
# The archive is left uncompressed: QEMU hands it to the kernel as is, and unpacking it under
# software emulation is faster than decompressing it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
agent= itest= out= adds=() arch=amd64 busybox=
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--itest) itest=$2; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--busybox) busybox=$2; shift 2 ;;
	-*) echo "vm: mkinitramfs: unknown option $1" >&2; exit 2 ;;
	*) out=$1; shift ;;
	esac
done
[ -n "$agent" ] && [ -n "$itest" ] && [ -n "$out" ] ||
	{ echo "usage: mkinitramfs.sh --agent PATH --itest PATH [--add HOST:GUEST]... OUT.cpio" >&2; exit 2; }

die() { echo "vm: mkinitramfs: $*" >&2; exit 1; }
case $arch in
amd64) triplet=x86_64-linux-gnu ;;
arm64) triplet=aarch64-linux-gnu ;;
*) die "--arch must be amd64 or arm64, not '$arch'" ;;
esac
host=$(uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')
if [ -z "$busybox" ]; then
	[ "$arch" = "$host" ] || die "an $arch guest needs --busybox (tests/vm/fetch-kernel.sh --arch $arch --busybox SUITE)"
	busybox=$(command -v busybox) || die "busybox not found (tools/deps.sh vm installs busybox-static)"
fi
readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter' && die "$busybox is dynamically linked: a static busybox is needed (busybox-static)"

root=$(mktemp -d "${TMPDIR:-/tmp}/ag-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

# merged-/usr layout, like the Debian host the binaries were linked on
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib/$triplet,usr/lib64,etc,ag,proc,sys,dev,tmp,run,root}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
cp "$busybox" "$root/usr/bin/busybox"
ln -s busybox "$root/usr/bin/sh"
install -m 0755 "$here/init" "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
: > "$root/etc/ld.so.conf"

# The libraries of a dynamic ELF of another architecture, as ldd would list them: the
# interpreter, then every NEEDED found in the multiarch directories, transitively.
elf_libs() { # FILE
	local todo=("$1") seen=" " f n p d
	readelf -l "$1" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p'
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]} todo=("${todo[@]:1}")
		for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $n "*) continue ;; esac
			seen="$seen$n "
			p=
			for d in /lib/$triplet /usr/lib/$triplet; do [ -e "$d/$n" ] && { p=$d/$n; break; }; done
			[ -n "$p" ] || die "$f needs $n, not found in /usr/lib/$triplet (tools/deps.sh arm64)"
			echo "$p"
			todo+=("$p")
		done
	done
}

# A file and, when it is a dynamic ELF, every library ldd (or elf_libs, for another architecture)
# resolves for it (the whole closure and the dynamic loader). Libraries are copied dereferenced,
# under the name asked for.
add_file() { # HOST GUEST
	local src=$1 dst=$2 lib libs
	[ -f "$src" ] || die "$src: no such file (is it built?)"
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
	[ "$(head -c4 "$src" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
	if [ "$arch" = "$host" ]; then
		ldd "$src" >/dev/null 2>&1 || return 0 # static
		libs=$(ldd "$src" | awk '/=> \// { print $3; next } $1 ~ /^\// { print $1 }')
	else
		libs=$(elf_libs "$src")
	fi
	for lib in $libs; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

add_file "$agent" /ag/accelguard
[ "$itest" = none ] || add_file "$itest" /ag/itest
for a in "${adds[@]}"; do add_file "${a%%:*}" "${a#*:}"; done
# glibc dlopens libgcc_s for pthread_cancel and unwinding; ldd does not show it
for l in /lib/$triplet/libgcc_s.so.1; do
	[ -e "$l" ] && [ ! -e "$root$l" ] && cp -L "$l" "$root$l"
done

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --owner 0:0) > "$out.tmp"
mv "$out.tmp" "$out"
echo "vm: initramfs $out ($(du -h "$out" | cut -f1))" >&2
