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
const struct k8s_prc *k8s_pr_find(const struct k8s_pr *pr, const char *ns, const char *pod,
				  const char *name);
/* Ask for the pod's resources (Get, or a List when Get cannot serve). */
void k8s_pr_want(struct k8s_pr *pr, const char *ns, const char *pod);
/* Ask for a full List now. */
void k8s_pr_want_list(struct k8s_pr *pr);

#endif
