// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* GET /evidence.tar.gz: see evidence_http.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evidence_http.h"

#define EV_HTTP_TIMEOUT_S 120
#define EV_HTTP_MAX (256u << 20)

extern char **environ;

struct ag_evidence_http {
	char *config;
	unsigned int hours;
	pthread_mutex_t lock; /* one build at a time */
};

struct ag_evidence_http *ag_evidence_http_new(const char *config, unsigned int hours)
{
	struct ag_evidence_http *e = calloc(1, sizeof(*e));

	if (!e || !(e->config = strdup(config))) {
		free(e);
		return NULL;
	}
	e->hours = hours ? hours : 24;
	pthread_mutex_init(&e->lock, NULL);
	return e;
}

void ag_evidence_http_free(struct ag_evidence_http *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->lock);
	free(e->config);
	free(e);
}

static int text(struct ag_http_reply *r, unsigned int status, const char *msg)
{
	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
	r->body = strdup(msg);
	r->len = r->body ? strlen(r->body) : 0;
	return r->body ? 0 : -ENOMEM;
}

/* the first line of the child's stderr, for the error reply */
static void first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
}

int ag_evidence_http_reply(void *ctx, struct ag_http_reply *r)
{
	struct ag_evidence_http *e = ctx;
	char dir[] = "/tmp/accelguard-evhttp.XXXXXX", tgz[64], errp[64], since[32], msg[1200];
	char line[1024];
	char *argv[] = { "accelguard", "evidence", "--config", e->config, "--since", since,
			 "--tar", tgz, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0, rc, ret;
	struct stat sb;
	FILE *f;

	if (pthread_mutex_trylock(&e->lock))
		return text(r, 503, "busy: a bundle is being built; try again\n");
	if (!mkdtemp(dir)) {
		snprintf(msg, sizeof(msg), "evidence: cannot make a directory under /tmp: %s\n",
			 strerror(errno));
		ret = text(r, 500, msg);
		goto unlock;
	}
	snprintf(tgz, sizeof(tgz), "%s/b.tar.gz", dir);
	snprintf(errp, sizeof(errp), "%s/stderr", dir);
	snprintf(since, sizeof(since), "-%uh", e->hours);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	/* none of the agent's descriptors (BPF objects, sockets, the journal) go to the child */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		snprintf(msg, sizeof(msg), "evidence: cannot start the bundle's build: %s\n",
			 strerror(rc));
		ret = text(r, 500, msg);
		goto clean;
	}
	for (int waited_ms = 0;; waited_ms += 50) {
		struct timespec ts = { 0, 50 * 1000000L };
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (waited_ms >= EV_HTTP_TIMEOUT_S * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			snprintf(msg, sizeof(msg), "evidence: the bundle's build took over %d s\n",
				 EV_HTTP_TIMEOUT_S);
			ret = text(r, 500, msg);
			goto clean;
		}
		nanosleep(&ts, NULL);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) || stat(tgz, &sb)) {
		first_line(errp, line, sizeof(line));
		snprintf(msg, sizeof(msg), "%s\n", line[0] ? line : "evidence: the bundle's build failed");
		ret = text(r, 500, msg);
		goto clean;
	}
	if ((unsigned long long)sb.st_size > EV_HTTP_MAX) {
		snprintf(msg, sizeof(msg), "evidence: the bundle is %lld bytes, over %u; narrow the "
			 "window (metrics.evidence_hours)\n", (long long)sb.st_size, EV_HTTP_MAX);
		ret = text(r, 500, msg);
		goto clean;
	}
	f = fopen(tgz, "re");
	r->body = f ? malloc((size_t)sb.st_size + 1) : NULL;
	if (!r->body || fread(r->body, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
		free(r->body);
		r->body = NULL;
		ret = f ? -ENOMEM : text(r, 500, "evidence: cannot read the bundle\n");
	} else {
		r->status = 200;
		r->content_type = "application/gzip";
		r->len = (size_t)sb.st_size;
		ret = 0;
	}
	if (f)
		fclose(f);
clean:
	unlink(tgz);
	unlink(errp);
	rmdir(dir);
unlock:
	pthread_mutex_unlock(&e->lock);
	return ret;
}
