#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make image: accelguard's container image, built here with no registry.
#   1. mmdebstrap makes two Debian bookworm root file systems from Debian's archive: the build
#      base (compilers, -dev packages) and the run base (the runtime libraries only);
#   2. podman imports each as a local image (localhost/accelguard-base-{build,run}:bookworm);
#   3. buildah builds the multi-stage Containerfile on them: localhost/accelguard:latest.
# IMAGE_CACHE=DIR keeps the base tarballs between runs (default build/image). Root.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${IMAGE_CACHE:-$repo/build/image}
tag=${IMAGE_TAG:-localhost/accelguard:latest}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
version=$("$repo/tools/version.sh")
"$repo/tools/deps.sh" image
mkdir -p "$cache"
# vfs and chroot isolation: no overlay or user namespace needed on the build host
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

pkgs() { grep -hv '^#' "$@" | tr '|' ' ' | awk '{print $1}' | paste -sd, -; }
build_pkgs="$(pkgs "$repo/tools/deps/build.txt"),git,ca-certificates"
run_pkgs="libbpf1,libelf1,zlib1g,libyaml-0-2,libcurl4,libprotobuf-c1,libjson-c5,libmicrohttpd12,ca-certificates"

base() { # NAME PACKAGES
	if [ ! -s "$cache/$1.tar" ]; then
		echo "image: mmdebstrap bookworm $1 base ($2)"
		mmdebstrap --variant=minbase --include="$2" --aptopt='APT::Install-Recommends "false"' \
			--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
			--dpkgopt='path-exclude=/usr/share/locale/*' \
			bookworm "$cache/$1.new.tar" "$mirror" && mv "$cache/$1.new.tar" "$cache/$1.tar"
	fi
	podman --storage-driver "$STORAGE_DRIVER" import "$cache/$1.tar" "localhost/accelguard-base-$1:bookworm" >/dev/null
}
base build "$build_pkgs"
base run "$run_pkgs"
echo "image: buildah bud $tag (version $version)"
buildah --storage-driver "$STORAGE_DRIVER" bud --isolation "$BUILDAH_ISOLATION" --layers=false \
	--build-arg VERSION="$version" -f "$repo/Containerfile" -t "$tag" "$repo"
podman --storage-driver "$STORAGE_DRIVER" image ls "$tag"
# the image works: its agent runs on the final stage's libraries alone (in a chroot of the
# image: a sandbox whose runtime cannot set rlimits cannot `podman run`), and nothing of the
# build stage came along
mnt=$(podman --storage-driver "$STORAGE_DRIVER" image mount "$tag")
trap 'podman --storage-driver "$STORAGE_DRIVER" image unmount "$tag" >/dev/null' EXIT
chroot "$mnt" /usr/bin/accelguard version
chroot "$mnt" /usr/bin/accelguard paths >/dev/null
for f in /usr/bin/clang /usr/bin/gcc /usr/sbin/bpftool /usr/include/bpf /usr/bin/make; do
	[ ! -e "$mnt$f" ] || { echo "image: $f is in the final stage" >&2; exit 1; }
done
echo "image: runtime only ($(du -sh "$mnt" | cut -f1) unpacked)"
echo "image: $tag; load it into a node's containerd with:"
echo "  podman save $tag | ctr -n k8s.io images import -   (or push it to your registry)"
