#!/usr/bin/env bash
# Tests of the guests' accelerator choice (tests/vm/accel.sh) and of check.sh's retry under TCG,
# with the stand-in QEMU of tests/vm/standin/qemu (no hypervisor, no kernel download): a QEMU that
# hangs, one that aborts at once, one that works, and one whose KVM stops a test boot.
# Prints ok/not ok lines and "N passed, N failed"; exit status 0 when all passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ag-accel-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - accel/$1"; pass=$((pass + 1)); }
notok() { echo "not ok - accel/$1: $2"; fail=$((fail + 1)); }

mkdir -p "$tmp/k"
echo standin-kernel > "$tmp/k/vmlinuz"
echo standin-initrd > "$tmp/initrd"
: > "$tmp/kvm" # a /dev/kvm that is there (the stand-in decides what it does)
export AG_VM_QEMU=$here/standin/qemu AG_VM_KVM_DEV=$tmp/kvm AG_STANDIN_PIDFILE=$tmp/qemu.pid
unset AG_VM_ACCEL

choose() { # MODE [DEADLINE]: sets got, msg, secs
	local t0=$SECONDS
	rm -f "$tmp/qemu.pid"
	got=$(AG_STANDIN_QEMU=$1 "$here/accel.sh" --kernel "$tmp/k" --initrd "$tmp/initrd" --deadline "${2:-3}" 2>"$tmp/msg")
	msg=$(cat "$tmp/msg")
	secs=$((SECONDS - t0))
}

choose works
if [ "$got" = kvm ] && [[ $msg == *"KVM works"* ]]; then ok works-chooses-kvm; else notok works-chooses-kvm "got '$got', said '$msg'"; fi

choose hang 2
if [ "$got" != tcg ]; then notok hang-chooses-tcg "got '$got', said '$msg'"
elif [[ $msg != "vm: KVM present but a guest made no progress in 2 s under it; using TCG" ]]; then notok hang-chooses-tcg "said '$msg'"
elif [ "$secs" -gt 6 ]; then notok hang-chooses-tcg "took ${secs}s for a 2 s deadline"
else ok hang-chooses-tcg; fi
if [ -s "$tmp/qemu.pid" ] && kill -0 "$(cat "$tmp/qemu.pid")" 2>/dev/null; then
	notok hang-qemu-stopped "the hanging QEMU (pid $(cat "$tmp/qemu.pid")) still runs"
	kill -KILL "$(cat "$tmp/qemu.pid")" 2>/dev/null
elif [ -s "$tmp/qemu.pid" ]; then ok hang-qemu-stopped
else notok hang-qemu-stopped "the stand-in QEMU never started"; fi

choose abort
if [ "$got" = tcg ] && [[ $msg == *"QEMU stopped under it"*"KVM internal error"*"using TCG" ]] && [ "$secs" -le 2 ]; then
	ok abort-chooses-tcg
else notok abort-chooses-tcg "got '$got' in ${secs}s, said '$msg'"; fi

got=$(AG_VM_KVM_DEV=$tmp/none AG_STANDIN_QEMU=works "$here/accel.sh" --kernel "$tmp/k" --initrd "$tmp/initrd" 2>"$tmp/msg")
if [ "$got" = tcg ] && grep -q "no $tmp/none; using TCG" "$tmp/msg"; then ok no-kvm-chooses-tcg
else notok no-kvm-chooses-tcg "got '$got', said '$(cat "$tmp/msg")'"; fi

rm -f "$tmp/qemu.pid"
got=$(AG_VM_ACCEL=kvm AG_STANDIN_QEMU=hang "$here/accel.sh" --kernel "$tmp/k" --initrd "$tmp/initrd" 2>/dev/null)
if [ "$got" = kvm ] && [ ! -e "$tmp/qemu.pid" ]; then ok forced-kvm-not-probed; else notok forced-kvm-not-probed "got '$got'"; fi
got=$(AG_VM_ACCEL=tcg AG_STANDIN_QEMU=works "$here/accel.sh" --kernel "$tmp/k" --initrd "$tmp/initrd" 2>/dev/null)
if [ "$got" = tcg ] && [ ! -e "$tmp/qemu.pid" ]; then ok forced-tcg-not-probed; else notok forced-tcg-not-probed "got '$got'"; fi
AG_VM_ACCEL=bogus "$here/accel.sh" --kernel "$tmp/k" --initrd "$tmp/initrd" >/dev/null 2>"$tmp/msg"
rc=$?
if [ "$rc" = 2 ] && grep -q "not 'bogus'" "$tmp/msg"; then ok bad-accel-refused; else notok bad-accel-refused "exit $rc: $(cat "$tmp/msg")"; fi

# check.sh end to end on a cached stand-in kernel: the probe passes under KVM, every test boot
# under KVM stops, each is retried once under TCG, and the report says so.
cache=$tmp/cache
for s in bookworm; do
	mkdir -p "$cache/kernels/$s"
	echo standin-kernel > "$cache/kernels/$s/vmlinuz"
	echo 6.1 > "$cache/kernels/$s/label"
	echo standin > "$cache/kernels/$s/release"
done
run_check() { # MODE
	AG_STANDIN_QEMU=$1 AG_VM_CACHE=$cache BUILD=$tmp/build-$1 "$here/check.sh" --agent "$here/standin/accelguard" \
		--itest "$here/standin/itest" --kernels bookworm --tiers "lsm tracepoint" --timeout 20 \
		>"$tmp/check-$1.log" 2>&1
}
run_check kvm-stops
rc=$?
log=$tmp/check-kvm-stops.log
if [ "$rc" = 0 ] && grep -q '^ok - vm/6.1/lsm/standin-guest-ran-under-tcg' "$log" &&
	grep -q '^ok - vm/6.1/tracepoint/standin-guest-ran-under-tcg' "$log" &&
	[ "$(grep -c 'under KVM the guest did not run to its end.*retried under TCG' "$log")" = 2 ] &&
	grep -q 'under KVM, 2 retried under TCG' "$log"; then
	ok check-retries-under-tcg
else notok check-retries-under-tcg "check.sh exit $rc; log: $(tail -n 20 "$log" | tr '\n' '|')"; fi

run_check works
rc=$?
log=$tmp/check-works.log
if [ "$rc" = 0 ] && grep -q '^ok - vm/6.1/lsm/standin-guest-ran-under-kvm' "$log" && ! grep -q 'retried' "$log"; then
	ok check-kvm-no-retry
else notok check-kvm-no-retry "check.sh exit $rc; log: $(tail -n 20 "$log" | tr '\n' '|')"; fi

# A guest of another architecture than the host's: TCG, no probe (no QEMU started).
other=arm64
[ "$(uname -m)" = aarch64 ] && other=amd64
rm -f "$tmp/qemu.pid"
got=$(AG_STANDIN_QEMU=works "$here/accel.sh" --arch "$other" --kernel "$tmp/k" --initrd "$tmp/initrd" 2>"$tmp/msg")
if [ "$got" = tcg ] && [ ! -e "$tmp/qemu.pid" ] && grep -q "$other guests on an .* host; using TCG" "$tmp/msg"; then
	ok cross-arch-tcg
else notok cross-arch-tcg "got '$got', said '$(cat "$tmp/msg")'"; fi

# check.sh for arm64 guests: the PL011 console and the PCI result port reach QEMU, and a kernel
# without ftrace direct calls (arm64 before 6.4) gets one boot, its lsm boot expecting tier 3,
# the other tiers skip lines that say why
for s in bookworm bookworm-backports; do
	mkdir -p "$cache/kernels/arm64/$s"
	echo standin-kernel > "$cache/kernels/arm64/$s/vmlinuz"
	echo standin > "$cache/kernels/arm64/$s/release"
done
echo 6.1 > "$cache/kernels/arm64/bookworm/label"
echo 6.12 > "$cache/kernels/arm64/bookworm-backports/label"
echo 'CONFIG_BPF_LSM=y' > "$cache/kernels/arm64/bookworm/config"
printf 'CONFIG_BPF_LSM=y\nCONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y\n' > "$cache/kernels/arm64/bookworm-backports/config"
mkdir -p "$cache/busybox/arm64/bookworm"
echo standin-busybox > "$cache/busybox/arm64/bookworm/busybox"
AG_STANDIN_QEMU=works AG_VM_CACHE=$cache BUILD=$tmp/build-arm64 "$here/check.sh" --arch arm64 \
	--agent "$here/standin/accelguard" --itest "$here/standin/itest" --kernels "bookworm bookworm-backports" \
	--tiers "lsm fmod_ret tracepoint" --timeout 20 >"$tmp/check-arm64.log" 2>&1
rc=$?
log=$tmp/check-arm64.log
if [ "$rc" = 0 ] && grep -q '^ok - vm/arm64/6.1/lsm/probe' "$log" &&
	grep -q '^skip - vm/arm64/6.1/fmod_ret: this kernel cannot attach BPF trampolines' "$log" &&
	grep -q '^skip - vm/arm64/6.1/tracepoint: ' "$log" &&
	grep -q 'ag.expect=tracepoint' "$tmp/build-arm64/vm/arm64/6.1-lsm/results.log" &&
	grep -q 'console=ttyAMA0 .*ag.results=/dev/ttyS0' "$tmp/build-arm64/vm/arm64/6.1-lsm/results.log" &&
	for t in lsm fmod_ret tracepoint; do grep -q "^ok - vm/arm64/6.12/$t/standin-guest-ran-under-tcg" "$log" || exit 1; done &&
	grep -q '^# vm: arm64, 4 boots in' "$log"; then
	ok check-arm64
else notok check-arm64 "check.sh exit $rc; log: $(tail -n 20 "$log" | tr '\n' '|')"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
