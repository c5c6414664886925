# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tests/lib/containerd.sh: a private containerd for a test (its own root, state and socket under
# the test's directory; Debian's containerd, runc and ctr), started, stopped and cleaned up after.
# Callers keep its process id in ctd_pid. Safe under set -eu.
ctd_pid=""

# ctd_unmet: why a CRI test of containerd cannot run here (nothing when it can): root, the
# runtime's programs, protoc, /usr/bin/python3's grpc and protobuf, a cgroup2 file system
ctd_unmet() {
	local b m
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 0; }
	for b in containerd containerd-shim-runc-v2 ctr runc busybox protoc; do
		command -v "$b" >/dev/null || { echo "$b is not installed (tools/deps/containerd.txt)"; return 0; }
	done
	for m in grpc google.protobuf; do
		/usr/bin/python3 -c "import $m" 2>/dev/null || { echo "/usr/bin/python3 lacks $m (tools/deps/k8s.txt)"; return 0; }
	done
	grep -q ' - cgroup2 ' /proc/self/mountinfo || echo "no cgroup2 file system mounted"
}

# ctd_config DIR [TOP-LEVEL-LINE...]: to stdout, containerd's configuration with root, state and
# socket (DIR/containerd.sock) under DIR, the given top-level lines, no debug or metrics address
ctd_config() {
	local d=$1 l
	shift
	printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\n' "$d" "$d"
	for l in "$@"; do printf '%s\n' "$l"; done
	cat <<-CFG
	[grpc]
	  address = "$d/containerd.sock"
	[ttrpc]
	  address = "$d/containerd.sock.ttrpc"
	[debug]
	  address = ""
	[metrics]
	  address = ""
	CFG
}

# ctd_cri_config DIR [HANDLER BASE-SPEC]...: to stdout, the CRI plugin's section: sandbox image
# agtest/pause:1, the native snapshotter, runc with the cgroupfs driver (and a runtime handler
# HANDLER per pair, runc with BASE-SPEC as its base_runtime_spec), no CNI (DIR/cni)
ctd_cri_config() {
	local d=$1 r='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes'
	shift
	cat <<-CFG
	[plugins."io.containerd.grpc.v1.cri"]
	  sandbox_image = "docker.io/agtest/pause:1"
	  # runc may not lower oom_score_adj below containerd's own here (no CAP_SYS_RESOURCE over it)
	  restrict_oom_score_adj = true
	  [plugins."io.containerd.grpc.v1.cri".containerd]
	    snapshotter = "native"
	    default_runtime_name = "runc"
	    $r.runc]
	      runtime_type = "io.containerd.runc.v2"
	      $r.runc.options]
	        SystemdCgroup = false
	CFG
	while [ $# -ge 2 ]; do
		cat <<-CFG
		    $r.$1]
		      runtime_type = "io.containerd.runc.v2"
		      base_runtime_spec = "$2"
		      $r.$1.options]
		        SystemdCgroup = false
		CFG
		shift 2
	done
	cat <<-CFG
	  [plugins."io.containerd.grpc.v1.cri".cni]
	    bin_dir = "$d/cni"
	    conf_dir = "$d/cni"
	CFG
}

# ctd_start CONFIG LOG SOCK: start containerd (ctd_pid, output appended to LOG), wait 10 s for
# SOCK to answer; returns 1 when containerd exited, 2 when it did not answer in time
ctd_start() {
	containerd --config "$1" >>"$2" 2>&1 &
	ctd_pid=$!
	for _ in $(seq 200); do
		[ -S "$3" ] && ctr -a "$3" version >/dev/null 2>&1 && return 0
		kill -0 "$ctd_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 2
}

# ctd_stop: stop the containerd of ctd_pid (if any) and wait for it
ctd_stop() {
	[ -n "$ctd_pid" ] || return 0
	kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null || true
	ctd_pid=""
}

# ctd_kill_shims SOCK: kill the runc shims of the containerd at SOCK (each names its socket)
ctd_kill_shims() {
	local p
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $1"); do kill -9 "$p" 2>/dev/null || true; done
	return 0
}

# ctd_umount_under DIR: lazily unmount every mount below DIR (the snapshots, the rootfs), deepest first
ctd_umount_under() {
	awk -v t="$1" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	return 0
}

# ctd_drop_kubepods CG2: remove the QoS and kubepods cgroups runc left, in every hierarchy (if empty)
ctd_drop_kubepods() {
	local h q
	for h in /sys/fs/cgroup/* "$1"; do
		for q in besteffort burstable; do rmdir "$h/kubepods/$q" 2>/dev/null || true; done
		rmdir "$h/kubepods" 2>/dev/null || true
	done
	return 0
}

# ctd_test_image DIR SOCK: build the test image from busybox (tests/containerd/mkimage.py:
# agtest/busybox:1, agtest/pause:1) into DIR/image.tar and import it into namespace k8s.io
# (ctr's words in DIR/import.log); returns 1 when the image cannot be built, 2 when ctr cannot import it
ctd_test_image() {
	/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../containerd/mkimage.py" "$1/image.tar" agtest/busybox:1 agtest/pause:1 || return 1
	ctr -a "$2" -n k8s.io images import --snapshotter native "$1/image.tar" >"$1/import.log" 2>&1 || return 2
}
