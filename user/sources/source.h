/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Allocation sources: what decides, for one cgroup, whether it is a tenant and which devices it
 * was given. The configuration file is one source (standalone mode); the Kubernetes correlator
 * (kubelet PodResources, CRI, Kubernetes API, CDI, driver procfs) is another.
 *
 * A source keeps its own knowledge current (its own threads or timers) and answers resolve()
 * from memory, at once, from the agent's event loop. When its knowledge changes it writes to the
 * notify eventfd it was given; the agent then resolves every tenant cgroup again and rewrites
 * the policy map where the answer changed.
 */
#ifndef AG_SOURCE_H
#define AG_SOURCE_H

#include <linux/types.h>
#include "accelguard.h"

#define AG_NS_LEN 64
#define AG_NAME_LEN 256
#define AG_UID_LEN 40
#define AG_CID_LEN 72

/* What the sources say of one cgroup. */
struct ag_tenant {
	int state; /* enum ag_pstate: AG_P_TENANT, AG_P_EXEMPT, AG_P_UNRESOLVED, AG_P_HOST */
	unsigned int n_devs;
	struct ag_dev_range devs[AG_MAX_ALLOWED]; /* AG_RF_SHARED on vendor control nodes */
	/* what identifies the tenant, "" for the cgroup path itself: a container id, the tenant's
	 * top cgroup. Exclusive devices are counted once per key, so sub-cgroups of one tenant never
	 * make its own devices look allocated elsewhere. */
	char key[AG_NAME_LEN];
	/* identity, "" when unknown */
	char pod_namespace[AG_NS_LEN];
	char pod_name[AG_NAME_LEN];
	char pod_uid[AG_UID_LEN];
	char container_name[AG_NAME_LEN];
	char container_id[AG_CID_LEN];
};

enum ag_resolve {
	AG_R_NOT_MINE = 0, /* this source knows nothing of the cgroup */
	AG_R_DONE = 1,     /* out is filled */
	AG_R_PENDING = 2,  /* a cgroup of this source whose allocation is not known yet; it will notify */
};

struct ag_source {
	const char *name;
	void *ctx;
	/* cgroup_path is relative to the cgroup2 root ("/kubepods/..."). Must not block. */
	int (*resolve)(void *ctx, const char *cgroup_path, struct ag_tenant *out);
	/* Directories under which new cgroups belong to this source (tenant parents), NULL-terminated. */
	const char *const *(*tenant_roots)(void *ctx);
	void (*destroy)(void *ctx);
};

#endif
