// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Device classes: built-ins, dynamic majors from /proc/devices, the kernel's table, devspecs. */
#include <linux/types.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "unit.h"

#include "devices.h"
#include "vfio.h"
#include "verdict.h"

#define PROC_DEVICES AG_UNIT_FIXTURES "/proc_devices"

struct fx {
	char *dir;
	struct ag_devtab t;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = ag_unit_mkdtemp();
	if (!f->dir || ag_devtab_init(&f->t, PROC_DEVICES)) {
		free(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ag_unit_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static const char *class_at(const struct ag_devtab *t, __u32 major, __u32 minor)
{
	const struct ag_class *c = ag_devtab_class(t, ag_devtab_lookup(t, major, minor));

	return c ? c->name : "-";
}

static void test_proc_devices_major(void **state)
{
	struct fx *f = *state;
	char *p;

	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "nvidia"), 195);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "nvidiactl"), 195);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "nvidia-uvm"), 508);
	/* exact names: one is a prefix of the other */
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "nvidia-caps"), 507);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "nvidia-caps-imex-channels"), 504);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "nvidia-u"), -ENOENT);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "kfd"), 234);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "mem"), 1);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "/dev/vc/0"), 4);
	/* block devices are not character devices */
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "loop"), -ENOENT);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "device-mapper"), -ENOENT);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, "habanalabs"), -ENOENT);
	assert_int_equal(ag_proc_devices_major("/nonexistent/proc/devices", "kfd"), -ENOENT);
	assert_int_equal(ag_proc_devices_major(PROC_DEVICES, ""), -EINVAL);

	/* a name listed only in the block section; junk lines are skipped */
	p = ag_unit_write(f->dir, "devices",
			  "Character devices:\n  1 mem\nnot a line\n 12\n300 neuron extra\n\n"
			  "Block devices:\n 77 kfd\n");
	assert_int_equal(ag_proc_devices_major(p, "mem"), 1);
	assert_int_equal(ag_proc_devices_major(p, "kfd"), -ENOENT);
	assert_int_equal(ag_proc_devices_major(p, "neuron"), -ENOENT);
	free(p);
}

static void test_builtin_classes(void **state)
{
	struct fx *f = *state;
	const struct ag_devtab *t = &f->t;

	assert_string_equal(class_at(t, 195, 0), "nvidia-gpu");
	assert_string_equal(class_at(t, 195, 247), "nvidia-gpu");
	assert_string_equal(class_at(t, 195, 248), "-");
	assert_string_equal(class_at(t, 195, 253), "-");
	assert_string_equal(class_at(t, 195, 254), "nvidia-modeset");
	assert_string_equal(class_at(t, 195, 255), "nvidiactl");
	assert_string_equal(class_at(t, 195, 256), "-");
	assert_string_equal(class_at(t, 508, 0), "nvidia-uvm");
	assert_string_equal(class_at(t, 508, 1), "nvidia-uvm-tools");
	assert_string_equal(class_at(t, 508, 2), "-");
	assert_string_equal(class_at(t, 507, 0), "nvidia-caps");
	assert_string_equal(class_at(t, 507, 138), "nvidia-caps");
	assert_string_equal(class_at(t, 504, 3), "nvidia-caps-imex-channels");
	assert_string_equal(class_at(t, 236, 0), "nvidia-nvswitch");
	assert_string_equal(class_at(t, 235, 0), "nvidia-nvlink");
	assert_string_equal(class_at(t, 226, 0), "drm-card");
	assert_string_equal(class_at(t, 226, 63), "drm-card");
	assert_string_equal(class_at(t, 226, 64), "-");
	assert_string_equal(class_at(t, 226, 127), "-");
	assert_string_equal(class_at(t, 226, 128), "drm-render");
	assert_string_equal(class_at(t, 226, 200), "drm-render");
	assert_string_equal(class_at(t, 226, 255), "drm-render");
	assert_string_equal(class_at(t, 261, 0), "accel");
	assert_string_equal(class_at(t, 261, 9999), "accel");
	assert_string_equal(class_at(t, 234, 0), "kfd");
	assert_string_equal(class_at(t, 234, 1), "-");
	assert_string_equal(class_at(t, 237, 5), "neuron");
	assert_string_equal(class_at(t, 1, 3), "-");	/* /dev/null */
	assert_string_equal(class_at(t, 136, 0), "-"); /* a pty */
}

static void expect_class(const struct ag_devtab *t, const char *name, const char *vendor, bool control)
{
	unsigned int i;

	for (i = 1; i <= t->n_classes; i++) {
		const struct ag_class *c = ag_devtab_class(t, i);

		assert_non_null(c);
		assert_int_equal(c->id, i);
		if (strcmp(c->name, name))
			continue;
		assert_string_equal(c->vendor, vendor);
		assert_int_equal(c->control, control);
		return;
	}
	fail_msg("class %s missing", name);
}

static void test_vendor_and_control(void **state)
{
	struct fx *f = *state;
	const struct ag_devtab *t = &f->t;

	expect_class(t, "nvidia-gpu", "nvidia", false);
	expect_class(t, "nvidia-modeset", "nvidia", true);
	expect_class(t, "nvidiactl", "nvidia", true);
	expect_class(t, "nvidia-uvm", "nvidia", true);
	expect_class(t, "nvidia-uvm-tools", "nvidia", true);
	expect_class(t, "nvidia-caps", "nvidia", false);
	expect_class(t, "nvidia-caps-imex-channels", "nvidia", false);
	expect_class(t, "nvidia-nvswitch", "nvidia", false);
	expect_class(t, "nvidia-nvlink", "nvidia", false);
	expect_class(t, "drm-card", "", false);
	expect_class(t, "drm-render", "", false);
	expect_class(t, "accel", "", false);
	expect_class(t, "kfd", "amd", true);
	expect_class(t, "neuron", "aws", false);
	expect_class(t, "habanalabs", "habana", false);
	assert_null(ag_devtab_class(t, 0));
	assert_null(ag_devtab_class(t, t->n_classes + 1));
}

/* Class ids do not depend on which drivers the host has; absent drivers add no range. */
static void test_ids_stable(void **state)
{
	struct fx *f = *state;
	struct ag_devtab bare;
	unsigned int i;

	assert_int_equal(ag_devtab_init(&bare, NULL), 0);
	assert_int_equal(bare.n_classes, f->t.n_classes);
	for (i = 0; i < bare.n_classes; i++)
		assert_string_equal(bare.classes[i].name, f->t.classes[i].name);
	assert_int_equal(bare.n_ranges, 6); /* 195 x3, 226 x2, 261 */
	assert_int_equal(ag_devtab_lookup(&bare, 508, 0), 0);
	assert_int_equal(ag_devtab_init(&bare, "/nonexistent/proc/devices"), 0);
	assert_int_equal(bare.n_ranges, 6);
	/* the fixture adds uvm x2, caps, imex, nvswitch, nvlink, kfd, neuron */
	assert_int_equal(f->t.n_ranges, 14);
}

static void test_add(void **state)
{
	struct fx *f = *state;
	struct ag_devtab *t = &f->t;
	int tpu, gpu;

	tpu = ag_devtab_add(t, "tpu", 121, 0, AG_MINOR_ANY);
	assert_true(tpu > 0);
	assert_string_equal(ag_devtab_class(t, (__u32)tpu)->name, "tpu");
	assert_string_equal(ag_devtab_class(t, (__u32)tpu)->vendor, "");
	assert_false(ag_devtab_class(t, (__u32)tpu)->control);
	assert_int_equal(ag_devtab_lookup(t, 121, 7), (__u32)tpu);
	/* extending a class adds a range under the same id */
	assert_int_equal(ag_devtab_add(t, "tpu", 122, 0, 3), tpu);
	assert_int_equal(ag_devtab_lookup(t, 122, 3), (__u32)tpu);
	assert_int_equal(ag_devtab_lookup(t, 122, 4), 0);
	/* the same numbers again for the same class: no-op */
	assert_int_equal(ag_devtab_add(t, "tpu", 122, 1, 2), tpu);
	/* a built-in class extended (a GPU minor range newer than ours) */
	gpu = (int)ag_devtab_lookup(t, 195, 0);
	assert_int_equal(ag_devtab_add(t, "nvidia-gpu", 195, 248, 250), gpu);
	assert_int_equal(ag_devtab_lookup(t, 195, 249), (__u32)gpu);
	/* overlapping another class is refused */
	assert_int_equal(ag_devtab_add(t, "mine", 195, 3, 3), -EEXIST);
	assert_int_equal(ag_devtab_add(t, "mine", 226, 60, 130), -EEXIST);
	assert_int_equal(ag_devtab_add(t, "tpu", 195, 0, 0), -EEXIST);
	assert_int_equal(ag_devtab_lookup(t, 195, 3), (__u32)gpu);
	/* bad arguments */
	assert_int_equal(ag_devtab_add(t, "x", 0, 0, 0), -EINVAL);
	assert_int_equal(ag_devtab_add(t, "x", AG_MAX_MAJOR, 0, 0), -EINVAL);
	assert_int_equal(ag_devtab_add(t, "x", 300, 5, 4), -EINVAL);
	assert_int_equal(ag_devtab_add(t, "x", 300, 0, 0x100000), -EINVAL);
	assert_int_equal(ag_devtab_add(t, "", 300, 0, 0), -EINVAL);
	assert_int_equal(ag_devtab_add(t, "a-name-that-is-far-too-long-for-the-class-table-0123", 300, 0, 0),
			 -EINVAL);
}

static void test_add_full(void **state)
{
	struct fx *f = *state;
	struct ag_devtab *t = &f->t;
	char name[32];
	unsigned int i;
	int id;

	for (i = t->n_classes; i < AG_MAX_CLASSES; i++) {
		snprintf(name, sizeof(name), "c%u", i);
		assert_true(ag_devtab_add(t, name, 1000 + i, 0, 0) > 0);
	}
	assert_int_equal(ag_devtab_add(t, "one-too-many", 2000, 0, 0), -ENOSPC);
	/* ranges of an existing class until the range table is full */
	for (i = t->n_ranges; i < AG_MAX_CLASS_RANGES; i++) {
		id = ag_devtab_add(t, "c20", 3000, i * 2, i * 2);
		assert_true(id > 0);
	}
	assert_int_equal(ag_devtab_add(t, "c20", 3001, 0, 0), -ENOSPC);
}

/* The kernel's per-major table gives the same class as the user-space lookup, for every minor. */
static void test_fill_majors(void **state)
{
	struct fx *f = *state;
	struct ag_major_entry *m = calloc(AG_MAX_MAJOR, sizeof(*m));
	__u32 major, minor;

	assert_non_null(m);
	assert_int_equal(ag_devtab_fill_majors(&f->t, m), 0);
	assert_int_equal(m[195].n, 3);
	assert_int_equal(m[226].n, 2);
	assert_int_equal(m[508].n, 2);
	assert_int_equal(m[1].n, 0);
	assert_int_equal(m[261].r[0].hi, AG_MINOR_ANY);
	for (major = 0; major < AG_MAX_MAJOR; major++)
		for (minor = 0; minor < 300; minor++)
			if (ag_class_of(&m[major], minor) != ag_devtab_lookup(&f->t, major, minor))
				fail_msg("%u:%u: kernel table says %u, lookup %u", major, minor,
					 ag_class_of(&m[major], minor),
					 ag_devtab_lookup(&f->t, major, minor));
	assert_int_equal(ag_class_of(&m[261], 0xfffff), ag_devtab_lookup(&f->t, 261, 0));
	free(m);
}

static void test_fill_majors_too_many(void **state)
{
	struct fx *f = *state;
	struct ag_major_entry *m = calloc(AG_MAX_MAJOR, sizeof(*m));
	unsigned int i;

	assert_non_null(m);
	/* 195 has 3 ranges; 5 more fit, the 6th does not */
	for (i = 0; i < AG_MAX_RANGES - 3; i++)
		assert_true(ag_devtab_add(&f->t, "nvidia-gpu", 195, 1000 + i, 1000 + i) > 0);
	assert_int_equal(ag_devtab_fill_majors(&f->t, m), 0);
	assert_int_equal(m[195].n, AG_MAX_RANGES);
	memset(m, 0, AG_MAX_MAJOR * sizeof(*m));
	assert_true(ag_devtab_add(&f->t, "nvidia-gpu", 195, 2000, 2000) > 0);
	assert_int_equal(ag_devtab_fill_majors(&f->t, m), -E2BIG);
	free(m);
}

static void expect_spec(const char *spec, __u32 major, __u32 lo, __u32 hi)
{
	__u32 ma = 1, l = 2, h = 3;

	if (ag_parse_devspec(spec, &ma, &l, &h))
		fail_msg("'%s' refused", spec);
	assert_int_equal(ma, major);
	assert_int_equal(l, lo);
	assert_int_equal(h, hi);
}

static void expect_spec_err(const char *spec, int err)
{
	__u32 ma = 1, l = 2, h = 3;

	assert_int_equal(ag_parse_devspec(spec, &ma, &l, &h), err);
	assert_int_equal(ma, 1);
	assert_int_equal(l, 2);
	assert_int_equal(h, 3);
}

static void test_devspec(void **state)
{
	expect_spec("195:0", 195, 0, 0);
	expect_spec("195:255", 195, 255, 255);
	expect_spec("195:0-7", 195, 0, 7);
	expect_spec("226:128-128", 226, 128, 128);
	expect_spec("261:*", 261, 0, AG_MINOR_ANY);
	expect_spec("4095:1048575", 4095, 1048575, 1048575);
	expect_spec("/dev/null", 1, 3, 3);

	expect_spec_err("", -EINVAL);
	expect_spec_err("195", -EINVAL);
	expect_spec_err("195:", -EINVAL);
	expect_spec_err(":1", -EINVAL);
	expect_spec_err("195:7-3", -EINVAL);
	expect_spec_err("195:1-", -EINVAL);
	expect_spec_err("195:-1", -EINVAL);
	expect_spec_err("195:a", -EINVAL);
	expect_spec_err("195:1x", -EINVAL);
	expect_spec_err("195:1 ", -EINVAL);
	expect_spec_err(" 195:1", -EINVAL);
	expect_spec_err("+195:1", -EINVAL);
	expect_spec_err("0195:1", -EINVAL);
	expect_spec_err("0:1", -EINVAL);
	expect_spec_err("4096:0", -EINVAL);
	expect_spec_err("195:1048576", -EINVAL);
	expect_spec_err("195:99999999999999999999", -EINVAL);
	expect_spec_err("195:**", -EINVAL);
	expect_spec_err("dev/nvidia0", -EINVAL);
	expect_spec_err("/nonexistent/nvidia0", -ENOENT);
	expect_spec_err("/", -ENOTBLK);
	expect_spec_err(AG_UNIT_FIXTURES "/proc_devices", -ENOTBLK);
}

/* A node made with mknod, as the tests and attackers make them; a block node is refused. */
static void test_devspec_mknod(void **state)
{
	struct fx *f = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/nvidia3", f->dir);
	if (mknod(path, S_IFCHR | 0600, makedev(195, 3))) {
		if (errno == EPERM)
			skip(); /* needs CAP_MKNOD */
		fail_msg("mknod %s: %s", path, strerror(errno));
	}
	expect_spec(path, 195, 3, 3);
	snprintf(path, sizeof(path), "%s/loop9", f->dir);
	assert_int_equal(mknod(path, S_IFBLK | 0600, makedev(7, 9)), 0);
	expect_spec_err(path, -ENOTBLK);
}

#define VFIO_SYS AG_UNIT_FIXTURES "/../../k8s/fixtures/vfio-sysfs"

/* VFIO groups (issue 22): those holding a GPU, classified by their own minors only */
static void test_vfio_groups(void **state)
{
	struct fx *f = *state;
	struct ag_vfio v;
	char err[256] = "";

	assert_int_equal(ag_vfio_scan(VFIO_SYS, &v, err, sizeof(err)), 0);
	/* by (major, minor): the per-device node devices/vfio0 (iommufd, 510:0) of 0000:c1:00.0,
	 * then group 12 (that 3D controller and its audio function), noiommu-2 (a display controller
	 * in no-IOMMU mode), 14 (a processing accelerator); not group 13 nor devices/vfio1 (a NIC),
	 * not "bogus" */
	assert_int_equal(v.scanned, 6);
	assert_int_equal(v.n, 4);
	assert_string_equal(v.g[0].name, "devices/vfio0");
	assert_true(v.g[0].cdev);
	assert_int_equal(v.g[0].major, 510);
	assert_int_equal(v.g[0].minor, 0);
	assert_string_equal(v.g[0].bdf, "0000:c1:00.0");
	assert_string_equal(v.g[0].vendor, "nvidia");
	assert_string_equal(v.g[1].name, "12");
	assert_false(v.g[1].cdev);
	assert_int_equal(v.g[1].group, 12);
	assert_int_equal(v.g[1].major, 511);
	assert_int_equal(v.g[1].minor, 0);
	assert_string_equal(v.g[1].bdf, "0000:c1:00.0");
	assert_string_equal(v.g[1].vendor, "nvidia");
	assert_false(v.g[1].noiommu);
	assert_string_equal(v.g[2].name, "noiommu-2");
	assert_int_equal(v.g[2].group, 2);
	assert_int_equal(v.g[2].minor, 2);
	assert_true(v.g[2].noiommu);
	assert_string_equal(v.g[2].vendor, "amd");
	assert_string_equal(v.g[2].bdf, "0000:00:05.0");
	assert_string_equal(v.g[3].bdf, "0000:d2:00.0");
	assert_string_equal(v.g[3].vendor, "");
	/* by PCI address: the GPU's nodes (its per-device node, then its group), in any of its
	 * spellings; not its audio function's */
	assert_ptr_equal(ag_vfio_by_bdf(&v, "0000:c1:00.0"), &v.g[0]);
	assert_ptr_equal(ag_vfio_next_by_bdf(&v, "0000:c1:00.0", &v.g[0]), &v.g[1]);
	assert_null(ag_vfio_next_by_bdf(&v, "0000:c1:00.0", &v.g[1]));
	assert_ptr_equal(ag_vfio_by_bdf(&v, "00000000:C1:00.0"), &v.g[0]);
	assert_ptr_equal(ag_vfio_by_bdf(&v, "c1:00.0"), &v.g[0]);
	assert_ptr_equal(ag_vfio_by_bdf(&v, "0000:00:05.0"), &v.g[2]);
	assert_null(ag_vfio_by_bdf(&v, "0000:c1:00.1"));
	assert_null(ag_vfio_by_bdf(&v, "0000:5f:00.0"));
	assert_null(ag_vfio_by_bdf(&v, "0000:c1:00.0x"));
	assert_null(ag_vfio_by_bdf(&v, "gpu0"));
	/* the classes: 510:0, 511:0 and 511:2-3; not the NICs' 510:1 and 511:1 */
	assert_int_equal(ag_devtab_add_vfio(&f->t, &v), 3);
	assert_string_equal(class_at(&f->t, 510, 0), AG_VFIO_CLASS);
	assert_string_equal(class_at(&f->t, 510, 1), "-");
	assert_string_equal(class_at(&f->t, 511, 0), AG_VFIO_CLASS);
	assert_string_equal(class_at(&f->t, 511, 1), "-");
	assert_string_equal(class_at(&f->t, 511, 2), AG_VFIO_CLASS);
	assert_string_equal(class_at(&f->t, 511, 3), AG_VFIO_CLASS);
	assert_string_equal(class_at(&f->t, 511, 4), "-");
	/* again: nothing new */
	assert_int_equal(ag_devtab_add_vfio(&f->t, &v), 3);
	ag_vfio_free(&v);
	/* no vfio module: nothing, no error */
	assert_int_equal(ag_vfio_scan(f->dir, &v, err, sizeof(err)), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(ag_devtab_add_vfio(&f->t, &v), 0);
}

/* more GPU groups, apart, than a major's ranges: the last range lumps the rest, and says so */
static void test_vfio_too_many_ranges(void **state)
{
	struct fx *f = *state;
	struct ag_vfio_group g[10];
	struct ag_vfio v = { .g = g, .n = 10 };

	memset(g, 0, sizeof(g));
	for (unsigned int i = 0; i < 10; i++) {
		g[i].major = 500;
		g[i].minor = 2 * i; /* 0, 2, ..., 18: a NIC's group between each */
	}
	assert_int_equal(ag_devtab_add_vfio(&f->t, &v), -E2BIG);
	assert_string_equal(class_at(&f->t, 500, 12), AG_VFIO_CLASS);
	assert_string_equal(class_at(&f->t, 500, 13), "-");
	assert_string_equal(class_at(&f->t, 500, 14), AG_VFIO_CLASS);
	assert_string_equal(class_at(&f->t, 500, 15), AG_VFIO_CLASS); /* lumped, said */
	assert_string_equal(class_at(&f->t, 500, 18), AG_VFIO_CLASS);
	assert_string_equal(class_at(&f->t, 500, 19), "-");
	{
		struct ag_major_entry *m = calloc(AG_MAX_MAJOR, sizeof(*m));

		assert_non_null(m);
		assert_int_equal(ag_devtab_fill_majors(&f->t, m), 0); /* it fits the kernel's table */
		assert_int_equal(m[500].n, AG_MAX_RANGES);
		free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_proc_devices_major, setup, teardown),
		cmocka_unit_test_setup_teardown(test_builtin_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vendor_and_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill_majors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill_majors_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devspec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devspec_mknod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfio_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfio_too_many_ranges, setup, teardown),
	};

	return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
