// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "log.h"
#include "util.h"

static const char *const tier_names[] = { [AG_TIER_LSM] = "lsm",
					  [AG_TIER_FMOD_RET] = "fmod_ret",
					  [AG_TIER_TRACEPOINT] = "tracepoint" };

const char *ag_tier_name(int tier)
{
	if (tier < AG_TIER_LSM || tier > AG_TIER_TRACEPOINT)
		return "none";
	return tier_names[tier];
}

int ag_tier_parse(const char *s)
{
	for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++)
		if (!strcmp(s, tier_names[t]))
			return t;
	return -EINVAL;
}

__u64 ag_percpu_sum(int map_fd, __u32 key)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 sum = 0, *vals;

	if (ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(map_fd, &key, vals))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

/* libbpf resolves tracepoint ids through tracefs; a node agent may start before anything
 * mounted it. */
static void ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		ag_warn("tracefs: not mounted and cannot mount it on /sys/kernel/tracing: %s",
			strerror(errno));
	else
		ag_info("tracefs: mounted on /sys/kernel/tracing");
}

static void fill_facts(struct ag_probe_report *r, const char *cgroup2)
{
	struct utsname u;
	char *lsm = NULL;

	if (!uname(&u))
		snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
	/* the active LSM list, for the report; the probe itself goes by effect */
	if (access("/sys/kernel/security/lsm", F_OK) &&
	    mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL))
		ag_dbg("securityfs: not mounted and cannot mount it: %s", strerror(errno));
	if (!ag_read_file("/sys/kernel/security/lsm", &lsm, NULL)) {
		ag_strlcpy(r->lsm_list, lsm, sizeof(r->lsm_list));
		r->lsm_list[strcspn(r->lsm_list, "\n")] = 0;
		free(lsm);
	}
	ag_strlcpy(r->cgroup2, cgroup2 ? cgroup2 : "", sizeof(r->cgroup2));
}

/* Variants of a tier, strongest first: tier 3's ioctl program with direct BTF loads (6.2+),
 * then with CO-RE probe reads. */
static int n_variants(int tier)
{
	return tier == AG_TIER_TRACEPOINT ? 2 : 1;
}

/* ACCELGUARD_TP_IOCTL=core skips the first variant: the tests cover the fallback with it. */
static int first_variant(int tier)
{
	const char *e = getenv("ACCELGUARD_TP_IOCTL");

	return tier == AG_TIER_TRACEPOINT && e && !strcmp(e, "core") ? 1 : 0;
}

static void set_autoload(struct accelguard_bpf *s, int tier, int variant)
{
	bpf_program__set_autoload(s->progs.ag_lsm_file_open, tier == AG_TIER_LSM);
	bpf_program__set_autoload(s->progs.ag_lsm_file_ioctl, tier == AG_TIER_LSM);
	bpf_program__set_autoload(s->progs.ag_fmod_file_open, tier == AG_TIER_FMOD_RET);
	bpf_program__set_autoload(s->progs.ag_fmod_file_ioctl, tier == AG_TIER_FMOD_RET);
	bpf_program__set_autoload(s->progs.ag_tp_ioctl, tier == AG_TIER_TRACEPOINT && variant == 0);
	bpf_program__set_autoload(s->progs.ag_tp_ioctl_core,
				  tier == AG_TIER_TRACEPOINT && variant == 1);
}

static struct bpf_program *open_prog(struct accelguard_bpf *s, int tier)
{
	return tier == AG_TIER_LSM ? s->progs.ag_lsm_file_open : s->progs.ag_fmod_file_open;
}

static struct bpf_program *ioctl_prog(struct accelguard_bpf *s, int tier)
{
	switch (tier) {
	case AG_TIER_LSM:
		return s->progs.ag_lsm_file_ioctl;
	case AG_TIER_FMOD_RET:
		return s->progs.ag_fmod_file_ioctl;
	default:
		return bpf_program__autoload(s->progs.ag_tp_ioctl) ? s->progs.ag_tp_ioctl
								   : s->progs.ag_tp_ioctl_core;
	}
}

/* Open and load the object for one tier, configured between open and load. */
static struct accelguard_bpf *load_variant(int tier, int variant, const struct ag_load_opts *o,
					   __u64 probe_ino, struct ag_tier_report *tr)
{
	struct accelguard_bpf *s = accelguard_bpf__open();
	int err;

	tr->tried = true;
	if (!s) {
		tr->err = -errno;
		snprintf(tr->why, sizeof(tr->why), "cannot open the BPF object: %s", strerror(errno));
		return NULL;
	}
	s->rodata->ag_enforce = o->enforce;
	s->rodata->ag_unresolved_deny = o->unresolved_deny;
	s->rodata->ag_rate_limit = o->rate_limit ? o->rate_limit : 1000;
	s->rodata->ag_lsm_opens = tier != AG_TIER_TRACEPOINT;
	s->rodata->ag_probe_tgid = getpid();
	s->rodata->ag_probe_ino = probe_ino;
	if (o->policy_entries) {
		bpf_map__set_max_entries(s->maps.policy, o->policy_entries);
		bpf_map__set_max_entries(s->maps.viol, o->policy_entries);
	}
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	set_autoload(s, tier, variant);
	err = accelguard_bpf__load(s);
	if (err) {
		tr->err = err;
		snprintf(tr->why, sizeof(tr->why), "the kernel refused to load the %s programs: %s%s",
			 ag_tier_name(tier), strerror(-err),
			 err == -EPERM	 ? " (no BPF trampolines or BPF LSM here, or not allowed?)"
			 : err == -EINVAL ? " (the verifier or the attach target refused it: -v shows why)"
					  : "");
		accelguard_bpf__destroy(s);
		return NULL;
	}
	tr->loaded = true;
	return s;
}

static struct accelguard_bpf *load_tier(int tier, const struct ag_load_opts *o, __u64 probe_ino,
					struct ag_tier_report *tr)
{
	struct accelguard_bpf *s = NULL;

	for (int v = first_variant(tier); v < n_variants(tier) && !s; v++) {
		s = load_variant(tier, v, o, probe_ino, tr);
		if (!s)
			ag_dbg("probe: tier %s, variant %d: %s", ag_tier_name(tier), v, tr->why);
	}
	if (s)
		tr->why[0] = 0;
	return s;
}

/* Attach the open program, open the probe file, and check that the program saw it: an lsm
 * program attaches on a kernel whose active LSM list lacks "bpf", and then never runs. */
static int probe_effect(struct accelguard_bpf *s, int tier, const char *probe_file,
			struct ag_tier_report *tr)
{
	struct bpf_program *p = open_prog(s, tier);
	struct bpf_link *l = bpf_program__attach(p);
	__u32 slot = tier == AG_TIER_LSM ? AG_HOOK_LSM : AG_HOOK_FMOD_RET;
	int fd;

	if (!l) {
		tr->err = -errno;
		snprintf(tr->why, sizeof(tr->why), "cannot attach %s: %s", bpf_program__name(p),
			 strerror(errno));
		return tr->err;
	}
	tr->attached = true;
	fd = open(probe_file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	if (!ag_percpu_sum(bpf_map__fd(s->maps.probe_hits), slot)) {
		bpf_link__destroy(l);
		tr->err = -EOPNOTSUPP;
		snprintf(tr->why, sizeof(tr->why),
			 "%s attached but never ran on the probe open%s", bpf_program__name(p),
			 tier == AG_TIER_LSM ? " (\"bpf\" is not in the active LSM list)" : "");
		return tr->err;
	}
	tr->effective = true;
	s->links.ag_lsm_file_open = tier == AG_TIER_LSM ? l : NULL;
	s->links.ag_fmod_file_open = tier == AG_TIER_FMOD_RET ? l : NULL;
	return 0;
}

static int make_probe_file(char *path, size_t len, __u64 *ino)
{
	const char *dirs[] = { getenv("TMPDIR"), "/run", "/tmp" };
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int fd;

		if (!dirs[i])
			continue;
		snprintf(path, len, "%s/accelguard-probe.XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		fstat(fd, &st);
		close(fd);
		*ino = st.st_ino;
		return 0;
	}
	return -errno;
}

/* Choose and load: the strongest tier that loads, attaches and runs. */
static struct accelguard_bpf *choose(const struct ag_load_opts *o, struct ag_probe_report *r)
{
	char probe_file[256];
	__u64 ino = 0;
	struct accelguard_bpf *s = NULL;
	int first = o->force_tier ? o->force_tier : AG_TIER_LSM;
	int last = o->force_tier ? o->force_tier : AG_TIER_TRACEPOINT;
	int err = make_probe_file(probe_file, sizeof(probe_file), &ino);

	if (err) {
		ag_err("probe: cannot create a probe file in $TMPDIR, /run or /tmp: %s", strerror(-err));
		return NULL;
	}
	for (int tier = first; tier <= last; tier++) {
		struct ag_tier_report *tr = &r->t[tier];

		if (tier == AG_TIER_TRACEPOINT)
			ensure_tracefs();
		s = load_tier(tier, o, ino, tr);
		if (!s) {
			ag_dbg("probe: tier %s: %s", ag_tier_name(tier), tr->why);
			continue;
		}
		if (tier == AG_TIER_TRACEPOINT) {
			r->tier = tier;
			break;
		}
		if (!probe_effect(s, tier, probe_file, tr)) {
			r->tier = tier;
			break;
		}
		ag_dbg("probe: tier %s: %s", ag_tier_name(tier), tr->why);
		accelguard_bpf__destroy(s);
		s = NULL;
	}
	unlink(probe_file);
	return s;
}

static int attach_rest(struct accelguard_bpf *s, int tier, int cgroup_fd, struct ag_probe_report *r)
{
	struct bpf_program *ip = ioctl_prog(s, tier);
	struct bpf_link *l;

	l = bpf_program__attach(ip);
	if (!l) {
		r->t[tier].err = -errno;
		snprintf(r->t[tier].why, sizeof(r->t[tier].why), "cannot attach %s: %s",
			 bpf_program__name(ip), strerror(errno));
		return -errno;
	}
	if (tier == AG_TIER_LSM)
		s->links.ag_lsm_file_ioctl = l;
	else if (tier == AG_TIER_FMOD_RET)
		s->links.ag_fmod_file_ioctl = l;
	else if (ip == s->progs.ag_tp_ioctl)
		s->links.ag_tp_ioctl = l;
	else
		s->links.ag_tp_ioctl_core = l;
	r->t[tier].attached = true;

	/* A cgroup link is always a multi-attachment (BPF_F_ALLOW_MULTI): programs that others
	 * attach below or beside ours keep running. */
	s->links.ag_cgroup_dev = bpf_program__attach_cgroup(s->progs.ag_cgroup_dev, cgroup_fd);
	if (!s->links.ag_cgroup_dev) {
		r->cgroup_dev_err = -errno;
		return -errno;
	}
	r->cgroup_dev_attached = true;
	s->links.ag_cgroup_mkdir = bpf_program__attach(s->progs.ag_cgroup_mkdir);
	if (!s->links.ag_cgroup_mkdir)
		return -errno;
	s->links.ag_cgroup_rmdir = bpf_program__attach(s->progs.ag_cgroup_rmdir);
	if (!s->links.ag_cgroup_rmdir)
		return -errno;
	return 0;
}

bool ag_all_refused_eperm(const struct ag_probe_report *r)
{
	bool any = false;

	for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++) {
		if (!r->t[t].tried)
			continue;
		if (r->t[t].loaded || r->t[t].err != -EPERM)
			return false;
		any = true;
	}
	return any;
}

int ag_bpf_start(struct ag_bpf *b, const struct ag_load_opts *o, const char *cgroup2)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->cgroup_fd = -1;
	fill_facts(&b->report, cgroup2);
	b->skel = choose(o, &b->report);
	if (!b->skel && ag_all_refused_eperm(&b->report)) {
		ag_err("bpf: the kernel refused every tier with EPERM: accelguard needs root, or "
		       "CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN and CAP_SYS_RESOURCE (uid %d)", (int)geteuid());
		return -EPERM;
	}
	if (!b->skel) {
		ag_err("bpf: no tier works on this kernel (%s)%s%s", b->report.kernel,
		       o->force_tier ? ": " : "",
		       o->force_tier ? b->report.t[o->force_tier].why : "; run 'accelguard probe' for why");
		return -EOPNOTSUPP;
	}
	b->tier = b->report.tier;
	b->cgroup_fd = open(cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->cgroup_fd < 0) {
		err = -errno;
		ag_err("bpf: cannot open the cgroup2 root %s: %s", cgroup2, strerror(-err));
		goto fail;
	}
	err = attach_rest(b->skel, b->tier, b->cgroup_fd, &b->report);
	if (err) {
		ag_err("bpf: cannot attach the %s tier's programs: %s%s", ag_tier_name(b->tier),
		       strerror(-err),
		       b->report.cgroup_dev_err ? " (cgroup/dev on the cgroup2 root)" : "");
		goto fail;
	}
	return 0;
fail:
	ag_bpf_stop(b);
	return err;
}

const char *ag_bpf_ioctl_prog(const struct ag_bpf *b)
{
	return b->skel ? bpf_program__name(ioctl_prog(b->skel, b->tier)) : "";
}

void ag_bpf_stop(struct ag_bpf *b)
{
	accelguard_bpf__destroy(b->skel);
	b->skel = NULL;
	if (b->cgroup_fd >= 0)
		close(b->cgroup_fd);
	b->cgroup_fd = -1;
}

int ag_bpf_probe(struct ag_probe_report *r, const char *cgroup2)
{
	struct ag_load_opts o = { .rate_limit = 1000 };
	struct accelguard_bpf *s;
	int fd;

	memset(r, 0, sizeof(*r));
	fill_facts(r, cgroup2);
	/* try every tier, so the report says what each would do */
	for (int tier = AG_TIER_LSM; tier <= AG_TIER_TRACEPOINT; tier++) {
		struct ag_probe_report one = { 0 };

		o.force_tier = tier;
		s = choose(&o, &one);
		r->t[tier] = one.t[tier];
		if (!s)
			continue;
		if (!r->tier)
			r->tier = tier;
		if (tier == AG_TIER_TRACEPOINT && cgroup2 && *cgroup2) {
			fd = open(cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				struct bpf_link *l =
					bpf_program__attach_cgroup(s->progs.ag_cgroup_dev, fd);

				r->cgroup_dev_attached = l != NULL;
				r->cgroup_dev_err = l ? 0 : -errno;
				bpf_link__destroy(l);
				close(fd);
			} else {
				r->cgroup_dev_err = -errno;
			}
			r->t[tier].attached = r->cgroup_dev_attached;
		}
		accelguard_bpf__destroy(s);
	}
	return r->tier ? 0 : -EOPNOTSUPP;
}
