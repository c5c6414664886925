/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sinks: where events go. The agent loop decodes each event once into a typed record (event.h)
 * and formats its JSON line from the same data, into a batch of n lines and n records, and hands
 * the batch to every registered sink with ag_sinks_emit_batch(), which never blocks: each sink has
 * a bounded queue and its own writer thread. A sink takes the lines (text: the JSON lines, the
 * journal), the records (fields: metrics, Kubernetes Events and reports), or both, and its queue
 * holds, and counts against its bound, only what it takes. A batch that does not fit in a sink's
 * queue is dropped for that sink alone and counted (stats.dropped); the ring-buffer consumer and
 * the policy updates never wait for a sink.
 *
 * A new sink (metrics, Kubernetes Events, the journal) is a struct ag_sink_ops and one
 * ag_sinks_add() call; it touches neither the verdict logic nor the kernel code.
 */
#ifndef AG_SINK_H
#define AG_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/* A batch of n events: their lines (buf, len bytes, each ending in '\n') and their records
 * (ev, evlen bytes: ag_event_next walks them; NULL when the batch has none, or the sink does not
 * take them). The lines of a sink that does not take them: NULL. */
struct ag_sink_batch {
	const char *buf;
	size_t len;
	const void *ev;
	size_t evlen;
	size_t n;
};

#define AG_SINK_LINES  1u /* the sink takes the lines */
#define AG_SINK_EVENTS 2u /* the sink takes the records */

struct ag_sink_ops {
	const char *name; /* "json": the key in the summary's "sinks" object */
	unsigned int takes; /* AG_SINK_LINES, AG_SINK_EVENTS or both; 0: the lines */
	/*
	 * On the sink's thread: deliver the n events of b (what it takes of them). Returns how many
	 * of them were lost (not delivered), 0..n. It may block; blocking system calls should go
	 * through ag_sink_write(), which the agent can interrupt at exit.
	 */
	size_t (*emit)(void *ctx, const struct ag_sink_batch *b);
	void (*flush)(void *ctx); /* on the sink's thread, when its queue ran empty; may be NULL */
	void (*close)(void *ctx); /* on the agent's thread, after the sink's thread ended */
};

struct ag_sink_stats {
	__u64 queued;  /* events taken into the queue */
	__u64 written; /* events the sink delivered */
	__u64 dropped; /* events that found the queue full */
	__u64 lost;    /* events the sink failed to deliver (a full disk) */
	size_t queue_bytes, queue_max; /* bytes waiting now, the queue's bound */
};

struct ag_sinks;

#define AG_SINK_QUEUE_BYTES (8u << 20) /* default bound of one sink's queue */

struct ag_sinks *ag_sinks_new(void);
/* Register a sink (its thread starts now). queue_max: bytes, 0 for AG_SINK_QUEUE_BYTES.
 * Returns 0 or -errno; on failure ops->close is not called. */
int ag_sinks_add(struct ag_sinks *s, const struct ag_sink_ops *ops, void *ctx, size_t queue_max);
/* Hand a batch to every sink (what each takes of it). Never blocks on a sink. */
void ag_sinks_emit_batch(struct ag_sinks *s, const struct ag_sink_batch *b);
/* A batch of n whole lines and no records. */
void ag_sinks_emit(struct ag_sinks *s, const char *buf, size_t len, size_t n);
/* Wait until every queue is empty and every sink idle, or timeout_ms passed. Returns true when
 * all drained. */
bool ag_sinks_drain(struct ag_sinks *s, unsigned int timeout_ms);
size_t ag_sinks_count(const struct ag_sinks *s);
const char *ag_sinks_name(const struct ag_sinks *s, size_t i);
void ag_sinks_stats(struct ag_sinks *s, size_t i, struct ag_sink_stats *out);
/* Drain for up to timeout_ms, then stop every thread (one blocked in ag_sink_write() is
 * interrupted: what it had not written is lost), close every sink and free. */
void ag_sinks_free(struct ag_sinks *s, unsigned int timeout_ms);

/* write(2) for sinks: the only point where the agent may cancel a sink thread at exit. */
ssize_t ag_sink_write(int fd, const void *buf, size_t len);

/* The JSON-lines sink: events to a file descriptor (a file appended to, stdout, a FIFO). Batches
 * are written whole; a write that fails part-way (a full disk) is cut back to the batch's start
 * in a regular file, so that no line is left half-written, and the batch counts as lost. name:
 * for messages ("stdout" or the path). Takes ownership of fd when it is above stderr. */
int ag_sinks_add_json(struct ag_sinks *s, int fd, const char *name, size_t queue_max);
/* The JSON-lines file (--events FILE) rotates past this size, keeping FILE.1 .. FILE.KEEP. */
#define AG_EVENTS_FILE_MAX_DEFAULT (64ull << 20)
#define AG_EVENTS_FILE_KEEP 4
/* AG_EVENTS_FILE_MAX_DEFAULT, or ACCELGUARD_EVENTS_FILE_MAX (bytes, at least 4096) */
__u64 ag_events_file_max(void);

#endif
