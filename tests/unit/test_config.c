// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The YAML configuration: a full fixture and small good files, then every class of bad file,
 * each asserting the whole error, "FILE:LINE: reason", and that nothing is left allocated.
 */
#include <linux/types.h>
#include <fcntl.h>
#include <sys/mount.h>

#include "unit.h"

#include "accelguard.h"
#include "config.h"
#include "util.h"

struct fx {
	char *dir;
	char *path;
	struct ag_config cfg;
	char err[1024];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = ag_unit_mkdtemp();
	if (!f->dir) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ag_config_free(&f->cfg);
	ag_unit_rmrf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static int load(struct fx *f, const char *text)
{
	ag_config_free(&f->cfg);
	free(f->path);
	f->path = ag_unit_write(f->dir, "accelguard.yaml", text);
	return ag_config_load(f->path, &f->cfg, f->err, sizeof(f->err));
}

static void load_ok(struct fx *f, const char *text)
{
	int rc = load(f, text);

	if (rc)
		fail_msg("refused (%d): %s\n--- config:\n%s", rc, f->err, text);
	assert_string_equal(f->err, "");
}

struct bad {
	const char *text;
	int line;
	const char *reason;
};

static void expect_refused(struct fx *f, const struct bad *b)
{
	char want[1024];
	int rc = load(f, b->text);

	snprintf(want, sizeof(want), "%s:%d: %s", f->path, b->line, b->reason);
	if (rc != -EINVAL || strcmp(f->err, want))
		fail_msg("--- config:\n%s--- got (rc %d):\n%s\n--- expected:\n%s", b->text, rc, f->err,
			 want);
	/* a refused file leaves nothing behind */
	assert_null(f->cfg.path);
	assert_null(f->cfg.tenants);
	assert_null(f->cfg.allocs);
	assert_int_equal(f->cfg.n_devices, 0);
}

#define EXPECT_ALL_REFUSED(f, table)                                            \
	do {                                                                     \
		size_t i_;                                                       \
		for (i_ = 0; i_ < sizeof(table) / sizeof(table[0]); i_++)        \
			expect_refused((f), &(table)[i_]);                       \
	} while (0)

/* ---- good files ---- */

static void test_full_fixture(void **state)
{
	struct fx *f = *state;
	struct ag_config *c = &f->cfg;

	/* a copy: the checkout's directories may be group-writable (ag_unit_copy) */
	f->path = ag_unit_copy(f->dir, "full.yaml", AG_UNIT_FIXTURES "/full.yaml");
	if (ag_config_load(f->path, c, f->err, sizeof(f->err)))
		fail_msg("%s", f->err);
	assert_string_equal(c->path, f->path);
	assert_int_equal(c->mode, AG_MODE_ENFORCE);
	assert_true(c->unresolved_deny);
	assert_int_equal(c->rate_limit, 250);

	assert_int_equal(c->n_tenants, 2);
	assert_string_equal(c->tenants[0], "/tenants/*");
	assert_string_equal(c->tenants[1], "/kubepods.slice/**/cri-containerd-*.scope");

	assert_int_equal(c->n_exempt, 2);
	assert_string_equal(c->exempt[0], "/system.slice/nvidia-dcgm.service");
	assert_string_equal(c->exempt[1], "/tenants/trusted");
	assert_int_equal(c->n_exempt_k8s, 2);
	assert_string_equal(c->exempt_k8s[0].namespace, "gpu-operator");
	assert_int_equal(c->exempt_k8s[0].n_labels, 0);
	assert_null(c->exempt_k8s[0].service_account);
	assert_int_equal(c->exempt_k8s[0].line, 13);
	assert_null(c->exempt_k8s[1].namespace);
	assert_int_equal(c->exempt_k8s[1].n_labels, 2);
	assert_string_equal(c->exempt_k8s[1].label_keys[0], "app");
	assert_string_equal(c->exempt_k8s[1].label_values[0], "nvidia-device-plugin-daemonset");
	assert_string_equal(c->exempt_k8s[1].label_keys[1], "tier");
	assert_string_equal(c->exempt_k8s[1].label_values[1], "");
	assert_string_equal(c->exempt_k8s[1].service_account, "nvidia-device-plugin");
	assert_int_equal(c->exempt_k8s[1].line, 14);

	assert_int_equal(c->n_devices, 4);
	assert_string_equal(c->devices[0].class_name, "tpu");
	assert_int_equal(c->devices[0].major, 121);
	assert_int_equal(c->devices[0].lo, 0);
	assert_int_equal(c->devices[0].hi, AG_MINOR_ANY); /* no minor: all of them */
	assert_int_equal(c->devices[0].line, 20);
	assert_int_equal(c->devices[1].major, 122);
	assert_int_equal(c->devices[1].lo, 4);
	assert_int_equal(c->devices[1].hi, 4);
	assert_string_equal(c->devices[2].class_name, "npu");
	assert_int_equal(c->devices[2].lo, 0);
	assert_int_equal(c->devices[2].hi, 7);
	assert_int_equal(c->devices[3].lo, 0);
	assert_int_equal(c->devices[3].hi, AG_MINOR_ANY);

	assert_int_equal(c->n_allocs, 2);
	assert_string_equal(c->allocs[0].cgroup, "/tenants/a");
	assert_int_equal(c->allocs[0].line, 33);
	assert_int_equal(c->allocs[0].n_devices, 3);
	assert_string_equal(c->allocs[0].devices[0].spec, "195:0");
	assert_int_equal(c->allocs[0].devices[0].major, 195);
	assert_int_equal(c->allocs[0].devices[0].lo, 0);
	assert_int_equal(c->allocs[0].devices[0].hi, 0);
	assert_int_equal(c->allocs[0].devices[0].line, 34);
	assert_int_equal(c->allocs[0].devices[1].lo, 2);
	assert_int_equal(c->allocs[0].devices[1].hi, 3);
	assert_string_equal(c->allocs[0].devices[2].spec, "/dev/null"); /* resolved at load */
	assert_int_equal(c->allocs[0].devices[2].major, 1);
	assert_int_equal(c->allocs[0].devices[2].lo, 3);
	assert_int_equal(c->allocs[0].devices[2].hi, 3);
	assert_int_equal(c->allocs[1].n_devices, 1);
	assert_int_equal(c->allocs[1].devices[0].major, 261);
	assert_int_equal(c->allocs[1].devices[0].hi, AG_MINOR_ANY);
	assert_int_equal(c->allocs[1].devices[0].line, 37);

	assert_true(c->kubernetes.present);
	assert_string_equal(c->kubernetes.node_name, "node-1");
	assert_string_equal(c->kubernetes.podresources_socket,
			    "/var/lib/kubelet/pod-resources/kubelet.sock");
	assert_string_equal(c->kubernetes.cri_socket, "off");
	assert_string_equal(c->kubernetes.api_server, "https://10.0.0.1:6443");
	assert_string_equal(c->kubernetes.token_file,
			    "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_string_equal(c->kubernetes.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");

	assert_string_equal(c->host.proc, "/fixtures/proc");
	assert_int_equal(c->host.n_cdi_dirs, 2);
	assert_string_equal(c->host.cdi_dirs[0], "/etc/cdi");
	assert_string_equal(c->host.cdi_dirs[1], "/var/run/cdi");

	ag_config_free(c);
	assert_null(c->path);
	assert_int_equal(c->n_tenants, 0);
	ag_config_free(c); /* twice is harmless */
}

static void test_defaults(void **state)
{
	struct fx *f = *state;
	struct ag_config *c = &f->cfg;

	load_ok(f, "tenants: [/tenants/*]\n");
	assert_int_equal(c->mode, AG_MODE_AUDIT);
	assert_false(c->unresolved_deny);
	assert_int_equal(c->rate_limit, 1000);
	assert_int_equal(c->n_tenants, 1);
	assert_int_equal(c->n_exempt, 0);
	assert_int_equal(c->n_exempt_k8s, 0);
	assert_int_equal(c->n_devices, 0);
	assert_int_equal(c->n_allocs, 0);
	assert_false(c->kubernetes.present);
	assert_null(c->kubernetes.node_name);
	assert_null(c->host.proc);
	assert_null(c->host.sys);
	assert_int_equal(c->host.n_cdi_dirs, 0);
}

static void test_small_good(void **state)
{
	struct fx *f = *state;
	struct ag_config *c = &f->cfg;

	load_ok(f, "mode: audit\nunresolved: allow\nrate_limit: 100\n");
	assert_int_equal(c->mode, AG_MODE_AUDIT);
	assert_false(c->unresolved_deny);
	assert_int_equal(c->rate_limit, 100);
	assert_int_equal(c->reads, AG_READS_EVERY_USE);
	load_ok(f, "reads: arrival\n");
	assert_int_equal(c->reads, AG_READS_ARRIVAL);
	load_ok(f, "reads: every_use\n");
	assert_int_equal(c->reads, AG_READS_EVERY_USE);

	/* "kubernetes:" alone turns it on with every default */
	load_ok(f, "kubernetes:\n");
	assert_true(c->kubernetes.present);
	assert_null(c->kubernetes.api_server);
	load_ok(f, "kubernetes: {}\n");
	assert_true(c->kubernetes.present);
	load_ok(f, "kubernetes: {api_server: \"off\", podresources_socket: off}\n");
	assert_string_equal(c->kubernetes.api_server, "off");
	assert_string_equal(c->kubernetes.podresources_socket, "off");
	assert_false(c->kubernetes.events); /* Events and reports: off unless asked for */
	assert_int_equal(c->kubernetes.reports, AG_REPORTS_OFF);
	load_ok(f, "kubernetes: {events: on, reports: wgpolicyk8s}\n");
	assert_true(c->kubernetes.events);
	assert_int_equal(c->kubernetes.reports, AG_REPORTS_WGPOLICY);
	load_ok(f, "kubernetes: {events: off, reports: openreports}\n");
	assert_false(c->kubernetes.events);
	assert_int_equal(c->kubernetes.reports, AG_REPORTS_OPENREPORTS);

	/* flow style, quoting, comments, anchors, an explicit document start */
	load_ok(f, "---\n# tenants\ntenants: &t ['/a/*', \"/b/**\"]  # two\nexempt: [/c, {cgroup: /d}]\n"
		   "allocations: [{cgroup: /a/x, devices: ['195:0-1']}]\n...\n");
	assert_int_equal(c->n_tenants, 2);
	assert_string_equal(c->tenants[1], "/b/**");
	assert_int_equal(c->n_exempt, 2);
	assert_string_equal(c->exempt[1], "/d");
	assert_int_equal(c->allocs[0].devices[0].hi, 1);

	/* empty lists are fine */
	load_ok(f, "tenants: []\nexempt: []\ndevices: []\nallocations: []\n");
	assert_int_equal(c->n_tenants, 0);

	/* a class may repeat a built-in one exactly, and extend its own */
	load_ok(f, "devices:\n  - {class: nvidia-gpu, major: 195, minors: \"0-7\"}\n"
		   "  - {class: x, major: 300, minor: 0}\n  - {class: x, major: 300, minor: 1}\n");
	assert_int_equal(c->n_devices, 3);

	/* loading again into a used config replaces it */
	load_ok(f, "mode: enforce\n");
	assert_int_equal(c->mode, AG_MODE_ENFORCE);
	assert_int_equal(c->n_devices, 0);
}

static void test_mode_names(void **state)
{
	assert_int_equal(ag_mode_parse("audit"), AG_MODE_AUDIT);
	assert_int_equal(ag_mode_parse("enforce"), AG_MODE_ENFORCE);
	assert_int_equal(ag_mode_parse("Enforce"), -EINVAL);
	assert_int_equal(ag_mode_parse(""), -EINVAL);
	assert_int_equal(ag_mode_parse(NULL), -EINVAL);
	assert_string_equal(ag_mode_name(AG_MODE_AUDIT), "audit");
	assert_string_equal(ag_mode_name(AG_MODE_ENFORCE), "enforce");
	assert_string_equal(ag_mode_name(7), "unknown");
}

/* ---- files that cannot be read, or are not one YAML mapping ---- */

static void test_file_errors(void **state)
{
	struct fx *f = *state;
	char want[1024], *missing;
	int rc;

	assert_true(asprintf(&missing, "%s/absent.yaml", f->dir) > 0);
	rc = ag_config_load(missing, &f->cfg, f->err, sizeof(f->err));
	assert_int_equal(rc, -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", missing);
	assert_string_equal(f->err, want);
	free(missing);

	/* a directory without *.yaml files */
	rc = ag_config_load(f->dir, &f->cfg, f->err, sizeof(f->err));
	assert_int_equal(rc, -ENOENT);
	snprintf(want, sizeof(want), "%s: a directory without *.yaml files", f->dir);
	assert_string_equal(f->err, want);

	/* no room for the message: still refused, nothing written out of bounds */
	rc = ag_config_load(f->dir, &f->cfg, NULL, 0);
	assert_int_equal(rc, -ENOENT);

	/* not a regular file */
	rc = ag_config_load("/dev/null", &f->cfg, f->err, sizeof(f->err));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(f->err, "/dev/null: not a regular file");
}

/* A directory: its *.yaml files in byte order, each on top of the ones before (a Kubernetes
 * overlay's file over the base's, in one ConfigMap). */
static void test_directory_layers(void **state)
{
	struct fx *f = *state;
	char *d, *p, want[1024];

	assert_true(asprintf(&d, "%s/cm", f->dir) > 0);
	assert_int_equal(mkdir(d, 0755), 0);
	free(ag_unit_write(d, "config.yaml",
			   "mode: audit\nunresolved: deny\ntenants: [\"/a/*\", \"/b/*\"]\n"
			   "kubernetes:\n  node_name: n1\n  events: on\n  reports: wgpolicyk8s\n"
			   "metrics:\n  listen: 0.0.0.0:9464\n  max_series: 1000\n"
			   "journal:\n  dir: /var/log/x\n  max_kb: 65536\n"));
	free(ag_unit_write(d, "mode.yaml", "mode: enforce\nunresolved: allow\n"
			   "kubernetes:\n  reports: openreports\n  events: off\n"
			   "metrics:\n  pod_labels: true\njournal:\n  segment_kb: 1024\n"
			   "tenants: [\"/c/*\"]\n"));
	free(ag_unit_write(d, "..hidden.yaml", "mode: nonsense\n"));
	free(ag_unit_write(d, "README", "not yaml: [\n"));
	assert_int_equal(ag_config_load(d, &f->cfg, f->err, sizeof(f->err)), 0);
	assert_int_equal(f->cfg.mode, AG_MODE_ENFORCE);
	assert_false(f->cfg.unresolved_deny);
	assert_true(f->cfg.kubernetes.present);
	assert_string_equal(f->cfg.kubernetes.node_name, "n1"); /* kept: merged key by key */
	assert_false(f->cfg.kubernetes.events);
	assert_int_equal(f->cfg.kubernetes.reports, AG_REPORTS_OPENREPORTS);
	assert_string_equal(f->cfg.metrics.listen, "0.0.0.0:9464");
	assert_int_equal(f->cfg.metrics.max_series, 1000);
	assert_true(f->cfg.metrics.pod_labels);
	assert_string_equal(f->cfg.journal.dir, "/var/log/x");
	assert_int_equal(f->cfg.journal.max_kb, 65536);
	assert_int_equal(f->cfg.journal.segment_kb, 1024);
	assert_int_equal(f->cfg.journal.flush_ms, 1000);
	assert_int_equal(f->cfg.n_tenants, 1); /* a list is replaced whole */
	assert_string_equal(f->cfg.tenants[0], "/c/*");
	assert_string_equal(f->cfg.path, d);
	ag_config_free(&f->cfg);

	/* an error names the file of the directory that has it, and its line */
	free(ag_unit_write(d, "zz-bad.yaml", "metrics:\n  max_series: 3\n"));
	assert_int_equal(ag_config_load(d, &f->cfg, f->err, sizeof(f->err)), -EINVAL);
	assert_true(asprintf(&p, "%s/zz-bad.yaml:2: ", d) > 0);
	snprintf(want, sizeof(want), "%s", p);
	assert_non_null(strstr(f->err, want));
	free(p);
	ag_config_free(&f->cfg);
	free(d);
}

static void test_not_a_mapping(void **state)
{
	static const struct bad bad[] = {
		{ "", 1, "empty configuration (expected a mapping of settings: mode, tenants, ...)" },
		{ "# only a comment\n\n", 1,
		  "empty configuration (expected a mapping of settings: mode, tenants, ...)" },
		{ "---\n", 1, "empty configuration (expected a mapping of settings: mode, tenants, ...)" },
		{ "# settings\n- /tenants/*\n", 2,
		  "expected a mapping of settings (mode, tenants, ...) at the top level, found a list" },
		{ "\naudit\n", 2,
		  "expected a mapping of settings (mode, tenants, ...) at the top level, found 'audit'" },
		{ "mode: audit\n---\nmode: enforce\n", 2, "more than one YAML document (only one is read)" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_invalid_yaml(void **state)
{
	static const struct bad bad[] = {
		{ "mode: audit\ntenants: [/a, /b\nexempt: []\n", 3,
		  "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence on line 2)" },
		{ "mode: audit\n\ttenants: []\n", 2,
		  "invalid YAML: found a tab character that violates indentation (while scanning a plain scalar on line 1)" },
		{ "mode: audit\ntenants:\n  - /a\n bad: 1\n", 4,
		  "invalid YAML: did not find expected key (while parsing a block mapping on line 1)" },
		{ "mode: audit\nrate_limit: 100: 200\n", 2,
		  "invalid YAML: mapping values are not allowed in this context" },
		{ "tenants:\n  - *nosuch\n", 2,
		  "invalid YAML: found undefined alias" },
		{ "mode: audit\ntenants:\n  - \"/a\xff\"\n", 3,
		  "invalid YAML: invalid leading UTF-8 octet" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_unknown_and_duplicate_keys(void **state)
{
	static const struct bad bad[] = {
		{ "mode: audit\n\ntenant: [/a]\n", 3,
		  "unknown key 'tenant' (expected one of: mode, unresolved, rate_limit, reads, pin_dir, tenants, exempt, devices, allocations, kubernetes, host, metrics, journal, selftest)" },
		{ "mode: audit\nmode: enforce\n", 2, "duplicate key 'mode' (first on line 1)" },
		{ "? [a, b]\n: 1\n", 1, "expected a key name, found a list" },
		{ "kubernetes:\n  node_name: n\n  apiserver: https://x\n", 3,
		  "unknown key 'apiserver' in kubernetes (expected one of: node_name, podresources_socket, cri_socket, api_server, token_file, ca_file, events, reports)" },
		{ "kubernetes:\n  events: yes please\n", 2,
		  "kubernetes.events: expected on or off, found 'yes please'" },
		{ "kubernetes: {reports: policyreport}\n", 1,
		  "kubernetes.reports: expected wgpolicyk8s, openreports or off, found 'policyreport'" },
		{ "host:\n  proc: /proc\n  proc: /p\n", 3, "host: duplicate key 'proc' (first on line 2)" },
		{ "host: {cdi: [/x]}\n", 1, "unknown key 'cdi' in host (expected one of: proc, sys, cdi_dirs, bundle_dirs)" },
		{ "devices:\n  - class: x\n    major: 300\n    minro: 1\n", 4,
		  "unknown key 'minro' in devices[0] (expected one of: class, major, minor, minors)" },
		{ "allocations:\n  - cgroup: /a\n    device: ['195:0']\n", 3,
		  "unknown key 'device' in allocations[0] (expected one of: cgroup, devices)" },
		{ "exempt:\n  - namespace: a\n    service_account: b\n", 3,
		  "unknown key 'service_account' in exempt[0] (expected one of: cgroup, namespace, labels, serviceAccount)" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_bad_scalars(void **state)
{
	static const struct bad bad[] = {
		{ "mode: audti\n", 1, "mode: expected audit or enforce, found 'audti'" },
		{ "mode: Enforce\n", 1, "mode: expected audit or enforce, found 'Enforce'" },
		{ "mode:\n", 1, "mode: expected audit or enforce, found nothing" },
		{ "mode: [audit]\n", 1, "mode: expected audit or enforce, found a list" },
		{ "unresolved: maybe\n", 1, "unresolved: expected allow or deny, found 'maybe'" },
		{ "reads: every\n", 1, "reads: expected every_use or arrival, found 'every'" },
		{ "reads: [arrival]\n", 1, "reads: expected every_use or arrival, found a list" },
		{ "unresolved: {deny: true}\n", 1, "unresolved: expected allow or deny, found a mapping" },
#define RL "rate_limit: expected an integer from 100 to 10000000 (violation events per tenant per second), found "
		{ "mode: audit\nrate_limit: 50\n", 2, RL "'50'" },
		{ "rate_limit: 99\n", 1, RL "'99'" },
		{ "rate_limit: -500\n", 1, RL "'-500'" },
		{ "rate_limit: 1e3\n", 1, RL "'1e3'" },
		{ "rate_limit: 0x400\n", 1, RL "'0x400'" },
		{ "rate_limit: 0500\n", 1, RL "'0500'" },
		{ "rate_limit: \"500\"\n", 1, RL "'500'" },
		{ "rate_limit: 1_000\n", 1, RL "'1_000'" },
		{ "rate_limit: 10000001\n", 1, RL "'10000001'" },
		{ "rate_limit: 99999999999999999999999\n", 1, RL "'99999999999999999999999'" },
		{ "rate_limit:\n", 1, RL "nothing" },
#undef RL
		{ "pin_dir: sys/fs/bpf/x\n", 1, "pin_dir: expected an absolute path or off, found 'sys/fs/bpf/x'" },
		{ "pin_dir:\n", 1, "pin_dir: expected an absolute path or off, found nothing" },
		/* a NUL in any scalar: the parsers compare C strings, and "enforce\0junk" read as
		 * enforce (or as audit where the check came first) */
#define NUL " (no setting takes one)"
		{ "mode: \"enforce\\0junk\"\n", 1, "mode: a NUL byte in 'enforce?junk'" NUL },
		{ "mode: audit\nunresolved: \"deny\\0x\"\n", 2, "unresolved: a NUL byte in 'deny?x'" NUL },
		{ "mode: \"audit\\0\"\n", 1, "mode: a NUL byte in 'audit?'" NUL },
		{ "kubernetes:\n  events: \"off\\0on\"\n", 2, "kubernetes.events: expected on or off, found a string with a NUL byte" },
		{ "kubernetes:\n  reports: \"off\\0\"\n", 2, "kubernetes.reports: expected wgpolicyk8s, openreports or off, found a string with a NUL byte" },
		{ "exempt:\n  - labels: {app: \"dcgm\\0x\"}\n", 2, "exempt[0].labels.app: expected a label value (a string; \"\" for empty), found 'dcgm?x'" },
		{ "exempt:\n  - labels: {\"app\\0x\": dcgm}\n", 2, "exempt[0].labels: expected a label name, found a string with a NUL byte" },
		{ "\"mode\\0x\": audit\n", 1, "expected a key name, found a key with a NUL byte" },
		{ "metrics:\n  pod_labels: \"false\\0\"\n", 2, "pod_labels: a NUL byte in 'false?'" NUL },
		{ "selftest:\n  at_start: \"true\\0\"\n", 2, "at_start: a NUL byte in 'true?'" NUL },
		{ "tenants: [/a]\nexempt:\n  - labels: {app: x}\n    namespace: \"ns\\0\"\n", 4,
		  "exempt[0].namespace: expected a namespace name, found a string with a NUL byte" },
#undef NUL
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_bad_tenants(void **state)
{
	static const struct bad bad[] = {
		{ "tenants: /tenants/*\n", 1, "tenants: expected a list of cgroup patterns, found '/tenants/*'" },
		{ "tenants:\n", 1, "tenants: expected a list of cgroup patterns, found nothing" },
		{ "tenants:\n  - /ok\n  - tenants/*\n", 3,
		  "tenants[1]: bad cgroup pattern 'tenants/*': must start with '/' (paths are relative to the cgroup2 root)" },
		{ "tenants:\n  - /a/b**\n", 2,
		  "tenants[0]: bad cgroup pattern '/a/b**': '**' must be a whole path component" },
		{ "tenants:\n  - /a/[x\n", 2, "tenants[0]: bad cgroup pattern '/a/[x': unterminated '[' in a path component" },
		{ "tenants: ['/a//b']\n", 1, "tenants[0]: bad cgroup pattern '/a//b': empty path component ('//')" },
		{ "tenants: [/a/../b]\n", 1, "tenants[0]: bad cgroup pattern '/a/../b': '.' and '..' are not allowed" },
		{ "tenants:\n  -\n", 2, "tenants[0]: expected a cgroup pattern, found nothing" },
		{ "tenants: [\"\"]\n", 1, "tenants[0]: expected a cgroup pattern, found an empty string" },
		{ "tenants:\n  - {cgroup: /a}\n", 2, "tenants[0]: expected a cgroup pattern, found a mapping" },
		{ "tenants: [\"/a\\0b\"]\n", 1, "tenants[0]: expected a cgroup pattern, found a string with a NUL byte" },
		{ "tenants: [\"/a\\nb\"]\n", 1, "tenants[0]: bad cgroup pattern '/a?b': contains a control character" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_bad_exempt(void **state)
{
	static const struct bad bad[] = {
		{ "exempt: /a\n", 1,
		  "exempt: expected a list of cgroup patterns or {cgroup, namespace, labels, serviceAccount} mappings, found '/a'" },
		{ "exempt:\n  - relative\n", 2,
		  "exempt[0]: bad cgroup pattern 'relative': must start with '/' (paths are relative to the cgroup2 root)" },
		{ "exempt:\n  - [/a]\n", 2, "exempt[0]: expected a cgroup pattern or a mapping, found a list" },
		{ "exempt:\n  - /a\n  - {}\n", 3,
		  "exempt[1]: expected at least one of cgroup, namespace, labels, serviceAccount" },
		{ "exempt:\n  - cgroup: x\n", 2,
		  "exempt[0].cgroup: bad cgroup pattern 'x': must start with '/' (paths are relative to the cgroup2 root)" },
		{ "exempt:\n  - namespace: gpu-operator\n    cgroup: /a\n", 3,
		  "exempt[0].cgroup: cannot be combined with namespace, labels or serviceAccount in one exemption; write two entries" },
		{ "exempt:\n  - namespace: \"\"\n", 2, "exempt[0].namespace: expected a namespace name, found an empty string" },
		{ "exempt:\n  - namespace: [a, b]\n", 2, "exempt[0].namespace: expected a namespace name, found a list" },
		{ "exempt:\n  - serviceAccount:\n", 2,
		  "exempt[0].serviceAccount: expected a service account name, found nothing" },
		{ "exempt:\n  - labels: app\n", 2,
		  "exempt[0].labels: expected a mapping of label names to values, found 'app'" },
		{ "exempt:\n  - labels: {}\n", 2,
		  "exempt[0].labels: expected at least one label (an empty selector would match every pod)" },
		{ "exempt:\n  - labels:\n      app: dcgm\n      tier:\n", 4,
		  "exempt[0].labels.tier: expected a label value (a string; \"\" for empty), found nothing" },
		{ "exempt:\n  - labels:\n      app: dcgm\n      app: x\n", 4,
		  "exempt[0].labels: duplicate label 'app' (first on line 3)" },
		{ "exempt:\n  - labels: {app: [a]}\n", 2,
		  "exempt[0].labels.app: expected a label value (a string; \"\" for empty), found a list" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_bad_devices(void **state)
{
	static const struct bad bad[] = {
		{ "devices: {class: x}\n", 1,
		  "devices: expected a list of {class, major, minor | minors} mappings, found a mapping" },
		{ "devices:\n  - 121\n", 2, "devices[0]: expected a {class, major, minor | minors} mapping, found '121'" },
		{ "devices:\n  - major: 121\n", 2, "devices[0]: missing 'class' (the name events give these devices)" },
		{ "devices:\n  - class: tpu\n", 2, "devices[0]: missing 'major'" },
		{ "devices:\n  - class: my tpu\n    major: 121\n", 2,
		  "devices[0].class: expected a class name of letters, digits, '-', '_' or '.' (at most 47), found 'my tpu'" },
		{ "devices:\n  - class: tpu\n    major: 0\n", 3,
		  "devices[0].major: expected an integer from 1 to 4095, found '0'" },
		{ "devices:\n  - class: tpu\n    major: 4096\n", 3,
		  "devices[0].major: expected an integer from 1 to 4095, found '4096'" },
		{ "devices:\n  - class: tpu\n    major: tpu\n", 3,
		  "devices[0].major: expected an integer from 1 to 4095, found 'tpu'" },
		{ "devices:\n  - class: tpu\n    major: 121\n    minor: -1\n", 4,
		  "devices[0].minor: expected an integer from 0 to 1048575, found '-1'" },
		{ "devices:\n  - class: tpu\n    major: 121\n    minor: 0-3\n", 4,
		  "devices[0].minor: expected an integer from 0 to 1048575, found '0-3'" },
		{ "devices:\n  - class: tpu\n    major: 121\n    minor: 1\n    minors: \"0-3\"\n", 5,
		  "devices[0]: give either 'minor' or 'minors', not both" },
		{ "devices:\n  - {class: tpu, major: 121, minors: \"7-3\"}\n", 2,
		  "devices[0].minors: expected a minor range \"LO-HI\" (0-1048575) or \"*\", found '7-3'" },
		{ "devices:\n  - {class: tpu, major: 121, minors: \"0-1048576\"}\n", 2,
		  "devices[0].minors: expected a minor range \"LO-HI\" (0-1048575) or \"*\", found '0-1048576'" },
		{ "devices:\n  - {class: tpu, major: 121, minors: all}\n", 2,
		  "devices[0].minors: expected a minor range \"LO-HI\" (0-1048575) or \"*\", found 'all'" },
		{ "devices:\n  - {class: tpu, major: 121, minors: 3}\n", 2,
		  "devices[0].minors: expected a minor range \"LO-HI\" (0-1048575) or \"*\", found '3'" },
		/* overlaps: a built-in class, then another class of the file */
		{ "devices:\n  - class: mine\n    major: 195\n    minor: 3\n", 2,
		  "devices[0]: 195:3 of class 'mine' overlaps 195:0-247 of class 'nvidia-gpu'" },
		{ "devices:\n  - {class: a, major: 300}\n  - {class: b, major: 300, minors: \"1-2\"}\n", 3,
		  "devices[1]: 300:1-2 of class 'b' overlaps 300:* of class 'a'" },
		{ "devices:\n  - {class: drm-card, major: 226, minors: \"60-70\"}\n", 2,
		  "devices[0]: 226:60-70 of class 'drm-card' overlaps 226:0-63 of class 'drm-card'" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_bad_allocations(void **state)
{
	struct fx *f = *state;
	static const struct bad bad[] = {
		{ "allocations: /a\n", 1, "allocations: expected a list of {cgroup, devices} mappings, found '/a'" },
		{ "allocations:\n  - /a\n", 2, "allocations[0]: expected a {cgroup, devices} mapping, found '/a'" },
		{ "allocations:\n  - devices: ['195:0']\n", 2, "allocations[0]: missing 'cgroup'" },
		{ "allocations:\n  - cgroup: /a\n", 2, "allocations[0]: missing 'devices'" },
		{ "allocations:\n  - cgroup: a\n    devices: ['195:0']\n", 2,
		  "allocations[0].cgroup: bad cgroup pattern 'a': must start with '/' (paths are relative to the cgroup2 root)" },
		{ "allocations:\n  - cgroup: /a\n    devices: '195:0'\n", 3,
		  "allocations[0].devices: expected a list of devices, found '195:0'" },
		{ "allocations:\n  - cgroup: /a\n    devices: []\n", 3,
		  "allocations[0].devices: expected at least one device" },
#define DS "expected a device as MAJOR:MINOR, MAJOR:LO-HI, MAJOR:* or a device path, found "
		{ "allocations:\n  - cgroup: /a\n    devices:\n      - 195:0\n      - 195\n", 5,
		  "allocations[0].devices[1]: " DS "'195'" },
		{ "allocations:\n  - cgroup: /a\n    devices: ['195:x']\n", 3, "allocations[0].devices[0]: " DS "'195:x'" },
		{ "allocations:\n  - cgroup: /a\n    devices: ['195:7-3']\n", 3, "allocations[0].devices[0]: " DS "'195:7-3'" },
		{ "allocations:\n  - cgroup: /a\n    devices: ['0:1']\n", 3, "allocations[0].devices[0]: " DS "'0:1'" },
		{ "allocations:\n  - cgroup: /a\n    devices: [dev/nvidia0]\n", 3,
		  "allocations[0].devices[0]: " DS "'dev/nvidia0'" },
		{ "allocations:\n  - cgroup: /a\n    devices: [{major: 195}]\n", 3,
		  "allocations[0].devices[0]: " DS "a mapping" },
#undef DS
		{ "allocations:\n  - cgroup: /a\n    devices: ['195:0']\n  - cgroup: /b\n    devices:\n      - /dev/nvidia-nonexistent-77\n",
		  6, "allocations[1].devices[0]: device path '/dev/nvidia-nonexistent-77' does not exist" },
		{ "allocations:\n  - cgroup: /a\n    devices: [/dev]\n", 3,
		  "allocations[0].devices[0]: device path '/dev' is not a character device" },
	};
	char text[2048], want[1024], *reg;
	size_t o;
	int i, rc;

	EXPECT_ALL_REFUSED(f, bad);

	/* a regular file is no device */
	reg = ag_unit_write(f->dir, "not-a-device", "x");
	snprintf(text, sizeof(text), "allocations:\n  - cgroup: /a\n    devices:\n      - %s\n", reg);
	rc = load(f, text);
	assert_int_equal(rc, -EINVAL);
	snprintf(want, sizeof(want), "%s:4: allocations[0].devices[0]: device path '%s' is not a character device",
		 f->path, reg);
	assert_string_equal(f->err, want);
	free(reg);

	/* more devices than one tenant's policy holds */
	o = (size_t)snprintf(text, sizeof(text), "allocations:\n  - cgroup: /a\n    devices:\n");
	for (i = 0; i <= AG_MAX_ALLOWED; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "      - \"195:%d\"\n", i);
	rc = load(f, text);
	assert_int_equal(rc, -EINVAL);
	snprintf(want, sizeof(want), "%s:4: allocations[0].devices: at most 32 devices per allocation, found 33",
		 f->path);
	assert_string_equal(f->err, want);
}

static void test_bad_kubernetes_and_host(void **state)
{
	static const struct bad bad[] = {
		{ "kubernetes: [a]\n", 1, "kubernetes: expected a mapping, found a list" },
		{ "kubernetes: on\n", 1, "kubernetes: expected a mapping, found 'on'" },
		{ "kubernetes:\n  node_name:\n", 2, "kubernetes.node_name: expected a node name, found nothing" },
		{ "kubernetes:\n  podresources_socket: kubelet.sock\n", 2,
		  "kubernetes.podresources_socket: expected an absolute path or off, found 'kubelet.sock'" },
		{ "kubernetes:\n  cri_socket: [/run/containerd/containerd.sock]\n", 2,
		  "kubernetes.cri_socket: expected an absolute path or off, found a list" },
		{ "kubernetes:\n  api_server: http://10.0.0.1:6443\n", 2,
		  "kubernetes.api_server: expected an https:// URL or off, found 'http://10.0.0.1:6443'" },
		{ "kubernetes:\n  api_server: https://\n", 2,
		  "kubernetes.api_server: expected an https:// URL or off, found 'https://'" },
		{ "kubernetes:\n  token_file: \"off\"\n", 2, "kubernetes.token_file: expected an absolute path, found 'off'" },
		{ "kubernetes:\n  ca_file: ca.crt\n", 2, "kubernetes.ca_file: expected an absolute path, found 'ca.crt'" },
		{ "host: /proc\n", 1, "host: expected a mapping, found '/proc'" },
		{ "host:\n  proc: proc\n", 2, "host.proc: expected an absolute path, found 'proc'" },
		{ "host:\n  sys: sys\n", 2, "host.sys: expected an absolute path, found 'sys'" },
		{ "host:\n  cdi_dirs: /etc/cdi\n", 2, "host.cdi_dirs: expected a list of directories, found '/etc/cdi'" },
		{ "host:\n  cdi_dirs: []\n", 2,
		  "host.cdi_dirs: expected at least one directory (leave the key out for the defaults)" },
		{ "host:\n  cdi_dirs:\n    - /etc/cdi\n    - cdi\n", 4, "host.cdi_dirs[1]: expected an absolute path, found 'cdi'" },
		{ "host:\n  bundle_dirs: []\n", 2,
		  "host.bundle_dirs: expected at least one directory (leave the key out for the defaults)" },
		{ "host:\n  bundle_dirs: [/run/containerd, run]\n", 2,
		  "host.bundle_dirs[1]: expected an absolute path, found 'run'" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

static void test_metrics_section(void **state)
{
	static const struct bad bad[] = {
		{ "metrics: 9464\n", 1, "metrics: expected a mapping, found '9464'" },
		{ "metrics:\n  listen: 9464\n", 2,
		  "metrics.listen: expected IPV4:PORT, [IPV6]:PORT or off (127.0.0.1:9464, 0.0.0.0:9464), found '9464'" },
		{ "metrics:\n  listen:\n", 2,
		  "metrics.listen: expected IPV4:PORT, [IPV6]:PORT or off, found nothing" },
		{ "metrics:\n  pod_labels: yes\n", 2, "metrics.pod_labels: expected true or false, found 'yes'" },
		{ "metrics:\n  max_series: 5\n", 2,
		  "metrics.max_series: expected an integer from 10 to 100000 (label sets of the per-event counts), found '5'" },
		{ "metrics:\n  port: 9464\n", 2,
		  "unknown key 'port' in metrics (expected one of: listen, pod_labels, max_series, "
		  "evidence, evidence_hours)" },
		{ "metrics:\n  evidence: on\n", 2, "metrics.evidence: expected true or false, found 'on'" },
		{ "metrics:\n  evidence_hours: 0\n", 2,
		  "metrics.evidence_hours: expected an integer from 1 to 8760 (hours of the journal in the bundle), found '0'" },
	};
	struct fx *f = *state;

	load_ok(f, "metrics:\n  listen: 0.0.0.0:9464\n  pod_labels: true\n  max_series: 500\n");
	assert_string_equal(f->cfg.metrics.listen, "0.0.0.0:9464");
	assert_true(f->cfg.metrics.pod_labels);
	assert_int_equal(f->cfg.metrics.max_series, 500);
	assert_false(f->cfg.metrics.evidence);
	ag_config_free(&f->cfg);
	load_ok(f, "metrics:\n  evidence: true\n  evidence_hours: 6\n");
	assert_true(f->cfg.metrics.evidence);
	assert_int_equal(f->cfg.metrics.evidence_hours, 6);
	ag_config_free(&f->cfg);
	EXPECT_ALL_REFUSED(f, bad);
}

/* journal: and selftest: (issue 12) */
static void test_journal_and_selftest(void **state)
{
	struct fx *f = *state;
	struct ag_config *c = &f->cfg;
	static const struct bad bad[] = {
		{ "journal: /var/lib/j\n", 1, "journal: expected a mapping with dir, found '/var/lib/j'" },
		{ "journal:\n  segment_kb: 64\n", 2,
		  "journal: dir is required (the directory of the journal's segments)" },
		{ "journal:\n  dir: j\n", 2, "journal.dir: expected an absolute path, found 'j'" },
		{ "journal:\n  dir: /j\n  segment_kb: 2\n", 3,
		  "journal.segment_kb: expected an integer from 4 to 4194304 (KiB), found '2'" },
		{ "journal:\n  dir: /j\n  flush_ms: 5\n", 3,
		  "journal.flush_ms: expected an integer from 10 to 600000 (milliseconds), found '5'" },
		{ "journal:\n  dir: /j\n  segment_kb: 100\n  max_kb: 150\n", 2,
		  "journal: max_kb (150) must be at least twice segment_kb (100)" },
		{ "journal:\n  dir: /j\n  size: 1\n", 3,
		  "unknown key 'size' in journal (expected one of: dir, segment_kb, segment_age_s, max_kb, flush_ms)" },
		{ "selftest:\n  at_start: yes\n", 2, "selftest.at_start: expected true or false, found 'yes'" },
		{ "selftest:\n  interval_s: -1\n", 2,
		  "selftest.interval_s: expected an integer from 0 (never) to 604800 (seconds), found '-1'" },
		{ "selftest:\n  socket: ctl.sock\n", 2,
		  "selftest.socket: expected an absolute path or off, found 'ctl.sock'" },
	};

	load_ok(f, "journal:\n  dir: /var/lib/accelguard/journal\n");
	assert_true(c->journal.present);
	assert_string_equal(c->journal.dir, "/var/lib/accelguard/journal");
	assert_int_equal(c->journal.segment_kb, 16384);
	assert_int_equal(c->journal.segment_age_s, 3600);
	assert_int_equal(c->journal.max_kb, 262144);
	assert_int_equal(c->journal.flush_ms, 1000);
	assert_false(c->selftest.at_start);
	assert_int_equal(c->selftest.interval_s, 0);
	load_ok(f, "journal: {dir: /j, segment_kb: 4, max_kb: 8, segment_age_s: 60, flush_ms: 10}\n"
		   "selftest: {at_start: true, interval_s: 3600, socket: /run/x.sock}\n");
	assert_int_equal(c->journal.segment_kb, 4);
	assert_int_equal(c->journal.max_kb, 8);
	assert_int_equal(c->journal.segment_age_s, 60);
	assert_int_equal(c->journal.flush_ms, 10);
	assert_true(c->selftest.at_start);
	assert_int_equal(c->selftest.interval_s, 3600);
	assert_string_equal(c->selftest.socket, "/run/x.sock");
	load_ok(f, "mode: audit\n");
	assert_false(c->journal.present);
	EXPECT_ALL_REFUSED(f, bad);
}

/* An error in a later section after earlier sections were filled: everything is freed. */
static void test_error_after_content(void **state)
{
	static const struct bad bad[] = {
		{ "tenants: [/a, /b]\nexempt: [/c, {namespace: n, labels: {a: b}}]\n"
		  "devices: [{class: x, major: 300}]\n"
		  "allocations: [{cgroup: /a, devices: ['195:0']}]\n"
		  "kubernetes: {node_name: n}\nhost: {proc: /p, cdi_dirs: [/x]}\nmode: bogus\n",
		  7, "mode: expected audit or enforce, found 'bogus'" },
		{ "exempt:\n  - labels: {a: b, c: d}\n    namespace: n\n  - labels: {e: [f]}\n", 4,
		  "exempt[1].labels.e: expected a label value (a string; \"\" for empty), found a list" },
	};

	EXPECT_ALL_REFUSED((struct fx *)*state, bad);
}

/* ---- who may write the file: its owner, its mode, its directories (README "Configuration") ---- */

static const char *owners(void)
{
	static char w[64];

	if (geteuid() == 0)
		return "root";
	snprintf(w, sizeof(w), "root or uid %u (the agent's)", (unsigned int)geteuid());
	return w;
}

static char *mkdir_mode(const char *parent, const char *name, mode_t mode)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", parent, name) > 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, mode), 0); /* whatever the umask */
	return path;
}

static void expect_trusted(struct fx *f, const char *path)
{
	ag_config_free(&f->cfg);
	if (ag_config_load(path, &f->cfg, f->err, sizeof(f->err)))
		fail_msg("%s refused: %s", path, f->err);
	assert_string_equal(f->cfg.path, path);
	assert_int_equal(f->cfg.mode, AG_MODE_ENFORCE); /* it was read */
}

/* refused with -EPERM and "PATH: reason", nothing loaded */
static void expect_untrusted(struct fx *f, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void expect_untrusted(struct fx *f, const char *path, const char *fmt, ...)
{
	char want[1024];
	va_list ap;
	int n, rc;

	n = snprintf(want, sizeof(want), "%s: ", path);
	va_start(ap, fmt);
	vsnprintf(want + n, sizeof(want) - (size_t)n, fmt, ap);
	va_end(ap);
	ag_config_free(&f->cfg);
	rc = ag_config_load(path, &f->cfg, f->err, sizeof(f->err));
	if (rc != -EPERM || strcmp(f->err, want))
		fail_msg("--- got (rc %d):\n%s\n--- expected:\n%s", rc, f->err, want);
	assert_null(f->cfg.path);
	assert_int_equal(f->cfg.mode, AG_MODE_AUDIT);
}

#define GOOD "mode: enforce\ntenants: [\"/tenants/*\"]\n"
#define FILE_WRITERS "anyone who can write it can turn enforcement off; chmod go-w it"
#define DIR_WRITERS                                                                                 \
	"anyone who can write it can put another file in its place and turn enforcement off; chmod go-w "

static void test_trust_file_mode(void **state)
{
	struct fx *f = *state;

	f->path = ag_unit_write(f->dir, "c.yaml", GOOD);
	expect_trusted(f, f->path); /* 0644 */
	assert_int_equal(chmod(f->path, 0600), 0);
	expect_trusted(f, f->path);
	assert_int_equal(chmod(f->path, 0664), 0);
	expect_untrusted(f, f->path, "writable by group (mode 0664): " FILE_WRITERS);
	assert_int_equal(chmod(f->path, 0666), 0);
	expect_untrusted(f, f->path, "writable by group and others (mode 0666): " FILE_WRITERS);
	assert_int_equal(chmod(f->path, 0602), 0);
	expect_untrusted(f, f->path, "writable by others (mode 0602): " FILE_WRITERS);
	assert_int_equal(chmod(f->path, 0644), 0);
	expect_trusted(f, f->path);
	/* the check comes before the content: a bad file that is also writable says the mode */
	free(f->path);
	f->path = ag_unit_write(f->dir, "bad.yaml", "mode: sometimes\n");
	assert_int_equal(chmod(f->path, 0666), 0);
	expect_untrusted(f, f->path, "writable by group and others (mode 0666): " FILE_WRITERS);
}

static void test_trust_file_owner(void **state)
{
	struct fx *f = *state;

	if (geteuid() != 0)
		skip(); /* chown to another uid needs root */
	f->path = ag_unit_write(f->dir, "c.yaml", GOOD);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	expect_untrusted(f, f->path,
			 "owned by uid 65534, not %s: its owner can turn enforcement off; chown root it",
			 owners());
	/* the group does not matter, the owner does */
	assert_int_equal(chown(f->path, 0, 65534), 0);
	expect_trusted(f, f->path);
}

static void test_trust_directories(void **state)
{
	struct fx *f = *state;
	char *sub = mkdir_mode(f->dir, "sub", 0775), *deep = mkdir_mode(sub, "deep", 0755);

	f->path = ag_unit_write(deep, "c.yaml", GOOD);
	/* a group-writable directory two levels up is found */
	expect_untrusted(f, f->path, "directory %s is writable by group (mode 0775, not sticky): " DIR_WRITERS "%s",
			 sub, sub);
	assert_int_equal(chmod(sub, 0757), 0);
	expect_untrusted(f, f->path, "directory %s is writable by others (mode 0757, not sticky): " DIR_WRITERS "%s",
			 sub, sub);
	assert_int_equal(chmod(sub, 0755), 0);
	expect_trusted(f, f->path);
	if (geteuid() == 0) {
		assert_int_equal(chown(deep, 65534, 0), 0);
		expect_untrusted(f, f->path,
				 "directory %s is owned by uid 65534, not %s: its owner can put another file in its place and turn enforcement off",
				 deep, owners());
		assert_int_equal(chown(deep, 0, 0), 0);
	}
	/* sticky and world-writable, as /tmp: entries owned by root (or the agent) pass */
	assert_int_equal(chmod(sub, 01777), 0);
	expect_trusted(f, f->path);
	if (geteuid() == 0) {
		/* ... and a file in it owned by someone else does not */
		char *other = ag_unit_write(sub, "other.yaml", GOOD);

		assert_int_equal(chown(other, 65534, 65534), 0);
		expect_untrusted(f, other,
				 "owned by uid 65534, not %s: its owner can turn enforcement off; chown root it",
				 owners());
		free(other);
	}
	free(deep);
	free(sub);
}

/* Kubernetes' ConfigMap volume: config.yaml -> ..data/config.yaml, ..data -> ..TIMESTAMP; root's,
 * 0644 and 0755; the volume's own directory 0777 (an emptyDir's), mounted read-only. */
static void test_trust_configmap_layout(void **state)
{
	struct fx *f = *state;
	char *vol = mkdir_mode(f->dir, "accelguard", 0755);
	char *ts = mkdir_mode(vol, "..2026_12_01_18_00_00.1234567890", 0755);
	char *real = ag_unit_write(ts, "config.yaml", GOOD), *data, *bad;

	free(real);
	assert_true(asprintf(&data, "%s/..data", vol) > 0);
	assert_int_equal(symlink("..2026_12_01_18_00_00.1234567890", data), 0);
	assert_true(asprintf(&f->path, "%s/config.yaml", vol) > 0);
	assert_int_equal(symlink("..data/config.yaml", f->path), 0);
	expect_trusted(f, f->path); /* the name given stays the file's name */
	/* errors in the content name the link, as given */
	bad = ag_unit_write(ts, "bad.yaml", "mode: sometimes\n");
	free(bad);
	assert_true(asprintf(&bad, "%s/bad.yaml", vol) > 0);
	assert_int_equal(symlink("..data/bad.yaml", bad), 0);
	ag_config_free(&f->cfg);
	assert_int_equal(ag_config_load(bad, &f->cfg, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, bad));
	free(bad);

	/* the volume directory writable by all: refused where it can be written ... */
	assert_int_equal(chmod(vol, 0777), 0);
	expect_untrusted(f, f->path, "directory %s is writable by group and others (mode 0777, not sticky): " DIR_WRITERS "%s",
			 vol, vol);
	/* ... and passes on a read-only mount, as the kubelet mounts a ConfigMap */
	if (mount(vol, vol, NULL, MS_BIND, NULL) == 0) {
		/* unmounted before any assertion, so that a failure leaves no mount behind */
		int r = mount(NULL, vol, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), rc = -1;

		ag_config_free(&f->cfg);
		if (r == 0)
			rc = ag_config_load(f->path, &f->cfg, f->err, sizeof(f->err));
		assert_int_equal(umount2(vol, MNT_DETACH), 0);
		assert_int_equal(r, 0);
		if (rc)
			fail_msg("on a read-only mount, refused (%d): %s", rc, f->err);
		assert_int_equal(f->cfg.mode, AG_MODE_ENFORCE);
	} else {
		print_message("skip - config/read-only-mount: cannot bind-mount (%s)\n", strerror(errno));
	}
	free(data);
	free(ts);
	free(vol);
}

/* a symlink in a safe directory pointing into a writable one: the target's directories count */
static void test_trust_symlink_target(void **state)
{
	struct fx *f = *state;
	char *open_ = mkdir_mode(f->dir, "open", 0777), *real = ag_unit_write(open_, "real.yaml", GOOD);

	assert_true(asprintf(&f->path, "%s/config.yaml", f->dir) > 0);
	assert_int_equal(symlink(real, f->path), 0);
	expect_untrusted(f, f->path, "directory %s is writable by group and others (mode 0777, not sticky): " DIR_WRITERS "%s",
			 open_, open_);
	free(real);
	free(open_);
}

/* What was opened is judged, not what the name points to by the time of the check. */
static void test_trust_opened_file(void **state)
{
	struct fx *f = *state;
	char *a = ag_unit_write(f->dir, "a.yaml", GOOD), *b, err[1024];
	int fd = open(a, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ag_file_trusted(fd, a, "turn enforcement off", err, sizeof(err)), 0);
	/* a writable file opened, then a good one renamed over its name: still refused */
	assert_int_equal(chmod(a, 0666), 0);
	b = ag_unit_write(f->dir, "b.yaml", GOOD);
	assert_int_equal(rename(b, a), 0);
	assert_int_equal(ag_file_trusted(fd, a, "turn enforcement off", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "(mode 0666)"));
	close(fd);
	/* a good file opened, then removed: no path left to check its directories by */
	fd = open(a, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(unlink(a), 0);
	assert_int_equal(ag_file_trusted(fd, a, "turn enforcement off", err, sizeof(err)), -ESTALE);
	assert_non_null(strstr(err, "moved or replaced while it was read"));
	close(fd);
	free(b);
	free(a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_full_fixture),
		T(test_defaults),
		T(test_small_good),
		T(test_mode_names),
		T(test_file_errors),
		T(test_directory_layers),
		T(test_not_a_mapping),
		T(test_invalid_yaml),
		T(test_unknown_and_duplicate_keys),
		T(test_bad_scalars),
		T(test_bad_tenants),
		T(test_bad_exempt),
		T(test_bad_devices),
		T(test_bad_allocations),
		T(test_bad_kubernetes_and_host),
		T(test_error_after_content),
		T(test_metrics_section),
		T(test_journal_and_selftest),
		T(test_trust_file_mode),
		T(test_trust_file_owner),
		T(test_trust_directories),
		T(test_trust_configmap_layout),
		T(test_trust_symlink_target),
		T(test_trust_opened_file),
	};
#undef T

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
