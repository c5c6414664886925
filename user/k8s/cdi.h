/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CDI specs (container-device-interface SPEC.md): fully-qualified device name
 * ("vendor.com/class=name") -> the character device numbers of its deviceNodes. Specs are YAML or
 * JSON (parsed by libyaml: JSON is YAML); the spec's top-level containerEdits apply to each of its
 * devices and are marked shared. Of the directories, a later one wins for a name that two define
 * (/etc/cdi, then /var/run/cdi).
 */
#ifndef AG_K8S_CDI_H
#define AG_K8S_CDI_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ag_cdi_node {
	__u32 major, minor;
	bool shared; /* from the spec's top-level containerEdits */
};

struct ag_cdi_device {
	char *kind;  /* "nvidia.com/gpu" */
	char *name;  /* "0", "GPU-...", "claim-uid-gpu-0" */
	char *file;
	int prio;    /* index of the directory it came from */
	struct ag_cdi_node *nodes;
	size_t n_nodes;
};

struct ag_cdi_cache {
	struct ag_cdi_device *devs;
	size_t n;
	uint64_t stamp; /* ag_cdi_stamp() of the directories when loaded */
	size_t n_nodes;  /* all devices' nodes together (AG_CDI_MAX_NODES_ALL) */
};

/* Limits (README "Input limits"): a spec file over AG_CDI_MAX_SPEC bytes is skipped; past
 * AG_CDI_MAX_DEVICES devices (all specs together) and AG_CDI_MAX_NODES deviceNodes per device (AG_CDI_MAX_NODES_ALL in
 * all) the rest is skipped, each with a warning naming the file. */
#define AG_CDI_MAX_SPEC    (1u << 20)
#define AG_CDI_MAX_DEVICES 4096u
#define AG_CDI_MAX_NODES   256u
/* the nodes of all devices together: the spec's own containerEdits are copied into each of its
 * devices, so without it a spec of 60 KiB could hold 12 MiB of nodes */
#define AG_CDI_MAX_NODES_ALL 65536u

typedef void (*ag_cdi_warn_fn)(void *arg, const char *msg);

/* Read every *.yaml, *.yml and *.json file of dirs. dev_root ("" or NULL: none) prefixes the paths
 * that are stat()ed for nodes the spec gives no numbers for. A bad spec file or node is reported
 * through warn and skipped. Returns 0 or -ENOMEM. */
int ag_cdi_load(struct ag_cdi_cache *c, const char *const *dirs, size_t n_dirs,
		const char *dev_root, ag_cdi_warn_fn warn, void *arg);
void ag_cdi_free(struct ag_cdi_cache *c);
/* One spec from memory (name stands for its file in warnings), added to c as ag_cdi_load adds a
 * file of directory prio; *cap is c's capacity (0 for a zeroed cache). The fuzz entry point. */
int ag_cdi_load_buf(struct ag_cdi_cache *c, size_t *cap, const char *name, const char *buf,
		    size_t len, int prio, const char *dev_root, ag_cdi_warn_fn warn, void *arg);

/* A value that changes when a spec file is added, removed or replaced in one of the dirs. */
uint64_t ag_cdi_stamp(const char *const *dirs, size_t n_dirs);

/* By fully-qualified name "vendor.com/class=name", or NULL. */
const struct ag_cdi_device *ag_cdi_find(const struct ag_cdi_cache *c, const char *qualified);

/* A device named name in a spec whose kind's vendor is vendor or a subdomain of it
 * ("nvidia.com" matches "nvidia.com/gpu" and "k8s.device-plugin.nvidia.com/gpu"); with class
 * non-NULL, an exact kind vendor/class is preferred. NULL when none. */
const struct ag_cdi_device *ag_cdi_find_vendor(const struct ag_cdi_cache *c, const char *vendor,
					       const char *class_, const char *name);

#endif
