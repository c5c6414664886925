# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tests/lib/bareroot.sh: a bare Debian bookworm root made from the package archive (mmdebstrap),
# this tree put in it as `git archive` makes a release, and commands run in it (chroot, in a
# mount namespace of their own). Safe under set -eu.

# bareroot_mmdebstrap TARBALL URI [OPTION...]: mmdebstrap --quiet OPTION... bookworm from URI
# into TARBALL, with this machine's apt settings that the archive needs (Check-Valid-Until,
# Check-Date, proxies) passed on as --aptopt
bareroot_mmdebstrap() {
	local tar=$1 uri=$2 o
	shift 2
	local aptopts=()
	while IFS= read -r o; do aptopts+=(--aptopt="$o"); done < <(apt-config dump |
		grep -E '^Acquire::(Check-Valid-Until|Check-Date|http::Proxy|https::Proxy) ' || true)
	mmdebstrap --quiet "$@" ${aptopts[@]+"${aptopts[@]}"} bookworm "$tar" "$uri"
}

# bareroot_unpack TARBALL ROOT: ROOT anew, holding TARBALL's files
bareroot_unpack() {
	rm -rf "$2"
	mkdir -p "$2"
	tar -xf "$1" -C "$2"
}

# bareroot_put_tree REPO ROOT MESSAGE: REPO's working tree (tracked and untracked files as they
# are, no .git) at ROOT/src as `git archive` writes it, the changes committed aside with MESSAGE
# (no branch moves); prints its version (git describe)
bareroot_put_tree() (
	set -e
	repo=$1 root=$2
	idx=$(mktemp)
	trap 'rm -f "$idx"' EXIT
	GIT_INDEX_FILE=$idx git -C "$repo" read-tree HEAD
	GIT_INDEX_FILE=$idx git -C "$repo" add -A
	tree=$(GIT_INDEX_FILE=$idx git -C "$repo" write-tree)
	commit=HEAD
	[ "$tree" = "$(git -C "$repo" rev-parse 'HEAD^{tree}')" ] ||
		commit=$(git -C "$repo" commit-tree "$tree" -p HEAD -m "$3")
	git -C "$repo" archive --prefix=src/ "$commit" | tar -x -C "$root"
	git -C "$repo" describe --always "$commit"
)

# bareroot_in ROOT ARCHIVES CMD...: run the shell command CMD in ROOT/src (chroot, a clean
# environment) with this machine's /proc, /sys and /dev, and ARCHIVES (unless empty) as its apt cache
bareroot_in() {
	local r=$1 a=$2
	shift 2
	unshare --mount --propagation private -- sh -ec '
		r=$1 archives=$2; shift 2
		mount --rbind /proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount --rbind /dev "$r/dev"
		[ -z "$archives" ] || mount --bind "$archives" "$r/var/cache/apt/archives"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
			/bin/sh -ec "cd /src && $*"' sh "$r" "$a" "$@"
}
