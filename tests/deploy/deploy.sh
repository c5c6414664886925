#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The Kubernetes manifests (deploy/kubernetes), checked against the agent:
#   1. each overlay rendered with `kubectl kustomize` and checked by check_manifests.py (mounts
#      against `accelguard paths`, RBAC against the API calls in user/, the DaemonSet's settings);
#   2. `accelguard paths` against the source: every default it prints is still a literal of the
#      module that opens it, and every host path literal of user/ is covered by a printed path;
#   3. each overlay run as the DaemonSet runs it (overlay_e2e.sh: its ConfigMap, args and env as
#      rendered, the peers at the in-cluster paths, every use the README promises, a restart, a
#      rollout and an OOM kill), under KUBEPODS_LOCK: its agent judges /kubepods;
#   4. the capabilities: the real agent run with exactly the DaemonSet's list (setpriv), in a
#      cgroup namespace of its own as in a pod, reaches ready and scans a descriptor another
#      user's process holds; with each capability taken away, what needs it fails.
# Usage: tests/deploy/deploy.sh BUILD/accelguard   (root for part 3)
set -uo pipefail
agent=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
pass=0 fail=0 skipped=0
ok() { echo "ok - deploy/$1"; pass=$((pass + 1)); }
nok() { echo "not ok - deploy/$1: $2"; fail=$((fail + 1)); }
tmp=$(mktemp -d /tmp/ag-deploy.XXXXXX)
holder="" cg2="" top=""
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	[ -n "$top" ] && rmdir "$top" 2>/dev/null
	[ -n "${DEPLOY_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# KUBECTL: another kubectl to render with (Debian's kubernetes-client is 1.20, kustomize v2)
kubectl=${KUBECTL:-kubectl}
command -v "$kubectl" >/dev/null && "$kubectl" kustomize --help >/dev/null 2>&1 ||
	{ echo "not ok - deploy: kubectl with kustomize is missing (tools/deps.sh deploy)"; echo "0 passed, 1 failed"; exit 1; }
$PY -c 'import yaml' 2>/dev/null || { echo "not ok - deploy: $PY lacks yaml (python3-yaml)"; echo "0 passed, 1 failed"; exit 1; }

# --- 1. the overlays
for o in audit enforce; do
	if "$kubectl" kustomize "$repo/deploy/kubernetes/overlays/$o" >"$tmp/$o.yaml" 2>"$tmp/$o.err"; then
		ok "$o/renders ($("$kubectl" version --client 2>/dev/null | grep -o 'v1\.[0-9]*\.[0-9]*' | head -1))"
		# kustomize's warnings (deprecated fields: bases, commonLabels, ...) go to stderr
		[ -s "$tmp/$o.err" ] && nok "$o/renders-without-warnings" "$(head -3 "$tmp/$o.err")" ||
			ok "$o/renders-without-warnings"
	else
		nok "$o/renders" "$(head -3 "$tmp/$o.err")"; continue
	fi
	$PY "$here/check_manifests.py" "$tmp/$o.yaml" "$o" "$agent" "$repo" "$tmp" >"$tmp/$o.out" 2>&1
	rc=$?
	grep -v '^[0-9]* passed' "$tmp/$o.out"
	read -r p f k < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$tmp/$o.out")
	pass=$((pass + ${p:-0})) fail=$((fail + ${f:-0})) skipped=$((skipped + ${k:-0}))
	[ "$rc" = 0 ] || [ "${f:-0}" != 0 ] || nok "$o/checker" "exit $rc: $(tail -3 "$tmp/$o.out")"
done

# --- 2. accelguard paths against the source
printf 'kubernetes:\n' >"$tmp/k.yaml"
"$agent" paths --config "$tmp/k.yaml" --events /var/log/accelguard/events.jsonl >"$tmp/paths"
$PY - "$repo" "$tmp/paths" >"$tmp/paths.out" 2>&1 <<'PYEOF'
import os, re, sys
repo, paths = sys.argv[1], sys.argv[2]
printed = [l.split("\t")[0] for l in open(paths) if l.strip()]
src = {}
for d, _, fs in os.walk(os.path.join(repo, "user")):
    for f in fs:
        if f.endswith(".c") and f != "paths.c":
            src[os.path.relpath(os.path.join(d, f), repo)] = open(os.path.join(d, f)).read()
allsrc = "\n".join(src.values())
# the defaults paths.c prints must be the modules' own literals
lits = re.findall(r'"(/[^"%]+)"', open(os.path.join(repo, "user/cmd/paths.c")).read())
# read by libbpf, not by user/: checked in libbpf itself below
libbpf = {"/sys/kernel/btf"}
for l in lits:
    if l in libbpf:
        import glob, subprocess
        so = (glob.glob("/usr/lib/*/libbpf.so.1") + glob.glob("/usr/lib/libbpf.so.1"))[:1]
        found = so and (l + "/").encode() in open(so[0], "rb").read()
        print(("ok - deploy/paths-default %s: libbpf reads it (%s)" % (l, so[0])) if found else
              "not ok - deploy/paths-default %s: not in libbpf (%s)" % (l, so))
        continue
    if l.startswith(("/sys/", "/var/", "/run/", "/etc/")) and l not in ("/sys/fs/cgroup",):
        print(("ok - deploy/paths-default %s is the source's" % l) if l in allsrc else
              "not ok - deploy/paths-default %s: no module of user/ has this literal any more" % l)
# every host path literal of user/ is covered by a printed path; fallbacks of a printed path
fallback = {"/sys/kernel/debug/tracing": "/sys/kernel/tracing"}
for f, text in sorted(src.items()):
    for l in sorted(set(re.findall(r'"(/(?:sys|var|run|etc)/[^"%]*)"', text))):
        if l == "/etc/accelguard/config.yaml":
            print("ok - deploy/paths-covered %s (%s): the commands' --config default; in the pod the ConfigMap (config-mounted)" % (l, f))
            continue
        if l.startswith("/run/accelguard-selftest."):
            print("ok - deploy/paths-covered %s (%s): the self-test's scratch nodes, under /run (printed: the container's own)" % (l, f))
            continue
        if l.startswith("/var/run/secrets/"):
            print("ok - deploy/paths-covered %s (%s): the service account token, projected by Kubernetes" % (l, f))
            continue
        fb = [k for k in fallback if l == k or l.startswith(k + "/")]
        if fb:
            print("ok - deploy/paths-covered %s (%s): the fallback when %s is not tracefs" % (l, f, fallback[fb[0]]))
            continue
        cov = [p for p in printed if l == p or l.startswith(p.rstrip("/") + "/")]
        print(("ok - deploy/paths-covered %s (%s)" % (l, f)) if cov else
              "not ok - deploy/paths-covered %s (%s): opened by the agent, not printed by accelguard paths" % (l, f))
PYEOF
[ $? = 0 ] || nok paths-checker "$(tail -3 "$tmp/paths.out")"
cat "$tmp/paths.out"
pass=$((pass + $(grep -c '^ok ' "$tmp/paths.out"))) fail=$((fail + $(grep -c '^not ok ' "$tmp/paths.out")))

# --- 3. each overlay as the DaemonSet runs it
if [ "$(id -u)" != 0 ]; then
	echo "skip - deploy/e2e: needs root"
	skipped=$((skipped + 1))
else
	for o in audit enforce; do
		[ -s "$tmp/$o.yaml" ] || continue
		flock -w 900 "${KUBEPODS_LOCK:-/tmp/accelguard-kubepods.lock}" \
			"$here/overlay_e2e.sh" "$agent" "$tmp/$o.yaml" "$o" >"$tmp/e2e-$o.out" 2>&1
		rc=$?
		grep -v '^[0-9]* passed' "$tmp/e2e-$o.out"
		read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$tmp/e2e-$o.out")
		pass=$((pass + ${p:-0})) fail=$((fail + ${f:-0})) skipped=$((skipped + $(grep -c '^skip ' "$tmp/e2e-$o.out")))
		[ "$rc" = 0 ] || [ "${f:-0}" != 0 ] || nok "$o/e2e" "exit $rc: $(tail -3 "$tmp/e2e-$o.out")"
	done
fi

# --- 4. the capabilities
if [ "$(id -u)" != 0 ]; then
	echo "skip - deploy/caps: needs root"
	skipped=$((skipped + 1))
else
	caps=$(sed 's/^/+/' "$tmp/caps" | tr 'A-Z' 'a-z' | paste -sd, -)
	cg2=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
	top=$cg2/ag-deploy-$$
	mkdir -p "$top" "$tmp/dev"
	mknod "$tmp/dev/full" c 1 7 # a node with a driver, registered as a test class
	cat >"$tmp/caps.yaml" <<EOC
mode: audit
devices:
  - class: testfull
    major: 1
    minor: 7
metrics:
  listen: 127.0.0.1:0
EOC
	# another user's process holding the node since before the agent started
	setpriv --reuid=65534 --regid=65534 --clear-groups sleep 120 <"$tmp/dev/full" &
	holder=$!
	# run_with CAPS NAME: the agent with that bounding set, as in a pod (own cgroup namespace)
	run_with() {
		local ev=$tmp/ev-$2.jsonl
		local ns=(unshare --cgroup)
		[ "${3:-}" = hostns ] && ns=()
		ACCELGUARD_HOST_CGROUPNS=/proc/$$/ns/cgroup timeout 20 \
			sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$top" \
			"${ns[@]}" setpriv --inh-caps=-all --bounding-set=-all,"$1" -- \
			"$agent" run --pin-dir off --config "$tmp/caps.yaml" --events "$ev" --duration 2.5 \
			>"$tmp/log-$2" 2>&1
		echo $? >"$tmp/rc-$2"
	}
	ready() { grep -q '"type":"ready"' "$tmp/ev-$1.jsonl" 2>/dev/null; }
	scanned() { grep '"hook":"scan"' "$tmp/ev-$1.jsonl" 2>/dev/null | grep -q "\"pid\":$holder,"; }
	run_with "$caps" all
	nosa=$(echo "$caps" | tr , '\n' | grep -vx "+sys_admin" | paste -sd, -)
	run_with "$nosa" hostns hostns
	ready hostns && ok "caps/in-the-host-cgroupns-sys-admin-can-go ($nosa)" ||
		nok caps/in-the-host-cgroupns-sys-admin-can-go "$(tail -2 "$tmp/log-hostns")"
	if ready all && [ "$(cat "$tmp/rc-all")" = 0 ]; then ok "caps/the-daemonset-list-suffices ($caps)"; else
		nok "caps/the-daemonset-list-suffices" "$(tail -3 "$tmp/log-all")"; fi
	grep -q "joined the host's cgroup namespace" "$tmp/log-all" && ok "caps/joins-host-cgroupns" ||
		nok caps/joins-host-cgroupns "$(grep cgroup "$tmp/log-all" | head -2)"
	scanned all && ok "caps/scans-another-users-descriptor" || nok caps/scans-another-users-descriptor "no scan event of pid $holder"
	kv=$(uname -r | awk -F. '{print $1 * 1000 + $2}')
	for c in $(cat "$tmp/caps"); do
		lc=$(echo "$c" | tr 'A-Z' 'a-z')
		less=$(echo "$caps" | tr , '\n' | grep -vx "+$lc" | paste -sd, -)
		case $c in
		BPF | PERFMON | NET_ADMIN)
			# SYS_ADMIN (for the cgroup namespace) passes the kernel's checks for these too:
			# each is tested where SYS_ADMIN can go, an agent already in the host's cgroup
			# namespace
			less=$(echo "$less" | tr , '\n' | grep -vx "+sys_admin" | paste -sd, -)
			run_with "$less" "no-$c" hostns
			if ! ready "no-$c" && [ "$(cat "$tmp/rc-no-$c")" != 0 ] && grep -q "EPERM\|refused" "$tmp/log-no-$c"; then
				ok "caps/$c-needed (without it: $(grep -m1 error "$tmp/log-no-$c" | cut -c1-90))"
			else nok "caps/$c-needed" "the agent ran without it: $(tail -2 "$tmp/log-no-$c")"; fi ;;
		SYS_ADMIN)
			run_with "$less" "no-$c"
			if ! ready "no-$c" && grep -q "cannot join the host's" "$tmp/log-no-$c"; then
				ok "caps/$c-needed (setns into the host's cgroup namespace)"
			else nok "caps/$c-needed" "$(tail -2 "$tmp/log-no-$c")"; fi ;;
		SYS_PTRACE | DAC_READ_SEARCH)
			run_with "$less" "no-$c"
			if ready "no-$c" && ! scanned "no-$c"; then ok "caps/$c-needed (the scan misses another user's descriptor)"
			else nok "caps/$c-needed" "ready=$(ready "no-$c" && echo y), scanned=$(scanned "no-$c" && echo y)"; fi ;;
		SYS_RESOURCE)
			if [ "$kv" -ge 5011 ]; then
				skipped=$((skipped + 1))
				echo "skip - deploy/caps/SYS_RESOURCE: needed only on kernels before 5.11 (RLIMIT_MEMLOCK for maps); this one is $(uname -r)"
			else
				run_with "$less" "no-$c"
				ready "no-$c" && nok "caps/$c-needed" "ran without it" || ok "caps/$c-needed"
			fi ;;
		*) nok "caps/$c" "a capability this test does not know: say what needs it" ;;
		esac
	done
fi
# --- 5. the --events file rotates (README: What the agent writes on the node): past
# ACCELGUARD_EVENTS_FILE_MAX bytes FILE becomes FILE.1 (and up to FILE.4), whole lines in each
if [ "$(id -u)" = 0 ] && [ -n "$top" ]; then
	mkdir -p "$top/t1" "$tmp/rot"
	cat >"$tmp/rot.yaml" <<EOC
mode: audit
devices:
  - class: testfull
    major: 1
    minor: 7
tenants: ["/$(basename "$top")/*"]
metrics:
  listen: "off"
EOC
	ACCELGUARD_EVENTS_FILE_MAX=4096 timeout 20 "$agent" run --pin-dir off --config "$tmp/rot.yaml" \
		--events "$tmp/rot/ev.jsonl" --duration 4 >"$tmp/log-rot" 2>&1 &
	rot=$!
	for _ in $(seq 100); do grep -qs '"type":"ready"' "$tmp/rot/ev.jsonl" "$tmp/rot/ev.jsonl".* && break; sleep 0.05; done
	# 300 violations of the tenant: an unallocated device opened, about 700 bytes each
	sh -c 'echo $$ >"$1/cgroup.procs" && for i in $(seq 300); do head -c1 "$2" >/dev/null; done' sh "$top/t1" "$tmp/dev/full"
	wait "$rot"
	rmdir "$top/t1" 2>/dev/null
	$PY - "$tmp/rot" <<'PYEOF' >"$tmp/rot.out" 2>&1
import json, os, sys
d = sys.argv[1]
files = sorted(os.listdir(d))
want = ["ev.jsonl"] + ["ev.jsonl.%d" % i for i in range(1, 5)]
bad = []
for f in files:
    text = open(os.path.join(d, f)).read()
    if text and not text.endswith("\n"):
        bad.append("%s: a cut line at its end" % f)
    for l in text.splitlines():
        try:
            json.loads(l)
        except ValueError:
            bad.append("%s: not JSON: %.60s" % (f, l))
    if f != "ev.jsonl" and not 4096 <= len(text) <= 4096 + 65536:
        bad.append("%s: %d bytes, not just past the 4096 bound" % (f, len(text)))
n = sum(1 for f in files for l in open(os.path.join(d, f)) if '"verdict":"unmediated"' in l)
print("files %s, %d violations kept of 300, %s" % (files, n, bad[:3] or "every line whole JSON"))
sys.exit(0 if files == want and not bad and 0 < n < 300 else 1)
PYEOF
	if [ $? = 0 ]; then ok "events-file-rotates ($(cat "$tmp/rot.out"))"
	else nok events-file-rotates "$(cat "$tmp/rot.out") $(tail -2 "$tmp/log-rot")"; fi
fi
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
