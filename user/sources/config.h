/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's YAML configuration. A bad file is refused with "FILE:LINE: reason". */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

enum ag_mode {
	AG_MODE_AUDIT = 0,
	AG_MODE_ENFORCE = 1,
};

struct ag_cfg_devclass {
	char *class_name;
	__u32 major, lo, hi; /* hi == AG_MINOR_ANY: every minor */
	int line;
};

struct ag_cfg_dev {
	char *spec; /* as written */
	__u32 major, lo, hi;
	int line;
};

struct ag_cfg_alloc {
	char *cgroup; /* pattern */
	struct ag_cfg_dev *devices;
	size_t n_devices;
	int line;
};

/* An exemption by Kubernetes terms (issue 4); every field given must match. */
struct ag_cfg_exempt_k8s {
	char *namespace;        /* NULL: any */
	char **label_keys;      /* labels: {key: value} */
	char **label_values;
	size_t n_labels;
	char *service_account;  /* NULL: any */
	int line;
};

/* The "kubernetes:" section; NULL fields take the documented defaults, "off" disables. */
struct ag_cfg_kubernetes {
	bool present;
	char *node_name;
	char *podresources_socket;
	char *cri_socket;
	char *api_server;
	char *token_file;
	char *ca_file;
	bool events;          /* "events: on": violations become events.k8s.io/v1 Events (k8s.h) */
	int reports;          /* "reports:": enum ag_cfg_reports */
};

/* "reads:": how tiers 1-2 judge reads and writes (loader.c, README "Configuration") */
enum ag_cfg_reads { AG_READS_EVERY_USE = 0, AG_READS_ARRIVAL = 1 };

enum ag_cfg_reports { AG_REPORTS_OFF = 0, AG_REPORTS_WGPOLICY = 1, AG_REPORTS_OPENREPORTS = 2 };

/* The "host:" section. */
struct ag_cfg_host {
	char *proc;       /* NULL: /proc */
	char *sys;        /* NULL: /sys (VFIO groups, AMD GPUs: vfio.h, k8s/amd.h) */
	char **cdi_dirs;  /* n_cdi_dirs == 0: /etc/cdi, /var/run/cdi */
	size_t n_cdi_dirs;
	char **bundle_dirs; /* the runtimes' OCI bundles; n_bundle_dirs == 0: k8s_oci_default_dirs */
	size_t n_bundle_dirs;
};

/* The "metrics:" section (user/sinks/metrics.h); NULL listen: 127.0.0.1:9464, "off": no server. */
struct ag_cfg_metrics {
	char *listen;             /* HOST:PORT */
	bool pod_labels;          /* pod and container labels on the per-event counts */
	unsigned int max_series;  /* 0: 1000 */
	bool evidence;            /* GET /evidence.tar.gz (user/serve/evidence_http.h); off by default */
	unsigned int evidence_hours; /* its window, the last N hours (0: 24) */
};

/* The "journal:" section (user/sinks/journal.h); present false: no journal. */
struct ag_cfg_journal {
	bool present;
	char *dir;
	__u32 segment_kb;    /* rotate the live segment at this size (default 16384) */
	__u32 segment_age_s; /* or at the first write after this age (default 3600) */
	__u32 max_kb;        /* bound of every segment together; oldest deleted (default 262144) */
	__u32 flush_ms;      /* fdatasync interval (default 1000) */
};

/* The "selftest:" section (user/sources/selftest.h): the agent runs the self-test itself. */
struct ag_cfg_selftest {
	bool at_start;       /* once, after ready (default false) */
	__u32 interval_s;    /* then every interval_s seconds, 0: never (default 0) */
	char *socket;        /* the agent's control socket; NULL: /run/accelguard/control.sock */
};

struct ag_config {
	char *path;
	int mode;                 /* enum ag_mode; AG_MODE_AUDIT when absent */
	bool unresolved_deny;     /* "unresolved: deny" (default allow) */
	unsigned int rate_limit;  /* violation events per tenant per second; default 1000, >= 100 */
	int reads;                /* enum ag_cfg_reads; AG_READS_EVERY_USE when absent */
	char *pin_dir;            /* enforce mode's pins (pins.h); NULL: the default, "off": none */
	char **tenants;
	size_t n_tenants;
	char **exempt;           /* cgroup patterns (entries written as plain strings or {cgroup: P}) */
	size_t n_exempt;
	struct ag_cfg_exempt_k8s *exempt_k8s; /* entries with namespace / labels / serviceAccount */
	size_t n_exempt_k8s;
	struct ag_cfg_devclass *devices;
	size_t n_devices;
	struct ag_cfg_alloc *allocs;
	size_t n_allocs;
	struct ag_cfg_kubernetes kubernetes;
	struct ag_cfg_host host;
	struct ag_cfg_metrics metrics;
	struct ag_cfg_journal journal;
	struct ag_cfg_selftest selftest;
};

/* Limits (README "Input limits"): the file is at most 1 MiB; tenants, exempt and allocations at
 * most AG_CONFIG_MAX_LIST entries each, a label selector AG_CONFIG_MAX_LABELS labels. */
#define AG_CONFIG_MAX_LIST   1024
#define AG_CONFIG_MAX_LABELS 64

/* Load and validate. On error returns -errno (-EINVAL for content) and writes
 * "FILE:LINE: reason" (or "FILE: reason") into err. */
int ag_config_load(const char *path, struct ag_config *cfg, char *err, size_t errlen);
/* The configuration of a command that reads the journal (selftest, evidence): *path, or the
 * agent's default file when it exists and neither *path nor *dir was given (*path then names
 * it); *dir from its journal: section unless given. Returns 1 when a configuration is loaded
 * (ag_config_free it), 0 when there is none, or ag_config_load's -errno and err. */
int ag_config_for_journal(const char **path, const char **dir, struct ag_config *cfg, char *err,
			  size_t errlen);
/* The same from memory: name stands for the file in errors. The fuzz entry point. */
int ag_config_parse(const char *name, const char *buf, size_t len, struct ag_config *cfg, char *err,
		    size_t errlen);
void ag_config_free(struct ag_config *cfg);

const char *ag_mode_name(int mode);
int ag_mode_parse(const char *s); /* -EINVAL when unknown */

#endif
