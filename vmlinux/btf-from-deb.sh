#!/usr/bin/env bash
# The BTF of a Debian kernel package, as a raw BTF file that bpftool reads (bpftool btf dump file
# RAW format c > vmlinux/ARCH/vmlinux.h; make vmlinux ARCH=... VMLINUX_BTF=RAW does both).
#
# Usage: vmlinux/btf-from-deb.sh linux-image-*.deb OUT.btf
#
# The package holds no vmlinux ELF (that is the -dbg package, some hundred MB), only the boot
# image; but the image carries the kernel's .BTF section as is (CONFIG_DEBUG_INFO_BTF), so the
# blob is found by its header: magic 0xeb9f, version 1, hdr_len 24, then type and string
# sections whose offsets and lengths the header gives. arm64's vmlinuz is a plain Image, x86's a
# bzImage whose payload is compressed (use the running kernel's /sys/kernel/btf/vmlinux there).
set -euo pipefail
deb=${1:?usage: btf-from-deb.sh KERNEL.deb OUT.btf} out=${2:?usage: btf-from-deb.sh KERNEL.deb OUT.btf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
img=$(ls "$tmp"/boot/vmlinuz-*)
# a gzip-compressed Image (older arm64 packages) is unpacked first
if [ "$(head -c2 "$img" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then zcat "$img" > "$tmp/Image"; img=$tmp/Image; fi
python3 - "$img" "$out" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
best = None
pos = data.find(b'\x9f\xeb\x01\x00')
while pos >= 0:
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<IIIII', data, pos + 4)
    if hdr_len == 24 and type_off == 0 and str_off == type_len and type_len > 0 and str_len > 0:
        end = pos + hdr_len + str_off + str_len
        # the kernel's own BTF is by far the largest blob in the image
        if end <= len(data) and (best is None or end - pos > best[1] - best[0]):
            best = (pos, end)
    pos = data.find(b'\x9f\xeb\x01\x00', pos + 1)
if best is None:
    sys.exit('btf-from-deb: no BTF blob in the image (CONFIG_DEBUG_INFO_BTF off?)')
open(sys.argv[2], 'wb').write(data[best[0]:best[1]])
print('btf-from-deb: %d bytes of BTF at offset %#x' % (best[1] - best[0], best[0]), file=sys.stderr)
PY
