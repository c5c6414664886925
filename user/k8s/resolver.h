/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The resolver (layer 3): the ag_source (resolve.c) over the peers' snapshots, and its life
 * cycle (source.c). Its own state (pending cgroups, latency statistics) is under k->lock
 * (K8S_RANK_RESOLVER, the outermost); resolve() takes the peers' locks inside it, in rank order.
 */
#ifndef AG_K8S_RESOLVER_H
#define AG_K8S_RESOLVER_H

#include "api.h"
#include "base.h"
#include "cri.h"
#include "devmap.h"
#include "exposure.h"
#include "k8s.h"
#include "podresources.h"

struct k8s_pending {
	char *path;
	uint64_t since_ns;
};

/* What a container's bundle says of it, kept while the CRI may not list it yet. */
struct k8s_bundle_id {
	char id[AG_CID_LEN];
	char ns[AG_NS_LEN], pod[AG_NAME_LEN], uid[AG_UID_LEN], name[AG_NAME_LEN];
	bool sandbox;
};
#define K8S_BUNDLE_IDS 1024 /* a ring: the newest containers */

struct k8s {
	struct ag_source src;
	struct k8s_env env;          /* written by source.c only, before the threads start */
	char **tenant_roots;
	struct ag_cfg_exempt_k8s *exempt;
	size_t n_exempt;

	struct k8s_devmap map;
	struct k8s_pr pr;
	struct k8s_cri cri;
	struct k8s_api api;

	/* the OCI bundles (the agent's thread only: resolve() and ag_k8s_exposure()) */
	char **bundle_dirs;
	size_t n_bundle_dirs;
	char *dev_dir;
	char *sys;                   /* sysfs: the AMD GPUs' numbering */
	struct k8s_bundle_id *bids;  /* K8S_BUNDLE_IDS, allocated on first use */
	size_t bid_next;
	uint64_t bundle_resolved;    /* containers whose identity came from their bundle */
	struct k8s_hostdev *hd;      /* the host's accelerator nodes, rescanned after 2 s */
	size_t n_hd;
	uint64_t hd_at;
	struct k8s_amd_table amd;    /* AMD GPUs by the AMD runtime's index, with hd */

	struct k8s_lock lock;        /* everything below */
	struct k8s_pending *pend;
	size_t n_pend;
	uint64_t resolved, lat_sum_ns, lat_max_ns, lat_last_ns, pending_expired;
	uint64_t lat_bucket[AG_K8S_LAT_BUCKETS];
};

/* resolve.c */
int k8s_resolve(void *ctx, const char *path, struct ag_tenant *out);
const char *const *k8s_tenant_roots(void *ctx);
/* The CRI's snapshot changed: ask PodResources for the pods it lacks while cgroups are pending. */
void k8s_cri_changed(void *ctx);
void k8s_pending_free(struct k8s *k);

#endif
