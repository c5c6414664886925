// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pinned state: restart and upgrade without a window (pins.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "accelguard.skel.h"
#include "log.h"
#include "maps.h"
#include "pins.h"
#include "util.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const state_names[] = {
	[AG_PIN_OFF] = "off", [AG_PIN_FRESH] = "fresh", [AG_PIN_ADOPTED] = "adopted",
	[AG_PIN_REPLACED] = "replaced", [AG_PIN_REMOVED] = "removed",
};

const char *ag_pin_state_name(int state)
{
	return state >= 0 && state <= AG_PIN_REMOVED ? state_names[state] : "?";
}

/* The maps that survive the agent, in a fixed order (the layout hash walks them). The probe's
 * counter and the read-only data are the programs' own. */
#define N_PINNED 10
static struct bpf_map *pinned_map(struct accelguard_bpf *s, int i, const char **name)
{
	struct bpf_map *const maps[N_PINNED] = {
		s->maps.policy, s->maps.owners, s->maps.accel_devices, s->maps.counters,
		s->maps.viol,   s->maps.drops,  s->maps.totals,        s->maps.events,
		s->maps.policy_gen, s->maps.vcache,
	};
	static const char *const names[N_PINNED] = {
		"policy", "owners", "accel_devices", "counters", "viol", "drops", "totals", "events",
		"policy_gen", "vcache",
	};

	*name = names[i];
	return maps[i];
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && (unsigned long)st.f_type == BPF_FS_MAGIC;
}

static int mkdirs(const char *path)
{
	char buf[512], *s;

	ag_strlcpy(buf, path, sizeof(buf));
	for (s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(buf, 0700) && errno != EEXIST ? -errno : 0;
}

static int read_meta(const char *dir, struct ag_pin_meta *out)
{
	char path[600];
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), key = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != sizeof(*out) ||
	    bpf_map_lookup_elem(fd, &key, out) || out->magic != AG_PIN_MAGIC)
		err = -EPROTO;
	close(fd);
	return err;
}

/* Write the meta entry, making the map when there is none (or one of another shape). */
static int write_meta(const struct ag_pins *p, const struct ag_pin_meta *m)
{
	char path[600];
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), key = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/meta", p->dir);
	fd = bpf_obj_get(path);
	if (fd >= 0 && (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != sizeof(*m))) {
		close(fd);
		unlink(path);
		fd = -1;
	}
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ag_pin_meta", sizeof(__u32), sizeof(*m), 1, NULL);
		if (fd < 0)
			return -errno;
		if (bpf_obj_pin(fd, path)) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	if (bpf_map_update_elem(fd, &key, m, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/* The ids of the links removed, to wait for the kernel to release them. */
#define MAX_WAIT_LINKS 64
static __u32 gone_ids[MAX_WAIT_LINKS], gone_progs[MAX_WAIT_LINKS];
static unsigned int n_gone;
/* The programs of this directory's links (kept after the wait): uninstall speaks of no other. */
static __u32 own_progs[MAX_WAIT_LINKS];
static unsigned int n_own;

static void note_own_prog(__u32 id)
{
	for (unsigned int i = 0; i < n_own; i++)
		if (own_progs[i] == id)
			return;
	if (id && n_own < MAX_WAIT_LINKS)
		own_progs[n_own++] = id;
}

static bool is_own_prog(__u32 id)
{
	for (unsigned int i = 0; i < n_own; i++)
		if (own_progs[i] == id)
			return true;
	return false;
}

static void note_link(const char *path)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && n_gone < MAX_WAIT_LINKS) {
		gone_progs[n_gone] = info.prog_id;
		gone_ids[n_gone++] = info.id;
		note_own_prog(info.prog_id);
	}
	close(fd);
}

/* An unpinned link is released (its program detached) by a kernel work item, a moment after the
 * unlink: wait for it, up to 2 s (a running agent's own descriptors keep a link). The link's id
 * goes first and its program is detached just after (the same work item, which a busy or emulated
 * CPU can hold up), and the program's id goes once it is detached and nothing else holds it: wait
 * for both. Returns how many are still there. */
static unsigned int wait_released(void)
{
	unsigned int left = 0;

	for (int round = 0; round < 200; round++) {
		left = 0;
		for (unsigned int i = 0; i < n_gone; i++) {
			int fd = gone_ids[i] ? bpf_link_get_fd_by_id(gone_ids[i]) : -1;

			if (fd >= 0) {
				close(fd);
				left++;
				continue;
			}
			gone_ids[i] = 0;
			fd = gone_progs[i] ? bpf_prog_get_fd_by_id(gone_progs[i]) : -1;
			if (fd >= 0) {
				close(fd);
				left++;
			} else {
				gone_progs[i] = 0;
			}
		}
		if (!left)
			break;
		usleep(10000);
	}
	for (unsigned int i = 0; i < n_gone && left; i++) {
		struct bpf_link_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = gone_ids[i] ? bpf_link_get_fd_by_id(gone_ids[i]) : -1;

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			ag_warn("pins: link %u (type %u, program %u) is still there 2 s after its pin went",
				info.id, info.type, info.prog_id);
		if (fd >= 0)
			close(fd);
	}
	n_gone = 0;
	return left;
}

/* Remove a directory of pins; counts the links and maps among them. */
static int remove_tree(const char *path, unsigned int *links, unsigned int *maps)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int err = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char sub[1024];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (!lstat(sub, &st) && S_ISDIR(st.st_mode)) {
			int r = remove_tree(sub, links, maps);

			if (r && !err)
				err = r;
			continue;
		}
		if (!strncmp(e->d_name, "link_", 5))
			note_link(sub);
		if (unlink(sub)) {
			if (!err)
				err = -errno;
			ag_warn("pins: cannot remove %s: %s", sub, strerror(errno));
			continue;
		}
		if (!strncmp(e->d_name, "link_", 5)) {
			if (links)
				(*links)++;
		} else if (strncmp(e->d_name, "prog_", 5)) {
			if (maps)
				(*maps)++;
		}
	}
	closedir(d);
	if (rmdir(path) && !err)
		err = -errno;
	return err;
}

/* Generation of a DIR entry named PREFIX.N, else 0. */
static __u32 entry_gen(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	unsigned long g;

	if (strncmp(name, prefix, n) || !name[n])
		return 0;
	g = strtoul(name + n, &end, 10);
	return *end || g > UINT32_MAX ? 0 : (__u32)g;
}

/* The highest generation present, and whether anything of ours is there at all. */
static __u32 max_gen(const char *dir, bool *any)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	__u32 g = 0;

	*any = false;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		__u32 a = entry_gen(e->d_name, "gen_"), b = entry_gen(e->d_name, "maps_");

		if (a || b || !strcmp(e->d_name, "meta"))
			*any = true;
		if (a > g)
			g = a;
		if (b > g)
			g = b;
	}
	closedir(d);
	return g;
}

/* Remove every generation of links and maps but ours (the old links go: their programs are
 * detached once unpinned, ours being attached already). */
static void remove_others(struct ag_pins *p, __u32 keep_gen, __u32 keep_maps)
{
	DIR *d = opendir(p->dir);
	struct dirent *e;
	unsigned int links = 0, maps = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		__u32 a = entry_gen(e->d_name, "gen_"), b = entry_gen(e->d_name, "maps_");
		char sub[1024];

		if ((!a || a == keep_gen) && (!b || b == keep_maps))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", p->dir, e->d_name);
		n_gone = 0; /* the old links go in the background */
		remove_tree(sub, &links, &maps);
	}
	closedir(d);
	p->removed += links;
	if (links || maps)
		ag_info("pins: removed the previous agent's %u links and %u maps from %s", links, maps,
			p->dir);
}

int ag_pins_open(struct ag_pins *p, const char *dir, bool enforce)
{
	int err;

	memset(p, 0, sizeof(*p));
	if (dir && !strcmp(dir, "off"))
		return 0;
	p->enforce = enforce;
	ag_strlcpy(p->dir, dir && *dir ? dir : AG_PIN_DIR_DEFAULT, sizeof(p->dir));
	if (p->dir[0] != '/') {
		ag_err("pins: pin_dir must be an absolute path, not '%s'", p->dir);
		p->dir[0] = 0;
		return -EINVAL;
	}
	/* a node agent may start before anything mounted bpffs */
	if (!strncmp(p->dir, "/sys/fs/bpf/", 12) && !on_bpffs("/sys/fs/bpf")) {
		if (!enforce)
			return 0; /* nothing can be pinned there: nothing to remove */
		if (mount("bpffs", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			err = -errno;
			ag_err("pins: no bpf file system on /sys/fs/bpf and cannot mount one: %s",
			       strerror(-err));
			return err;
		}
		ag_info("pins: mounted bpffs on /sys/fs/bpf");
	}
	if (!enforce)
		return 0;
	err = mkdirs(p->dir);
	if (err) {
		ag_err("pins: cannot make %s: %s", p->dir, strerror(-err));
		return err;
	}
	if (!on_bpffs(p->dir)) {
		ag_err("pins: %s is not on a bpf file system (mount -t bpf bpffs DIR)", p->dir);
		return -ENOTSUP;
	}
	p->enabled = true;
	p->have_meta = !read_meta(p->dir, &p->meta);
	return 0;
}

static __u64 fnv(__u64 h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static __u32 layout_version(void)
{
	const char *e = getenv("ACCELGUARD_LAYOUT_VERSION");

	return e && *e ? (__u32)strtoul(e, NULL, 10) : AG_PIN_LAYOUT_VERSION;
}

/* The layout: the version, the sizes of the ring buffer's records and, for every pinned map,
 * what the kernel checks of a map (type, key and value sizes, entries, flags). */
static __u64 layout_of(struct accelguard_bpf *s)
{
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 v = layout_version();

	/* the records in the ring buffer, which is adopted with its unread content */
	__u32 rec[] = { sizeof(struct ag_access_event), sizeof(struct ag_cgroup_event),
			sizeof(struct ag_event_hdr) };

	h = fnv(h, &v, sizeof(v));
	h = fnv(h, rec, sizeof(rec));
	for (int i = 0; i < N_PINNED; i++) {
		const char *name;
		struct bpf_map *m = pinned_map(s, i, &name);
		__u32 d[5] = { bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
			       bpf_map__max_entries(m), bpf_map__map_flags(m) };

		h = fnv(h, name, strlen(name) + 1);
		h = fnv(h, d, sizeof(d));
	}
	return h;
}

/* Whether every pinned map of the stored generation is there and matches this object's. */
static bool maps_compatible(struct ag_pins *p, struct accelguard_bpf *s)
{
	for (int i = 0; i < N_PINNED; i++) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		char path[700];
		const char *name;
		struct bpf_map *m = pinned_map(s, i, &name);
		int fd;

		snprintf(path, sizeof(path), "%s/maps_%u/%s", p->dir, p->meta.maps_gen, name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			snprintf(p->why, sizeof(p->why), "%s: %s", path, strerror(errno));
			return false;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != bpf_map__type(m) ||
		    info.key_size != bpf_map__key_size(m) || info.value_size != bpf_map__value_size(m) ||
		    info.max_entries != bpf_map__max_entries(m) || info.map_flags != bpf_map__map_flags(m)) {
			snprintf(p->why, sizeof(p->why),
				 "%s: type %u, key %u, value %u, %u entries; this agent's: %u, %u, %u, %u",
				 path, info.type, info.key_size, info.value_size, info.max_entries,
				 bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
				 bpf_map__max_entries(m));
			close(fd);
			return false;
		}
		close(fd);
	}
	return true;
}

int ag_pins_prepare(struct ag_pins *p, struct accelguard_bpf *s)
{
	if (!p || !p->enabled)
		return 0;
	p->layout = layout_of(s);
	if (!p->decided) {
		p->decided = true;
		if (!p->have_meta) {
			bool any;

			max_gen(p->dir, &any);
			if (any)
				snprintf(p->why, sizeof(p->why), "%s/meta is missing or unreadable", p->dir);
		} else if (p->meta.layout != p->layout) {
			snprintf(p->why, sizeof(p->why),
				 "the pinned maps have layout %016llx (version %u), this agent %016llx "
				 "(version %u)",
				 (unsigned long long)p->meta.layout, p->meta.version,
				 (unsigned long long)p->layout, layout_version());
		} else {
			p->adopt = maps_compatible(p, s);
		}
		if (p->why[0])
			ag_info("pins: not adopting the pinned state: %s; building new maps, switching "
				"once the policy is written", p->why);
	}
	if (!p->adopt) {
		/* replacing: the new programs stay out of the way until their maps are filled */
		if (p->why[0])
			s->data->ag_armed = 0;
		return 0;
	}
	for (int i = 0; i < N_PINNED; i++) {
		char path[700];
		const char *name;
		struct bpf_map *m = pinned_map(s, i, &name);
		int fd, err;

		snprintf(path, sizeof(path), "%s/maps_%u/%s", p->dir, p->meta.maps_gen, name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			return -errno;
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err) {
			ag_err("pins: cannot reuse %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * Adopting, a link whose kind the kernel can update in place (BPF_LINK_UPDATE: cgroup links, here
 * cgroup/dev) is taken over: the old link is pointed at the new program atomically, and becomes
 * this agent's (never while replacing: the new program would judge from empty maps). Tracing, LSM
 * and raw tracepoint links have no update; their programs are attached beside the old ones.
 */
int ag_pins_update_links(struct ag_pins *p, struct accelguard_bpf *s)
{
	const struct bpf_object_skeleton *sk = s->skeleton;

	if (!p || !p->enabled || !p->adopt)
		return 0;
	for (int i = 0; i < sk->prog_cnt; i++) {
		struct bpf_program *prog = *sk->progs[i].prog;
		struct bpf_link_info info = { 0 };
		__u32 len = sizeof(info);
		struct bpf_link *l;
		char path[700];

		if (*sk->progs[i].link || !bpf_program__autoload(prog) ||
		    bpf_program__type(prog) != BPF_PROG_TYPE_CGROUP_DEVICE)
			continue;
		snprintf(path, sizeof(path), "%s/gen_%u/link_%s", p->dir, p->meta.links_gen,
			 sk->progs[i].name);
		l = bpf_link__open(path);
		if (!l)
			continue; /* not pinned: attach a new one */
		if (bpf_obj_get_info_by_fd(bpf_link__fd(l), &info, &len) ||
		    info.type != BPF_LINK_TYPE_CGROUP ||
		    bpf_link_update(bpf_link__fd(l), bpf_program__fd(prog), NULL)) {
			ag_dbg("pins: %s: no in-place update (%s); attaching beside it", path,
			       strerror(errno));
			bpf_link__disconnect(l);
			bpf_link__destroy(l);
			continue;
		}
		*sk->progs[i].link = l;
		p->updated++;
		ag_dbg("pins: %s now runs the new %s (BPF_LINK_UPDATE)", path, sk->progs[i].name);
	}
	return 0;
}

static int pin_all(struct ag_pins *p, struct accelguard_bpf *s, int tier);

int ag_pins_attached(struct ag_pins *p, struct accelguard_bpf *s, int tier)
{
	int err;

	if (!p || !p->enabled)
		return 0;
	err = pin_all(p, s, tier);
	if (err) {
		p->enabled = false; /* what was pinned stays for the next agent to sort out */
		p->state = AG_PIN_OFF;
	}
	return err;
}

static int pin_all(struct ag_pins *p, struct accelguard_bpf *s, int tier)
{
	const struct bpf_object_skeleton *sk = s->skeleton;
	struct ag_pin_meta m = { .magic = AG_PIN_MAGIC };
	char path[700];
	bool any;
	int err;

	p->gen = max_gen(p->dir, &any) + 1;
	snprintf(path, sizeof(path), "%s/gen_%u", p->dir, p->gen);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	for (int i = 0; i < sk->prog_cnt; i++) {
		struct bpf_link *l = *sk->progs[i].link;
		struct bpf_program *prog = *sk->progs[i].prog;

		if (!l)
			continue;
		snprintf(path, sizeof(path), "%s/gen_%u/link_%s", p->dir, p->gen, sk->progs[i].name);
		/* a link taken over from the previous agent is pinned already (there): pin it here too */
		err = bpf_link__pin_path(l) ? (bpf_obj_pin(bpf_link__fd(l), path) ? -errno : 0)
					    : bpf_link__pin(l, path);
		if (!err) {
			snprintf(path, sizeof(path), "%s/gen_%u/prog_%s", p->dir, p->gen,
				 sk->progs[i].name);
			err = bpf_program__pin(prog, path);
		}
		if (err) {
			ag_err("pins: cannot pin %s: %s", path, strerror(-err));
			return err;
		}
	}
	if (!p->adopt) {
		snprintf(path, sizeof(path), "%s/maps_%u", p->dir, p->gen);
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
		for (int i = 0; i < N_PINNED; i++) {
			const char *name;
			struct bpf_map *map = pinned_map(s, i, &name);

			snprintf(path, sizeof(path), "%s/maps_%u/%s", p->dir, p->gen, name);
			err = bpf_map__pin(map, path);
			if (err) {
				ag_err("pins: cannot pin %s: %s", path, strerror(-err));
				return err;
			}
		}
	}
	m.layout = p->layout;
	m.version = layout_version();
	m.tier = tier;
	m.links_gen = p->gen;
	ag_strlcpy(m.agent, AG_VERSION, sizeof(m.agent));
	if (p->adopt) {
		/* same maps: the old programs and ours give the same verdicts; theirs go now */
		m.maps_gen = p->meta.maps_gen;
		m.created_ns = p->meta.created_ns;
		err = write_meta(p, &m);
		if (err)
			return err;
		p->meta = m;
		remove_others(p, p->gen, m.maps_gen);
		p->state = AG_PIN_ADOPTED;
		return 0;
	}
	m.maps_gen = p->gen;
	m.created_ns = ag_now_ns(CLOCK_REALTIME);
	if (p->why[0]) {
		/* the old programs keep judging from the old maps until ours are filled */
		p->skel = s;
		p->state = AG_PIN_REPLACED;
		p->meta = m;
		return 0;
	}
	err = write_meta(p, &m);
	if (err)
		return err;
	p->meta = m;
	p->state = AG_PIN_FRESH;
	return 0;
}

bool ag_pins_adopted(const struct ag_pins *p)
{
	return p->dir[0] && p->enforce && p->state == AG_PIN_ADOPTED;
}

int ag_pins_commit(struct ag_pins *p)
{
	int err;

	if (!p->dir[0])
		return 0;
	if (!p->enforce) {
		unsigned int links = 0, maps = 0;

		/* audit mode: whatever an enforcing agent left goes (ours are attached already) */
		if (!on_bpffs(p->dir))
			return 0;
		err = ag_pins_uninstall(p->dir, &links, &maps);
		if (err == -ENOENT)
			return 0;
		p->state = AG_PIN_REMOVED;
		p->removed = links;
		ag_info("pins: audit mode: removed %u links and %u maps from %s", links, maps, p->dir);
		return err;
	}
	if (p->state != AG_PIN_REPLACED)
		return 0;
	/* our maps are complete: our programs judge from now on (the old ones still do until they
	 * are unpinned below; both give the same verdicts now) */
	p->skel->data->ag_armed = 1;
	err = write_meta(p, &p->meta);
	if (err) {
		ag_err("pins: cannot write %s/meta: %s", p->dir, strerror(-err));
		return err;
	}
	remove_others(p, p->gen, p->gen);
	return 0;
}

void ag_pins_abort(struct ag_pins *p)
{
	unsigned int links = 0, maps = 0;

	if (p->state != AG_PIN_FRESH)
		return; /* adopted or replacing: what is pinned is the previous agent's or complete */
	if (!ag_pins_uninstall(p->dir, &links, &maps))
		ag_info("pins: the agent did not start: removed its %u links and %u maps from %s", links,
			maps, p->dir);
	p->state = AG_PIN_OFF;
	p->enabled = false;
}

int ag_pins_uninstall(const char *dir, unsigned int *n_links, unsigned int *n_maps)
{
	struct stat st;

	unsigned int held;
	int err;

	*n_links = *n_maps = 0;
	if (stat(dir, &st))
		return errno == ENOENT ? -ENOENT : -errno;
	if (!on_bpffs(dir))
		return -ENOTSUP;
	n_gone = n_own = 0;
	err = remove_tree(dir, n_links, n_maps);
	held = wait_released();
	if (held)
		ag_warn("pins: %u of the links removed from %s are still attached: a running agent holds "
			"them (they go when it exits)", held, dir);
	/* any other link of this directory's programs left in the kernel (pinned elsewhere, held by
	 * a descriptor): say which. Another agent instance's links, with programs of the same names,
	 * are its own business. */
	for (__u32 id = 0; !bpf_link_get_next_id(id, &id);) {
		struct bpf_link_info li = { 0 };
		struct bpf_prog_info pi = { 0 };
		__u32 ll = sizeof(li), pl = sizeof(pi);
		int lfd = bpf_link_get_fd_by_id(id), pfd;

		if (lfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(lfd, &li, &ll) &&
		    (pfd = bpf_prog_get_fd_by_id(li.prog_id)) >= 0) {
			if (is_own_prog(li.prog_id) && !bpf_obj_get_info_by_fd(pfd, &pi, &pl))
				ag_warn("pins: link %u (type %u) of program %u %s is still attached", li.id,
					li.type, li.prog_id, pi.name);
			close(pfd);
		}
		close(lfd);
	}
	return err;
}
