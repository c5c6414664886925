// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The violations the kernel counts per tenant: the suppressed ones said, a tenant gone retired. */
#include <errno.h>
#include <stdlib.h>
#include "log.h"
#include "run.h"
#include "util.h"

static struct suppressed_seen *seen_of(struct agent *a, __u64 id, bool create)
{
	uint64_t h = ag_hash_u64(id);
	struct suppressed_seen *seen;

	for (struct ag_hnode *n = ag_htab_first(&a->supp, h); n; n = ag_htab_next(n, h)) {
		seen = ag_container_of(n, struct suppressed_seen, node);
		if (seen->cgroup_id == id)
			return seen;
	}
	if (!create)
		return NULL;
	seen = calloc(1, sizeof(*seen));
	if (!seen) {
		ag_err_errno(ENOMEM, "events: cgroup %llu: no memory to remember its suppressed count",
			     (unsigned long long)id);
		return NULL;
	}
	seen->cgroup_id = id;
	ag_htab_add(&a->supp, &seen->node, h);
	return seen;
}

/* Say how many of this tenant's violations got no event of their own since the last report. */
static void report_suppressed(struct agent *a, __u64 id, const struct ag_viol_state *s)
{
	struct suppressed_seen *seen;

	if (!s->suppressed || !(seen = seen_of(a, id, true)) || s->suppressed == seen->reported)
		return;
	ag_ev_begin(a, AG_EVK_SUPPRESSED, "suppressed", 0);
	jw_ku64(&a->jw, "count", s->suppressed - seen->reported);
	jw_key(&a->jw, "violations");
	jw_obj_open(&a->jw);
	jw_ku64(&a->jw, "total", s->total);
	jw_ku64(&a->jw, "suppressed", s->suppressed);
	jw_obj_close(&a->jw);
	jw_ku64(&a->jw, "rate_limit", a->cfg.rate_limit);
	ag_ev_put_cgroup(a, &a->jw, id, ag_policy_find(&a->db, id));
	ag_ev_end(a);
	seen->reported = s->suppressed;
}

/* Violations counted in the kernel that got no event of their own: say how many, per tenant. */
void ag_viol_check(struct agent *a)
{
	__u64 key, next, *prev = NULL;
	struct ag_viol_state s;

	while (!ag_maps_viol_next(&a->maps, prev, &next)) {
		key = next;
		prev = &key;
		if (!ag_maps_viol_get(&a->maps, key, &s))
			report_suppressed(a, key, &s);
	}
}

/*
 * A cgroup went away (no task can run in it any more): report what it still owes, keep its
 * counts for the summary, and free its entry, so that the map never fills with the dead on a
 * node where containers come and go.
 */
void ag_viol_retire(struct agent *a, __u64 id)
{
	struct suppressed_seen *seen;
	struct ag_viol_state s;

	if (ag_maps_viol_get(&a->maps, id, &s))
		return;
	report_suppressed(a, id, &s);
	a->retired_viol += s.total;
	a->retired_supp += s.suppressed;
	ag_maps_viol_del(&a->maps, id);
	if ((seen = seen_of(a, id, false))) {
		ag_htab_del(&a->supp, &seen->node);
		free(seen);
	}
}

void ag_viol_free(struct agent *a)
{
	struct ag_hnode *n, *next;
	size_t b = 0;

	if (!a->supp.b)
		return;
	for (n = ag_htab_iter(&a->supp, &b, NULL); n; n = next) {
		next = ag_htab_iter(&a->supp, &b, n);
		free(ag_container_of(n, struct suppressed_seen, node));
	}
	ag_htab_free(&a->supp);
}
