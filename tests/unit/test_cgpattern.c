// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup path patterns: matching, ancestors, the literal parent, syntax checks. */
#include "unit.h"

#include "cgpattern.h"

#define MATCH(p, s) assert_true(ag_cgpattern_match((p), (s)))
#define NO_MATCH(p, s) assert_false(ag_cgpattern_match((p), (s)))

static void test_literal(void **state)
{
	MATCH("/a/b", "/a/b");
	NO_MATCH("/a/b", "/a");
	NO_MATCH("/a/b", "/a/b/c"); /* exact: a descendant is no match */
	NO_MATCH("/a/b", "/a/bc");
	NO_MATCH("/a/b", "/x/a/b");
	MATCH("/", "/");
	NO_MATCH("/", "/a");
	/* the path's redundant slashes do not matter */
	MATCH("/a/b", "/a//b");
	MATCH("/a/b", "/a/b/");
}

static void test_star_within_component(void **state)
{
	MATCH("/tenants/*", "/tenants/t1");
	NO_MATCH("/tenants/*", "/tenants");
	NO_MATCH("/tenants/*", "/tenants/t1/sub"); /* '*' never crosses '/' */
	MATCH("/system.slice/docker-*.scope", "/system.slice/docker-0123abcd.scope");
	NO_MATCH("/system.slice/docker-*.scope", "/system.slice/containerd.service");
	MATCH("/a*", "/ab");
	NO_MATCH("/a*", "/ab/c");
	MATCH("/kubepods.slice/*/*/cri-containerd-*.scope",
	      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/"
	      "cri-containerd-abc.scope");
	MATCH("/job?", "/job1");
	NO_MATCH("/job?", "/job12");
	MATCH("/gpu[0-3]", "/gpu2");
	NO_MATCH("/gpu[0-3]", "/gpu4");
	MATCH("/gpu[!0-3]", "/gpu4");
	MATCH("/a\\*", "/a*");
	NO_MATCH("/a\\*", "/ab");
}

static void test_globstar(void **state)
{
	MATCH("/a/**", "/a"); /* zero components */
	MATCH("/a/**", "/a/b");
	MATCH("/a/**", "/a/b/c/d");
	NO_MATCH("/a/**", "/b/a");
	MATCH("/**", "/");
	MATCH("/**", "/x/y/z");
	MATCH("/a/**/z", "/a/z");
	MATCH("/a/**/z", "/a/b/z");
	MATCH("/a/**/z", "/a/b/c/z");
	NO_MATCH("/a/**/z", "/a/b/c");
	NO_MATCH("/a/**/z", "/a/z/y");
	MATCH("/**/docker-*.scope", "/system.slice/docker-1.scope");
	MATCH("/**/docker-*.scope", "/docker-1.scope");
	MATCH("/**/x/**/y", "/x/y");
	MATCH("/**/x/**/y", "/p/x/q/r/y");
	NO_MATCH("/**/x/**/y", "/p/y/q/x");
}

/* Many '**' against a long path that does not match: must finish at once, not backtrack for ages. */
static void test_globstar_no_blowup(void **state)
{
	char path[4096], pat[512];
	size_t o = 0;
	int i;

	for (i = 0; i < 400; i++)
		o += (size_t)snprintf(path + o, sizeof(path) - o, "/c");
	o = 0;
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(pat + o, sizeof(pat) - o, "/**/c");
	snprintf(pat + o, sizeof(pat) - o, "/nomatch");
	NO_MATCH(pat, path);
	pat[o] = '\0';
	MATCH(pat, path);
}

static void test_ancestor(void **state)
{
	assert_true(ag_cgpattern_match_or_ancestor("/tenants/*", "/tenants/t1"));
	assert_true(ag_cgpattern_match_or_ancestor("/tenants/*", "/tenants/t1/sub/leaf"));
	assert_false(ag_cgpattern_match_or_ancestor("/tenants/*", "/tenants"));
	assert_false(ag_cgpattern_match_or_ancestor("/tenants/*", "/other/t1"));
	assert_true(ag_cgpattern_match_or_ancestor("/a/b", "/a/b/c"));
	assert_false(ag_cgpattern_match_or_ancestor("/a/b", "/a/bc/d"));
	assert_true(ag_cgpattern_match_or_ancestor("/", "/anything/at/all"));
	assert_true(ag_cgpattern_match_or_ancestor("/a/**/z", "/a/b/z/w"));
	assert_false(ag_cgpattern_match_or_ancestor("/a/**/z", "/a/b/w"));
}

static void expect_parent(const char *pattern, const char *want)
{
	char buf[64];

	assert_int_equal(ag_cgpattern_parent(pattern, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void test_parent(void **state)
{
	char small[4];

	expect_parent("/tenants/*", "/tenants");
	expect_parent("/a/b", "/a");
	expect_parent("/**", "/");
	expect_parent("/a", "/");
	expect_parent("/", "/");
	expect_parent("/tenants/*/x", "/tenants");
	expect_parent("/a/b/c*/d", "/a/b");
	expect_parent("/a/b/**", "/a/b");
	expect_parent("/kubepods.slice/kubepods-*.slice/*", "/kubepods.slice");
	expect_parent("/a/b\\*/c", "/a"); /* an escape is not literal here: stop early, stay safe */
	assert_int_equal(ag_cgpattern_parent("/tenants/*", small, sizeof(small)), -ENAMETOOLONG);
	assert_int_equal(ag_cgpattern_parent("tenants/*", small, sizeof(small)), -EINVAL);
}

static void expect_bad(const char *pattern, const char *why)
{
	const char *got = ag_cgpattern_check(pattern);

	if (!got)
		fail_msg("pattern '%s' accepted, expected: %s", pattern, why);
	assert_string_equal(got, why);
}

static void test_check(void **state)
{
	char longp[5000];

	assert_null(ag_cgpattern_check("/"));
	assert_null(ag_cgpattern_check("/a/b"));
	assert_null(ag_cgpattern_check("/tenants/*"));
	assert_null(ag_cgpattern_check("/**/x"));
	assert_null(ag_cgpattern_check("/gpu[0-3]/[!a]x/[]]"));
	assert_null(ag_cgpattern_check("/a\\*b"));

	expect_bad("", "empty pattern");
	expect_bad("tenants/*", "must start with '/' (paths are relative to the cgroup2 root)");
	expect_bad("/a//b", "empty path component ('//')");
	expect_bad("/a/", "trailing '/'");
	expect_bad("/a/./b", "'.' and '..' are not allowed");
	expect_bad("/a/..", "'.' and '..' are not allowed");
	expect_bad("/a**", "'**' must be a whole path component");
	expect_bad("/a/b**c/d", "'**' must be a whole path component");
	expect_bad("/a/***", "'**' must be a whole path component");
	expect_bad("/a/[bc", "unterminated '[' in a path component");
	expect_bad("/a/[]", "unterminated '[' in a path component");
	expect_bad("/a\\", "trailing '\\' in a path component");
	expect_bad("/a\nb", "contains a control character");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	expect_bad(longp, "too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_star_within_component),
		cmocka_unit_test(test_globstar),
		cmocka_unit_test(test_globstar_no_blowup),
		cmocka_unit_test(test_ancestor),
		cmocka_unit_test(test_parent),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("cgpattern", tests, NULL, NULL);
}
