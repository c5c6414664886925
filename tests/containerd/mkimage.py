#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Build a container image offline: a docker-archive tar (what `ctr images import` reads) of one
layer holding Debian's busybox-static and its applet links, tagged with every NAME given.
Usage: mkimage.py OUT.tar NAME[:TAG]...
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

BUSYBOX = "/bin/busybox"
out, names = sys.argv[1], sys.argv[2:]
applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                         text=True).stdout.split()

layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    def add_dir(name, mode=0o755):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode = tarfile.DIRTYPE, mode
        t.addfile(ti)
    for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "run", "var"):
        add_dir(d, 0o1777 if d == "tmp" else 0o755)
    ti = t.gettarinfo(BUSYBOX, "bin/busybox")
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    with open(BUSYBOX, "rb") as f:
        t.addfile(ti, f)
    for a in applets:
        if a == "busybox":
            continue
        ti = tarfile.TarInfo("bin/" + a)
        ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
        t.addfile(ti)
    for name, body in (("etc/passwd", b"root:x:0:0:root:/:/bin/sh\n"), ("etc/group", b"root:x:0:\n")):
        ti = tarfile.TarInfo(name)
        ti.size = len(body)
        t.addfile(ti, io.BytesIO(body))
layer_bytes = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["/bin/sleep", "1000000"], "Env": ["PATH=/bin"]},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
}).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
manifest = json.dumps([{"Config": config_name, "RepoTags": names,
                        "Layers": ["layer.tar"]}]).encode()
with tarfile.open(out, "w") as t:
    for name, body in (("layer.tar", layer_bytes), (config_name, config),
                       ("manifest.json", manifest)):
        ti = tarfile.TarInfo(name)
        ti.size = len(body)
        t.addfile(ti, io.BytesIO(body))
