// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Kubernetes source's base layer: logging, notify, ranked locks, free helpers (base.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

void k8s_log(int level, const char *fmt, ...)
{
	char msg[2048], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg)) {
		/* a long input (a path, a name) must not cut off the cause after it */
		va_start(ap, fmt);
		if (vasprintf(&big, fmt, ap) < 0)
			big = NULL;
		va_end(ap);
	}
	/* one line even when another thread logs too (ag_log writes a line in several calls) */
	flockfile(stderr);
	ag_log(level, "k8s: %s", big ? big : msg);
	funlockfile(stderr);
	free(big);
}

void k8s_notify(const struct k8s_env *env)
{
	uint64_t one = 1;

	if (env->notify_fd >= 0 && write(env->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		k8s_log(AG_LOG_WARN, "cannot write to the notify eventfd %d: %s", env->notify_fd,
			strerror(errno));
}

/* ---- ranked locks ---- */

#ifndef AG_NO_LOCK_CHECKS
#define MAX_HELD 8
static __thread const struct k8s_lock *held[MAX_HELD];
static __thread int n_held;

static void lock_check(const struct k8s_lock *l)
{
	if (n_held && held[n_held - 1]->rank >= l->rank) {
		fprintf(stderr, "k8s: lock order violation: taking %s (rank %d) while holding %s "
			"(rank %d)\n", l->name, l->rank, held[n_held - 1]->name,
			held[n_held - 1]->rank);
		abort();
	}
	if (n_held == MAX_HELD) {
		fprintf(stderr, "k8s: more than %d locks held taking %s\n", MAX_HELD, l->name);
		abort();
	}
	held[n_held++] = l;
}

static void unlock_check(const struct k8s_lock *l)
{
	for (int i = n_held - 1; i >= 0; i--) {
		if (held[i] == l) {
			memmove(&held[i], &held[i + 1], (size_t)(n_held - i - 1) * sizeof(held[0]));
			n_held--;
			return;
		}
	}
	fprintf(stderr, "k8s: unlocking %s (rank %d), which this thread does not hold\n", l->name,
		l->rank);
	abort();
}
#else
static void lock_check(const struct k8s_lock *l) {}
static void unlock_check(const struct k8s_lock *l) {}
#endif

void k8s_lock_init(struct k8s_lock *l, int rank, const char *name)
{
	pthread_mutex_init(&l->m, NULL);
	l->rank = rank;
	l->name = name;
}

void k8s_lock_destroy(struct k8s_lock *l)
{
	pthread_mutex_destroy(&l->m);
}

void k8s_lock(struct k8s_lock *l)
{
	lock_check(l);
	pthread_mutex_lock(&l->m);
}

void k8s_unlock(struct k8s_lock *l)
{
	unlock_check(l);
	pthread_mutex_unlock(&l->m);
}

void k8s_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

void k8s_wait(pthread_cond_t *c, struct k8s_lock *l, uint64_t deadline_ns, const atomic_int *stop)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / K8S_SEC),
			       .tv_nsec = (long)(deadline_ns % K8S_SEC) };

	if (atomic_load(stop))
		return;
	pthread_cond_timedwait(c, &l->m, &ts);
}

/* ---- free helpers ---- */

char *k8s_sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void k8s_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void k8s_labels_free(struct k8s_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->keys[i]);
		free(l->values[i]);
	}
	free(l->keys);
	free(l->values);
	memset(l, 0, sizeof(*l));
}

void k8s_alloc_free(struct k8s_alloc *a)
{
	free(a->resource);
	free(a->id);
	free(a->driver);
	free(a->pool);
	free(a->claim_ns);
	free(a->claim_name);
	memset(a, 0, sizeof(*a));
}

bool k8s_alloc_equal(const struct k8s_alloc *x, const struct k8s_alloc *y)
{
	return ag_streq(x->resource, y->resource) && ag_streq(x->id, y->id) &&
	       ag_streq(x->driver, y->driver) && ag_streq(x->pool, y->pool) &&
	       ag_streq(x->claim_ns, y->claim_ns) && ag_streq(x->claim_name, y->claim_name) &&
	       x->n == y->n && x->nvidia == y->nvidia &&
	       !memcmp(x->r, y->r, x->n * sizeof(x->r[0]));
}

/* ---- targeted refreshes ---- */

void k8s_want_free(struct k8s_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].a);
		free(w[i].b);
	}
}

void k8s_want_add(struct k8s_want **ws, size_t *n, const char *a, const char *b)
{
	struct k8s_want *w;

	for (size_t i = 0; i < *n; i++)
		if (ag_streq((*ws)[i].a, a) && ag_streq((*ws)[i].b, b))
			return;
	if (*n >= 4096)
		return;
	w = realloc(*ws, (*n + 1) * sizeof(*w));
	if (!w)
		return;
	*ws = w;
	w[*n] = (struct k8s_want){ .a = k8s_sdup(a), .b = k8s_sdup(b), .since_ns = k8s_mono_ns() };
	if ((a && !w[*n].a) || (b && !w[*n].b)) {
		k8s_want_free(&w[*n], 1);
		return;
	}
	(*n)++;
}

void k8s_want_prune(const void *owner, struct k8s_want *ws, size_t *n,
		    bool (*done)(const void *owner, const struct k8s_want *))
{
	uint64_t now = k8s_mono_ns();
	size_t o = 0;

	for (size_t i = 0; i < *n; i++) {
		if (done(owner, &ws[i]) || now - ws[i].since_ns > K8S_WANT_EXPIRE_NS)
			k8s_want_free(&ws[i], 1);
		else
			ws[o++] = ws[i];
	}
	*n = o;
}

/* ---- peer health ---- */

void k8s_peer_ok(struct k8s_peer_state *ps, const char *detail)
{
	if (ps->up == 0)
		k8s_log(AG_LOG_INFO, "%s is reachable again after %.1f s%s", ps->what,
			(double)(k8s_mono_ns() - ps->down_since) / K8S_SEC, detail);
	else if (ps->up < 0)
		k8s_log(AG_LOG_INFO, "%s is reachable%s", ps->what, detail);
	ps->up = 1;
	ps->backoff_ns = 0;
	ps->last_err[0] = '\0';
}

uint64_t k8s_peer_fail(struct k8s_peer_state *ps, uint64_t backoff_max_ns, const char *err,
		       const char *keep)
{
	if (ps->up != 0)
		ps->down_since = k8s_mono_ns();
	if (ps->up != 0 || strcmp(err, ps->last_err))
		k8s_log(AG_LOG_WARN, "%s: %s%s", ps->what, err, keep);
	ag_strlcpy(ps->last_err, err, sizeof(ps->last_err));
	ps->up = 0;
	ps->backoff_ns = ps->backoff_ns ? ps->backoff_ns * 2 : 100 * K8S_MS;
	if (ps->backoff_ns > backoff_max_ns)
		ps->backoff_ns = backoff_max_ns;
	return ps->backoff_ns;
}
