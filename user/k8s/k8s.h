/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Kubernetes allocation source (issue 4): which pod and container a cgroup is, and which
 * device numbers Kubernetes allocated to it, from
 *   - the cgroup path (pod UID, container id; cgroup.h),
 *   - the container runtime's CRI (container id -> pod namespace/name/uid, container name),
 *   - the kubelet's PodResources API (device-plugin ids and DRA claim results per container),
 *   - the Kubernetes API (pods of this node: identity when the CRI is off, labels and service
 *     accounts for exemptions; ResourceClaims: adminAccess; ResourceSlices: device uuids),
 *   - NVIDIA procfs and CDI specs (device ids and CDI names -> device numbers).
 * Each peer has its own thread doing the blocking I/O into a mutex-protected cache; resolve()
 * reads the cache and never blocks. When the cache changes the source writes to notify_fd.
 */
#ifndef AG_K8S_H
#define AG_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "source.h"

/*
 * Every string is copied by ag_k8s_source_new(). For the peers, NULL takes the documented default
 * and "off" disables:
 *   podresources_socket  /var/lib/kubelet/pod-resources/kubelet.sock
 *   cri_socket           the first of /run/containerd/containerd.sock, /var/run/crio/crio.sock
 *                        that exists (checked again at each reconnection while none does)
 *   api_server           https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; off when
 *                        those are unset
 *   token_file, ca_file  /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}
 *   node_name            $NODE_NAME (the API's pod watch is off without a node name)
 */
struct ag_k8s_options {
	const char *node_name;
	const char *podresources_socket;
	const char *cri_socket;
	const char *api_server;
	const char *token_file;
	const char *ca_file;
	const char *proc;              /* NULL: /proc */
	const char *const *cdi_dirs;   /* n_cdi_dirs == 0: /etc/cdi, /var/run/cdi (later wins) */
	size_t n_cdi_dirs;
	const char *dev_root;          /* prefix of device paths stat()ed for CDI nodes; NULL: none */
	const char *const *bundle_dirs; /* the runtimes' OCI bundles (oci.h); n == 0: the defaults */
	size_t n_bundle_dirs;
	const char *dev_dir;           /* the host's accelerator nodes, for exposure; NULL: /dev */
	const char *sys;               /* sysfs (VFIO groups, AMD GPUs); NULL: /sys */
	const char *const *tenant_roots; /* NULL: ag_k8s_default_tenant_roots */
	const struct ag_cfg_exempt_k8s *exempt; /* deep-copied */
	size_t n_exempt;
	unsigned int resync_ms;        /* full relist of PodResources and CRI; 0: 10000 */
	unsigned int min_interval_ms;  /* between two PodResources calls; 0: 20 (kubelet: 100 QPS, burst 10) */
	unsigned int rpc_timeout_ms;   /* one gRPC or API request; 0: 5000 */
	unsigned int backoff_max_ms;   /* reconnection backoff cap; 0: 5000 */
	unsigned int watch_timeout_s;  /* server-side timeout of one pod watch; 0: 300 */
};

/* Map the configuration's kubernetes:, host: and exempt entries onto opt (pointers borrowed from
 * cfg, which must outlive the call to ag_k8s_source_new). */
void ag_k8s_options_from_config(const struct ag_config *cfg, struct ag_k8s_options *opt);

/*
 * A source whose resolve() answers for the kubelet's pod cgroups:
 *   - the kubepods cgroup, a QoS class, a pod (or CRI-O's conmon scope in it): AG_R_DONE with
 *     state AG_P_TENANT_PARENT (new children are tenants) and the pod UID;
 *   - a container: AG_R_DONE with AG_P_TENANT and its devices (AG_RF_SHARED on the vendor's control
 *     nodes, AG_RF_ADMIN on DRA adminAccess devices), AG_P_EXEMPT when an exemption matches its pod,
 *     or AG_R_PENDING while its identity or allocation is not known yet (a refresh is started and
 *     notify_fd is written when the answer changes);
 *   - anything else: AG_R_NOT_MINE.
 * Returns NULL with errno set and err filled on failure (a peer that is down is no failure).
 */
struct ag_source *ag_k8s_source_new(const struct ag_k8s_options *opt, int notify_fd, char *err,
				    size_t errlen);

/* Latency from "cgroup first answered pending" to "resolved", and the peers' health. */
#define AG_K8S_LAT_BUCKETS 10
extern const uint64_t ag_k8s_lat_bounds_ns[AG_K8S_LAT_BUCKETS]; /* upper bounds; last: UINT64_MAX */

struct ag_k8s_stats {
	uint64_t resolved;          /* cgroups that went from pending to resolved */
	uint64_t lat_sum_ns, lat_max_ns, lat_last_ns;
	uint64_t lat_bucket[AG_K8S_LAT_BUCKETS]; /* non-cumulative counts per bound */
	uint64_t pending;           /* cgroups pending now */
	uint64_t pending_expired;   /* given up on after 10 minutes (the cgroup went away) */
	uint64_t pr_calls, pr_errors, cri_calls, cri_errors;
	uint64_t api_requests, api_errors, api_events, api_relists;
	uint64_t api_refused; /* watch events and list items refused alone */
	uint64_t unmapped_ids;      /* device ids of the last PodResources list that map to no device */
	uint64_t bundle_resolved;   /* container identities taken from the OCI bundle (before the CRI) */
	bool pr_up, cri_up, api_up; /* last call to the peer succeeded */
};

/* Wait until every peer that is on has answered its first call, or failed it (a peer that is down
 * is not waited for beyond its failed call), at most max_ms: the agent takes this first snapshot
 * before it judges anything. 0, -ETIMEDOUT, or -EINVAL when src is no Kubernetes source. */
int ag_k8s_source_wait_first(const struct ag_source *src, unsigned int max_ms);

/* Returns 0, or -EINVAL when src is no Kubernetes source. */
int ag_k8s_source_stats(const struct ag_source *src, struct ag_k8s_stats *out);

/* A pod as the exemption rules see it. */
struct ag_k8s_pod_meta {
	const char *namespace_;
	const char *service_account;  /* spec.serviceAccountName, NULL when unknown */
	const char *const *label_keys; /* NULL when the labels are unknown */
	const char *const *label_values;
	size_t n_labels;
};

/* Whether an exemption matches the pod: every field the rule gives must match; a rule that asks
 * for a label or a service account the pod's known facts lack does not match. serviceAccount is
 * "NAME" (in the pod's namespace), "NAMESPACE/NAME" or "system:serviceaccount:NAMESPACE:NAME". */
bool ag_k8s_exempt_match(const struct ag_cfg_exempt_k8s *e, const struct ag_k8s_pod_meta *pod);

/*
 * Exposure (issue 22): the accelerator device nodes a container can reach by what its runtime
 * gave it (its OCI bundle: device nodes, device cgroup rules, privileged, CAP_MKNOD, bind mounts
 * of /dev, the NVIDIA and AMD visibility variables), beyond what it was allocated. Each reason
 * is one of "device PATH", "privileged", "device-rule c 195:* rwm", "CAP_MKNOD",
 * "hostPath /dev", "env NVIDIA_VISIBLE_DEVICES=all" (kind: AG_K8S_X_*).
 */
enum {
	AG_K8S_X_DEVICE = 1 << 0,
	AG_K8S_X_PRIVILEGED = 1 << 1,
	AG_K8S_X_RULE = 1 << 2,
	AG_K8S_X_MKNOD = 1 << 3,
	AG_K8S_X_HOSTPATH = 1 << 4,
	AG_K8S_X_ENV = 1 << 5,
};
#define AG_K8S_X_KINDS 6
extern const char *const ag_k8s_x_kind_names[AG_K8S_X_KINDS]; /* "device", "privileged", ... */
#define AG_K8S_EXPOSED_MAX 64
#define AG_K8S_REASONS_MAX 4

struct ag_k8s_exposed {
	char path[128];
	uint32_t major, minor;
	unsigned int kinds;    /* AG_K8S_X_* */
	unsigned int n_reasons;
	char reasons[AG_K8S_REASONS_MAX][96];
};

struct ag_k8s_exposure {
	char file[256];        /* the config.json it was read from */
	unsigned int n, more;  /* more: exposed devices left out past AG_K8S_EXPOSED_MAX */
	struct ag_k8s_exposed d[AG_K8S_EXPOSED_MAX];
};

struct ag_devtab;
/* The exposure of the container t (resolved, with its allocation) from its bundle, the host's
 * accelerator nodes (dt classifies; the GPUs of NVIDIA procfs too) and t's devices. 1: it can
 * reach more than it was given (out filled); 0: no more; -ENOENT: no bundle (no container, or
 * one gone); other -errno with err naming the file and the cause. From the agent's thread. */
int ag_k8s_exposure(const struct ag_source *src, const struct ag_tenant *t,
		    const struct ag_devtab *dt, struct ag_k8s_exposure *out, char *err,
		    size_t errlen);

/*
 * Violations into the Kubernetes API (report.c): sinks of user/sinks/sink.h that the configuration's
 * kubernetes.events (on|off) and kubernetes.reports (wgpolicyk8s|openreports|off) ask for.
 * Events: events.k8s.io/v1, type Warning, on the pod; repeats within 10 minutes are one Event
 * whose series is PATCHed (at most once a second); writes limited per pod (a bucket of
 * AG_K8S_EVENTS_POD_BURST, one more every AG_K8S_EVENTS_POD_REFILL_S) and per node
 * (AG_K8S_EVENTS_NODE_BURST, AG_K8S_EVENTS_NODE_QPS a second); at most AG_K8S_EVENTS_QUEUE
 * distinct Events wait, a violation finding them all busy is dropped and counted.
 * Reports: one per namespace and node, named accelguard-NODE, a result per pod.
 */
#define AG_K8S_REPORTING_CONTROLLER "accelguard.io/agent"
#define AG_K8S_EVENTS_QUEUE 1024
#define AG_K8S_EVENTS_POD_BURST 25
#define AG_K8S_EVENTS_POD_REFILL_S 10
#define AG_K8S_EVENTS_NODE_BURST 50
#define AG_K8S_EVENTS_NODE_QPS 10

struct ag_k8s_events_stats {
	uint64_t queued;       /* violations of pods taken in */
	uint64_t sent;         /* Events created */
	uint64_t patched;      /* series updates written */
	uint64_t deduplicated; /* violations folded into an Event's series */
	uint64_t rate_limited; /* writes held back by a token bucket (each once) */
	uint64_t dropped;      /* violations lost: the queue was full */
	uint64_t errors;       /* requests that failed or were refused */
	uint64_t namespace_refused; /* violations dropped: their namespace refused Events
				     * (terminating, gone) */
	uint64_t continued;    /* Events found under their name (before a restart, the agent a
				* rollout replaces) whose series went on */
	uint64_t pending;      /* Events waiting to be written now */
	bool paused;           /* 401/403: paused */
	bool up;               /* the last request got an answer */
};

struct ag_k8s_reports_stats {
	uint64_t writes, conflicts, deleted, errors;
	uint64_t pods;               /* pods with a result */
	uint64_t pending_namespaces; /* namespaces whose report waits to be written */
	bool paused, up;
};

struct ag_sinks;
struct ag_k8s_sinks;

/* Add the sinks cfg asks for to s; *out: their handle (NULL when none), for the stats, freed
 * with ag_k8s_sinks_free() after ag_sinks_free(s). 0, or -errno with err (a sink already added
 * stays in s and in *out). */
int ag_k8s_sinks_add(struct ag_sinks *s, const struct ag_config *cfg, struct ag_k8s_sinks **out,
		     char *err, size_t errlen);
bool ag_k8s_events_stats(struct ag_k8s_sinks *h, struct ag_k8s_events_stats *out);
bool ag_k8s_reports_stats(struct ag_k8s_sinks *h, struct ag_k8s_reports_stats *out);
void ag_k8s_sinks_free(struct ag_k8s_sinks *h);
struct jw;
/* "kubernetes_events" and "kubernetes_reports" objects of the summary, for those that run. */
void ag_k8s_sinks_summary(struct ag_k8s_sinks *h, struct jw *w);

#endif
