/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kubelet's PodResources peer (layer 2): one thread listing (and, for a pod asked for,
 * getting) the allocations per container into its own snapshot, under its own lock
 * (K8S_RANK_PR). The resolver reads the snapshot and asks for refreshes with pr->lock held.
 */
#ifndef AG_K8S_PODRESOURCES_H
#define AG_K8S_PODRESOURCES_H

#include "base.h"
#include "devmap.h"

/* A container of the PodResources answer. */
struct k8s_prc {
	char *ns, *pod, *name;
	struct k8s_alloc *a;
	size_t n;
};

struct k8s_pr_snap {
	struct k8s_prc *c; /* sorted by (ns, pod, name) */
	size_t n;
};

/* Limits of one answer (README "Input limits"): more is refused with -E2BIG and an error naming
 * the pod or container; the last good snapshot stays. */
#define K8S_PR_MAX_CONTAINERS 16384u /* containers in a List answer */
#define K8S_PR_MAX_IDS        1024u  /* device ids + claim results of one container */
/* ... of all containers in the answer: each kept costs a struct k8s_alloc (its device ranges
 * inline, about 1 KiB) and a mapping, so 8192 hold about 9 MiB */
#define K8S_PR_MAX_TOTAL_IDS  8192u

struct k8s_pr {
	const struct k8s_env *env;
	struct k8s_devmap *map;
	struct k8s_lock lock;  /* everything below */
	pthread_cond_t cond;   /* wakes the thread: wants, stop */
	struct k8s_pr_snap snap;
	bool listed;
	bool want_list;
	struct k8s_want *wants;
	size_t n_wants;
	uint64_t calls, errors, unmapped_ids;
	bool up;
	pthread_t th;
	bool have_th;
};

void k8s_pr_init(struct k8s_pr *pr, const struct k8s_env *env, struct k8s_devmap *map);
/* Start the thread; 0 or -errno. */
int k8s_pr_start(struct k8s_pr *pr);
/* Wake the thread to see env->stop, and join it. */
void k8s_pr_stop(struct k8s_pr *pr);
void k8s_pr_fini(struct k8s_pr *pr);

/* pr->lock held, for the rest: */
/* First container of the pod (name NULL) or the container itself; NULL when absent. */
struct V1__ListPodResourcesResponse;
/* A List answer -> a sorted snapshot (ids mapped through pr->map); 0, -ENOMEM or -E2BIG with err.
 * The fuzz entry point (the thread calls it on each List). */
int k8s_pr_build(struct k8s_pr *pr, const struct V1__ListPodResourcesResponse *resp,
		 struct k8s_pr_snap *out, uint64_t *unmapped, char *err, size_t errlen);
void k8s_pr_snap_free(struct k8s_pr_snap *s);

const struct k8s_prc *k8s_pr_find(const struct k8s_pr *pr, const char *ns, const char *pod,
				  const char *name);
/* Ask for the pod's resources (Get, or a List when Get cannot serve). */
void k8s_pr_want(struct k8s_pr *pr, const char *ns, const char *pod);
/* Ask for a full List now. */
void k8s_pr_want_list(struct k8s_pr *pr);

#endif
