/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The Kubernetes source's state, shared by k8s.c (source, PodResources, CRI), k8s_devmap.c
 * (device ids -> numbers) and k8s_api.c (Kubernetes API). Not an interface. */
#ifndef AG_K8S_INTERNAL_H
#define AG_K8S_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "k8s.h"
#include "k8s_cdi.h"
#include "k8s_nvidia.h"
#include "log.h"

#define K8S_MAX_RANGES 64 /* per allocation item, before the tenant's AG_MAX_ALLOWED cap */

void k8s_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct k8s_labels {
	char **keys, **values;
	size_t n;
};

/* One device-plugin id or one DRA claim resource of a container, and what it maps to. */
struct k8s_alloc {
	char *resource;                  /* device plugin: resource name; DRA: NULL */
	char *id;                        /* device plugin id, or the DRA device name */
	char *driver, *pool;             /* DRA */
	char *claim_ns, *claim_name;     /* DRA */
	struct ag_dev_range r[K8S_MAX_RANGES];
	unsigned int n;
	bool nvidia;                     /* an NVIDIA GPU (or part of one): the control nodes go with it */
	bool unmapped;                   /* no device number found */
};

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

struct k8s_api_ctr {
	char *name, *id; /* id without its "containerd://" scheme; NULL before it runs */
	char **claims;   /* pod-level claim names it uses (spec...resources.claims[].name) */
	size_t n_claims;
};

struct k8s_api_claimref {
	char *name;  /* the pod's name for it */
	char *claim; /* the ResourceClaim's name (NULL until generated) */
};

struct k8s_api_pod {
	char *uid, *ns, *name, *sa;
	struct k8s_labels labels;
	struct k8s_api_ctr *c;
	size_t n_c;
	struct k8s_api_claimref *cl;
	size_t n_cl;
};

struct k8s_api_result {
	char *request, *driver, *pool, *device;
	bool admin;
	struct k8s_alloc map; /* the device's numbers (mapped by the claims thread) */
};

struct k8s_api_claim {
	char *ns, *name, *uid;
	bool allocated;
	struct k8s_api_result *r;
	size_t n;
};

struct k8s_slice_dev {
	char *driver, *pool, *name, *uuid, *pci;
};

struct k8s_api_snap {
	struct k8s_api_pod *pods;
	size_t n_pods, cap_pods;
	struct k8s_api_claim *claims;
	size_t n_claims, cap_claims;
	struct k8s_slice_dev *slices;
	size_t n_slices;
	bool listed;  /* the pod list came at least once */
};

struct k8s_want {
	char *a, *b;        /* CRI: container id; PodResources: namespace, pod */
	uint64_t since_ns;
};

struct k8s_pending {
	char *path;
	uint64_t since_ns;
};

struct k8s {
	struct ag_source src;
	/* options, owned copies; NULL: peer off */
	char *node_name, *pr_socket, *cri_socket, *api_server, *token_file, *ca_file;
	bool cri_auto;              /* cri_socket chosen among the defaults at each connection */
	char *proc, *dev_root;
	char **cdi_dirs;
	size_t n_cdi_dirs;
	char **tenant_roots;
	struct ag_cfg_exempt_k8s *exempt;
	size_t n_exempt;
	uint64_t resync_ns, min_interval_ns, backoff_max_ns;
	long rpc_timeout_ms;
	unsigned int watch_timeout_s;
	int notify_fd;
	atomic_int stop;

	pthread_mutex_t lock; /* everything below, except map_* */
	pthread_cond_t cond;  /* wakes the peer threads: wants, stop */
	struct k8s_pr_snap pr;
	bool pr_listed;
	bool pr_want_list;
	struct k8s_want *pr_wants;
	size_t n_pr_wants;
	struct k8s_cri_snap cri;
	bool cri_listed;
	bool cri_want_list;
	struct k8s_want *cri_wants;
	size_t n_cri_wants;
	struct k8s_api_snap api;
	bool claims_want;       /* the claims thread has work */
	bool slices_want;
	struct k8s_pending *pend;
	size_t n_pend;
	struct ag_k8s_stats st;
	int uvm_major;          /* copy of map_nv.uvm_major for resolve() */

	pthread_mutex_t map_lock; /* device id mapping: procfs and CDI */
	struct ag_nv_table map_nv;
	struct ag_cdi_cache map_cdi;
	uint64_t map_loaded_ns;
	bool map_valid;
	char **warned;          /* ids already reported as unmapped */
	size_t n_warned;

	pthread_t th_pr, th_cri, th_api, th_claims;
	bool have_pr, have_cri, have_api, have_claims;
};

void k8s_notify(struct k8s *k);
/* Wait on k->cond (k->lock held) until deadline (monotonic ns) or a signal. */
void k8s_wait(struct k8s *k, uint64_t deadline_ns);
void k8s_labels_free(struct k8s_labels *l);
void k8s_alloc_free(struct k8s_alloc *a);

/* k8s_devmap.c; call without k->lock held (it may read files, and takes k->lock briefly) */
void k8s_map_reload(struct k8s *k, bool force);
void k8s_map_dp(struct k8s *k, const char *resource, const char *id, struct k8s_alloc *a);
void k8s_map_dra(struct k8s *k, const char *driver, const char *pool, const char *device,
		 const char *const *cdi, size_t n_cdi, struct k8s_alloc *a);
bool k8s_alloc_equal(const struct k8s_alloc *x, const struct k8s_alloc *y);

/* k8s_api.c */
int k8s_api_start(struct k8s *k);
void k8s_api_free(struct k8s_api_snap *s);
const struct k8s_api_pod *k8s_api_pod_by_uid(const struct k8s *k, const char *uid);
const struct k8s_api_claim *k8s_api_claim(const struct k8s *k, const char *ns, const char *name);

#endif
