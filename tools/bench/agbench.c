// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agbench: the load side of accelguard's benchmarks (tools/bench/run.sh drives it).
 *
 *   agbench micro [OPTIONS] WORKLOAD...     ns per operation: pinned CPU, warm-up, repetitions,
 *                                           median and spread
 *   agbench flood [OPTIONS]                 ioctls on a device at a paced rate (violation load)
 *   agbench mkcg DIR FROM TO [INTERVAL_US]  make DIR/tFROM..DIR/t{TO-1}, paced; prints the time
 *   agbench rmcg DIR FROM TO                remove them again
 *
 * micro workloads:
 *   open-file    open(2)+close(2) of --file (a regular file)
 *   open-dev     open(2)+close(2) of --devnode (a device node that is no accelerator)
 *   ioctl-pipe   ioctl(FIONREAD) on a pipe (a descriptor that is no accelerator)
 *   ioctl-accel  ioctl(FIONREAD) on --accel (an accelerator descriptor, opened once)
 *   getppid      getppid(2): a syscall that touches no file
 *   read-file    pread(2) of 64 bytes at offset 0 of --file (a descriptor that is no device)
 *   read-dev     read(2) of 64 bytes from --devnode (a character device that is no accelerator)
 *   read-accel   read(2) of 64 bytes from --accel (an accelerator descriptor, opened once)
 *   write-file   pwrite(2) of 64 bytes at offset 0 of --file
 *   write-dev    write(2) of 64 bytes to --devnode (/dev/zero discards them)
 *
 * Time is the thread's own CPU time (CLOCK_THREAD_CPUTIME_ID) by default: on a shared machine
 * another process that takes the CPU away inflates wall time, not CPU time; the kernel's work in
 * the syscall (BPF programs, audit) runs in the thread and is counted. --clock wall uses
 * CLOCK_MONOTONIC instead; both are printed.
 *
 * Output, one line per workload, tab-separated, after a '#' header line:
 *   workload ns_median ns_min ns_max ns_q1 ns_q3 wall_median reps iters_per_rep ops errors
 * ops counts every operation issued (warm-up included), so a kernel counter can be checked
 * against it exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "agbench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t s;

	if (cpu < 0)
		return;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s))
		die("cannot pin to CPU %s", strerror(errno));
}

/* Move this process into a cgroup (v2 directory) before the load starts. */
static void join_cgroup(const char *dir)
{
	char p[4096], pid[32];
	int fd, n;

	if (!dir)
		return;
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("cannot open %s", p);
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write(fd, pid, n) != n)
		die("cannot join cgroup %s", dir);
	close(fd);
}

/* ---- workloads ----------------------------------------------------------------------------- */

struct wl {
	const char *name;
	int (*op)(struct wl *w); /* 0, or -1 when the operation failed */
	const char *path;
	int fd;
	int fd2;
};

static int op_open(struct wl *w)
{
	int fd = open(w->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int op_ioctl(struct wl *w)
{
	int n;

	/* /dev/null answers ENOTTY, a pipe 0: the syscall and the hooks run the same either way */
	ioctl(w->fd, FIONREAD, &n);
	return 0;
}

static int op_read(struct wl *w)
{
	char buf[64];

	/* pread at 0: the same bytes each time, whatever the file's size */
	return pread(w->fd, buf, sizeof(buf), 0) < 0 ? -1 : 0;
}

static int op_read_dev(struct wl *w)
{
	char buf[64];

	return read(w->fd, buf, sizeof(buf)) < 0 ? -1 : 0;
}

static int op_write(struct wl *w)
{
	char buf[64] = "accelguard";

	return pwrite(w->fd, buf, sizeof(buf), 0) < 0 ? -1 : 0;
}

static int op_write_dev(struct wl *w)
{
	char buf[64] = "accelguard";

	return write(w->fd, buf, sizeof(buf)) < 0 ? -1 : 0;
}

static int op_getppid(struct wl *w)
{
	return syscall(SYS_getppid) > 0 ? 0 : -1;
}

static void wl_setup(struct wl *w, const char *file, const char *devnode, const char *accel)
{
	int p[2];

	w->fd = w->fd2 = -1;
	if (!strcmp(w->name, "open-file") || !strcmp(w->name, "open-dev")) {
		w->op = op_open;
		w->path = w->name[5] == 'f' ? file : devnode;
		if (!w->path)
			die("%s needs its path (--file / --devnode)", w->name);
		if (op_open(w))
			die("cannot open the path of %s", w->name);
	} else if (!strcmp(w->name, "ioctl-pipe")) {
		w->op = op_ioctl;
		if (pipe(p))
			die("pipe: %s", strerror(errno));
		w->fd = p[0];
		w->fd2 = p[1];
	} else if (!strcmp(w->name, "ioctl-accel")) {
		w->op = op_ioctl;
		if (!accel)
			die("%s needs --accel", w->name);
		w->fd = open(accel, O_RDONLY | O_CLOEXEC);
		if (w->fd < 0)
			die("cannot open the accelerator node %s", accel);
	} else if (!strcmp(w->name, "getppid")) {
		w->op = op_getppid;
	} else if (!strcmp(w->name, "read-file") || !strcmp(w->name, "read-dev") ||
		   !strcmp(w->name, "read-accel")) {
		const char *path = w->name[5] == 'f' ? file : w->name[5] == 'd' ? devnode : accel;

		w->op = w->name[5] == 'f' ? op_read : op_read_dev;
		if (!path)
			die("%s needs its path (--file / --devnode / --accel)", w->name);
		w->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (w->fd < 0)
			die("cannot open the path of %s", w->name);
	} else if (!strcmp(w->name, "write-file") || !strcmp(w->name, "write-dev")) {
		const char *path = w->name[6] == 'f' ? file : devnode;

		w->op = w->name[6] == 'f' ? op_write : op_write_dev;
		if (!path)
			die("%s needs its path (--file / --devnode)", w->name);
		w->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (w->fd < 0)
			die("cannot open the path of %s for writing", w->name);
	} else {
		die("unknown workload '%s' (open-file open-dev ioctl-pipe ioctl-accel getppid read-file "
		    "read-dev read-accel write-file write-dev)",
		    w->name);
	}
}

static void wl_teardown(struct wl *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->fd2 >= 0)
		close(w->fd2);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Quantile of a sorted array, linear interpolation. */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	if (i >= n - 1)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

static int cmd_micro(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cpu", required_argument, NULL, 'C' },
		{ "reps", required_argument, NULL, 'r' },
		{ "rep-ms", required_argument, NULL, 'R' },
		{ "warmup-ms", required_argument, NULL, 'W' },
		{ "clock", required_argument, NULL, 'k' },
		{ "file", required_argument, NULL, 'f' },
		{ "devnode", required_argument, NULL, 'd' },
		{ "accel", required_argument, NULL, 'a' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "label", required_argument, NULL, 'l' },
		{ 0 },
	};
	const char *file = NULL, *devnode = NULL, *accel = NULL, *cgroup = NULL, *label = NULL;
	int cpu = -1, reps = 7, rep_ms = 40, warmup_ms = 50, c;
	bool wall = false;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'C': cpu = atoi(optarg); break;
		case 'r': reps = atoi(optarg); break;
		case 'R': rep_ms = atoi(optarg); break;
		case 'W': warmup_ms = atoi(optarg); break;
		case 'k': wall = !strcmp(optarg, "wall"); break;
		case 'f': file = optarg; break;
		case 'd': devnode = optarg; break;
		case 'a': accel = optarg; break;
		case 'g': cgroup = optarg; break;
		case 'l': label = optarg; break;
		default: return 2;
		}
	}
	if (reps < 1 || reps > 1000 || rep_ms < 1 || warmup_ms < 1)
		die("%s", "bad --reps / --rep-ms / --warmup-ms");
	join_cgroup(cgroup);
	pin(cpu);
	printf("#%sworkload\tns_median\tns_min\tns_max\tns_q1\tns_q3\twall_median\treps\titers\tops\terrors\n",
	       label ? "label\t" : "");
	for (int i = optind; i < argc; i++) {
		struct wl w = { .name = argv[i] };
		double cpu_ns[1000], wall_ns[1000];
		uint64_t t0, ops = 0, errors = 0, iters, done;

		wl_setup(&w, file, devnode, accel);
		/* warm-up (caches, branch predictors, first-sighting events), then calibrate: one
		 * repetition is rep_ms of CPU at the warm-up's pace */
		t0 = now_ns(CLOCK_MONOTONIC);
		done = 0;
		while (now_ns(CLOCK_MONOTONIC) - t0 < (uint64_t)warmup_ms * 1000000ull) {
			for (int k = 0; k < 256; k++)
				errors += w.op(&w) != 0;
			done += 256;
		}
		ops += done;
		iters = done * rep_ms / warmup_ms;
		if (iters < 1000)
			iters = 1000;
		for (int r = 0; r < reps; r++) {
			uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);

			for (uint64_t k = 0; k < iters; k++)
				errors += w.op(&w) != 0;
			wall_ns[r] = (double)(now_ns(CLOCK_MONOTONIC) - w0) / iters;
			cpu_ns[r] = (double)(now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / iters;
			ops += iters;
		}
		wl_teardown(&w);
		{
			double *v = wall ? wall_ns : cpu_ns, *o = wall ? cpu_ns : wall_ns;

			qsort(v, reps, sizeof(double), cmp_double);
			qsort(o, reps, sizeof(double), cmp_double);
			if (label)
				printf("%s\t", label);
			printf("%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%llu\t%llu\t%llu\n", w.name,
			       quantile(v, reps, 0.5), v[0], v[reps - 1], quantile(v, reps, 0.25),
			       quantile(v, reps, 0.75), quantile(o, reps, 0.5), reps,
			       (unsigned long long)iters, (unsigned long long)ops,
			       (unsigned long long)errors);
			fflush(stdout);
		}
	}
	return 0;
}

/* ---- flood: a paced stream of ioctls on a device (violations when run from a tenant without
 * that device) ------------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	stop_flag = 1;
}

static int cmd_flood(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "op", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *dev = NULL, *cgroup = NULL, *op = "ioctl";
	double rate = 0, duration = 1;
	int cpu = -1, c, fd = -1, n;
	uint64_t ops = 0, fails = 0, t0, end, el;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 't': duration = atof(optarg); break;
		case 'C': cpu = atoi(optarg); break;
		case 'g': cgroup = optarg; break;
		case 'o': op = optarg; break;
		default: return 2;
		}
	}
	if (!dev)
		die("%s", "flood needs --dev");
	if (strcmp(op, "ioctl") && strcmp(op, "open"))
		die("--op is ioctl or open, not %s", op);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	join_cgroup(cgroup);
	pin(cpu);
	if (!strcmp(op, "ioctl")) {
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("cannot open %s", dev);
		/* the open above is one operation the kernel sees too */
	}
	t0 = now_ns(CLOCK_MONOTONIC);
	end = t0 + (uint64_t)(duration * 1e9);
	for (;;) {
		uint64_t t = now_ns(CLOCK_MONOTONIC);

		if (t >= end || stop_flag)
			break;
		if (rate > 0) {
			/* ahead of the schedule: wait; batches of 64 keep the clock out of the cost */
			double due = (double)(t - t0) * rate / 1e9;

			if ((double)ops > due + 64) {
				struct timespec ts = { 0, 20000 };

				nanosleep(&ts, NULL);
				continue;
			}
		}
		for (int k = 0; k < 64; k++) {
			if (fd >= 0) {
				ioctl(fd, FIONREAD, &n);
			} else {
				int f = open(dev, O_RDONLY | O_CLOEXEC);

				if (f >= 0)
					close(f);
				else
					fails++;
			}
		}
		ops += 64;
	}
	el = now_ns(CLOCK_MONOTONIC) - t0;
	if (fd >= 0)
		close(fd);
	printf("ops=%llu seconds=%.3f rate=%.0f failed=%llu\n", (unsigned long long)ops, el / 1e9,
	       ops / (el / 1e9), (unsigned long long)fails);
	return 0;
}

/* ---- tenant cgroups ------------------------------------------------------------------------ */

static int cmd_cg(int argc, char **argv, bool make)
{
	char p[4096];
	long from, to, interval_us, failed = 0;
	uint64_t t0;

	if (argc < 4)
		die("%s", "usage: agbench mkcg|rmcg DIR FROM TO [INTERVAL_US]");
	from = atol(argv[2]);
	to = atol(argv[3]);
	interval_us = argc > 4 ? atol(argv[4]) : 0;
	t0 = now_ns(CLOCK_MONOTONIC);
	for (long i = from; i < to; i++) {
		snprintf(p, sizeof(p), "%s/t%ld", argv[1], i);
		if (make ? mkdir(p, 0755) : rmdir(p))
			failed++;
		if (interval_us > 0) {
			struct timespec ts = { interval_us / 1000000, (interval_us % 1000000) * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	printf("%s=%ld failed=%ld seconds=%.3f\n", make ? "made" : "removed", to - from - failed,
	       failed, (now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: agbench micro|flood|mkcg|rmcg ... (see the source's header)\n");
		return 2;
	}
	if (!strcmp(argv[1], "micro"))
		return cmd_micro(argc - 1, argv + 1);
	if (!strcmp(argv[1], "flood"))
		return cmd_flood(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mkcg"))
		return cmd_cg(argc - 1, argv + 1, true);
	if (!strcmp(argv[1], "rmcg"))
		return cmd_cg(argc - 1, argv + 1, false);
	fprintf(stderr, "agbench: unknown command %s\n", argv[1]);
	return 2;
}
