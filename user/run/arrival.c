// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * "reads: arrival" (tiers 1-2): reads and writes are not judged at every use; a descriptor is
 * judged where it arrives in a tenant (bpf/file.bpf.c file_receive, bpf/receive.bpf.c: a move, a
 * child born in another cgroup; the start's scan). The first time an arrival could not be
 * stopped, the per-use hook (file_permission) is attached, for the agent's life, and a
 * "per_use" event says why:
 *
 *   audit        a violation was let through (audit mode stops nothing)
 *   not_stopped  enforce mode let a violation through (reported, not denied or killed), or the
 *                kernel saw accelerator files carried by a move where no kill could be sent (a
 *                move by another process, or a child born elsewhere, before 6.13)
 *   scan         a descriptor that violates the policy was held at the start
 *   rejudged     an access let through before its tenant was known violates the answer
 *   revoked      a tenant lost a device it was allowed, and may still hold it
 *   walk         a moved descriptor table was larger than the walk (4,096 slots, 4 devices)
 *   shared_table a moved table is shared with a process left behind (clone(CLONE_FILES))
 *
 * Reads and writes between such an arrival and the attach (the loop's next round: the event's
 * own wake-up, at most a second for the kernel's bits) are not judged.
 */
#include <string.h>
#include <time.h>
#include "log.h"
#include "run.h"
#include "util.h"
#include "verdict.h"

static const char *unseen_reason(__u32 bits)
{
	return bits & AG_UNSEEN_NO_KILL ? "not_stopped"
	       : bits & AG_UNSEEN_SHARED ? "shared_table"
					 : "walk";
}

static void attach(struct agent *a, const char *reason, __u64 cgroup_id, __u32 pid)
{
	const struct ag_cg *cg = cgroup_id ? ag_policy_find(&a->db, cgroup_id) : NULL;
	int err = ag_bpf_attach_per_use(&a->bpf);

	a->per_use_reason = reason;
	a->per_use_ns = ag_now_ns(CLOCK_BOOTTIME);
	ag_ev_begin(a, AG_EVK_OTHER, "per_use", 0);
	jw_kstr(&a->jw, "event", err ? "failed" : "attached");
	jw_kstr(&a->jw, "reason", reason);
	jw_kstr(&a->jw, "tier", ag_tier_name(a->bpf.tier));
	jw_kstr(&a->jw, "hook", a->bpf.tier == AG_TIER_LSM ? "lsm/file_permission"
							  : "fmod_ret/security_file_permission");
	if (pid)
		jw_ku64(&a->jw, "pid", pid);
	if (cgroup_id)
		ag_ev_put_cgroup(a, &a->jw, cgroup_id, cg);
	ag_ev_end(a);
	if (err)
		return; /* logged by the loader; tried again at the next arrival */
	ag_info("reads: an arrival was not stopped (%s): reads and writes are judged at every use "
		"from now on", reason);
}

void ag_arrival_on_access(struct agent *a, int verdict, int action, bool scanned, bool rejudged,
			  __u64 cgroup_id, __u32 pid)
{
	if (!a->bpf.arrival || a->bpf.per_use || action != AG_ACT_OBSERVED ||
	    !ag_is_violation(verdict))
		return;
	attach(a, scanned ? "scan" : rejudged ? "rejudged"
			: a->mode == AG_MODE_AUDIT ? "audit" : "not_stopped",
	       cgroup_id, pid);
}

void ag_arrival_on_revoked(const struct ag_cg *cg, void *ctx)
{
	struct agent *a = ctx;

	if (a->bpf.arrival && !a->bpf.per_use)
		attach(a, "revoked", cg->id, 0);
}

void ag_arrival_check(struct agent *a)
{
	__u32 bits;

	if (!a->bpf.arrival || a->bpf.per_use)
		return;
	bits = ag_bpf_arrival_unseen(&a->bpf);
	if (bits)
		attach(a, unseen_reason(bits), 0, 0);
}
