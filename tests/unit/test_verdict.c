// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * include/verdict.h, the logic the kernel programs run, tested as is: every verdict of the table
 * in DESIGN.md ("Verdicts"), what enforce mode does with it, class lookup and policy matching.
 */
#include <linux/types.h>

#include "unit.h"

#include "accelguard.h"
#include "verdict.h"

#define NVIDIA 195

static struct ag_policy tenant(void)
{
	struct ag_policy p;

	memset(&p, 0, sizeof(p));
	p.state = AG_P_TENANT;
	return p;
}

static void allow(struct ag_policy *p, __u32 major, __u32 lo, __u32 hi, __u32 flags)
{
	assert_true(p->n < AG_MAX_ALLOWED);
	p->d[p->n].major = major;
	p->d[p->n].lo = lo;
	p->d[p->n].hi = hi;
	p->d[p->n].flags = flags;
	p->n++;
}

/* allowed: the device is in the tenant's allocation, whoever else holds it. */
static void test_allowed(void **state)
{
	struct ag_policy p = tenant();

	allow(&p, NVIDIA, 0, 0, 0);
	allow(&p, NVIDIA, 255, 255, AG_RF_SHARED); /* nvidiactl, a control node */
	allow(&p, 226, 128, 129, 0);
	assert_int_equal(ag_verdict(&p, NVIDIA, 0, 0), AG_V_ALLOWED);
	assert_int_equal(ag_verdict(&p, NVIDIA, 0, 1), AG_V_ALLOWED); /* owners counts it too */
	assert_int_equal(ag_verdict(&p, NVIDIA, 255, 0), AG_V_ALLOWED);
	assert_int_equal(ag_verdict(&p, 226, 128, 0), AG_V_ALLOWED);
	assert_int_equal(ag_verdict(&p, 226, 129, 0), AG_V_ALLOWED);
	assert_false(ag_is_violation(AG_V_ALLOWED));
	assert_false(ag_denies(AG_V_ALLOWED, 0));
	assert_false(ag_denies(AG_V_ALLOWED, 1));
}

/* unmediated: a tenant touches a device nobody allocated to it, and no other tenant holds. */
static void test_unmediated(void **state)
{
	struct ag_policy p = tenant();

	allow(&p, NVIDIA, 0, 0, 0);
	assert_int_equal(ag_verdict(&p, NVIDIA, 1, 0), AG_V_UNMEDIATED);
	assert_int_equal(ag_verdict(&p, 226, 0, 0), AG_V_UNMEDIATED); /* same minor, other major */
	/* A tenant with no allocation at all (NVIDIA_VISIBLE_DEVICES=all, privileged pod) */
	p = tenant();
	assert_int_equal(ag_verdict(&p, NVIDIA, 0, 0), AG_V_UNMEDIATED);
	assert_int_equal(ag_verdict(&p, NVIDIA, 255, 0), AG_V_UNMEDIATED);
	assert_true(ag_is_violation(AG_V_UNMEDIATED));
	assert_true(ag_denies(AG_V_UNMEDIATED, 0));
	assert_true(ag_denies(AG_V_UNMEDIATED, 1));
}

/* cross_tenant: the device belongs to another tenant. */
static void test_cross_tenant(void **state)
{
	struct ag_policy p = tenant();

	allow(&p, NVIDIA, 0, 0, 0);
	assert_int_equal(ag_verdict(&p, NVIDIA, 1, 1), AG_V_CROSS_TENANT);
	assert_int_equal(ag_verdict(&p, NVIDIA, 1, 3), AG_V_CROSS_TENANT);
	assert_true(ag_is_violation(AG_V_CROSS_TENANT));
	assert_true(ag_denies(AG_V_CROSS_TENANT, 0));
}

/* host: no policy (outside the tenant hierarchy), or an explicit host entry. */
static void test_host(void **state)
{
	struct ag_policy p = tenant();

	assert_int_equal(ag_verdict(NULL, NVIDIA, 0, 0), AG_V_HOST);
	assert_int_equal(ag_verdict(NULL, NVIDIA, 0, 5), AG_V_HOST);
	p.state = AG_P_HOST;
	allow(&p, NVIDIA, 0, 0, 0); /* ranges of a host entry mean nothing */
	assert_int_equal(ag_verdict(&p, NVIDIA, 7, 1), AG_V_HOST);
	assert_false(ag_is_violation(AG_V_HOST));
	assert_false(ag_denies(AG_V_HOST, 1));
}

static void test_exempt(void **state)
{
	struct ag_policy p = tenant();

	p.state = AG_P_EXEMPT;
	assert_int_equal(ag_verdict(&p, NVIDIA, 3, 0), AG_V_EXEMPT);
	assert_int_equal(ag_verdict(&p, NVIDIA, 3, 2), AG_V_EXEMPT);
	assert_false(ag_is_violation(AG_V_EXEMPT));
	assert_false(ag_denies(AG_V_EXEMPT, 1));
}

/* admin: DRA adminAccess, which may be someone else's device. */
static void test_admin(void **state)
{
	struct ag_policy p = tenant();

	allow(&p, NVIDIA, 0, 7, AG_RF_ADMIN);
	assert_int_equal(ag_verdict(&p, NVIDIA, 4, 1), AG_V_ADMIN);
	assert_int_equal(ag_verdict(&p, NVIDIA, 8, 1), AG_V_CROSS_TENANT);
	assert_int_equal(ag_policy_match(&p, NVIDIA, 4), AG_M_ADMIN);
	assert_false(ag_is_violation(AG_V_ADMIN));
	assert_false(ag_denies(AG_V_ADMIN, 1));
}

/* unresolved: a tenant whose allocation is not known, or a new child of a tenant parent. */
static void test_unresolved(void **state)
{
	struct ag_policy p = tenant();

	p.state = AG_P_UNRESOLVED;
	assert_int_equal(ag_verdict(&p, NVIDIA, 0, 0), AG_V_UNRESOLVED);
	assert_int_equal(ag_verdict(&p, NVIDIA, 0, 1), AG_V_UNRESOLVED);
	p.state = AG_P_TENANT_PARENT;
	assert_int_equal(ag_verdict(&p, NVIDIA, 0, 0), AG_V_UNRESOLVED);
	assert_false(ag_is_violation(AG_V_UNRESOLVED));
	/* configurable: "unresolved: allow" (default) or "deny" */
	assert_false(ag_denies(AG_V_UNRESOLVED, 0));
	assert_true(ag_denies(AG_V_UNRESOLVED, 1));
}

/* The whole table of DESIGN.md: verdict -> enforce mode denies? (unresolved: both settings) */
static void test_enforce_table(void **state)
{
	static const struct {
		int verdict, deny_allow, deny_deny;
	} table[] = {
		{ AG_V_ALLOWED, 0, 0 },	  { AG_V_UNMEDIATED, 1, 1 }, { AG_V_CROSS_TENANT, 1, 1 },
		{ AG_V_HOST, 0, 0 },	  { AG_V_EXEMPT, 0, 0 },     { AG_V_ADMIN, 0, 0 },
		{ AG_V_UNRESOLVED, 0, 1 },
	};
	size_t i;

	assert_int_equal(sizeof(table) / sizeof(table[0]), AG_V__MAX - 1);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_int_equal(!!ag_denies(table[i].verdict, 0), table[i].deny_allow);
		assert_int_equal(!!ag_denies(table[i].verdict, 1), table[i].deny_deny);
	}
}

static void test_state_only(void **state)
{
	struct ag_policy p = tenant();

	assert_int_equal(ag_verdict_state(NULL), AG_V_HOST);
	assert_int_equal(ag_verdict_state(&p), 0); /* a tenant: depends on the device */
	p.state = AG_P_EXEMPT;
	assert_int_equal(ag_verdict_state(&p), AG_V_EXEMPT);
	p.state = AG_P_UNRESOLVED;
	assert_int_equal(ag_verdict_state(&p), AG_V_UNRESOLVED);
}

/* The two steps the kernel runs: owners are asked for only when the policy alone cannot answer,
 * and ag_verdict() is exactly the two composed. */
static void test_two_steps(void **state)
{
	struct ag_policy p = tenant(), ex = tenant(), un = tenant(), parent = tenant();
	const struct ag_policy *ps[] = { NULL, &p, &ex, &un, &parent };
	__u32 minors[] = { 0, 1, 4, 8, 255 };

	allow(&p, NVIDIA, 0, 0, 0);
	allow(&p, NVIDIA, 4, 4, AG_RF_ADMIN);
	ex.state = AG_P_EXEMPT;
	un.state = AG_P_UNRESOLVED;
	parent.state = AG_P_TENANT_PARENT;
	assert_int_equal(ag_verdict_step(&p, NVIDIA, 0), AG_V_ALLOWED);
	assert_int_equal(ag_verdict_step(&p, NVIDIA, 4), AG_V_ADMIN);
	assert_int_equal(ag_verdict_step(&p, NVIDIA, 1), AG_V_NEEDS_OWNERS);
	assert_int_equal(ag_verdict_step(NULL, NVIDIA, 1), AG_V_HOST);
	assert_int_equal(ag_verdict_step(&ex, NVIDIA, 1), AG_V_EXEMPT);
	assert_int_equal(ag_verdict_step(&un, NVIDIA, 1), AG_V_UNRESOLVED);
	assert_int_equal(ag_verdict_owned(0), AG_V_UNMEDIATED);
	assert_int_equal(ag_verdict_owned(2), AG_V_CROSS_TENANT);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		for (size_t j = 0; j < sizeof(minors) / sizeof(minors[0]); j++)
			for (__u32 owners = 0; owners < 3; owners++) {
				int s = ag_verdict_step(ps[i], NVIDIA, minors[j]);
				int v = ag_verdict(ps[i], NVIDIA, minors[j], owners);

				assert_int_not_equal(v, AG_V_NEEDS_OWNERS);
				if (s != AG_V_NEEDS_OWNERS)
					assert_int_equal(v, s); /* owners did not matter */
				else
					assert_int_equal(v, ag_verdict_owned(owners));
			}
}

static void test_policy_match_bounds(void **state)
{
	struct ag_policy p = tenant();
	__u32 i;

	allow(&p, NVIDIA, 2, 5, 0);
	assert_int_equal(ag_policy_match(&p, NVIDIA, 1), AG_M_NONE);
	assert_int_equal(ag_policy_match(&p, NVIDIA, 2), AG_M_ALLOCATED);
	assert_int_equal(ag_policy_match(&p, NVIDIA, 5), AG_M_ALLOCATED);
	assert_int_equal(ag_policy_match(&p, NVIDIA, 6), AG_M_NONE);
	assert_int_equal(ag_policy_match(&p, 196, 3), AG_M_NONE);
	/* entries past n are ignored */
	p.d[1].major = NVIDIA;
	p.d[1].lo = 9;
	p.d[1].hi = 9;
	assert_int_equal(ag_policy_match(&p, NVIDIA, 9), AG_M_NONE);
	/* all AG_MAX_ALLOWED entries are seen, and a corrupt n does not read past the array */
	p = tenant();
	for (i = 0; i < AG_MAX_ALLOWED; i++)
		allow(&p, NVIDIA, i, i, 0);
	assert_int_equal(ag_policy_match(&p, NVIDIA, AG_MAX_ALLOWED - 1), AG_M_ALLOCATED);
	p.n = 1000;
	assert_int_equal(ag_policy_match(&p, NVIDIA, AG_MAX_ALLOWED), AG_M_NONE);
	/* whole major */
	p = tenant();
	allow(&p, 261, 0, AG_MINOR_ANY, 0);
	assert_int_equal(ag_verdict(&p, 261, 0xfffff, 0), AG_V_ALLOWED);
}

static void test_class_of(void **state)
{
	struct ag_major_entry e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(ag_class_of(NULL, 0), 0);
	assert_int_equal(ag_class_of(&e, 0), 0); /* n == 0: no accelerator on this major */
	e.n = 3;
	e.r[0] = (struct ag_minor_range){ .lo = 0, .hi = 247, .class_id = 1 };
	e.r[1] = (struct ag_minor_range){ .lo = 254, .hi = 254, .class_id = 2 };
	e.r[2] = (struct ag_minor_range){ .lo = 255, .hi = 255, .class_id = 3 };
	assert_int_equal(ag_class_of(&e, 0), 1);
	assert_int_equal(ag_class_of(&e, 247), 1);
	assert_int_equal(ag_class_of(&e, 248), 0);
	assert_int_equal(ag_class_of(&e, 253), 0);
	assert_int_equal(ag_class_of(&e, 254), 2);
	assert_int_equal(ag_class_of(&e, 255), 3);
	assert_int_equal(ag_class_of(&e, 256), 0);
	e.r[3] = (struct ag_minor_range){ .lo = 300, .hi = 300, .class_id = 4 };
	assert_int_equal(ag_class_of(&e, 300), 0); /* beyond n */
	e.n = 99; /* corrupt: bounded by AG_MAX_RANGES */
	assert_int_equal(ag_class_of(&e, 300), 4);
	e.r[AG_MAX_RANGES - 1] = (struct ag_minor_range){ .lo = 0, .hi = AG_MINOR_ANY, .class_id = 9 };
	assert_int_equal(ag_class_of(&e, 1u << 19), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_two_steps),
		cmocka_unit_test(test_unmediated),
		cmocka_unit_test(test_cross_tenant),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_exempt),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_unresolved),
		cmocka_unit_test(test_enforce_table),
		cmocka_unit_test(test_state_only),
		cmocka_unit_test(test_policy_match_bounds),
		cmocka_unit_test(test_class_of),
	};

	return cmocka_run_group_tests_name("verdict", tests, NULL, NULL);
}
