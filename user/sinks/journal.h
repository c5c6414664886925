/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The journal: a durable record of every event the agent emits, in a directory of segments.
 *
 * Format: each record is one event, the same JSON line the other sinks get, ending in '\n'. A
 * segment is "seg-<20-digit CLOCK_REALTIME ns of its opening>.jsonl" while it is live (appended
 * to) and "….jsonl.gz" (gzip, zlib; `zcat` reads it) once closed. The live segment is closed at
 * segment_bytes or at the first write segment_age after its first record; the oldest closed segments are deleted
 * while all of them together exceed max_bytes (the live one is never deleted).
 *
 * A closed segment is compressed, and the retention applied, on the flush thread, so that a
 * rotation never stalls the writer; what is still queued at exit is done by close.
 *
 * Crash guarantees: every batch is write(2)n whole as soon as the sink's thread takes it (the
 * agent formats a batch per loop round, so a batch lives in the agent's memory for
 * milliseconds), so a SIGKILL of the agent loses only what was still queued in its memory; the
 * page cache is fdatasync()ed every flush_ms (and at rotation and exit), so a kernel crash or
 * power loss loses at most what came after the last flush. A write that fails part-way (a full
 * disk) is cut back to the batch's start and the batch is counted lost; a SIGKILL in the middle
 * of a write can leave a last line without its '\n': a reader skips such a torn record (and any
 * line that is not a whole JSON object) and says so; the agent cuts it off when it starts again.
 */
#ifndef AG_JOURNAL_H
#define AG_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "sink.h"

struct ag_journal_opts {
	const char *dir;
	__u64 segment_bytes;
	__u64 segment_age_ns;
	__u64 max_bytes;
	unsigned int flush_ms;
};

/* Open DIR (made when missing), close and compress a live segment left by an earlier run
 * (its torn tail cut), apply the retention, open a new live segment and register the sink
 * "journal". Returns 0 or -errno with a message in err naming the directory and the cause. */
int ag_sinks_add_journal(struct ag_sinks *s, const struct ag_journal_opts *o, char *err,
			 size_t errlen);

struct ag_config;
/* The configuration's journal (none when its section is absent): ag_sinks_add_journal(). */
int ag_journal_start(struct ag_sinks *s, const struct ag_config *cfg);

/* ---- reading ---- */

struct ag_journal_read_stats {
	__u64 records;  /* whole records handed to the callback (after the window) */
	__u64 torn;     /* last records without their '\n', skipped */
	__u64 corrupt;  /* lines that are not a JSON object with a "time", skipped */
	__u64 segments; /* segment files read */
};

/* One whole record: line (len bytes, without the '\n'), its "time" in ns since the epoch.
 * Return non-zero to stop. */
typedef int (*ag_journal_fn)(const char *line, size_t len, __s64 time_ns, void *ctx);

/* Every record of DIR with since <= time <= until (ns; since 0 and until INT64_MAX for all), in
 * the order written. follow: then wait for more (the live segment and the ones after it) until
 * *stop. Skipped records are counted and named on stderr unless quiet. Returns 0, -errno when DIR
 * cannot be read, or the callback's non-zero return. */
int ag_journal_read(const char *dir, __s64 since, __s64 until, bool follow, bool quiet,
		    volatile int *stop, ag_journal_fn fn, void *ctx, struct ag_journal_read_stats *st);

/* A record as ag_journal_read() hands it (len bytes, not NUL-terminated) as JSON (json-c), or
 * NULL; the caller puts it. */
struct json_object;
struct json_object *ag_journal_parse_record(const char *line, size_t len);

/* RFC 3339 ("2026-11-27T04:13:08.510336343Z", fraction and Z optional, or +HH:MM), a number of
 * seconds since the epoch ("@1764000000" or "1764000000"), or relative to now ("-10m", "-2h",
 * "-30s", "-1d"). Returns 0 or -EINVAL. */
int ag_journal_parse_time(const char *s, __s64 *ns);

/* `accelguard journal [--dir D] [--since T] [--until T] [--follow]` */
int ag_journal_cmd(int argc, char **argv);

#define AG_JOURNAL_DEFAULT_DIR "/var/lib/accelguard/journal"

#endif
