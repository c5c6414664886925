/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The upstream conformance test's checks, made at the node on the containers that run there
 * (`accelguard selftest --conformance`).
 *
 * kubernetes-sigs/ai-conformance `TestSecureAcceleratorAccess` (test/ai_conformance_test.go)
 * starts pods and runs `ls /dev/nvidia*` in them: PositiveAccessTest (a pod with a claim finds
 * its accelerator), NegativeIsolationTest (a pod without one finds none),
 * MultiContainerIsolationTest (of two containers of one pod, only the claiming one finds it).
 * Here the same three subtests are judged on every running container the agent knows, in each
 * container's own mount namespace (through /proc/PID/root: its /dev walked, and every mount
 * point that is a device node, as runc's bind-mount fallback makes), by device number: the
 * NVIDIA GPU nodes it can reach (195:0-247, what /dev/nvidia[0-9]* names) must be exactly the
 * GPUs of its allocation, none without one, and in a pod each container only its own.
 */
#ifndef AG_EVIDENCE_CONFORMANCE_H
#define AG_EVIDENCE_CONFORMANCE_H

#include <stdio.h>

struct json_object;

struct ag_conf_ctr {
	const char *ns, *pod, *uid, *ctr, *path; /* path: the container's cgroup */
	const unsigned short *gpus;              /* its allocation's NVIDIA GPU minors */
	unsigned int n_gpus;
};

/* The three subtests on these containers (cg2: the cgroup2 mount, for a pid of each). Returns
 * a JSON array: {name, result pass|fail|skipped, message, containers: [{namespace, pod,
 * container, cgroup, pid, allocated: ["195:N"], visible: [{device, path}], result, why}]};
 * *failed counts the failed subtests. */
struct json_object *ag_conformance_run(const char *cg2, const struct ag_conf_ctr *c, size_t n,
				       int *failed);

/* The JUnit testsuite of that array, with upstream's names: TestSecureAcceleratorAccess and
 * TestSecureAcceleratorAccess/<Subtest> (as go test and go-junit-report name subtests). */
void ag_conformance_junit(FILE *f, struct json_object *subtests, const char *hostname,
			  const char *timestamp);

/* The JUnit document of self-test runs (an array of "selftest" events' objects, as `selftest`
 * sends them to the journal): for each, upstream's suite when it ran with --conformance, then
 * accelguard-selftest with a testcase per check. One writer for `selftest --junit` and the
 * bundle's selftest-junit.xml. */
void ag_selftest_junit(FILE *f, struct json_object *runs, const char *hostname);

#endif
