#!/usr/bin/env bash
# Fetch a Debian kernel (vmlinuz + config) for the QEMU guest tests, and cache it.
#
# Usage: tests/vm/fetch-kernel.sh [--arch amd64|arm64] SUITE    (bookworm | bookworm-backports)
#        tests/vm/fetch-kernel.sh --arch arm64 --busybox SUITE
# Prints the cache directory holding vmlinuz, config and label (e.g. "6.1"); with --busybox, the
# path of that architecture's static busybox (busybox-static of SUITE: the arm64 guests' busybox,
# which cannot be installed beside the machine's amd64 one).
#
# Cache: $AG_VM_CACHE (default $BUILD/vm-cache, BUILD defaulting to build): amd64 kernels in
# kernels/SUITE, other architectures' in kernels/ARCH/SUITE, each architecture's apt state in its
# own directory (apt, apt-ARCH). A cached kernel is used as is, with no network; AG_VM_REFRESH=1
# resolves the suite's newest kernel again.
#
# apt runs with a private configuration and state under the cache, so the machine's apt state is
# never touched. The archive's URI is read from the machine's own apt sources at run time: the
# repository names no registry host.
set -euo pipefail

arch=amd64 what=kernel
while [ $# -gt 1 ]; do
	case $1 in
	--arch) arch=$2; shift 2 ;;
	--busybox) what=busybox; shift ;;
	*) break ;;
	esac
done
suite=${1:?usage: fetch-kernel.sh [--arch amd64|arm64] [--busybox] SUITE}
case $arch in amd64|arm64) ;; *) echo "vm: fetch-kernel: --arch must be amd64 or arm64, not '$arch'" >&2; exit 2 ;; esac
cache=${AG_VM_CACHE:-${BUILD:-build}/vm-cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# one fetch at a time per cache: stages that run side by side (vm-check, vm-runc-v2-check) may
# fetch the same kernel into the same apt state, whose lock apt-get would refuse to wait for
exec 9>>"$cache/.fetch.lock"
flock 9
if [ "$arch" = amd64 ]; then kdir=$cache/kernels/$suite apt=$cache/apt; else kdir=$cache/kernels/$arch/$suite apt=$cache/apt-$arch; fi
[ "$what" = busybox ] && kdir=$cache/busybox/$arch/$suite

die() { echo "vm: fetch-kernel: $*" >&2; exit 1; }

if [ "$what" = busybox ] && [ -s "$kdir/busybox" ] && [ "${AG_VM_REFRESH:-0}" != 1 ]; then
	echo "$kdir/busybox"
	exit 0
fi
if [ "$what" = kernel ] && [ -s "$kdir/vmlinuz" ] && [ -s "$kdir/label" ] && [ "${AG_VM_REFRESH:-0}" != 1 ]; then
	echo "$kdir"
	exit 0
fi

# The Debian archive URI and keyring this machine's apt uses (tools/debian-archive.sh).
archive_from_sources() { "$(dirname "$0")/../../tools/debian-archive.sh"; }

read -r uri key < <(archive_from_sources | head -n1) || true
[ -n "${uri:-}" ] || die "no Debian archive found in /etc/apt/sources.list{,.d} to fetch $suite from"

mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/debs"
{
	echo "Types: deb"
	echo "URIs: $uri"
	echo "Suites: bookworm bookworm-backports"
	echo "Components: main"
	[ "$key" = - ] || echo "Signed-By: $key"
} > "$apt/sources.list.d/accelguard-vm.sources"

aptopt=(
	-o "Dir::Etc::SourceList=/dev/null"
	-o "Dir::Etc::SourceParts=$apt/sources.list.d"
	-o "Dir::Etc::Preferences=/dev/null"
	-o "Dir::Etc::PreferencesParts=$apt/preferences.d"
	-o "Dir::State::Lists=$apt/lists"
	-o "Dir::Cache=$apt/cache"
	-o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
	-o "Acquire::Languages=none"
	-o "APT::Sandbox::User=root"
)
mkdir -p "$apt/preferences.d"

# Refresh the private index once per run of this script (cheap when unchanged: InRelease only).
echo "vm: fetch-kernel: updating package index for $suite" >&2
apt-get -qq "${aptopt[@]}" update >&2 || die "apt-get update failed (network? sources: $uri)"

if [ "$what" = busybox ]; then
	pkg=busybox-static
else
	# linux-image-ARCH is a metapackage: its first Depends is the versioned image package.
	meta=$(apt-cache "${aptopt[@]}" show "linux-image-$arch/$suite" 2>/dev/null) ||
		die "linux-image-$arch not found in $suite"
	pkg=$(printf '%s\n' "$meta" | awk -F': ' '$1 == "Depends" { split($2, d, /[ ,(|]+/); print d[1]; exit }')
	[ -n "$pkg" ] || die "cannot resolve the image package behind linux-image-$arch/$suite"
fi
ver=$(apt-cache "${aptopt[@]}" show "$pkg/$suite" | awk -F': ' '$1 == "Version" { print $2; exit }')
[ -n "$ver" ] || die "$pkg not found in $suite ($arch)"
deb=$cache/debs/${pkg}_${ver//:/%3a}_$arch.deb

if [ ! -s "$deb" ]; then
	echo "vm: fetch-kernel: downloading $pkg $ver" >&2
	(cd "$cache/debs" && apt-get -qq "${aptopt[@]}" download "$pkg=$ver" >&2) ||
		die "apt-get download $pkg=$ver failed"
	[ -s "$deb" ] || die "download of $pkg did not produce $deb"
fi

tmp=$(mktemp -d "$cache/extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ "$what" = busybox ]; then
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./bin/busybox
	mkdir -p "$kdir"
	mv "$tmp/bin/busybox" "$kdir/busybox.new"
	echo "$ver" > "$kdir/version"
	mv "$kdir/busybox.new" "$kdir/busybox"
	echo "vm: fetch-kernel: busybox-static $ver ($arch)" >&2
	echo "$kdir/busybox"
	exit 0
fi

# Only the kernel image and its config are needed: the guest runs from an initramfs and every
# feature the tests use (BPF LSM, trampolines, cgroup2, tracefs, 8250 serial) is built in.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './boot/config-*'
release=${pkg#linux-image-}
mkdir -p "$kdir"
mv "$tmp/boot/vmlinuz-$release" "$kdir/vmlinuz.new"
mv "$tmp/boot/config-$release" "$kdir/config"
# the guest's consoles: 8250 UARTs on the pc machine (amd64), the virt machine's PL011 (arm64)
serial=CONFIG_SERIAL_8250_CONSOLE
[ "$arch" = arm64 ] && serial=CONFIG_SERIAL_AMBA_PL011_CONSOLE
for opt in CONFIG_BPF_LSM CONFIG_BPF_JIT CONFIG_DEBUG_INFO_BTF CONFIG_CGROUP_BPF $serial \
	CONFIG_DEVTMPFS CONFIG_BLK_DEV_INITRD; do
	grep -q "^$opt=y" "$kdir/config" || die "$pkg lacks $opt=y: unusable for the guest tests"
done
echo "$release" > "$kdir/release"
echo "$release" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/' > "$kdir/label"
mv "$kdir/vmlinuz.new" "$kdir/vmlinuz"
echo "vm: fetch-kernel: $suite -> $release" >&2
echo "$kdir"
