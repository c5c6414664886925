#!/usr/bin/env bash
# Fetch a Debian kernel (vmlinuz + config) for the QEMU guest tests, and cache it.
#
# Usage: tests/vm/fetch-kernel.sh SUITE    (bookworm | bookworm-backports)
# Prints the cache directory holding vmlinuz, config and label (e.g. "6.1").
#
# Cache: $AG_VM_CACHE (default $BUILD/vm-cache, BUILD defaulting to build). A cached kernel is used
# as is, with no network; AG_VM_REFRESH=1 resolves the suite's newest kernel again.
#
# apt runs with a private configuration and state under the cache, so the machine's apt state is
# never touched. The archive's URI is read from the machine's own apt sources at run time: the
# repository names no registry host.
set -euo pipefail

suite=${1:?usage: fetch-kernel.sh SUITE}
cache=${AG_VM_CACHE:-${BUILD:-build}/vm-cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
kdir=$cache/kernels/$suite

die() { echo "vm: fetch-kernel: $*" >&2; exit 1; }

if [ -s "$kdir/vmlinuz" ] && [ -s "$kdir/label" ] && [ "${AG_VM_REFRESH:-0}" != 1 ]; then
	echo "$kdir"
	exit 0
fi

# The Debian archive URI and keyring this machine's apt uses (tools/debian-archive.sh).
archive_from_sources() { "$(dirname "$0")/../../tools/debian-archive.sh"; }

read -r uri key < <(archive_from_sources | head -n1) || true
[ -n "${uri:-}" ] || die "no Debian archive found in /etc/apt/sources.list{,.d} to fetch $suite from"

apt=$cache/apt
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
	-o "APT::Architecture=amd64" -o "APT::Architectures=amd64"
	-o "Acquire::Languages=none"
	-o "APT::Sandbox::User=root"
)
mkdir -p "$apt/preferences.d"

# Refresh the private index once per run of this script (cheap when unchanged: InRelease only).
echo "vm: fetch-kernel: updating package index for $suite" >&2
apt-get -qq "${aptopt[@]}" update >&2 || die "apt-get update failed (network? sources: $uri)"

# linux-image-amd64 is a metapackage: its first Depends is the versioned image package.
meta=$(apt-cache "${aptopt[@]}" show "linux-image-amd64/$suite" 2>/dev/null) ||
	die "linux-image-amd64 not found in $suite"
pkg=$(printf '%s\n' "$meta" | awk -F': ' '$1 == "Depends" { split($2, d, /[ ,(|]+/); print d[1]; exit }')
[ -n "$pkg" ] || die "cannot resolve the image package behind linux-image-amd64/$suite"
ver=$(apt-cache "${aptopt[@]}" show "$pkg/$suite" | awk -F': ' '$1 == "Version" { print $2; exit }')
deb=$cache/debs/${pkg}_${ver//:/%3a}_amd64.deb

if [ ! -s "$deb" ]; then
	echo "vm: fetch-kernel: downloading $pkg $ver" >&2
	(cd "$cache/debs" && apt-get -qq "${aptopt[@]}" download "$pkg=$ver" >&2) ||
		die "apt-get download $pkg=$ver failed"
	[ -s "$deb" ] || die "download of $pkg did not produce $deb"
fi

# Only the kernel image and its config are needed: the guest runs from an initramfs and every
# feature the tests use (BPF LSM, trampolines, cgroup2, tracefs, 8250 serial) is built in.
tmp=$(mktemp -d "$cache/extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './boot/config-*'
release=${pkg#linux-image-}
mkdir -p "$kdir"
mv "$tmp/boot/vmlinuz-$release" "$kdir/vmlinuz.new"
mv "$tmp/boot/config-$release" "$kdir/config"
for opt in CONFIG_BPF_LSM CONFIG_BPF_JIT CONFIG_DEBUG_INFO_BTF CONFIG_CGROUP_BPF CONFIG_SERIAL_8250_CONSOLE \
	CONFIG_DEVTMPFS CONFIG_BLK_DEV_INITRD; do
	grep -q "^$opt=y" "$kdir/config" || die "$pkg lacks $opt=y: unusable for the guest tests"
done
echo "$release" > "$kdir/release"
echo "$release" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/' > "$kdir/label"
mv "$kdir/vmlinuz.new" "$kdir/vmlinuz"
echo "vm: fetch-kernel: $suite -> $release" >&2
echo "$kdir"
