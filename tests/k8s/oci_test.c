// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The OCI bundle reader and the exposure computation (issue 22) on real bundles: config.json
 * files that Debian's containerd 1.6 wrote for the CRI (tests/containerd/exposure.sh's
 * containers: exactly its allocation, privileged, NVIDIA_VISIBLE_DEVICES=all, a device rule
 * c 195:*, a hostPath /dev, a sandbox), one in CRI-O's shape, and hostile ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devices.h"
#include <json-c/json.h>
#include "k8s/amd.h"
#include "k8s/cgroup.h"
#include "k8s/devmap.h"
#include "k8s/exposure.h"
#include "k8s/oci.h"

#ifndef FIXTURES
#define FIXTURES "tests/k8s/fixtures"
#endif

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/oci/%s", FIXTURES, name);
	f = fopen(path, "r");
	if (!f) {
		fail_msg("%s: %s", path, strerror(errno));
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void load(const char *name, struct k8s_oci *o)
{
	char err[512] = "";
	size_t len;
	char *buf = slurp(name, &len);
	int r = k8s_oci_parse(buf, len, name, o, err, sizeof(err));

	free(buf);
	if (r)
		fail_msg("%s: %d %s", name, r, err);
}

static void test_identity_containerd(void **state)
{
	struct k8s_oci o;

	(void)state;
	load("containerd-exact.json", &o);
	assert_int_equal(o.runtime, AG_RT_CONTAINERD);
	assert_true(o.has_identity);
	assert_false(o.sandbox);
	assert_string_equal(o.pod_ns, "expo");
	assert_string_equal(o.pod_name, "x-exact");
	assert_string_equal(o.pod_uid, "612781b0-296e-4ba8-a56e-b1d5a0421260");
	assert_string_equal(o.container_name, "main");
	assert_int_equal(o.n_devs, 1);
	assert_string_equal(o.devs[0].path, "/var/lib/agtest/dev/nvidia0");
	assert_int_equal(o.devs[0].major, 195);
	assert_int_equal(o.devs[0].minor, 0);
	assert_int_equal(o.n_rules, 2);
	assert_true(o.cap_mknod);
	assert_false(o.cap_sys_admin);
	assert_false(k8s_oci_privileged(&o));
	assert_non_null(k8s_oci_rule_for(&o, 195, 0));
	assert_null(k8s_oci_rule_for(&o, 195, 1));
	assert_int_equal(o.n_dev_mounts, 0); /* its /dev is the runtime's tmpfs */
	assert_null(o.env_nvidia);
	k8s_oci_free(&o);

	load("containerd-sandbox.json", &o);
	assert_true(o.sandbox);
	assert_true(o.has_identity);
	assert_string_equal(o.pod_name, "x-host");
	k8s_oci_free(&o);
}

static void test_identity_crio(void **state)
{
	struct k8s_oci o;

	(void)state;
	load("crio-container.json", &o);
	assert_int_equal(o.runtime, AG_RT_CRIO);
	assert_true(o.has_identity);
	assert_false(o.sandbox);
	assert_string_equal(o.pod_ns, "team-c");
	assert_string_equal(o.pod_name, "train-c");
	assert_string_equal(o.pod_uid, "2d6a7f0e-1c44-4f0b-9a53-58c1d2e3f4a5");
	assert_string_equal(o.container_name, "main");
	assert_string_equal(o.env_amd, "all");
	k8s_oci_free(&o);
}

/* the host of the fixtures: four GPUs (minors 0-3), /dev/kmsg as the test's accelerator, an AMD
 * render node */
static struct k8s_hostdev host[] = {
	{ "/dev/nvidia0", 195, 0, true, false }, { "/dev/nvidia1", 195, 1, true, false },
	{ "/dev/nvidia2", 195, 2, true, false }, { "/dev/nvidia3", 195, 3, true, false },
	{ "/dev/kmsg", 1, 11, false, false },    { "/dev/dri/renderD128", 226, 128, false, true },
};
#define N_HOST (sizeof(host) / sizeof(host[0]))

/* "MAJOR:MINOR=REASON|REASON ..." in the order of host[] */
static void expo_str(const struct ag_k8s_exposure *x, char *out, size_t len)
{
	size_t o = 0;

	out[0] = 0;
	for (unsigned int i = 0; i < x->n; i++) {
		o += (size_t)snprintf(out + o, len - o, "%s%u:%u=", i ? " " : "", x->d[i].major,
				      x->d[i].minor);
		for (unsigned int j = 0; j < x->d[i].n_reasons; j++)
			o += (size_t)snprintf(out + o, len - o, "%s%s", j ? "|" : "", x->d[i].reasons[j]);
	}
}

static void expect(const char *fixture, const struct ag_dev_range *alloc, unsigned int n_alloc,
		   const struct ag_nv_table *nv, const char *env_nvidia, const char *want)
{
	static struct ag_k8s_exposure x;
	struct k8s_oci o;
	char got[4096];
	int n;

	load(fixture, &o);
	if (env_nvidia) {
		free(o.env_nvidia);
		o.env_nvidia = strdup(env_nvidia);
	}
	n = k8s_exposure_compute(&o, host, N_HOST, alloc, n_alloc, nv, NULL, &x);
	expo_str(&x, got, sizeof(got));
	if (strcmp(got, want))
		fail_msg("%s: exposure\n  '%s', expected\n  '%s'", fixture, got, want);
	assert_int_equal(n, (int)x.n);
	assert_string_equal(x.file, fixture);
	k8s_oci_free(&o);
}

#define RULE "device-rule c 195:* rwm|CAP_MKNOD"

static void test_exposure(void **state)
{
	struct ag_dev_range g0 = { 195, 0, 0, 0 }, g1 = { 195, 1, 1, 0 };

	(void)state;
	expect("containerd-exact.json", &g0, 1, NULL, NULL, "");
	/* the same spec, allocated another GPU: its node is the extra one */
	expect("containerd-exact.json", &g1, 1, NULL, NULL, "195:0=device /var/lib/agtest/dev/nvidia0");
	expect("containerd-priv.json", NULL, 0, NULL, NULL,
	       "195:0=privileged 195:1=privileged 195:2=privileged 195:3=privileged 1:11=privileged "
	       "226:128=privileged");
	/* privileged, allocated GPU 0: everything else */
	expect("containerd-priv.json", &g0, 1, NULL, NULL,
	       "195:1=privileged 195:2=privileged 195:3=privileged 1:11=privileged 226:128=privileged");
	expect("containerd-env.json", NULL, 0, NULL, NULL,
	       "195:0=env NVIDIA_VISIBLE_DEVICES=all 195:1=env NVIDIA_VISIBLE_DEVICES=all "
	       "195:2=env NVIDIA_VISIBLE_DEVICES=all 195:3=env NVIDIA_VISIBLE_DEVICES=all");
	expect("containerd-rule.json", NULL, 0, NULL, NULL,
	       "195:0=" RULE " 195:1=" RULE " 195:2=" RULE " 195:3=" RULE);
	expect("containerd-host.json", &g1, 1, NULL, NULL,
	       "195:0=" RULE "|hostPath /dev 195:2=" RULE "|hostPath /dev 195:3=" RULE
	       "|hostPath /dev 1:11=hostPath /dev");
	/* the pause container runs nothing of the pod's */
	expect("containerd-sandbox.json", NULL, 0, NULL, NULL, "");
	/* CRI-O: its GPU, a rule c 226:* rw without a node, AMD_VISIBLE_DEVICES=all */
	expect("crio-container.json", &g1, 1, NULL, NULL,
	       "226:128=device-rule c 226:* rw|CAP_MKNOD|env AMD_VISIBLE_DEVICES=all");
}

static void test_exposure_env_list(void **state)
{
	struct ag_nv_gpu gpus[] = { /* sorted by bus id: NVML index 0 is minor 2 */
		{ "GPU-aaaaaaaa-0000-4000-8000-000000000002", "0000:1a:00.0", 2 },
		{ "GPU-aaaaaaaa-0000-4000-8000-000000000000", "0000:3b:00.0", 0 },
		{ "GPU-aaaaaaaa-0000-4000-8000-000000000001", "0000:5e:00.0", 1 },
		{ "GPU-aaaaaaaa-0000-4000-8000-000000000003", "0000:86:00.0", 3 },
	};
	struct ag_nv_table nv = { .gpus = gpus, .n_gpus = 4 };
	struct ag_dev_range g3 = { 195, 3, 3, 0 };

	(void)state;
	/* the device plugin's envvar strategy names the container's own GPU: nothing more */
	expect("containerd-exact.json", &g3, 1, &nv, "GPU-aaaaaaaa-0000-4000-8000-000000000003",
	       "195:0=device /var/lib/agtest/dev/nvidia0");
	/* index 0 (minor 2) and a UUID of minor 1, beside its own */
	expect("containerd-env.json", &g3, 1, &nv, "0,GPU-aaaaaaaa-0000-4000-8000-000000000001,3",
	       "195:1=env NVIDIA_VISIBLE_DEVICES=0,GPU-aaaaaaaa-0000-4000-8000-000000000001,3 "
	       "195:2=env NVIDIA_VISIBLE_DEVICES=0,GPU-aaaaaaaa-0000-4000-8000-000000000001,3");
	expect("containerd-env.json", NULL, 0, &nv, "void", "");
	expect("containerd-env.json", NULL, 0, &nv, "none", "");
}

/*
 * The visibility variables' forms, each read as the runtime that injects the nodes reads it.
 * env: the container's whole process.env, "NAME=VALUE" entries (NULL-terminated); a spec with
 * no devices, no rules, not privileged: only the variables can expose.
 */
static void expect_env(const char *const env[], const struct k8s_hostdev *hd, size_t n_hd,
		       const struct ag_dev_range *alloc, unsigned int n_alloc,
		       const struct ag_nv_table *nv, const struct k8s_amd_table *amd, const char *want)
{
	static struct ag_k8s_exposure x;
	json_object *root = json_object_new_object(), *proc = json_object_new_object(),
		    *arr = json_object_new_array();
	const char *doc;
	struct k8s_oci o;
	char got[8192], err[512] = "";
	size_t o_ = 0;
	int n;

	for (size_t i = 0; env[i]; i++)
		json_object_array_add(arr, json_object_new_string(env[i]));
	json_object_object_add(proc, "env", arr);
	json_object_object_add(root, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(root, "process", proc);
	doc = json_object_to_json_string(root);
	if (k8s_oci_parse(doc, strlen(doc), "env.json", &o, err, sizeof(err)))
		fail_msg("env.json: %s", err);
	json_object_put(root);
	n = k8s_exposure_compute(&o, hd, n_hd, alloc, n_alloc, nv, amd, &x);
	got[0] = 0;
	for (unsigned int i = 0; i < x.n; i++) {
		o_ += (size_t)snprintf(got + o_, sizeof(got) - o_, "%s%s=", i ? " " : "", x.d[i].path);
		for (unsigned int j = 0; j < x.d[i].n_reasons; j++)
			o_ += (size_t)snprintf(got + o_, sizeof(got) - o_, "%s%s", j ? "|" : "",
					       x.d[i].reasons[j]);
	}
	if (strcmp(got, want))
		fail_msg("env %.80s%s: exposure\n  '%.300s', expected\n  '%.300s'", env[0] ? env[0] : "(none)",
			 env[0] && env[1] ? " ..." : "", got, want);
	assert_int_equal(n, (int)x.n);
	k8s_oci_free(&o);
}

static struct ag_nv_gpu nv4[] = { /* sorted by bus id: NVML index 0 is minor 2 */
	{ "GPU-aaaaaaaa-0000-4000-8000-000000000002", "0000:1a:00.0", 2 },
	{ "GPU-aaaaaaaa-0000-4000-8000-000000000000", "0000:3b:00.0", 0 },
	{ "GPU-aaaaaaaa-0000-4000-8000-000000000001", "0000:5e:00.0", 1 },
	{ "GPU-aaaaaaaa-0000-4000-8000-000000000003", "0000:86:00.0", 3 },
};

#define E1(v) ((const char *const[]){ v, NULL })
#define NVE(v) "env NVIDIA_VISIBLE_DEVICES=" v

static void test_exposure_env_nvidia_forms(void **state)
{
	struct ag_nv_table nv = { .gpus = nv4, .n_gpus = 4 };
	struct ag_dev_range g3 = { 195, 3, 3, 0 };
	const struct k8s_hostdev *h = host;
	char *big;
	size_t off = 0;

	(void)state;
	/* entries trimmed; an index and a UUID */
	expect_env(E1("NVIDIA_VISIBLE_DEVICES= 0 , GPU-aaaaaaaa-0000-4000-8000-000000000000 ,3"), h,
		   N_HOST, &g3, 1, &nv, NULL,
		   "/dev/nvidia0=" NVE(" 0 , GPU-aaaaaaaa-0000-4000-8000-000000000000 ,3") " "
		   "/dev/nvidia2=" NVE(" 0 , GPU-aaaaaaaa-0000-4000-8000-000000000000 ,3"));
	/* a UUID without its prefix, in upper case */
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=AAAAAAAA-0000-4000-8000-000000000001"), h, N_HOST, &g3,
		   1, &nv, NULL, "/dev/nvidia1=" NVE("AAAAAAAA-0000-4000-8000-000000000001"));
	/* MIG devices: by index (GPU 0:MIG 1, the GPU of NVML index 0) and the older UUID form */
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=0:1"), h, N_HOST, &g3, 1, &nv, NULL,
		   "/dev/nvidia2=" NVE("0:1"));
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=MIG-GPU-aaaaaaaa-0000-4000-8000-000000000001/1/0"), h,
		   N_HOST, &g3, 1, &nv, NULL,
		   "/dev/nvidia1=" NVE("MIG-GPU-aaaaaaaa-0000-4000-8000-000000000001/1/0"));
	/* a MIG UUID's GPU is not in procfs: nothing the agent can name */
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=MIG-4f1b2e1c-9d2f-5c3b-8e5a-0b9a1f2e3d4c"), h, N_HOST,
		   &g3, 1, &nv, NULL, "");
	/* the first "all" or "none" decides; any "void", or no entry, is nothing */
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=1,all"), h, N_HOST, &g3, 1, &nv, NULL,
		   "/dev/nvidia0=" NVE("1,all") " /dev/nvidia1=" NVE("1,all") " /dev/nvidia2="
		   NVE("1,all"));
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=none,all"), h, N_HOST, &g3, 1, &nv, NULL, "");
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=all,void"), h, N_HOST, &g3, 1, &nv, NULL, "");
	expect_env(E1("NVIDIA_VISIBLE_DEVICES= , ,"), h, N_HOST, &g3, 1, &nv, NULL, "");
	expect_env(E1("NVIDIA_VISIBLE_DEVICES="), h, N_HOST, &g3, 1, &nv, NULL, "");
	/* "all" needs no table; a list does */
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=all"), h, N_HOST, &g3, 1, NULL, NULL,
		   "/dev/nvidia0=" NVE("all") " /dev/nvidia1=" NVE("all") " /dev/nvidia2=" NVE("all"));
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=0,1"), h, N_HOST, &g3, 1, NULL, NULL, "");
	/* garbage names no GPU: an index past the GPUs, a negative or huge one, a bad UUID */
	expect_env(E1("NVIDIA_VISIBLE_DEVICES=4,-1,+1,99999999999999999999999,0x1,GPU-nope,\x01\xff,1:,:1"),
		   h, N_HOST, &g3, 1, &nv, NULL, "");
	/* a legacy CUDA image (CUDA_VERSION, no NVIDIA_REQUIRE_CUDA) with the variable unset: all */
	expect_env(E1("CUDA_VERSION=8.0.61"), h, N_HOST, &g3, 1, &nv, NULL,
		   "/dev/nvidia0=env CUDA_VERSION=8.0.61 (legacy image: NVIDIA_VISIBLE_DEVICES unset is all) "
		   "/dev/nvidia1=env CUDA_VERSION=8.0.61 (legacy image: NVIDIA_VISIBLE_DEVICES unset is all) "
		   "/dev/nvidia2=env CUDA_VERSION=8.0.61 (legacy image: NVIDIA_VISIBLE_DEVICES unset is all)");
	expect_env(((const char *const[]){ "CUDA_VERSION=8.0.61", "NVIDIA_REQUIRE_CUDA=cuda>=8.0", NULL }),
		   h, N_HOST, &g3, 1, &nv, NULL, "");
	expect_env(((const char *const[]){ "CUDA_VERSION=8.0.61", "NVIDIA_VISIBLE_DEVICES=", NULL }), h,
		   N_HOST, &g3, 1, &nv, NULL, "");
	/* the last of a variable given twice wins */
	expect_env(((const char *const[]){ "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_VISIBLE_DEVICES=1", NULL }),
		   h, N_HOST, &g3, 1, &nv, NULL, "/dev/nvidia0=" NVE("1"));

	/* a long list is read whole (not cut at a buffer): its own GPU 300 times, then index 1 */
	big = malloc(64 * 1024);
	assert_non_null(big);
	off = (size_t)sprintf(big, "NVIDIA_VISIBLE_DEVICES=");
	for (int i = 0; i < 300; i++)
		off += (size_t)sprintf(big + off, "GPU-aaaaaaaa-0000-4000-8000-000000000003,");
	sprintf(big + off, "1");
	expect_env(E1(big), h, N_HOST, &g3, 1, &nv, NULL,
		   "/dev/nvidia0=" NVE("GPU-aaaaaaaa-0000-4000-8000-000000000003,GPU-aaaaaaaa-0000-4"));
	/* a list over K8S_ENV_MAX_ENTRIES is not looked up: every GPU, and the reason says so */
	off = (size_t)sprintf(big, "NVIDIA_VISIBLE_DEVICES=");
	for (int i = 0; i < 5000; i++)
		off += (size_t)sprintf(big + off, "%s3", i ? "," : "");
	expect_env(E1(big), h, N_HOST, &g3, 1, &nv, NULL,
		   "/dev/nvidia0=" NVE("3,3,3,3,3,3,... (5000 entries: all counted)") " /dev/nvidia1="
		   NVE("3,3,3,3,3,3,... (5000 entries: all counted)") " /dev/nvidia2="
		   NVE("3,3,3,3,3,3,... (5000 entries: all counted)"));
	free(big);
}

/* an AMD host: two GPUs and a partition (tests/k8s/fixtures/amd-sysfs), a device the KFD
 * topology does not know (card3, renderD131), another vendor's render node (renderD130) */
static struct k8s_hostdev amd_host[] = {
	{ "/dev/dri/card1", 226, 1, false, true },        { "/dev/dri/renderD128", 226, 128, false, true },
	{ "/dev/dri/card2", 226, 2, false, true },        { "/dev/dri/renderD129", 226, 129, false, true },
	{ "/dev/dri/card3", 226, 3, false, true },        { "/dev/dri/renderD131", 226, 131, false, true },
	{ "/dev/dri/card4", 226, 4, false, true },        { "/dev/dri/renderD132", 226, 132, false, true },
	{ "/dev/dri/renderD130", 226, 130, false, true },
};
#define N_AMD_HOST (sizeof(amd_host) / sizeof(amd_host[0]))

static void test_amd_table(void **state)
{
	struct k8s_amd_table t;
	char err[512] = "";

	(void)state;
	assert_int_equal(k8s_amd_load(FIXTURES "/amd-sysfs", &t, err, sizeof(err)), 0);
	/* grouped by PCI device in first-seen order (03:00, then 83:00 and its partition), by render
	 * minor within a group; c1:00 has no KFD topology node: left out, as the runtime leaves it */
	assert_int_equal(t.n, 3);
	assert_int_equal(t.gpus[0].n_drm, 2);
	assert_string_equal(t.gpus[0].drm[0], "/dev/dri/card1");
	assert_string_equal(t.gpus[0].drm[1], "/dev/dri/renderD128");
	assert_string_equal(t.gpus[0].group, "0000:03:00:0");
	assert_true(t.gpus[0].has_unique_id);
	assert_true(t.gpus[0].unique_id == 0x123456789abcdef0ULL);
	assert_string_equal(t.gpus[1].drm[1], "/dev/dri/renderD129");
	assert_string_equal(t.gpus[1].group, "0000:83:00:0");
	assert_true(t.gpus[1].unique_id == 0xfedcba9876543210ULL);
	assert_string_equal(t.gpus[2].drm[0], "/dev/dri/card4");
	assert_string_equal(t.gpus[2].drm[1], "/dev/dri/renderD132");
	assert_int_equal(t.gpus[2].render_minor, 132);
	k8s_amd_free(&t);
	/* no amdgpu driver: no AMD GPU, no error */
	assert_int_equal(k8s_amd_load(FIXTURES "/oci", &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 0);
}

#define AE(v) "env AMD_VISIBLE_DEVICES=" v

static void test_exposure_env_amd_forms(void **state)
{
	struct k8s_amd_table t;
	struct ag_dev_range own = { 226, 1, 1, 0 }; /* the container's own card of GPU 0 */
	const struct k8s_hostdev *h = amd_host;
	char err[512] = "", *big;
	size_t off;

	(void)state;
	assert_int_equal(k8s_amd_load(FIXTURES "/amd-sysfs", &t, err, sizeof(err)), 0);
	/* all: the table's GPUs' nodes (not card3, which the runtime does not number; not another
	 * vendor's renderD130) */
	expect_env(E1("AMD_VISIBLE_DEVICES=All"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/renderD128=" AE("All") " /dev/dri/card2=" AE("All") " /dev/dri/renderD129="
		   AE("All") " /dev/dri/card4=" AE("All") " /dev/dri/renderD132=" AE("All"));
	/* an index, a range, a Go integer with its sign */
	expect_env(E1("AMD_VISIBLE_DEVICES=1"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/card2=" AE("1") " /dev/dri/renderD129=" AE("1"));
	expect_env(E1("AMD_VISIBLE_DEVICES=1-2"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/card2=" AE("1-2") " /dev/dri/renderD129=" AE("1-2") " /dev/dri/card4="
		   AE("1-2") " /dev/dri/renderD132=" AE("1-2"));
	expect_env(E1("AMD_VISIBLE_DEVICES=+2"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/card4=" AE("+2") " /dev/dri/renderD132=" AE("+2"));
	/* unique ids: 0x and hex in any case, or more than 8 hex digits without it */
	expect_env(E1("AMD_VISIBLE_DEVICES=0XFEDCBA9876543210"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/card2=" AE("0XFEDCBA9876543210") " /dev/dri/renderD129=" AE("0XFEDCBA9876543210"));
	expect_env(E1("AMD_VISIBLE_DEVICES=123456789abcdef0"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/renderD128=" AE("123456789abcdef0"));
	/* not trimmed, unlike NVIDIA's: " 1" names nothing; nor do none, void, a reversed or open
	 * range, an index past the GPUs, an unknown id, garbage */
	expect_env(E1("AMD_VISIBLE_DEVICES= 1,none,void,2-1,-1,1-,3,0xdead,abcdef012,\x01\xff,1 "), h,
		   N_AMD_HOST, &own, 1, NULL, &t, "");
	/* a range far past the GPUs: the ones there */
	expect_env(E1("AMD_VISIBLE_DEVICES=2-9999999999"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/card4=" AE("2-9999999999") " /dev/dri/renderD132=" AE("2-9999999999"));
	/* DOCKER_RESOURCE_*: the same; the last of them and AMD_VISIBLE_DEVICES wins */
	expect_env(E1("DOCKER_RESOURCE_AMD_GPU=2"), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/card4=env DOCKER_RESOURCE_AMD_GPU=2 /dev/dri/renderD132=env DOCKER_RESOURCE_AMD_GPU=2");
	expect_env(((const char *const[]){ "AMD_VISIBLE_DEVICES=all", "DOCKER_RESOURCE_GPU=", NULL }), h,
		   N_AMD_HOST, &own, 1, NULL, &t, "");
	/* ROCR_VISIBLE_DEVICES and HIP_VISIBLE_DEVICES select among nodes there: no exposure */
	expect_env(((const char *const[]){ "ROCR_VISIBLE_DEVICES=0,1,2", "HIP_VISIBLE_DEVICES=all",
					   "CUDA_VISIBLE_DEVICES=0", NULL }),
		   h, N_AMD_HOST, &own, 1, NULL, &t, "");
	/* a list over the bound: every GPU, said */
	big = malloc(32 * 1024);
	assert_non_null(big);
	off = (size_t)sprintf(big, "AMD_VISIBLE_DEVICES=");
	for (int i = 0; i < 4097; i++)
		off += (size_t)sprintf(big + off, "%s0", i ? "," : "");
	expect_env(E1(big), h, N_AMD_HOST, &own, 1, NULL, &t,
		   "/dev/dri/renderD128=" AE("0,0,0,0,0,0,... (4097 entries: all counted)") " /dev/dri/card2="
		   AE("0,0,0,0,0,0,... (4097 entries: all counted)") " /dev/dri/renderD129="
		   AE("0,0,0,0,0,0,... (4097 entries: all counted)") " /dev/dri/card4="
		   AE("0,0,0,0,0,0,... (4097 entries: all counted)") " /dev/dri/renderD132="
		   AE("0,0,0,0,0,0,... (4097 entries: all counted)"));
	free(big);
	k8s_amd_free(&t);
}

/*
 * VFIO (a Kata-style sandbox's VMM opens /dev/vfio/N): a passthrough device plugin's id is the
 * GPU's PCI address; the allocation is that GPU's node while its driver holds it, else the VFIO
 * group holding it and its per-device node (tests/k8s/fixtures/vfio-sysfs: group 12 holds
 * 0000:c1:00.0 as 511:0, its iommufd node devices/vfio0 is 510:0, noiommu-2 holds 0000:00:05.0
 * as 511:2, group 13 a NIC).
 */
static void dp_ranges(struct k8s_devmap *m, const char *resource, const char *id, char *out,
		      size_t len, bool *unmapped)
{
	struct k8s_alloc a;
	size_t o = 0;

	memset(&a, 0, sizeof(a));
	k8s_map_dp(m, resource, id, &a);
	out[0] = 0;
	for (unsigned int i = 0; i < a.n; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%u:%u-%u", i ? " " : "", a.r[i].major,
				      a.r[i].lo, a.r[i].hi);
	*unmapped = a.unmapped;
}

static void test_vfio_allocation(void **state)
{
	struct k8s_devmap m;
	char got[256];
	bool un;

	(void)state;
	assert_int_equal(k8s_map_init(&m, FIXTURES "/proc", NULL, NULL, 0), 0);
	assert_int_equal(k8s_map_set_sys(&m, FIXTURES "/vfio-sysfs"), 0);
	/* its per-device node (iommufd) and its group: the VMM may open either */
	dp_ranges(&m, "nvidia.com/GH100_H100_PCIE", "0000:c1:00.0", got, sizeof(got), &un);
	assert_string_equal(got, "510:0-0 511:0-0");
	assert_false(un);
	dp_ranges(&m, "nvidia.com/GH100_H100_PCIE", "C1:00.0", got, sizeof(got), &un);
	assert_string_equal(got, "510:0-0 511:0-0");
	dp_ranges(&m, "amd.com/gpu", "0000:00:05.0", got, sizeof(got), &un); /* no-IOMMU mode */
	assert_string_equal(got, "511:2-2");
	/* the same address while the NVIDIA driver holds the GPU: its /dev/nvidiaN */
	dp_ranges(&m, "nvidia.com/gpu", "0000:3b:00.0", got, sizeof(got), &un);
	assert_string_equal(got, "195:1-1");
	/* a NIC's group, the GPU's audio function, no address: nothing */
	dp_ranges(&m, "nvidia.com/GH100_H100_PCIE", "0000:5f:00.0", got, sizeof(got), &un);
	assert_string_equal(got, "");
	assert_true(un);
	dp_ranges(&m, "nvidia.com/GH100_H100_PCIE", "0000:c1:00.1", got, sizeof(got), &un);
	assert_string_equal(got, "");
	k8s_map_fini(&m);
}

/* A bad file: refused with an error that names it and the cause. */
static void refused(const char *buf, size_t len, int want, const char *cause)
{
	struct k8s_oci o;
	char err[512] = "";
	int r = k8s_oci_parse(buf, len, "/run/x/config.json", &o, err, sizeof(err));

	if (r != want || !strstr(err, "/run/x/config.json") || !strstr(err, cause))
		fail_msg("got %d '%s', expected %d naming the file and '%s'", r, err, want, cause);
	assert_null(o.file);
	assert_int_equal(o.n_devs, 0);
}

#define HDR "{\"ociVersion\": \"1.0.2\", "

static void test_hostile(void **state)
{
	size_t big = K8S_OCI_MAX_BYTES + 1, n;
	char *b;

	(void)state;
	refused("{\"ociVersion\": ", 15, -EINVAL, "not JSON");
	refused("[1, 2]", 6, -EINVAL, "not a JSON object");
	refused("{\"a\": 1}", 8, -EINVAL, "no ociVersion");
	refused(HDR "\"x\": 1} {}", strlen(HDR "\"x\": 1} {}"), -EINVAL, "bytes after");
	refused(HDR "\"linux\": {\"devices\": [{\"path\": \"/dev/x\"}]}}",
		strlen(HDR "\"linux\": {\"devices\": [{\"path\": \"/dev/x\"}]}}"), -EINVAL,
		"linux.devices[0]");
	refused(HDR "\"linux\": {\"devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 99999, \"minor\": 1}]}}",
		strlen(HDR "\"linux\": {\"devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 99999, \"minor\": 1}]}}"),
		-EINVAL, "out of range");
	refused(HDR "\"linux\": {\"resources\": {\"devices\": [{\"allow\": true, \"access\": \"rwx\"}]}}}",
		strlen(HDR "\"linux\": {\"resources\": {\"devices\": [{\"allow\": true, \"access\": \"rwx\"}]}}}"),
		-EINVAL, "linux.resources.devices[0]: access");
	refused(HDR "\"linux\": {\"resources\": {\"devices\": [{\"allow\": \"yes\"}]}}}",
		strlen(HDR "\"linux\": {\"resources\": {\"devices\": [{\"allow\": \"yes\"}]}}}"), -EINVAL,
		"no boolean allow");

	/* white space after the object is fine, in a buffer that does not end in NUL; a NUL is not */
	{
		static const char doc[] = HDR "\"x\": 1}\n \t";
		struct k8s_oci o;
		char err[256];
		char *nb = malloc(sizeof(doc) - 1);

		assert_non_null(nb);
		memcpy(nb, doc, sizeof(doc) - 1);
		assert_int_equal(k8s_oci_parse(nb, sizeof(doc) - 1, "f", &o, err, sizeof(err)), 0);
		k8s_oci_free(&o);
		free(nb);
		refused(HDR "\"x\": 1} \0", strlen(HDR "\"x\": 1} ") + 1, -EINVAL, "bytes after");
	}

	/* nesting deeper than the parser's bound: refused, no stack spent on it */
	n = 200000;
	b = malloc(n * 2 + 64);
	assert_non_null(b);
	n = (size_t)sprintf(b, HDR "\"x\": ");
	for (size_t i = 0; i < 200000; i++)
		b[n++] = '[';
	refused(b, n, -EINVAL, "not JSON");
	free(b);

	/* too big: refused before parsing */
	b = malloc(big);
	assert_non_null(b);
	memset(b, ' ', big);
	refused(b, big, -E2BIG, "more than");
	free(b);

	/* more device nodes than the bound */
	b = malloc(64 + (size_t)(K8S_OCI_MAX_DEVS + 1) * 64);
	assert_non_null(b);
	n = (size_t)sprintf(b, HDR "\"linux\": {\"devices\": [");
	for (unsigned int i = 0; i <= K8S_OCI_MAX_DEVS; i++)
		n += (size_t)sprintf(b + n, "%s{\"path\":\"/dev/n%u\",\"type\":\"c\",\"major\":1,\"minor\":1}",
				     i ? "," : "", i);
	n += (size_t)sprintf(b + n, "]}}");
	refused(b, n, -E2BIG, "linux.devices has 8193 entries");
	free(b);
}

static char tmpd[64];

static void put(const char *path, const char *fixture)
{
	size_t len;
	char *buf = slurp(fixture, &len);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
}

#define ID_C "4a7d21b3c9e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829"
#define ID_O "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"

static void test_bundle_layouts(void **state)
{
	char p[512], found[512], err[512];
	const char *dirs[2];
	char d1[256], d2[256];
	struct k8s_oci o;

	(void)state;
	snprintf(tmpd, sizeof(tmpd), "/tmp/ag-oci-test.XXXXXX");
	assert_non_null(mkdtemp(tmpd));
	/* containerd: <state>/io.containerd.runtime.v2.task/k8s.io/<id>/config.json */
	snprintf(d1, sizeof(d1), "%s/io.containerd.runtime.v2.task", tmpd);
	assert_int_equal(mkdir(d1, 0700), 0);
	snprintf(d1, sizeof(d1), "%s/io.containerd.runtime.v2.task/k8s.io", tmpd);
	assert_int_equal(mkdir(d1, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s", d1, ID_C);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s/config.json", d1, ID_C);
	put(p, "containerd-exact.json");
	/* CRI-O: <runroot>/overlay-containers/<id>/userdata/config.json */
	snprintf(d2, sizeof(d2), "%s/overlay-containers", tmpd);
	assert_int_equal(mkdir(d2, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s", d2, ID_O);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s/userdata", d2, ID_O);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s/userdata/config.json", d2, ID_O);
	put(p, "crio-container.json");

	dirs[0] = d1;
	dirs[1] = d2;
	assert_int_equal(k8s_oci_find(dirs, 2, ID_C, found, sizeof(found)), 0);
	assert_int_equal(k8s_oci_load(found, &o, err, sizeof(err)), 0);
	assert_string_equal(o.pod_name, "x-exact");
	k8s_oci_free(&o);
	assert_int_equal(k8s_oci_find(dirs, 2, ID_O, found, sizeof(found)), 0);
	assert_non_null(strstr(found, "/userdata/config.json"));
	assert_int_equal(k8s_oci_load(found, &o, err, sizeof(err)), 0);
	assert_string_equal(o.pod_name, "train-c");
	assert_int_equal(o.runtime, AG_RT_CRIO);
	k8s_oci_free(&o);
	assert_int_equal(k8s_oci_find(dirs, 2, "0123abcd", found, sizeof(found)), -ENOENT);
	/* an id is a name, never a path */
	assert_int_equal(k8s_oci_find(dirs, 2, "../overlay-containers/" ID_O, found, sizeof(found)), -EINVAL);
	assert_int_equal(k8s_oci_find(dirs, 2, "", found, sizeof(found)), -EINVAL);

	/* a symlinked config.json is not followed; a directory is no config */
	snprintf(p, sizeof(p), "%s/link.json", tmpd);
	snprintf(found, sizeof(found), "%s/%s/config.json", d1, ID_C);
	assert_int_equal(symlink(found, p), 0);
	assert_int_equal(k8s_oci_load(p, &o, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, p));
	assert_int_equal(k8s_oci_load(tmpd, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(p, sizeof(p), "rm -rf '%s'", tmpd);
	assert_int_equal(system(p), 0);
}

static void test_hostdevs_scan(void **state)
{
	struct ag_devtab dt;
	struct k8s_hostdev *hd;
	struct ag_nv_gpu gpus[] = { { "GPU-x", "0000:3b:00.0", 5 } };
	struct ag_nv_table nv = { .gpus = gpus, .n_gpus = 1 };
	char d[64] = "/tmp/ag-oci-dev.XXXXXX", p[256], got[1024] = "";
	size_t n, o = 0;

	(void)state;
	if (geteuid())
		skip(); /* mknod */
	assert_int_equal(ag_devtab_init(&dt, NULL), 0);
	assert_non_null(mkdtemp(d));
	snprintf(p, sizeof(p), "%s/nvidia7", d);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(195, 7)), 0);
	snprintf(p, sizeof(p), "%s/nvidiactl", d); /* a control node: goes with any GPU */
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(195, 255)), 0);
	snprintf(p, sizeof(p), "%s/null", d);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(1, 3)), 0);
	snprintf(p, sizeof(p), "%s/dri", d);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/dri/renderD128", d);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(226, 128)), 0);
	snprintf(p, sizeof(p), "%s/gpu-link", d); /* symlinks are not followed */
	assert_int_equal(symlink("nvidia7", p), 0);
	assert_int_equal(k8s_hostdevs_scan(d, &dt, &nv, &hd, &n), 0);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s=%u:%u%s%s", i ? " " : "",
				      hd[i].path, hd[i].major, hd[i].minor,
				      hd[i].nvidia_gpu ? ",nv" : "", hd[i].drm ? ",drm" : "");
	free(hd);
	snprintf(p, sizeof(p), "rm -rf '%s'", d);
	assert_int_equal(system(p), 0);
	/* readdir order: compare as a set */
	assert_int_equal(n, 3);
	assert_non_null(strstr(got, "/dev/nvidia7=195:7,nv"));
	assert_non_null(strstr(got, "/dev/dri/renderD128=226:128,drm"));
	assert_non_null(strstr(got, "/dev/nvidia5=195:5,nv")); /* procfs's GPU without a node here */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_containerd),
		cmocka_unit_test(test_identity_crio),
		cmocka_unit_test(test_exposure),
		cmocka_unit_test(test_exposure_env_list),
		cmocka_unit_test(test_exposure_env_nvidia_forms),
		cmocka_unit_test(test_amd_table),
		cmocka_unit_test(test_exposure_env_amd_forms),
		cmocka_unit_test(test_vfio_allocation),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bundle_layouts),
		cmocka_unit_test(test_hostdevs_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
