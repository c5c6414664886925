// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Integration tests: the real agent, real cgroups, real device nodes made with mknod, real
 * syscalls; each test asserts what the kernel did (errno, a kill) and what the agent reported.
 *
 *   itest --agent PATH [--expect-tier lsm|fmod_ret|tracepoint] [--workdir DIR]
 *         [--timeout-scale X] [--agent-arg ARG]... [--ioctl32 PATH]
 *         [--reads every_use|arrival] [FILTER]
 *
 * --reads arrival writes "reads: arrival" into every agent's configuration: tiers 1-2 then judge
 * a descriptor where it arrives, and the scenarios that tell the modes apart assert that mode's
 * outcomes (README "Evasion suite").
 *
 * Prints "ok - NAME", "not ok - NAME: why" or "skip - NAME: why" per test, then
 * "N passed, N failed, N skipped"; exits 1 when any test failed.
 *
 * Device nodes: NVIDIA-numbered nodes (195:N) reach every hook on open and then fail with ENXIO
 * (no driver); a copy of /dev/full (1:7), registered as the "test-accel" class, opens for real,
 * so its ioctls reach the hooks too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#define ACC_MAJOR 1
#define ACC_MINOR 7
#define NV 195

static const char *agent_bin;
static char ioctl32_bin[700]; /* --ioctl32, default: ioctl32 beside this binary */
static const char *expect_tier;
static const char *agent_args[8]; /* --agent-arg: added to every `accelguard run` */
static int n_agent_args;
static bool tier_forced;          /* an --agent-arg --tier=T: the probe still picks the strongest */
static bool reads_arrival;        /* --reads arrival: "reads: arrival" in every configuration */
static char workdir[700];
static char cg2[512];    /* cgroup2 mount */
static char root[128];   /* our cgroup subtree, relative: /itest-PID */
static char host_cg[160]; /* where the run itself works, on the host side: /itest-PID-host */
static char failmsg[1024];
static double timeout_scale = 1.0;
static char pin_dir[256]; /* every agent pins here (enforce mode); removed after each test */

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(failmsg, sizeof(failmsg), __VA_ARGS__);                                   \
		return 1;                                                                          \
	} while (0)
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		snprintf(failmsg, sizeof(failmsg), __VA_ARGS__);                                   \
		return 2;                                                                          \
	} while (0)
/* in a test with resources to release at its "out:" label */
#define FAIL_OUT(...)                                                                              \
	do {                                                                                       \
		snprintf(failmsg, sizeof(failmsg), __VA_ARGS__);                                   \
		goto out;                                                                          \
	} while (0)
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FAIL(__VA_ARGS__);                                                         \
	} while (0)

/* ---- small helpers -------------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static int find_cgroup2(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 ");
		char mnt[512];

		if (!sep)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
			snprintf(cg2, sizeof(cg2), "%s", mnt);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

static void cg_path(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s%s%s", cg2, root, rel);
}

static int cg_make(const char *rel)
{
	char p[1024];

	cg_path(p, sizeof(p), rel);
	return mkdir(p, 0755) && errno != EEXIST ? -errno : 0;
}

static void cg_remove(const char *rel)
{
	char p[1024];

	cg_path(p, sizeof(p), rel);
	rmdir(p);
}

static int cg_enter(const char *rel)
{
	char p[1024];

	cg_path(p, sizeof(p), rel);
	strcat(p, "/cgroup.procs");
	return write_file(p, "0");
}

/*
 * A descriptor the host opens for a child to carry into a tenant (run_in moves the child after the
 * fork), at a slot past what tier 3 looks at when a process moves (the first 4,096 slots: README,
 * "a descriptor carried by a move"), so that what the test judges is the use it means (an ioctl,
 * a reopen, a flood), as at tiers 1-2; the arrival by a move is tested on its own
 * (evasion_fd_move_*, fork_after_open). -1 with errno on failure.
 */
#define CARRIED_SLOT 4200

static int open_carried(const char *path)
{
	struct rlimit rl;
	int fd = open(path, O_RDWR), hi;

	if (fd < 0)
		return -1;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur <= CARRIED_SLOT) {
		rl.rlim_cur = CARRIED_SLOT + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (hi = CARRIED_SLOT; hi < CARRIED_SLOT + 64 && fcntl(hi, F_GETFD) >= 0; hi++)
		;
	if (dup2(fd, hi) != hi) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return hi;
}

/* ---- running code in a tenant ---------------------------------------------------------------- */

struct child_res {
	bool exited;
	int status;  /* exit status */
	int sig;     /* terminating signal */
	int err;     /* errno the child reported, 0 for success */
	pid_t pid;
};

typedef int (*child_fn)(void *arg); /* returns 0 or an errno */

/* a receiver got no device: refused on arrival (reads: arrival, tiers 1-2; MSG_CTRUNC) */
#define RX_REFUSED 5000

/* fork; the child enters the cgroup (NULL: stays on the host), runs fn, reports its errno */
static struct child_res run_in(const char *cg, child_fn fn, void *arg)
{
	struct child_res r = { 0 };
	int p[2], st;

	if (pipe(p))
		abort();
	r.pid = fork();
	if (r.pid == 0) {
		int e;

		close(p[0]);
		if (cg && cg_enter(cg))
			_exit(100);
		e = fn(arg);
		if (write(p[1], &e, sizeof(e)) != sizeof(e))
			_exit(101);
		_exit(0);
	}
	close(p[1]);
	r.err = -1;
	if (read(p[0], &r.err, sizeof(r.err)) != sizeof(r.err))
		r.err = -1;
	close(p[0]);
	waitpid(r.pid, &st, 0);
	r.exited = WIFEXITED(st);
	r.status = r.exited ? WEXITSTATUS(st) : -1;
	r.sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	return r;
}

static int do_open(void *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int do_mknod(void *arg)
{
	const char **a = arg; /* path, "MAJ:MIN" */
	unsigned int ma, mi;

	sscanf(a[1], "%u:%u", &ma, &mi);
	unlink(a[0]);
	if (mknod(a[0], S_IFCHR | 0600, makedev(ma, mi)))
		return errno;
	return 0;
}

static int do_ioctl_fd(void *arg)
{
	int fd = *(int *)arg, n;

	if (ioctl(fd, FIONREAD, &n) < 0)
		return errno; /* ENOTTY from the driver: the hook let it through */
	return 0;
}

static int do_open_ioctl(void *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), e;

	if (fd < 0)
		return errno;
	e = do_ioctl_fd(&fd);
	close(fd);
	return e;
}

/* ---- the agent --------------------------------------------------------------------------------- */

struct agent {
	pid_t pid;
	char events[600], errlog[600], cfg[600];
	json_object **ev;
	size_t n_ev, cap_ev;
	size_t n_lines; /* every line of the file, own_event or not */
	int exit_status;
	char tier[32];
	char reads[16]; /* the ready event's reads.mode */
};

struct cfg_opts {
	const char *mode;
	unsigned int rate_limit;
	const char *extra; /* more YAML */
	bool no_test_accel; /* no test-accel class (1:7 is then no accelerator) */
	const char *exempt; /* the exempt list's YAML; NULL: ["ROOT/ex"] */
	const char *acc_to; /* the tenant the test accelerator is allocated to (default t-a) */
};

static void write_config(struct agent *a, const struct cfg_opts *o)
{
	char text[4096], cls[128] = "", ex[600];

	if (!o->no_test_accel)
		snprintf(cls, sizeof(cls), "devices:\n  - class: test-accel\n    major: %d\n    minor: %d\n",
			 ACC_MAJOR, ACC_MINOR);
	snprintf(a->cfg, sizeof(a->cfg), "%s/config.yaml", workdir);
	snprintf(ex, sizeof(ex), "[\"%s/ex\"]", root);
	if (o->exempt)
		snprintf(ex, sizeof(ex), "%s", o->exempt);
	snprintf(text, sizeof(text),
		 "# integration test fixture\n"
		 "mode: %s\n"
		 "rate_limit: %u\n"
		 "tenants: [\"%s/t-*\"]\n"
		 "exempt: %s\n"
		 "%s"
		 "allocations:\n"
		 "  - cgroup: %s/t-a\n"
		 "    devices: [\"195:0\"]\n"
		 "  - cgroup: %s/%s\n"
		 "    devices: [\"%d:%d\"]\n"
		 "  - cgroup: %s/t-b\n"
		 "    devices: [\"195:2\"]\n"
		 "%s%s",
		 o->mode ? o->mode : "audit", o->rate_limit ? o->rate_limit : 1000, root, ex, cls,
		 root, root, o->acc_to ? o->acc_to : "t-a", ACC_MAJOR, ACC_MINOR, root,
		 reads_arrival ? "reads: arrival\n" : "", o->extra ? o->extra : "");
	write_file(a->cfg, text);
}

static int load_events(struct agent *a);

static const char *jstr(json_object *o, const char *path);
static json_object *jget(json_object *o, const char *path);

static int agent_start(struct agent *a, const struct cfg_opts *o, const char *const *extra_args)
{
	const char *argv[32];
	int n = 0;
	double deadline;

	memset(a, 0, sizeof(*a));
	write_config(a, o);
	snprintf(a->events, sizeof(a->events), "%s/events.jsonl", workdir);
	snprintf(a->errlog, sizeof(a->errlog), "%s/agent.log", workdir);
	unlink(a->events);
	argv[n++] = agent_bin;
	argv[n++] = "run";
	argv[n++] = "--config";
	argv[n++] = a->cfg;
	argv[n++] = "--events";
	argv[n++] = a->events;
	for (int i = 0; i < n_agent_args; i++)
		argv[n++] = agent_args[i];
	argv[n++] = "--pin-dir";
	argv[n++] = pin_dir;
	for (; extra_args && *extra_args && n < 30; extra_args++)
		argv[n++] = *extra_args;
	argv[n] = NULL;
	a->pid = fork();
	if (a->pid == 0) {
		int fd = open(a->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		execv(agent_bin, (char **)argv);
		_exit(127);
	}
	deadline = now_s() + 60 * timeout_scale;
	while (now_s() < deadline) {
		char *t = read_all(a->events);
		bool ready = strstr(t, "\"type\":\"ready\"") != NULL;
		int st;

		free(t);
		if (ready)
			return 0;
		if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
			a->pid = 0;
			return -1;
		}
		usleep(20000);
	}
	/* not ready in time: it must not become ready later and judge the next tests' tenants */
	{
		char *log = read_all(a->errlog);
		size_t n = strlen(log);

		printf("# agent not ready in time; the end of its log:\n# %s\n",
		       log + (n > 1500 ? n - 1500 : 0));
		free(log);
	}
	kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
	a->pid = 0;
	return -1;
}

/* SIGTERM, wait, parse every line (each must be valid JSON) */
static int agent_stop(struct agent *a)
{
	int st;

	if (a->pid > 0) {
		kill(a->pid, SIGTERM);
		waitpid(a->pid, &st, 0);
		a->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		a->pid = 0;
	}
	return load_events(a);
}

static void agent_free(struct agent *a)
{
	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
	}
	for (size_t i = 0; i < a->n_ev; i++)
		json_object_put(a->ev[i]);
	free(a->ev);
	a->ev = NULL;
	a->n_ev = 0;
	a->cap_ev = 0;
	a->n_lines = 0;
}

/* Only this run's own events count: an event about a cgroup outside this run's subtree (another
 * test, another agent's tenants, anything else on the machine opening an accelerator) is left
 * out. The run itself works from a cgroup of its own beside root (host_cg, fixture_up: no
 * tenant parent above it, so it is the host), so its host-side accesses are its own too; events
 * that name no cgroup (ready, summary, ...) are this agent's. */
static bool under(const char *cg, const char *top)
{
	size_t n = strlen(top);

	return !strncmp(cg, top, n) && (cg[n] == 0 || cg[n] == '/');
}

static bool own_event(json_object *o)
{
	const char *cg = jstr(o, "cgroup.path");

	return !jget(o, "cgroup.path") || under(cg, root) || under(cg, host_cg);
}

static int load_events(struct agent *a)
{
	char *t = read_all(a->events), *line, *save = NULL;

	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		enum json_tokener_error jerr;
		json_object *o = json_tokener_parse_verbose(line, &jerr);

		if (!o || !json_object_is_type(o, json_type_object)) {
			snprintf(failmsg, sizeof(failmsg), "invalid JSON line (%s): %.200s",
				 json_tokener_error_desc(jerr), line);
			free(t);
			return -1;
		}
		a->n_lines++;
		if (!own_event(o)) {
			json_object_put(o);
			continue;
		}
		if (a->n_ev == a->cap_ev) { /* doubling: linear in the events, however many */
			a->cap_ev = a->cap_ev ? 2 * a->cap_ev : 1024;
			a->ev = realloc(a->ev, a->cap_ev * sizeof(*a->ev));
			if (!a->ev)
				abort();
		}
		a->ev[a->n_ev++] = o;
		if (!strcmp(jstr(o, "type"), "ready")) {
			snprintf(a->tier, sizeof(a->tier), "%s", jstr(o, "tier"));
			snprintf(a->reads, sizeof(a->reads), "%s", jstr(o, "reads.mode"));
		}
	}
	free(t);
	return 0;
}

/* ---- reading events -------------------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *path)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, tok, &o))
			return NULL;
	return o;
}

static const char *jstr(json_object *o, const char *path)
{
	json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static long long jint(json_object *o, const char *path)
{
	json_object *v = jget(o, path);

	return v ? json_object_get_int64(v) : -1;
}

struct match {
	const char *type;   /* default "access" */
	const char *op;
	int major, minor;   /* -1: any */
	const char *cgroup; /* relative to root, e.g. "/t-a"; NULL: any */
	pid_t pid;          /* 0: any */
	const char *hook;
	bool rejudged;
};

static bool matches(json_object *e, const struct match *m)
{
	char cg[512];

	if (strcmp(jstr(e, "type"), m->type ? m->type : "access"))
		return false;
	if (m->op && strcmp(jstr(e, "op"), m->op))
		return false;
	if (m->major >= 0 && jint(e, "device.major") != m->major)
		return false;
	if (m->minor >= 0 && jint(e, "device.minor") != m->minor)
		return false;
	if (m->cgroup) {
		snprintf(cg, sizeof(cg), "%s%s", root, m->cgroup);
		if (strcmp(jstr(e, "cgroup.path"), cg))
			return false;
	}
	if (m->pid && jint(e, "process.pid") != m->pid)
		return false;
	if (m->hook && strcmp(jstr(e, "hook"), m->hook))
		return false;
	if (m->rejudged != (jget(e, "rejudged") != NULL))
		return false;
	return true;
}

static json_object *find(struct agent *a, const struct match *m)
{
	for (size_t i = 0; i < a->n_ev; i++)
		if (matches(a->ev[i], m))
			return a->ev[i];
	return NULL;
}

static size_t count(struct agent *a, const struct match *m)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_ev; i++)
		n += matches(a->ev[i], m);
	return n;
}

static json_object *summary(struct agent *a)
{
	struct match m = { .type = "summary", .major = -1, .minor = -1 };

	return find(a, &m);
}

/* Poll the live events file for a line containing all the needles. */
static bool wait_line(struct agent *a, const char *n1, const char *n2, double secs)
{
	double deadline = now_s() + secs * timeout_scale;

	while (now_s() < deadline) {
		char *t = read_all(a->events), *line, *save = NULL;
		bool found = false;

		for (line = strtok_r(t, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
			found = strstr(line, n1) && (!n2 || strstr(line, n2));
		free(t);
		if (found)
			return true;
		usleep(20000);
	}
	return false;
}

/* ---- the fixture ------------------------------------------------------------------------------ */

static char gpu0[600], gpu1[600], gpu2[600], acc[600];

static int node(char *buf, size_t len, const char *name, unsigned int ma, unsigned int mi)
{
	snprintf(buf, len, "%s/%s", workdir, name);
	unlink(buf);
	return mknod(buf, S_IFCHR | 0666, makedev(ma, mi)) ? -errno : 0;
}

static char home[1024]; /* the cgroup the run started in, relative to cg2 */

static int home_cgroup(void)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[1100];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(home, sizeof(home), "%s", strcmp(line + 3, "/") ? line + 3 : "");
		}
	fclose(f);
	return 0;
}

static int fixture_up(void)
{
	char p[1024];

	snprintf(root, sizeof(root), "/itest-%d", getpid());
	cg_path(p, sizeof(p), "");
	if (mkdir(p, 0755) && errno != EEXIST)
		return -errno;
	if (cg_make("/t-a") || cg_make("/t-b") || cg_make("/t-c") || cg_make("/ex"))
		return -errno;
	/* the run's own host side, so that its accesses from outside the tenants are its own too */
	snprintf(host_cg, sizeof(host_cg), "%s-host", root);
	snprintf(p, sizeof(p), "%s%s", cg2, host_cg);
	if (home_cgroup() || (mkdir(p, 0755) && errno != EEXIST))
		return -errno;
	strcat(p, "/cgroup.procs");
	if (write_file(p, "0"))
		return -errno;
	if (node(gpu0, sizeof(gpu0), "nvidia0", NV, 0) || node(gpu1, sizeof(gpu1), "nvidia1", NV, 1) ||
	    node(gpu2, sizeof(gpu2), "nvidia2", NV, 2) ||
	    node(acc, sizeof(acc), "accel", ACC_MAJOR, ACC_MINOR))
		return -errno;
	return 0;
}

static void fixture_down(void)
{
	const char *cgs[] = { "/t-a", "/t-b", "/t-c", "/ex", "/t-new", "/t-race", "/t-gone", "" };
	char p[1200];

	if (host_cg[0]) { /* back where the run started, so that its own cgroup can go */
		snprintf(p, sizeof(p), "%s%s/cgroup.procs", cg2, home);
		write_file(p, "0");
		snprintf(p, sizeof(p), "%s%s", cg2, host_cg);
		rmdir(p);
	}

	for (size_t i = 0; i < sizeof(cgs) / sizeof(cgs[0]); i++)
		cg_remove(cgs[i]);
}

static bool enforce_is_sync(struct agent *a)
{
	return strcmp(a->tier, "tracepoint") != 0;
}

/* reads: arrival in force (tiers 1-2): after agent_stop */
static bool arrival(struct agent *a)
{
	return !strcmp(a->reads, "arrival");
}

/* the same while the agent runs: its ready line says so */
static bool arrival_live(struct agent *a)
{
	char *t = read_all(a->events);
	bool on = strstr(t, "\"reads\":{\"mode\":\"arrival\"") != NULL;

	free(t);
	return on;
}

/* reads: arrival: the per-use hook was attached, for this reason (NULL: it was not) */
static int expect_per_use(struct agent *a, const char *reason, const char *what)
{
	struct match m = { .type = "per_use", .major = -1, .minor = -1 };
	json_object *e = find(a, &m);

	if (!reason && e)
		FAIL("%s: per-use hook attached (%s), expected every arrival stopped", what,
		     jstr(e, "reason"));
	if (reason && !e)
		FAIL("%s: no per_use event, expected one for %s", what, reason);
	if (reason && (strcmp(jstr(e, "reason"), reason) || strcmp(jstr(e, "event"), "attached")))
		FAIL("%s: per_use %s for %s, expected attached for %s", what, jstr(e, "event"),
		     jstr(e, "reason"), reason);
	return 0;
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* assert an access event and its verdict/action */
static int expect(struct agent *a, const struct match *m, const char *verdict, const char *action,
		  const char *what)
{
	json_object *e = find(a, m);

	if (!e)
		FAIL("%s: no %s event for %d:%d from %s (pid %d)", what, m->op ? m->op : "access",
		     m->major, m->minor, m->cgroup ? m->cgroup : "?", m->pid);
	if (strcmp(jstr(e, "verdict"), verdict))
		FAIL("%s: verdict %s, expected %s", what, jstr(e, "verdict"), verdict);
	if (action && strcmp(jstr(e, "action"), action))
		FAIL("%s: action %s, expected %s", what, jstr(e, "action"), action);
	return 0;
}

#define EXPECT(a, m, v, act, what)                                                                 \
	do {                                                                                       \
		if (expect(a, m, v, act, what))                                                    \
			return 1;                                                                  \
	} while (0)

static int test_probe(void)
{
	char cmd[700], out[4096] = "";
	FILE *p;
	json_object *o;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s probe --json 2>/dev/null", agent_bin);
	p = popen(cmd, "r");
	if (!p)
		FAIL("cannot run %s", cmd);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	pclose(p);
	o = json_tokener_parse(out);
	CHECK(o, "probe --json printed no JSON: %.200s", out);
	if (expect_tier && tier_forced) {
		/* the agent is told its tier: the probe must find that tier working */
		char path[64];
		json_object *loaded;

		snprintf(path, sizeof(path), "tiers.%s.loaded", expect_tier);
		loaded = jget(o, path);
		if (!loaded || !json_object_get_boolean(loaded)) {
			snprintf(failmsg, sizeof(failmsg), "probe: tier %s does not load (%.300s)",
				 expect_tier, out);
			json_object_put(o);
			return 1;
		}
	} else if (expect_tier && strcmp(jstr(o, "tier"), expect_tier)) {
		snprintf(failmsg, sizeof(failmsg), "probe chose tier %s, expected %s (%.300s)",
			 jstr(o, "tier"), expect_tier, out);
		json_object_put(o);
		return 1;
	}
	json_object_put(o);
	return 0;
}

static int open_verdicts(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct agent a;
	struct child_res r[7];
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	r[6] = run_in("", do_open, gpu1);     /* in the tenants' parent itself: no tenant */
	r[0] = run_in("/t-a", do_open, gpu0); /* allocated */
	r[1] = run_in("/t-a", do_open, gpu1); /* nobody's */
	r[2] = run_in("/t-b", do_open, gpu0); /* t-a's */
	r[3] = run_in("/ex", do_open, gpu1);  /* exempt */
	r[4] = run_in(NULL, do_open, gpu1);   /* the host */
	r[5] = run_in("/t-b", do_open, gpu2); /* t-b's own */
	if (agent_stop(&a))
		goto out;
	if (a.exit_status) {
		FAIL_OUT("agent exited %d", a.exit_status);
	}
	if (expect_tier && strcmp(a.tier, expect_tier)) {
		FAIL_OUT("ready event has tier %s, expected %s", a.tier,
			 expect_tier);
	}
	{
		struct match mr = { .type = "ready", .major = -1, .minor = -1 };
		json_object *ready = find(&a, &mr);

		printf("# %s: tier %s, ioctl program %s\n", mode, a.tier,
		       ready ? jstr(ready, "ioctl_program") : "?");
	}
#define ERRNO(i, want, what)                                                                       \
	if (r[i].err != (want)) {                                                                  \
		snprintf(failmsg, sizeof(failmsg), "%s: errno %d (%s), expected %d", what, r[i].err, \
			 strerror(r[i].err), want);                                                \
		goto out;                                                                          \
	}
	ERRNO(0, ENXIO, "allowed open");
	ERRNO(1, enforce ? EPERM : ENXIO, "unmediated open");
	ERRNO(2, enforce ? EPERM : ENXIO, "cross-tenant open");
	ERRNO(3, ENXIO, "exempt open");
	ERRNO(4, ENXIO, "host open");
	ERRNO(5, ENXIO, "own device open");
	ERRNO(6, ENXIO, "open from the tenants' parent cgroup");
	{
		const char *deny = enforce ? "denied" : "observed";
		struct match m0 = { .op = "open", .major = NV, .minor = 0, .cgroup = "/t-a", .pid = r[0].pid };
		struct match m1 = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-a", .pid = r[1].pid };
		struct match m2 = { .op = "open", .major = NV, .minor = 0, .cgroup = "/t-b", .pid = r[2].pid };
		struct match m3 = { .op = "open", .major = NV, .minor = 1, .cgroup = "/ex", .pid = r[3].pid };
		struct match m4 = { .op = "open", .major = NV, .minor = 1, .pid = r[4].pid };
		struct match m5 = { .op = "open", .major = NV, .minor = 2, .cgroup = "/t-b", .pid = r[5].pid };
		struct match m6 = { .op = "open", .major = NV, .minor = 1, .cgroup = "", .pid = r[6].pid };

		if (expect(&a, &m0, "allowed", "observed", "allocated") ||
		    expect(&a, &m1, "unmediated", deny, "unallocated") ||
		    expect(&a, &m2, "cross_tenant", deny, "another tenant's") ||
		    expect(&a, &m3, "exempt", "observed", "exempt") ||
		    expect(&a, &m4, "host", "observed", "host") ||
		    expect(&a, &m5, "allowed", "observed", "own") ||
		    expect(&a, &m6, "host", "observed", "the tenants' parent"))
			goto out;
		if (!summary(&a)) {
			FAIL_OUT("no summary event");
		}
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_open_audit(void)
{
	return open_verdicts("audit");
}

static int test_open_enforce(void)
{
	return open_verdicts("enforce");
}

/* An ioctl on a descriptor that the tenant did not get through an open it was allowed. */
static int ioctl_verdicts(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct agent a;
	struct child_res ra, rc;
	int fd, ret = 1;
	json_object *e;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	ra = run_in("/t-a", do_open_ioctl, acc); /* allocated: the driver answers ENOTTY */
	fd = open_carried(acc);                  /* the host opens, t-c inherits */
	rc = run_in("/t-c", do_ioctl_fd, &fd);
	close(fd);
	if (agent_stop(&a))
		goto out;
	if (ra.err != ENOTTY) {
		FAIL_OUT("allowed ioctl: errno %d, expected ENOTTY", ra.err);
	}
	{
		struct match ma = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-a", .pid = ra.pid };
		struct match mc = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-c", .pid = rc.pid };

		if (expect(&a, &ma, "allowed", "observed", "allocated ioctl"))
			goto out;
		e = find(&a, &ma);
		if (strcmp(jstr(e, "ioctl.cmd"), "0x0000541b")) {
			FAIL_OUT("ioctl.cmd %s, expected 0x0000541b (FIONREAD)",
				 jstr(e, "ioctl.cmd"));
		}
		if (!enforce) {
			if (rc.err != ENOTTY) {
				FAIL_OUT("audited ioctl: errno %d", rc.err);
			}
			if (expect(&a, &mc, "cross_tenant", "observed", "inherited descriptor"))
				goto out;
		} else if (enforce_is_sync(&a)) {
			if (rc.err != EPERM) {
				FAIL_OUT("enforced ioctl (%s): errno %d, expected EPERM",
					 a.tier, rc.err);
			}
			if (expect(&a, &mc, "cross_tenant", "denied", "inherited descriptor"))
				goto out;
		} else {
			if (rc.sig != SIGKILL) {
				FAIL_OUT("enforced ioctl (tracepoint): child not killed (exit %d, errno %d)",
					 rc.status, rc.err);
			}
			if (expect(&a, &mc, "cross_tenant", "killed", "inherited descriptor"))
				goto out;
		}
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_ioctl_audit(void)
{
	return ioctl_verdicts("audit");
}

static int test_ioctl_enforce(void)
{
	return ioctl_verdicts("enforce");
}

static int mknod_verdicts(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct agent a;
	char pa[700], pc[700];
	const char *arg_a[2] = { pa, "195:0" }, *arg_c[2] = { pc, "195:1" };
	struct child_res ra, rc;
	int ret = 1;

	snprintf(pa, sizeof(pa), "%s/mk-a", workdir);
	snprintf(pc, sizeof(pc), "%s/mk-c", workdir);
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	ra = run_in("/t-a", do_mknod, arg_a);
	rc = run_in("/t-c", do_mknod, arg_c);
	if (agent_stop(&a))
		goto out;
	if (ra.err != 0) {
		FAIL_OUT("allowed mknod: errno %d", ra.err);
	}
	if (rc.err != (enforce ? EPERM : 0)) {
		FAIL_OUT("unmediated mknod: errno %d, expected %d", rc.err,
			 enforce ? EPERM : 0);
	}
	{
		struct match ma = { .op = "mknod", .major = NV, .minor = 0, .cgroup = "/t-a", .pid = ra.pid };
		struct match mc = { .op = "mknod", .major = NV, .minor = 1, .cgroup = "/t-c", .pid = rc.pid };

		if (expect(&a, &ma, "allowed", "observed", "allocated mknod") ||
		    expect(&a, &mc, "unmediated", enforce ? "denied" : "observed", "unallocated mknod"))
			goto out;
	}
	ret = 0;
out:
	unlink(pa);
	unlink(pc);
	agent_free(&a);
	return ret;
}

/* ---- 32-bit processes: ioctls through the kernel's compat path ---------------------------------- */

static int *mmap_shared_int(void);

struct run32 {
	const char *argv[8]; /* ioctl32's arguments */
	int *pid;            /* shared with the parent: the 32-bit process's pid */
};

/* exec ioctl32, wait: its errno by its exit status (ioctl32.c), 1000 + signal when killed */
static int do_run32(void *arg)
{
	struct run32 *r = arg;
	const char *argv[10] = { ioctl32_bin };
	pid_t p;
	int st;

	for (int i = 0; i < 8 && r->argv[i]; i++)
		argv[i + 1] = r->argv[i];
	p = fork();
	if (p == 0) {
		execv(ioctl32_bin, (char **)argv);
		_exit(126);
	}
	if (r->pid)
		*r->pid = p;
	waitpid(p, &st, 0);
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	switch (WEXITSTATUS(st)) {
	case 0:
		return ENOTTY;
	case 1:
		return EPERM;
	case 126:
		return ENOEXEC;
	case 6:
		return 3000 + ENOSYS; /* the operation does not exist in this 32-bit ABI (ioctl32.c) */
	default:
		return 2000 + WEXITSTATUS(st);
	}
}

/*
 * A 32-bit process (gcc -m32) does what ioctl_verdicts' processes do: an allocated ioctl is
 * allowed; one that opens its tenant's device, moves into another tenant and ioctls, and one that
 * inherits the host's descriptor in another tenant, are cross_tenant (denied with EPERM at tiers
 * 1 and 2, killed at tier 3).
 */
static int ioctl32_verdicts(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct agent a;
	int *pids = mmap_shared_int();
	pid_t pid_a, pid_m, pid_i;
	char tc[1024], fdarg[16];
	struct run32 probe = { .argv = { "--open", "/dev/null" } };
	struct run32 ra = { .argv = { "--open", acc }, .pid = &pids[0] };
	struct run32 rm = { .argv = { "--open", acc, "--cgroup", tc }, .pid = &pids[0] };
	struct run32 ri = { .argv = { "--fd", fdarg }, .pid = &pids[0] };
	struct child_res xa, xm, xi;
	int fd, ret = 1, e;

	e = do_run32(&probe);
	if (e == ENOEXEC)
		SKIP("cannot run the 32-bit helper %s (no IA32 emulation, or not built: gcc-multilib)",
		     ioctl32_bin);
	if (e != ENOTTY)
		FAIL("the 32-bit helper %s on /dev/null: %d, expected ENOTTY", ioctl32_bin, e);
	cg_path(tc, sizeof(tc), "/t-c");
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	xa = run_in("/t-a", do_run32, &ra);
	pid_a = pids[0];
	xm = run_in("/t-a", do_run32, &rm);
	pid_m = pids[0];
	fd = open_carried(acc); /* the host opens, the 32-bit process in t-c inherits */
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	xi = run_in("/t-c", do_run32, &ri);
	pid_i = pids[0];
	close(fd);
	if (agent_stop(&a))
		goto out;
	if (xa.err != ENOTTY) {
		FAIL_OUT("allowed 32-bit ioctl: result %d, expected ENOTTY", xa.err);
	}
	{
		struct match ma = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-a", .pid = pid_a };
		struct match mm = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-c", .pid = pid_m };
		struct match mi = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-c", .pid = pid_i };
		const char *act = !enforce ? "observed" : enforce_is_sync(&a) ? "denied" : "killed";
		int want = !enforce ? ENOTTY : enforce_is_sync(&a) ? EPERM : 1000 + SIGKILL;
		json_object *ev;

		if (expect(&a, &ma, "allowed", "observed", "allocated 32-bit ioctl"))
			goto out;
		ev = find(&a, &ma);
		if (strcmp(jstr(ev, "ioctl.cmd"), "0x0000541b")) {
			FAIL_OUT("ioctl.cmd %s, expected 0x0000541b (FIONREAD)", jstr(ev, "ioctl.cmd"));
		}
		if (xm.err != want || xi.err != want) {
			FAIL_OUT("32-bit ioctl in another tenant (%s, tier %s): result %d (moved after "
				 "open), %d (inherited), expected %d", mode, a.tier, xm.err, xi.err, want);
		}
		/* tier 3, enforce: the 32-bit process that moved itself holding the descriptor is
		 * killed at the move, before its ioctl (op receive) */
		if (enforce && !enforce_is_sync(&a)) {
			mm.op = "receive";
			if (expect(&a, &mm, "cross_tenant", "killed",
				   "32-bit process moved into another tenant, killed at the move"))
				goto out;
			mm.op = "ioctl";
			if (find(&a, &mm))
				FAIL_OUT("32-bit process killed at its move, yet an ioctl was judged");
		} else if (expect(&a, &mm, "cross_tenant", act,
				  "32-bit process moved into another tenant")) {
			goto out;
		}
		if (expect(&a, &mi, "cross_tenant", act, "32-bit process with an inherited descriptor"))
			goto out;
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_ioctl32_audit(void)
{
	return ioctl32_verdicts("audit");
}

static int test_ioctl32_enforce(void)
{
	return ioctl32_verdicts("enforce");
}

/*
 * Tier 3 enters where the kernel makes it (DESIGN "Tiers, as rows"): the raw syscall entry where a
 * compat route runs (an ia32 getpid by int $0x80 from a 64-bit process answers, or an x32 getpid
 * does: only that tracepoint sees those tables), else one tracepoint per judged syscall, so that
 * the node's other syscalls run no program. The effects are tried here, apart from the agent,
 * and compared with the program its ready event names: natively (ia32 runs on the development
 * machine's 6.18) the raw entry; in the guest booted without compat syscalls (make
 * vm-nocompat-check: ia32_emulation=0, x32 left off) the per-syscall entry, under which that boot
 * runs every other scenario too.
 */
#if defined(__x86_64__)
static void entry_probe_fault(int sig)
{
	(void)sig;
	_exit(2);
}

static bool ia32_getpid_runs(void)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		long r = 20; /* ia32 getpid */

		signal(SIGSEGV, entry_probe_fault);
		signal(SIGBUS, entry_probe_fault);
		signal(SIGILL, entry_probe_fault);
		__asm__ volatile("int $0x80" : "+a"(r) : : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
				 "r10", "r11", "memory");
		_exit(r == getpid() ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool x32_runs(void);

static int test_tp_entry_by_effect(void)
{
	struct cfg_opts o = { .mode = "audit" };
	const char *prog = "";
	bool ia32, x32, raw;
	struct agent a;
	int ret = 1;

	ia32 = ia32_getpid_runs();
	x32 = x32_runs();
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	if (agent_stop(&a))
		goto out;
	for (size_t i = 0; i < a.n_ev; i++)
		if (!strcmp(jstr(a.ev[i], "type"), "ready"))
			prog = jstr(a.ev[i], "ioctl_program");
	if (strcmp(a.tier, "tracepoint")) {
		agent_free(&a);
		SKIP("tier %s judges in the security hooks: no syscall entry to choose", a.tier);
	}
	raw = !strncmp(prog, "ag_tp_sys_enter", 15);
	printf("# ia32 syscalls %s, x32 syscalls %s: the agent enters at %s\n", ia32 ? "run" : "do not run",
	       x32 ? "run" : "do not run", prog);
	if ((ia32 || x32) && !raw)
		FAIL_OUT("compat syscalls run here (ia32 %d, x32 %d) but the agent entered at %s: they "
			 "would not be seen", ia32, x32, prog);
	if (!ia32 && !x32 && strncmp(prog, "ag_sc_ioctl", 11))
		FAIL_OUT("no compat syscall runs here, but the agent entered at %s (expected "
			 "ag_sc_ioctl: one tracepoint per judged syscall)", prog);
	ret = 0;
out:
	agent_free(&a);
	return ret;
}
#else
static int test_tp_entry_by_effect(void)
{
	SKIP("no 32-bit syscall to try from a 64-bit process on this architecture: the loader "
	     "decides by the kernel's BTF");
}
#endif

static int test_mknod_audit(void)
{
	return mknod_verdicts("audit");
}

static int test_mknod_enforce(void)
{
	return mknod_verdicts("enforce");
}

/* reopen, through /proc/self/fd, a descriptor this process inherited */
static int do_reopen_fd(void *arg)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", *(int *)arg);
	return do_open(p);
}

/* The device is what the kernel opened, whatever the name: a hard link, a second node, a bind
 * mount, a reopen through /proc/self/fd. */
static int test_other_names(void)
{
	struct cfg_opts o = { .mode = "enforce" };
	struct agent a;
	char link_[700], copy[700], bind[700];
	struct child_res rl, rcpy, rb, rr;
	bool bound = false;
	int ret = 1, fd = -1;

	snprintf(link_, sizeof(link_), "%s/innocent-link", workdir);
	unlink(link_);
	if (link(gpu1, link_))
		FAIL("link: %s", strerror(errno));
	snprintf(copy, sizeof(copy), "/tmp/itest-%d-copy", getpid());
	unlink(copy);
	if (mknod(copy, S_IFCHR | 0666, makedev(NV, 1)))
		FAIL("mknod %s: %s", copy, strerror(errno));
	snprintf(bind, sizeof(bind), "%s/innocent-file", workdir);
	if (write_file(bind, "") || mount(gpu1, bind, NULL, MS_BIND, NULL))
		FAIL("bind mount of %s on %s: %s", gpu1, bind, strerror(errno));
	bound = true;
	if (agent_start(&a, &o, NULL))
		FAIL_OUT("agent did not become ready: %.300s", read_all(a.errlog));
	rl = run_in("/t-a", do_open, link_);
	rcpy = run_in("/t-a", do_open, copy);
	rb = run_in("/t-a", do_open, bind);
	fd = open_carried(acc); /* t-a's device, opened by the host, reopened by t-c */
	rr = run_in("/t-c", do_reopen_fd, &fd);
	if (agent_stop(&a))
		goto out;
	if (rl.err != EPERM || rcpy.err != EPERM || rb.err != EPERM || rr.err != EPERM)
		FAIL_OUT("errno %d (hard link), %d (second node), %d (bind mount), %d (reopen), "
			 "expected EPERM", rl.err, rcpy.err, rb.err, rr.err);
	{
		struct match ml = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-a", .pid = rl.pid };
		struct match mc = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-a", .pid = rcpy.pid };
		struct match mb = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-a", .pid = rb.pid };
		struct match mr = { .op = "open", .major = ACC_MAJOR, .minor = ACC_MINOR,
				    .cgroup = "/t-c", .pid = rr.pid };

		if (expect(&a, &ml, "unmediated", "denied", "hard link") ||
		    expect(&a, &mc, "unmediated", "denied", "second node") ||
		    expect(&a, &mb, "unmediated", "denied", "bind mount") ||
		    expect(&a, &mr, "cross_tenant", "denied", "reopen through /proc/self/fd"))
			goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (bound)
		umount2(bind, MNT_DETACH);
	unlink(bind);
	unlink(link_);
	unlink(copy);
	agent_free(&a);
	return ret;
}

/* t-a opens its device and forks; the child moves to t-c and uses the descriptor. */
static int fork_child(void *arg)
{
	int fd = open(acc, O_RDWR), st;
	pid_t p;
	int *out = arg;

	if (fd < 0)
		return errno;
	p = fork();
	if (p == 0) {
		int e;

		if (cg_enter("/t-c"))
			_exit(100);
		e = do_ioctl_fd(&fd);
		_exit(e == ENOTTY ? 0 : e == EPERM ? 1 : 2);
	}
	waitpid(p, &st, 0);
	close(fd);
	*out = p;
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	return WEXITSTATUS(st) == 0 ? ENOTTY : WEXITSTATUS(st) == 1 ? EPERM : EIO;
}

/* t-a passes its descriptor to t-c over a Unix socket (SCM_RIGHTS). */
static int pass_fd(void *arg)
{
	int sv[2], fd, st, *out = arg;
	pid_t p;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return errno;
	p = fork();
	if (p == 0) {
		char c, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { &c, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		int rfd, e;

		close(sv[0]);
		if (cg_enter("/t-c"))
			_exit(100);
		if (recvmsg(sv[1], &mh, 0) != 1)
			_exit(3);
		if (!CMSG_FIRSTHDR(&mh))
			_exit(mh.msg_flags & MSG_CTRUNC ? 4 : 3); /* 4: refused on arrival */
		memcpy(&rfd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		e = do_ioctl_fd(&rfd);
		_exit(e == ENOTTY ? 0 : e == EPERM ? 1 : 2);
	}
	close(sv[1]);
	fd = open(acc, O_RDWR);
	{
		char c = 'x', cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { &c, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sv[0], &mh, 0) != 1)
			return errno;
	}
	waitpid(p, &st, 0);
	close(fd);
	close(sv[0]);
	*out = p;
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	if (WEXITSTATUS(st) == 4)
		return RX_REFUSED;
	return WEXITSTATUS(st) == 0 ? ENOTTY : WEXITSTATUS(st) == 1 ? EPERM : EIO;
}

/* an int that a child can set and the parent read */
static int *mmap_shared_int(void)
{
	int *p = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		abort();
	*p = 0;
	return p;
}

/* sync_op: the operation denied at tiers 1-2; tp_op: the one killed at tier 3 ("receive": at the
 * descriptor's arrival, before any ioctl: asserted) */
static int fd_into_other_tenant(child_fn fn, const char *what, const char *sync_op,
				const char *tp_op)
{
	struct cfg_opts o = { .mode = "enforce" };
	struct agent a;
	int ret = 1, want;
	struct child_res r;
	int *shared = mmap_shared_int();

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	r = run_in("/t-a", fn, shared);
	if (agent_stop(&a))
		goto out;
	want = enforce_is_sync(&a) ? EPERM : 1000 + SIGKILL;
	/* reads: arrival (tiers 1-2): judged where it arrives, as at tier 3, but a received
	 * descriptor is refused (file_receive) rather than its receiver killed */
	if (arrival(&a) && (fn == pass_fd || fn == fork_child))
		want = fn == pass_fd ? RX_REFUSED : 1000 + SIGKILL;
	if (r.err != want) {
		FAIL_OUT("%s: result %d, expected %d (tier %s)", what, r.err,
			 want, a.tier);
	}
	{
		/* pidfd_getfd: refused by the ptrace check first, in both modes */
		bool arr = arrival(&a) && (fn == pass_fd || fn == fork_child);
		const char *op = enforce_is_sync(&a) && !arr ? sync_op : tp_op;
		bool dev = strcmp(op, "ptrace") != 0;
		struct match m = { .op = op, .major = dev ? ACC_MAJOR : -1,
				   .minor = dev ? ACC_MINOR : -1, .cgroup = "/t-c", .pid = *shared };
		const char *act = !enforce_is_sync(&a) || (arr && fn != pass_fd) ? "killed" : "denied";

		if (expect(&a, &m, "cross_tenant", act, what))
			goto out;
		m.op = "ioctl";
		if (!strcmp(op, "receive") && find(&a, &m))
			FAIL_OUT("%s: killed on arrival, yet an ioctl was judged", what);
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

/* tier 3: the child carried the descriptor into t-c by its move (cgroup_attach_task): killed
 * there, before its ioctl */
static int test_fork_after_open(void)
{
	return fd_into_other_tenant(fork_child, "fork after open, child in another tenant", "ioctl",
				    "receive");
}

static int test_fd_passed(void)
{
	return fd_into_other_tenant(pass_fd, "descriptor passed over SCM_RIGHTS", "ioctl", "receive");
}

/* A descriptor held since before the agent started is found by the /proc scan. */
static int test_preexisting(void)
{
	struct cfg_opts o = { .mode = "audit" };
	struct agent a;
	int p[2], ret = 1;
	pid_t holder;
	char c;

	if (pipe(p))
		FAIL("pipe");
	holder = fork();
	if (holder == 0) {
		int fd;

		close(p[0]);
		if (cg_enter("/t-b"))
			_exit(100);
		fd = open(acc, O_RDWR);
		if (fd < 0)
			_exit(101);
		if (write(p[1], "x", 1) != 1)
			_exit(102);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		FAIL("holder did not open %s", acc);
	}
	close(p[0]);
	if (agent_start(&a, &o, NULL)) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	}
	if (agent_stop(&a))
		goto out;
	{
		struct match m = { .op = "open", .major = ACC_MAJOR, .minor = ACC_MINOR,
				   .cgroup = "/t-b", .pid = holder, .hook = "scan" };

		if (expect(&a, &m, "cross_tenant", "observed", "descriptor held before start"))
			goto out;
		/* reads: arrival: a violating descriptor found at start is one arrival not stopped */
		if (arrival(&a) && expect_per_use(&a, "scan", "descriptor held before start"))
			goto out;
	}
	ret = 0;
out:
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	agent_free(&a);
	return ret;
}

/* ---- descriptors held by threads the group leader's table does not show ------------------------- */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>

struct thr_hold {
	int ready; /* pipe: one byte once the device is open */
	bool unshare;
};

static void *thr_hold_fn(void *arg)
{
	struct thr_hold *h = arg;

	if (h->unshare && unshare(CLONE_FILES))
		_exit(103);
	if (open(acc, O_RDWR) < 0)
		_exit(101);
	if (write(h->ready, "x", 1) != 1)
		_exit(102);
	for (;;)
		pause();
	return NULL;
}

/* A process in t-b whose second thread holds t-a's 1:7: after its group leader exited
 * (pthread_exit), or in a table of its own (unshare(CLONE_FILES)); -1 when it did not start. */
static pid_t thr_holder(bool unshare_files)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		static struct thr_hold h;
		pthread_t t;

		close(p[0]);
		if (cg_enter("/t-b"))
			_exit(100);
		h.ready = p[1];
		h.unshare = unshare_files;
		if (pthread_create(&t, NULL, thr_hold_fn, &h))
			_exit(104);
		if (!unshare_files)
			pthread_exit(NULL); /* the leader goes, the process stays */
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* whether /proc/PID/fd (the leader's table) shows a descriptor of 1:7 */
static bool leader_table_has_acc(pid_t pid)
{
	char p[64];
	struct dirent *e;
	bool has = false;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/fd", pid);
	d = opendir(p);
	while (d && (e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] != '.' && !fstatat(dirfd(d), e->d_name, &st, 0) &&
		    S_ISCHR(st.st_mode) && st.st_rdev == makedev(ACC_MAJOR, ACC_MINOR))
			has = true;
	}
	if (d)
		closedir(d);
	return has;
}

/* The start-up scan reads every thread's table: a descriptor held after the leader exited, and one
 * in a table a thread unshared, are found (neither is in /proc/PID/fd: asserted). */
static int test_preexisting_threads(void)
{
	struct cfg_opts o = { .mode = "audit" };
	const char *what[2] = { "leader exited", "thread with unshare(CLONE_FILES)" };
	pid_t holder[2] = { -1, -1 };
	struct agent a = { 0 };
	int ret = 1;

	for (int i = 0; i < 2; i++) {
		double deadline = now_s() + 5 * timeout_scale;

		holder[i] = thr_holder(i == 1);
		if (holder[i] < 0)
			FAIL_OUT("%s: the holder did not open %s", what[i], acc);
		/* the leader's pthread_exit may finish after the thread opened the device */
		while (leader_table_has_acc(holder[i]) && now_s() < deadline)
			usleep(20000);
		if (leader_table_has_acc(holder[i]))
			FAIL_OUT("%s: /proc/%d/fd shows the descriptor: the case is not set up", what[i],
				 holder[i]);
	}
	if (agent_start(&a, &o, NULL))
		FAIL_OUT("agent did not become ready: %.300s", read_all(a.errlog));
	if (agent_stop(&a))
		goto out;
	for (int i = 0; i < 2; i++) {
		struct match m = { .op = "open", .major = ACC_MAJOR, .minor = ACC_MINOR,
				   .cgroup = "/t-b", .pid = holder[i], .hook = "scan" };

		if (expect(&a, &m, "cross_tenant", "observed", what[i]))
			goto out;
		if (count(&a, &m) != 1)
			FAIL_OUT("%s: %zu scan events, expected 1", what[i], count(&a, &m));
	}
	ret = 0;
out:
	for (int i = 0; i < 2; i++)
		if (holder[i] > 0) {
			kill(holder[i], SIGKILL);
			waitpid(holder[i], NULL, 0);
		}
	agent_free(&a);
	return ret;
}

/* A tenant cgroup made while the agent runs is known from the cgroup tracepoints. */
static int test_new_tenant(void)
{
	struct cfg_opts o = { .mode = "enforce" };
	struct agent a;
	struct child_res r;
	char needle[300];
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	cg_remove("/t-new");
	if (cg_make("/t-new")) {
		FAIL_OUT("mkdir t-new: %s", strerror(errno));
	}
	snprintf(needle, sizeof(needle), "\"path\":\"%s/t-new\"", root);
	if (!wait_line(&a, "\"type\":\"tenant\"", needle, 10)) {
		FAIL_OUT("no tenant event for the new cgroup");
	}
	r = run_in("/t-new", do_open, gpu1);
	if (agent_stop(&a))
		goto out;
	if (r.err != EPERM) {
		FAIL_OUT("open from the new tenant: errno %d, expected EPERM",
			 r.err);
	}
	{
		struct match m = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-new", .pid = r.pid };

		if (expect(&a, &m, "unmediated", "denied", "new tenant"))
			goto out;
	}
	ret = 0;
out:
	agent_free(&a);
	cg_remove("/t-new");
	return ret;
}

/* A tenant cgroup whose path is longer than the kernel's event record carries (255 bytes) is
 * still known by its real path. */
static int test_long_path(void)
{
	struct cfg_opts o = { .mode = "enforce" };
	char rel[400], name[251], needle[600];
	struct agent a;
	struct child_res r;
	int ret = 1;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	/* a tenant of its own (a sub-cgroup is its tenant's member: it has no tenant event) */
	snprintf(rel, sizeof(rel), "/t-%s", name);
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	cg_remove(rel);
	cg_remove("/t-new");
	if (cg_make("/t-new") || cg_make(rel))
		FAIL_OUT("mkdir: %s", strerror(errno));
	snprintf(needle, sizeof(needle), "%s%s\"", root, rel);
	if (!wait_line(&a, "\"type\":\"tenant\"", needle, 10))
		FAIL_OUT("no tenant event with the full path (%zu bytes)", strlen(root) + strlen(rel));
	r = run_in(rel, do_open, gpu1);
	if (agent_stop(&a))
		goto out;
	if (r.err != EPERM)
		FAIL_OUT("open from the long-path cgroup: errno %d, expected EPERM", r.err);
	{
		struct match m = { .op = "open", .major = NV, .minor = 1, .cgroup = rel, .pid = r.pid };

		if (expect(&a, &m, "unmediated", "denied", "long path"))
			goto out;
	}
	ret = 0;
out:
	agent_free(&a);
	cg_remove(rel);
	cg_remove("/t-new");
	return ret;
}

/* An access right after the cgroup appears, before the agent could have written its policy: the
 * kernel sees a child of a tenant parent with no entry (unresolved), and the agent re-judges it
 * once it knows. Either way the stream ends with the true verdict. */
static int test_new_tenant_race(void)
{
	struct cfg_opts o = { .mode = "audit" };
	struct agent a;
	struct child_res r;
	json_object *e;
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	cg_remove("/t-race");
	cg_make("/t-race");
	r = run_in("/t-race", do_open, gpu1);
	usleep(300000);
	if (agent_stop(&a))
		goto out;
	{
		struct match m = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-race", .pid = r.pid };
		struct match mr = m;

		mr.rejudged = true;
		e = find(&a, &m);
		if (!e) {
			FAIL_OUT("no event for the open");
		}
		if (!strcmp(jstr(e, "verdict"), "unresolved")) {
			if (expect(&a, &mr, "unmediated", "observed", "re-judged"))
				goto out;
		} else if (strcmp(jstr(e, "verdict"), "unmediated")) {
			FAIL_OUT("verdict %s", jstr(e, "verdict"));
		}
	}
	ret = 0;
out:
	agent_free(&a);
	cg_remove("/t-race");
	return ret;
}

struct flood {
	int fd;
	int n;
};

static int do_flood(void *arg)
{
	struct flood *f = arg;
	int v;

	for (int i = 0; i < f->n; i++)
		ioctl(f->fd, FIONREAD, &v);
	return 0;
}

/* A flood through a tiny ring buffer: events are lost, but never silently, and the kernel's
 * counts stay exact. */
static int test_drops_accounted(void)
{
	struct cfg_opts o = { .mode = "audit", .rate_limit = 10000000 };
	const char *args[] = { "--ringbuf-kb", "4", NULL };
	struct flood f = { .n = 100000 };
	struct agent a;
	json_object *s;
	long long events, dropped, viol, ioctls;
	struct match m = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-c" };
	struct match md = { .type = "drops", .major = -1, .minor = -1 };
	int ret = 1;

	if (agent_start(&a, &o, args))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	f.fd = open_carried(acc);
	run_in("/t-c", do_flood, &f);
	close(f.fd);
	if (agent_stop(&a))
		goto out;
	s = summary(&a);
	if (!s) {
		FAIL_OUT("no summary");
	}
	events = count(&a, &m);
	dropped = jint(s, "drops.violation");
	viol = jint(s, "violations.total");
	ioctls = jint(s, "accesses.ioctl.cross_tenant"); /* the device is t-a's */
	if (ioctls != f.n || viol != f.n) {
		snprintf(failmsg, sizeof(failmsg), "kernel counted %lld ioctls, %lld violations; %d made",
			 ioctls, viol, f.n);
		goto out;
	}
	if (dropped <= 0 || !find(&a, &md)) {
		FAIL_OUT("no drops reported (%lld events of %d)", events, f.n);
	}
	if (events + dropped + jint(s, "violations.suppressed") != f.n) {
		FAIL_OUT("%lld events + %lld dropped + %lld suppressed != %d",
			 events, dropped, jint(s, "violations.suppressed"), f.n);
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

/* One tenant's flood is rate-limited; another tenant's single violation still gets its event,
 * and every suppressed violation is accounted for. */
static int test_flood_isolation(void)
{
	struct cfg_opts o = { .mode = "audit", .rate_limit = 100 };
	struct flood f = { .n = 20000 };
	struct agent a;
	struct child_res rb;
	json_object *s;
	long long events, supp = 0;
	struct match m = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-c" };
	struct match mb = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-b" };
	struct match ms = { .type = "suppressed", .major = -1, .minor = -1, .cgroup = "/t-c" };
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	f.fd = open_carried(acc);
	run_in("/t-c", do_flood, &f);
	rb = run_in("/t-b", do_ioctl_fd, &f.fd);
	close(f.fd);
	if (agent_stop(&a))
		goto out;
	s = summary(&a);
	mb.pid = rb.pid;
	if (expect(&a, &mb, "cross_tenant", "observed", "the other tenant's single violation"))
		goto out;
	events = count(&a, &m);
	for (size_t i = 0; i < a.n_ev; i++)
		if (matches(a.ev[i], &ms))
			supp += jint(a.ev[i], "count");
	if (events > f.n / 2 || supp == 0) {
		FAIL_OUT("flood not limited: %lld events, %lld suppressed",
			 events, supp);
	}
	if (events + supp + jint(s, "drops.violation") != f.n) {
		FAIL_OUT("%lld events + %lld suppressed + %lld dropped != %d",
			 events, supp, jint(s, "drops.violation"), f.n);
	}
	if (jint(s, "violations.total") != f.n + 1) {
		FAIL_OUT("violations.total %lld, expected %d",
			 jint(s, "violations.total"), f.n + 1);
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

/* Tenants that flood and then go away, more of them than the kernel's per-tenant map holds: the
 * agent frees each one's entry when its cgroup goes, so the last still gets its rate limit, and
 * every violation stays accounted for (events + suppressed, and the summary). */
static int test_retired_tenants(void)
{
	struct cfg_opts o = { .mode = "audit", .rate_limit = 100 };
	const char *args[] = { "--max-cgroups", "64", NULL };
	enum { TENANTS = 70, EACH = 150 };
	struct flood f = { .n = EACH };
	struct match ms = { .type = "suppressed", .major = -1, .minor = -1 };
	struct match m = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR };
	char cg[32], needle[300];
	struct agent a;
	long long events = 0, supp = 0, last_events, last_supp = 0;
	json_object *s;
	int ret = 1;

	if (agent_start(&a, &o, args))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	f.fd = open_carried(acc);
	for (int i = 0; i < TENANTS; i++) {
		snprintf(cg, sizeof(cg), "/t-gone%d", i);
		if (cg_make(cg))
			FAIL_OUT("mkdir %s: %s", cg, strerror(errno));
		run_in(cg, do_flood, &f);
		cg_remove(cg);
		snprintf(needle, sizeof(needle), "\"path\":\"%s%s\"", root, cg);
		if (!wait_line(&a, "\"event\":\"removed\"", needle, 10))
			FAIL_OUT("no tenant event for the removal of %s", cg);
	}
	close(f.fd);
	if (agent_stop(&a))
		goto out;
	for (size_t i = 0; i < a.n_ev; i++) {
		events += matches(a.ev[i], &m) && strstr(jstr(a.ev[i], "cgroup.path"), "/t-gone");
		if (matches(a.ev[i], &ms) && strstr(jstr(a.ev[i], "cgroup.path"), "/t-gone"))
			supp += jint(a.ev[i], "count");
	}
	snprintf(cg, sizeof(cg), "/t-gone%d", TENANTS - 1);
	m.cgroup = ms.cgroup = cg;
	last_events = count(&a, &m);
	for (size_t i = 0; i < a.n_ev; i++)
		if (matches(a.ev[i], &ms))
			last_supp += jint(a.ev[i], "count");
	if (last_events > EACH - 1 || last_supp == 0)
		FAIL_OUT("the last tenant got %lld events, %lld suppressed: no rate limit (map full?)",
			 last_events, last_supp);
	s = summary(&a);
	if (events + supp != TENANTS * EACH || !s || jint(s, "violations.total") != TENANTS * EACH)
		FAIL_OUT("%lld events + %lld suppressed, summary total %lld; %d violations made", events,
			 supp, s ? jint(s, "violations.total") : -1, TENANTS * EACH);
	ret = 0;
out:
	agent_free(&a);
	for (int i = 0; i < TENANTS; i++) {
		snprintf(cg, sizeof(cg), "/t-gone%d", i);
		cg_remove(cg);
	}
	return ret;
}

/* Process names with quotes, backslashes, newlines and control bytes stay valid, exact JSON. */
static int do_hostile_open(void *path)
{
	prctl(PR_SET_NAME, "e\"v\\l\n\x01\xff\x7f", 0, 0, 0);
	return do_open(path);
}

static int test_hostile_names(void)
{
	struct cfg_opts o = { .mode = "audit" };
	struct agent a;
	struct child_res r;
	json_object *e;
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	r = run_in("/t-c", do_hostile_open, gpu1);
	if (agent_stop(&a)) /* every line must parse */
		goto out;
	{
		struct match m = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-c", .pid = r.pid };

		e = find(&a, &m);
		if (!e) {
			FAIL_OUT("no event");
		}
		/* \xff is no UTF-8: it comes back as U+00FF's escape, visibly, not as raw bytes */
		if (strcmp(jstr(e, "process.comm"), "e\"v\\l\n\x01\xc3\xbf\x7f")) {
			FAIL_OUT("comm came back as '%s'", jstr(e, "process.comm"));
		}
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

/* The journal's disk fills up: the agent keeps running, says so, and leaves no half-written line. */
static int test_full_disk(void)
{
	struct cfg_opts o = { .mode = "audit", .rate_limit = 10000000 };
	struct flood f = { .n = 3000 };
	char mnt[600], saved[sizeof(workdir)], *log;
	struct agent a;
	int ret = 1, alive;

	snprintf(mnt, sizeof(mnt), "%s/small", workdir);
	mkdir(mnt, 0755);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=16k"))
		SKIP("cannot mount a small tmpfs: %s", strerror(errno));
	/* the agent's journal goes to the small file system */
	memcpy(saved, workdir, sizeof(saved));
	snprintf(workdir, sizeof(workdir), "%s", mnt);
	if (agent_start(&a, &o, NULL)) {
		FAIL_OUT("agent did not become ready: %.300s",
			 read_all(a.errlog));
	}
	f.fd = open_carried(acc);
	run_in("/t-c", do_flood, &f);
	close(f.fd);
	usleep(300000);
	alive = kill(a.pid, 0) == 0;
	if (agent_stop(&a)) /* every line in the journal must parse: nothing half-written */
		goto out;
	log = read_all(a.errlog);
	if (!alive || a.exit_status != 0 || !strstr(log, "cannot write")) {
		snprintf(failmsg, sizeof(failmsg), "alive %d, exit %d, stderr: %.300s", alive,
			 a.exit_status, log);
		free(log);
		goto out;
	}
	free(log);
	if (a.n_ev < 2) {
		FAIL_OUT("only %zu events before the disk filled", a.n_ev);
	}
	ret = 0;
out:
	agent_free(&a);
	memcpy(workdir, saved, sizeof(workdir));
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	return ret;
}

/* A bad configuration is refused at start with the file, the line and the reason. */
static int test_bad_config(void)
{
	char cfg[700], errlog[700], cmd[2200], *err;
	int st;

	snprintf(cfg, sizeof(cfg), "%s/bad.yaml", workdir);
	snprintf(errlog, sizeof(errlog), "%s/bad.log", workdir);
	write_file(cfg, "mode: audit\ntenants: [\"/x/*\"]\nallocations:\n  - cgroup: /x/a\n    devices: [\"nope\"]\n");
	snprintf(cmd, sizeof(cmd), "%s run --config %s --duration 1 >/dev/null 2>%s", agent_bin, cfg,
		 errlog);
	st = system(cmd);
	err = read_all(errlog);
	snprintf(cmd, sizeof(cmd), "%s:5:", cfg);
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 0 || !strstr(err, cmd)) {
		snprintf(failmsg, sizeof(failmsg), "exit %d, stderr: %.300s", WEXITSTATUS(st), err);
		free(err);
		return 1;
	}
	free(err);
	return 0;
}

/* A configuration that anyone can write is refused at start, naming the file and the cause: the
 * agent does not start (README "Configuration", Evasion suite "editing the agent's
 * configuration"). */
static int test_bad_config_writable(void)
{
	char cfg[700], errlog[700], want[1000], cmd[2200], *err;
	int st;

	snprintf(cfg, sizeof(cfg), "%s/writable.yaml", workdir);
	snprintf(errlog, sizeof(errlog), "%s/writable.log", workdir);
	write_file(cfg, "mode: enforce\ntenants: [\"/x/*\"]\n");
	if (chmod(cfg, 0666)) {
		snprintf(failmsg, sizeof(failmsg), "chmod %s: %s", cfg, strerror(errno));
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "%s run --config %s --duration 1 >/dev/null 2>%s", agent_bin, cfg,
		 errlog);
	st = system(cmd);
	err = read_all(errlog);
	snprintf(want, sizeof(want),
		 "config: %s: writable by group and others (mode 0666): anyone who can write it can "
		 "turn enforcement off; chmod go-w it", cfg);
	/* refused before anything was loaded: no ready event, no programs */
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 0 || !err || !strstr(err, want) ||
	    strstr(err, "ready")) {
		snprintf(failmsg, sizeof(failmsg), "exit %d, stderr: %.400s", WEXITSTATUS(st),
			 err ? err : "(none)");
		free(err);
		return 1;
	}
	free(err);
	unlink(cfg);
	return 0;
}

/* Read what is in the FIFO (up to the end when wait_eof) and append it to the file out. */
static int fifo_drain(int rfd, const char *out, bool wait_eof, double secs, char *seen, size_t seen_len)
{
	double deadline = now_s() + secs * timeout_scale;
	int ofd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
	char buf[65536];
	size_t kept = seen ? strlen(seen) : 0;

	if (ofd < 0)
		return -1;
	while (now_s() < deadline) {
		struct pollfd p = { .fd = rfd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(rfd, buf, sizeof(buf));
		if (n == 0 && !wait_eof) { /* no writer yet */
			usleep(20000);
			continue;
		}
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN)
				break;
			continue;
		}
		if (write(ofd, buf, n) != n)
			break;
		if (seen && kept + 1 < seen_len) {
			size_t c = (size_t)n < seen_len - kept - 1 ? (size_t)n : seen_len - kept - 1;

			memcpy(seen + kept, buf, c);
			kept += c;
			seen[kept] = 0;
		}
		if (!wait_eof && seen && strstr(seen, "\"type\":\"ready\""))
			break;
	}
	close(ofd);
	return 0;
}

/*
 * The event journal is a FIFO nobody reads: the agent's writer blocks, its bounded queue fills,
 * and still the ring buffer is consumed (the kernel drops next to nothing), the policy of a new
 * tenant is written (its open is judged unmediated, not unresolved), the kernel's counts stay
 * exact, and the events the sink could not take are counted in summary.sinks.json.dropped.
 */
static int test_blocked_sink(void)
{
	struct cfg_opts o = { .mode = "audit", .rate_limit = 10000000 };
	struct flood f = { .n = 100000 };
	char fifo[700], seen[8192] = "";
	const char *argv[24];
	struct child_res r;
	struct agent a;
	json_object *s;
	long long dropped, queued, ring, viol, unres, unmed;
	int rfd = -1, n = 0, ret = 1;

	memset(&a, 0, sizeof(a));
	write_config(&a, &o);
	snprintf(fifo, sizeof(fifo), "%s/events.fifo", workdir);
	snprintf(a.events, sizeof(a.events), "%s/events.jsonl", workdir);
	snprintf(a.errlog, sizeof(a.errlog), "%s/agent.log", workdir);
	unlink(fifo);
	unlink(a.events);
	cg_remove("/t-new");
	if (mkfifo(fifo, 0600))
		FAIL("mkfifo: %s", strerror(errno));
	rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a reader exists: the agent's open succeeds */
	if (rfd < 0)
		FAIL("open fifo: %s", strerror(errno));
	argv[n++] = agent_bin;
	argv[n++] = "run";
	argv[n++] = "--config";
	argv[n++] = a.cfg;
	argv[n++] = "--events";
	argv[n++] = fifo;
	for (int i = 0; i < n_agent_args && n < 22; i++)
		argv[n++] = agent_args[i];
	argv[n] = NULL;
	a.pid = fork();
	if (a.pid == 0) {
		int fd = open(a.errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		execv(agent_bin, (char **)argv);
		_exit(127);
	}
	fifo_drain(rfd, a.events, false, 60, seen, sizeof(seen));
	if (!strstr(seen, "\"type\":\"ready\""))
		FAIL_OUT("agent did not become ready: %.300s", read_all(a.errlog));
	/* from now on nobody reads: 64 KiB of pipe, then the sink's queue, then drops */
	f.fd = open_carried(acc);
	run_in("/t-c", do_flood, &f);
	close(f.fd);
	/* the loop goes on: a new tenant's policy is written while the sink is stuck */
	if (cg_make("/t-new"))
		FAIL_OUT("mkdir t-new: %s", strerror(errno));
	usleep(500000 * timeout_scale);
	r = run_in("/t-new", do_open, gpu1);
	usleep(200000);
	if (kill(a.pid, SIGTERM))
		FAIL_OUT("the agent is gone");
	/* now read everything: the agent writes what it holds, the summary, and exits */
	fifo_drain(rfd, a.events, true, 20, NULL, 0);
	if (agent_stop(&a)) /* every line must parse: nothing half-written */
		goto out;
	if (a.exit_status != 0)
		FAIL_OUT("agent exit %d: %.300s", a.exit_status, read_all(a.errlog));
	if (r.err != ENXIO)
		FAIL_OUT("open from the new tenant: errno %d, expected ENXIO (audit)", r.err);
	if (!(s = summary(&a)))
		FAIL_OUT("no summary");
	dropped = jint(s, "sinks.json.dropped");
	queued = jint(s, "sinks.json.queued");
	ring = jint(s, "drops.total");
	viol = jint(s, "violations.total");
	unres = jint(s, "accesses.open.unresolved");
	unmed = jint(s, "accesses.open.unmediated");
	if (viol != f.n + 1 || jint(s, "accesses.ioctl.cross_tenant") != f.n)
		FAIL_OUT("kernel counted %lld violations, %lld ioctls; %d made", viol,
			 jint(s, "accesses.ioctl.cross_tenant"), f.n);
	if (dropped <= 0)
		FAIL_OUT("the sink dropped nothing (queued %lld)", queued);
	/* a consumer that waited for the sink would have taken the pipe's and one batch's worth,
	 * then left the ring buffer to fill: 2 MiB of 104-byte records, about 20,000, the rest
	 * dropped. (On a one-CPU guest the ring drops some under the flood anyway: the consumer
	 * and the flood share the CPU.) */
	if (f.n - ring < 30000)
		FAIL_OUT("the ring buffer dropped %lld of %d: its consumer waited for the sink", ring,
			 f.n);
	if (unres != 0 || unmed != 1)
		FAIL_OUT("the new tenant's open was judged unresolved %lld, unmediated %lld: its "
			 "policy waited for the sink", unres, unmed);
	/* what the sink took is what it wrote, and it dropped the rest of what the loop made */
	if (jint(s, "sinks.json.written") != queued || jint(s, "sinks.json.lost") != 0)
		FAIL_OUT("sink queued %lld, wrote %lld, lost %lld", queued,
			 jint(s, "sinks.json.written"), jint(s, "sinks.json.lost"));
	if ((long long)a.n_lines != queued + 1)
		FAIL_OUT("%zu lines in the journal, the sink queued %lld (+ the summary)", a.n_lines,
			 queued);
	ret = 0;
out:
	if (rfd >= 0)
		close(rfd);
	agent_free(&a);
	unlink(fifo);
	cg_remove("/t-new");
	return ret;
}

/* ---- a driver that registers after the agent started ------------------------------------------ */

#define UVM_MAJOR 238 /* a dynamic major no driver holds here (checked) */

/* the /proc/devices fixture, replaced in one rename: the agent never reads half a file */
static int write_proc_devices(const char *dir, bool uvm)
{
	char tmp[800], path[800], text[256];

	snprintf(tmp, sizeof(tmp), "%s/devices.tmp", dir);
	snprintf(path, sizeof(path), "%s/devices", dir);
	snprintf(text, sizeof(text),
		 "Character devices:\n  1 mem\n  5 /dev/tty\n%s\n\nBlock devices:\n  7 loop\n",
		 uvm ? "238 nvidia-uvm" : "");
	if (write_file(tmp, text))
		return -1;
	return rename(tmp, path) ? -errno : 0;
}

static bool char_major_taken(unsigned int major)
{
	char *t = read_all("/proc/devices"), *line, *save = NULL;
	bool in_char = false, taken = false;

	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(line, "Character devices:"))
			in_char = true;
		else if (!strcmp(line, "Block devices:"))
			in_char = false;
		else if (in_char && (unsigned int)atoi(line) == major)
			taken = true;
	}
	free(t);
	return taken;
}

/*
 * nvidia-uvm loads on first CUDA use, after the agent: once its major appears in /proc/devices
 * (a fixture named by host.proc here), the agent watches it within a second, says so in a
 * `devices` event, and judges accesses to it: allowed to a tenant holding an NVIDIA GPU (a
 * control node), denied to one holding nothing. When the driver goes, the major is forgotten.
 */
static int test_driver_appears(void)
{
	char procdir[700], extra[800], uvm[600];
	struct cfg_opts o = { .mode = "enforce", .extra = extra };
	struct match mb = { .op = "open", .major = UVM_MAJOR, .minor = 0, .cgroup = "/t-b" };
	struct match mc = { .op = "open", .major = UVM_MAJOR, .minor = 0, .cgroup = "/t-c" };
	struct match md = { .type = "devices", .major = -1, .minor = -1 };
	struct child_res before, b, c, after;
	json_object *e, *added;
	struct agent a;
	double t0, took;
	int ret = 1;

	if (char_major_taken(UVM_MAJOR))
		SKIP("character major %d is taken on this machine", UVM_MAJOR);
	snprintf(procdir, sizeof(procdir), "%s/proc", workdir);
	mkdir(procdir, 0755);
	snprintf(extra, sizeof(extra), "host:\n  proc: %s\n", procdir);
	if (write_proc_devices(procdir, false) || node(uvm, sizeof(uvm), "nvidia-uvm", UVM_MAJOR, 0))
		FAIL("fixture: %s", strerror(errno));
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	/* not an accelerator yet: the open reaches no driver (ENXIO) and no verdict */
	before = run_in("/t-c", do_open, uvm);
	t0 = now_s();
	if (write_proc_devices(procdir, true))
		FAIL_OUT("fixture: %s", strerror(errno));
	if (!wait_line(&a, "\"type\":\"devices\"", "\"class\":\"nvidia-uvm\"", 5))
		FAIL_OUT("no devices event for nvidia-uvm");
	took = now_s() - t0;
	b = run_in("/t-b", do_open, uvm);
	c = run_in("/t-c", do_open, uvm);
	/* the driver goes */
	if (write_proc_devices(procdir, false))
		FAIL_OUT("fixture: %s", strerror(errno));
	if (!wait_line(&a, "\"type\":\"devices\"", "\"removed\":[{", 5))
		FAIL_OUT("no devices event for nvidia-uvm going");
	after = run_in("/t-c", do_open, uvm);
	if (agent_stop(&a))
		goto out;
	if (before.err != ENXIO || after.err != ENXIO)
		FAIL_OUT("opens while no driver was registered: errno %d and %d, expected ENXIO",
			 before.err, after.err);
	mc.pid = before.pid;
	if (find(&a, &mc))
		FAIL_OUT("an access event for the major before its driver registered");
	mc.pid = after.pid;
	if (find(&a, &mc))
		FAIL_OUT("an access event for the major after its driver went");
	if (took > 1.5 * timeout_scale)
		FAIL_OUT("the new major was watched after %.2f s (goal: within 1 s)", took);
	e = find(&a, &md);
	if (!e || !json_object_object_get_ex(e, "added", &added) ||
	    json_object_array_length(added) != 2 ||
	    strcmp(jstr(json_object_array_get_idx(added, 0), "class"), "nvidia-uvm") ||
	    jint(json_object_array_get_idx(added, 0), "major") != UVM_MAJOR ||
	    strcmp(jstr(json_object_array_get_idx(added, 1), "class"), "nvidia-uvm-tools"))
		FAIL_OUT("devices event: %.300s", e ? json_object_to_json_string(e) : "none");
	if (b.err != ENXIO)
		FAIL_OUT("open of nvidia-uvm by a tenant holding a GPU: errno %d, expected ENXIO", b.err);
	if (c.err != EPERM)
		FAIL_OUT("open of nvidia-uvm by a tenant holding nothing: errno %d, expected EPERM", c.err);
	mb.pid = b.pid;
	mc.pid = c.pid;
	if (expect(&a, &mb, "allowed", "observed", "nvidia-uvm, tenant with a GPU") ||
	    expect(&a, &mc, "unmediated", "denied", "nvidia-uvm, tenant with nothing"))
		goto out;
	e = find(&a, &mc);
	if (strcmp(jstr(e, "device.class"), "nvidia-uvm"))
		FAIL_OUT("class %s, expected nvidia-uvm", jstr(e, "device.class"));
	ret = 0;
out:
	agent_free(&a);
	unlink(uvm);
	return ret;
}


/* ---- VFIO groups (issue 22: a Kata-style VMM opens /dev/vfio/N) -------------------------------- */

#define VFIO_MAJOR_T 239 /* a dynamic major no driver holds here (checked): vfio's, in the fixture */

/* a VFIO group NAME (N or noiommu-N) of the fixture sysfs sys, as minor, holding one PCI device */
static int vfio_group(const char *sys, const char *name, unsigned int group, unsigned int minor,
		      const char *bdf, const char *cls, const char *vendor)
{
	char p[900], v[32];

	snprintf(p, sizeof(p), "mkdir -p '%s/class/vfio/%s' '%s/kernel/iommu_groups/%u/devices/%s'",
		 sys, name, sys, group, bdf);
	if (system(p))
		return -1;
	snprintf(p, sizeof(p), "%s/kernel/iommu_groups/%u/devices/%s/class", sys, group, bdf);
	if (write_file(p, cls))
		return -1;
	snprintf(p, sizeof(p), "%s/kernel/iommu_groups/%u/devices/%s/vendor", sys, group, bdf);
	if (write_file(p, vendor))
		return -1;
	/* dev last: the agent takes a group once its number is there */
	snprintf(p, sizeof(p), "%s/class/vfio/%s/dev", sys, name);
	snprintf(v, sizeof(v), "%d:%u\n", VFIO_MAJOR_T, minor);
	return write_file(p, v);
}

/*
 * A VFIO group is an accelerator node when its PCI device is a GPU (host.sys names a fixture
 * sysfs here): opened from a tenant that holds nothing it is denied (unmediated, class vfio-gpu),
 * while a NIC's group on the same major is no accelerator (ENXIO: no driver, no verdict). A GPU
 * bound to vfio-pci later (here a group in no-IOMMU mode) is classed within a second, with a
 * `devices` event.
 */
static int test_vfio_group(void)
{
	char sys[700], extra[800], gpu[600], nic[600], later[600];
	struct cfg_opts o = { .mode = "enforce", .extra = extra };
	struct match mg = { .op = "open", .major = VFIO_MAJOR_T, .minor = 0, .cgroup = "/t-c" };
	struct match mn = { .op = "open", .major = VFIO_MAJOR_T, .minor = 1, .cgroup = "/t-c" };
	struct match ml = { .op = "open", .major = VFIO_MAJOR_T, .minor = 2, .cgroup = "/t-c" };
	struct match md = { .type = "devices", .major = -1, .minor = -1 };
	struct child_res g, n, l;
	json_object *e, *added;
	struct agent a;
	double t0, took;
	int ret = 1;

	if (char_major_taken(VFIO_MAJOR_T))
		SKIP("character major %d is taken on this machine", VFIO_MAJOR_T);
	snprintf(sys, sizeof(sys), "%s/sys", workdir);
	snprintf(extra, sizeof(extra), "host:\n  sys: %s\n", sys);
	if (vfio_group(sys, "7", 7, 0, "0000:c1:00.0", "0x030200\n", "0x10de\n") ||
	    vfio_group(sys, "8", 8, 1, "0000:5f:00.0", "0x020000\n", "0x15b3\n") ||
	    node(gpu, sizeof(gpu), "vfio-7", VFIO_MAJOR_T, 0) ||
	    node(nic, sizeof(nic), "vfio-8", VFIO_MAJOR_T, 1) ||
	    node(later, sizeof(later), "vfio-noiommu-9", VFIO_MAJOR_T, 2))
		FAIL("fixture: %s", strerror(errno));
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	g = run_in("/t-c", do_open, gpu);
	n = run_in("/t-c", do_open, nic);
	t0 = now_s();
	if (vfio_group(sys, "noiommu-9", 9, 2, "0000:00:05.0", "0x038000\n", "0x1002\n"))
		FAIL_OUT("fixture: %s", strerror(errno));
	if (!wait_line(&a, "\"type\":\"devices\"", "\"class\":\"vfio-gpu\",\"major\":239,\"minors\":\"2\"", 5))
		FAIL_OUT("no devices event for the group bound later");
	took = now_s() - t0;
	l = run_in("/t-c", do_open, later);
	if (agent_stop(&a))
		goto out;
	if (g.err != EPERM)
		FAIL_OUT("open of a GPU's VFIO group by a tenant holding nothing: errno %d, expected EPERM",
			 g.err);
	if (n.err != ENXIO)
		FAIL_OUT("open of a NIC's VFIO group: errno %d, expected ENXIO (no accelerator)", n.err);
	if (l.err != EPERM)
		FAIL_OUT("open of the GPU group bound later: errno %d, expected EPERM", l.err);
	if (took > 1.5 * timeout_scale)
		FAIL_OUT("the new group was classed after %.2f s (goal: within 1 s)", took);
	mg.pid = g.pid;
	mn.pid = n.pid;
	ml.pid = l.pid;
	if (expect(&a, &mg, "unmediated", "denied", "the GPU's VFIO group") ||
	    expect(&a, &ml, "unmediated", "denied", "the GPU group bound later"))
		goto out;
	if (find(&a, &mn))
		FAIL_OUT("an access event for the NIC's VFIO group");
	e = find(&a, &mg);
	if (strcmp(jstr(e, "device.class"), "vfio-gpu"))
		FAIL_OUT("class %s, expected vfio-gpu", jstr(e, "device.class"));
	e = find(&a, &md);
	if (!e || !json_object_object_get_ex(e, "added", &added) || json_object_array_length(added) != 1)
		FAIL_OUT("devices event: %.300s", e ? json_object_to_json_string(e) : "none");
	ret = 0;
out:
	agent_free(&a);
	unlink(gpu);
	unlink(nic);
	unlink(later);
	return ret;
}


/* the first VFIO group of this machine (/sys/class/vfio/N) whose IOMMU group holds a GPU (PCI
 * class 0x03 or 0x12): its name into name, its device number into *ma, *mi, the device's address
 * into bdf; false when there is none */
static bool real_vfio_gpu_group(char *name, size_t nlen, unsigned int *ma, unsigned int *mi,
				char *bdf, size_t blen)
{
	DIR *d = opendir("/sys/class/vfio"), *g;
	struct dirent *e, *f;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char p[600], v[64] = "", *t;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue; /* "vfio" (the container), noiommu-N (none in Debian's kernels) */
		snprintf(p, sizeof(p), "/sys/class/vfio/%s/dev", e->d_name);
		t = read_all(p);
		if (!t || sscanf(t, "%u:%u", ma, mi) != 2) {
			free(t);
			continue;
		}
		free(t);
		snprintf(p, sizeof(p), "/sys/kernel/iommu_groups/%s/devices", e->d_name);
		g = opendir(p);
		while (g && !found && (f = readdir(g))) {
			char c[900];

			if (f->d_name[0] == '.')
				continue;
			snprintf(c, sizeof(c), "%s/%s/class", p, f->d_name);
			t = read_all(c);
			snprintf(v, sizeof(v), "%s", t ? t : "");
			free(t);
			if (!strncmp(v, "0x03", 4) || !strncmp(v, "0x12", 4)) {
				snprintf(name, nlen, "%s", e->d_name);
				snprintf(bdf, blen, "%s", f->d_name);
				found = true;
			}
		}
		if (g)
			closedir(g);
	}
	closedir(d);
	return found;
}

/*
 * A real VFIO group holding a GPU, as a Kata-style VMM opens it: the guest of tests/vm/vfio.sh
 * binds a display-class PCI device to vfio-pci behind an emulated IOMMU, so /dev/vfio/N is the
 * kernel's own node (no host.sys fixture). Allocated by its path to t-v: t-v's open is allowed
 * (and succeeds: the group opens); t-c's (holding nothing) and t-b's (holding another GPU) are
 * denied as cross_tenant (the device is t-v's); the events class the node vfio-gpu. Skipped where no such group
 * exists (the development machines: no device bound to vfio-pci).
 */
static int test_vfio_bound(void)
{
	char name[64], bdf[64], path[128], extra[512];
	unsigned int ma, mi;
	struct cfg_opts o = { .mode = "enforce", .extra = extra };
	struct match mv = { .op = "open", .cgroup = "/t-v" };
	struct match mc = { .op = "open", .cgroup = "/t-c" };
	struct match mb = { .op = "open", .cgroup = "/t-b" };
	struct child_res v, c, b;
	json_object *e;
	struct agent a;
	int ret = 1;

	if (!real_vfio_gpu_group(name, sizeof(name), &ma, &mi, bdf, sizeof(bdf)))
		SKIP("no VFIO group holding a GPU here (make vm-vfio-check binds one in a guest)");
	snprintf(path, sizeof(path), "/dev/vfio/%s", name);
	{
		struct stat st;

		if (stat(path, &st) || !S_ISCHR(st.st_mode) || major(st.st_rdev) != ma ||
		    minor(st.st_rdev) != mi)
			FAIL("%s: not the character device %u:%u that /sys/class/vfio/%s names", path,
			     ma, mi, name);
	}
	snprintf(extra, sizeof(extra), "  - cgroup: %s/t-v\n    devices: [\"%s\"]\n", root, path);
	mv.major = mc.major = mb.major = (int)ma;
	mv.minor = mc.minor = mb.minor = (int)mi;
	if (cg_make("/t-v"))
		FAIL("cgroup /t-v: %s", strerror(errno));
	if (agent_start(&a, &o, NULL)) {
		cg_remove("/t-v");
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	}
	c = run_in("/t-c", do_open, path);
	b = run_in("/t-b", do_open, path);
	v = run_in("/t-v", do_open, path);
	if (agent_stop(&a))
		goto out;
	if (c.err != EPERM)
		FAIL_OUT("open of %s (%s's group) by a tenant holding nothing: errno %d, expected EPERM",
			 path, bdf, c.err);
	if (b.err != EPERM)
		FAIL_OUT("open of %s by a tenant holding another GPU: errno %d, expected EPERM", path,
			 b.err);
	if (v.err != 0)
		FAIL_OUT("open of %s by the tenant it is allocated to: errno %d (%s), expected success",
			 path, v.err, strerror(v.err));
	mv.pid = v.pid;
	mc.pid = c.pid;
	mb.pid = b.pid;
	if (expect(&a, &mc, "cross_tenant", "denied", "the GPU's VFIO group, tenant with nothing") ||
	    expect(&a, &mb, "cross_tenant", "denied", "the GPU's VFIO group, tenant with another GPU") ||
	    expect(&a, &mv, "allowed", "observed", "the GPU's VFIO group, its own tenant"))
		goto out;
	e = find(&a, &mc);
	if (strcmp(jstr(e, "device.class"), "vfio-gpu"))
		FAIL_OUT("class %s, expected vfio-gpu", jstr(e, "device.class"));
	e = find(&a, &mv);
	if (strcmp(jstr(e, "device.class"), "vfio-gpu"))
		FAIL_OUT("class of the allowed open %s, expected vfio-gpu", jstr(e, "device.class"));
	ret = 0;
out:
	agent_free(&a);
	cg_remove("/t-v");
	return ret;
}


/*
 * The same real group taken off vfio-pci and bound again while the agent runs (a VMM's GPU
 * handed back and passed through anew): the unbind removes /dev/vfio/N and the agent says so with
 * a `devices` event; the bind brings it back, classed vfio-gpu within a second (goal, as for a
 * driver in /proc/devices), and opens of it are judged again: denied to a tenant holding nothing
 * (cross_tenant: it is t-v's), allowed to t-v. Skipped where there is no such group.
 */
static int test_vfio_bound_rebind(void)
{
	char name[64], bdf[64], path[128], extra[512];
	unsigned int ma, mi, ma2, mi2;
	struct cfg_opts o = { .mode = "enforce", .extra = extra };
	struct match mv = { .op = "open", .cgroup = "/t-v" };
	struct match mc = { .op = "open", .cgroup = "/t-c" };
	struct child_res gone, c, v;
	struct agent a;
	double t0, took;
	bool unbound = false;
	int ret = 1;

	if (!real_vfio_gpu_group(name, sizeof(name), &ma, &mi, bdf, sizeof(bdf)))
		SKIP("no VFIO group holding a GPU here (make vm-vfio-check binds one in a guest)");
	snprintf(path, sizeof(path), "/dev/vfio/%s", name);
	snprintf(extra, sizeof(extra), "  - cgroup: %s/t-v\n    devices: [\"%s\"]\n", root, path);
	if (cg_make("/t-v"))
		FAIL("cgroup /t-v: %s", strerror(errno));
	if (agent_start(&a, &o, NULL)) {
		cg_remove("/t-v");
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	}
	if (write_file("/sys/bus/pci/drivers/vfio-pci/unbind", bdf))
		FAIL_OUT("unbind %s from vfio-pci: %s", bdf, strerror(errno));
	unbound = true;
	if (!wait_line(&a, "\"type\":\"devices\"", "\"removed\":[{\"class\":\"vfio-gpu\"", 5))
		FAIL_OUT("no devices event for %s going (unbound from vfio-pci)", path);
	gone = run_in("/t-c", do_open, path);
	t0 = now_s();
	if (write_file("/sys/bus/pci/drivers/vfio-pci/bind", bdf))
		FAIL_OUT("bind %s to vfio-pci again: %s", bdf, strerror(errno));
	unbound = false;
	if (!wait_line(&a, "\"type\":\"devices\"", "\"added\":[{\"class\":\"vfio-gpu\"", 5))
		FAIL_OUT("no devices event for %s bound again", path);
	took = now_s() - t0;
	/* devtmpfs makes the node as the group is registered; the agent may see sysfs first */
	for (int i = 0; i < 50 && access(path, F_OK); i++)
		usleep(20000);
	if (!real_vfio_gpu_group(name, sizeof(name), &ma2, &mi2, bdf, sizeof(bdf)))
		FAIL_OUT("no VFIO group holding a GPU after binding %s again", bdf);
	if (ma2 != ma || mi2 != mi)
		FAIL_OUT("%s came back as %u:%u, was %u:%u (the allocation names the path as it was)",
			 path, ma2, mi2, ma, mi);
	c = run_in("/t-c", do_open, path);
	v = run_in("/t-v", do_open, path);
	if (agent_stop(&a))
		goto out;
	if (gone.err != ENOENT)
		FAIL_OUT("open of %s while unbound: errno %d, expected ENOENT", path, gone.err);
	if (c.err != EPERM)
		FAIL_OUT("open of %s bound again, by a tenant holding nothing: errno %d, expected EPERM",
			 path, c.err);
	if (v.err != 0)
		FAIL_OUT("open of %s bound again, by its tenant: errno %d (%s), expected success", path,
			 v.err, strerror(v.err));
	if (took > 1.5 * timeout_scale)
		FAIL_OUT("the group bound again was classed after %.2f s (goal: within 1 s)", took);
	mc.major = mv.major = (int)ma;
	mc.minor = mv.minor = (int)mi;
	mc.pid = c.pid;
	mv.pid = v.pid;
	if (expect(&a, &mc, "cross_tenant", "denied", "the group bound again, tenant with nothing") ||
	    expect(&a, &mv, "allowed", "observed", "the group bound again, its own tenant"))
		goto out;
	ret = 0;
out:
	if (unbound)
		write_file("/sys/bus/pci/drivers/vfio-pci/bind", bdf);
	agent_free(&a);
	cg_remove("/t-v");
	return ret;
}


/* ---- restart and upgrade (pinned state, user/kernel/pins.c) ------------------------------------------ */

/* `accelguard uninstall --pin-dir DIR`: its exit status; its first line in out */
static int uninstall(const char *dir, char *out, size_t len)
{
	char cmd[900];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s uninstall --pin-dir %s 2>&1", agent_bin, dir);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	/* every line, the last one (the result) first: warnings before it stay in the message */
	{
		char line[512], rest[2048] = "";
		size_t used = 0;

		out[0] = 0;
		while (fgets(line, sizeof(line), p)) {
			line[strcspn(line, "\n")] = 0;
			if (out[0] && used < sizeof(rest) - 1)
				used += snprintf(rest + used, sizeof(rest) - used, "%s | ", out);
			snprintf(out, len, "%s", line);
		}
		if (rest[0] && strlen(out) + 3 < len)
			snprintf(out + strlen(out), len - strlen(out), " (before: %.*s)",
				 (int)(len - strlen(out) - 14), rest);
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* how many entries of DIR start with prefix (-1: no DIR) */
static int count_entries(const char *dir, const char *prefix)
{
	char cmd[900], buf[64] = "";
	FILE *p;

	if (access(dir, F_OK))
		return -1;
	snprintf(cmd, sizeof(cmd), "ls -1 %s | grep -c '^%s'", dir, prefix);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = 0;
	pclose(p);
	return atoi(buf);
}

/* Tenants hammering a device throughout: t-a opens its own GPU (ENXIO: allowed, no driver), t-b
 * opens t-a's (EPERM: denied), and t-a issues ioctls on its own test accelerator (ENOTTY from the
 * driver: allowed; never EPERM, never killed); every outcome is counted in the phase it happened
 * in. */
#define N_HAMMERS 3
static const char *const hammer_names[N_HAMMERS] = { "t-a open", "t-b open", "t-a ioctl" };
enum { PH_OLD, PH_NONE, PH_STARTING, PH_NEW, PH__N };
static const char *const phase_names[PH__N] = { "first agent running", "no agent (SIGKILLed)",
						"second agent starting", "second agent ready" };

struct hammer {
	volatile int phase, stop;
	long ok[N_HAMMERS][PH__N], wrong[N_HAMMERS][PH__N];
	int last_wrong_errno[N_HAMMERS];
};

static pid_t hammer_start(struct hammer *h, int who)
{
	pid_t pid = fork();

	if (pid == 0) {
		int want = who == 0 ? ENXIO : who == 1 ? EPERM : ENOTTY, afd = -1;

		if (cg_enter(who == 1 ? "/t-b" : "/t-a"))
			_exit(100);
		if (who == 2 && (afd = open(acc, O_RDWR | O_CLOEXEC)) < 0)
			_exit(101);
		while (!h->stop) {
			int ph = h->phase, fd, e, n;

			if (who == 2) {
				e = ioctl(afd, FIONREAD, &n) < 0 ? errno : 0;
			} else {
				fd = open(gpu0, O_RDWR | O_CLOEXEC);
				e = errno;
				if (fd >= 0) {
					close(fd);
					e = 0;
				}
			}
			if (e == want) {
				__sync_fetch_and_add(&h->ok[who][ph], 1);
			} else {
				__sync_fetch_and_add(&h->wrong[who][ph], 1);
				h->last_wrong_errno[who] = e;
			}
		}
		_exit(0);
	}
	return pid;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* SIGKILL the enforcing agent while the tenants hammer, start a new one (env: name=value for it,
 * or NULL), and count wrong outcomes: there must be none, in any phase. */
static int restart_hammered(const char *env, const char *want_state, const char *extra)
{
	/* 1000 violation events a second per tenant (the default): the window of t-b's events
	 * restarts while no agent runs (its first second ends inside the downtime), so the ring
	 * buffer holds some of the downtime's denials for the second agent; every event is parsed
	 * and kept here, so not each of the hammer's hundreds of thousands of denials */
	struct cfg_opts o = { .mode = "enforce", .rate_limit = 1000, .extra = extra };
	struct hammer *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);
	struct agent a1, a2;
	struct match mr = { .type = "ready", .major = -1, .minor = -1 };
	json_object *ready;
	pid_t hp[N_HAMMERS] = { 0 }, tb_pid;
	int st, hammer_st[N_HAMMERS];
	char out[512], ename[64] = "";
	int ret = 1, n;

	memset(&a2, 0, sizeof(a2));
	if (h == MAP_FAILED)
		FAIL("mmap");
	memset(h, 0, sizeof(*h));
	if (agent_start(&a1, &o, NULL))
		FAIL("first agent did not become ready: %.300s", read_all(a1.errlog));
	hp[0] = hammer_start(h, 0);
	hp[1] = hammer_start(h, 1);
	hp[2] = hammer_start(h, 2);
	tb_pid = hp[1];
	sleep_s(0.3);
	h->phase = PH_NONE;
	agent_free(&a1); /* SIGKILL */
	sleep_s(1.2); /* past the end of the rate-limit window that began with the first agent */
	h->phase = PH_STARTING;
	if (env) {
		snprintf(ename, sizeof(ename), "%.*s", (int)strcspn(env, "="), env);
		setenv(ename, strchr(env, '=') + 1, 1);
	}
	n = agent_start(&a2, &o, NULL);
	if (env)
		unsetenv(ename);
	h->phase = PH_NEW;
	if (n)
		FAIL_OUT("second agent did not become ready: %.300s", read_all(a2.errlog));
	/* each hammer must get the CPU in this phase: one emulated vCPU shares it four ways */
	sleep_s(0.3 * timeout_scale);
	h->stop = 1;
	for (int i = 0; i < N_HAMMERS; i++) {
		waitpid(hp[i], &st, 0);
		hammer_st[i] = st;
		hp[i] = 0;
	}
	for (int who = 0; who < N_HAMMERS; who++) {
		if (!WIFEXITED(hammer_st[who]) || WEXITSTATUS(hammer_st[who]))
			FAIL_OUT("the %s hammer %s %d (killed: an allowed ioctl judged a violation)",
				 hammer_names[who], WIFSIGNALED(hammer_st[who]) ? "died of signal" : "exited",
				 WIFSIGNALED(hammer_st[who]) ? WTERMSIG(hammer_st[who])
							     : WEXITSTATUS(hammer_st[who]));
		for (int ph = 0; ph < PH__N; ph++) {
			if (h->wrong[who][ph])
				FAIL_OUT("%s: %ld of %ld of the %s hammer's calls had the wrong outcome "
					 "(errno %d, expected %s)", phase_names[ph], h->wrong[who][ph],
					 h->wrong[who][ph] + h->ok[who][ph], hammer_names[who],
					 h->last_wrong_errno[who],
					 who == 0 ? "ENXIO" : who == 1 ? "EPERM" : "ENOTTY");
			if (!h->ok[who][ph])
				FAIL_OUT("%s: the %s hammer made no call", phase_names[ph],
					 hammer_names[who]);
		}
	}
	printf("# %s: t-a opens allowed / t-b opens denied / t-a ioctls allowed, per phase: "
	       "%ld/%ld/%ld, %ld/%ld/%ld, %ld/%ld/%ld, %ld/%ld/%ld; 0 wrong\n", want_state,
	       h->ok[0][0], h->ok[1][0], h->ok[2][0], h->ok[0][1], h->ok[1][1], h->ok[2][1],
	       h->ok[0][2], h->ok[1][2], h->ok[2][2], h->ok[0][3], h->ok[1][3], h->ok[2][3]);
	/* the second agent's ready says what it did with the pins, and only its pins are left */
	if (agent_stop(&a2))
		goto out;
	ready = find(&a2, &mr);
	if (!ready || strcmp(jstr(ready, "pin.state"), want_state) || strcmp(jstr(ready, "pin.dir"), pin_dir))
		FAIL_OUT("ready.pin: %s, expected state %s in %s",
			 ready ? json_object_to_json_string(jget(ready, "pin")) : "no ready event",
			 want_state, pin_dir);
	if (!strcmp(want_state, "replaced") && !strstr(jstr(ready, "pin.reason"), "version 999"))
		FAIL_OUT("ready.pin.reason does not name the layout versions: %s", jstr(ready, "pin.reason"));
	if (!strcmp(want_state, "adopted")) {
		/* cgroup/dev's link is updated in place; and the ring buffer was adopted with what the
		 * programs wrote while no agent ran: t-b's denials come before the new ready */
		size_t i;

		if (jint(ready, "pin.links_updated") < 1)
			FAIL_OUT("ready.pin.links_updated: %lld, expected the cgroup/dev link",
				 jint(ready, "pin.links_updated"));
		for (i = 0; i < a2.n_ev && a2.ev[i] != ready; i++)
			if (!strcmp(jstr(a2.ev[i], "type"), "access") &&
			    jint(a2.ev[i], "process.pid") == tb_pid)
				break;
		if (i == a2.n_ev || a2.ev[i] == ready)
			FAIL_OUT("the second agent reported none of t-b's denials made while no agent ran");
	}
	if ((n = count_entries(pin_dir, "gen_")) != 1 || count_entries(pin_dir, "maps_") != 1)
		FAIL_OUT("%s holds %d generations of links and %d of maps, expected 1 and 1", pin_dir, n,
			 count_entries(pin_dir, "maps_"));
	/* a clean stop leaves the enforcement in force too */
	{
		struct child_res r = run_in("/t-b", do_open, gpu0);

		if (r.err != EPERM)
			FAIL_OUT("after the agent stopped: t-b's open got errno %d, expected EPERM", r.err);
	}
	/* uninstall removes every pin: the programs are detached */
	n = uninstall(pin_dir, out, sizeof(out));
	if (n || !strstr(out, "removed") || strstr(out, "removed 0 links"))
		FAIL_OUT("uninstall exited %d: %s", n, out);
	if (!access(pin_dir, F_OK))
		FAIL_OUT("uninstall left %s", pin_dir);
	{
		struct child_res r = run_in("/t-b", do_open, gpu0);

		if (r.err != ENXIO)
			FAIL_OUT("after uninstall: t-b's open got errno %d, expected ENXIO (detached); "
				 "uninstall said: %.300s", r.err, out);
	}
	n = uninstall(pin_dir, out, sizeof(out));
	if (n || !strstr(out, "nothing pinned"))
		FAIL_OUT("a second uninstall exited %d: %s", n, out);
	ret = 0;
out:
	h->stop = 1;
	for (int i = 0; i < N_HAMMERS; i++)
		if (hp[i] > 0)
			waitpid(hp[i], NULL, 0);
	agent_free(&a1);
	agent_free(&a2);
	munmap(h, sizeof(*h));
	return ret;
}

static int test_restart_sigkill(void)
{
	return restart_hammered(NULL, "adopted", NULL);
}

/* A new binary whose map layout differs (pretended with ACCELGUARD_LAYOUT_VERSION). */
static int test_upgrade_incompatible(void)
{
	return restart_hammered("ACCELGUARD_LAYOUT_VERSION=999", "replaced", NULL);
}

/* The same two with `unresolved: deny`: no tenant the agents know is unresolved at any moment. */
static int test_restart_unresolved_deny(void)
{
	return restart_hammered(NULL, "adopted", "unresolved: deny\n");
}

static int test_upgrade_unresolved_deny(void)
{
	return restart_hammered("ACCELGUARD_LAYOUT_VERSION=999", "replaced", "unresolved: deny\n");
}

/* The new agent reconciles the adopted maps with what its sources say now: the entry of a cgroup
 * that went while no agent ran is deleted, a changed allocation rewritten, a device class that
 * went cleared from accel_devices. */
static int test_restart_reconcile(void)
{
	char extra[512];
	struct cfg_opts o1 = { .mode = "enforce", .extra = extra },
			o2 = { .mode = "enforce", .no_test_accel = true };
	struct match mr = { .type = "ready", .major = -1, .minor = -1 };
	struct agent a1, a2;
	json_object *ready;
	struct child_res r;
	pid_t tc_pid;
	int ret = 1;

	memset(&a2, 0, sizeof(a2));
	snprintf(extra, sizeof(extra), "  - cgroup: %s/t-c\n    devices: [\"195:1\"]\n", root);
	if (cg_make("/t-gone"))
		FAIL("cannot make /t-gone");
	if (agent_start(&a1, &o1, NULL))
		FAIL_OUT("first agent did not become ready: %.300s", read_all(a1.errlog));
	r = run_in("/t-c", do_open, gpu1);
	if (r.err != ENXIO)
		FAIL_OUT("first agent: t-c's open of its 195:1 got errno %d, expected ENXIO", r.err);
	r = run_in("/t-b", do_open, acc);
	if (r.err != EPERM)
		FAIL_OUT("first agent: t-b's open of t-a's test accelerator got errno %d, expected EPERM",
			 r.err);
	agent_free(&a1); /* SIGKILL */
	cg_remove("/t-gone");
	/* the second configuration no longer gives t-c 195:1 */
	if (agent_start(&a2, &o2, NULL))
		FAIL_OUT("second agent did not become ready: %.300s", read_all(a2.errlog));
	r = run_in("/t-c", do_open, gpu1);
	if (r.err != EPERM)
		FAIL_OUT("second agent: t-c's open of 195:1 (no longer allocated) got errno %d, expected "
			 "EPERM", r.err);
	tc_pid = r.pid;
	r = run_in("/t-a", do_open, gpu0);
	if (r.err != ENXIO)
		FAIL_OUT("second agent: t-a's open of its 195:0 got errno %d, expected ENXIO", r.err);
	/* the second configuration has no test-accel class: 1:7 is no accelerator any more */
	r = run_in("/t-b", do_open, acc);
	if (r.err != 0)
		FAIL_OUT("second agent: t-b's open of 1:7 (no longer an accelerator class) got errno %d, "
			 "expected success", r.err);
	if (agent_stop(&a2))
		goto out;
	ready = find(&a2, &mr);
	/* t-gone's policy entry and the owners entry of 195:1 */
	if (!ready || strcmp(jstr(ready, "pin.state"), "adopted") || jint(ready, "pin.pruned") < 2)
		FAIL_OUT("ready.pin: %s, expected adopted with at least 2 entries pruned",
			 ready ? json_object_to_json_string(jget(ready, "pin")) : "no ready event");
	{
		/* by pid: the first agent's events of t-c come too, through the pinned ring buffer */
		struct match m = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-c", .pid = tc_pid };

		if (expect(&a2, &m, "unmediated", "denied", "t-c after the allocation went"))
			goto out;
	}
	ret = 0;
out:
	cg_remove("/t-gone");
	agent_free(&a1);
	agent_free(&a2);
	return ret;
}

/*
 * The kernel's verdict cache (vcache) never outlives a policy change: t-a's allowed ioctls on a
 * descriptor fill it under the first agent; the second agent adopts the pinned maps (the cache and
 * its generation among them) with the device allocated to t-c instead, and the same descriptor's
 * next ioctl in t-a is a violation (killed at tier 3, denied at tiers 1-2), not the cached allow.
 * t-c, which now holds it, is allowed on the same descriptor (a descriptor moving tenants).
 */
static int test_vcache_policy_change(void)
{
	struct cfg_opts o1 = { .mode = "enforce" }, o2 = { .mode = "enforce", .acc_to = "t-c" };
	struct flood f = { .n = 2000 };
	struct agent a1, a2;
	struct child_res r, ra;
	json_object *s;
	int ret = 1;

	memset(&a2, 0, sizeof(a2));
	f.fd = open_carried(acc);
	if (f.fd < 0)
		FAIL("open %s: %s", acc, strerror(errno));
	if (agent_start(&a1, &o1, NULL))
		FAIL_OUT("first agent did not become ready: %.300s", read_all(a1.errlog));
	r = run_in("/t-a", do_flood, &f);
	if (r.sig || r.err)
		FAIL_OUT("first agent: t-a's allowed ioctls: signal %d, errno %d", r.sig, r.err);
	agent_free(&a1); /* SIGKILL: the pins, the cache among them, stay */
	if (agent_start(&a2, &o2, NULL))
		FAIL_OUT("second agent did not become ready: %.300s", read_all(a2.errlog));
	ra = run_in("/t-a", do_ioctl_fd, &f.fd);
	f.n = 100;
	r = run_in("/t-c", do_flood, &f);
	if (r.sig || r.err)
		FAIL_OUT("second agent: t-c's ioctls on the device it now holds: signal %d, errno %d",
			 r.sig, r.err);
	if (agent_stop(&a2)) /* the tier is known from here on */
		goto out;
	if (enforce_is_sync(&a2) ? ra.err != EPERM : ra.sig != SIGKILL)
		FAIL_OUT("second agent: t-a's ioctl on the device it no longer holds: signal %d, errno "
			 "%d, expected %s", ra.sig, ra.err, enforce_is_sync(&a2) ? "EPERM" : "SIGKILL");
	if (!(s = summary(&a2)))
		FAIL_OUT("no summary");
	if (jint(s, "accesses.ioctl.allowed") < 100 || jint(s, "accesses.ioctl.cross_tenant") +
	    jint(s, "accesses.ioctl.unmediated") < 1)
		FAIL_OUT("second agent: ioctls allowed %lld (expected 100), cross_tenant %lld, "
			 "unmediated %lld (expected one violation)", jint(s, "accesses.ioctl.allowed"),
			 jint(s, "accesses.ioctl.cross_tenant"), jint(s, "accesses.ioctl.unmediated"));
	ret = 0;
out:
	close(f.fd);
	agent_free(&a1);
	agent_free(&a2);
	return ret;
}

/* Switching to audit removes every pin (after the audit agent's own programs are attached). */
static int test_audit_removes_pins(void)
{
	struct cfg_opts oe = { .mode = "enforce" }, oa = { .mode = "audit" };
	struct match mr = { .type = "ready", .major = -1, .minor = -1 };
	struct agent a;
	json_object *ready;
	struct child_res r;
	int ret = 1;

	if (agent_start(&a, &oe, NULL))
		FAIL("enforcing agent did not become ready: %.300s", read_all(a.errlog));
	if (agent_stop(&a))
		goto out;
	agent_free(&a);
	if (count_entries(pin_dir, "gen_") != 1)
		FAIL_OUT("the enforcing agent left no links pinned in %s", pin_dir);
	if (agent_start(&a, &oa, NULL))
		FAIL_OUT("auditing agent did not become ready: %.300s", read_all(a.errlog));
	r = run_in("/t-b", do_open, gpu0);
	if (r.err != ENXIO)
		FAIL_OUT("audit mode: t-b's open of t-a's GPU got errno %d, expected ENXIO", r.err);
	if (agent_stop(&a))
		goto out;
	ready = find(&a, &mr);
	if (!ready || strcmp(jstr(ready, "pin.state"), "removed") || jint(ready, "pin.links_removed") < 1)
		FAIL_OUT("ready.pin: %s, expected removed",
			 ready ? json_object_to_json_string(jget(ready, "pin")) : "no ready event");
	if (!access(pin_dir, F_OK))
		FAIL_OUT("audit mode left %s", pin_dir);
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

/* ---- evasion suite (README "Evasion suite") ---------------------------------------------------
 * Other ways to reach an unallocated device than the plain open/ioctl/mknod scenarios above: the
 * rows of the README's matrix that are not already scenarios of their own. Each asserts what the
 * kernel did (errno, a kill, a read that went through) and what the agent reported. */

#include <dirent.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>

/* symlink to the node, in a directory the tenant owns */
static int ev_symlink(void *path)
{
	char l[700];
	int e;

	snprintf(l, sizeof(l), "%s/ev-symlink", workdir);
	unlink(l);
	if (symlink(path, l))
		return 1000 + errno;
	e = do_open(l);
	unlink(l);
	return e;
}

static int ev_openat2(void *path)
{
	struct open_how how = { .flags = O_RDWR | O_CLOEXEC };
	int fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* an O_PATH descriptor (no open of the device: no hook runs) upgraded by reopening it through
 * /proc/self/fd */
static int ev_opath_upgrade(void *path)
{
	int fd = open(path, O_PATH | O_CLOEXEC), e;

	if (fd < 0)
		return 1000 + errno;
	e = do_reopen_fd(&fd);
	close(fd);
	return e;
}

/* name_to_handle_at + open_by_handle_at (CAP_DAC_READ_SEARCH: the tenant process is root) */
struct ev_handle {
	unsigned int bytes;
	int type;
	unsigned char h[128];
};

static int ev_by_handle(void *path)
{
	struct ev_handle fh = { .bytes = sizeof(fh.h) };
	int mount_id, mfd, fd;

	if (syscall(SYS_name_to_handle_at, AT_FDCWD, path, &fh, &mount_id, 0))
		return 1000 + errno;
	mfd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return 1000 + errno;
	fd = syscall(SYS_open_by_handle_at, mfd, &fh, O_RDWR | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/*
 * One request through raw io_uring_setup/io_uring_enter (no liburing): *sqe is submitted and
 * waited for; 0 with its result in *res, 3000 + errno when io_uring is absent or disabled (the
 * row is skipped), 1000 + errno when the ring could not be used.
 */
static int io_uring_one(const struct io_uring_sqe *sqe, int *res)
{
	struct io_uring_params p = { 0 };
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_mask;
	size_t sqsz, cqsz;
	char *sq, *cq;
	int ring;

	ring = syscall(SYS_io_uring_setup, 4, &p);
	if (ring < 0)
		return 3000 + errno;
	sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
	sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		  IORING_OFF_SQ_RING);
	cq = (p.features & IORING_FEAT_SINGLE_MMAP)
		     ? sq
		     : mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
			    IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return 1000 + errno;
	sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned int *)(sq + p.sq_off.array);
	cq_head = (unsigned int *)(cq + p.cq_off.head);
	cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	sqes[0] = *sqe;
	sq_array[*sq_tail & *sq_mask] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return 1000 + errno;
	*res = cqes[__atomic_load_n(cq_head, __ATOMIC_ACQUIRE) & *cq_mask].res;
	close(ring);
	return 0;
}

/* IORING_OP_OPENAT */
static int ev_io_uring(void *path)
{
	struct io_uring_sqe sqe = { .opcode = IORING_OP_OPENAT, .fd = AT_FDCWD };
	int r, res;

	sqe.addr = (unsigned long)path;
	sqe.open_flags = O_RDWR | O_CLOEXEC;
	r = io_uring_one(&sqe, &res);
	if (r)
		return r;
	if (res >= 0) {
		close(res);
		return 0;
	}
	return -res;
}

static const struct {
	const char *name;
	child_fn fn;
} ev_open_rows[] = {
	{ "symlink", ev_symlink },
	{ "openat2", ev_openat2 },
	{ "O_PATH upgraded through /proc/self/fd", ev_opath_upgrade },
	{ "open_by_handle_at", ev_by_handle },
	{ "io_uring IORING_OP_OPENAT", ev_io_uring },
};
#define EV_OPEN_ROWS (sizeof(ev_open_rows) / sizeof(ev_open_rows[0]))

/* t-a opens 195:1 (nobody's) every other way; the node has no driver, so an open that got past
 * every hook fails with ENXIO */
static int ev_open_paths(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct child_res r[EV_OPEN_ROWS];
	struct agent a;
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	for (size_t i = 0; i < EV_OPEN_ROWS; i++)
		r[i] = run_in("/t-a", ev_open_rows[i].fn, gpu1);
	if (agent_stop(&a))
		goto out;
	for (size_t i = 0; i < EV_OPEN_ROWS; i++) {
		struct match m = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-a",
				   .pid = r[i].pid };
		int want = enforce ? EPERM : ENXIO;

		if (r[i].err >= 3000) {
			printf("# %s %s: skipped, not available here: %s\n", mode, ev_open_rows[i].name,
			       strerror(r[i].err - 3000));
			continue;
		}
		if (r[i].err >= 1000)
			FAIL_OUT("%s: setup failed: %s", ev_open_rows[i].name, strerror(r[i].err - 1000));
		if (r[i].err != want)
			FAIL_OUT("%s: errno %d (%s), expected %d (%s)", ev_open_rows[i].name, r[i].err,
				 strerror(r[i].err), want, strerror(want));
		if (expect(&a, &m, "unmediated", enforce ? "denied" : "observed", ev_open_rows[i].name))
			goto out;
		printf("# %s %s: errno %s, event unmediated/%s\n", mode, ev_open_rows[i].name,
		       strerror(r[i].err), enforce ? "denied" : "observed");
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_evasion_open_paths_audit(void)
{
	return ev_open_paths("audit");
}

static int test_evasion_open_paths_enforce(void)
{
	return ev_open_paths("enforce");
}

/* t-c, started before t-a opens its device (so it inherits nothing), steals the descriptor with
 * pidfd_open + pidfd_getfd and issues an ioctl on it */
static int ev_pidfd_steal(void *arg)
{
	int go[2], st, fd, *out = arg;
	pid_t owner = getpid(), p;

	if (pipe(go))
		return errno;
	p = fork();
	if (p == 0) {
		int remote, pfd, stolen, e;

		close(go[1]);
		if (cg_enter("/t-c"))
			_exit(100);
		if (read(go[0], &remote, sizeof(remote)) != sizeof(remote))
			_exit(3);
		pfd = syscall(SYS_pidfd_open, owner, 0);
		stolen = pfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pfd, remote, 0);
		if (stolen < 0) /* tiers 1-2: the ptrace check refuses another tenant's process */
			_exit(errno == EPERM ? 1 : 4);
		e = do_ioctl_fd(&stolen);
		_exit(e == ENOTTY ? 0 : e == EPERM ? 1 : 2);
	}
	close(go[0]);
	fd = open(acc, O_RDWR | O_CLOEXEC);
	if (write(go[1], &fd, sizeof(fd)) != sizeof(fd))
		return EIO;
	close(go[1]);
	waitpid(p, &st, 0);
	close(fd);
	*out = p;
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	return WEXITSTATUS(st) == 0 ? ENOTTY : WEXITSTATUS(st) == 1 ? EPERM : EIO;
}

static int test_evasion_pidfd_getfd(void)
{
	/* tiers 1-2 refuse pidfd_getfd itself on another tenant's process (op ptrace, route attach) */
	return fd_into_other_tenant(ev_pidfd_steal, "descriptor stolen with pidfd_getfd", "ptrace",
				    "receive");
}

/*
 * Every operation that reaches the driver on a descriptor that left its tenant: the host opens
 * t-a's device (1:7, a copy of /dev/full) and a child in t-c inherits the descriptor, then reads,
 * writes or maps it by one route each. Audit: the driver answers (a read returns zeros, a write
 * ENOSPC, mmap ENODEV: /dev/full has no mmap), each reported cross_tenant with its op. Enforce:
 * EPERM before the driver at tiers 1-2 (file_permission, mmap_file), the process killed after the
 * syscall at tier 3 (the syscall entry). io_uring's reads bypass the syscalls tier 3 watches: at
 * tier 3 it is seen by no hook, which the test pins. An anonymous mapping that names the
 * descriptor's number is no access to it (the kernel ignores the fd): never reported.
 */
#define RW_T3_UNSEEN 0x1 /* no tier-3 hook sees this route */
#define RW_NO_ACCESS 0x2 /* not an access to the device at all */
#define RW_32BIT 0x4     /* through the ia32 syscall table (ioctl32 --op) */
#define RW_X32 0x8       /* through the x32 numbers: where the kernel runs them */

struct rw_arg {
	int fd;
	const char *op32; /* RW_32BIT: ioctl32's --op */
	int *pid;         /* RW_32BIT: the 32-bit process */
	long nr;          /* rw_ioctl_nr: the syscall number */
};

static int rw_ret(ssize_t n)
{
	return n < 0 ? errno : 0;
}

static int rw_read(void *p)
{
	char b[1];

	return rw_ret(read(((struct rw_arg *)p)->fd, b, 1));
}

static int rw_pread(void *p)
{
	char b[1];

	return rw_ret(pread(((struct rw_arg *)p)->fd, b, 1, 0));
}

static int rw_readv(void *p)
{
	char b[1];
	struct iovec v = { b, 1 };

	return rw_ret(readv(((struct rw_arg *)p)->fd, &v, 1));
}

static int rw_preadv2(void *p)
{
	char b[1];
	struct iovec v = { b, 1 };

	return rw_ret(syscall(SYS_preadv2, ((struct rw_arg *)p)->fd, &v, 1, 0L, 0L, 0));
}

static int rw_splice(void *p)
{
	int pp[2], e;

	if (pipe(pp))
		return 1000 + errno;
	e = rw_ret(splice(((struct rw_arg *)p)->fd, NULL, pp[1], NULL, 1, 0));
	close(pp[0]);
	close(pp[1]);
	return e;
}

static int rw_sendfile_from(void *p)
{
	int m = memfd_create("rw", MFD_CLOEXEC), e;

	if (m < 0)
		return 1000 + errno;
	e = rw_ret(sendfile(m, ((struct rw_arg *)p)->fd, NULL, 1));
	close(m);
	return e;
}

static int rw_write(void *p)
{
	return rw_ret(write(((struct rw_arg *)p)->fd, "x", 1));
}

static int rw_pwritev(void *p)
{
	struct iovec v = { "x", 1 };

	return rw_ret(pwritev(((struct rw_arg *)p)->fd, &v, 1, 0));
}

static int rw_sendfile_to(void *p)
{
	int m = memfd_create("rw", MFD_CLOEXEC), e;

	if (m < 0 || write(m, "x", 1) != 1)
		return 1000 + errno;
	e = rw_ret(sendfile(((struct rw_arg *)p)->fd, m, &(off_t){ 0 }, 1));
	close(m);
	return e;
}

static int rw_mmap(void *p)
{
	void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ((struct rw_arg *)p)->fd, 0);

	if (m == MAP_FAILED)
		return errno;
	munmap(m, 4096);
	return 0;
}

static int rw_mmap_anon(void *p)
{
	void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, ((struct rw_arg *)p)->fd, 0);

	if (m == MAP_FAILED)
		return errno;
	munmap(m, 4096);
	return 0;
}

static int rw_io_uring_read(void *p)
{
	struct io_uring_sqe sqe = { .opcode = IORING_OP_READ, .len = 1 };
	char b[1];
	int r, res;

	sqe.fd = ((struct rw_arg *)p)->fd;
	sqe.addr = (unsigned long)b;
	r = io_uring_one(&sqe, &res);
	if (r)
		return r;
	return res >= 0 ? 0 : -res;
}

#define AG_X32 0x40000000L
#ifndef MAP_32BIT
#define MAP_32BIT 0 /* x86 only: elsewhere x32_runs() is false and the x32 rows do not run */
#endif

static bool x32_runs(void)
{
	return syscall(AG_X32 | SYS_getpid) == getpid();
}

/* x32 pointers are 32-bit: the iovec and its buffer in a page below 2 GiB (MAP_32BIT) */
static int rw_x32_readv(void *p)
{
	struct { __u32 base, len; } *v32;
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
		       -1, 0);
	int e;

	if (m == MAP_FAILED)
		return 1000 + errno;
	v32 = (void *)m;
	v32->base = (__u32)(unsigned long)(m + 64);
	v32->len = 1;
	e = rw_ret(syscall(AG_X32 | 515, ((struct rw_arg *)p)->fd, v32, 1));
	munmap(m, 4096);
	return e;
}

/* ioctl(fd, FIONREAD) by the row's syscall number: x32's ioctl (514 with the x32 bit), or a
 * number in no table (ENOSYS: x86-64's 16, a "64" entry, with the x32 bit; 514 without it) */
static int rw_ioctl_nr(void *p)
{
	struct rw_arg *r = p;
	int n;

	return rw_ret(syscall(r->nr, r->fd, FIONREAD, &n));
}

/* exec ioctl32 --fd N --op OP: its result by its exit status, 1000 + signal when killed */
static int rw_32(void *p)
{
	struct rw_arg *r = p;
	char fdarg[16];
	struct run32 x = { .argv = { "--fd", fdarg, "--op", r->op32 }, .pid = r->pid };
	int e;

	snprintf(fdarg, sizeof(fdarg), "%d", r->fd);
	e = do_run32(&x);
	return e == ENOTTY ? 0 : e; /* ioctl32's 0: the hooks let it through */
}

/* Issue 19.10: host.proc that is no directory is refused naming the setting, the path and the
 * cause (it said "cannot build the device classes: Not a directory"). */
static int test_bad_host_proc(void)
{
	static const char *const procs[] = { "/dev/full", "/nonexistent-proc-19" };
	char cfg[700], errlog[700], cmd[2200], want[900], *err;
	int st;

	snprintf(cfg, sizeof(cfg), "%s/hostproc.yaml", workdir);
	snprintf(errlog, sizeof(errlog), "%s/hostproc.log", workdir);
	for (size_t i = 0; i < 2; i++) {
		char text[300];

		snprintf(text, sizeof(text), "mode: audit\ntenants: [\"/x/*\"]\nhost:\n  proc: %s\n", procs[i]);
		write_file(cfg, text);
		chmod(cfg, 0600);
		snprintf(cmd, sizeof(cmd), "%s run --config %s --duration 1 --pin-dir off >/dev/null 2>%s",
			 agent_bin, cfg, errlog);
		st = system(cmd);
		err = read_all(errlog);
		snprintf(want, sizeof(want), "config: %s: host.proc: %s: %s", cfg, procs[i],
			 i ? "No such file or directory" : "not a directory");
		if (!WIFEXITED(st) || WEXITSTATUS(st) == 0 || !strstr(err, want)) {
			snprintf(failmsg, sizeof(failmsg), "host.proc %s: exit %d, stderr: %.400s (wanted '%s')",
				 procs[i], WEXITSTATUS(st), err, want);
			free(err);
			return 1;
		}
		free(err);
	}
	unlink(cfg);
	return 0;
}

/* Issue 19.7: `uninstall` of one pin directory speaks only of its own pins: the links of another
 * agent instance (programs of the same names) are not "still attached" to it. */
static int test_uninstall_own_pins(void)
{
	struct cfg_opts o = { .mode = "enforce" };
	char other[300], out[2048];
	const char *args[] = { "--pin-dir", other, NULL };
	struct agent a;
	int st, ret = 1;

	snprintf(other, sizeof(other), "%s-other", pin_dir);
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	agent_stop(&a); /* enforce: its links stay pinned and attached */
	agent_free(&a);
	if (count_entries(pin_dir, "gen_") < 1)
		FAIL_OUT("the first agent left nothing pinned in %s", pin_dir);
	if (agent_start(&a, &o, args))
		FAIL_OUT("second agent did not become ready: %.300s", read_all(a.errlog));
	agent_stop(&a);
	agent_free(&a);
	if (count_entries(other, "gen_") < 1)
		FAIL_OUT("the second agent left nothing pinned in %s", other);
	st = uninstall(other, out, sizeof(out));
	if (st || !strstr(out, "uninstall: removed") || strstr(out, "still attached") ||
	    strstr(out, "still there"))
		FAIL_OUT("uninstall of %s (status %d) spoke of more than its pins: %s", other, st, out);
	if (count_entries(pin_dir, "gen_") < 1)
		FAIL_OUT("uninstall of %s touched %s", other, pin_dir);
	st = uninstall(pin_dir, out, sizeof(out));
	if (st || strstr(out, "still attached"))
		FAIL_OUT("uninstall of %s (status %d): %s", pin_dir, st, out);
	ret = 0;
out:
	agent_free(&a);
	uninstall(other, out, sizeof(out));
	return ret;
}

/* ---- issue 19: what a tenant makes below itself ------------------------------------------------ */

/* mkdir (or rmdir) PREFIX0 .. PREFIX<n-1> below a cgroup of ours; returns how many were done */
static int cg_many(const char *parent, int n, bool make)
{
	char p[1024];
	int done = 0;

	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s%s%s/s%d", cg2, root, parent, i);
		if (make ? mkdir(p, 0755) == 0 || errno == EEXIST : rmdir(p) == 0 || errno == ENOENT)
			done++;
	}
	return done;
}

/* The event of an access from a cgroup whose path (relative to root) starts with prefix. */
static bool below(json_object *e, const char *prefix)
{
	char want[512];

	snprintf(want, sizeof(want), "%s%s", root, prefix);
	return !strncmp(jstr(e, "cgroup.path"), want, strlen(want));
}

#define N_SUBCG 100000

#define ERRNO_IS(got, want, what)                                                                  \
	do {                                                                                       \
		if ((got) != (want)) {                                                             \
			snprintf(failmsg, sizeof(failmsg), "%s: errno %d (%s), expected %d", what, \
				 got, strerror(got), want);                                         \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

/* Issue 19.1: a tenant that makes 100,000 cgroups below itself fills nothing: the policy map holds
 * the tenants only (the kernel applies a tenant's entry to its descendants), and a tenant made
 * afterwards is resolved and judged; a sub-cgroup is judged as its tenant. */
static int subcgroups_then_tenant(const char *mode, int n_sub)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct match mr = { .type = "ready", .major = -1, .minor = -1 };
	struct agent a;
	struct child_res rn, rs, ro;
	char needle[300], sub[64];
	json_object *s, *e;
	long long entries;
	double t0, t_mk, t_rm;
	int made, ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	t0 = now_s();
	made = cg_many("/t-c", n_sub, true);
	t_mk = now_s() - t0;
	if (made != n_sub) {
		FAIL_OUT("made %d of %d sub-cgroups of t-c: %s", made, n_sub, strerror(errno));
	}
	cg_remove("/t-new");
	if (cg_make("/t-new")) {
		FAIL_OUT("mkdir t-new: %s", strerror(errno));
	}
	snprintf(needle, sizeof(needle), "\"path\":\"%s/t-new\"", root);
	if (!wait_line(&a, "\"type\":\"tenant\"", needle, 60)) {
		FAIL_OUT("no tenant event for the tenant made after %d sub-cgroups", n_sub);
	}
	rn = run_in("/t-new", do_open, gpu1);  /* nobody's: unmediated */
	ro = run_in("/t-new", do_open, gpu2);  /* t-b's: cross_tenant */
	snprintf(sub, sizeof(sub), "/t-c/s%d", n_sub - 1);
	rs = run_in(sub, do_open, gpu0);       /* t-a's, from deep inside t-c */
	if (agent_stop(&a))
		goto out;
	ERRNO_IS(rn.err, enforce ? EPERM : ENXIO, "the new tenant's unallocated open");
	ERRNO_IS(ro.err, enforce ? EPERM : ENXIO, "the new tenant's cross-tenant open");
	ERRNO_IS(rs.err, enforce ? EPERM : ENXIO, "the sub-cgroup's cross-tenant open");
	{
		const char *deny = enforce ? "denied" : "observed";
		struct match mn = { .op = "open", .major = NV, .minor = 1, .cgroup = "/t-new", .pid = rn.pid };
		struct match mo = { .op = "open", .major = NV, .minor = 2, .cgroup = "/t-new", .pid = ro.pid };
		struct match ms = { .op = "open", .major = NV, .minor = 0, .cgroup = sub, .pid = rs.pid };

		if (expect(&a, &mn, "unmediated", deny, "new tenant, unallocated") ||
		    expect(&a, &mo, "cross_tenant", deny, "new tenant, another's") ||
		    expect(&a, &ms, "cross_tenant", deny, "t-c's sub-cgroup"))
			goto out;
		e = find(&a, &ms);
		snprintf(needle, sizeof(needle), "%s/t-c", root);
		if (strcmp(jstr(e, "cgroup.tenant_path"), needle)) {
			FAIL_OUT("sub-cgroup's event names tenant '%s', expected %s",
				 jstr(e, "cgroup.tenant_path"), needle);
		}
	}
	s = summary(&a);
	entries = jint(s, "policy.map_entries");
	printf("# %s: %d sub-cgroups made in %.2f s; policy map %lld entries (max %lld), "
	       "%lld sub-cgroups known, %lld unwritten\n", mode, n_sub, t_mk, entries,
	       jint(s, "policy.map_max_entries"), jint(s, "policy.sub_cgroups"),
	       jint(s, "policy.map_unwritten"));
	if (!s || entries > 64 || jint(s, "policy.map_unwritten") || jint(s, "policy.map_refused")) {
		FAIL_OUT("policy map: %lld entries, %lld unwritten, %lld refused (expected the "
			 "tenants only)", entries, jint(s, "policy.map_unwritten"),
			 jint(s, "policy.map_refused"));
	}
	if (jint(s, "policy.sub_cgroups") < n_sub) {
		FAIL_OUT("summary knows %lld sub-cgroups, expected at least %d",
			 jint(s, "policy.sub_cgroups"), n_sub);
	}
	(void)mr;
	ret = 0;
out:
	agent_free(&a);
	t0 = now_s();
	cg_many("/t-c", n_sub, false);
	t_rm = now_s() - t0;
	printf("# %s: %d sub-cgroups removed in %.2f s\n", mode, n_sub, t_rm);
	cg_remove("/t-new");
	return ret;
}

static int test_subcgroups_fill_nothing_audit(void)
{
	return subcgroups_then_tenant("audit", 20000); /* past the old 16,384: half the time */
}

static int test_subcgroups_fill_nothing_enforce(void)
{
	return subcgroups_then_tenant("enforce", N_SUBCG);
}

/* Issue 19.1: what does fill the policy map (tenants) is counted and reported, and a tenant that
 * finds no room is denied in enforce mode (fail closed), until room is made. */
static int policy_map_full(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	const char *args[] = { "--max-cgroups", "16", NULL };
	struct match mr = { .type = "ready", .major = -1, .minor = -1 };
	struct match mfull = { .type = "policy_map", .major = -1, .minor = -1 };
	struct agent a;
	struct child_res r1, r2;
	json_object *ready, *full = NULL, *room = NULL;
	char name[64], last[64] = "", needle[300];
	int made = 0, ret = 1;

	if (agent_start(&a, &o, args))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	if (load_events(&a) || !(ready = find(&a, &mr)))
		FAIL_OUT("no ready event");
	/* tenants until one finds no room */
	for (made = 0; made < 32 && !wait_line(&a, "\"type\":\"policy_map\"", "\"full\"", 0.05); made++) {
		snprintf(name, sizeof(name), "/t-full%d", made);
		if (cg_make(name))
			FAIL_OUT("mkdir %s: %s", name, strerror(errno));
		snprintf(last, sizeof(last), "%s", name);
		snprintf(needle, sizeof(needle), "\"path\":\"%s%s\"", root, name);
		if (!wait_line(&a, "\"type\":\"tenant\"", needle, 10))
			FAIL_OUT("no tenant event for %s", name);
	}
	if (!wait_line(&a, "\"type\":\"policy_map\"", "\"full\"", 1))
		FAIL_OUT("%d tenants made past --max-cgroups 16 and no policy_map full event", made);
	r1 = run_in(last, do_open, gpu1); /* the tenant without an entry */
	/* room again: the first of ours goes, the last one is written */
	cg_remove("/t-full0");
	if (!wait_line(&a, "\"type\":\"policy_map\"", "\"room\"", 10))
		FAIL_OUT("no policy_map room event after a tenant went");
	r2 = run_in(last, do_open, gpu1);
	if (agent_stop(&a))
		goto out;
	ERRNO_IS(r1.err, enforce ? EPERM : ENXIO, "open from the tenant the map had no room for");
	ERRNO_IS(r2.err, enforce ? EPERM : ENXIO, "open from it once written");
	for (size_t i = 0; i < a.n_ev; i++)
		if (matches(a.ev[i], &mfull)) {
			if (!strcmp(jstr(a.ev[i], "event"), "full") && !full)
				full = a.ev[i];
			if (!strcmp(jstr(a.ev[i], "event"), "room"))
				room = a.ev[i];
		}
	if (!full || !room)
		FAIL_OUT("policy_map events: full %p, room %p", (void *)full, (void *)room);
	snprintf(needle, sizeof(needle), "%s%s", root, last);
	if (jint(full, "max_entries") != 16 || jint(full, "unwritten") != 1 ||
	    strcmp(jstr(full, "cgroup.path"), needle))
		FAIL_OUT("policy_map full event: max %lld, unwritten %lld, cgroup '%s' (expected 16, 1, %s)",
			 jint(full, "max_entries"), jint(full, "unwritten"), jstr(full, "cgroup.path"),
			 needle);
	{
		struct match m1 = { .op = "open", .major = NV, .minor = 1, .cgroup = last, .pid = r1.pid };
		struct match m2 = { .op = "open", .major = NV, .minor = 1, .cgroup = last, .pid = r2.pid };

		if (expect(&a, &m1, "unresolved", enforce ? "denied" : "observed", "no room") ||
		    expect(&a, &m2, "unmediated", enforce ? "denied" : "observed", "written"))
			goto out;
	}
	if (jint(summary(&a), "policy.map_refused") < 1 || jint(summary(&a), "policy.map_unwritten"))
		FAIL_OUT("summary: refused %lld, unwritten %lld (expected >= 1, 0)",
			 jint(summary(&a), "policy.map_refused"), jint(summary(&a), "policy.map_unwritten"));
	ret = 0;
out:
	agent_free(&a);
	for (int i = 0; i <= made && i < 32; i++) {
		snprintf(name, sizeof(name), "/t-full%d", i);
		cg_remove(name);
	}
	return ret;
}

static int test_policy_map_full_audit(void)
{
	return policy_map_full("audit");
}

static int test_policy_map_full_enforce(void)
{
	return policy_map_full("enforce");
}

/* Issue 19.2: what a tenant names below itself changes nothing: a sub-cgroup of t-b named like an
 * exempt pattern, or with glob characters, dots, a space, a long name, is t-b (cgroupfs refuses a
 * newline in a name: EINVAL). The same name at the tenants' level is exempt. */
static int subcgroup_names(const char *mode)
{
	static const char *const names[] = {
		"/t-b/nvidia-dcgm.service", "/t-b/x", "/t-b/x/nvidia-dcgm.service", "/t-b/*",
		"/t-b/[a-z]", "/t-b/..a", "/t-b/...", "/t-b/a b", "/t-b/ex", NULL,
	};
	char ex[600], longname[300], longp[400];
	struct cfg_opts o = { .mode = mode, .exempt = ex };
	bool enforce = !strcmp(mode, "enforce");
	struct agent a;
	struct child_res r[12], rx;
	size_t n = 0;
	int ret = 1;

	snprintf(ex, sizeof(ex), "[\"%s/ex\", \"/**/nvidia-dcgm.service\", \"%s/t-*/x/**\", \"%s/\\\\*\"]",
		 root, root, root);
	memset(longname, 'n', 255);
	longname[255] = 0;
	snprintf(longp, sizeof(longp), "/t-b/%s", longname);
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	for (n = 0; names[n]; n++)
		if (cg_make(names[n]))
			FAIL_OUT("mkdir %s: %s", names[n], strerror(errno));
	if (cg_make(longp) || cg_make("/nvidia-dcgm.service"))
		FAIL_OUT("mkdir: %s", strerror(errno));
	usleep(300000); /* the agent has the mkdirs */
	for (size_t i = 0; i < n; i++)
		r[i] = run_in(names[i], do_open, gpu0); /* t-a's */
	r[n] = run_in(longp, do_open, gpu0);
	rx = run_in("/nvidia-dcgm.service", do_open, gpu0); /* at the tenants' level: exempt */
	if (agent_stop(&a))
		goto out;
	for (size_t i = 0; i <= n; i++) {
		const char *cg = i < n ? names[i] : longp;
		struct match m = { .op = "open", .major = NV, .minor = 0, .cgroup = cg, .pid = r[i].pid };

		if (r[i].err != (enforce ? EPERM : ENXIO))
			FAIL_OUT("open from t-b's sub-cgroup '%s': errno %d, expected %d", cg, r[i].err,
				 enforce ? EPERM : ENXIO);
		if (expect(&a, &m, "cross_tenant", enforce ? "denied" : "observed", cg))
			goto out;
	}
	if (rx.err != ENXIO)
		FAIL_OUT("open from the exempt service at the tenants' level: errno %d", rx.err);
	{
		struct match m = { .op = "open", .major = NV, .minor = 0, .cgroup = "/nvidia-dcgm.service",
				   .pid = rx.pid };

		if (expect(&a, &m, "exempt", "observed", "exempt at the tenants' level"))
			goto out;
	}
	ret = 0;
out:
	agent_free(&a);
	cg_remove(longp);
	cg_remove("/nvidia-dcgm.service");
	for (size_t i = n; i-- > 0;)
		cg_remove(names[i]);
	return ret;
}

static int test_evasion_subcgroup_names_audit(void)
{
	return subcgroup_names("audit");
}

static int test_evasion_subcgroup_names_enforce(void)
{
	return subcgroup_names("enforce");
}

/* Issue 19.4: a tenant's violations are counted and rate-limited per tenant, however many
 * sub-cgroups it spreads over: the totals run on across them. */
static int per_tenant_budget(const char *mode)
{
	struct cfg_opts o = { .mode = mode, .rate_limit = 100 };
	bool enforce = !strcmp(mode, "enforce");
	struct agent a;
	struct flood f = { .n = 1000 };
	long long events = 0, max_total = 0, supp = 0;
	double t0, el;
	char name[64];
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "/t-c/v%d", i);
		if (cg_make(name))
			FAIL_OUT("mkdir %s: %s", name, strerror(errno));
	}
	usleep(200000);
	t0 = now_s();
	if (enforce) {
		/* each violation is denied (or its caller killed): one open per sub-cgroup */
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "/t-c/v%d", i);
			run_in(name, do_open, gpu1);
		}
	} else {
		f.fd = open_carried(acc);
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "/t-c/v%d", i);
			run_in(name, do_flood, &f);
		}
		close(f.fd);
	}
	el = now_s() - t0;
	sleep_s(0.3);
	if (agent_stop(&a))
		goto out;
	for (size_t i = 0; i < a.n_ev; i++) {
		json_object *e = a.ev[i];

		if (!strcmp(jstr(e, "type"), "suppressed") && below(e, "/t-c"))
			supp += jint(e, "count");
		if (strcmp(jstr(e, "type"), "access") || !below(e, "/t-c/v") ||
		    !jget(e, "violations.total"))
			continue;
		events++;
		if (jint(e, "violations.total") > max_total)
			max_total = jint(e, "violations.total");
	}
	if (enforce) {
		if (events != 10 || max_total != 10)
			FAIL_OUT("10 violations from 10 sub-cgroups: %lld events, highest total %lld "
				 "(expected 10, 10: one tenant's count)", events, max_total);
	} else {
		long long budget = 100 * ((long long)el + 2);

		printf("# 10 sub-cgroups x %d violations in %.2f s: %lld events, %lld suppressed, "
		       "highest total %lld (rate_limit 100)\n", f.n, el, events, supp, max_total);
		if (events > budget)
			FAIL_OUT("%lld violation events in %.2f s from one tenant with rate_limit 100",
				 events, el);
		if (max_total < events || events + supp + jint(summary(&a), "drops.violation") != 10 * f.n)
			FAIL_OUT("%lld events + %lld suppressed != %d; highest total %lld", events, supp,
				 10 * f.n, max_total);
	}
	ret = 0;
out:
	agent_free(&a);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "/t-c/v%d", i);
		cg_remove(name);
	}
	return ret;
}

static int test_evasion_per_tenant_budget_audit(void)
{
	return per_tenant_budget("audit");
}

static int test_evasion_per_tenant_budget_enforce(void)
{
	return per_tenant_budget("enforce");
}

static const struct {
	const char *name, *op, *op32;
	child_fn fn;
	unsigned int flags;
	long nr; /* rw_ioctl_nr */
} rw_rows[] = {
	{ "read", "read", NULL, rw_read, 0 },
	{ "pread64", "read", NULL, rw_pread, 0 },
	{ "readv", "read", NULL, rw_readv, 0 },
	{ "preadv2", "read", NULL, rw_preadv2, 0 },
	{ "splice into a pipe", "read", NULL, rw_splice, 0 },
	{ "sendfile from the device", "read", NULL, rw_sendfile_from, 0 },
	{ "io_uring IORING_OP_READ", "read", NULL, rw_io_uring_read, RW_T3_UNSEEN },
	{ "write", "write", NULL, rw_write, 0 },
	{ "pwritev", "write", NULL, rw_pwritev, 0 },
	{ "sendfile to the device", "write", NULL, rw_sendfile_to, 0 },
	{ "mmap", "mmap", NULL, rw_mmap, 0 },
	{ "MAP_ANONYMOUS naming the descriptor", "mmap", NULL, rw_mmap_anon, RW_NO_ACCESS },
	{ "32-bit read", "read", "read", rw_32, RW_32BIT },
	{ "32-bit mmap2", "mmap", "mmap2", rw_32, RW_32BIT },
	{ "32-bit old_mmap", "mmap", "old_mmap", rw_32, RW_32BIT },
	{ "x32 readv", "read", NULL, rw_x32_readv, RW_X32 },
	{ "x32 ioctl", "ioctl", NULL, rw_ioctl_nr, RW_X32, AG_X32 | 514 },
	{ "x32 bit on x86-64's ioctl number (ENOSYS)", "ioctl", NULL, rw_ioctl_nr,
	  RW_X32 | RW_NO_ACCESS, AG_X32 | 16 },
	{ "x32's ioctl number without the x32 bit (ENOSYS)", "ioctl", NULL, rw_ioctl_nr,
	  RW_NO_ACCESS, 514 },
};
#define RW_ROWS (sizeof(rw_rows) / sizeof(rw_rows[0]))

static int do_nothing(void *arg)
{
	(void)arg;
	return 0;
}

static int ev_rw_mmap(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct child_res r[RW_ROWS];
	pid_t pid[RW_ROWS];
	int *pid32 = mmap_shared_int(), fd, ret = 1, probe;
	bool have32, have_x32 = x32_runs();
	struct run32 p32 = { .argv = { "--open", "/dev/null" } };
	struct agent a;

	probe = do_run32(&p32);
	have32 = probe == ENOTTY;
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	fd = open_carried(acc); /* the host opens t-a's device; the children in t-c inherit it */
	if (fd < 0)
		FAIL_OUT("open %s: %s", acc, strerror(errno));
	/* reads: arrival: the carried slot is past the move's walk, which cannot stop it: the agent
	 * attaches the per-use hook; the rows run once it has (the reads before it: not judged) */
	if (arrival_live(&a)) {
		run_in("/t-c", do_nothing, NULL);
		if (!wait_line(&a, "\"type\":\"per_use\"", NULL, 10))
			FAIL_OUT("reads: arrival: a move past the walk attached no per-use hook");
	}
	for (size_t i = 0; i < RW_ROWS; i++) {
		struct rw_arg arg = { .fd = fd, .op32 = rw_rows[i].op32, .pid = pid32,
				      .nr = rw_rows[i].nr };

		memset(&r[i], 0, sizeof(r[i]));
		pid[i] = 0;
		if (((rw_rows[i].flags & RW_32BIT) && !have32) || ((rw_rows[i].flags & RW_X32) && !have_x32))
			continue;
		*pid32 = 0;
		r[i] = run_in("/t-c", rw_rows[i].fn, &arg);
		pid[i] = (rw_rows[i].flags & RW_32BIT) ? *pid32 : r[i].pid;
	}
	close(fd);
	if (agent_stop(&a))
		goto out;
	if (arrival(&a) && expect_per_use(&a, "walk", mode))
		goto out;
	for (size_t i = 0; i < RW_ROWS; i++) {
		const char *name = rw_rows[i].name;
		unsigned int fl = rw_rows[i].flags;
		bool t3 = !enforce_is_sync(&a);
		bool unseen = (fl & RW_T3_UNSEEN) && t3;
		struct match m = { .op = rw_rows[i].op, .major = ACC_MAJOR, .minor = ACC_MINOR,
				   .cgroup = "/t-c", .pid = pid[i] };
		struct match any = { .major = -1, .minor = -1, .pid = pid[i] };
		/* the child's own result: a kill of the child, or of the 32-bit process under it */
		int res = r[i].sig ? 1000 + r[i].sig : r[i].err;

		if (fl & RW_32BIT && !have32) {
			printf("# %s %s: skipped: cannot run the 32-bit helper (%d)\n", mode, name, probe);
			continue;
		}
		if (fl & RW_X32 && !have_x32) {
#if defined(__x86_64__)
			printf("# %s %s: skipped: this kernel runs no x32 syscalls (ENOSYS; Debian: "
			       "syscall.x32=y)\n", mode, name);
#else
			printf("# %s %s: skipped: x32 is an x86-64 ABI\n", mode, name);
#endif
			continue;
		}
		if (res >= 3000 && res < 4000) {
			printf("# %s %s: skipped, not available here: %s\n", mode, name,
			       strerror(res - 3000));
			continue;
		}
		if (res > 1000 && res < 3000 && res != 1000 + SIGKILL)
			FAIL_OUT("%s: setup failed or killed by signal: %d", name, res);
		if (fl & RW_NO_ACCESS || unseen) {
			if (res == EPERM || res == 1000 + SIGKILL)
				FAIL_OUT("%s (%s, tier %s): result %d, expected no denial", name, mode,
					 a.tier, res);
			if (count(&a, &any))
				FAIL_OUT("%s (%s, tier %s): reported, expected %s", name, mode, a.tier,
					 unseen ? "no event (tier 3 has no hook on this route)"
						: "nothing (no access to the device)");
			printf("# %s %s: result %d, no event (%s)\n", mode, name, res,
			       unseen ? "not seen at tier 3" : "no access");
			continue;
		}
		if (!enforce && (res == EPERM || res == 1000 + SIGKILL))
			FAIL_OUT("%s (audit): result %d, expected the driver's answer", name, res);
		if (enforce && !t3 && res != EPERM)
			FAIL_OUT("%s (enforce, tier %s): result %d, expected EPERM", name, a.tier, res);
		if (enforce && t3 && res != 1000 + SIGKILL)
			FAIL_OUT("%s (enforce, tier 3): result %d, expected a SIGKILL", name, res);
		if (expect(&a, &m, "cross_tenant", !enforce ? "observed" : t3 ? "killed" : "denied",
			   name))
			goto out;
		printf("# %s %s: result %d, event %s cross_tenant/%s\n", mode, name, res, m.op,
		       !enforce ? "observed" : t3 ? "killed" : "denied");
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_evasion_rw_mmap_audit(void)
{
	return ev_rw_mmap("audit");
}

static int test_evasion_rw_mmap_enforce(void)
{
	return ev_rw_mmap("enforce");
}

/* The agent's own state: its pins directory is 0700 root; a tenant process that is not root
 * (uid 65534, no capabilities) can neither list it nor open a pinned map (BPF_OBJ_GET). A tenant
 * with CAP_BPF/CAP_SYS_ADMIN (root on the node) can: that is outside what the agent defends. */
static int ev_pins_child(void *arg)
{
	const char *obj = arg;
	union {
		struct {
			unsigned long long pathname;
			unsigned int bpf_fd, file_flags;
		} get;
		char pad[128];
	} attr;
	DIR *d;
	int fd;

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return 2000 + errno;
	d = opendir(pin_dir);
	if (d) {
		closedir(d);
		return 3000; /* listed */
	}
	if (errno != EACCES)
		return 4000 + errno;
	memset(&attr, 0, sizeof(attr));
	attr.get.pathname = (unsigned long)obj;
	fd = syscall(SYS_bpf, 7 /* BPF_OBJ_GET */, &attr, sizeof(attr));
	if (fd >= 0)
		return 5000; /* got a map */
	return errno;
}

static int find_pinned_map(const char *dir, char *out, size_t len, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while (found && (e = readdir(d))) {
		char p[1024];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st))
			continue;
		if (S_ISDIR(st.st_mode) && depth < 3)
			found = find_pinned_map(p, out, len, depth + 1);
		else if (S_ISREG(st.st_mode) && strstr(dir, "maps_")) {
			snprintf(out, len, "%s", p);
			found = 0;
		}
	}
	closedir(d);
	return found;
}

static int test_evasion_agent_pins(void)
{
	struct cfg_opts o = { .mode = "enforce" };
	struct agent a;
	struct child_res r;
	struct stat st;
	char obj[1024];
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	if (stat(pin_dir, &st))
		FAIL_OUT("%s: %s", pin_dir, strerror(errno));
	if ((st.st_mode & 0777) != 0700 || st.st_uid != 0)
		FAIL_OUT("%s: mode %03o owner %d, expected 0700 root", pin_dir, st.st_mode & 0777,
			 (int)st.st_uid);
	if (find_pinned_map(pin_dir, obj, sizeof(obj), 0))
		FAIL_OUT("no pinned map under %s", pin_dir);
	r = run_in("/t-c", ev_pins_child, obj);
	if (agent_stop(&a))
		goto out;
	if (r.err != EACCES && r.err != EPERM)
		FAIL_OUT("uid 65534 in t-c and %s: result %d (3000 listed the dir, 5000 opened the "
			 "map, 2000+ setuid, 4000+ opendir errno), expected EACCES or EPERM", obj,
			 r.err);
	printf("# pins %s mode 0700 root; uid 65534: opendir EACCES, BPF_OBJ_GET %s\n", pin_dir,
	       strerror(r.err));
	ret = 0;
out:
	agent_free(&a);
	return ret;
}
/* ---- faults -------------------------------------------------------------------------------- */

/* The agent OOM-killed under a memory limit: moved after ready into a memory cgroup whose limit is
 * just above what it has charged there, it is made to allocate (new tenant cgroups to track)
 * until the kernel's OOM killer takes it. While no agent runs, the pinned programs keep denying;
 * the next agent adopts the pins and denies too. The memory cgroup is cgroup2's memory.max where
 * cgroup2 has the memory controller, else cgroup v1's memory.limit_in_bytes. */
static char oom_cg[512];
static bool oom_v2;

static int oom_cg_make(void)
{
	char p[700], *ctl;

	snprintf(p, sizeof(p), "%s/cgroup.controllers", cg2);
	ctl = read_all(p);
	oom_v2 = strstr(ctl, "memory") != NULL;
	free(ctl);
	if (oom_v2) {
		snprintf(p, sizeof(p), "%s/cgroup.subtree_control", cg2);
		write_file(p, "+memory");
		snprintf(oom_cg, sizeof(oom_cg), "%s/itest-oom-%d", cg2, getpid());
	} else {
		if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK))
			return -ENOENT;
		snprintf(oom_cg, sizeof(oom_cg), "/sys/fs/cgroup/memory/itest-oom-%d", getpid());
	}
	if (mkdir(oom_cg, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static long long oom_read(const char *file, const char *key)
{
	char p[700], *t, *k;
	long long v = -1;

	snprintf(p, sizeof(p), "%s/%s", oom_cg, file);
	t = read_all(p);
	if (!key)
		v = atoll(t);
	else if ((k = strstr(t, key)))
		v = atoll(k + strlen(key));
	free(t);
	return v;
}

static int oom_limit(long long bytes)
{
	char p[700], v[32];

	snprintf(p, sizeof(p), "%s/%s", oom_cg, oom_v2 ? "memory.max" : "memory.limit_in_bytes");
	snprintf(v, sizeof(v), "%lld", bytes);
	return write_file(p, v);
}

static int do_open_gpu0(void *arg)
{
	(void)arg;
	return do_open(gpu0);
}

static int test_fault_oom_restart(void)
{
	struct cfg_opts o = { .mode = "enforce" };
	struct match mr = { .type = "ready", .major = -1, .minor = -1 };
	struct agent a1, a2;
	struct child_res r1, r2;
	json_object *ready;
	char p[700], pid[16];
	int made = 0, st = 0, ret = 1;
	long long cur, kills;
	pid_t dead = 0;

	memset(&a2, 0, sizeof(a2));
	if (oom_cg_make())
		SKIP("no memory cgroup (neither cgroup2's memory controller nor cgroup v1's)");
	if (agent_start(&a1, &o, NULL))
		FAIL_OUT("agent did not become ready: %.300s", read_all(a1.errlog));
	snprintf(p, sizeof(p), "%s/cgroup.procs", oom_cg);
	snprintf(pid, sizeof(pid), "%d", a1.pid);
	if (write_file(p, pid))
		FAIL_OUT("cannot move the agent into %s: %s", oom_cg, strerror(errno));
	/* cgroup v1 refuses (EBUSY) a limit below what the group holds by then: the agent keeps
	 * charging as it runs (v1 does not move its earlier charge along), so read again and retry */
	for (int i = 0;; i++) {
		cur = oom_read(oom_v2 ? "memory.current" : "memory.usage_in_bytes", NULL);
		st = oom_limit(cur + 64 * 1024);
		if (!st || errno != EBUSY || i == 50)
			break;
		usleep(20000);
	}
	if (st)
		FAIL_OUT("cannot set the memory limit of %s to %lld: %s", oom_cg, cur + 64 * 1024,
			 strerror(errno));
	/* new tenants to track: the agent's heap grows until the OOM killer takes it */
	for (; made < 20000 && !dead; made++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "/t-oom%d", made);
		cg_make(rel);
		if (made % 100 == 99) {
			usleep(20000);
			dead = waitpid(a1.pid, &st, WNOHANG);
		}
	}
	for (int i = 0; i < 300 && !dead; i++) {
		usleep(10000);
		dead = waitpid(a1.pid, &st, WNOHANG);
	}
	if (dead != a1.pid)
		FAIL_OUT("the agent outlived %d new tenants under a limit of %lld bytes", made,
			 cur + 64 * 1024);
	a1.pid = 0;
	kills = oom_v2 ? oom_read("memory.events", "oom_kill ") : oom_read("memory.oom_control", "oom_kill ");
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL || kills < 1)
		FAIL_OUT("agent ended with status 0x%x, oom_kill %lld: expected an OOM kill", st, kills);
	printf("# the agent OOM-killed after %d new tenants (limit %lld bytes, oom_kill %lld)\n", made,
	       cur + 64 * 1024, kills);
	r1 = run_in("/t-b", do_open_gpu0, NULL); /* t-a's device, no agent running */
	if (r1.err != EPERM)
		FAIL_OUT("no agent after the OOM kill: t-b's open of t-a's device got errno %d, "
			 "expected EPERM (the pins keep the programs)", r1.err);
	if (agent_start(&a2, &o, NULL))
		FAIL_OUT("the agent did not restart: %.300s", read_all(a2.errlog));
	r2 = run_in("/t-b", do_open_gpu0, NULL);
	if (agent_stop(&a2))
		goto out;
	ready = find(&a2, &mr);
	if (!ready || strcmp(jstr(ready, "pin.state"), "adopted"))
		FAIL_OUT("restart after the OOM kill: ready.pin.state %s, expected adopted",
			 ready ? jstr(ready, "pin.state") : "(no ready)");
	if (r2.err != EPERM)
		FAIL_OUT("after the restart: errno %d, expected EPERM", r2.err);
	{
		struct match m = { .op = "open", .major = NV, .minor = 0, .cgroup = "/t-b", .pid = r2.pid };

		if (expect(&a2, &m, "cross_tenant", "denied", "after the restart"))
			goto out;
	}
	ret = 0;
out:
	agent_free(&a1);
	agent_free(&a2);
	for (int i = 0; i < made; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "/t-oom%d", i);
		cg_remove(rel);
	}
	if (oom_cg[0])
		rmdir(oom_cg);
	return ret;
}
/* The LRU `counters` map filled: t-a issues ioctls with more distinct commands than the map has
 * entries, each (cgroup, device, op, cmd) a new key, so a first sighting. The totals stay exact,
 * the map holds at most its size, and what went is counted: summary.counter_evictions plus
 * summary.counter_entries is every first sighting the agent received. */
static int do_ioctl_many(void *arg)
{
	int n = *(int *)arg, fd = open(acc, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno;
	for (int i = 0; i < n; i++) {
		/* distinct 32-bit commands (the kernel's cmd is 32 bits) with size bits that no VFS
		 * ioctl has: /dev/full has no ioctl and answers ENOTTY to each */
		unsigned int cmd = 0xA7000000u + (unsigned int)i;

		if (ioctl(fd, cmd, 0) == 0 || errno != ENOTTY) {
			int e = errno;

			close(fd);
			return e ? e : EIO;
		}
		if (i % 2000 == 1999)
			usleep(2000); /* let the agent drain the ring buffer */
	}
	close(fd);
	return 0;
}

static int test_fault_counters_lru(void)
{
	struct cfg_opts o = { .mode = "audit" };
	const char *args[] = { "--ringbuf-kb", "65536", NULL };
	struct match mr = { .type = "ready", .major = -1, .minor = -1 };
	struct match mf = { .op = "ioctl", .major = ACC_MAJOR, .minor = ACC_MINOR, .cgroup = "/t-a" };
	struct agent a;
	struct child_res r;
	json_object *s, *ready;
	long long max, entries, evicted, allowed, firsts = 0;
	int n, ret = 1;

	if (agent_start(&a, &o, args))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	if (load_events(&a) || !(ready = find(&a, &mr)))
		FAIL_OUT("no ready event");
	max = jint(ready, "counter_entries");
	n = (int)max + 4096;
	r = run_in("/t-a", do_ioctl_many, &n);
	if (agent_stop(&a))
		goto out;
	if (r.err)
		FAIL_OUT("ioctls: errno %d (%s), expected ENOTTY from the driver each time", r.err,
			 strerror(r.err));
	s = summary(&a);
	if (!s)
		FAIL_OUT("no summary");
	for (size_t i = 0; i < a.n_ev; i++) {
		json_object *f;

		if (matches(a.ev[i], &mf) && json_object_object_get_ex(a.ev[i], "first", &f) &&
		    json_object_get_boolean(f))
			firsts++;
	}
	entries = jint(s, "counter_entries");
	evicted = jint(s, "counter_evictions");
	allowed = jint(s, "accesses.ioctl.allowed");
	if (jint(s, "drops.total"))
		FAIL_OUT("%lld events dropped: the count would be a lower bound", jint(s, "drops.total"));
	if (allowed < n)
		FAIL_OUT("accesses.ioctl.allowed %lld, expected at least %d (exact totals)", allowed, n);
	if (firsts < n)
		FAIL_OUT("%lld first-sighting ioctl events from t-a, expected %d", firsts, n);
	if (entries > max)
		FAIL_OUT("counter_entries %lld above the map's %lld", entries, max);
	if (evicted < n - max)
		FAIL_OUT("counter_evictions %lld, expected at least %lld (%d keys, %lld entries)",
			 evicted, n - max, n, max);
	printf("# counters map: %lld entries of %lld after %d distinct ioctl keys; evictions %lld, "
	       "first sightings %lld (all of this agent's: %lld)\n", entries, max, n, evicted, firsts,
	       entries + evicted);
	ret = 0;
out:
	agent_free(&a);
	return ret;
}
/* ---- a descriptor arriving in another tenant, judged on arrival at tier 3 -------------------- */

/* t-a sends a decoy (/dev/null) and its 1:7 in one SCM_RIGHTS message; t-c receives it with
 * recvmsg or recvmmsg and issues an ioctl on the device. 0 / EPERM / 1000 + signal, like pass_fd;
 * *pid: the receiver. */
static int pass_two(void *arg, bool mmsg)
{
	int sv[2], fds[2], st, *out = arg;
	pid_t p;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return errno;
	p = fork();
	if (p == 0) {
		char c, cbuf[CMSG_SPACE(2 * sizeof(int))];
		struct iovec iov = { &c, 1 };
		struct mmsghdr mm = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1,
						   .msg_control = cbuf,
						   .msg_controllen = sizeof(cbuf) } };
		struct cmsghdr *cm;
		int got[2], e;

		close(sv[0]);
		if (cg_enter("/t-c"))
			_exit(100);
		if (mmsg ? syscall(SYS_recvmmsg, sv[1], &mm, 1, 0, NULL) != 1
			 : recvmsg(sv[1], &mm.msg_hdr, 0) != 1)
			_exit(3);
		cm = CMSG_FIRSTHDR(&mm.msg_hdr);
		/* refused on arrival (file_receive): the decoy came, the device did not */
		if (cm && cm->cmsg_len == CMSG_LEN(sizeof(int)) && (mm.msg_hdr.msg_flags & MSG_CTRUNC))
			_exit(4);
		if (!cm || cm->cmsg_len != CMSG_LEN(2 * sizeof(int)))
			_exit(3);
		memcpy(got, CMSG_DATA(cm), sizeof(got));
		e = do_ioctl_fd(&got[1]);
		_exit(e == ENOTTY ? 0 : e == EPERM ? 1 : 2);
	}
	close(sv[1]);
	fds[0] = open("/dev/null", O_RDWR);
	fds[1] = open(acc, O_RDWR);
	{
		char c = 'x', cbuf[CMSG_SPACE(2 * sizeof(int))];
		struct iovec iov = { &c, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
		if (sendmsg(sv[0], &mh, 0) != 1)
			return errno;
	}
	waitpid(p, &st, 0);
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	*out = p;
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	if (WEXITSTATUS(st) == 4)
		return RX_REFUSED;
	return WEXITSTATUS(st) == 0 ? ENOTTY : WEXITSTATUS(st) == 1 ? EPERM : EIO;
}

static int pass_two_recvmsg(void *arg)
{
	return pass_two(arg, false);
}

static int pass_two_recvmmsg(void *arg)
{
	return pass_two(arg, true);
}

static const struct {
	const char *name;
	child_fn fn;
} rx_rows[] = {
	{ "recvmsg, a decoy and the device in one SCM_RIGHTS", pass_two_recvmsg },
	{ "recvmmsg, the same", pass_two_recvmmsg },
	{ "pidfd_getfd", ev_pidfd_steal },
};
#define RX_ROWS (sizeof(rx_rows) / sizeof(rx_rows[0]))

/*
 * Tier 3 judges a descriptor of another tenant's device when it arrives (op receive, at the exit
 * of recvmsg, recvmmsg, pidfd_getfd): audit reports it there and at its ioctl; enforce kills the
 * receiver on arrival (no ioctl judged: asserted). Tiers 1-2 judge its use (the ioctl: EPERM) and
 * refuse pidfd_getfd itself (op ptrace); they report no receive. Tiers 1-2 with reads: arrival
 * judge it on arrival too (file_receive): enforce refuses it there (the decoy arrives, the
 * device does not, MSG_CTRUNC: RX_REFUSED; no ioctl judged), audit reports the receive and the
 * ioctl, and attaches the per-use hook (reason audit).
 */
static int ev_fd_arrival(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct child_res r[RX_ROWS];
	int *pid = mmap_shared_int();
	pid_t recv_pid[RX_ROWS];
	struct agent a;
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	for (size_t i = 0; i < RX_ROWS; i++) {
		*pid = 0;
		r[i] = run_in("/t-a", rx_rows[i].fn, pid);
		recv_pid[i] = *pid;
	}
	if (agent_stop(&a))
		goto out;
	if (arrival(&a) && expect_per_use(&a, enforce ? NULL : "audit", mode))
		goto out;
	for (size_t i = 0; i < RX_ROWS; i++) {
		bool tp = !enforce_is_sync(&a), getfd = rx_rows[i].fn == ev_pidfd_steal;
		struct match rx = { .op = "receive", .major = ACC_MAJOR, .minor = ACC_MINOR,
				    .cgroup = "/t-c", .pid = recv_pid[i] };
		struct match io = rx;
		int want = !enforce ? ENOTTY : tp ? 1000 + SIGKILL : EPERM;

		io.op = "ioctl";
		if (arrival(&a) && enforce && !getfd)
			want = RX_REFUSED;
		if (r[i].err != want)
			FAIL_OUT("%s %s: result %d, expected %d (tier %s)", mode, rx_rows[i].name,
				 r[i].err, want, a.tier);
		if (arrival(&a) && (!enforce || !getfd)) {
			/* judged on arrival by file_receive, synchronously */
			if (expect(&a, &rx, "cross_tenant", enforce ? "denied" : "observed",
				   rx_rows[i].name))
				goto out;
			if (enforce ? find(&a, &io) != NULL
				    : expect(&a, &io, "cross_tenant", "observed", rx_rows[i].name))
				FAIL_OUT("%s %s: the ioctl %s", mode, rx_rows[i].name,
					 enforce ? "was judged after a refusal on arrival"
						 : "was not reported");
		} else if (tp) {
			if (expect(&a, &rx, "cross_tenant", enforce ? "killed" : "observed",
				   rx_rows[i].name))
				goto out;
			if (enforce ? find(&a, &io) != NULL
				    : expect(&a, &io, "cross_tenant", "observed", rx_rows[i].name))
				FAIL_OUT("%s %s: the ioctl %s", mode, rx_rows[i].name,
					 enforce ? "was judged after a kill on arrival" : "was not reported");
		} else {
			if (find(&a, &rx))
				FAIL_OUT("%s %s: a receive event at tier %s", mode, rx_rows[i].name, a.tier);
			if (getfd && enforce)
				io.op = "ptrace", io.major = io.minor = -1;
			if (expect(&a, &io, "cross_tenant", enforce ? "denied" : "observed",
				   rx_rows[i].name))
				goto out;
		}
		printf("# %s %s: %s, %s\n", mode, rx_rows[i].name,
		       r[i].err == RX_REFUSED ? "refused on arrival"
		       : r[i].err >= 1000     ? "killed"
					      : strerror(r[i].err),
		       getfd && enforce && !tp ? "refused by the ptrace check (tiers 1-2)"
		       : tp || arrival(&a)     ? "judged on arrival (receive)"
					       : "judged at use (tiers 1-2)");
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_evasion_fd_arrival_audit(void)
{
	return ev_fd_arrival("audit");
}

static int test_evasion_fd_arrival_enforce(void)
{
	return ev_fd_arrival("enforce");
}

/* ---- another tenant's process: ptrace, process_vm_readv/writev, /proc/PID/mem --------------- */
#include <sys/ptrace.h>

#define PT_BEFORE 0x1111111111111111LL
#define PT_AFTER 0x2222222222222222LL
/* forked, not exec'd: the victim's copy is at the same address in the attacker */
static volatile long long pt_word = PT_BEFORE;

struct pt_victim {
	pid_t pid;
	int cmd, rep;
};

/* A victim in cg that holds the test device open and blocks until asked for its word. */
static int pt_victim_start(struct pt_victim *v, const char *cg)
{
	int c[2], r[2];
	long long w = -1;

	if (pipe(c))
		return -errno;
	if (pipe(r)) {
		close(c[0]);
		close(c[1]);
		return -errno;
	}
	v->pid = fork();
	if (v->pid == 0) {
		char b;

		close(c[1]);
		close(r[0]);
		if (cg_enter(cg))
			_exit(100);
		w = open(acc, O_RDWR | O_CLOEXEC) < 0 ? -1 : 0;
		if (write(r[1], &w, sizeof(w)) != sizeof(w))
			_exit(101);
		while (read(c[0], &b, 1) < 0 && errno == EINTR)
			;
		w = pt_word;
		_exit(write(r[1], &w, sizeof(w)) == sizeof(w) ? 0 : 102);
	}
	close(c[0]);
	close(r[1]);
	v->cmd = c[1];
	v->rep = r[0];
	return read(v->rep, &w, sizeof(w)) == sizeof(w) && w == 0 ? 0 : -EIO;
}

/* the victim's word, and its end */
static long long pt_victim_word(struct pt_victim *v)
{
	long long w = -1;

	if (write(v->cmd, "x", 1) != 1 || read(v->rep, &w, sizeof(w)) != sizeof(w))
		w = -1;
	close(v->cmd);
	close(v->rep);
	kill(v->pid, SIGKILL);
	waitpid(v->pid, NULL, 0);
	return w;
}

/* b seizes a's process, stops it and rewrites its word (the issue's route: the next system call
 * of the victim could be rewritten alike) */
static int pt_seize_poke(void *arg)
{
	pid_t v = *(pid_t *)arg;
	int st;

	if (ptrace(PTRACE_SEIZE, v, 0, 0))
		return errno;
	if (ptrace(PTRACE_INTERRUPT, v, 0, 0) || waitpid(v, &st, __WALL) != v ||
	    ptrace(PTRACE_POKEDATA, v, (void *)&pt_word, (void *)PT_AFTER) ||
	    ptrace(PTRACE_DETACH, v, 0, 0))
		return 1000 + errno;
	return 0;
}

static int pt_vm_write(void *arg)
{
	long long w = PT_AFTER;
	struct iovec l = { &w, sizeof(w) }, r = { (void *)&pt_word, sizeof(w) };

	return process_vm_writev(*(pid_t *)arg, &l, 1, &r, 1, 0) == sizeof(w) ? 0 : errno;
}

static int pt_vm_read(void *arg)
{
	long long w = 0;
	struct iovec l = { &w, sizeof(w) }, r = { (void *)&pt_word, sizeof(w) };

	pt_word = 0; /* this copy: what comes back is the victim's */
	if (process_vm_readv(*(pid_t *)arg, &l, 1, &r, 1, 0) != sizeof(w))
		return errno;
	return w == PT_BEFORE ? 0 : 2000;
}

static int pt_proc_mem(void *arg)
{
	long long w = PT_AFTER;
	char p[64];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/mem", *(pid_t *)arg);
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = pwrite(fd, &w, sizeof(w), (off_t)(unsigned long)&pt_word);
	close(fd);
	return n == sizeof(w) ? 0 : 1000 + errno;
}

/* The same from a 32-bit process (ioctl32 --pid N --op ...): the compat syscall table, which the
 * syscalls/ tracepoints skip. *pt32_pid: the 32-bit process's pid (the one judged). */
static int *pt32_pid;

static int pt32_run(pid_t v, const char *op)
{
	char pidarg[16];
	struct run32 x = { .argv = { "--pid", pidarg, "--op", op }, .pid = pt32_pid };
	int e;

	snprintf(pidarg, sizeof(pidarg), "%d", (int)v);
	e = do_run32(&x);
	return e == ENOTTY ? 0 : e; /* ioctl32's 0: let through */
}

static int pt32_seize(void *arg)
{
	return pt32_run(*(pid_t *)arg, "ptrace-seize");
}

static int pt32_vm_read(void *arg)
{
	return pt32_run(*(pid_t *)arg, "vm-read");
}

static const struct {
	const char *name;
	child_fn fn;
	bool writes; /* the victim's word changes when the route is let through */
	int deny;    /* errno of a denial at tiers 1-2 (mm_access answers EACCES, process_vm_* EPERM) */
	bool vpid;   /* tier 3 finds the target by its pid: bpf_task_from_vpid (6.13) */
	bool compat; /* through ioctl32: the 32-bit process is the one judged (or killed) */
} pt_rows[] = {
	{ "ptrace seize + poke", pt_seize_poke, true, EPERM, false, false },
	{ "process_vm_writev", pt_vm_write, true, EPERM, true, false },
	{ "process_vm_readv", pt_vm_read, false, EPERM, true, false },
	{ "/proc/PID/mem write", pt_proc_mem, true, EACCES, false, false },
	{ "32-bit ptrace seize", pt32_seize, false, EPERM, true, true },
	{ "32-bit process_vm_readv", pt32_vm_read, false, EPERM, true, true },
};

/* whether the running kernel has a function (kfuncs are in kallsyms by name) */
static bool kernel_has_symbol(const char *name)
{
	char *t = read_all("/proc/kallsyms"), *p = t;
	size_t n = strlen(name);
	bool has = false;

	while (!has && (p = strstr(p, name))) {
		has = p > t && p[-1] == ' ' && (p[n] == '\n' || p[n] == '\t');
		p += n;
	}
	free(t);
	return has;
}
#define PT_ROWS (sizeof(pt_rows) / sizeof(pt_rows[0]))

/*
 * t-b acts on a process of t-a (which holds a's device) every way; then, as a control, another
 * process of t-a writes its own tenant's memory. Enforce: denied (EPERM; EACCES for the open of
 * /proc/PID/mem) at tiers 1-2, killed at tier 3, and the victim's word is untouched either way (at
 * tier 3 the kill is pending before the transfer); audit: every route works and is reported
 * cross_tenant.
 */
static int ev_ptrace(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce");
	struct child_res r[PT_ROWS + 1];
	long long word[PT_ROWS + 1];
	pid_t victim[PT_ROWS + 1];
	bool vpid = kernel_has_symbol("bpf_task_from_vpid");
	struct agent a;
	int ret = 1;

	if (!pt32_pid)
		pt32_pid = mmap_shared_int();
	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	for (size_t i = 0; i <= PT_ROWS; i++) {
		struct pt_victim v;

		if (pt_victim_start(&v, "/t-a"))
			FAIL_OUT("victim in t-a did not start");
		victim[i] = v.pid;
		r[i] = run_in(i < PT_ROWS ? "/t-b" : "/t-a", i < PT_ROWS ? pt_rows[i].fn : pt_vm_write,
			      &v.pid);
		word[i] = pt_victim_word(&v);
		if (i < PT_ROWS && pt_rows[i].compat) {
			/* the 32-bit process is the one judged: its pid, its death */
			r[i].pid = *pt32_pid;
			if (r[i].err == 1000 + SIGKILL)
				r[i].err = 0, r[i].sig = SIGKILL;
		}
	}
	if (agent_stop(&a))
		goto out;
	for (size_t i = 0; i < PT_ROWS; i++) {
		struct match m = { .op = "ptrace", .major = -1, .minor = -1, .cgroup = "/t-b",
				   .pid = r[i].pid };
		bool killed = enforce && !enforce_is_sync(&a);
		json_object *e;

		if (pt_rows[i].compat && (r[i].err == ENOEXEC || r[i].err == 3000 + ENOSYS)) {
			printf("# %s %s: skipped: this kernel runs no 32-bit process (%s)\n", mode,
			       pt_rows[i].name, ioctl32_bin);
			continue;
		}

		if (!enforce_is_sync(&a) && pt_rows[i].vpid && !vpid) {
			/* the README's row: not judged at tier 3 before 6.13; asserted as it is */
			if (r[i].err || r[i].sig || find(&a, &m))
				FAIL_OUT("%s %s: tier 3 without bpf_task_from_vpid judged it (errno %d, "
					 "signal %d)", mode, pt_rows[i].name, r[i].err, r[i].sig);
			printf("# %s %s: not judged at tier 3: this kernel has no bpf_task_from_vpid "
			       "(6.13)\n", mode, pt_rows[i].name);
			continue;
		}
		const char *action = !enforce ? "observed" : killed ? "killed" : "denied";
		long long want_word = enforce || !pt_rows[i].writes ? PT_BEFORE : PT_AFTER;

		if (killed ? r[i].sig != SIGKILL : r[i].err != (enforce ? pt_rows[i].deny : 0))
			FAIL_OUT("%s %s: errno %d, signal %d; expected %s", mode, pt_rows[i].name,
				 r[i].err, r[i].sig, killed ? "SIGKILL" : enforce ? strerror(pt_rows[i].deny) : "success");
		if (word[i] != want_word)
			FAIL_OUT("%s %s: the victim's word is %#llx, expected %#llx", mode,
				 pt_rows[i].name, word[i], want_word);
		if (expect(&a, &m, "cross_tenant", action, pt_rows[i].name))
			goto out;
		e = find(&a, &m);
		if (jint(e, "target.pid") != victim[i])
			FAIL_OUT("%s %s: target.pid %lld, expected the victim %d", mode, pt_rows[i].name,
				 jint(e, "target.pid"), victim[i]);
		printf("# %s %s: %s, event cross_tenant/%s (route %s), victim's word %s\n", mode,
		       pt_rows[i].name, killed ? "killed" : r[i].err ? strerror(r[i].err) : "done",
		       action, jstr(e, "target.route"), word[i] == PT_BEFORE ? "untouched" : "rewritten");
	}
	{
		struct match m = { .op = "ptrace", .major = -1, .minor = -1, .pid = r[PT_ROWS].pid };

		if (r[PT_ROWS].err || word[PT_ROWS] != PT_AFTER)
			FAIL_OUT("%s: t-a writing its own process: errno %d, signal %d, word %#llx", mode,
				 r[PT_ROWS].err, r[PT_ROWS].sig, word[PT_ROWS]);
		if (find(&a, &m))
			FAIL_OUT("%s: t-a writing its own process was reported", mode);
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_evasion_ptrace_audit(void)
{
	return ev_ptrace("audit");
}

static int test_evasion_ptrace_enforce(void)
{
	return ev_ptrace("enforce");
}

/* ---- a descriptor carried by a move into another tenant ---------------------------------- */

/* t-a's process opens a's device and forks a child that waits; the parent moves the child into
 * t-c (another process moved it), then the child ioctls. *(int *)arg: the child's pid. */
static int moved_by_other(void *arg)
{
	int fd = open(acc, O_RDWR), go[2], st, *out = arg;
	char procs[1024], pid[16];
	pid_t p;

	if (fd < 0)
		return errno;
	if (pipe(go))
		return errno;
	p = fork();
	if (p == 0) {
		char c;
		int e;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		e = do_ioctl_fd(&fd);
		_exit(e == ENOTTY ? 0 : e == EPERM ? 1 : 2);
	}
	close(go[0]);
	close(fd);
	*out = p;
	cg_path(procs, sizeof(procs), "/t-c");
	strcat(procs, "/cgroup.procs");
	snprintf(pid, sizeof(pid), "%d", (int)p);
	if (write_file(procs, pid)) {
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		return 4000;
	}
	if (write(go[1], "x", 1) != 1) /* a child killed at its move: EPIPE, SIGPIPE ignored */
		(void)0;
	close(go[1]);
	waitpid(p, &st, 0);
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	return WEXITSTATUS(st) == 0 ? ENOTTY : WEXITSTATUS(st) == 1 ? EPERM : EIO;
}

/* t-a's process opens a's device and clone3s a child straight into t-c (CLONE_INTO_CGROUP: no
 * move, the child is born there), which ioctls. *(int *)arg: the child's pid. */
static int born_elsewhere(void *arg)
{
	struct {
		__u64 flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
			set_tid, set_tid_size, cgroup;
	} ca = { .flags = 0x200000000ULL /* CLONE_INTO_CGROUP */, .exit_signal = SIGCHLD };
	int fd = open(acc, O_RDWR), cgfd, st, *out = arg;
	char dir[1024];
	long p;

	if (fd < 0)
		return errno;
	cg_path(dir, sizeof(dir), "/t-c");
	cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return errno;
	ca.cgroup = (__u64)cgfd;
	p = syscall(435 /* clone3 */, &ca, sizeof(ca));
	if (p == 0) {
		int e = do_ioctl_fd(&fd);

		_exit(e == ENOTTY ? 0 : e == EPERM ? 1 : 2);
	}
	close(cgfd);
	close(fd);
	if (p < 0)
		return errno == ENOSYS || errno == EINVAL ? 3000 + errno : errno;
	*out = (int)p;
	waitpid((pid_t)p, &st, 0);
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	return WEXITSTATUS(st) == 0 ? ENOTTY : WEXITSTATUS(st) == 1 ? EPERM : EIO;
}

/*
 * A descriptor of a's device carried into t-c by a move: the process moved itself (fork_child:
 * the child of a fork after the open enters t-c) or another process moved it. Tiers 1-2 judge the
 * ioctl (denied, no receive). Tier 3 judges the arrival (op receive, cgroup_attach_task): enforce
 * kills the moved process there, before its ioctl (another process's move: with
 * bpf_send_signal_task, 6.13; before it the arrival is reported observed and the ioctl killed);
 * audit reports the arrival and the ioctl. Tiers 1-2 with reads: arrival judge the arrival as
 * tier 3 does, but a move by another process that cannot be killed leaves the ioctl to the
 * security hook (EPERM) and attaches the per-use hook (reason not_stopped).
 *
 * A child born into t-c (clone3 CLONE_INTO_CGROUP) is no move: cgroup_attach_task does not fire
 * for it (asserted: no receive at tier 3 or every_use); reads: arrival judges it at
 * sched_process_fork (a receive; killed before it runs with bpf_send_signal_task, 6.13, else
 * observed and its ioctl denied).
 */
static int ev_fd_move(const char *mode)
{
	struct cfg_opts o = { .mode = mode };
	bool enforce = !strcmp(mode, "enforce"), task_kill = kernel_has_symbol("bpf_send_signal_task");
	int *shared = mmap_shared_int(), pid[3];
	struct child_res r[3];
	struct agent a;
	int ret = 1;

	if (agent_start(&a, &o, NULL))
		FAIL("agent did not become ready: %.300s", read_all(a.errlog));
	signal(SIGPIPE, SIG_IGN);
	r[0] = run_in("/t-a", fork_child, shared);
	pid[0] = *shared;
	r[1] = run_in("/t-a", moved_by_other, shared);
	pid[1] = *shared;
	*shared = 0;
	r[2] = run_in("/t-a", born_elsewhere, shared);
	pid[2] = *shared;
	signal(SIGPIPE, SIG_DFL);
	if (agent_stop(&a))
		goto out;
	if (arrival(&a) && expect_per_use(&a, !enforce ? "audit" : task_kill ? NULL : "not_stopped",
					  mode))
		goto out;
	for (int i = 0; i < 3; i++) {
		const char *what = i == 2 ? "born in another cgroup (clone3 CLONE_INTO_CGROUP)"
				   : i ? "moved by another process" : "moved itself";
		bool arr = arrival(&a), sync = enforce_is_sync(&a) && !arr;
		bool at_move = !sync && (i == 0 || task_kill);
		struct match rx = { .op = "receive", .major = ACC_MAJOR, .minor = ACC_MINOR,
				    .cgroup = "/t-c", .pid = pid[i] };
		struct match io = rx;
		int want = !enforce ? ENOTTY : sync ? EPERM : 1000 + SIGKILL;

		io.op = "ioctl";
		if (r[i].err >= 3000 && r[i].err < 4000) {
			printf("# %s %s: skipped, not available here: %s\n", mode, what,
			       strerror(r[i].err - 3000));
			continue;
		}
		if (i == 2 && !arr) {
			/* no move: judged at its use, at every tier */
			want = !enforce ? ENOTTY : enforce_is_sync(&a) ? EPERM : 1000 + SIGKILL;
			if (r[i].err != want)
				FAIL_OUT("%s %s: result %d, expected %d (tier %s)", mode, what,
					 r[i].err, want, a.tier);
			if (find(&a, &rx))
				FAIL_OUT("%s %s: a receive at tier %s: cgroup_attach_task fired for a "
					 "child born in another cgroup", mode, what, a.tier);
			if (expect(&a, &io, "cross_tenant",
				   !enforce ? "observed" : enforce_is_sync(&a) ? "denied" : "killed", what))
				goto out;
			printf("# %s %s: no arrival seen (no move), the ioctl judged\n", mode, what);
			continue;
		}
		if (arr && enforce && !at_move)
			want = EPERM; /* not killed at the arrival: the security hook denies the use */
		if (r[i].err != want)
			FAIL_OUT("%s %s: result %d, expected %d (tier %s)", mode, what, r[i].err, want,
				 a.tier);
		if (sync) {
			if (find(&a, &rx))
				FAIL_OUT("%s %s: a receive at tier %s (the security hooks judge the use)",
					 mode, what, a.tier);
			if (expect(&a, &io, "cross_tenant", enforce ? "denied" : "observed", what))
				goto out;
		} else if (enforce && at_move) {
			if (expect(&a, &rx, "cross_tenant", "killed", what))
				goto out;
			if (find(&a, &io))
				FAIL_OUT("%s %s: killed at the move, yet an ioctl was judged", mode, what);
		} else {
			/* audit; or enforce where another's move cannot be killed (before 6.13) */
			if (expect(&a, &rx, "cross_tenant", "observed", what) ||
			    expect(&a, &io, "cross_tenant",
				   !enforce ? "observed" : arr ? "denied" : "killed", what))
				goto out;
		}
		printf("# %s %s: %s\n", mode, what,
		       sync ? "the ioctl judged (tiers 1-2)"
		       : at_move && enforce ? "killed at the move"
		       : "the arrival reported, then the ioctl");
	}
	ret = 0;
out:
	agent_free(&a);
	return ret;
}

static int test_evasion_fd_move_audit(void)
{
	return ev_fd_move("audit");
}

static int test_evasion_fd_move_enforce(void)
{
	return ev_fd_move("enforce");
}

/* ---- end of the evasion suite and faults ----------------------------------------------------------------- */

static const struct test {
	const char *name;
	int (*fn)(void);
} tests[] = {
	{ "probe_tier", test_probe },
	{ "open_audit", test_open_audit },
	{ "open_enforce", test_open_enforce },
	{ "ioctl_audit", test_ioctl_audit },
	{ "ioctl_enforce", test_ioctl_enforce },
	{ "tp_entry_by_effect", test_tp_entry_by_effect },
	{ "ioctl32_audit", test_ioctl32_audit },
	{ "ioctl32_enforce", test_ioctl32_enforce },
	{ "mknod_audit", test_mknod_audit },
	{ "mknod_enforce", test_mknod_enforce },
	{ "other_names", test_other_names },
	{ "fork_after_open", test_fork_after_open },
	{ "fd_passed", test_fd_passed },
	{ "preexisting_fd", test_preexisting },
	{ "preexisting_threads", test_preexisting_threads },
	{ "new_tenant", test_new_tenant },
	{ "new_tenant_race", test_new_tenant_race },
	{ "long_path", test_long_path },
	{ "drops_accounted", test_drops_accounted },
	{ "flood_isolation", test_flood_isolation },
	{ "retired_tenants", test_retired_tenants },
	{ "hostile_names", test_hostile_names },
	{ "full_disk", test_full_disk },
	{ "bad_config", test_bad_config },
	{ "bad_config_writable", test_bad_config_writable },
	{ "driver_appears", test_driver_appears },
	{ "vfio_group", test_vfio_group },
	{ "vfio_bound", test_vfio_bound },
	{ "vfio_bound_rebind", test_vfio_bound_rebind },
	{ "blocked_sink", test_blocked_sink },
	{ "restart_sigkill", test_restart_sigkill },
	{ "restart_reconcile", test_restart_reconcile },
	{ "vcache_policy_change", test_vcache_policy_change },
	{ "upgrade_incompatible", test_upgrade_incompatible },
	{ "restart_unresolved_deny", test_restart_unresolved_deny },
	{ "upgrade_unresolved_deny", test_upgrade_unresolved_deny },
	{ "audit_removes_pins", test_audit_removes_pins },
	{ "evasion_open_paths_audit", test_evasion_open_paths_audit },
	{ "evasion_open_paths_enforce", test_evasion_open_paths_enforce },
	{ "evasion_pidfd_getfd", test_evasion_pidfd_getfd },
	{ "evasion_rw_mmap_audit", test_evasion_rw_mmap_audit },
	{ "evasion_rw_mmap_enforce", test_evasion_rw_mmap_enforce },
	{ "evasion_agent_pins", test_evasion_agent_pins },
	{ "evasion_fd_move_audit", test_evasion_fd_move_audit },
	{ "evasion_fd_move_enforce", test_evasion_fd_move_enforce },
	{ "evasion_fd_arrival_audit", test_evasion_fd_arrival_audit },
	{ "evasion_fd_arrival_enforce", test_evasion_fd_arrival_enforce },
	{ "evasion_ptrace_audit", test_evasion_ptrace_audit },
	{ "evasion_ptrace_enforce", test_evasion_ptrace_enforce },
	{ "fault_oom_restart", test_fault_oom_restart },
	{ "fault_counters_lru", test_fault_counters_lru },
	{ "uninstall_own_pins", test_uninstall_own_pins },
	{ "bad_host_proc", test_bad_host_proc },
	{ "subcgroups_fill_nothing_audit", test_subcgroups_fill_nothing_audit },
	{ "subcgroups_fill_nothing_enforce", test_subcgroups_fill_nothing_enforce },
	{ "policy_map_full_audit", test_policy_map_full_audit },
	{ "policy_map_full_enforce", test_policy_map_full_enforce },
	{ "evasion_subcgroup_names_audit", test_evasion_subcgroup_names_audit },
	{ "evasion_subcgroup_names_enforce", test_evasion_subcgroup_names_enforce },
	{ "evasion_per_tenant_budget_audit", test_evasion_per_tenant_budget_audit },
	{ "evasion_per_tenant_budget_enforce", test_evasion_per_tenant_budget_enforce },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "expect-tier", required_argument, NULL, 't' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "timeout-scale", required_argument, NULL, 's' },
		{ "agent-arg", required_argument, NULL, 'g' },
		{ "ioctl32", required_argument, NULL, 'i' },
		{ "reads", required_argument, NULL, 'r' },
		{ 0 },
	};
	const char *filter = NULL;
	int c, passed = 0, failed = 0, skipped = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			agent_bin = optarg;
			break;
		case 't':
			expect_tier = optarg;
			break;
		case 'w':
			snprintf(workdir, sizeof(workdir), "%s", optarg);
			break;
		case 's':
			timeout_scale = atof(optarg);
			break;
		case 'i':
			snprintf(ioctl32_bin, sizeof(ioctl32_bin), "%s", optarg);
			break;
		case 'r':
			if (strcmp(optarg, "arrival") && strcmp(optarg, "every_use")) {
				fprintf(stderr, "itest: --reads takes every_use or arrival, not '%s'\n",
					optarg);
				return 2;
			}
			reads_arrival = !strcmp(optarg, "arrival");
			break;
		case 'g':
			if (n_agent_args >= (int)(sizeof(agent_args) / sizeof(agent_args[0])))
				return 2;
			agent_args[n_agent_args++] = optarg;
			tier_forced |= !strncmp(optarg, "--tier", 6);
			break;
		default:
			fprintf(stderr, "usage: itest --agent PATH [--expect-tier T] [--workdir DIR] "
					"[--timeout-scale X] [--agent-arg ARG]... [--ioctl32 PATH] "
					"[--reads every_use|arrival] [FILTER]\n");
			return 2;
		}
	}
	if (optind < argc)
		filter = argv[optind];
	if (!ioctl32_bin[0]) {
		char self[600];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		self[n > 0 ? n : 0] = 0;
		if (strrchr(self, '/'))
			*strrchr(self, '/') = 0;
		snprintf(ioctl32_bin, sizeof(ioctl32_bin), "%s/ioctl32", n > 0 ? self : ".");
	}
	if (!agent_bin) {
		fprintf(stderr, "itest: --agent PATH is required\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid()) {
		printf("skip - itest: needs root (BPF, cgroups, mknod)\n0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	if (find_cgroup2()) {
		printf("not ok - itest: no cgroup2 mount\n0 passed, 1 failed\n");
		return 1;
	}
	if (!workdir[0]) {
		snprintf(workdir, sizeof(workdir), "/tmp/itest-%d", getpid());
	}
	mkdir(workdir, 0755);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/accelguard-itest-%d", getpid());
	if (fixture_up()) {
		printf("not ok - itest: fixture: %s\n0 passed, 1 failed\n", strerror(errno));
		fixture_down();
		return 1;
	}
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		double t0;
		int r;

		if (filter && !strstr(tests[i].name, filter))
			continue;
		failmsg[0] = 0;
		t0 = now_s();
		r = tests[i].fn();
		{
			/* what an enforcing agent left pinned goes before the next test */
			char out[512];

			uninstall(pin_dir, out, sizeof(out));
		}
		if (r == 0) {
			printf("ok - %s (%.1fs)\n", tests[i].name, now_s() - t0);
			passed++;
		} else if (r == 2) {
			printf("skip - %s: %s\n", tests[i].name, failmsg);
			skipped++;
		} else {
			char log[700], *t;

			printf("not ok - %s: %s\n", tests[i].name, failmsg);
			snprintf(log, sizeof(log), "%s/agent.log", workdir);
			t = read_all(log);
			if (*t)
				printf("#   agent stderr: %.800s\n", t);
			free(t);
			failed++;
		}
	}
	fixture_down();
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
