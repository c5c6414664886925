/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pinned state (enforce mode): what keeps the node guarded while no agent runs. The maps that
 * hold the decisions and the counts, and the links that keep the programs attached, are pinned in
 * bpffs under one directory (default /sys/fs/bpf/accelguard):
 *
 *   DIR/meta          array map, 1 entry: struct ag_pin_meta (the layout, the current generations)
 *   DIR/maps_M/NAME   the maps of generation M (policy, owners, accel_devices, counters, viol,
 *                     drops, totals, events)
 *   DIR/gen_G/link_P  the links of generation G (one per attached program P) and
 *   DIR/gen_G/prog_P  their programs
 *
 * A new agent whose map layout equals the stored one adopts the maps (the new programs are loaded
 * with the pinned maps' descriptors, so old and new programs judge from the same entries); one
 * with another layout builds new maps, and switches only once its policy is written. Either way
 * the new programs are attached before the old links are unpinned: at no moment is a hook left
 * without one of ours.
 */
#ifndef AG_PINS_H
#define AG_PINS_H

#include <stdbool.h>
#include <linux/types.h>

struct accelguard_bpf;
struct ag_maps;

#define AG_PIN_DIR_DEFAULT "/sys/fs/bpf/accelguard"
/* Bump when the meaning of a pinned map's entries changes without its sizes changing: a new
 * agent then replaces the pinned state instead of adopting it. ACCELGUARD_LAYOUT_VERSION=N
 * pretends another version (the tests simulate an incompatible upgrade with it). */
/* 2: counters and viol are keyed by the tenant, not the judged cgroup; policy holds no entry per
 * sub-cgroup of a tenant. 3: a vcache slot's count is not in totals yet (added when the slot is
 * flushed): older programs counted a hit in both */
#define AG_PIN_LAYOUT_VERSION 3
#define AG_PIN_MAGIC 0x6167706e31ULL /* "agpn1" */

enum ag_pin_state {
	AG_PIN_OFF = 0,   /* audit mode or pin_dir off: nothing pinned */
	AG_PIN_FRESH,     /* nothing was pinned: new maps and links, pinned */
	AG_PIN_ADOPTED,   /* the pinned maps reused, the programs replaced */
	AG_PIN_REPLACED,  /* another layout was pinned: new maps and links, the old ones removed */
	AG_PIN_REMOVED,   /* audit mode found pins and removed them */
};

struct ag_pin_meta {
	__u64 magic;
	__u64 layout;   /* hash of the map definitions and AG_PIN_LAYOUT_VERSION */
	__u32 maps_gen; /* DIR/maps_M */
	__u32 links_gen; /* DIR/gen_G */
	__u32 tier;
	__u32 version;  /* the layout version alone */
	__u64 created_ns; /* CLOCK_REALTIME of the first agent that made these maps */
	char agent[32]; /* AG_VERSION of the agent that wrote this */
};

struct ag_pins {
	char dir[512];
	bool enforce;     /* enforce mode */
	bool enabled;     /* enforce mode and a usable directory */
	int state;        /* enum ag_pin_state */
	bool decided;     /* prepare() chose adopt or not */
	bool adopt;
	bool have_meta;
	struct ag_pin_meta meta; /* what was pinned */
	__u64 layout;     /* this binary's */
	__u32 gen;        /* this agent's generation */
	unsigned int removed; /* pins removed by the switch */
	unsigned int pruned;  /* map entries of gone cgroups deleted by ag_policy_prune() */
	unsigned int updated; /* adopted links updated in place to the new program */
	char why[256];    /* why the pinned state was not adopted */
	struct accelguard_bpf *skel; /* replacing: armed at commit */
};

/* dir: NULL for the default, "off" for none. Mounts bpffs on /sys/fs/bpf when nothing is mounted
 * there and reads the meta. Returns 0 or -errno (a message logged). */
int ag_pins_open(struct ag_pins *p, const char *dir, bool enforce);

/* Between open and load: compute the layout; when compatible, reuse the pinned maps. */
int ag_pins_prepare(struct ag_pins *p, struct accelguard_bpf *s);

/* Adopting, before attaching: take over the pinned links that the kernel can update in place
 * (cgroup links) by pointing them at the new programs. */
int ag_pins_update_links(struct ag_pins *p, struct accelguard_bpf *s);

/* After every program is attached: pin the links (and new maps). Adopting, the old links are
 * removed now (the programs share the maps). Returns 0 or -errno. */
int ag_pins_attached(struct ag_pins *p, struct accelguard_bpf *s, int tier);

/* An enforcing agent adopted a previous agent's maps: they may hold entries for cgroups that are
 * gone or that this agent's sources no longer put in the kernel (ag_policy_prune() deletes them
 * once the policy is written; the agent counts them in p->pruned). */
bool ag_pins_adopted(const struct ag_pins *p);

/* The policy is written (just before ready): switch a replaced state over, and (audit) remove
 * every pin. */
int ag_pins_commit(struct ag_pins *p);

/* The agent failed to start after pinning: a fresh state (nothing of a previous agent in it) is
 * removed; an adopted one stays as the previous agent left it. */
void ag_pins_abort(struct ag_pins *p);

const char *ag_pin_state_name(int state);

/* `accelguard uninstall`: remove every pin under dir (the links go with them: the programs are
 * detached once no agent holds them). *n_links, *n_maps: what was removed. Returns 0, -ENOENT
 * when there was nothing, or -errno. */
int ag_pins_uninstall(const char *dir, unsigned int *n_links, unsigned int *n_maps);

#endif
