/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The verdict logic, compiled into the kernel programs and into the agent (which judges
 * descriptors found open at start, and re-judges unresolved accesses), and unit-tested as is.
 * Include after the definitions of __u32 and friends (vmlinux.h or linux/types.h).
 */
#ifndef ACCELGUARD_VERDICT_H
#define ACCELGUARD_VERDICT_H

#include "accelguard.h"

#ifndef AG_INLINE
#define AG_INLINE static inline __attribute__((always_inline))
#endif

/* Class of (major, minor), or 0 when it is no accelerator. */
AG_INLINE __u32 ag_class_of(const struct ag_major_entry *e, __u32 minor)
{
	__u32 i;

	if (!e)
		return 0;
	for (i = 0; i < AG_MAX_RANGES; i++) {
		if (i >= e->n)
			break;
		if (minor >= e->r[i].lo && minor <= e->r[i].hi)
			return e->r[i].class_id;
	}
	return 0;
}

/* Result of looking a device up in a tenant's allocation. */
enum ag_match {
	AG_M_NONE = 0,
	AG_M_ALLOCATED = 1,
	AG_M_ADMIN = 2,
};

AG_INLINE int ag_policy_match(const struct ag_policy *p, __u32 major, __u32 minor)
{
	__u32 i;

	for (i = 0; i < AG_MAX_ALLOWED; i++) {
		if (i >= p->n)
			break;
		if (p->d[i].major == major && minor >= p->d[i].lo && minor <= p->d[i].hi)
			return (p->d[i].flags & AG_RF_ADMIN) ? AG_M_ADMIN : AG_M_ALLOCATED;
	}
	return AG_M_NONE;
}

/*
 * The verdict of one access. p is the cgroup's effective policy (NULL: the host). owners is the
 * number of tenants the device is allocated to exclusively; it matters only for a tenant that does
 * not hold the device. So the verdict comes in two steps: ag_verdict_step() answers from the
 * policy alone, or AG_V_NEEDS_OWNERS, and only then does a caller count the owners (the kernel
 * looks them up in a map) for ag_verdict_owned(). ag_verdict() is the two composed.
 */
AG_INLINE int ag_verdict_state(const struct ag_policy *p)
{
	if (!p)
		return AG_V_HOST;
	switch (p->state) {
	case AG_P_HOST:
		return AG_V_HOST;
	case AG_P_EXEMPT:
		return AG_V_EXEMPT;
	case AG_P_UNRESOLVED:
	case AG_P_TENANT_PARENT:
		return AG_V_UNRESOLVED;
	default:
		return 0; /* a tenant: depends on the device */
	}
}

#define AG_V_NEEDS_OWNERS 0 /* ag_verdict_step(): a tenant without the device, ask ag_verdict_owned() */

AG_INLINE int ag_verdict_step(const struct ag_policy *p, __u32 major, __u32 minor)
{
	int v = ag_verdict_state(p);

	if (v) /* the host (p == NULL too), exempt, unresolved */
		return v;
	switch (ag_policy_match(p, major, minor)) {
	case AG_M_ALLOCATED:
		return AG_V_ALLOWED;
	case AG_M_ADMIN:
		return AG_V_ADMIN;
	default:
		return AG_V_NEEDS_OWNERS;
	}
}

/* The verdict of a tenant that does not hold the device. */
AG_INLINE int ag_verdict_owned(__u32 owners)
{
	return owners ? AG_V_CROSS_TENANT : AG_V_UNMEDIATED;
}

AG_INLINE int ag_verdict(const struct ag_policy *p, __u32 major, __u32 minor, __u32 owners)
{
	int v = ag_verdict_step(p, major, minor);

	return v != AG_V_NEEDS_OWNERS ? v : ag_verdict_owned(owners);
}

AG_INLINE int ag_is_violation(int verdict)
{
	return verdict == AG_V_UNMEDIATED || verdict == AG_V_CROSS_TENANT;
}

/* Whether enforce mode denies this verdict. */
AG_INLINE int ag_denies(int verdict, int unresolved_deny)
{
	return ag_is_violation(verdict) || (verdict == AG_V_UNRESOLVED && unresolved_deny);
}

#endif /* ACCELGUARD_VERDICT_H */
