#!/usr/bin/env bash
# make image-import-check: the OCI archive that `make image` writes, loaded the way the README
# tells a node to load it (ctr images import --all-platforms) into a private containerd (its own
# root, state and socket under a temporary directory: tests/lib/containerd.sh), then:
#   - the import names one image, by the tag it was built as (IMAGE_TAG, default
#     localhost/accelguard:latest: the name a kustomize overlay's images: sets), whose target is
#     an OCI index (the manifest list) listing a linux/amd64 and a linux/arm64 manifest, and
#     every manifest, config and layer of both is in containerd's content store (--all-platforms);
#   - each platform's image config says its architecture;
#   - `ctr run --platform linux/ARCH` of each runs the image's /usr/bin/accelguard --version and
#     prints "accelguard VERSION", the same for both (the archive's build): natively for this machine's architecture, through
#     qemu-user's binfmt handler (registered with F) for the other; an architecture that cannot
#     run here (no handler) is a skip that says so.
# Usage: tests/image/import.sh [ARCHIVE]   (default ${IMAGE_CACHE:-build/image}/accelguard.oci.tar)
# Needs root, containerd, ctr and runc (tools/deps/containerd.txt).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/lib/containerd.sh"
archive=${1:-${IMAGE_CACHE:-$repo/build/image}/accelguard.oci.tar}
tag=${IMAGE_TAG:-localhost/accelguard:latest}
pass=0 fail=0 skipn=0
ok() { echo "ok - image-import/$1"; pass=$((pass + 1)); }
nok() { echo "not ok - image-import/$1: $2"; fail=$((fail + 1)); }
skip() { echo "skip - image-import/$1: $2"; skipn=$((skipn + 1)); }
summary() { echo "image-import: $pass passed, $fail failed$([ "$skipn" = 0 ] || echo ", $skipn skipped")"; }
[ -s "$archive" ] || { echo "image-import: no archive $archive (make image writes it)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "image-import: needs root (containerd, runc)" >&2; exit 2; }
for b in containerd ctr runc containerd-shim-runc-v2; do
	command -v "$b" >/dev/null || { echo "image-import: $b is not installed (tools/deps/containerd.txt)" >&2; exit 2; }
done
host=$(dpkg --print-architecture)

tmp=$(mktemp -d /tmp/ag-import.XXXXXX)
sock=$tmp/containerd.sock ns=agimport
C() { ctr -a "$sock" -n "$ns" "$@"; }
cleanup() {
	set +e
	if [ -n "$ctd_pid" ]; then
		for c in $(C containers ls -q 2>/dev/null); do C tasks kill -s KILL "$c" >/dev/null 2>&1; C containers rm "$c" >/dev/null 2>&1; done
		ctd_stop
	fi
	ctd_kill_shims "$sock"
	ctd_umount_under "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT
# no CRI: ctr alone; the native snapshotter works on any file system under /tmp
ctd_config "$tmp" 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' >"$tmp/containerd.toml"
rc=0
ctd_start "$tmp/containerd.toml" "$tmp/containerd.log" "$sock" || rc=$?
[ "$rc" != 1 ] || { tail -n 5 "$tmp/containerd.log" >&2; echo "image-import: containerd did not start" >&2; exit 1; }
[ -S "$sock" ] || { echo "image-import: containerd's socket $sock never answered" >&2; exit 1; }

# 1. the import, as the README prints it (in a namespace of our own); ctr names the image by the
# archive's ref name (tools/image.sh writes the full tag; a bare one would become import-DATE:TAG)
if ! C images import --all-platforms --snapshotter native "$archive" > "$tmp/import.log" 2>&1; then
	nok import "ctr images import --all-platforms $archive failed: $(tail -n 3 "$tmp/import.log" | tr '\n' ' ')"
	summary; exit 1
fi
imgs=$(C images ls -q)
n=$(printf '%s\n' "$imgs" | grep -c . || true)
[ "$n" = 1 ] || { nok import "the archive gave $n images, not one: $(echo $imgs)"; summary; exit 1; }
img=$imgs
[ "$img" = "$tag" ] || { nok import "the archive's image is named '$img', not '$tag' (tools/image.sh names it by its tag)"; summary; exit 1; }
ok "import: ctr images import --all-platforms gave one image, $img"

# 2. the manifest list, both platforms and all of their blobs
read -r mt dg < <(C images ls | awk -v i="$img" '$1 == i { print $2, $3 }')
case $mt in
application/vnd.oci.image.index.v1+json|application/vnd.docker.distribution.manifest.list.v2+json) ok "index: $img is a manifest list ($mt)" ;;
*) nok index "$img's target is $mt, not a manifest list"; summary; exit 1 ;;
esac
declare -A mdg
while read -r plat d; do mdg[$plat]=$d; done < <(C content get "$dg" |
	python3 -c 'import json,sys
for m in json.load(sys.stdin).get("manifests", []):
    p = m.get("platform", {})
    print("%s/%s" % (p.get("os"), p.get("architecture")), m["digest"])')
for a in amd64 arm64; do
	d=${mdg[linux/$a]:-}
	[ -n "$d" ] || { nok "platform/$a" "the manifest list names no linux/$a manifest (it names: ${!mdg[*]})"; continue; }
	C content get "$d" > "$tmp/m-$a.json" 2>/dev/null || { nok "platform/$a" "the linux/$a manifest $d is not in the content store"; continue; }
	blobs=$(python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))
print(m["config"]["digest"]); [print(l["digest"]) for l in m["layers"]]' "$tmp/m-$a.json")
	missing=0
	for b in $blobs; do C content ls -q | grep -qx "$b" || missing=$((missing + 1)); done
	cfg=$(printf '%s\n' "$blobs" | head -n 1)
	arch=$(C content get "$cfg" | python3 -c 'import json,sys; c = json.load(sys.stdin); print(c.get("os"), c.get("architecture"))')
	if [ "$missing" != 0 ]; then nok "platform/$a" "$missing of the $(echo $blobs | wc -w) blobs of the linux/$a manifest are not in the content store"
	elif [ "$arch" != "linux $a" ]; then nok "platform/$a" "the linux/$a manifest's config says '$arch'"
	else ok "platform/$a: manifest $(echo "$d" | cut -c1-19), its config ($arch) and $(($(echo $blobs | wc -w) - 1)) layer(s) in the content store"
	fi
done

# 3. the agent of each platform runs (this machine's first: its version is the one expected)
want=
for a in $host $(echo amd64 arm64 | tr ' ' '\n' | grep -vx "$host"); do
	[ -n "${mdg[linux/$a]:-}" ] || continue
	if [ "$a" != "$host" ]; then
		m=$(echo "$a" | sed -e 's/amd64/x86_64/' -e 's/arm64/aarch64/')
		grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$m" 2>/dev/null ||
			{ skip "run/$a" "no binfmt handler for $a here (qemu-user-static: tools/deps.sh arm64-native registers it)"; continue; }
	fi
	got=$(C run --rm --snapshotter native --platform "linux/$a" "$img" "ag-import-$a-$$" /usr/bin/accelguard --version 2>"$tmp/run-$a.err") || true
	if [ -z "$want" ] && printf '%s\n' "$got" | grep -qx 'accelguard [0-9A-Za-z.+~-]*'; then want=$got; fi
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok "run/$a: ctr run --platform linux/$a ... --version: $got$([ "$a" = "$host" ] || echo ' (through qemu-user)')"
	else
		nok "run/$a" "ctr run --platform linux/$a ... --version printed '$got', expected ${want:+'$want'}${want:-'accelguard VERSION'} ($(head -c 300 "$tmp/run-$a.err"))"
	fi
done
summary
[ "$fail" = 0 ]
