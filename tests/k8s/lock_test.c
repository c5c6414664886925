// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ranked locks of user/k8s/base.h: rank order is allowed, anything else aborts with a message. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8s/base.h"

static struct k8s_lock resolver, api, cri, pr, devmap;

static int setup(void **state)
{
	k8s_lock_init(&resolver, K8S_RANK_RESOLVER, "resolver");
	k8s_lock_init(&api, K8S_RANK_API, "api");
	k8s_lock_init(&cri, K8S_RANK_CRI, "cri");
	k8s_lock_init(&pr, K8S_RANK_PR, "podresources");
	k8s_lock_init(&devmap, K8S_RANK_DEVMAP, "devmap");
	return 0;
}

/* Run fn in a child with stderr in a pipe: its exit status and what it said. */
static int in_child(void (*fn)(void), char *said, size_t len)
{
	int p[2], st = 0;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		fn();
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], said, len - 1);
	said[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void in_order(void)
{
	k8s_lock(&resolver);
	k8s_lock(&api);
	k8s_lock(&cri);
	k8s_lock(&pr);
	k8s_unlock(&pr);
	k8s_lock(&devmap);
	k8s_unlock(&devmap);
	k8s_unlock(&cri);
	k8s_unlock(&api);
	k8s_unlock(&resolver);
	k8s_lock(&devmap); /* alone, after all */
	k8s_unlock(&devmap);
}

static void inverted(void)
{
	k8s_lock(&pr);
	k8s_lock(&cri);
}

static void twice(void)
{
	k8s_lock(&api);
	k8s_lock(&api);
}

static void test_rank_order(void **state)
{
	char said[512];
	int st = in_child(in_order, said, sizeof(said));

	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_string_equal(said, "");
}

static void test_inverted_aborts(void **state)
{
	char said[512];
	int st = in_child(inverted, said, sizeof(said));

	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	assert_non_null(strstr(said, "lock order violation: taking cri (rank 3) while holding "
				     "podresources (rank 4)"));
}

static void test_same_lock_aborts(void **state)
{
	char said[512];
	int st = in_child(twice, said, sizeof(said));

	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	assert_non_null(strstr(said, "taking api (rank 2) while holding api (rank 2)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rank_order),
		cmocka_unit_test(test_inverted_aborts),
		cmocka_unit_test(test_same_lock_aborts),
	};

	return cmocka_run_group_tests_name("k8s_locks", tests, setup, NULL);
}
