// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The agent's control socket and its scheduled self-tests (control.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "config.h"
#include "control.h"
#include "log.h"
#include "policy.h"
#include "selftest.h"
#include "util.h"

extern char **environ;

static double now_ms(void)
{
	return (double)ag_now_ns(CLOCK_MONOTONIC) / 1e6;
}

#define SVC_CLIENTS 4
#define SVC_LINE_MAX (256u << 10)

struct svc_client {
	int fd;
	double since;
	size_t len;
	char *buf;
};

struct ag_selftest_svc {
	int lfd, epfd;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char config[PATH_MAX];
	ag_selftest_emit_fn emit;
	void *ctx;
	const struct ag_policy_db *db;
	struct svc_client cl[SVC_CLIENTS];
	bool at_start;
	unsigned int interval_s;
	double next_run; /* now_ms() of the next scheduled run, 0: none */
	pid_t child;
};

struct ag_selftest_svc *ag_selftest_svc_new(const struct ag_config *cfg, const char *config_path,
					    const struct ag_policy_db *db, int epfd,
					    ag_selftest_emit_fn emit, void *ctx)
{
	struct ag_selftest_svc *s;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	const char *path = ag_selftest_socket(cfg);
	char dir[sizeof(sa.sun_path)], *slash;
	mode_t old;

	if (!cfg->journal.present || !strcmp(path, "off"))
		return NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ag_err("selftest: control socket path %s is too long", path);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (int i = 0; i < SVC_CLIENTS; i++)
		s->cl[i].fd = -1;
	snprintf(s->sock, sizeof(s->sock), "%s", path);
	snprintf(s->config, sizeof(s->config), "%s", config_path ? config_path : "");
	s->epfd = epfd;
	s->db = db;
	s->emit = emit;
	s->ctx = ctx;
	s->at_start = cfg->selftest.at_start;
	s->interval_s = cfg->selftest.interval_s;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0750);
	}
	strcpy(sa.sun_path, path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(path); /* a socket left by an agent that was killed */
	old = umask(0177); /* mode 0600, root only: what comes in goes into the journal */
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->lfd, 4)) {
		umask(old);
		ag_err("selftest: cannot listen on the control socket %s: %s", path, strerror(errno));
		if (s->lfd >= 0)
			close(s->lfd);
		free(s);
		return NULL;
	}
	umask(old);
	ev.data.fd = s->lfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		ag_err("selftest: epoll: %s", strerror(errno));
		close(s->lfd);
		unlink(path);
		free(s);
		return NULL;
	}
	if (s->at_start)
		s->next_run = now_ms();
	else if (s->interval_s)
		s->next_run = now_ms() + s->interval_s * 1e3;
	return s;
}

static void client_close(struct ag_selftest_svc *s, struct svc_client *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	c->buf = NULL;
	c->fd = -1;
	c->len = 0;
}

static void reply(struct svc_client *c, const char *msg)
{
	if (write(c->fd, msg, strlen(msg)) < 0)
		ag_dbg("selftest: control socket reply: %s", strerror(errno));
}

/* A device that a real tenant holds exclusively (not a shared control node, not a self-test
 * tenant's): the cross-tenant check's target. NVIDIA GPUs first. */
static bool find_owner(const struct ag_policy_db *db, char *out, size_t len)
{
	size_t b = 0;
	bool found = false;

	for (struct ag_hnode *n = ag_htab_iter(&db->ids, &b, NULL); n; n = ag_htab_iter(&db->ids, &b, n)) {
		const struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);

		if (cg->state != AG_P_TENANT || !cg->path ||
		    !strncmp(cg->path, AG_SELFTEST_ROOT "/", strlen(AG_SELFTEST_ROOT) + 1))
			continue;
		for (unsigned int i = 0; i < cg->t.n_devs; i++) {
			const struct ag_dev_range *d = &cg->t.devs[i];

			if (d->flags || d->lo != d->hi || d->lo == AG_MINOR_ANY)
				continue;
			if (found && d->major != 195)
				continue;
			snprintf(out, len, "owner %u:%u %s\n", d->major, d->lo, cg->path);
			if (d->major == 195)
				return true;
			found = true;
		}
	}
	return found;
}

/* Every tenant with a pod and a container, as one JSON array on one line: the containers that
 * `selftest --conformance` judges, from the agent itself (its journal may no longer go back to
 * their start). */
static void reply_tenants(const struct ag_policy_db *db, struct svc_client *c)
{
	json_object *a = json_object_new_array();
	size_t b = 0, n, off = 0;
	const char *txt;
	char *buf;
	double dl = now_ms() + 1000;

	for (struct ag_hnode *h = db ? ag_htab_iter(&db->ids, &b, NULL) : NULL; h;
	     h = ag_htab_iter(&db->ids, &b, h)) {
		const struct ag_cg *cg = ag_container_of(h, struct ag_cg, by_id);
		json_object *o, *d;

		if (cg->state != AG_P_TENANT || !cg->path || !cg->t.pod_name[0] ||
		    !cg->t.container_name[0] || json_object_array_length(a) >= 4096)
			continue;
		o = json_object_new_object();
		d = json_object_new_array();
		json_object_object_add(o, "path", json_object_new_string(cg->path));
		json_object_object_add(o, "namespace", json_object_new_string(cg->t.pod_namespace));
		json_object_object_add(o, "pod", json_object_new_string(cg->t.pod_name));
		json_object_object_add(o, "uid", json_object_new_string(cg->t.pod_uid));
		json_object_object_add(o, "container", json_object_new_string(cg->t.container_name));
		for (unsigned int i = 0; i < cg->t.n_devs; i++) {
			char x[48];

			if (cg->t.devs[i].lo == cg->t.devs[i].hi)
				snprintf(x, sizeof(x), "%u:%u", cg->t.devs[i].major, cg->t.devs[i].lo);
			else
				snprintf(x, sizeof(x), "%u:%u-%u", cg->t.devs[i].major,
					 cg->t.devs[i].lo, cg->t.devs[i].hi);
			json_object_array_add(d, json_object_new_string(x));
		}
		json_object_object_add(o, "devices", d);
		json_object_array_add(a, o);
	}
	txt = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(txt);
	buf = malloc(n + 2);
	if (buf) {
		memcpy(buf, txt, n);
		buf[n++] = '\n';
		/* the client (root's self-test) reads it at once; the loop waits at most 1 s */
		while (off < n && now_ms() < dl) {
			struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
			ssize_t k = write(c->fd, buf + off, n - off);

			if (k > 0)
				off += (size_t)k;
			else if (k < 0 && errno != EAGAIN)
				break;
			else
				poll(&pf, 1, 100);
		}
		free(buf);
	}
	json_object_put(a);
}

/* "selftest {json object}": the result, relayed into the journal as a "selftest" event;
 * "owner": a real tenant's exclusive device ("owner MAJ:MIN PATH" or "none");
 * "tenants": the tenants with a pod and a container (reply_tenants) */
static void client_line(struct ag_selftest_svc *s, struct svc_client *c, char *line, size_t len)
{
	json_object *o;
	const char *txt;
	size_t n;

	if (!strcmp(line, "tenants")) {
		reply_tenants(s->db, c);
		return;
	}
	if (!strcmp(line, "owner")) {
		char ans[600];

		reply(c, s->db && find_owner(s->db, ans, sizeof(ans)) ? ans : "none\n");
		return;
	}
	if (len < 9 || memcmp(line, "selftest ", 9)) {
		reply(c, "error: expected 'selftest {JSON object}'\n");
		return;
	}
	o = json_tokener_parse(line + 9);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		reply(c, "error: the result is not a JSON object\n");
		ag_warn("selftest: a result on %s is not a JSON object; refused", s->sock);
		return;
	}
	json_object_object_del(o, "type");
	json_object_object_del(o, "time");
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(txt);
	if (n > 2)
		s->emit(s->ctx, txt + 1, n - 2); /* the members, without the braces */
	json_object_put(o);
	reply(c, "ok\n");
}

bool ag_selftest_svc_handle(struct ag_selftest_svc *s, int fd)
{
	if (!s)
		return false;
	if (fd == s->lfd) {
		int c = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = c };
		int i;

		if (c < 0)
			return true;
		for (i = 0; i < SVC_CLIENTS && s->cl[i].fd >= 0; i++)
			;
		if (i == SVC_CLIENTS || epoll_ctl(s->epfd, EPOLL_CTL_ADD, c, &ev)) {
			close(c);
			return true;
		}
		s->cl[i] = (struct svc_client){ .fd = c, .since = now_ms() };
		return true;
	}
	for (int i = 0; i < SVC_CLIENTS; i++) {
		struct svc_client *c = &s->cl[i];
		char *nl;
		ssize_t k;

		if (c->fd != fd)
			continue;
		if (!c->buf && !(c->buf = malloc(SVC_LINE_MAX))) {
			client_close(s, c);
			return true;
		}
		k = read(fd, c->buf + c->len, SVC_LINE_MAX - 1 - c->len);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (k <= 0) {
			client_close(s, c);
			return true;
		}
		c->len += (size_t)k;
		c->buf[c->len] = 0;
		nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			*nl = 0;
			client_line(s, c, c->buf, (size_t)(nl - c->buf));
			client_close(s, c);
		} else if (c->len >= SVC_LINE_MAX - 1) {
			reply(c, "error: line too long\n");
			client_close(s, c);
		}
		return true;
	}
	return false;
}

static void spawn_run(struct ag_selftest_svc *s)
{
	char *argv[] = { "accelguard", "selftest", "--config", s->config, "--by", "agent",
			 "--quiet", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	int r;

	if (!s->config[0]) {
		ag_warn("selftest: scheduled runs need the agent's --config (the journal's directory)");
		s->next_run = 0;
		return;
	}
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	/* never into the event stream, which may be the agent's stdout */
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	r = posix_spawn(&s->child, "/proc/self/exe", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r) {
		s->child = 0;
		ag_warn("selftest: cannot start a scheduled run: %s", strerror(r));
	} else {
		ag_info("selftest: scheduled run started (pid %d)", (int)s->child);
	}
}

void ag_selftest_svc_tick(struct ag_selftest_svc *s)
{
	double t = now_ms();

	if (!s)
		return;
	for (int i = 0; i < SVC_CLIENTS; i++)
		if (s->cl[i].fd >= 0 && t - s->cl[i].since > 5000)
			client_close(s, &s->cl[i]); /* a client that says nothing */
	if (s->child) {
		int st;

		if (waitpid(s->child, &st, WNOHANG) == s->child) {
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				ag_warn("selftest: scheduled run (pid %d) %s %d", (int)s->child,
					WIFEXITED(st) ? "failed, status" : "killed by signal",
					WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			s->child = 0;
		}
		return;
	}
	if (s->next_run && t >= s->next_run) {
		spawn_run(s);
		s->next_run = s->interval_s ? t + s->interval_s * 1e3 : 0;
	}
}

void ag_selftest_svc_free(struct ag_selftest_svc *s)
{
	if (!s)
		return;
	for (int i = 0; i < SVC_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			client_close(s, &s->cl[i]);
	if (s->child) {
		kill(s->child, SIGTERM);
		waitpid(s->child, NULL, 0);
	}
	close(s->lfd);
	unlink(s->sock);
	free(s);
}

