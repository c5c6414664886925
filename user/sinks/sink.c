// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sinks: bounded queues, one writer thread each (sink.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "sink.h"

#define AG_MAX_SINKS 8
#define AG_SINK_MERGE (256u << 10) /* the writer joins queued batches up to this many bytes */
#define AG_SINK_KICK (64u << 10)    /* queued bytes that wake a lingering writer at once */
#define AG_SINK_LINGER_NS 2000000L  /* a writer woken for little waits this long for more */

/* what a sink took of one batch: its records (8-aligned, first) then its lines */
struct chunk {
	struct chunk *next;
	size_t len, evlen, n;
	char data[];
};

static size_t chunk_bytes(const struct chunk *c)
{
	return c->len + c->evlen;
}

static struct ag_sink_batch chunk_batch(const struct chunk *c)
{
	return (struct ag_sink_batch){ .ev = c->evlen ? c->data : NULL, .evlen = c->evlen,
				       .buf = c->len ? c->data + c->evlen : NULL, .len = c->len,
				       .n = c->n };
}

struct sink {
	const struct ag_sink_ops *ops;
	void *ctx;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t more; /* a chunk was queued, or stop */
	pthread_cond_t idle; /* the queue ran empty */
	struct chunk *head, *tail;
	struct chunk *busy; /* the chunks being written, off the queue (a list) */
	char *merged, *merged_ev; /* the writer's buffers for joined batches */
	bool stop;
	bool lingering; /* the writer waits for more before it writes */
	bool draining;  /* someone waits for the queue to empty: no lingering */
	bool warned;
	struct ag_sink_stats st;
};

struct ag_sinks {
	struct sink *s[AG_MAX_SINKS];
	size_t n;
};

#if defined(__SANITIZE_ADDRESS__)
#define AG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AG_ASAN 1
#endif
#endif
#ifdef AG_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* A writer cancelled in write() is unwound by glibc's forced unwinding, which AddressSanitizer
 * does not follow: the frames unwound keep their redzones poisoned, and ASan's own bookkeeping at
 * the thread's exit then reports its write into them (a false stack-buffer-overflow in
 * sigaltstack). Under ASan the unwinding unpoisons the thread's stack as it passes; elsewhere
 * nothing is pushed. */
static void unpoisoned_on_cancel(void *arg)
{
	(void)arg;
#ifdef AG_ASAN
	__asan_handle_no_return();
#endif
}

ssize_t ag_sink_write(int fd, const void *buf, size_t len)
{
	int old;
	ssize_t r;

	pthread_cleanup_push(unpoisoned_on_cancel, NULL);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	r = write(fd, buf, len);
	pthread_setcancelstate(old, NULL);
	pthread_cleanup_pop(0);
	return r;
}

/* Off the lock: hand the chunks c.. (len, evlen, n in all) to the sink, joined when there are
 * several; how many events were lost. */
static size_t deliver(struct sink *k, struct chunk *c, size_t len, size_t evlen, size_t n)
{
	struct ag_sink_batch b;
	size_t lost = 0;

	if (!c->next) {
		b = chunk_batch(c);
		return k->ops->emit(k->ctx, &b);
	}
	if (!k->merged)
		k->merged = malloc(AG_SINK_MERGE);
	if (!k->merged_ev)
		k->merged_ev = malloc(AG_SINK_MERGE);
	if (k->merged && k->merged_ev) {
		size_t off = 0, evoff = 0;

		for (struct chunk *x = c; x; x = x->next) {
			memcpy(k->merged + off, x->data + x->evlen, x->len);
			memcpy(k->merged_ev + evoff, x->data, x->evlen);
			off += x->len;
			evoff += x->evlen;
		}
		b = (struct ag_sink_batch){ .buf = len ? k->merged : NULL, .len = len,
					    .ev = evlen ? k->merged_ev : NULL, .evlen = evlen,
					    .n = n };
		return k->ops->emit(k->ctx, &b);
	}
	for (struct chunk *x = c; x; x = x->next) {
		b = chunk_batch(x);
		lost += k->ops->emit(k->ctx, &b);
	}
	return lost;
}

static void *sink_main(void *arg)
{
	struct sink *k = arg;

	/* cancellable only inside ag_sink_write(), never while holding a lock */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&k->mu);
	for (;;) {
		struct chunk *c, *last;
		size_t lost, len, evlen, n;

		while (!k->head && !k->stop)
			pthread_cond_wait(&k->more, &k->mu);
		if (k->stop)
			break;
		/* little to write: linger a moment for more, so that a steady stream of small loop
		 * rounds costs one wake-up and one write per AG_SINK_LINGER_NS, not one per round */
		if (k->st.queue_bytes < AG_SINK_KICK && !k->draining) {
			struct timespec dl;

			clock_gettime(CLOCK_MONOTONIC, &dl);
			dl.tv_nsec += AG_SINK_LINGER_NS;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			k->lingering = true;
			while (k->st.queue_bytes < AG_SINK_KICK && !k->stop && !k->draining)
				if (pthread_cond_timedwait(&k->more, &k->mu, &dl) == ETIMEDOUT)
					break;
			k->lingering = false;
			if (k->stop)
				break;
		}
		/* take what is queued, up to AG_SINK_MERGE bytes: one write for many loop rounds */
		c = last = k->head;
		len = c->len;
		evlen = c->evlen;
		n = c->n;
		while (last->next && len + last->next->len <= AG_SINK_MERGE &&
		       evlen + last->next->evlen <= AG_SINK_MERGE) {
			last = last->next;
			len += last->len;
			evlen += last->evlen;
			n += last->n;
		}
		k->head = last->next;
		if (!k->head)
			k->tail = NULL;
		last->next = NULL;
		k->busy = c;
		pthread_mutex_unlock(&k->mu);

		lost = deliver(k, c, len, evlen, n);
		if (lost > n)
			lost = n;
		if (!k->head && k->ops->flush) /* a racy peek is enough for a hint */
			k->ops->flush(k->ctx);

		pthread_mutex_lock(&k->mu);
		k->busy = NULL;
		k->st.written += n - lost;
		k->st.lost += lost;
		k->st.queue_bytes -= len + evlen;
		while (c) {
			last = c->next;
			free(c);
			c = last;
		}
		if (!k->head)
			pthread_cond_broadcast(&k->idle);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

struct ag_sinks *ag_sinks_new(void)
{
	return calloc(1, sizeof(struct ag_sinks));
}

int ag_sinks_add(struct ag_sinks *s, const struct ag_sink_ops *ops, void *ctx, size_t queue_max)
{
	pthread_condattr_t ca;
	struct sink *k;
	int r;

	if (s->n >= AG_MAX_SINKS)
		return -ENOSPC;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->ops = ops;
	k->ctx = ctx;
	k->st.queue_max = queue_max ? queue_max : AG_SINK_QUEUE_BYTES;
	pthread_mutex_init(&k->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->more, &ca);
	pthread_cond_init(&k->idle, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&k->thread, NULL, sink_main, k);
	if (r) {
		free(k);
		return -r;
	}
	k->started = true;
	s->s[s->n++] = k;
	return 0;
}

/* The chunk of b that sink k takes (what it takes of the batch); NULL when it does not fit in the
 * queue's bound or in memory. k->mu held. */
static struct chunk *chunk_of(struct sink *k, const struct ag_sink_batch *b)
{
	unsigned int takes = k->ops->takes ? k->ops->takes : AG_SINK_LINES;
	size_t len = takes & AG_SINK_LINES ? b->len : 0;
	size_t evlen = takes & AG_SINK_EVENTS && b->ev ? b->evlen : 0;
	struct chunk *c;

	if (k->st.queue_bytes + len + evlen > k->st.queue_max)
		return NULL;
	c = malloc(sizeof(*c) + evlen + len);
	if (!c)
		return NULL;
	if (evlen)
		memcpy(c->data, b->ev, evlen);
	if (len)
		memcpy(c->data + evlen, b->buf, len);
	c->len = len;
	c->evlen = evlen;
	c->n = b->n;
	c->next = NULL;
	return c;
}

void ag_sinks_emit_batch(struct ag_sinks *s, const struct ag_sink_batch *b)
{
	if (!s || !b->n)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = s->s[i];
		struct chunk *c;
		bool was_empty;

		pthread_mutex_lock(&k->mu);
		c = chunk_of(k, b);
		if (!c) {
			k->st.dropped += b->n;
			if (!k->warned) {
				k->warned = true;
				pthread_mutex_unlock(&k->mu);
				ag_warn("sink %s: its queue is full (%zu bytes): it does not keep up; "
					"events are dropped for it and counted (summary: sinks.%s.dropped)",
					k->ops->name, k->st.queue_max, k->ops->name);
				continue;
			}
			pthread_mutex_unlock(&k->mu);
			continue;
		}
		was_empty = !k->head;
		if (k->tail)
			k->tail->next = c;
		else
			k->head = c;
		k->tail = c;
		k->st.queue_bytes += chunk_bytes(c);
		k->st.queued += b->n;
		/* wake an idle writer; a lingering one only once enough is queued */
		if ((was_empty && !k->lingering) ||
		    (k->lingering && k->st.queue_bytes >= AG_SINK_KICK))
			pthread_cond_signal(&k->more);
		pthread_mutex_unlock(&k->mu);
	}
}

void ag_sinks_emit(struct ag_sinks *s, const char *buf, size_t len, size_t n)
{
	struct ag_sink_batch b = { .buf = buf, .len = len, .n = n };

	if (len)
		ag_sinks_emit_batch(s, &b);
}

static void deadline_in(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

bool ag_sinks_drain(struct ag_sinks *s, unsigned int timeout_ms)
{
	struct timespec dl;
	bool all = true;

	if (!s)
		return true;
	deadline_in(&dl, timeout_ms);
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = s->s[i];

		pthread_mutex_lock(&k->mu);
		k->draining = true;
		pthread_cond_signal(&k->more);
		while ((k->head || k->busy) && !k->stop)
			if (pthread_cond_timedwait(&k->idle, &k->mu, &dl) == ETIMEDOUT)
				break;
		all &= !k->head && !k->busy;
		k->draining = false;
		pthread_mutex_unlock(&k->mu);
	}
	return all;
}

size_t ag_sinks_count(const struct ag_sinks *s)
{
	return s ? s->n : 0;
}

const char *ag_sinks_name(const struct ag_sinks *s, size_t i)
{
	return s->s[i]->ops->name;
}

void ag_sinks_stats(struct ag_sinks *s, size_t i, struct ag_sink_stats *out)
{
	struct sink *k = s->s[i];

	pthread_mutex_lock(&k->mu);
	*out = k->st;
	pthread_mutex_unlock(&k->mu);
}

void ag_sinks_free(struct ag_sinks *s, unsigned int timeout_ms)
{
	if (!s)
		return;
	ag_sinks_drain(s, timeout_ms);
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = s->s[i];
		struct timespec dl;
		struct chunk *c;
		bool cancelled = false;

		pthread_mutex_lock(&k->mu);
		k->stop = true;
		pthread_cond_signal(&k->more);
		pthread_mutex_unlock(&k->mu);
		/* a thread still in a write after the drain's time gets 200 ms more, then is cut */
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += 200000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(k->thread, NULL, &dl)) {
			pthread_cancel(k->thread);
			pthread_join(k->thread, NULL);
			cancelled = true;
		}
		/* a cancelled writer's chunks: what it had not written is lost */
		for (c = cancelled ? k->busy : NULL; c; c = k->busy) {
			k->busy = c->next;
			k->st.lost += c->n;
			free(c);
		}
		for (c = k->head; c; c = k->head) {
			k->head = c->next;
			k->st.dropped += c->n;
			free(c);
		}
		if (cancelled || k->st.dropped)
			ag_warn("sink %s: %llu events dropped, %llu lost%s", k->ops->name,
				(unsigned long long)k->st.dropped, (unsigned long long)k->st.lost,
				cancelled ? " (its writer was stuck at exit)" : "");
		if (k->ops->close)
			k->ops->close(k->ctx);
		free(k->merged);
		free(k->merged_ev);
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->more);
		pthread_cond_destroy(&k->idle);
		free(k);
	}
	free(s);
}
