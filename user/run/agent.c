// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "run.h"
#include "cgroups.h"
#include "devices.h"
#include "hostns.h"
#include "ioctl_names.h"
#include "jsonw.h"
#include "k8s/k8s.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "names.h"
#include "metrics.h"
#include "pins.h"
#include "policy.h"
#include "procscan.h"
#include "sink.h"
#include "startup.h"
#include "journal.h"
#include "evidence_http.h"
#include "event.h"
#include "control.h"
#include "selftest.h"
#include "util.h"
#include "verdict.h"
#include "vfio.h"

#define AG_PROCDEV_POLL_MS 500 /* the /proc/devices watch */
#define AG_SINK_EXIT_MS 2000     /* how long the exit waits for a sink to write what it holds */

/* ---- metrics -------------------------------------------------------------------------------- */

static int start_metrics(struct agent *a)
{
	struct ag_metrics_opts mo = { .listen = a->cfg.metrics.listen,
				      .pod_labels = a->cfg.metrics.pod_labels,
				      .max_series = a->cfg.metrics.max_series };
	char err[256];

	if (mo.listen && !strcmp(mo.listen, "off"))
		return 0;
	if (a->cfg.metrics.evidence) {
		if (!a->o->config || !a->cfg.journal.present) {
			ag_err("metrics.evidence: /evidence.tar.gz builds its bundle from the journal: "
			       "the configuration needs a journal: section");
			return -EINVAL;
		}
		a->evhttp = ag_evidence_http_new(a->o->config, a->cfg.metrics.evidence_hours);
		if (!a->evhttp)
			return -ENOMEM;
		mo.evidence = ag_evidence_http_reply;
		mo.evidence_ctx = a->evhttp;
	}
	a->metrics = ag_metrics_new(&mo, err, sizeof(err));
	if (!a->metrics) {
		int e = errno;

		/* the default port taken (another agent on this host) is worth a warning; an
		 * address the configuration names, an error */
		ag_log(mo.listen || e == EINVAL ? AG_LOG_ERROR : AG_LOG_WARN,
		       "metrics: %s (metrics.listen in %s; off turns the endpoint off)%s", err,
		       a->o->config ? a->o->config : "the configuration",
		       e == EINVAL ? "" : "; running without /metrics, /healthz and /readyz");
		/* a bad address is a bad configuration; a taken port must not stop enforcement */
		return e == EINVAL ? -e : 0;
	}
	ag_info("metrics: /metrics, /healthz, /readyz on %s (port %u)",
		mo.listen ? mo.listen : AG_METRICS_LISTEN, ag_metrics_port(a->metrics));
	return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int open_output(struct agent *a)
{
	const char *p = a->o->events;
	int fd, r;

	if (!p || !strcmp(p, "-")) {
		fd = STDOUT_FILENO;
	} else {
		fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0) {
			ag_err("events: cannot open %s: %s", p, strerror(errno));
			return -errno;
		}
	}
	a->sinks = ag_sinks_new();
	r = a->sinks ? ag_sinks_add_json(a->sinks, fd, fd == STDOUT_FILENO ? "stdout" : p, 0)
		     : -ENOMEM;
	if (r) {
		if (fd > STDERR_FILENO)
			close(fd);
		ag_err("events: cannot start the event writer: %s", strerror(-r));
		return r;
	}
	if (a->metrics && (r = ag_metrics_add_sink(a->metrics, a->sinks))) {
		ag_err("metrics: cannot start the counting sink: %s", strerror(-r));
		return r;
	}
	return ag_journal_start(a->sinks, &a->cfg);
}

static int add_epoll(struct agent *a, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* A CLOCK_MONOTONIC timerfd, armed with its; 0 or -errno (*fd is -1 or the fd, closed by
 * teardown). */
static int add_timer(int *fd, struct itimerspec its)
{
	*fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*fd < 0)
		return -errno;
	return timerfd_settime(*fd, 0, &its, NULL) ? -errno : 0;
}

/* Step: the configuration (none: audit, no tenants), the mode. */
static int load_config(struct agent *a)
{
	char err[1024];
	int r;

	if (!a->o->config) {
		a->cfg.rate_limit = 1000;
	} else {
		r = ag_config_load(a->o->config, &a->cfg, err, sizeof(err));
		if (r) {
			ag_err("config: %s", err);
			return r;
		}
		a->cfg_loaded = true;
	}
	a->mode = a->o->mode >= 0 ? a->o->mode : a->cfg.mode;
	return 0;
}

/* host.proc or host.sys: a directory, or an error naming the setting, its path and the cause */
static int check_host_dir(const struct agent *a, const char *key, const char *path,
			  const char *expected)
{
	struct stat st;
	int r = stat(path, &st) ? -errno : !S_ISDIR(st.st_mode) ? -ENOTDIR : 0;

	if (r)
		ag_err("config: %s: %s: %s: %s (expected %s)", a->cfg.path, key, path,
		       r == -ENOTDIR ? "not a directory" : strerror(-r), expected);
	return r;
}

/* Step: the host as the agent sees it: its cgroup namespace and cgroup2 mount, its /proc and
 * sysfs (host.proc, host.sys). */
static int find_host(struct agent *a)
{
	int r, n;

	/* before any thread: cgroup paths relative to the host's root, also in a pod */
	r = ag_join_host_cgroupns(NULL);
	if (r < 0)
		return r;
	r = ag_cgroup2_mount(a->cgroup2, sizeof(a->cgroup2));
	if (r) {
		ag_err("cgroup: no cgroup2 file system is mounted (%s); accelguard identifies tenants by "
		       "their cgroup v2 id, and on a node whose containers live in cgroup v1 only every "
		       "process would look like the host. Mount the unified hierarchy (cgroup2).",
		       strerror(-r));
		return r;
	}
	snprintf(a->procdev, sizeof(a->procdev), "/proc/devices");
	if (a->cfg.host.proc) {
		r = check_host_dir(a, "host.proc", a->cfg.host.proc,
				   "the host's /proc, a directory holding devices and driver/");
		if (r)
			return r;
		n = snprintf(a->procdev, sizeof(a->procdev), "%s/devices", a->cfg.host.proc);
		if (n < 0 || (size_t)n >= sizeof(a->procdev)) {
			ag_err("config: %s: host.proc: %.200s...: longer than %zu bytes", a->cfg.path,
			       a->cfg.host.proc, sizeof(a->procdev) - sizeof("/devices"));
			return -ENAMETOOLONG;
		}
	}
	if (a->cfg.host.sys)
		return check_host_dir(a, "host.sys", a->cfg.host.sys,
				      "the host's sysfs, a directory holding class/ and kernel/");
	return 0;
}

/* Step: the BPF programs and maps, loaded and attached (or adopted from the pins). */
static int load_bpf(struct agent *a)
{
	struct ag_load_opts lo = { 0 };

	lo.enforce = a->mode == AG_MODE_ENFORCE;
	lo.unresolved_deny = a->cfg.unresolved_deny;
	lo.rate_limit = a->cfg.rate_limit;
	lo.policy_entries = a->o->max_cgroups;
	lo.ringbuf_bytes = a->o->ringbuf_kb * 1024;
	lo.force_tier = a->o->force_tier;
	lo.arrival = a->cfg.reads == AG_READS_ARRIVAL;
	if (!ag_pins_open(&a->pins, a->o->pin_dir ? a->o->pin_dir : a->cfg.pin_dir, lo.enforce))
		lo.pins = &a->pins;
	return ag_bpf_start(&a->bpf, &lo, a->cgroup2);
}

/* Step: the user-space copy of the kernel's tables, the device classes written into them. */
static int init_maps(struct agent *a)
{
	struct accelguard_bpf *k = a->bpf.skel;
	struct ag_maps_fds fds = {
		.policy = bpf_map__fd(k->maps.policy), .owners = bpf_map__fd(k->maps.owners),
		.accel_devices = bpf_map__fd(k->maps.accel_devices),
		.counters = bpf_map__fd(k->maps.counters), .viol = bpf_map__fd(k->maps.viol),
		.drops = bpf_map__fd(k->maps.drops), .totals = bpf_map__fd(k->maps.totals),
		.policy_gen = bpf_map__fd(k->maps.policy_gen),
		.vcache = bpf_map__fd(k->maps.vcache),
	};
	int r = ag_maps_init(&a->maps, &fds);

	if (r)
		return ag_err_errno(r, "maps: cannot make the user-space copy of the kernel's tables");
	a->maps_ready = true;
	/* what the device table was built from: the watch compares with it */
	ag_maps_procdev_changed(&a->maps, a->procdev);
	r = ag_maps_accel_sync(&a->maps, &a->dt, NULL);
	if (r < 0)
		ag_err("devices: cannot fill the accel_devices map: %s", strerror(-r));
	return r < 0 ? r : 0;
}

/* the Kubernetes source and its sinks (Events, reports) */
static int add_kubernetes(struct agent *a)
{
	struct ag_k8s_options ko;
	char err[1024];
	int r;

	ag_k8s_options_from_config(&a->cfg, &ko);
	a->k8s = ag_k8s_source_new(&ko, a->notifyfd, err, sizeof(err));
	if (!a->k8s) {
		r = errno ? -errno : -EINVAL;
		ag_err("kubernetes: %s", err);
		return r;
	}
	r = ag_policy_add_source(&a->db, a->k8s);
	if (r)
		return ag_err_errno(r, "policy: cannot add the kubernetes source");
	r = ag_k8s_sinks_add(a->sinks, &a->cfg, &a->k8s_sinks, err, sizeof(err));
	if (r)
		ag_err("%s", err);
	return r;
}

/* Step: the policy table and its sources: Kubernetes first (its answer for a pod's cgroups
 * wins; the configuration's tenants, allocations and exemptions still apply to everything
 * else), the self-test's reserved root (selftest.h), then the configuration. */
static int init_policy(struct agent *a)
{
	struct ag_source *src;
	int r = ag_policy_init(&a->db, &a->cfg, &a->dt, &a->maps);

	if (r)
		return ag_err_errno(r, "policy: cannot make its tables");
	a->db_ready = true;
	a->db.on_resolved = ag_events_on_resolved;
	a->db.on_full = ag_events_on_policy_full;
	a->db.on_revoked = ag_arrival_on_revoked;
	a->db.cgroup2 = a->cgroup2;
	a->db.cb_ctx = a;
	a->notifyfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->notifyfd < 0)
		return ag_err_errno(errno, "agent: eventfd (the sources' notifications)");
	if (a->cfg.kubernetes.present && (r = add_kubernetes(a)))
		return r;
	src = ag_selftest_source_new();
	if (!src)
		return ag_err_errno(ENOMEM, "policy: cannot make the selftest source");
	r = ag_policy_add_source(&a->db, src);
	if (r)
		return ag_err_errno(r, "policy: cannot add the selftest source");
	src = ag_config_source_new(&a->cfg);
	if (!src)
		return ag_err_errno(ENOMEM, "policy: cannot make the configuration's source");
	r = ag_policy_add_source(&a->db, src);
	if (r)
		return ag_err_errno(r, "policy: cannot add the configuration's source");
	return 0;
}

/* Step: the ring buffer, the sources' first snapshot, the scan of the cgroups made before. */
static int open_events(struct agent *a)
{
	int r;

	a->rb = ring_buffer__new(bpf_map__fd(a->bpf.skel->maps.events), ag_events_on_sample, a,
				 NULL);
	if (!a->rb)
		return ag_err_errno(errno, "events: cannot set up the ring buffer");
	/* the first snapshot of the sources before anything is judged (startup.h) */
	ag_startup_wait_first(a->k8s);
	/* the lifecycle programs are attached: every cgroup made from now on is reported, and the
	 * scan finds the ones made before (preexisting: never denied for being unresolved) */
	a->db.starting = true;
	r = ag_policy_scan(&a->db, a->cgroup2);
	a->db.starting = false;
	if (r)
		ag_warn("cgroup: the scan of %s stopped early: %s", a->cgroup2, strerror(-r));
	ag_events_present(a);
	return 0;
}

/* Step: the loop's one epoll: the ring buffer, signals, the 1 s timer, the /proc/devices poll,
 * the sources' notifications; then the control socket on it. */
static int open_loop(struct agent *a)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	sigset_t mask;
	int r;

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0)
		return ag_err_errno(errno, "agent: epoll_create1");
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	a->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sigfd < 0)
		return ag_err_errno(errno, "agent: signalfd (SIGINT, SIGTERM)");
	r = add_timer(&a->timerfd, its);
	if (r)
		return ag_err_errno(r, "agent: timerfd (the 1 s timer)");
	its.it_interval = its.it_value = (struct timespec){ 0, AG_PROCDEV_POLL_MS * 1000000L };
	r = add_timer(&a->devfd, its);
	if (r)
		return ag_err_errno(r, "agent: timerfd (the %d ms poll of %s)", AG_PROCDEV_POLL_MS,
				    a->procdev);
	const struct {
		int fd;
		const char *what;
	} polled[] = {
		{ a->devfd, "the /proc/devices poll" },
		{ ring_buffer__epoll_fd(a->rb), "the ring buffer" },
		{ a->sigfd, "the signals" },
		{ a->timerfd, "the 1 s timer" },
		{ a->notifyfd, "the sources' notifications" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(polled); i++) {
		r = add_epoll(a, polled[i].fd);
		if (r)
			return ag_err_errno(r, "agent: epoll_ctl (%s)", polled[i].what);
	}
	a->selftest = ag_selftest_svc_new(&a->cfg, a->o->config, &a->db, a->epfd,
					  ag_events_selftest, a);
	return 0;
}

/* Set-up, in steps; each step logs its own error. 0 or -errno (teardown() undoes what was done). */
static int setup(struct agent *a)
{
	int r;

	r = load_config(a);
	if (r)
		goto out;
	r = find_host(a);
	if (r)
		goto out;
	r = start_metrics(a); /* first: /healthz answers while the programs load */
	if (r)
		goto out;
	r = ag_devwatch_build(a, &a->dt, true);
	if (r)
		goto out;
	r = open_output(a);
	if (r)
		goto out;
	r = load_bpf(a);
	if (r)
		goto out;
	r = init_maps(a);
	if (r)
		goto out;
	r = init_policy(a);
	if (r)
		goto out;
	r = open_events(a);
	if (r)
		goto out;
	r = open_loop(a);
out:
	return r;
}

static void teardown(struct agent *a)
{
	ag_selftest_svc_free(a->selftest);
	ring_buffer__free(a->rb);
	if (a->db_ready)
		ag_policy_free(&a->db);
	ag_bpf_stop(&a->bpf);
	if (a->maps_ready)
		ag_maps_free(&a->maps);
	ag_viol_free(a);
	if (a->cfg_loaded)
		ag_config_free(&a->cfg);
	jw_free(&a->jw);
	ag_evb_free(&a->evb);
	for (int *fd = &a->epfd; fd <= &a->devfd; fd++)
		if (*fd > 0)
			close(*fd);
	ag_sinks_free(a->sinks, a->sink_wait_ms);
	ag_k8s_sinks_free(a->k8s_sinks);
	ag_metrics_free(a->metrics); /* after the sinks: its counting sink is one */
	ag_evidence_http_free(a->evhttp); /* after the server that calls it */
}

/* Set up: the kernel's not-ready state ends, the pins are committed, the ready event; then the
 * descriptors open before the start and the drivers registered meanwhile. */
static void go_ready(struct agent *a)
{
	/* loading the BPF object parsed the kernel's BTF: give that heap back */
	malloc_trim(0);
	ring_buffer__consume(a->rb);
	/* from now on a cgroup without a policy is the host, and unresolved: deny applies to the
	 * containers born from now on */
	ag_startup_ready(a->bpf.skel);
	/* the policy is written: a replaced state switches over (to programs already out of their
	 * not-ready state), an adopted one is reconciled */
	if (ag_pins_adopted(&a->pins))
		a->pins.pruned = ag_policy_prune(&a->db, &a->maps);
	ag_pins_commit(&a->pins);
	ag_summary_ready(a);
	ag_ev_flush(a);
	a->ready = true;
	ag_summary_update(a, false);
	ag_info("ready: tier %s, mode %s, %zu cgroups", ag_tier_name(a->bpf.tier),
		ag_mode_name(a->mode), a->db.ids.n);
	ag_scan_open_fds("/proc", &a->dt, ag_events_on_open_fd, a);
	/* a driver that registered while we started */
	ag_devwatch_check(a, true);
	ag_ev_flush(a);
}

/* One descriptor of the loop's epoll that is ready (the ring buffer is read every round). */
static void on_ready_fd(struct agent *a, int fd)
{
	__u64 x;

	if (fd == a->sigfd) {
		struct signalfd_siginfo si;

		while (read(a->sigfd, &si, sizeof(si)) == sizeof(si))
			a->stop = true;
	} else if (fd == a->timerfd) {
		if (read(a->timerfd, &x, sizeof(x)) < 0)
			return;
		ag_ev_sync_clocks(a);
		ag_events_check_drops(a, false);
		ag_viol_check(a);
		ag_summary_update(a, false);
		ag_selftest_svc_tick(a->selftest);
	} else if (ag_selftest_svc_handle(a->selftest, fd)) {
		/* the control socket */
	} else if (fd == a->devfd) {
		if (read(a->devfd, &x, sizeof(x)) == sizeof(x))
			ag_devwatch_check(a, false);
	} else if (fd == a->notifyfd) {
		if (read(a->notifyfd, &x, sizeof(x)) == sizeof(x))
			ag_policy_refresh(&a->db);
	}
}

/* The loop, until a signal, the duration's end, or a failed epoll_wait. */
static void run_loop(struct agent *a)
{
	__u64 deadline = 0;

	if (a->o->duration > 0)
		deadline = ag_now_ns(CLOCK_MONOTONIC) + (__u64)(a->o->duration * 1e9);
	while (!a->stop) {
		struct epoll_event evs[8];
		int n = epoll_wait(a->epfd, evs, ARRAY_SIZE(evs), 1000);

		if (n < 0 && errno != EINTR) {
			ag_err("agent: epoll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++)
			on_ready_fd(a, evs[i].data.fd);
		/* the ring buffer first, every round: it must never wait behind the timers */
		if (ring_buffer__consume(a->rb) < 0 && errno != EINTR)
			ag_warn("events: ring buffer: %s", strerror(errno));
		ag_arrival_check(a);
		ag_ev_flush(a);
		if (deadline && ag_now_ns(CLOCK_MONOTONIC) >= deadline)
			a->stop = true;
	}
}

/* The exit: what is left in the ring buffer, the last counts, the summary once the sinks drained
 * (it counts what they did with everything before it). */
static void finish(struct agent *a)
{
	struct ag_sink_stats st = { 0 };

	a->stopping = true; /* /readyz: not ready while draining */
	ag_summary_update(a, false);
	ring_buffer__consume(a->rb);
	ag_events_check_drops(a, false);
	ag_viol_check(a);
	ag_ev_flush(a);
	/* a sink that does not drain in AG_SINK_EXIT_MS gets 100 ms more for the summary, then is
	 * cut: the exit takes at most a few seconds whatever a sink does */
	a->sink_wait_ms = ag_sinks_drain(a->sinks, AG_SINK_EXIT_MS) ? AG_SINK_EXIT_MS : 100;
	ag_summary_update(a, true);
	ag_ev_flush(a);
	if (!ag_sinks_drain(a->sinks, a->sink_wait_ms))
		a->sink_wait_ms = 0;
	ag_sinks_stats(a->sinks, 0, &st);
	ag_info("stopped: %llu events written, %llu lost", (unsigned long long)st.written,
		(unsigned long long)(a->lines_lost + st.lost + st.dropped));
	if (a->pins.enabled)
		ag_info("pins: the enforcement stays attached through %s; 'accelguard uninstall' "
			"removes it", a->pins.dir);
}

int ag_run(const struct ag_run_opts *o)
{
	struct agent a = { .o = o, .epfd = -1, .sigfd = -1, .timerfd = -1, .notifyfd = -1,
			   .devfd = -1, .sink_wait_ms = AG_SINK_EXIT_MS };
	sigset_t mask;
	int r;

	/* blocked before any thread exists (the Kubernetes source's peers): threads inherit the
	 * mask, so SIGINT and SIGTERM reach only the signalfd, never a default handler */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	jw_init(&a.jw);
	ag_ev_sync_clocks(&a);
	a.start_boot = ag_now_ns(CLOCK_BOOTTIME);
	a.start_real_s = ag_now_ns(CLOCK_REALTIME) / 1e9;
	r = ag_htab_init(&a.supp, 64);
	if (r) {
		ag_err_errno(r, "agent: cannot make the table of suppressed counts");
		return 1;
	}
	r = setup(&a);
	if (r) {
		ag_pins_abort(&a.pins);
		teardown(&a);
		return 1;
	}
	go_ready(&a);
	run_loop(&a);
	finish(&a);
	teardown(&a);
	return 0;
}
