#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make image: accelguard's container image for amd64 and arm64, built here with no registry.
#   1. mmdebstrap makes Debian bookworm root file systems from Debian's archive: one build base on
#      this machine's architecture (compilers, -dev packages, and the other architectures' -dev
#      libraries through multiarch: tools/deps/arm64.txt) and one run base per architecture (the
#      runtime libraries only; another architecture's is unpacked without running its
#      maintainer scripts, which would need an emulator, and gets its CA bundle from a hook);
#   2. podman imports each as a local image (localhost/accelguard-base-build:bookworm,
#      localhost/accelguard-base-run-ARCH:bookworm, labelled with their architecture);
#   3. buildah builds the multi-stage Containerfile once per architecture (the build stage on
#      this machine, cross-compiling: make ARCH=arm64), localhost/accelguard:latest-ARCH, and
#      puts them in the manifest list localhost/accelguard:latest;
#   4. each image is checked: its agent is built for its architecture and every library it needs
#      is in the image (this machine's also runs: accelguard version), nothing of the build stage
#      came along; the list is written as one OCI archive, $IMAGE_CACHE/accelguard.oci.tar.
# IMAGE_ARCHES (default "amd64 arm64"), IMAGE_CACHE=DIR keeps the base tarballs between runs
# (default build/image), IMAGE_TAG (default localhost/accelguard:latest). Root.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${IMAGE_CACHE:-$repo/build/image}
tag=${IMAGE_TAG:-localhost/accelguard:latest}
arches=${IMAGE_ARCHES:-amd64 arm64}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
version=$("$repo/tools/version.sh")
host=$(dpkg --print-architecture)
"$repo/tools/deps.sh" image
mkdir -p "$cache"
# vfs and chroot isolation: no overlay or user namespace needed on the build host
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
pm() { podman --storage-driver "$STORAGE_DRIVER" "$@"; }
bh() { buildah --storage-driver "$STORAGE_DRIVER" "$@"; }

pkgs() { grep -hv '^#' "$@" | tr '|' ' ' | awk '{print $1}' | paste -sd, -; }
build_pkgs="$(pkgs "$repo/tools/deps/build.txt"),git,ca-certificates"
build_arches=$host
for a in $arches; do
	[ "$a" = "$host" ] && continue
	[ -f "$repo/tools/deps/$a.txt" ] || { echo "image: no cross packages for $a (tools/deps/$a.txt)" >&2; exit 2; }
	build_pkgs="$build_pkgs,$(pkgs "$repo/tools/deps/$a.txt")"
	build_arches="$build_arches,$a"
done
run_pkgs="libbpf1,libelf1,zlib1g,libyaml-0-2,libcurl4,libprotobuf-c1,libjson-c5,libmicrohttpd12,ca-certificates"

# mmdebstrap into the cache unless it is there: NAME ARCHES PACKAGES [OPTION...]
strap() {
	name=$1 archs=$2 inc=$3
	shift 3
	[ -s "$cache/$name.tar" ] && return 0
	echo "image: mmdebstrap bookworm $name ($archs: $inc)"
	mmdebstrap --architectures="$archs" --include="$inc" --aptopt='APT::Install-Recommends "false"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' "$@" \
		bookworm "$cache/$name.new.tar" "$mirror" && mv "$cache/$name.new.tar" "$cache/$name.tar"
}
# the build base: named after its architectures (a cache made for fewer is not reused)
bname=build-$(echo "$build_arches" | tr , -)
strap "$bname" "$build_arches" "$build_pkgs" --variant=minbase
pm import --arch "$host" "$cache/$bname.tar" localhost/accelguard-base-build:bookworm >/dev/null
for a in $arches; do
	if [ "$a" = "$host" ]; then
		strap "run-$a" "$a" "$run_pkgs" --variant=minbase
	elif [ ! -s "$cache/run-$a.tar" ]; then
		# unpacked only; ca-certificates' bundle, which its postinst would have made, is added
		strap "run-$a.unpacked" "$a" "$run_pkgs" --variant=extract
		t=$(mktemp -d)
		tar -x -C "$t" -f "$cache/run-$a.unpacked.tar" ./usr/share/ca-certificates
		mkdir -p "$t/etc/ssl/certs"
		cat "$t"/usr/share/ca-certificates/mozilla/*.crt > "$t/etc/ssl/certs/ca-certificates.crt"
		cp "$cache/run-$a.unpacked.tar" "$cache/run-$a.new.tar"
		tar -r -C "$t" -f "$cache/run-$a.new.tar" --owner 0 --group 0 ./etc/ssl/certs/ca-certificates.crt
		rm -rf "$t" "$cache/run-$a.unpacked.tar"
		mv "$cache/run-$a.new.tar" "$cache/run-$a.tar"
	fi
	variant=
	[ "$a" = arm64 ] && variant=v8
	pm import --arch "$a" ${variant:+--variant "$variant"} "$cache/run-$a.tar" \
		"localhost/accelguard-base-run-$a:bookworm" >/dev/null
done

pm manifest rm "$tag" >/dev/null 2>&1 || pm rmi "$tag" >/dev/null 2>&1 || true
pm manifest create "$tag" >/dev/null
for a in $arches; do
	echo "image: buildah bud $tag-$a (version $version)"
	bh bud --isolation "$BUILDAH_ISOLATION" --layers=false --pull=never --platform "linux/$a" \
		--build-arg BUILDPLATFORM="linux/$host" --build-arg TARGETPLATFORM="linux/$a" \
		--build-arg RUN_BASE="localhost/accelguard-base-run-$a:bookworm" \
		--build-arg VERSION="$version" -f "$repo/Containerfile" -t "$tag-$a" "$repo"
	pm manifest add "$tag" "containers-storage:$tag-$a" >/dev/null
done
pm image ls "$tag"

# each image works: its agent is the architecture's and runs on the final stage's libraries alone
# (this machine's, in a chroot of the image: a sandbox whose runtime cannot set rlimits cannot
# `podman run`; another architecture's, by its ELF: every NEEDED library is in the image), and
# nothing of the build stage came along
for a in $arches; do
	t=$tag-$a
	[ "$(pm image inspect "$t" --format '{{.Architecture}}')" = "$a" ] ||
		{ echo "image: $t is not labelled $a" >&2; exit 1; }
	mnt=$(pm image mount "$t")
	m=$(echo "$a" | sed -e 's/amd64/X86-64/' -e 's/arm64/AArch64/')
	LC_ALL=C readelf -h "$mnt/usr/bin/accelguard" | grep -q "Machine:.*$m" ||
		{ echo "image: $t: /usr/bin/accelguard is not built for $a" >&2; pm image unmount "$t" >/dev/null; exit 1; }
	if [ "$a" = "$host" ]; then
		chroot "$mnt" /usr/bin/accelguard version
		chroot "$mnt" /usr/bin/accelguard paths >/dev/null
	else
		interp=$(readelf -l "$mnt/usr/bin/accelguard" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
		[ -e "$mnt$interp" ] || { echo "image: $t: no $interp" >&2; pm image unmount "$t" >/dev/null; exit 1; }
		for n in $(readelf -d "$mnt/usr/bin/accelguard" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[ -e "$(echo "$mnt"/usr/lib/*-linux-gnu/"$n")" ] || [ -e "$(echo "$mnt"/lib/*-linux-gnu/"$n")" ] ||
				{ echo "image: $t: $n is not in the image" >&2; pm image unmount "$t" >/dev/null; exit 1; }
		done
		[ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] ||
			{ echo "image: $t: no CA bundle" >&2; pm image unmount "$t" >/dev/null; exit 1; }
		echo "image: $t: an $a agent, its interpreter and its $(readelf -d "$mnt/usr/bin/accelguard" | grep -c NEEDED) libraries present"
	fi
	for f in /usr/bin/clang /usr/bin/gcc /usr/sbin/bpftool /usr/include/bpf /usr/bin/make; do
		[ ! -e "$mnt$f" ] || { echo "image: $t: $f is in the final stage" >&2; pm image unmount "$t" >/dev/null; exit 1; }
	done
	echo "image: $t: runtime only ($(du -sh "$mnt" | cut -f1) unpacked)"
	pm image unmount "$t" >/dev/null
done
rm -f "$cache/accelguard.oci.tar"
# the archive names the list by its full tag, so `ctr images import` gives it that name (a bare
# "latest" would become import-DATE:latest)
pm manifest push --all "$tag" "oci-archive:$cache/accelguard.oci.tar:$tag" >/dev/null
echo "image: $tag ($arches), also as $cache/accelguard.oci.tar; load it into a node's containerd with:"
echo "  ctr -n k8s.io images import --all-platforms $cache/accelguard.oci.tar   (or push it to your registry:"
echo "  podman manifest push --all $tag docker://REGISTRY/accelguard:TAG)"
