// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `accelguard selftest` (selftest_cmd.h; how the self-test works: sources/selftest.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "accelguard.h"
#include "cgroups.h"
#include "config.h"
#include "evidence_conformance.h"
#include "journal.h"
#include "log.h"
#include "selftest.h"
#include "selftest_cmd.h"
#include "util.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static __s64 real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__s64)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the command ---- */

#define MAX_TENANTS 256

#define SEEN_DEVS 16

struct seen_tenant {
	char path[512];
	char dev[32]; /* an exclusive GPU it holds, "" for none */
	/* for the conformance checks: who it is, and its allocation's NVIDIA GPU minors */
	char ns[128], pod[256], uid[64], ctr[128];
	unsigned int n_gpus;
	unsigned short gpus[SEEN_DEVS];
};

struct scan {
	/* the running agent */
	bool have_ready, stopped;
	long long pid;
	char mode[16], tier[16], version[64];
	/* tenants the journal shows, for a real tenant's device */
	struct seen_tenant *t;
	size_t n_t;
	/* what one wait looks for */
	const char *want_tenant[2];
	bool tenant_seen[2];
	long long want_pid;
	unsigned int want_major, want_minor;
	bool access_seen;
	char verdict[32], action[16];
	const char *want_run;
	bool result_seen;
};

static const char *jget_str(json_object *o, const char *k1, const char *k2)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k1, &v))
		return NULL;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static long long jget_int(json_object *o, const char *k1, const char *k2)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k1, &v))
		return -1;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return -1;
	return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

static void note_tenant(struct scan *sc, json_object *o)
{
	const char *ev = jget_str(o, "event", NULL), *st = jget_str(o, "state", NULL);
	const char *path = jget_str(o, "cgroup", "path");
	json_object *devs;
	size_t i;

	if (!ev || !path || !strncmp(path, AG_SELFTEST_ROOT "/", strlen(AG_SELFTEST_ROOT) + 1))
		return;
	for (i = 0; i < sc->n_t && strcmp(sc->t[i].path, path); i++)
		;
	if (!strcmp(ev, "removed") || !st || strcmp(st, "tenant")) {
		if (i < sc->n_t)
			sc->t[i] = sc->t[--sc->n_t];
		return;
	}
	if (i == sc->n_t) {
		if (sc->n_t == MAX_TENANTS)
			return;
		sc->n_t++;
	}
	memset(&sc->t[i], 0, sizeof(sc->t[i]));
	snprintf(sc->t[i].path, sizeof(sc->t[i].path), "%s", path);
	{
		const char *x;

		if ((x = jget_str(o, "pod", "namespace")))
			snprintf(sc->t[i].ns, sizeof(sc->t[i].ns), "%s", x);
		if ((x = jget_str(o, "pod", "name")))
			snprintf(sc->t[i].pod, sizeof(sc->t[i].pod), "%s", x);
		if ((x = jget_str(o, "pod", "uid")))
			snprintf(sc->t[i].uid, sizeof(sc->t[i].uid), "%s", x);
		if ((x = jget_str(o, "container", "name")))
			snprintf(sc->t[i].ctr, sizeof(sc->t[i].ctr), "%s", x);
	}
	if (json_object_object_get_ex(o, "devices", &devs) &&
	    json_object_is_type(devs, json_type_array)) {
		for (size_t k = 0; k < json_object_array_length(devs); k++) {
			const char *d = json_object_get_string(json_object_array_get_idx(devs, k));
			unsigned int ma, mi, hi;
			char tail;
			int n = d ? sscanf(d, "%u:%u-%u%c", &ma, &mi, &hi, &tail) : 0;

			if (n == 1 || n < 2 || ma != 195)
				continue;
			if (n == 2)
				hi = mi;
			/* one NVIDIA GPU minor, no range: an exclusive device */
			if (n == 2 && mi <= 247 && !sc->t[i].dev[0])
				snprintf(sc->t[i].dev, sizeof(sc->t[i].dev), "%u:%u", ma, mi);
			for (unsigned int m = mi; m <= hi && m <= 247; m++)
				if (sc->t[i].n_gpus < SEEN_DEVS)
					sc->t[i].gpus[sc->t[i].n_gpus++] = (unsigned short)m;
		}
	}
}

static int on_record(const char *line, size_t len, __s64 t, void *ctx)
{
	struct scan *sc = ctx;
	json_object *o = ag_journal_parse_record(line, len); /* the reader checked: one object */
	const char *type = o ? jget_str(o, "type", NULL) : NULL;

	if (!type)
		goto out;
	if (!strcmp(type, "ready")) {
		const char *s;

		sc->have_ready = true;
		sc->stopped = false;
		sc->pid = jget_int(o, "pid", NULL);
		snprintf(sc->mode, sizeof(sc->mode), "%s", (s = jget_str(o, "mode", NULL)) ? s : "");
		snprintf(sc->tier, sizeof(sc->tier), "%s", (s = jget_str(o, "tier", NULL)) ? s : "");
		snprintf(sc->version, sizeof(sc->version), "%s",
			 (s = jget_str(o, "version", NULL)) ? s : "");
	} else if (!strcmp(type, "summary")) {
		/* a run's tenants end with it; the next run reports those present at its start
		 * before its ready event */
		sc->stopped = true;
		sc->n_t = 0;
	} else if (!strcmp(type, "tenant")) {
		const char *p = jget_str(o, "cgroup", "path"), *ev = jget_str(o, "event", NULL);

		note_tenant(sc, o);
		for (int i = 0; i < 2; i++)
			if (p && ev && sc->want_tenant[i] && !strcmp(p, sc->want_tenant[i]) &&
			    strcmp(ev, "removed"))
				sc->tenant_seen[i] = true;
	} else if (!strcmp(type, "access") && sc->want_pid > 0) {
		const char *op = jget_str(o, "op", NULL);

		if (jget_int(o, "process", "pid") == sc->want_pid && op && !strcmp(op, "open") &&
		    jget_int(o, "device", "major") == (long long)sc->want_major &&
		    jget_int(o, "device", "minor") == (long long)sc->want_minor) {
			const char *v = jget_str(o, "verdict", NULL), *a = jget_str(o, "action", NULL);

			sc->access_seen = true;
			snprintf(sc->verdict, sizeof(sc->verdict), "%s", v ? v : "?");
			snprintf(sc->action, sizeof(sc->action), "%s", a ? a : "?");
		}
	} else if (!strcmp(type, "selftest") && sc->want_run) {
		const char *r = jget_str(o, "run", NULL);

		if (r && !strcmp(r, sc->want_run))
			sc->result_seen = true;
	}
out:
	json_object_put(o);
	return 0;
}

static int scan_journal(const char *dir, __s64 since, struct scan *sc)
{
	struct ag_journal_read_stats st;

	return ag_journal_read(dir, since, INT64_MAX, false, true, NULL, on_record, sc, &st);
}

struct check {
	const char *name, *what;
	char cgroup[512], node[PATH_MAX], device[32], kind[160];
	const char *want_verdict, *want_action;
	bool want_eperm;
	/* what came */
	int err; /* errno of the open, 0: it opened */
	bool judged;
	char verdict[32], action[16];
	double open_ms, judged_ms;
	bool pass;
	char why[512];
};

static int open_in(const char *cgdir, const char *node, pid_t *pid_out)
{
	char procs[PATH_MAX];
	int st;
	pid_t pid;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgdir);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		char b[32];
		int n = snprintf(b, sizeof(b), "%d", (int)getpid());

		if (fd < 0 || write(fd, b, (size_t)n) != n)
			_exit(250);
		close(fd);
		fd = open(node, O_RDONLY | O_CLOEXEC);
		_exit(fd >= 0 ? 0 : (errno & 0xff));
	}
	*pid_out = pid;
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	if (WIFSIGNALED(st))
		return -(1000 + WTERMSIG(st));
	if (WEXITSTATUS(st) == 250)
		return -EIO;
	return WEXITSTATUS(st);
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "none (opened)";
	case EPERM: return "EPERM";
	case ENXIO: return "ENXIO";
	case ENODEV: return "ENODEV";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	default: return strerror(e);
	}
}

/* One request line, one answer line (without its '\n'). */
static int ask(const char *sock, const char *req, const char *body, char *rep, size_t replen,
	       char *err, size_t errlen);

static int send_result(const char *sock, const char *json, char *err, size_t errlen)
{
	char rep[256];
	int r = ask(sock, "selftest ", json, rep, sizeof(rep), err, errlen);

	if (r)
		return r;
	if (strncmp(rep, "ok", 2)) {
		snprintf(err, errlen, "the agent refused the result: %s", rep);
		return -EINVAL;
	}
	return 0;
}

static int ask(const char *sock, const char *req, const char *json, char *rep, size_t replen,
	       char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	size_t n = strlen(json), off = 0, rl = strlen(req);
	ssize_t k;
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", sock);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot connect to the agent's control socket %s: %s", sock,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -ECONNREFUSED;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write(fd, req, rl) != (ssize_t)rl)
		goto io;
	while (off < n) {
		k = write(fd, json + off, n - off);
		if (k <= 0)
			goto io;
		off += (size_t)k;
	}
	if (write(fd, "\n", 1) != 1)
		goto io;
	k = read(fd, rep, replen - 1);
	if (k <= 0)
		goto io;
	rep[k] = 0;
	if (strchr(rep, '\n'))
		*strchr(rep, '\n') = 0;
	close(fd);
	return 0;
io:
	snprintf(err, errlen, "control socket %s: %s", sock, errno ? strerror(errno) : "closed");
	close(fd);
	return -EIO;
}

/* "tenants" on the control socket: the agent's answer (one line of JSON), or NULL */
static json_object *ask_tenants(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	json_object *o = NULL;
	int fd;

	if (!buf || strlen(sock) >= sizeof(sa.sun_path)) {
		free(buf);
		return NULL;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    write(fd, "tenants\n", 8) != 8)
		goto out;
	for (;;) {
		ssize_t k;

		if (len + 1 >= cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;

			if (!nb)
				goto out;
			buf = nb;
			cap *= 2;
		}
		k = read(fd, buf + len, cap - len - 1);
		if (k <= 0)
			goto out;
		len += (size_t)k;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = 0;
	o = json_tokener_parse(buf);
	if (o && !json_object_is_type(o, json_type_array)) {
		json_object_put(o); /* an older agent's "error: ..." or anything else */
		o = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return o;
}

/* an allocation's device strings ("195:0", "195:0-3") as NVIDIA GPU minors */
static unsigned int gpu_minors(json_object *devs, unsigned short *out, unsigned int max)
{
	unsigned int n = 0;

	for (size_t k = 0; devs && k < json_object_array_length(devs); k++) {
		const char *d = json_object_get_string(json_object_array_get_idx(devs, k));
		unsigned int ma, lo, hi;
		int r = d ? sscanf(d, "%u:%u-%u", &ma, &lo, &hi) : 0;

		if (r < 2 || ma != 195)
			continue;
		if (r == 2)
			hi = lo;
		for (unsigned int m = lo; m <= hi && m <= 247 && n < max; m++)
			out[n++] = (unsigned short)m;
	}
	return n;
}

static int usage_selftest(FILE *f)
{
	fprintf(f,
		"Usage: accelguard selftest [--config FILE] [--dir JOURNAL] [--socket PATH]\n"
		"                           [--junit FILE] [--json] [--timeout S] [--quiet]\n"
		"                           [--conformance]\n"
		"\n"
		"Prove isolation on this node now, against the running agent: in throwaway tenant\n"
		"cgroups under " AG_SELFTEST_ROOT ", open a device allocated to the test tenant, one\n"
		"allocated to another tenant and one allocated to nobody; check the agent's verdict\n"
		"and action in its journal and, in enforce mode, that the violations got EPERM. Exits\n"
		"0 when every check passed, 1 otherwise. The result goes into the journal (a\n"
		"\"selftest\" event, through the agent's control socket) and, with --junit, to FILE.\n"
		"\n"
		"  -c, --config FILE  the agent's configuration: journal.dir, selftest.socket\n"
		"                     (default /etc/accelguard/config.yaml when it exists)\n"
		"  -D, --dir DIR      the journal's directory (overrides the configuration's)\n"
		"  -S, --socket PATH  the agent's control socket (default " AG_SELFTEST_SOCKET ")\n"
		"  -j, --junit FILE   also write the results as JUnit XML\n"
		"      --json         print the result as one JSON object instead of text\n"
		"  -t, --timeout S    wait at most S seconds for each verdict (default 5)\n"
		"      --conformance  first the upstream test's subtests (kubernetes-sigs/ai-conformance\n"
		"                     TestSecureAcceleratorAccess: PositiveAccessTest,\n"
		"                     NegativeIsolationTest, MultiContainerIsolationTest) on every\n"
		"                     running container the agent knows: the NVIDIA GPU nodes each\n"
		"                     reaches in its own mount namespace, by device number, must be\n"
		"                     exactly its allocation's; JUnit carries both test suites\n");
	return f == stdout ? 0 : 2;
}

/* One run of the command: its options, what it set up (undone by st_cleanup), what came. */
struct selftest {
	const char *config, *dir, *sock, *junit, *by;
	bool json, quiet, conformance, cfg_loaded;
	double timeout_s, t_start;
	struct ag_config cfg;
	struct scan sc;
	struct check ck[3];
	char cg2[PATH_MAX], run[96], rundir[PATH_MAX], priv[40];
	char tena[PATH_MAX], tenb[PATH_MAX], started[40], kind[200];
	unsigned int mine, other, nobody;
	__s64 since;
	int failures;
	bool real_other, made_priv;
	json_object *conf; /* upstream's subtests (--conformance) */
	const char *conf_from;
	int conf_failed;
};

/* The options; -1 to go on, else the exit code. */
static int st_options(struct selftest *S, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "dir", required_argument, NULL, 'D' },
		{ "socket", required_argument, NULL, 'S' }, { "junit", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, 'J' },         { "timeout", required_argument, NULL, 't' },
		{ "by", required_argument, NULL, 'b' },     { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },         { "conformance", no_argument, NULL, 'C' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:D:S:j:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': S->config = optarg; break;
		case 'D': S->dir = optarg; break;
		case 'S': S->sock = optarg; break;
		case 'j': S->junit = optarg; break;
		case 'J': S->json = true; break;
		case 'b': S->by = optarg; break;
		case 'q': S->quiet = true; break;
		case 'C': S->conformance = true; break;
		case 't':
			S->timeout_s = atof(optarg);
			if (S->timeout_s <= 0) {
				ag_err("selftest: --timeout takes a positive number of seconds");
				return 2;
			}
			break;
		case 'h': return usage_selftest(stdout);
		default: return usage_selftest(stderr);
		}
	}
	if (optind < argc) {
		ag_err("selftest: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	return -1;
}

/* The configuration: the journal's directory and the control socket. */
static int st_config(struct selftest *S)
{
	char err[1024];
	int r = ag_config_for_journal(&S->config, &S->dir, &S->cfg, err, sizeof(err));

	if (r < 0) {
		ag_err("selftest: config: %s", err);
		return r;
	}
	S->cfg_loaded = r > 0;
	if (S->cfg_loaded && !S->sock)
		S->sock = ag_selftest_socket(&S->cfg);
	if (!S->sock)
		S->sock = AG_SELFTEST_SOCKET;
	if (!S->dir) {
		ag_err("selftest: no journal: give --dir or a --config with a journal: section (the "
		       "self-test reads the running agent's verdicts from its journal)");
		return -EINVAL;
	}
	return 0;
}

/* The running agent: its last ready event, no summary after it, its process alive. */
static int st_find_agent(struct selftest *S)
{
	struct scan *sc = &S->sc;
	int r;

	sc->t = calloc(MAX_TENANTS, sizeof(*sc->t));
	if (!sc->t) {
		ag_err("selftest: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* An agent that started a moment ago has its control socket up before its journal's next
	 * flush has written its ready event: wait for that flush (up to 5 s), not fail. */
	for (int tries = 0;; tries++) {
		struct stat st;

		r = scan_journal(S->dir, 0, sc);
		if (r) {
			ag_err("selftest: cannot read the journal %s: %s", S->dir,
			       strerror(r < 0 ? -r : EIO));
			return r < 0 ? r : -EIO;
		}
		if (sc->have_ready || tries >= 50 || stat(S->sock, &st) || !S_ISSOCK(st.st_mode))
			break;
		sc->n_t = 0; /* scanned again from the start */
		usleep(100 * 1000);
	}
	if (!sc->have_ready || sc->stopped || sc->pid <= 0 || kill((pid_t)sc->pid, 0)) {
		ag_err("selftest: no running agent writes the journal %s (%s)", S->dir,
		       !sc->have_ready ? "it holds no ready event"
		       : sc->stopped   ? "its last run ended with a summary"
				       : "the process of its last ready event is gone");
		return -ESRCH;
	}
	if (ag_cgroup2_mount(S->cg2, sizeof(S->cg2))) {
		ag_err("selftest: no cgroup2 mount");
		return -ENOENT;
	}
	return 0;
}

/* Three reserved minors that no device has here. */
static int st_pick_minors(struct selftest *S)
{
	for (unsigned int m = AG_SELFTEST_MINOR_LO; m <= AG_SELFTEST_MINOR_HI; m++) {
		char p[64];

		snprintf(p, sizeof(p), "/dev/nvidia%u", m);
		if (!access(p, F_OK))
			continue;
		if (!S->mine)
			S->mine = m;
		else if (!S->other)
			S->other = m;
		else if (!S->nobody)
			S->nobody = m;
	}
	if (!S->nobody) {
		ag_err("selftest: the reserved minors 195:%u-%u are taken by devices on this node",
		       AG_SELFTEST_MINOR_LO, AG_SELFTEST_MINOR_HI);
		return -EBUSY;
	}
	return 0;
}

/* The run's name, its cgroups' paths and the private directory for its device nodes. */
static int st_name_run(struct selftest *S)
{
	S->t_start = now_ms();
	S->since = real_ns() - 1000000000LL; /* the clock of the agent's event times, some slack */
	ag_fmt_rfc3339(real_ns(), 3, S->started, sizeof(S->started));
	snprintf(S->run, sizeof(S->run), "%d-%lld", (int)getpid(), (long long)(real_ns() / 1000000));
	snprintf(S->rundir, sizeof(S->rundir), "%s%s/%s", S->cg2, AG_SELFTEST_ROOT, S->run);
	snprintf(S->tena, sizeof(S->tena), "%s/a-195_%u", S->rundir, S->mine);
	snprintf(S->tenb, sizeof(S->tenb), "%s/b-195_%u", S->rundir, S->other);
	snprintf(S->priv, sizeof(S->priv), "/run/accelguard-selftest.XXXXXX");
	if (!mkdtemp(S->priv)) {
		snprintf(S->priv, sizeof(S->priv), "/tmp/accelguard-selftest.XXXXXX");
		if (!mkdtemp(S->priv)) {
			int e = errno;

			ag_err("selftest: cannot make a private directory for the device nodes: %s",
			       strerror(e));
			return -e;
		}
	}
	S->made_priv = true;
	return 0;
}

/* The cross-tenant probe's device: a real tenant's when the agent (or else the journal) knows
 * one that holds a device (a journal may not go back to their start), else the second self-test
 * tenant's reserved minor. */
static void st_other_device(struct selftest *S)
{
	struct check *k = &S->ck[1];
	char rep[700], dev[32], path[600], err[1024];

	snprintf(k->device, sizeof(k->device), "195:%u", S->other);
	snprintf(k->kind, sizeof(k->kind), "the second self-test tenant's reserved minor");
	if (!ask(S->sock, "owner", "", rep, sizeof(rep), err, sizeof(err)) &&
	    sscanf(rep, "owner %31s %599s", dev, path) == 2) {
		snprintf(k->device, sizeof(k->device), "%s", dev);
		snprintf(k->kind, sizeof(k->kind), "a real tenant's device (%.120s)", path);
		S->real_other = true;
	}
	for (size_t i = 0; i < S->sc.n_t && !S->real_other; i++) {
		if (!S->sc.t[i].dev[0])
			continue;
		snprintf(k->device, sizeof(k->device), "%s", S->sc.t[i].dev);
		snprintf(k->kind, sizeof(k->kind), "a real tenant's GPU (%.120s)", S->sc.t[i].path);
		S->real_other = true;
	}
	if (S->real_other)
		snprintf(S->kind, sizeof(S->kind), "NVIDIA-numbered nodes of reserved minors 195:%u-%u "
			 "that exist on no device (opens that pass end in ENXIO), and for the "
			 "cross-tenant probe %s, %s", AG_SELFTEST_MINOR_LO, AG_SELFTEST_MINOR_HI,
			 k->device, k->kind);
	else
		snprintf(S->kind, sizeof(S->kind), "NVIDIA-numbered nodes of reserved minors 195:%u-%u "
			 "that exist on no device (no GPU is touched; opens that pass end in ENXIO)",
			 AG_SELFTEST_MINOR_LO, AG_SELFTEST_MINOR_HI);
}

/* The three checks, what each expects, and their device nodes. */
static int st_make_checks(struct selftest *S)
{
	static const char *const names[3] = { "allocated", "other_tenant", "unallocated" };
	static const char *const whats[3] = { "a device allocated to this tenant",
					      "a device allocated to another tenant",
					      "a device allocated to nobody" };
	static const char *const verdicts[3] = { "allowed", "cross_tenant", "unmediated" };
	bool enforce = !strcmp(S->sc.mode, "enforce");
	struct check *ck = S->ck;

	memset(ck, 0, sizeof(S->ck));
	snprintf(ck[0].device, sizeof(ck[0].device), "195:%u", S->mine);
	snprintf(ck[2].device, sizeof(ck[2].device), "195:%u", S->nobody);
	st_other_device(S);
	for (int i = 0; i < 3; i++) {
		unsigned int ma, mi;
		bool viol = i > 0;

		ck[i].name = names[i];
		ck[i].what = whats[i];
		ck[i].want_verdict = verdicts[i];
		ck[i].want_action = viol && enforce ? "denied" : "observed";
		ck[i].want_eperm = viol && enforce;
		sscanf(ck[i].device, "%u:%u", &ma, &mi);
		snprintf(ck[i].node, sizeof(ck[i].node), "%s/%s-%u_%u", S->priv, ck[i].name, ma, mi);
		snprintf(ck[i].cgroup, sizeof(ck[i].cgroup), "%s/%s/a-195_%u", AG_SELFTEST_ROOT,
			 S->run, S->mine);
		if (!ck[i].kind[0])
			snprintf(ck[i].kind, sizeof(ck[i].kind), "a reserved minor");
		if (mknod(ck[i].node, S_IFCHR | 0600, makedev(ma, mi))) {
			int e = errno;

			ag_err("selftest: mknod %s: %s", ck[i].node, strerror(e));
			return -e;
		}
	}
	return 0;
}

/* The tenants; the agent must have judged them before the probes. */
static int st_make_tenants(struct selftest *S)
{
	char root[PATH_MAX], pa[PATH_MAX], pb[PATH_MAX];
	double dl;
	struct scan *sc = &S->sc;

	snprintf(root, sizeof(root), "%s%s", S->cg2, AG_SELFTEST_ROOT);
	if ((mkdir(root, 0755) && errno != EEXIST) || mkdir(S->rundir, 0755) ||
	    mkdir(S->tena, 0755) || mkdir(S->tenb, 0755)) {
		int e = errno;

		ag_err("selftest: cannot make the tenant cgroups under %s: %s", root, strerror(e));
		return -e;
	}
	dl = now_ms() + S->timeout_s * 1e3;
	snprintf(pa, sizeof(pa), "%s/%s/a-195_%u", AG_SELFTEST_ROOT, S->run, S->mine);
	snprintf(pb, sizeof(pb), "%s/%s/b-195_%u", AG_SELFTEST_ROOT, S->run, S->other);
	sc->want_tenant[0] = pa;
	sc->want_tenant[1] = pb;
	while (!(sc->tenant_seen[0] && sc->tenant_seen[1]) && now_ms() < dl) {
		usleep(20000);
		scan_journal(S->dir, S->since, sc);
	}
	sc->want_tenant[0] = sc->want_tenant[1] = NULL;
	if (!(sc->tenant_seen[0] && sc->tenant_seen[1])) {
		ag_err("selftest: the agent did not report the self-test's tenants within %.0f s "
		       "(is it the agent writing %s?)", S->timeout_s, S->dir);
		return -ETIMEDOUT;
	}
	return 0;
}

/* What the check came to, from what the open got and what the journal shows. */
static void st_judge(struct check *k, pid_t pid, double timeout_s)
{
	if (k->why[0]) {
		k->pass = false;
	} else if (!k->judged) {
		snprintf(k->why, sizeof(k->why), "no access event for pid %d and %s in the "
			 "journal within %.0f s", (int)pid, k->device, timeout_s);
	} else if (strcmp(k->verdict, k->want_verdict) || strcmp(k->action, k->want_action)) {
		snprintf(k->why, sizeof(k->why), "judged %s/%s, expected %s/%s", k->verdict,
			 k->action, k->want_verdict, k->want_action);
	} else if (k->want_eperm && k->err != EPERM) {
		snprintf(k->why, sizeof(k->why), "the open got %s, expected EPERM", errname(k->err));
	} else if (!k->want_eperm && k->err == EPERM) {
		snprintf(k->why, sizeof(k->why), "the open got EPERM though it was %s",
			 k->want_verdict);
	} else {
		k->pass = true;
	}
}

/* One probe: the open from the test tenant, then its access event in the journal. */
static void st_probe(struct selftest *S, struct check *k)
{
	struct scan *sc = &S->sc;
	char cgdir[PATH_MAX];
	double t0 = now_ms(), dl;
	pid_t pid = 0;
	unsigned int ma, mi;
	int r;

	snprintf(cgdir, sizeof(cgdir), "%s%s", S->cg2, k->cgroup);
	r = open_in(cgdir, k->node, &pid);
	k->open_ms = now_ms() - t0;
	if (r < 0) {
		k->err = -1;
		snprintf(k->why, sizeof(k->why), "the probe process failed: %s",
			 r <= -1000 ? "killed by a signal" : strerror(-r));
	} else {
		k->err = r;
	}
	sscanf(k->device, "%u:%u", &ma, &mi);
	sc->want_pid = pid;
	sc->want_major = ma;
	sc->want_minor = mi;
	sc->access_seen = false;
	t0 = now_ms();
	dl = t0 + S->timeout_s * 1e3;
	for (;;) {
		scan_journal(S->dir, S->since, sc);
		if (sc->access_seen || now_ms() >= dl)
			break;
		usleep(20000);
	}
	k->judged_ms = now_ms() - t0;
	k->judged = sc->access_seen;
	snprintf(k->verdict, sizeof(k->verdict), "%s", sc->verdict);
	snprintf(k->action, sizeof(k->action), "%s", sc->action);
	sc->want_pid = 0;
	st_judge(k, pid, S->timeout_s);
	S->failures += !k->pass;
}

/* Upstream's three subtests on the node's running containers: the agent's tenants with a pod
 * and a container (asked on the control socket; else as the journal shows them since the
 * agent's start). */
static void st_conformance(struct selftest *S)
{
	struct scan *sc = &S->sc;
	json_object *tl = ask_tenants(S->sock);
	size_t nt = tl ? json_object_array_length(tl) : 0;
	struct ag_conf_ctr *cc;
	unsigned short (*g)[SEEN_DEVS];
	size_t nc = 0;

	if (!tl)
		scan_journal(S->dir, 0, sc);
	cc = calloc((tl ? nt : sc->n_t) + 1, sizeof(*cc));
	g = calloc(nt + 1, sizeof(*g));
	for (size_t i = 0; cc && g && i < nt; i++) {
		json_object *o = json_object_array_get_idx(tl, i), *d = NULL;

		json_object_object_get_ex(o, "devices", &d);
		cc[nc] = (struct ag_conf_ctr){ jget_str(o, "namespace", NULL),
					       jget_str(o, "pod", NULL), jget_str(o, "uid", NULL),
					       jget_str(o, "container", NULL),
					       jget_str(o, "path", NULL), g[i], 0 };
		cc[nc].n_gpus = gpu_minors(d, g[i], SEEN_DEVS);
		if (cc[nc].ns && cc[nc].pod && cc[nc].uid && cc[nc].ctr && cc[nc].path)
			nc++;
	}
	for (size_t i = 0; cc && !tl && i < sc->n_t; i++) {
		if (!sc->t[i].pod[0] || !sc->t[i].ctr[0])
			continue;
		cc[nc++] = (struct ag_conf_ctr){ sc->t[i].ns, sc->t[i].pod, sc->t[i].uid,
						 sc->t[i].ctr, sc->t[i].path, sc->t[i].gpus,
						 sc->t[i].n_gpus };
	}
	S->conf = ag_conformance_run(S->cg2, cc, nc, &S->conf_failed);
	S->conf_from = tl ? "the agent (control socket)" : "the journal's tenant events";
	free(cc);
	free(g);
	json_object_put(tl);
}

/* Undo what the set-up made (whatever got made). */
static void st_cleanup(struct selftest *S)
{
	char root[PATH_MAX];

	for (int i = 0; i < 3; i++)
		if (S->ck[i].node[0])
			unlink(S->ck[i].node);
	if (S->made_priv)
		rmdir(S->priv);
	if (!S->run[0])
		return;
	rmdir(S->tena);
	rmdir(S->tenb);
	rmdir(S->rundir);
	snprintf(root, sizeof(root), "%s%s", S->cg2, AG_SELFTEST_ROOT);
	rmdir(root); /* fails while another run is going: fine */
}

static json_object *check_json(const struct check *k)
{
	json_object *o = json_object_new_object(), *x;

	json_object_object_add(o, "name", json_object_new_string(k->name));
	json_object_object_add(o, "what", json_object_new_string(k->what));
	json_object_object_add(o, "device", json_object_new_string(k->device));
	json_object_object_add(o, "device_kind", json_object_new_string(k->kind));
	json_object_object_add(o, "cgroup", json_object_new_string(k->cgroup));
	x = json_object_new_object();
	json_object_object_add(x, "verdict", json_object_new_string(k->want_verdict));
	json_object_object_add(x, "action", json_object_new_string(k->want_action));
	json_object_object_add(x, "errno", json_object_new_string(k->want_eperm ? "EPERM" : "not EPERM"));
	json_object_object_add(o, "expected", x);
	x = json_object_new_object();
	json_object_object_add(x, "verdict", k->judged ? json_object_new_string(k->verdict) : NULL);
	json_object_object_add(x, "action", k->judged ? json_object_new_string(k->action) : NULL);
	json_object_object_add(x, "errno", json_object_new_string(k->err < 0 ? "?" : errname(k->err)));
	json_object_object_add(o, "got", x);
	json_object_object_add(o, "result", json_object_new_string(k->pass ? "pass" : "fail"));
	if (!k->pass)
		json_object_object_add(o, "why", json_object_new_string(k->why));
	json_object_object_add(o, "open_ms", json_object_new_double(k->open_ms));
	json_object_object_add(o, "judged_ms", json_object_new_double(k->judged_ms));
	return o;
}

/* The result as the "selftest" event's object (the journal's, --json's and JUnit's source). */
static json_object *st_result(const struct selftest *S, int ret)
{
	json_object *res = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(res, "run", json_object_new_string(S->run));
	json_object_object_add(res, "by", json_object_new_string(S->by));
	json_object_object_add(res, "result", json_object_new_string(ret == 0 ? "pass" : "fail"));
	json_object_object_add(res, "passed", json_object_new_int(3 - S->failures));
	json_object_object_add(res, "failed", json_object_new_int(S->failures));
	json_object_object_add(res, "mode", json_object_new_string(S->sc.mode));
	json_object_object_add(res, "tier", json_object_new_string(S->sc.tier));
	json_object_object_add(res, "agent_pid", json_object_new_int64(S->sc.pid));
	json_object_object_add(res, "agent_version", json_object_new_string(S->sc.version));
	json_object_object_add(res, "started", json_object_new_string(S->started));
	json_object_object_add(res, "duration_ms", json_object_new_double(now_ms() - S->t_start));
	json_object_object_add(res, "device_kind", json_object_new_string(S->kind));
	json_object_object_add(res, "real_tenant_device", json_object_new_boolean(S->real_other));
	json_object_object_add(res, "enforcement",
			       json_object_new_string(!strcmp(S->sc.mode, "enforce")
							      ? "opens denied with EPERM (synchronously, every tier)"
							      : "audit: violations flagged, not denied"));
	for (int i = 0; i < 3; i++)
		json_object_array_add(arr, check_json(&S->ck[i]));
	json_object_object_add(res, "checks", arr);
	if (S->conf) {
		json_object_object_add(res, "conformance", json_object_get(S->conf));
		json_object_object_add(res, "conformance_containers_from",
				       json_object_new_string(S->conf_from));
	}
	return res;
}

static void print_conformance(json_object *conf)
{
	for (size_t i = 0; conf && i < json_object_array_length(conf); i++) {
		json_object *st = json_object_array_get_idx(conf, i), *cs = NULL;

		printf("%-4s TestSecureAcceleratorAccess/%s: %s\n",
		       !strcmp(jget_str(st, "result", NULL), "pass") ? "ok"
		       : !strcmp(jget_str(st, "result", NULL), "skipped") ? "skip" : "FAIL",
		       jget_str(st, "name", NULL), jget_str(st, "message", NULL));
		json_object_object_get_ex(st, "containers", &cs);
		for (size_t k = 0; cs && k < json_object_array_length(cs); k++) {
			json_object *x = json_object_array_get_idx(cs, k);

			printf("       %s/%s/%s: ACCELERATOR_COUNT=%lld %s%s%s\n",
			       jget_str(x, "namespace", NULL), jget_str(x, "pod", NULL),
			       jget_str(x, "container", NULL),
			       jget_int(x, "accelerator_count", NULL), jget_str(x, "result", NULL),
			       jget_str(x, "why", NULL) ? ": " : "",
			       jget_str(x, "why", NULL) ? jget_str(x, "why", NULL) : "");
		}
	}
}

static void st_print_text(const struct selftest *S, int ret)
{
	const struct check *ck = S->ck;

	printf("accelguard selftest against the running agent (pid %lld, mode %s, tier %s)\n",
	       S->sc.pid, S->sc.mode, S->sc.tier);
	printf("devices: %s\n", S->kind);
	for (int i = 0; i < 3; i++)
		printf("%-4s %-13s open %-8s %-40s -> %s/%s, errno %s  (open %.1f ms, in the "
		       "journal after %.1f ms)%s%s\n",
		       ck[i].pass ? "ok" : "FAIL", ck[i].name, ck[i].device, ck[i].what,
		       ck[i].judged ? ck[i].verdict : "(no event)",
		       ck[i].judged ? ck[i].action : "-", ck[i].err < 0 ? "?" : errname(ck[i].err),
		       ck[i].open_ms, ck[i].judged_ms, ck[i].pass ? "" : ": ",
		       ck[i].pass ? "" : ck[i].why);
	if (!strcmp(S->sc.mode, "enforce"))
		printf("enforce: the violations were denied with EPERM (opens are denied "
		       "synchronously on every tier)\n");
	else
		printf("audit: violations are flagged, not denied (run the agent with --mode "
		       "enforce to prove denial)\n");
	print_conformance(S->conf);
	printf("selftest: %s, %d of 3 checks passed%s in %.0f ms; cleaned up\n",
	       ret ? "FAILED" : "passed", 3 - S->failures,
	       S->conf ? (S->conf_failed ? ", upstream's subtests failed"
					 : ", upstream's subtests passed") : "",
	       now_ms() - S->t_start);
}

/* --junit FILE: the run's JUnit document (the bundle's writer), replaced whole. */
static int st_write_junit(const char *path, json_object *res)
{
	json_object *runs = json_object_new_array();
	struct utsname u;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	uname(&u);
	if (!f || !runs) {
		r = -ENOMEM;
		goto out;
	}
	json_object_array_add(runs, json_object_get(res));
	ag_selftest_junit(f, runs, u.nodename);
	r = fclose(f) ? -errno : ag_write_file_atomic(path, buf, len);
	f = NULL;
out:
	if (f)
		fclose(f);
	if (r)
		ag_err("selftest: cannot write the JUnit file %s: %s", path, strerror(-r));
	free(buf);
	json_object_put(runs);
	return r;
}

/* The result into the journal through the agent, and seen there. */
static int st_record(struct selftest *S, json_object *res)
{
	struct scan *sc = &S->sc;
	char err[1024];
	double dl;
	int r = send_result(S->sock, json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN),
			    err, sizeof(err));

	if (r) {
		ag_err("selftest: the result is not in the journal: %s", err);
		return r;
	}
	dl = now_ms() + S->timeout_s * 1e3;
	sc->want_run = S->run;
	while (!sc->result_seen && now_ms() < dl) {
		scan_journal(S->dir, S->since, sc);
		if (!sc->result_seen)
			usleep(20000);
	}
	if (!sc->result_seen) {
		ag_err("selftest: the agent took the result but it did not reach the journal %s "
		       "within %.0f s", S->dir, S->timeout_s);
		return -ETIMEDOUT;
	}
	return 0;
}

/* The result: text or JSON, JUnit, and into the journal through the agent. */
static int st_report(struct selftest *S, int ret)
{
	json_object *res = st_result(S, ret);

	if (S->json)
		printf("%s\n", json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
	else if (!S->quiet)
		st_print_text(S, ret);
	if (S->junit && st_write_junit(S->junit, res))
		ret = 1;
	if (st_record(S, res))
		ret = 1;
	json_object_put(res);
	return ret;
}

/* Set up (each step says why it failed), probe, clean up, report. */
static int st_run(struct selftest *S)
{
	int ret = 1;

	if (st_config(S) || st_find_agent(S) || st_pick_minors(S))
		return 1;
	if (st_name_run(S) || st_make_checks(S) || st_make_tenants(S))
		goto cleanup;
	for (int i = 0; i < 3; i++)
		st_probe(S, &S->ck[i]);
	if (S->conformance)
		st_conformance(S);
	ret = S->failures || S->conf_failed ? 1 : 0;
	st_cleanup(S);
	return st_report(S, ret);
cleanup:
	st_cleanup(S); /* set-up failed (said why): no checks to report */
	return ret;
}

int ag_selftest_cmd(int argc, char **argv)
{
	struct selftest S = { .by = "cli", .timeout_s = 5 };
	int ret = st_options(&S, argc, argv);

	if (ret < 0)
		ret = st_run(&S);
	json_object_put(S.conf);
	free(S.sc.t);
	if (S.cfg_loaded)
		ag_config_free(&S.cfg);
	return ret;
}
