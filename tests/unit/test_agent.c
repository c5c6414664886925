// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the agent's own parsers and logic: mountinfo and /proc/PID/cgroup, the JSON
 * writer's escaping, ioctl names, and the policy table (the configuration source, tenant parents,
 * inheritance, control nodes, owners) without a kernel (no maps). */
#include "unit.h"
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <linux/types.h>
#include "accelguard.h"
#include "cgroups.h"
#include "config.h"
#include "devices.h"
#include "event.h"
#include "ioctl_names.h"
#include "jsonw.h"
#include "maps.h"
#include "policy.h"
#include "sink.h"
#include "verdict.h"

static void test_mountinfo(void **state)
{
	const char *hybrid =
		"22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
		"30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
		"31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
		"32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n";
	const char *spaced = "41 31 0:38 / /mnt/my\\040cgroups rw,relatime - cgroup2 none rw\n";
	const char *v1 = "32 30 0:28 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";
	const char *optional_fields =
		"41 31 0:38 / /sys/fs/cgroup rw shared:1 master:2 propagate_from:3 - cgroup2 cgroup2 rw\n";
	char mnt[256];

	assert_int_equal(ag_mountinfo_cgroup2(hybrid, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	assert_int_equal(ag_mountinfo_cgroup2(spaced, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/mnt/my cgroups");
	assert_int_equal(ag_mountinfo_cgroup2(optional_fields, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_int_equal(ag_mountinfo_cgroup2(v1, mnt, sizeof(mnt)), -ENOENT);
	assert_int_equal(ag_mountinfo_cgroup2("", mnt, sizeof(mnt)), -ENOENT);
	assert_int_equal(ag_mountinfo_cgroup2(hybrid, mnt, 8), -ENAMETOOLONG);
	/* in a pod: the container's own sub-tree, then the host's root mounted over it (a hostPath
	 * volume), as the host's cgroup namespace shows them: the root's mount is taken */
	const char *pod =
		"700 690 0:30 /kubepods/besteffort/podu/c1 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n"
		"701 700 0:30 / /sys/fs/cgroup ro,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
	const char *pod_elsewhere = /* the same, the host's root mounted at another path */
		"700 690 0:30 /kubepods/besteffort/podu/c1 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n"
		"701 690 0:30 / /host/cgroup ro,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
	const char *subtree_only =
		"700 690 0:30 /kubepods/besteffort/podu/c1 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n";
	const char *two_roots =
		"41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
		"42 31 0:38 / /mnt/other rw - cgroup2 cgroup2 rw\n";

	assert_int_equal(ag_mountinfo_cgroup2(pod, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_int_equal(ag_mountinfo_cgroup2(pod_elsewhere, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/host/cgroup");
	assert_int_equal(ag_mountinfo_cgroup2(subtree_only, mnt, sizeof(mnt)), 0); /* the only one */
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_int_equal(ag_mountinfo_cgroup2(two_roots, mnt, sizeof(mnt)), 0);   /* the first root */
	assert_string_equal(mnt, "/sys/fs/cgroup");
}

static void test_proc_cgroup(void **state)
{
	char p[256];

	assert_int_equal(ag_proc_cgroup_parse("0::/kubepods/besteffort/pod1/abc\n", p, sizeof(p)), 0);
	assert_string_equal(p, "/kubepods/besteffort/pod1/abc");
	/* hybrid: v1 lines first */
	assert_int_equal(ag_proc_cgroup_parse("12:devices:/x\n1:name=systemd:/y\n0::/user.slice\n", p,
					      sizeof(p)), 0);
	assert_string_equal(p, "/user.slice");
	assert_int_equal(ag_proc_cgroup_parse("0::/gone (deleted)\n", p, sizeof(p)), 0);
	assert_string_equal(p, "/gone");
	assert_int_equal(ag_proc_cgroup_parse("0::/\n", p, sizeof(p)), 0);
	assert_string_equal(p, "/");
	assert_int_equal(ag_proc_cgroup_parse("12:devices:/x\n", p, sizeof(p)), -ENOENT);
	assert_int_equal(ag_proc_cgroup_parse("0::/very/long/path\n", p, 5), -ENAMETOOLONG);
}

static const char *jw_one(struct jw *w, const char *s, size_t n)
{
	jw_reset(w);
	jw_strn(w, s, n);
	return w->buf;
}

static void test_jsonw_escaping(void **state)
{
	struct jw w;

	jw_init(&w);
	assert_string_equal(jw_one(&w, "plain", 5), "\"plain\"");
	assert_string_equal(jw_one(&w, "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	assert_string_equal(jw_one(&w, "\n\t\x01\x1f\x7f", 5), "\"\\n\\t\\u0001\\u001f\\u007f\"");
	/* valid UTF-8 passes; invalid bytes become the escape of their value */
	assert_string_equal(jw_one(&w, "caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");
	assert_string_equal(jw_one(&w, "\xff\xc3", 2), "\"\\u00ff\\u00c3\"");
	/* overlong '/' and a UTF-16 surrogate are not UTF-8 */
	assert_string_equal(jw_one(&w, "\xc0\xaf", 2), "\"\\u00c0\\u00af\"");
	assert_string_equal(jw_one(&w, "\xed\xa0\x80", 3), "\"\\u00ed\\u00a0\\u0080\"");
	/* a NUL inside the length is data, not the end */
	assert_string_equal(jw_one(&w, "a\0b", 3), "\"a\\u0000b\"");
	jw_free(&w);
}

static void test_jsonw_structure(void **state)
{
	struct jw w;

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "type", "x");
	jw_ku64(&w, "n", 18446744073709551615ull);
	jw_key(&w, "a");
	jw_arr_open(&w);
	jw_u64(&w, 1);
	jw_obj_open(&w);
	jw_kbool(&w, "t", true);
	jw_obj_close(&w);
	jw_null(&w);
	jw_arr_close(&w);
	jw_key(&w, "cmd");
	jw_hex32(&w, 0xc020462b);
	jw_obj_close(&w);
	assert_string_equal(w.buf, "{\"type\":\"x\",\"n\":18446744073709551615,\"a\":[1,{\"t\":true},null],"
				   "\"cmd\":\"0xc020462b\"}");
	jw_free(&w);
}

static void test_ioctl_names(void **state)
{
	assert_string_equal(ag_ioctl_name("nvidiactl", 0xc020462b, 0), "RM_ALLOC");
	assert_string_equal(ag_ioctl_name("nvidia-gpu", 0xc020462a, 0), "RM_CONTROL");
	/* the driver reads only the nr: any size decodes the same */
	assert_string_equal(ag_ioctl_name("nvidiactl", 0xc00846d2, 0), "CHECK_VERSION_STR");
	/* XFER carries the real escape */
	assert_string_equal(ag_ioctl_name("nvidiactl", 0xc01046d3, 0x2b), "RM_ALLOC");
	assert_string_equal(ag_ioctl_name("nvidiactl", 0xc01046d3, 0), "IOCTL_XFER_CMD");
	assert_string_equal(ag_ioctl_name("nvidia-uvm", 0x30000001, 0), "UVM_INITIALIZE");
	assert_string_equal(ag_ioctl_name("nvidia-uvm", 37, 0), "UVM_REGISTER_GPU");
	/* UVM numbers match whole: an 'F' command on uvm is unknown */
	assert_null(ag_ioctl_name("nvidia-uvm", 0xc020462b, 0));
	assert_null(ag_ioctl_name("nvidia-gpu", 0x5401, 0));
	assert_string_equal(ag_ioctl_name("kfd", 0xc0184b02, 0), "AMDKFD_IOC_CREATE_QUEUE");
	assert_null(ag_ioctl_name("drm-render", 0xc020462b, 0));
	assert_null(ag_ioctl_name(NULL, 1, 0));
}

/* ---- policy without a kernel ---- */

struct pfx {
	struct ag_config cfg;
	struct ag_devtab dt;
	struct ag_policy_db db;
	char *dir;
};

static int policy_setup(void **state)
{
	struct pfx *f = calloc(1, sizeof(*f));
	char err[512], *path;

	f->dir = ag_unit_mkdtemp();
	path = ag_unit_write(f->dir, "c.yaml",
			     "tenants: [\"/tenants/*\"]\n"
			     "exempt: [\"/tenants/dcgm\", \"/**/nvidia-dcgm.service\", \"/**/x/**/y\"]\n"
			     "allocations:\n"
			     "  - cgroup: /tenants/a\n"
			     "    devices: [\"195:0\"]\n"
			     "  - cgroup: /tenants/b\n"
			     "    devices: [\"195:1\", \"195:255\"]\n"
			     "  - cgroup: /jobs/j1\n"
			     "    devices: [\"261:0-1\"]\n");
	assert_int_equal(ag_config_load(path, &f->cfg, err, sizeof(err)), 0);
	free(path);
	assert_int_equal(ag_devtab_init(&f->dt, AG_UNIT_FIXTURES "/proc_devices"), 0);
	assert_int_equal(ag_policy_init(&f->db, &f->cfg, &f->dt, NULL), 0);
	assert_int_equal(ag_policy_add_source(&f->db, ag_config_source_new(&f->cfg)), 0);
	*state = f;
	return 0;
}

static int policy_teardown(void **state)
{
	struct pfx *f = *state;

	ag_policy_free(&f->db);
	ag_config_free(&f->cfg);
	ag_unit_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int verdict_of(struct pfx *f, const char *path, __u32 major, __u32 minor)
{
	struct ag_policy p;

	if (!ag_policy_effective(&f->db, path, &p))
		return AG_V_HOST;
	return ag_verdict(&p, major, minor, ag_policy_owners(&f->db, major, minor));
}

static void test_policy_tenants(void **state)
{
	struct pfx *f = *state;
	struct ag_cg *a, *root;

	root = ag_policy_added(&f->db, 10, "/tenants", 0);
	a = ag_policy_added(&f->db, 11, "/tenants/a", 0);
	ag_policy_added(&f->db, 12, "/tenants/b", 0);
	ag_policy_added(&f->db, 13, "/tenants/a/inner", 0);
	ag_policy_added(&f->db, 14, "/tenants/dcgm", 0);
	ag_policy_added(&f->db, 15, "/system.slice", 0);
	assert_int_equal(root->state, AG_P_TENANT_PARENT);
	assert_int_equal(a->state, AG_P_TENANT);

	assert_int_equal(verdict_of(f, "/tenants/a", 195, 0), AG_V_ALLOWED);
	assert_int_equal(verdict_of(f, "/tenants/a/inner", 195, 0), AG_V_ALLOWED);
	assert_int_equal(verdict_of(f, "/tenants/a", 195, 1), AG_V_CROSS_TENANT);
	assert_int_equal(verdict_of(f, "/tenants/a", 195, 7), AG_V_UNMEDIATED);
	/* a's sub-cgroup is the same tenant: a's GPU is not "another tenant's" to it */
	assert_int_equal(ag_policy_owners(&f->db, 195, 0), 1);
	/* control nodes come with a GPU of the vendor, and are never another tenant's */
	assert_int_equal(verdict_of(f, "/tenants/a", 195, 255), AG_V_ALLOWED);
	assert_int_equal(ag_policy_owners(&f->db, 195, 255), 0);
	assert_int_equal(verdict_of(f, "/tenants/dcgm", 195, 1), AG_V_EXEMPT);
	assert_int_equal(verdict_of(f, "/system.slice", 195, 1), AG_V_HOST);
	assert_int_equal(verdict_of(f, "/", 195, 1), AG_V_HOST);
	/* the tenant parent itself is no tenant */
	assert_int_equal(verdict_of(f, "/tenants", 195, 1), AG_V_HOST);
	/* a child of a tenant parent not known yet reads as unresolved, as in the kernel */
	assert_int_equal(verdict_of(f, "/tenants/new", 195, 0), AG_V_UNRESOLVED);
	/* a tenant named by an allocation only */
	ag_policy_added(&f->db, 20, "/jobs", 0);
	ag_policy_added(&f->db, 21, "/jobs/j1", 0);
	assert_int_equal(verdict_of(f, "/jobs/j1", 261, 1), AG_V_ALLOWED);
	assert_int_equal(verdict_of(f, "/jobs/j1", 261, 2), AG_V_UNMEDIATED);
	/* accel has no vendor control nodes: nvidiactl is not allowed to j1 */
	assert_int_equal(verdict_of(f, "/jobs/j1", 195, 255), AG_V_UNMEDIATED);
}

static void test_policy_owners_lifecycle(void **state)
{
	struct pfx *f = *state;

	ag_policy_added(&f->db, 10, "/tenants", 0);
	ag_policy_added(&f->db, 11, "/tenants/a", 0);
	ag_policy_added(&f->db, 13, "/tenants/a/inner", 0);
	assert_int_equal(ag_policy_owners(&f->db, 195, 0), 1);
	ag_policy_removed(&f->db, 13);
	assert_int_equal(ag_policy_owners(&f->db, 195, 0), 1);
	ag_policy_removed(&f->db, 11);
	assert_int_equal(ag_policy_owners(&f->db, 195, 0), 0);
	/* gone from the table: a new child there is unresolved again */
	assert_int_equal(verdict_of(f, "/tenants/a", 195, 0), AG_V_UNRESOLVED);
}

static void test_policy_latency(void **state)
{
	struct pfx *f = *state;

	ag_policy_added(&f->db, 10, "/tenants", 0);
	ag_policy_added(&f->db, 11, "/tenants/a", 1); /* created at boot time 1 ns */
	ag_policy_added(&f->db, 15, "/elsewhere", 2); /* a host cgroup: no policy entry, no sample */
	assert_int_equal(f->db.n_lat, 1);
	assert_true(f->db.lat[0] > 0);
}

static void count_gone(struct ag_cg *cg, void *ctx)
{
	assert_non_null(cg);
	(*(int *)ctx)++;
}

/* A rescan after lost lifecycle events adds what appeared and forgets what went (a directory tree
 * stands in for the cgroup2 mount: the walk and the ids work the same on it). */
static void test_policy_reconcile(void **state)
{
	struct pfx *f = *state;
	char p[512];
	int gone = 0;

	snprintf(p, sizeof(p), "%s/tenants", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tenants/a", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tenants/b", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(ag_policy_scan(&f->db, f->dir), 0);
	assert_non_null(ag_policy_find_path(&f->db, "/tenants/b"));
	assert_int_equal(ag_policy_owners(&f->db, 195, 1), 1);

	assert_int_equal(rmdir(p), 0); /* b goes, its rmdir event lost */
	snprintf(p, sizeof(p), "%s/tenants/dcgm", f->dir);
	assert_int_equal(mkdir(p, 0755), 0); /* dcgm comes, its mkdir event lost */
	assert_int_equal(ag_policy_reconcile(&f->db, f->dir, count_gone, &gone), 1);
	assert_int_equal(gone, 1);
	assert_null(ag_policy_find_path(&f->db, "/tenants/b"));
	assert_int_equal(ag_policy_owners(&f->db, 195, 1), 0); /* b's GPU is nobody's now */
	assert_non_null(ag_policy_find_path(&f->db, "/tenants/a"));
	assert_int_equal(verdict_of(f, "/tenants/dcgm", 195, 1), AG_V_EXEMPT);
	/* nothing changed: nothing gone */
	assert_int_equal(ag_policy_reconcile(&f->db, f->dir, count_gone, &gone), 0);
	assert_int_equal(gone, 1);
}

/* Cgroups a tenant makes below itself are members: never classified, never given a policy entry
 * of their own (the kernel's ancestor walk finds the tenant's), whatever their names say. */
static void test_policy_members(void **state)
{
	struct pfx *f = *state;
	char longname[300], p[600];
	const char *path;
	static const char *const names[] = {
		"/tenants/b/nvidia-dcgm.service",       /* named like an exempt pattern */
		"/tenants/b/x",                         /* /.../x/.../y: exempt two levels down */
		"/tenants/b/x/deep/y",
		"/tenants/b/x/deep/y/nvidia-dcgm.service",
		"/tenants/b/dcgm",                      /* the exempt tenant's own name */
		"/tenants/b/*",                         /* glob characters as names */
		"/tenants/b/[a-z]",
		"/tenants/b/?",
		"/tenants/b/**",
		"/tenants/b/...",                       /* dot names ('.' and '..' are no cgroup) */
		"/tenants/b/..a",
		"/tenants/b/a\nb",                      /* a newline */
		"/tenants/b/a b",
	};
	__u64 id = 100;
	unsigned int counts[5];

	ag_policy_added(&f->db, 10, "/tenants", 0);
	ag_policy_added(&f->db, 11, "/tenants/a", 0);
	assert_non_null(ag_policy_added(&f->db, 12, "/tenants/b", 0));
	assert_int_equal(ag_policy_added(&f->db, 16, "/system.slice", 0)->state, AG_P_HOST);
	/* at the tenant's level the exempt pattern still works */
	assert_int_equal(ag_policy_added(&f->db, 17, "/system.slice/nvidia-dcgm.service", 0)->state,
			 AG_P_EXEMPT);
	assert_null(ag_policy_added(&f->db, 18, "/system.slice/nvidia-dcgm.service/sub", 0));
	assert_int_equal(verdict_of(f, "/system.slice/nvidia-dcgm.service/sub", 195, 0), AG_V_EXEMPT);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++, id++) {
		assert_null(ag_policy_added(&f->db, id, names[i], 0));
		assert_ptr_equal(ag_policy_lookup(&f->db, id, &path), ag_policy_find(&f->db, 12));
		assert_string_equal(path, names[i]);
		assert_null(ag_policy_find_path(&f->db, names[i]));
		/* b's own GPU, a's GPU: as for b itself */
		assert_int_equal(verdict_of(f, names[i], 195, 1), AG_V_ALLOWED);
		assert_int_equal(verdict_of(f, names[i], 195, 0), AG_V_CROSS_TENANT);
	}
	/* a name as long as a cgroup name may be, many levels down */
	memset(longname, 'n', 255);
	longname[255] = 0;
	snprintf(p, sizeof(p), "/tenants/b/%s/nvidia-dcgm.service", longname);
	assert_null(ag_policy_added(&f->db, id, p, 0));
	assert_int_equal(verdict_of(f, p, 195, 0), AG_V_CROSS_TENANT);
	/* a's devices are still a's alone: b's members are not owners */
	assert_int_equal(ag_policy_owners(&f->db, 195, 0), 1);
	ag_policy_counts(&f->db, counts);
	assert_int_equal(counts[AG_P_TENANT], 2);
	assert_int_equal(counts[AG_P_EXEMPT], 1);
	/* every entry the map holds: /tenants, a, b, the exempt service */
	assert_int_equal(f->db.map_entries, 4);
	assert_int_equal(f->db.members.n, sizeof(names) / sizeof(names[0]) + 2);
	/* asking the sources again changes nothing for them */
	ag_policy_refresh(&f->db);
	assert_int_equal(f->db.members.n, sizeof(names) / sizeof(names[0]) + 2);
	assert_int_equal(f->db.map_entries, 4);
	assert_int_equal(verdict_of(f, names[0], 195, 0), AG_V_CROSS_TENANT);
	/* a member goes */
	ag_policy_removed(&f->db, 100);
	assert_null(ag_policy_lookup(&f->db, 100, NULL));
	assert_int_equal(f->db.members.n, sizeof(names) / sizeof(names[0]) + 1);
}

/* A sub-cgroup whose tenant's mkdir event was lost (or comes later): the tenant is looked up in
 * the file system and judged first, so the sub-cgroup's name never classifies it (a directory tree
 * stands in for the cgroup2 mount). */
static void test_policy_member_before_tenant(void **state)
{
	struct pfx *f = *state;
	char p[512];
	const char *path;
	struct ag_cg *b;

	f->db.cgroup2 = f->dir;
	snprintf(p, sizeof(p), "%s/tenants", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tenants/b", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tenants/b/nvidia-dcgm.service", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	ag_policy_added(&f->db, 10, "/tenants", 0);
	/* b's event lost: its sub-cgroup's comes first */
	assert_null(ag_policy_added(&f->db, 99, "/tenants/b/nvidia-dcgm.service", 0));
	b = ag_policy_find_path(&f->db, "/tenants/b");
	assert_non_null(b);
	assert_int_equal(b->state, AG_P_TENANT);
	assert_ptr_equal(ag_policy_lookup(&f->db, 99, &path), b);
	assert_int_equal(verdict_of(f, "/tenants/b/nvidia-dcgm.service", 195, 1), AG_V_ALLOWED);
	assert_int_equal(verdict_of(f, "/tenants/b/nvidia-dcgm.service", 195, 7), AG_V_UNMEDIATED);
	/* nothing known at all: the walk down from the root settles every level */
	snprintf(p, sizeof(p), "%s/jobs", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/jobs/j1", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/jobs/j1/nvidia-dcgm.service", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_null(ag_policy_added(&f->db, 98, "/jobs/j1/nvidia-dcgm.service", 0));
	assert_int_equal(ag_policy_find_path(&f->db, "/jobs/j1")->state, AG_P_TENANT);
	assert_int_equal(verdict_of(f, "/jobs/j1/nvidia-dcgm.service", 261, 1), AG_V_ALLOWED);
}

/* A tenant deeper than the kernel's ancestor walk: its descendants get entries of their own, copies
 * of the tenant's (still not classified by their names). */
static void test_policy_deep_tenant(void **state)
{
	struct pfx *f = *state;
	struct ag_config cfg;
	struct ag_policy_db db;
	char parent[256] = "", yaml[1024], err[512], p[512], *cpath;
	struct ag_policy pol;
	__u64 id = 10;

	(void)f;
	for (int l = 1; l < AG_ANCESTOR_LEVELS; l++)
		strcat(parent, "/l");
	snprintf(yaml, sizeof(yaml), "tenants: [\"%s/*\"]\nexempt: [\"/**/nvidia-dcgm.service\"]\n"
		 "allocations:\n  - cgroup: %s/t\n    devices: [\"195:1\"]\n", parent, parent);
	cpath = ag_unit_write(f->dir, "deep.yaml", yaml);
	assert_int_equal(ag_config_load(cpath, &cfg, err, sizeof(err)), 0);
	free(cpath);
	assert_int_equal(ag_policy_init(&db, &cfg, &f->dt, NULL), 0);
	assert_int_equal(ag_policy_add_source(&db, ag_config_source_new(&cfg)), 0);
	p[0] = 0;
	for (int l = 1; l < AG_ANCESTOR_LEVELS; l++) {
		strcat(p, "/l");
		ag_policy_added(&db, id++, p, 0);
	}
	strcat(p, "/t"); /* level AG_ANCESTOR_LEVELS: the kernel's walk stops below it */
	assert_int_equal(ag_policy_added(&db, id++, p, 0)->state, AG_P_TENANT);
	strcat(p, "/nvidia-dcgm.service");
	assert_int_equal(ag_policy_added(&db, id++, p, 0)->state, AG_P_TENANT);
	assert_true(ag_policy_effective(&db, p, &pol));
	assert_int_equal(ag_verdict(&pol, 195, 1, 1), AG_V_ALLOWED);
	assert_int_equal(ag_verdict(&pol, 195, 0, 0), AG_V_UNMEDIATED);
	/* one owner of 195:1: the copy counts under its tenant's key */
	assert_int_equal(ag_policy_owners(&db, 195, 1), 1);
	ag_policy_free(&db);
	ag_config_free(&cfg);
}

/* the example shipped in deploy/ must stay a valid configuration */
static void test_example_config(void **state)
{
	struct ag_config cfg;
	char err[512], *dir = ag_unit_mkdtemp(), *path;

	assert_non_null(dir);
	path = ag_unit_copy(dir, "config.yaml", AG_UNIT_FIXTURES "/../../../deploy/config.example.yaml");
	memset(&cfg, 0, sizeof(cfg));
	if (ag_config_load(path, &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	free(path);
	ag_unit_rmrf(dir);
	free(dir);
	assert_int_equal(cfg.mode, AG_MODE_AUDIT);
	assert_int_equal(cfg.n_tenants, 3);
	assert_int_equal(cfg.n_allocs, 2);
	assert_int_equal(cfg.allocs[0].devices[0].hi, 1);
	ag_config_free(&cfg);
}

/* ---- sinks ----------------------------------------------------------------------------------- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define LINE "{\"type\":\"access\",\"op\":\"ioctl\",\"pad\":\"0123456789012345678901234567890123456789\"}\n"

static void emit_batches(struct ag_sinks *s, int batches, int lines)
{
	char buf[64 * sizeof(LINE)];
	size_t len = 0;

	for (int i = 0; i < lines; i++, len += sizeof(LINE) - 1)
		memcpy(buf + len, LINE, sizeof(LINE) - 1);
	for (int b = 0; b < batches; b++)
		ag_sinks_emit(s, buf, len, lines);
}

/* Typed events (sinks/event.h): records back to back, strings in their tail, a cancelled one
 * gone, the comm as the JSON line carries it; a sink that takes records gets them, its queue
 * counting their bytes against its bound. */
struct got_events {
	size_t n, lines;
};

static size_t count_events(void *ctx, const struct ag_sink_batch *b)
{
	struct got_events *g = ctx;

	for (const struct ag_event *e = ag_event_next(b->ev, b->evlen, NULL); e;
	     e = ag_event_next(b->ev, b->evlen, e))
		g->n++;
	g->lines += b->len;
	return 0;
}

static void test_event_records(void **state)
{
	static const struct ag_sink_ops ops = { .name = "typed", .takes = AG_SINK_EVENTS,
						.emit = count_events };
	struct ag_evb b = { 0 };
	const struct ag_event *e;
	struct got_events g = { 0 };
	struct ag_sink_batch batch;
	struct ag_sink_stats st;
	struct ag_sinks *s;

	ag_evb_begin(&b, AG_EVK_ACCESS);
	ag_evb_cur(&b)->pid = 42;
	AG_EVB_STR(&b, pod_name, "pod-a", 64);
	ag_evb_cur(&b)->comm = ag_evb_str_as_json(&b, "x\xff\xc3\xa9\xe2\x82", 6);
	assert_true(ag_evb_end(&b));
	ag_evb_begin(&b, AG_EVK_TENANT);
	AG_EVB_STR(&b, what, "added", 32);
	ag_evb_cancel(&b);
	ag_evb_begin(&b, AG_EVK_TENANT);
	AG_EVB_STR(&b, what, "removed-and-longer", 7);
	assert_true(ag_evb_end(&b));

	e = ag_event_next(b.buf, b.len, NULL);
	assert_non_null(e);
	assert_int_equal(e->kind, AG_EVK_ACCESS);
	assert_int_equal(e->pid, 42);
	assert_int_equal(e->size % 8, 0);
	assert_string_equal(ag_event_str(e, e->pod_name), "pod-a");
	/* 0xff and the cut sequence as U+00XX (as jw_strn writes them), the whole é kept */
	assert_string_equal(ag_event_str(e, e->comm), "x\xc3\xbf\xc3\xa9\xc3\xa2\xc2\x82");
	assert_null(ag_event_str(e, e->pod_ns));
	e = ag_event_next(b.buf, b.len, e);
	assert_non_null(e);
	assert_int_equal(e->kind, AG_EVK_TENANT);
	assert_string_equal(ag_event_str(e, e->what), "removed");
	assert_null(ag_event_next(b.buf, b.len, e));

	s = ag_sinks_new();
	assert_non_null(s);
	assert_int_equal(ag_sinks_add(s, &ops, &g, b.len), 0);
	batch = (struct ag_sink_batch){ .buf = "a\nb\n", .len = 4, .ev = b.buf, .evlen = b.len,
					.n = 2 };
	ag_sinks_emit_batch(s, &batch); /* its records fill the queue's bound exactly */
	assert_true(ag_sinks_drain(s, 5000));
	ag_sinks_emit(s, "c\n", 2, 1); /* no records: the sink gets the event count, nothing else */
	assert_true(ag_sinks_drain(s, 5000));
	ag_sinks_stats(s, 0, &st);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.written, 3);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.lines, 0); /* it takes no lines */
	ag_sinks_free(s, 1000);
	ag_evb_free(&b);
}

/* A sink nobody reads (a pipe): emitting never blocks, what does not fit is dropped and counted,
 * and once it is read again everything queued arrives, whole lines. */
static void test_sink_blocked(void **state)
{
	struct ag_sinks *s = ag_sinks_new();
	struct ag_sink_stats st;
	int p[2];
	double t0;
	size_t got = 0;
	char buf[65536];

	assert_non_null(s);
	size_t pre = 0;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	/* fill the pipe first: the sink's first write blocks */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	memset(buf, 'x', sizeof(buf));
	for (ssize_t n; (n = write(p[1], buf, sizeof(buf))) > 0;)
		pre += n;
	fcntl(p[1], F_SETFL, 0);
	assert_int_equal(ag_sinks_add_json(s, p[1], "test pipe", 16384), 0);
	assert_int_equal(ag_sinks_count(s), 1);
	assert_string_equal(ag_sinks_name(s, 0), "json");
	t0 = mono_s();
	emit_batches(s, 2000, 10); /* ~1.7 MB into a 64 KiB pipe and a 16 KiB queue */
	assert_true(mono_s() - t0 < 1.0);
	assert_false(ag_sinks_drain(s, 50));
	ag_sinks_stats(s, 0, &st);
	assert_int_equal(st.queued + st.dropped, 20000);
	assert_true(st.dropped > 0);
	assert_true(st.queue_bytes <= 16384);
	/* read it all: the queued lines arrive, whole */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	t0 = mono_s();
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof(buf));

		if (n > 0) {
			got += n;
			continue;
		}
		if (ag_sinks_drain(s, 10)) {
			while ((n = read(p[0], buf, sizeof(buf))) > 0)
				got += n;
			break;
		}
		assert_true(mono_s() - t0 < 10);
	}
	ag_sinks_stats(s, 0, &st);
	assert_int_equal(st.written, st.queued);
	assert_int_equal(st.lost, 0);
	assert_int_equal(got, pre + st.written * (sizeof(LINE) - 1));
	ag_sinks_free(s, 100);
	close(p[0]);
}

/* A sink stuck in a write at exit does not hold the agent: it is cut after the grace time. */
static void test_sink_stuck_at_exit(void **state)
{
	struct ag_sinks *s = ag_sinks_new();
	int p[2];
	double t0;

	char buf[4096];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	memset(buf, 'x', sizeof(buf));
	while (write(p[1], buf, sizeof(buf)) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
	assert_int_equal(ag_sinks_add_json(s, p[1], "test pipe", 0), 0);
	emit_batches(s, 200, 10);
	t0 = mono_s();
	ag_sinks_free(s, 100);
	assert_true(mono_s() - t0 < 2.0);
	close(p[0]);
}

/* ---- the owner of kernel state, without a kernel ----------------------------------------------- */

static void test_counter_sum_top(void **state)
{
	struct ag_counter_val v[3] = { { .count = 2, .first_ns = 0, .verdict = AG_V_ALLOWED },
				       { .count = 5, .first_ns = 300, .verdict = AG_V_CROSS_TENANT },
				       { .count = 1, .first_ns = 200, .verdict = AG_V_ALLOWED } };
	struct ag_access_count c, top[3];
	size_t n = 0;

	ag_counter_sum(v, 3, &c);
	assert_int_equal(c.count, 8);
	assert_int_equal(c.first_ns, 200);
	assert_int_equal(c.verdict, AG_V_CROSS_TENANT);
	/* keep the 3 highest of 5, sorted */
	for (__u64 k = 0; k < 5; k++) {
		memset(&c, 0, sizeof(c));
		c.k.cgroup_id = k;
		c.count = (__u64[]){ 4, 9, 1, 7, 4 }[k];
		ag_counter_top_insert(top, &n, 3, &c);
	}
	assert_int_equal(n, 3);
	assert_int_equal(top[0].count, 9);
	assert_int_equal(top[1].count, 7);
	assert_int_equal(top[2].count, 4);
	assert_int_equal(top[2].k.cgroup_id, 0); /* ties: the lower key */
}

static void test_maps_no_kernel(void **state)
{
	char *dir = ag_unit_mkdtemp(), path[512];
	struct ag_devtab dt;
	struct ag_maps m;
	bool *changed = calloc(AG_MAX_MAJOR, sizeof(bool));
	FILE *f;

	assert_non_null(dir);
	assert_non_null(changed);
	snprintf(path, sizeof(path), "%s/devices", dir);
	f = fopen(path, "w");
	fputs("Character devices:\n  1 mem\n195 nvidia\n\nBlock devices:\n  7 loop\n", f);
	fclose(f);
	assert_int_equal(ag_maps_init(&m, NULL), 0);
	assert_int_equal(ag_devtab_init(&dt, path), 0);
	assert_true(ag_maps_accel_sync(&m, &dt, changed) > 0);
	assert_true(changed[195]);
	assert_false(changed[237]);
	assert_int_equal(ag_maps_accel_sync(&m, &dt, changed), 0);
	assert_false(ag_maps_procdev_changed(&m, path)); /* the first read */
	assert_false(ag_maps_procdev_changed(&m, path));
	/* nvidia-uvm registers later: the file changes and its major is added */
	f = fopen(path, "w");
	fputs("Character devices:\n  1 mem\n195 nvidia\n237 nvidia-uvm\n\nBlock devices:\n  7 loop\n", f);
	fclose(f);
	assert_true(ag_maps_procdev_changed(&m, path));
	assert_false(ag_maps_procdev_changed(&m, path));
	assert_int_equal(ag_devtab_init(&dt, path), 0);
	assert_int_equal(ag_maps_accel_sync(&m, &dt, changed), 1);
	assert_true(changed[237]);
	assert_true(m.majors[237].n > 0);
	/* and goes */
	unlink(path);
	assert_true(ag_maps_procdev_changed(&m, path));
	assert_int_equal(ag_devtab_init(&dt, path), 0);
	assert_true(ag_maps_accel_sync(&m, &dt, changed) >= 1);
	assert_true(changed[237]);
	assert_int_equal(m.majors[237].n, 0);
	/* reads find nothing, writes succeed */
	assert_int_equal(ag_maps_drops(&m, 0), 0);
	assert_int_equal(ag_maps_policy_set(&m, 5, &(struct ag_policy){ 0 }), 0);
	assert_int_equal(ag_maps_counters_top(&m, NULL, 0, NULL), 0);
	ag_maps_free(&m);
	free(changed);
	rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_proc_cgroup),
		cmocka_unit_test(test_jsonw_escaping),
		cmocka_unit_test(test_jsonw_structure),
		cmocka_unit_test(test_ioctl_names),
		cmocka_unit_test(test_example_config),
		cmocka_unit_test(test_event_records),
		cmocka_unit_test(test_sink_blocked),
		cmocka_unit_test(test_sink_stuck_at_exit),
		cmocka_unit_test(test_counter_sum_top),
		cmocka_unit_test(test_maps_no_kernel),
		cmocka_unit_test_setup_teardown(test_policy_tenants, policy_setup, policy_teardown),
		cmocka_unit_test_setup_teardown(test_policy_owners_lifecycle, policy_setup, policy_teardown),
		cmocka_unit_test_setup_teardown(test_policy_latency, policy_setup, policy_teardown),
		cmocka_unit_test_setup_teardown(test_policy_reconcile, policy_setup, policy_teardown),
		cmocka_unit_test_setup_teardown(test_policy_members, policy_setup, policy_teardown),
		cmocka_unit_test_setup_teardown(test_policy_deep_tenant, policy_setup, policy_teardown),
		cmocka_unit_test_setup_teardown(test_policy_member_before_tenant, policy_setup, policy_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
