/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's start (issue 10): nothing is judged before the truth is known. The kernel programs
 * run in a not-ready state from their attach (bpf/common.bpf.h ag_ready): a cgroup without policy
 * is unresolved, never the host, and nothing is denied for being unresolved. Before its start-up
 * scan the agent waits for the sources' first snapshot; after it (the policy map written) it
 * ends the kernel's not-ready state and emits ready. README "Between start and ready".
 */
#ifndef AG_STARTUP_H
#define AG_STARTUP_H

#include "accelguard.skel.h"
#include "source.h"

/* How long the start waits for every peer's first answer (or failure), at most. */
#define AG_FIRST_SNAPSHOT_MS 6000

/* Wait for the Kubernetes source's first snapshot (k8s NULL: none configured, no wait). Logs
 * how long it took, or that it judges with what it has. */
void ag_startup_wait_first(const struct ag_source *k8s);

/* End the kernel's not-ready state: a cgroup without policy is the host again, and
 * "unresolved: deny" applies to the containers born from now on. */
void ag_startup_ready(struct accelguard_bpf *skel);

#endif
