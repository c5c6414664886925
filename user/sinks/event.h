/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Typed events: what the loop hands to the sinks beside each formatted line. The loop decodes a
 * ring-buffer record (or makes an event of its own: tenant, exposure, ready, summary...) once,
 * into one record here, and writes its JSON line from the same data; the sinks that read fields
 * (metrics, Kubernetes Events and reports) take the records and never parse the agent's lines.
 *
 * A record is a fixed part (struct ag_event) and a tail of its strings (and, for an exposure, its
 * devices), all copied into the record, each bounded: a batch is a buffer of records back to
 * back (ag_event_next), which the sinks' queues copy whole. A string field is the offset of the
 * string from the record's start (0: none; ag_event_str reads it).
 */
#ifndef AG_EVENT_H
#define AG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

enum ag_event_kind {
	AG_EVK_OTHER,
	AG_EVK_ACCESS,
	AG_EVK_TENANT,
	AG_EVK_EXPOSURE,
	AG_EVK_READY,
	AG_EVK_SUMMARY,
	AG_EVK_DROPS,
	AG_EVK_SUPPRESSED,
	AG_EVK_POLICY_MAP,
	AG_EVK_DEVICES,
	AG_EVK_SELFTEST,
};

/* access flags */
#define AG_EVF_FIRST    (1u << 0) /* the first sighting (the kernel's AG_EF_FIRST) */
#define AG_EVF_REJUDGED (1u << 1) /* judged again by the agent (an answer came later) */
#define AG_EVF_EARLY    (1u << 2) /* before the agent was ready */
#define AG_EVF_SCANNED  (1u << 3) /* a descriptor open before the start (hook "scan") */

typedef __u32 ag_evstr; /* a string of the record: its offset from the record's start, 0: none */

/* one exposed device of an exposure event (in the record's tail) */
#define AG_EV_REASONS 4
struct ag_event_xdev {
	__u32 major, minor;
	ag_evstr path;
	__u32 n_reasons;
	ag_evstr reasons[AG_EV_REASONS];
};

struct ag_event {
	__u32 size; /* bytes of the record, its tail included; a multiple of 8 */
	__u8 kind;  /* AG_EVK_* */
	__u8 op, verdict, action; /* access: AG_OP_*, AG_V_*, AG_ACT_* */
	__u8 hook, flags;         /* access: AG_HOOK_*, AG_EVF_* */
	__u8 pad2;
	__u8 pad;
	__u32 pid, tid, major, minor; /* access: the process and the device (ptrace: no device) */
	__u32 cmd, xfer_cmd;          /* access: the ioctl (ptrace: the target's pid, the route) */
	__s32 fd;                     /* a scanned descriptor */
	__u32 n_xdev;                 /* exposure: its devices at xdev */
	__u64 time_ns;                /* real time, ns since the epoch */
	__u64 cgroup_id, tenant_id;   /* tenant_id: the tenant a cgroup below it answers to */
	__u64 viol_total, suppressed; /* access: the tenant's violations so far */
	__u64 more;                   /* exposure: devices left out */
	ag_evstr time;                /* the line's "time", RFC 3339 */
	ag_evstr tier, comm, cls, ioctl_name;
	ag_evstr cgroup_path, tenant_path;
	ag_evstr pod_ns, pod_name, pod_uid, container_name, container_id;
	ag_evstr what, state;         /* tenant: added, resolved, removed, present; its state */
	ag_evstr bundle;              /* exposure: the config.json read */
	ag_evstr xdev;                /* exposure: struct ag_event_xdev[n_xdev] */
};

static inline const char *ag_event_str(const struct ag_event *e, ag_evstr s)
{
	return s ? (const char *)e + s : NULL;
}

static inline const struct ag_event_xdev *ag_event_xdevs(const struct ag_event *e)
{
	return e->xdev ? (const struct ag_event_xdev *)((const char *)e + e->xdev) : NULL;
}

/* The records of a batch, one after another; NULL past its end (or at a bad record). */
static inline const struct ag_event *ag_event_next(const void *buf, size_t len,
						   const struct ag_event *e)
{
	const char *p = e ? (const char *)e + e->size : (const char *)buf;
	const struct ag_event *n = (const struct ag_event *)p;

	if (!buf || p + sizeof(*n) > (const char *)buf + len || n->size < sizeof(*n) ||
	    p + n->size > (const char *)buf + len)
		return NULL;
	return n;
}

/* The access's hook as the line names it ("scan" for a descriptor found at the start). */
const char *ag_event_hook(const struct ag_event *e);

/*
 * A buffer of records, built by the loop beside its lines. ag_evb_begin starts a record (its fixed
 * part zeroed), ag_evb_str and ag_evb_tail add to its tail (the record may move: take it again
 * with ag_evb_cur after either), ag_evb_end closes it, ag_evb_cancel drops it. Out of memory, the
 * record is marked and ag_evb_end drops it (false).
 */
struct ag_evb {
	char *buf;
	size_t len, cap;
	size_t at; /* the record being built */
	bool oom, open;
	bool nofix;              /* no room for its fixed part: writes go to scratch, ended dropped */
	struct ag_event scratch;
};

#define AG_EV_STR_MAX 4096 /* the longest string a record keeps (a cgroup path) */

void ag_evb_begin(struct ag_evb *b, int kind);
static inline struct ag_event *ag_evb_cur(struct ag_evb *b)
{
	return b->nofix ? &b->scratch : (struct ag_event *)(b->buf + b->at);
}
/* s (at most max bytes of it) into the tail: its offset, 0 for NULL (or out of memory) */
ag_evstr ag_evb_str(struct ag_evb *b, const char *s, size_t max);
/* s (n bytes) as a reader of the JSON line gets it back (jw_strn): valid UTF-8 as it is, any
 * other byte from 0x80 as the character U+0080..U+00FF; its offset */
ag_evstr ag_evb_str_as_json(struct ag_evb *b, const char *s, size_t n);
/* len bytes of the tail, zeroed, 8-aligned: their offset, 0 out of memory */
ag_evstr ag_evb_tail(struct ag_evb *b, size_t len);
bool ag_evb_end(struct ag_evb *b);
void ag_evb_cancel(struct ag_evb *b);
void ag_evb_reset(struct ag_evb *b);
void ag_evb_free(struct ag_evb *b);

/* set a string field of the open record (evaluated in this order: the record may move) */
#define AG_EVB_STR(b, field, s, max)                     \
	do {                                             \
		ag_evstr o_ = ag_evb_str((b), (s), (max)); \
		ag_evb_cur(b)->field = o_;               \
	} while (0)

#endif
