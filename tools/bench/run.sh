#!/usr/bin/env bash
# accelguard's benchmarks (issue 5), natively (tier 3 on this kernel): see BENCHMARKS.md.
#
# Usage: tools/bench/run.sh [--agent PATH] [--agbench PATH] [--out DIR] [--stages "LIST"]
#                           [--rounds N] [--quick] [--tools "LIST"] [--workloads "LIST"]
# Stages (default all, in this order): micro pipeline sinks resources latency auditd
#   micro      ns/op of eight workloads: no agent, accelguard audit, enforce, a bpftrace program
#              (rounds, each tool paired with a baseline measured just before it). --tools picks
#              the tools (default "audit enforce bpftrace tp-floor"; also audit-raw, audit-syscalls:
#              the agent with tier 3's entry forced, ACCELGUARD_TP_ENTRY; audit-before: the agent
#              given by --agent-before, for a before/after side by side; bpftrace-raw: the peer on
#              raw_syscalls:sys_enter, which sees the compat tables too; tp-floor-raw: an empty
#              program there), --workloads the workloads
#   pipeline   the highest violation-event rate with zero ring-buffer drops, and what happens above
#              it (drops counted, every violation accounted for exactly)
#   sinks      events per second through the agent to each sink at once (JSON lines, journal,
#              metrics, Kubernetes Events and reports: an API server that refuses connections),
#              unpaced and at 250,000/s, --rounds times each; the agent's CPU per event
#   resources  the agent's RSS and CPU: idle, with 1,000 and 10,000 tenant cgroups, start-up scan
#   latency    cgroup creation -> policy entry in the map (p50, p99), cgroups made 5 ms apart
#   auditd     the micro workloads under auditd rules watching the accelerator node; last, because
#              enabling audit once leaves every task made afterwards with an audit context
# Results: DIR/results.md (tables), DIR/raw/ (every measurement), DIR/log. Needs root.
# Environment: BENCH_CPU (CPU for the load, default the last one), AGENT_CPU (default 0).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
agent=$BUILD/accelguard agbench=$BUILD/agbench out=$BUILD/bench agent_before=
stages="micro pipeline sinks resources latency auditd" rounds=5 quick=0
micro_tools="audit enforce bpftrace tp-floor" wl_list=
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift 2 ;;
	--agent-before) agent_before=$2; shift 2 ;;
	--agbench) agbench=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--stages) stages=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--quick) quick=1; rounds=1; shift ;;
	--tools) micro_tools=$2; shift 2 ;;
	--workloads) wl_list=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF, cgroups, mknod, audit)" >&2; exit 1; }
agent=$(cd "$(dirname "$agent")" && pwd)/$(basename "$agent")
agbench=$(cd "$(dirname "$agbench")" && pwd)/$(basename "$agbench")
[ -x "$agent" ] && [ -x "$agbench" ] || { echo "bench: build $agent and $agbench first (make bench)" >&2; exit 1; }
mkdir -p "$out/raw"
out=$(cd "$out" && pwd)
rm -f "$out"/raw/*
log=$out/log
: > "$log"
res=$out/results.md

ncpu=$(nproc)
BENCH_CPU=${BENCH_CPU:-$((ncpu - 1))}
AGENT_CPU=${AGENT_CPU:-0}
hz=$(getconf CLK_TCK)
tag=bench-$$
work=/tmp/agbench-$$
shm=/dev/shm/agbench-$$
# cgroup2 mount point: field 5 of the mountinfo line whose file system (after " - ") is cgroup2
cg2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
[ -n "$cg2" ] || { echo "bench: no cgroup2 mount" >&2; exit 1; }
cgr=$cg2/$tag

say() { echo "bench: $*" | tee -a "$log" >&2; }

# ---- cleanup: everything this run made ----------------------------------------------------------
# Background processes are tracked one variable each and forgotten once reaped, so that cleanup
# never signals a pid that the system may have given to someone else since.
apid= bpid= auditd_pid=
audit_key=agbench-$$
audit_enabled0= audit_never=0
stop_bg() { # PID: SIGINT, then SIGKILL after 2 s
	[ -n "$1" ] || return 0
	kill -INT "$1" 2>/dev/null || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	set +e
	stop_bg "$apid"
	stop_bg "$bpid"
	declare -F audit_off >/dev/null && audit_off
	if [ -d "$cgr" ]; then
		find "$cgr" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null
		rmdir "$cgr" 2>/dev/null
	fi
	rm -rf "$work" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work" "$shm" "$cgr/a" "$cgr/b" "$cgr/t"
echo "agbench $$" > "$work/file"
mknod "$work/accel0" c 1 3 # a /dev/null copy, registered as the accelerator class test-null
mknod "$work/zero" c 1 5   # a /dev/zero copy: a device node that is no accelerator

# ---- helpers ------------------------------------------------------------------------------------
# jnum LINE OBJECT KEY: the number at "OBJECT":{... "KEY":N ...} in a JSON line
jnum() {
	printf '%s' "$1" | sed -n "s/.*\"$2\":{\([^}]*\)}.*/\1/p" | tr ',' '\n' |
		sed -n "s/^\"$3\":\([-0-9.e+]*\)$/\1/p" | head -n1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# RSS of the ring buffer's mapping (the agent maps the BPF ring buffer's pages; they are kernel
# memory, counted once in memlock and in the RSS of every mapping)
ringbuf_rss_kb() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { m = ($6 == "anon_inode:bpf-map") } m && /^Rss:/ { s += $2 } END { print s + 0 }' \
		"/proc/$1/smaps"
}
# memlock of the agent's BPF maps (kernel memory), from its descriptors' fdinfo, KiB
maps_memlock_kb() {
	local f id seen=" " sum=0 ml
	for f in /proc/"$1"/fdinfo/*; do
		id=$(awk '$1 == "map_id:" { print $2 }' "$f" 2>/dev/null) || continue
		[ -n "$id" ] || continue
		case $seen in *" $id "*) continue ;; esac
		seen="$seen$id "
		ml=$(awk '$1 == "memlock:" { print $2 }' "$f")
		sum=$((sum + ${ml:-0}))
	done
	echo $((sum / 1024))
}
# foreign BPF programs (another engineer's agent or tracer) make a measurement suspect
nprogs() { bpftool prog show 2>/dev/null | grep -c '^[0-9]*:' || true; }

# agent_start CONFIG MODE EVENTS [args...]: sets apid; waits for the ready event. $agent_env: an
# environment assignment for the agent (ACCELGUARD_TP_ENTRY=...), or empty
agent_env=
agent_start() {
	local cfg=$1 mode=$2 ev=$3 i
	shift 3
	rm -f "$ev"
	env $agent_env taskset -c "$AGENT_CPU" "$agent" run --config "$cfg" --mode "$mode" --events "$ev" --pin-dir off "$@" \
		2>>"$log" &
	apid=$!
	for i in $(seq 1 1000); do
		grep -q '"type":"ready"' "$ev" 2>/dev/null && return 0
		kill -0 "$apid" 2>/dev/null || { say "the agent exited before ready (see $log)"; return 1; }
		sleep 0.02
	done
	say "the agent was not ready within 20 s"
	return 1
}
# agent_stop EVENTS: stops the agent; the summary line is left in $summary
summary=
agent_stop() {
	kill -INT "$apid"
	wait "$apid" || say "the agent exited with status $?"
	apid=
	summary=$(grep '"type":"summary"' "$1" | tail -n1)
	[ -n "$summary" ] || say "no summary in $1"
}

micro_args=(--cpu "$BENCH_CPU" --file "$work/file" --devnode "$work/zero" --accel "$work/accel0"
	--cgroup "$cgr/a")
workloads=(open-file open-dev ioctl-pipe ioctl-accel getppid read-file read-dev read-accel)
[ -z "$wl_list" ] || read -r -a workloads <<< "$wl_list"
micro_reps=7
if [ "$quick" = 1 ]; then micro_reps=3; micro_args+=(--rep-ms 20 --warmup-ms 20); fi
micro_args+=(--reps "$micro_reps")
# micro LABEL: one pass of the workloads, appended to raw/micro.tsv
micro() {
	local n0 n1
	n0=$(nprogs)
	"$agbench" micro --label "$1" "${micro_args[@]}" "${workloads[@]}" > "$work/micro.out"
	n1=$(nprogs)
	grep -v '^#' "$work/micro.out" | sed "s/\$/\t$n0\t$n1/" >> "$out/raw/micro.tsv"
	cat "$work/micro.out" >> "$log"
}
ops_of() { awk -v l="$1" -v w="$2" -F'\t' '$1 == l && $2 == w { x = $11 } END { print x }' "$out/raw/micro.tsv"; }

cat > "$work/micro.yaml" <<EOF
mode: audit
tenants: ["/$tag/*"]
devices: [{class: test-null, major: 1, minor: 3}]
allocations: [{cgroup: /$tag/a, devices: ["1:3"]}]
EOF

read -r dmaj dmin < <(stat -c '%t %T' "$work/accel0")
accel_dev=$(printf '0x%x' $(((0x$dmaj << 20) | 0x$dmin))) # the kernel's dev_t: major << 20 | minor
# bpftrace: what a user would write to watch the same accesses the same way (device number of the
# file behind the descriptor, counted in kernel maps): opens, ioctls, and the read, write and mmap
# syscalls accelguard judges too. This kernel has no kprobes and no BPF trampolines (kfunc), so it
# hooks the syscall tracepoints, as accelguard's tier 3 does.
cat > "$work/accel.bt" <<EOF
tracepoint:syscalls:sys_enter_ioctl {
	\$fdt = curtask->files->fdt;
	if (args->fd < \$fdt->max_fds) {
		\$f = *(\$fdt->fd + args->fd);
		if (\$f != 0 && \$f->f_inode->i_rdev == $accel_dev) { @ioctl[cgroup, pid, comm, args->cmd] = count(); }
	}
}
tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_write,
tracepoint:syscalls:sys_enter_pread64, tracepoint:syscalls:sys_enter_pwrite64,
tracepoint:syscalls:sys_enter_readv, tracepoint:syscalls:sys_enter_writev,
tracepoint:syscalls:sys_enter_preadv, tracepoint:syscalls:sys_enter_pwritev,
tracepoint:syscalls:sys_enter_preadv2, tracepoint:syscalls:sys_enter_pwritev2,
tracepoint:syscalls:sys_enter_mmap {
	\$fdt = curtask->files->fdt;
	if (args->fd < \$fdt->max_fds) {
		\$f = *(\$fdt->fd + args->fd);
		if (\$f != 0 && \$f->f_inode->i_rdev == $accel_dev) { @rw[cgroup, pid, comm, probe] = count(); }
	}
}
tracepoint:syscalls:sys_exit_openat /args->ret >= 0/ {
	\$fdt = curtask->files->fdt;
	\$f = *(\$fdt->fd + args->ret);
	if (\$f != 0 && \$f->f_inode->i_rdev == $accel_dev) { @open[cgroup, pid, comm] = count(); }
}
EOF
# the floor of a syscall-tracepoint hook: an empty BPF program on the ioctl syscall tracepoint
echo 'tracepoint:syscalls:sys_enter_ioctl { }' > "$work/floor.bt"
# bpftrace-raw: the same peer where compat syscalls run. The syscalls: tracepoints above never see
# an ia32 syscall (a 32-bit process, or int $0x80 from a 64-bit one), so a peer that watches the
# same routes as tier 3's raw entry must enter raw_syscalls:sys_enter, as accelguard does, and
# tell the two tables apart itself (TS_COMPAT in thread_info.status): x86-64's ioctl 16, read 0,
# write 1, pread64/pwrite64 17/18, readv/writev 19/20, preadv/pwritev 295/296, the v2 327/328,
# mmap 9; ia32's ioctl 54, read 3, write 4, readv/writev 145/146, pread64/pwrite64 180/181,
# preadv/pwritev 333/334, the v2 378/379, mmap2 192 (its descriptor in the fifth argument, as
# mmap's). Opens stay at sys_exit_openat, as above. tp-floor-raw: an empty program on the raw
# entry, the floor of any hook that sees every syscall table.
cat > "$work/accel-raw.bt" <<EOF
tracepoint:raw_syscalls:sys_enter
/args->id <= 20 || args->id == 54 || args->id == 145 || args->id == 146 || args->id == 180 ||
 args->id == 181 || args->id == 192 || args->id == 295 || args->id == 296 || args->id == 327 ||
 args->id == 328 || args->id == 333 || args->id == 334 || args->id == 378 || args->id == 379/ {
	\$id = args->id;
	\$op = 0;
	if (curtask->thread_info.status & 2) {
		if (\$id == 54) { \$op = 1; } else if (\$id == 192) { \$op = 3; }
		else if (\$id == 3 || \$id == 4 || \$id == 145 || \$id == 146 || \$id == 180 || \$id == 181 ||
			 \$id == 333 || \$id == 334 || \$id == 378 || \$id == 379) { \$op = 2; }
	} else {
		if (\$id == 16) { \$op = 1; } else if (\$id == 9) { \$op = 3; }
		else if (\$id <= 1 || (\$id >= 17 && \$id <= 20) || \$id == 295 || \$id == 296 ||
			 \$id == 327 || \$id == 328) { \$op = 2; }
	}
	if (\$op != 0) {
		\$fd = args->args[0];
		\$fd4 = args->args[4];
		if (\$op == 3) { \$fd = \$fd4; }
		\$fdt = curtask->files->fdt;
		if (\$fd < \$fdt->max_fds) {
			\$f = *(\$fdt->fd + \$fd);
			if (\$f != 0 && \$f->f_inode->i_rdev == $accel_dev) {
				if (\$op == 1) { @ioctl[cgroup, pid, comm, args->args[1]] = count(); }
				else { @rw[cgroup, pid, comm, \$id] = count(); }
			}
		}
	}
}
tracepoint:syscalls:sys_exit_openat /args->ret >= 0/ {
	\$fdt = curtask->files->fdt;
	\$f = *(\$fdt->fd + args->ret);
	if (\$f != 0 && \$f->f_inode->i_rdev == $accel_dev) { @open[cgroup, pid, comm] = count(); }
}
EOF
echo 'tracepoint:raw_syscalls:sys_enter { }' > "$work/floor-raw.bt"

checks=$out/raw/checks.txt
: > "$checks"
check() { # NAME EXPECTED GOT
	if [ "$2" = "$3" ]; then echo "ok   $1: $3" >> "$checks"; else echo "FAIL $1: expected $2, got $3" >> "$checks"; fi
}

# ---- micro --------------------------------------------------------------------------------------
tool_run() { # TOOL ROUND
	local t=$1 r=$2 ev=$work/ev-$1.json ops got prog
	case $t in
	audit|enforce|audit-raw|audit-syscalls|audit-before)
		local agent_now=$agent
		agent_env=
		case $t in
		*-before) [ -n "$agent_before" ] || { say "audit-before needs --agent-before"; exit 2; }
			agent=$(cd "$(dirname "$agent_before")" && pwd)/$(basename "$agent_before") ;;
		*-*) agent_env=ACCELGUARD_TP_ENTRY=${t#*-} ;;
		esac
		agent_start "$work/micro.yaml" "${t%%-*}" "$ev"
		agent=$agent_now
		agent_env=
		say "micro: $t: $(grep -o '"ioctl_program":"[a-z_0-9]*"' "$ev" | head -n1)"
		micro "$t"
		agent_stop "$ev"
		cp "$ev" "$out/raw/micro-$t-$r.json"
		ops=$(ops_of "$t" ioctl-accel | tail -n1)
		[ -z "$ops" ] || check "micro/$t/$r: kernel counted every allowed accelerator ioctl" "$ops" \
			"$(jnum "$summary" ioctl allowed)"
		ops=$(ops_of "$t" read-accel | tail -n1)
		[ -z "$ops" ] || check "micro/$t/$r: kernel counted every allowed accelerator read" "$ops" \
			"$(jnum "$summary" read allowed)"
		;;
	bpftrace|bpftrace-raw|tp-floor|tp-floor-raw)
		case $t in
		bpftrace) prog=$work/accel.bt ;;
		bpftrace-raw) prog=$work/accel-raw.bt ;;
		tp-floor) prog=$work/floor.bt ;;
		*) prog=$work/floor-raw.bt ;;
		esac
		bpftrace -B line "$prog" > "$work/bt.out" 2>&1 &
		bpid=$!
		for _ in $(seq 1 300); do grep -q '^Attaching' "$work/bt.out" && break; sleep 0.1; done
		sleep 0.5
		micro "$t"
		kill -INT "$bpid"
		wait "$bpid" || true
		bpid=
		cp "$work/bt.out" "$out/raw/micro-$t-$r.out"
		case $t in bpftrace|bpftrace-raw) ;; *) return 0 ;; esac
		ops=$(ops_of "$t" ioctl-accel)
		got=$(awk -F': ' '/^@ioctl\[.*, agbench, / { s += $2 } END { print s + 0 }' "$work/bt.out")
		[ -z "$ops" ] || check "micro/$t/$r: bpftrace counted every accelerator ioctl" "$ops" "$got"
		;;
	auditd)
		audit_on
		micro auditd
		cp "$work/audit/audit.log" "$out/raw/micro-auditd-$r.log" 2>/dev/null || true
		audit_off
		;;
	esac
}

audit_on() {
	mkdir -p "$work/audit"
	sed -e "s|^log_file *=.*|log_file = $work/audit/audit.log|" \
		-e 's|^max_log_file_action *=.*|max_log_file_action = ROTATE|' \
		/etc/audit/auditd.conf > "$work/audit/auditd.conf"
	chmod 0640 "$work/audit/auditd.conf"
	[ -n "$audit_enabled0" ] || audit_enabled0=$(auditctl -s | awk '$1 == "enabled" { print $2 }')
	# a 'never,task' rule (left by an earlier run, see audit_off) would exempt the load from audit
	if auditctl -l 2>/dev/null | grep -q '^-a never,task'; then
		audit_never=1
		auditctl -d never,task >>"$log" 2>&1
	fi
	auditd -n -c "$work/audit" >>"$log" 2>&1 &
	auditd_pid=$!
	for _ in $(seq 1 100); do
		[ "$(auditctl -s | awk '$1 == "pid" { print $2 }')" = "$auditd_pid" ] && break
		sleep 0.05
	done
	# the rule a user would write: watch the accelerator node (opens, reads, writes, attributes);
	# audit has no way to select the ioctls of one device (an ioctl rule would log every ioctl)
	auditctl -w "$work/accel0" -p rwxa -k "$audit_key" >>"$log" 2>&1
	auditctl -l >>"$log" 2>&1
}
audit_off() {
	command -v auditctl >/dev/null || return 0
	auditctl -l 2>/dev/null | grep -q -- "$audit_key" && auditctl -W "$work/accel0" -p rwxa -k "$audit_key" >/dev/null 2>&1
	if [ -n "$auditd_pid" ]; then
		kill -TERM "$auditd_pid" 2>/dev/null
		wait "$auditd_pid" 2>/dev/null
		auditd_pid=
	fi
	[ -n "$audit_enabled0" ] && auditctl -e "$audit_enabled0" >/dev/null 2>&1
	# Once audit has been enabled, the kernel gives every task made afterwards an audit context
	# and sends each of its syscalls down the audit path, enabled or not (+130 ns a getppid here),
	# until reboot. A 'never,task' rule is the one way back: new tasks get no context. It is left
	# in place on purpose (auditd's own rules start with -D, which removes it).
	if { [ "$audit_enabled0" = 0 ] || [ "$audit_never" = 1 ]; } && ! auditctl -l 2>/dev/null | grep -q '^-a never,task'; then
		auditctl -a never,task >/dev/null 2>&1
	fi
	true
}

micro_stage() { # TOOLS...
	local r t
	for r in $(seq 1 "$rounds"); do
		for t in "$@"; do
			say "micro: round $r/$rounds: baseline, then $t"
			# the programs of the previous tool are freed some time after it exits
			for _ in $(seq 1 100); do [ "$(nprogs)" -le "$progs0" ] && break; sleep 0.05; done
			micro "base-$t"
			tool_run "$t" "$r"
		done
	done
}

# The table: per workload, the baseline and each tool. A cell is the lowest of the rounds' medians
# (on a shared machine, interference only ever adds time, in steps that last a whole run), with
# the highest in brackets. Each tool is compared with its own baseline runs (the run just before
# it, in each round): the same number of samples on both sides, close in time.
# ratio = tool / its baseline, (+ns) = tool - its baseline.
micro_table() { # TOOLS...
	awk -F'\t' -v tools="$*" -v wls="${workloads[*]}" '
		function med(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ k = $1 SUBSEP $2; n[k]++
		  if (n[k] == 1 || $3 < lo[k]) lo[k] = $3
		  if (n[k] == 1 || $3 > hi[k]) hi[k] = $3 }
		END {
			nt = split(tools, T, " "); nw = split(wls, W, " ")
			printf "| workload | baseline ns/op |"
			for (i = 1; i <= nt; i++) printf " %s ns/op | %s ratio (added) |", T[i], T[i]
			printf "\n|---|---|"; for (i = 1; i <= nt; i++) printf "---|---|"; printf "\n"
			for (j = 1; j <= nw; j++) {
				w = W[j]; delete b; m = 0; bmin = 0; bmax = 0
				for (i = 1; i <= nt; i++) {
					k = "base-" T[i] SUBSEP w
					if (!n[k]) continue
					b[++m] = lo[k]
					if (m == 1 || lo[k] < bmin) bmin = lo[k]
					if (m == 1 || lo[k] > bmax) bmax = lo[k]
				}
				printf "| %s | %.0f (%.0f..%.0f) |", w, med(b, m), bmin, bmax
				for (i = 1; i <= nt; i++) {
					k = T[i] SUBSEP w; kb = "base-" T[i] SUBSEP w
					if (!n[k]) { printf " - | - |"; continue }
					printf " %.0f (%.0f) | %.2f (%+.0f ns) |", lo[k], hi[k], lo[k] / lo[kb], lo[k] - lo[kb]
				}
				printf "\n"
			}
			printf "\nns/op: the lowest of %d rounds'"'"' medians of %s repetitions (thread CPU time), the highest in brackets.\n", n[T[1] SUBSEP W[1]], reps
			printf "Each tool is compared with its own baseline runs (one just before it in each round, the same\n"
			printf "estimator); the baseline column gives the median (min..max) of those per-tool baselines.\n"
		}' reps="$micro_reps" "$out/raw/micro.tsv"
}

# The same runs, paired per round: the median over the rounds of (tool - the baseline measured just
# before it), and of (the accelerator's added ns - the pipe's) for the judging path alone. On a
# machine whose load changes from one run to the next this is steadier than the lowest of each.
micro_paired_table() { # TOOLS...
	awk -F'\t' -v tools="$*" -v wls="${workloads[*]}" '
		function med(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ k = $1 SUBSEP $2; v[k, ++n[k]] = $3 }
		END {
			nt = split(tools, T, " "); nw = split(wls, W, " ")
			printf "| workload |"; for (i = 1; i <= nt; i++) printf " %s added ns |", T[i]
			printf "\n|---|"; for (i = 1; i <= nt; i++) printf "---|"; printf "\n"
			for (j = 1; j <= nw; j++) {
				printf "| %s |", W[j]
				for (i = 1; i <= nt; i++) {
					k = T[i] SUBSEP W[j]; kb = "base-" T[i] SUBSEP W[j]; m = 0
					for (r = 1; r <= n[k] && r <= n[kb]; r++) d[++m] = v[k, r] - v[kb, r]
					if (m) printf " %+.0f |", med(d, m); else printf " - |"
				}
				printf "\n"
			}
			printf "| ioctl-accel minus ioctl-pipe |"
			for (i = 1; i <= nt; i++) {
				a = T[i] SUBSEP "ioctl-accel"; ab = "base-" T[i] SUBSEP "ioctl-accel"
				p = T[i] SUBSEP "ioctl-pipe"; pb = "base-" T[i] SUBSEP "ioctl-pipe"; m = 0
				for (r = 1; r <= n[a] && r <= n[ab] && r <= n[p] && r <= n[pb]; r++)
					d[++m] = (v[a, r] - v[ab, r]) - (v[p, r] - v[pb, r])
				if (m) printf " %+.0f |", med(d, m); else printf " - |"
			}
			printf "\n\nadded ns: the median over %d rounds of (tool - its baseline of the same round).\n", n[T[1] SUBSEP W[1]]
		}' "$out/raw/micro.tsv"
}

# ---- pipeline -----------------------------------------------------------------------------------
flood_dur=1.5
[ "$quick" = 1 ] && flood_dur=1
cat > "$work/flood.yaml" <<EOF
mode: audit
tenants: ["/$tag/*"]
devices: [{class: test-null, major: 1, minor: 3}]
allocations: [{cgroup: /$tag/a, devices: ["1:3"]}]
rate_limit: 10000000
EOF
# flood CONFIG RATE DURATION: one run; appends a row to raw/pipeline.tsv and sets f_* variables
flood() {
	local cfg=$1 rate=$2 dur=$3 ev=$shm/ev.json t0 t1 fo ops ev_lines viol supp drops kioctl sdrops lost
	agent_start "$cfg" audit "$ev"
	t0=$(cpu_ticks "$apid")
	fo=$("$agbench" flood --cpu "$BENCH_CPU" --cgroup "$cgr/b" --dev "$work/accel0" --rate "$rate" \
		--duration "$dur")
	t1=$(cpu_ticks "$apid")
	f_hwm=$(status_kb "$apid" VmHWM)
	sleep 0.3 # let the agent drain what is in the ring buffer
	agent_stop "$ev"
	ops=$(echo "$fo" | sed -n 's/.*ops=\([0-9]*\).*/\1/p')
	f_rate=$(echo "$fo" | sed -n 's/.*rate=\([0-9]*\).*/\1/p')
	f_secs=$(echo "$fo" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
	ev_lines=$(grep -c "\"type\":\"access\".*\"verdict\":\"cross_tenant\".*\"path\":\"/$tag/b\"" "$ev" || true)
	viol=$(jnum "$summary" violations total)
	supp=$(jnum "$summary" violations suppressed)
	drops=$(jnum "$summary" drops violation)
	# events the journal's sink could not queue (it did not keep up): counted, not in the file
	sdrops=$(jnum "$summary" json dropped)
	sdrops=${sdrops:-0}
	lost=$(jnum "$summary" events lost)
	kioctl=$(jnum "$summary" ioctl cross_tenant)
	f_drops=$((drops + sdrops))
	f_cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$f_secs" 'BEGIN { printf "%.0f", 100 * t / hz / s }')
	# every violation is accounted for: its own event, a counted drop, or a counted suppression;
	# the open of the node (one violation, by cgroup/dev) is the +1
	f_exact=yes
	[ "$kioctl" = "$ops" ] || f_exact="no (kernel ioctls $kioctl, generator $ops)"
	[ "$viol" = $((ops + 1)) ] || f_exact="no (violations $viol, generator $ops + 1 open)"
	[ $((ev_lines + drops + sdrops + supp)) = "$viol" ] || f_exact="no (events $ev_lines + drops $drops + sink drops $sdrops + suppressed $supp != $viol)"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$cfg")" "$rate" "$f_rate" "$ops" \
		"$ev_lines" "$drops" "$supp" "$viol" "$f_cpu" "$f_hwm" "$f_exact" "$sdrops" >> "${flood_tsv:-$out/raw/pipeline.tsv}"
	say "pipeline: $(basename "$cfg") target $rate/s: did $f_rate/s ($ops), events $ev_lines, drops $drops, sink drops $sdrops, journal lost ${lost:-?}, suppressed $supp, agent CPU $f_cpu%, HWM ${f_hwm} KiB, exact: $f_exact"
	rm -f "$ev"
}

pipeline_stage() {
	local lo=0 hi=0 r mid tries
	: > "$out/raw/pipeline.tsv"
	# the generator's own ceiling (one CPU, the tracepoint's cost included), then the goal's rate
	# and two below it
	flood "$work/flood.yaml" 0 "$flood_dur"
	for r in 250000 500000 1000000; do
		flood "$work/flood.yaml" "$r" "$flood_dur"
		if [ "$f_drops" = 0 ]; then
			[ "$f_rate" -gt "$lo" ] && lo=$f_rate
		elif [ "$hi" = 0 ] || [ "$f_rate" -lt "$hi" ]; then
			hi=$f_rate
		fi
	done
	# bisect between zero drops and drops (on the rates really achieved), 3 s a run
	if [ "$hi" != 0 ]; then
		for _ in 1 2 3; do
			mid=$(((lo + hi) / 2))
			flood "$work/flood.yaml" "$mid" 3
			if [ "$f_drops" = 0 ]; then lo=$f_rate; else hi=$f_rate; fi
		done
	fi
	# confirm over 5 s; 15 % lower each time it drops
	for tries in 1 2 3 4; do
		[ "$lo" -gt 0 ] || break
		flood "$work/flood.yaml" "$lo" 5
		[ "$f_drops" = 0 ] && break
		say "pipeline: $lo/s dropped over 5 s"
		lo=$((lo * 85 / 100))
		[ "$tries" = 4 ] && lo=0
	done
	echo "$lo" > "$out/raw/pipeline-max"
	# the default per-tenant rate limit (1000 events a second) under the same flood
	grep -v '^rate_limit' "$work/flood.yaml" > "$work/flood-default.yaml"
	flood "$work/flood-default.yaml" 0 "$flood_dur"
}

pipeline_table() {
	echo "| config | target rate/s | achieved rate/s | ioctls | violation events | drops | sink drops | suppressed | violations (kernel) | agent CPU % | agent RSS peak KiB | exact |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, ($2 == 0 ? "unpaced" : $2), $3, $4, $5, $6, ($12 == "" ? 0 : $12), $7, $8, $9, $10, $11 }' \
		"$out/raw/pipeline.tsv"
	echo
	echo "Highest rate with zero drops over 5 s: $(cat "$out/raw/pipeline-max") violation events/s (one tenant, events to a file on tmpfs; 0: none found)."
}

# ---- sinks ----------------------------------------------------------------------------------------
# Every sink the agent has, at once: the JSON lines (tmpfs), the journal (tmpfs), the metrics, and
# the Kubernetes Events and reports, whose API server (127.0.0.1:1) refuses every connection: their
# workers back off, and each event still goes through the sink (taken, read, matched to a pod:
# the flood's tenant is no pod, so none becomes an Event; the Events sink fed pods' violations is
# tests/k8s/report_flood, see BENCHMARKS.md).
sinks_cfg() {
	cat "$work/flood.yaml"
	printf 'journal:\n  dir: %s/journal\n  flush_ms: 100\n' "$shm"
	printf 'metrics:\n  listen: 127.0.0.1:0\n'
	printf 'kubernetes:\n  node_name: bench\n  podresources_socket: "off"\n  cri_socket: "off"\n'
	printf '  api_server: https://127.0.0.1:1\n  token_file: %s/token\n  ca_file: %s/ca.pem\n' "$work" "$work"
	printf '  events: on\n  reports: wgpolicyk8s\n'
}
# sinks_run RATE DURATION ROUND: one flood; a row per sink in raw/sinks.tsv
sinks_run() {
	local rate=$1 dur=$2 round=$3
	rm -rf "$shm/journal"
	flood "$work/flood-sinks.yaml" "$rate" "$dur"
	printf '%s' "$summary" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
rate, round_, got, secs, cpu = sys.argv[1:6]
for name, st in s.get("sinks", {}).items():
    print("\t".join(str(x) for x in (rate, round_, got, secs, cpu, name, st["queued"], st["written"],
          st["dropped"], st["lost"], "%.0f" % (st["written"] / float(secs)))))
' "$rate" "$round" "$f_rate" "$f_secs" "$f_cpu" >> "$out/raw/sinks.tsv"
}
sinks_stage() {
	local flood_tsv=$out/raw/sinks-flood.tsv
	: > "$out/raw/sinks.tsv"
	: > "$flood_tsv"
	echo bench > "$work/token"
	: > "$work/ca.pem"
	sinks_cfg > "$work/flood-sinks.yaml"
	for r in $(seq 1 "$rounds"); do
		sinks_run 0 3 "$r"
		sinks_run 250000 3 "$r"
	done
}
sinks_table() {
	echo "| target rate/s | sink | events/s written (median) | min | max | written (median) | dropped (median) | lost | generator rate/s (median) | agent CPU % (median) |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	python3 -c '
import statistics as st, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
order = []
for r in rows:
    k = (r[0], r[5])
    if k not in order:
        order.append(k)
for rate, name in order:
    rs = [r for r in rows if r[0] == rate and r[5] == name]
    med = lambda i: st.median(float(r[i]) for r in rs)
    print("| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
        "unpaced" if rate == "0" else rate, name, med(10), min(float(r[10]) for r in rs),
        max(float(r[10]) for r in rs), med(7), med(8), med(9), med(2), med(4)))
' "$out/raw/sinks.tsv"
	echo
	echo "Each flood 3 s, $rounds rounds; events/s written: a sink's delivered events over the flood's seconds (every event reaches every sink once; the Kubernetes sinks take each and find no pod)."
}

# ---- resources and latency ----------------------------------------------------------------------
cat > "$work/tenants.yaml" <<EOF
mode: audit
tenants: ["/$tag/t/*"]
devices: [{class: test-null, major: 1, minor: 3}]
allocations: [{cgroup: "/$tag/t/*", devices: ["1:3"]}]
EOF
# sample NAME SECONDS: the agent's CPU over SECONDS, then its memory; a row of raw/resources.tsv
sample() {
	local t0 t1
	t0=$(cpu_ticks "$apid")
	sleep "$2"
	t1=$(cpu_ticks "$apid")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" \
		"$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$2" 'BEGIN { printf "%.2f", 100 * t / hz / s }')" \
		"$(status_kb "$apid" VmRSS)" "$(status_kb "$apid" RssAnon)" "$(ringbuf_rss_kb "$apid")" \
		"$(maps_memlock_kb "$apid")" "$(status_kb "$apid" VmHWM)" >> "$out/raw/resources.tsv"
	say "resources: $1: $(tail -n1 "$out/raw/resources.tsv")"
}
wait_tenants() { # EVENTS N: until N "added" tenant events
	for _ in $(seq 1 600); do
		[ "$(grep -c '"type":"tenant","time":"[^"]*","event":"added"' "$1" || true)" -ge "$2" ] && return 0
		sleep 0.05
	done
	say "resources: the agent did not report $2 tenants in 30 s"
}

resources_stage() {
	local ev=$work/ev-res.json idle=5 t0 t1
	[ "$quick" = 1 ] && idle=2
	: > "$out/raw/resources.tsv"
	agent_start "$work/tenants.yaml" audit "$ev"
	sleep 1
	sample "idle, no tenants" "$idle"
	"$agbench" mkcg "$cgr/t" 0 1000 >> "$log"
	wait_tenants "$ev" 1000
	sleep 1
	sample "idle, 1,000 tenants" "$idle"
	"$agbench" mkcg "$cgr/t" 1000 10000 >> "$log"
	wait_tenants "$ev" 10000
	sleep 1
	sample "idle, 10,000 tenants" "$idle"
	agent_stop "$ev"
	echo "$summary" > "$out/raw/resources-summary.json"
	# start-up with the 10,000 cgroups already there (the scan), then idle
	t0=$(date +%s%N)
	agent_start "$work/tenants.yaml" audit "$ev"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000)) > "$out/raw/startup-ms"
	sleep 1
	sample "idle, 10,000 tenants found at start" "$idle"
	agent_stop "$ev"
	"$agbench" rmcg "$cgr/t" 0 10000 >> "$log"
	# the same start-up with no tenant cgroups
	t0=$(date +%s%N)
	agent_start "$work/tenants.yaml" audit "$ev"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000)) > "$out/raw/startup0-ms"
	agent_stop "$ev"
}

resources_table() {
	local s
	echo "| agent state | CPU % of one core | RSS KiB | of which heap/anon KiB | of which ring-buffer mapping KiB | BPF maps memlock KiB (kernel) | RSS peak KiB |"
	echo "|---|---|---|---|---|---|---|"
	awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$out/raw/resources.tsv"
	[ -s "$out/raw/pipeline.tsv" ] &&
		awk -F'\t' -v m="$(cat "$out/raw/pipeline-max" 2>/dev/null)" '$1 == "flood.yaml" && $2 == m { r = $0 }
			END { if (r != "") { split(r, f, "\t"); printf "| under the flood, %s violation events/s (pipeline) | %s | - | - | - | - | %s |\n", f[3], f[9], f[10] } }' \
			"$out/raw/pipeline.tsv"
	echo
	echo "Start-up to ready: $(cat "$out/raw/startup0-ms" 2>/dev/null) ms with no tenant cgroup, $(cat "$out/raw/startup-ms" 2>/dev/null) ms with 10,000 (scan)."
	s=$(cat "$out/raw/resources-summary.json" 2>/dev/null || true)
	[ -n "$s" ] && echo "Policy latency of the 10,000 cgroups made in bursts (mkdir as fast as possible, 1,000 then 9,000): samples $(jnum "$s" latency_us samples), p50 $(jnum "$s" latency_us p50) us, p99 $(jnum "$s" latency_us p99) us, max $(jnum "$s" latency_us max) us."
	true
}

latency_stage() {
	local ev=$work/ev-lat.json n=500
	[ "$quick" = 1 ] && n=100
	agent_start "$work/tenants.yaml" audit "$ev"
	"$agbench" mkcg "$cgr/t" 0 "$n" 5000 >> "$log"
	wait_tenants "$ev" "$n"
	agent_stop "$ev"
	"$agbench" rmcg "$cgr/t" 0 "$n" >> "$log"
	echo "$summary" > "$out/raw/latency-summary.json"
	say "latency: $(printf '%s' "$summary" | grep -o '"latency_us":{[^}]*}')"
}
latency_table() {
	local s
	s=$(cat "$out/raw/latency-summary.json")
	echo "| tenant cgroups made | p50 us | p99 us | max us |"
	echo "|---|---|---|---|"
	echo "| $(jnum "$s" latency_us samples), 5 ms apart | $(jnum "$s" latency_us p50) | $(jnum "$s" latency_us p99) | $(jnum "$s" latency_us max) |"
}

# ---- run ----------------------------------------------------------------------------------------
: > "$out/raw/micro.tsv"
say "machine: $(nproc) CPUs, $(uname -r), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); load CPU $BENCH_CPU, agent CPU $AGENT_CPU"
progs0=$(nprogs)
say "BPF programs on the machine before the run: $progs0"
say "tier: $("$agent" probe --json 2>/dev/null | sed -n 's/.*"tier":"\([a-z_]*\)".*/\1/p')"
for s in $stages; do
	start=$SECONDS
	case $s in
	micro) micro_stage $micro_tools ;;
	pipeline) pipeline_stage ;;
	sinks) sinks_stage ;;
	resources) resources_stage ;;
	latency) latency_stage ;;
	auditd) micro_stage auditd
		# what enabling audit leaves behind for every task made afterwards
		micro "after-auditd" ;;
	*) echo "bench: unknown stage $s" >&2; exit 2 ;;
	esac
	say "stage $s: $((SECONDS - start)) s"
done

{
	echo "# accelguard benchmarks: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "Machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), tier $("$agent" probe --json 2>/dev/null | sed -n 's/.*"tier":"\([a-z_]*\)".*/\1/p'). Load pinned to CPU $BENCH_CPU."
	echo
	if [ -s "$out/raw/micro.tsv" ]; then
		echo "## Cost per operation"
		echo
		tools=
		for t in audit-before audit audit-raw audit-syscalls enforce bpftrace bpftrace-raw auditd tp-floor tp-floor-raw; do grep -q "^$t	" "$out/raw/micro.tsv" && tools="$tools $t"; done
		micro_table $tools
		echo
		micro_paired_table $tools
		if grep -q '^after-auditd' "$out/raw/micro.tsv"; then
			echo
			echo "After auditd was stopped, its watch removed and 'never,task' set (see BENCHMARKS.md), a new process measures:"
			awk -F'\t' '$1 == "after-auditd" { printf "%s %.0f ns; ", $2, $3 } END { print "" }' "$out/raw/micro.tsv"
		fi
		if awk -F'\t' -v p="$progs0" '$13 != $14 || ($1 ~ /^base/ && $13 != p)' "$out/raw/micro.tsv" | grep -q .; then
			echo
			echo "Warning: the number of BPF programs on the machine changed during some runs (someone else's tracer or agent): see raw/micro.tsv columns 12-13."
		fi
		echo
	fi
	if [ -s "$out/raw/pipeline.tsv" ]; then
		echo "## Event pipeline"
		echo
		pipeline_table
		echo
	fi
	if [ -s "$out/raw/sinks.tsv" ]; then
		echo "## Events per second to each sink"
		echo
		sinks_table
		echo
	fi
	if [ -s "$out/raw/resources.tsv" ]; then
		echo "## Agent resources"
		echo
		resources_table
		echo
	fi
	if [ -s "$out/raw/latency-summary.json" ]; then
		echo "## Policy latency"
		echo
		latency_table
		echo
	fi
	echo "## Exactness checks"
	echo
	sed 's/^/    /' "$checks"
} > "$res"
cat "$res"
! grep -q '^FAIL' "$checks"
