/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Kubernetes source's base layer (layer 0): logging, the notify eventfd, ranked locks, the
 * shared read-only environment, and the small types every part uses with their
 * free helpers. Not an interface outside user/k8s/ (whose one public header is k8s.h).
 *
 * The layers (base, device mapping, peers, resolver) are declared in user/k8s/layers, and
 * tests/layers.sh checks the built objects against them.
 */
#ifndef AG_K8S_BASE_H
#define AG_K8S_BASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "source.h"
#include "util.h"

#define K8S_MS 1000000ull
#define K8S_SEC 1000000000ull
#define K8S_MAX_RANGES 64 /* per allocation item, before the tenant's AG_MAX_ALLOWED cap */

void k8s_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The monotonic clock every deadline of the module is on (condition variables included). */
static inline uint64_t k8s_mono_ns(void)
{
	return ag_now_ns(CLOCK_MONOTONIC);
}

static inline bool ag_streq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

char *k8s_sdup(const char *s); /* strdup, NULL for NULL */
void k8s_strv_free(char **v, size_t n);

/*
 * Locks with a rank: a thread takes locks in increasing rank only, i.e. a higher layer's lock
 * before a lower one's, and of the peers API before CRI before PodResources. Taking a lock whose
 * rank is lower than or equal to one the thread holds aborts with a message naming both (the
 * check is on unless built with -DAG_NO_LOCK_CHECKS).
 */
enum k8s_lock_rank {
	K8S_RANK_RESOLVER = 1,
	K8S_RANK_API = 2,
	K8S_RANK_CRI = 3,
	K8S_RANK_PR = 4,
	K8S_RANK_DEVMAP = 5,
};

struct k8s_lock {
	pthread_mutex_t m;
	int rank;
	const char *name;
};

void k8s_lock_init(struct k8s_lock *l, int rank, const char *name);
void k8s_lock_destroy(struct k8s_lock *l);
void k8s_lock(struct k8s_lock *l);
void k8s_unlock(struct k8s_lock *l);
/* A condition variable on the monotonic clock. */
void k8s_cond_init(pthread_cond_t *c);
/* Wait on c (l held) until deadline (monotonic ns) or a signal; at once when *stop is set. */
void k8s_wait(pthread_cond_t *c, struct k8s_lock *l, uint64_t deadline_ns, const atomic_int *stop);

/*
 * What every part reads and only the life cycle (source.c) writes: the options, copied, set
 * before any thread starts; stop, set once when the source goes.
 */
struct k8s_env {
	/* NULL: peer off */
	char *node_name, *pr_socket, *cri_socket, *api_server, *token_file, *ca_file;
	bool cri_auto; /* cri_socket chosen among the defaults at each connection */
	uint64_t resync_ns, min_interval_ns, backoff_max_ns;
	long rpc_timeout_ms;
	unsigned int watch_timeout_s;
	int notify_fd;
	atomic_int stop;
};

/* Tell the agent the source knows more (writes the notify eventfd). */
void k8s_notify(const struct k8s_env *env);

struct k8s_labels {
	char **keys, **values;
	size_t n;
};

void k8s_labels_free(struct k8s_labels *l);

/* One device-plugin id or one DRA claim resource of a container, and what it maps to. */
struct k8s_alloc {
	char *resource;                  /* device plugin: resource name; DRA: NULL */
	char *id;                        /* device plugin id, or the DRA device name */
	char *driver, *pool;             /* DRA */
	char *claim_ns, *claim_name;     /* DRA */
	struct ag_dev_range r[K8S_MAX_RANGES];
	unsigned int n;
	bool nvidia;                     /* an NVIDIA GPU (or part of one): the control nodes go with it */
	bool unmapped;                   /* no device number found */
};

void k8s_alloc_free(struct k8s_alloc *a);
bool k8s_alloc_equal(const struct k8s_alloc *x, const struct k8s_alloc *y);

/* Something a peer is asked to look up (a targeted refresh). */
struct k8s_want {
	char *a, *b;        /* CRI: container id; PodResources: namespace, pod */
	uint64_t since_ns;
};

#define K8S_WANT_EXPIRE_NS (60 * K8S_SEC) /* stop asking a peer for something it never knows */

void k8s_want_free(struct k8s_want *w, size_t n);
/* Add (a, b) unless there; the owner's lock held. */
void k8s_want_add(struct k8s_want **ws, size_t *n, const char *a, const char *b);
/* Drop the wants that are answered (done() true) or too old; the owner's lock held. */
void k8s_want_prune(const void *owner, struct k8s_want *ws, size_t *n,
		    bool (*done)(const void *owner, const struct k8s_want *));

/* A peer's health, said once per change. */
struct k8s_peer_state {
	const char *what;
	int up; /* -1 unknown, 0 down, 1 up */
	char last_err[512];
	uint64_t down_since;
	uint64_t backoff_ns;
};

void k8s_peer_ok(struct k8s_peer_state *ps, const char *detail);
/* Returns the backoff before the next try (100 ms doubling up to backoff_max_ns). */
uint64_t k8s_peer_fail(struct k8s_peer_state *ps, uint64_t backoff_max_ns, const char *err,
		       const char *keep);

#endif
