/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The container runtime's CRI peer (layer 2): one thread listing the containers and sandboxes
 * (and, for an id asked for, ContainerStatus) into its own snapshot, under its own lock
 * (K8S_RANK_CRI). The resolver reads the snapshot and asks for ids with cri->lock held.
 */
#ifndef AG_K8S_CRI_H
#define AG_K8S_CRI_H

#include "base.h"

/* A container or sandbox the CRI knows. */
struct k8s_cri_ent {
	char *id, *ns, *pod, *uid, *name;
	bool sandbox;
	struct k8s_labels labels; /* sandbox: the pod's labels */
};

struct k8s_cri_snap {
	struct k8s_cri_ent *e; /* sorted by id */
	size_t n;
};

/* Limits of a list (README "Input limits"): more is refused with -E2BIG, the last snapshot stays. */
#define K8S_CRI_MAX_ENTRIES 65536u /* containers + sandboxes */
#define K8S_CRI_MAX_LABELS  1024u  /* labels of one */

struct Runtime__V1__ListContainersResponse;
struct Runtime__V1__ListPodSandboxResponse;
/* Decoded answers -> entries appended to s (*cap its capacity; unsorted): 0, -ENOMEM, -E2BIG.
 * The fuzz entry points; the thread builds each list with them. */
int k8s_cri_add_containers(struct k8s_cri_snap *s, size_t *cap,
			   const struct Runtime__V1__ListContainersResponse *r);
int k8s_cri_add_sandboxes(struct k8s_cri_snap *s, size_t *cap,
			  const struct Runtime__V1__ListPodSandboxResponse *r);
void k8s_cri_snap_free(struct k8s_cri_snap *s);

struct k8s_cri {
	const struct k8s_env *env;
	/* called by the thread, no lock held, after the snapshot changed (before the notify) */
	void (*changed)(void *arg);
	void *changed_arg;
	struct k8s_lock lock;  /* everything below */
	pthread_cond_t cond;   /* wakes the thread: wants, stop */
	struct k8s_cri_snap snap;
	bool listed;
	bool want_list;
	struct k8s_want *wants;
	size_t n_wants;
	uint64_t calls, errors;
	bool up;
	pthread_t th;
	bool have_th;
};

void k8s_cri_init(struct k8s_cri *cri, const struct k8s_env *env, void (*changed)(void *arg),
		  void *changed_arg);
int k8s_cri_start(struct k8s_cri *cri);
void k8s_cri_stop(struct k8s_cri *cri);
void k8s_cri_fini(struct k8s_cri *cri);

/* cri->lock held, for the rest: */
const struct k8s_cri_ent *k8s_cri_find(const struct k8s_cri *cri, const char *id);
/* The sandbox of the pod of this UID, or NULL. */
const struct k8s_cri_ent *k8s_cri_sandbox_of(const struct k8s_cri *cri, const char *uid);
/* Ask for this container id (ContainerStatus, or a list). */
void k8s_cri_want(struct k8s_cri *cri, const char *id);

#endif
