// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every parser at its stated limit (README "Input limits"): the input at the limit is accepted,
 * one past it is refused with an error naming the input, the parse takes bounded time (a generous
 * bound: a quadratic parser takes tens of seconds at these sizes) and the memory it holds at its
 * peak is a small multiple of the input (malloc, calloc, realloc and free are interposed to count
 * live bytes; under AddressSanitizer, which owns malloc, the memory checks are skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgroups.h"
#include "config.h"
#include "cgpattern.h"
#include "devices.h"
#include "policy.h"
#include "source.h"
#include "yamldepth.h"
#include "log.h"
#include "k8s/api.h"
#include "k8s/cdi.h"
#include "k8s/cri.h"
#include "k8s/grpc.h"
#include "k8s/nvidia.h"
#include "k8s/podresources.h"
#include "proto/cri.pb-c.h"
#include "proto/podresources.pb-c.h"

/*
 * The time bound: 5 s, plus 1 s for every 4 MiB of input (a 64 MiB API answer takes 3 s here on
 * an idle machine, twice that beside the VM tests), times 3 under the sanitizers. Generous:
 * the quadratic versions took tens of seconds at a MiB or less, hours at the API's 64 MiB.
 */
#if defined(__SANITIZE_ADDRESS__)
#define TIME_SCALE 3.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIME_SCALE 3.0
#endif
#endif
#ifndef TIME_SCALE
#define TIME_SCALE 1.0
#endif
#define TIME_BOUND_S(input) (TIME_SCALE * (5.0 + (double)(input) / (4.0 * 1024 * 1024)))

/* ---- the meter ---- */

#if defined(__SANITIZE_ADDRESS__)
#define METER 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define METER 0
#endif
#endif
#ifndef METER
#define METER 1
#endif

static size_t live, peak;

#if METER
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static void count(void *p)
{
	if (p) {
		live += malloc_usable_size(p);
		if (live > peak)
			peak = live;
	}
}

void *malloc(size_t n)
{
	void *p = __libc_malloc(n);

	count(p);
	return p;
}

void *calloc(size_t a, size_t b)
{
	void *p = __libc_calloc(a, b);

	count(p);
	return p;
}

void *realloc(void *o, size_t n)
{
	void *p;

	if (o)
		live -= malloc_usable_size(o);
	p = __libc_realloc(o, n);
	if (p)
		count(p);
	else if (o && n)
		live += malloc_usable_size(o); /* failed: the old block stays */
	return p;
}

void free(void *p)
{
	if (p)
		live -= malloc_usable_size(p);
	__libc_free(p);
}
#endif

static size_t base;
static struct timespec t0;

static void meter_start(void)
{
	base = live;
	peak = live;
	clock_gettime(CLOCK_MONOTONIC, &t0);
}

/* Prints the time since meter_start and the peak memory held; returns the seconds. */
static double meter_print(const char *what, size_t input)
{
	struct timespec t1;
	double s;
	size_t held = peak - base;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# %s: %zu bytes of input, %.3f s, peak %zu bytes held (%.1fx)%s\n", what, input, s,
	       held, input ? (double)held / (double)input : 0.0, METER ? "" : " (not metered)");
	return s;
}

/* Time since meter_start under the bound; peak memory under factor x input + fixed + slack. */
static void meter_check_plus(const char *what, size_t input, size_t factor, size_t fixed)
{
	size_t held = peak - base, slack = (1u << 20) + fixed;
	double s = meter_print(what, input);

	if (s > TIME_BOUND_S(input))
		fail_msg("%s: %.1f s for %zu bytes (bound %.0f s)", what, s, input, TIME_BOUND_S(input));
	if (METER && held > factor * input + slack)
		fail_msg("%s: %zu bytes held for %zu bytes of input (bound %zux + %zu)", what, held,
			 input, factor, slack);
}

/* The tight form, for the bounds stated in README "Input limits": peak memory under factor x
 * input + fixed + 64 KiB (not 1 MiB: at a small input that would hide the factor). */
static void meter_within(const char *what, size_t input, double factor, size_t fixed)
{
	size_t held = peak - base;

	meter_check_plus(what, input, (size_t)factor + 1, fixed);
	if (METER && (double)held > factor * (double)input + (double)fixed + 65536.0)
		fail_msg("%s: %zu bytes held for %zu bytes of input (bound %.2fx + %zu + 64 KiB)", what,
			 held, input, factor, fixed);
}

/* ---- a growing buffer ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

/* protobuf wire format */
static void pb_varint(struct buf *b, uint64_t v)
{
	unsigned char c[10];
	size_t n = 0;

	do {
		c[n] = v & 0x7f;
		v >>= 7;
		if (v)
			c[n] |= 0x80;
		n++;
	} while (v);
	put(b, c, n);
}

static void pb_ld(struct buf *b, unsigned int field, const void *d, size_t n)
{
	pb_varint(b, field << 3 | 2);
	pb_varint(b, n);
	put(b, d, n);
}

static void pb_str(struct buf *b, unsigned int field, const char *s)
{
	pb_ld(b, field, s, strlen(s));
}

static char last_warn[2048];
static unsigned int n_warn;

static void warn(void *arg, const char *msg)
{
	snprintf(last_warn, sizeof(last_warn), "%s", msg);
	n_warn++;
}

/* ---- configuration ---- */

static int config(const struct buf *b, struct ag_config *cfg, char *err, size_t errlen)
{
	return ag_config_parse("limits.yaml", b->p, b->n, cfg, err, errlen);
}

static void test_config_at_limits(void **state)
{
	struct buf b = { 0 };
	struct ag_config cfg;
	char err[512];
	int ret;

	puts_(&b, "tenants:\n");
	for (int i = 0; i < AG_CONFIG_MAX_LIST; i++)
		putf(&b, "  - /kubepods.slice/tenant-%04d.slice/*\n", i);
	puts_(&b, "exempt:\n");
	for (int i = 0; i < AG_CONFIG_MAX_LIST - 1; i++)
		putf(&b, "  - /system.slice/exempt-%04d.service\n", i);
	puts_(&b, "  - labels:\n");
	for (int i = 0; i < AG_CONFIG_MAX_LABELS; i++)
		putf(&b, "      label-%02d: value\n", i);
	puts_(&b, "allocations:\n");
	for (int i = 0; i < AG_CONFIG_MAX_LIST; i++)
		putf(&b, "  - {cgroup: /kubepods.slice/tenant-%04d.slice/*, devices: ['195:%d']}\n", i,
		     i % 256);
	while (b.n < (1u << 20) - 64)
		puts_(&b, "# padding to the size limit, a comment line of sixty four bytes\n");
	meter_start();
	ret = config(&b, &cfg, err, sizeof(err));
	if (ret)
		fail_msg("at the limits: %s", err);
	assert_int_equal(cfg.n_tenants, AG_CONFIG_MAX_LIST);
	assert_int_equal(cfg.n_allocs, AG_CONFIG_MAX_LIST);
	assert_int_equal(cfg.exempt_k8s[0].n_labels, AG_CONFIG_MAX_LABELS);
	meter_within("config at its limits", b.n, 2.6, 0); /* 2.5x */
	ag_config_free(&cfg);

	/* one byte over the size */
	while (b.n <= (1u << 20))
		puts_(&b, "#");
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "limits.yaml: too large"));
	free(b.p);
}

static void test_config_over_limits(void **state)
{
	struct buf b = { 0 };
	struct ag_config cfg;
	char err[512];

	puts_(&b, "mode: audit\ntenants:\n");
	for (int i = 0; i <= AG_CONFIG_MAX_LIST; i++)
		putf(&b, "  - /t/%d/*\n", i);
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "limits.yaml:3: tenants: 1025 entries, at most 1024");
	b.n = 0;
	puts_(&b, "exempt:\n  - labels:\n");
	for (int i = 0; i <= AG_CONFIG_MAX_LABELS; i++)
		putf(&b, "      l%d: v\n", i);
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "limits.yaml:3: exempt[0].labels: 65 entries, at most 64");
	free(b.p);
}

/* Accepted before with the NUL (as "mode"), or failing at load without a line. */
static void test_config_nul_key_and_ranges_per_major(void **state)
{
	/* a NUL written as the escape \0 of a double-quoted key (libyaml refuses a raw one) */
	static const char nul[] = "tenants: [/t/*]\n\"mode\\0junk\": enforce\n";
	struct buf b = { 0 };
	struct ag_config cfg;
	char err[512];

	assert_int_equal(ag_config_parse("nul.yaml", nul, sizeof(nul) - 1, &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "nul.yaml:2: expected a key name, found a key with a NUL byte");
	puts_(&b, "devices:\n");
	for (int i = 0; i <= AG_MAX_RANGES; i++)
		putf(&b, "  - {class: c%d, major: 240, minor: %d}\n", i, i);
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "limits.yaml:10: devices[8]: major 240 has more than 8 minor ranges (built-in ones included)");
	/* 8 are loadable: the agent's table takes them */
	b.n = 0;
	puts_(&b, "devices:\n");
	for (int i = 0; i < AG_MAX_RANGES; i++)
		putf(&b, "  - {class: c%d, major: 240, minor: %d}\n", i, i);
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), 0);
	{
		struct ag_devtab *t = malloc(sizeof(*t));
		struct ag_major_entry *m = calloc(AG_MAX_MAJOR, sizeof(*m));

		assert_int_equal(ag_devtab_init(t, NULL), 0);
		for (size_t i = 0; i < cfg.n_devices; i++)
			assert_true(ag_devtab_add(t, cfg.devices[i].class_name, cfg.devices[i].major,
						  cfg.devices[i].lo, cfg.devices[i].hi) > 0);
		assert_int_equal(ag_devtab_fill_majors(t, m), 0);
		free(t);
		free(m);
	}
	ag_config_free(&cfg);
	free(b.p);
}

/* The configuration's tenant lookup: every prefix of a deep path against every pattern took 43 s
 * for one new cgroup (2,048 patterns, 2,000 components); now one pass per pattern. */
static void test_tenant_lookup_deep_path(void **state)
{
	struct buf b = { 0 };
	struct ag_config cfg;
	struct ag_source *src;
	struct ag_tenant t;
	char err[512], path[4096];
	size_t p = 0;

	puts_(&b, "tenants:\n");
	for (int i = 0; i < AG_CONFIG_MAX_LIST - 1; i++)
		putf(&b, "  - /kubepods.slice/tenant-%04d.slice/*\n", i);
	puts_(&b, "  - /a/**/t\n");
	puts_(&b, "allocations:\n");
	for (int i = 0; i < AG_CONFIG_MAX_LIST; i++)
		putf(&b, "  - {cgroup: /x/t%04d/*, devices: ['195:0']}\n", i);
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), 0);
	src = ag_config_source_new(&cfg);
	assert_non_null(src);
	while (p < sizeof(path) - 8) {
		path[p++] = '/';
		path[p++] = 'a';
	}
	memcpy(path + p, "/t/u", 5);
	meter_start();
	assert_int_equal(src->resolve(src->ctx, path, &t), AG_R_DONE);
	meter_within("tenant lookup of a 2,000-deep cgroup, 2,048 patterns", b.n + sizeof(path), 0.3, 0); /* 0.27x */
	assert_int_equal(t.state, AG_P_TENANT); /* "/a/a/.../t", the topmost cgroup a pattern names */
	path[3] = 'b'; /* from path + 2, "/b/a/...": no pattern names its first component */
	meter_start();
	assert_int_equal(src->resolve(src->ctx, path + 2, &t), AG_R_NOT_MINE);
	meter_within("tenant lookup of a 2,000-deep cgroup, no pattern", b.n + sizeof(path), 0.3, 0); /* 0.27x */
	src->destroy(src->ctx);
	ag_config_free(&cfg);
	free(b.p);

	/* the prefix semantics */
	assert_int_equal(ag_cgpattern_prefix("/k/*", "/k/p/c/d"), 2);
	assert_int_equal(ag_cgpattern_prefix("/k/*", "/k"), -1);
	assert_int_equal(ag_cgpattern_prefix("/**/c", "/k/p/c/d"), 3);
	assert_int_equal(ag_cgpattern_prefix("/**", "/k/p"), 1);
	assert_int_equal(ag_cgpattern_prefix("/**", "/"), 0);
	assert_int_equal(ag_cgpattern_prefix("/x/*", "/k/p"), -1);
}

/* libyaml costs depth x tokens: 40,000 '[' took 16 s, a 1 MiB file of them hours */
static void test_yaml_nesting(void **state)
{
	struct buf b = { 0 };
	struct ag_config cfg;
	struct ag_cdi_cache c = { 0 };
	size_t cap = 0;
	char err[512];

	puts_(&b, "tenants: ");
	for (int i = 0; i < AG_YAML_MAX_DEPTH - 1; i++)
		puts_(&b, "[");
	puts_(&b, "/t/*");
	for (int i = 0; i < AG_YAML_MAX_DEPTH - 1; i++)
		puts_(&b, "]");
	/* at the limit: parsed (and refused for what it says, not for its depth) */
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "limits.yaml:1: tenants[0]: expected a cgroup pattern, found a list");
	b.n = 0;
	puts_(&b, "tenants:\n  - ");
	while (b.n < (1u << 20) - 16)
		puts_(&b, "[[[[[[[[[[[[[[[[");
	meter_start();
	assert_int_equal(config(&b, &cfg, err, sizeof(err)), -EINVAL);
	meter_within("config nested 1 MiB deep", b.n, 0.32, 0); /* 0.3x */
	assert_string_equal(err, "limits.yaml:2: nested deeper than 64 levels");
	n_warn = 0;
	meter_start();
	assert_int_equal(ag_cdi_load_buf(&c, &cap, "/etc/cdi/deep.yaml", b.p, b.n, 0, NULL, warn, NULL), 0);
	meter_within("CDI spec nested 1 MiB deep", b.n, 0.32, 0); /* 0.3x */
	assert_int_equal(n_warn, 1);
	assert_string_equal(last_warn, "cdi: /etc/cdi/deep.yaml: line 2: nested deeper than 64 levels: skipped");
	assert_int_equal(c.n, 0);
	free(b.p);
}

/* ---- CDI ---- */


static void test_cdi_at_limits(void **state)
{
	struct buf b = { 0 };
	struct ag_cdi_cache c = { 0 };
	size_t cap = 0;

	puts_(&b, "cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices:\n");
	for (unsigned int i = 0; i <= AG_CDI_MAX_DEVICES; i++)
		putf(&b, "  - {name: gpu%u, containerEdits: {deviceNodes: [{path: /dev/g%u, major: 195, minor: %u}]}}\n",
		     i, i, i % 256);
	assert_true(b.n <= AG_CDI_MAX_SPEC);
	n_warn = 0;
	meter_start();
	assert_int_equal(ag_cdi_load_buf(&c, &cap, "/etc/cdi/big.yaml", b.p, b.n, 0, NULL, warn, NULL), 0);
	/* libyaml's document tree took 29x; the events: the cache and the names, 1.9x */
	meter_within("CDI spec at its device limit", b.n, 2.0, 0);
	assert_int_equal(c.n, AG_CDI_MAX_DEVICES);
	assert_int_equal(n_warn, 1);
	assert_string_equal(last_warn, "cdi: /etc/cdi/big.yaml: device gpu4096 and the rest skipped: more than 4096 CDI devices in all");
	ag_cdi_free(&c);
	free(b.p);
}

/* A spec of AG_CDI_MAX_SPEC bytes in the shapes that cost the most per byte: the events hold
 * a few KiB whatever the spec, what is kept is the first pass's device names and the cache. */
static void cdi_hostile(const char *what, struct buf *b, double factor, size_t fixed,
			unsigned int devs)
{
	struct ag_cdi_cache c = { 0 };
	size_t cap = 0;

	assert_true(b->n <= AG_CDI_MAX_SPEC);
	n_warn = 0;
	meter_start();
	assert_int_equal(ag_cdi_load_buf(&c, &cap, "/etc/cdi/h.yaml", b->p, b->n, 0, NULL, warn, NULL), 0);
	meter_within(what, b->n, factor, fixed);
	assert_int_equal(c.n, devs);
	ag_cdi_free(&c);
	b->n = 0;
}

static void test_cdi_hostile_at_limit(void **state)
{
	struct buf b = { 0 };
	unsigned int i;

	/* tiny devices past the device limit: the first pass names them all */
	puts_(&b, "kind: a.com/b\ndevices:\n");
	for (i = 0; b.n < AG_CDI_MAX_SPEC - 32; i++)
		putf(&b, "- {name: %x}\n", i);
	cdi_hostile("CDI spec of 1 MiB of tiny devices", &b, 2.2, 0, AG_CDI_MAX_DEVICES); /* 2.0x */
	/* long names, the device limit's worth */
	puts_(&b, "kind: a.com/b\ndevices:\n");
	for (i = 0; i < AG_CDI_MAX_DEVICES; i++) {
		putf(&b, "- name: %08x", i);
		for (int k = 0; k < 236; k++)
			puts_(&b, "n");
		puts_(&b, "\n");
	}
	cdi_hostile("CDI spec of 1 MiB of long device names", &b, 2.6, 0, AG_CDI_MAX_DEVICES); /* 2.5x */
	/* deviceNodes: as many as fit */
	puts_(&b, "kind: a.com/b\ndevices:\n");
	for (i = 0; b.n < AG_CDI_MAX_SPEC - 4096; i++) {
		putf(&b, "- name: %x\n  containerEdits: {deviceNodes: [", i);
		for (int k = 0; k < 255; k++)
			putf(&b, "%s{path: a, major: 1}", k ? "," : "");
		puts_(&b, "]}\n");
	}
	cdi_hostile("CDI spec of 1 MiB of deviceNodes", &b, 0.8, 0, i); /* 0.7x */
	/* the spec's own containerEdits at the node limit, copied into each of the most devices */
	puts_(&b, "kind: a.com/b\ncontainerEdits: {deviceNodes: [");
	for (int k = 0; k < (int)AG_CDI_MAX_NODES; k++)
		putf(&b, "%s{path: a, major: 1}", k ? "," : "");
	puts_(&b, "]}\ndevices:\n");
	for (i = 0; i < AG_CDI_MAX_DEVICES; i++)
		putf(&b, "- {name: %x}\n", i);
	/* the cache's nodes in all (AG_CDI_MAX_NODES_ALL: 768 KiB) bound it; before that limit
	 * it held 13 MB for this 61 KiB spec (212x) */
	cdi_hostile("CDI spec, shared deviceNodes x the device limit", &b, 2.0,
		    AG_CDI_MAX_NODES_ALL * sizeof(struct ag_cdi_node), AG_CDI_MAX_NODES_ALL / AG_CDI_MAX_NODES);
	assert_string_equal(last_warn, "cdi: /etc/cdi/h.yaml: device 100 and the rest skipped: more than 65536 deviceNodes in all");
	free(b.p);
}

/* What the document tree did, the events do: a key compared up to a NUL byte, the first of each
 * name taken even when it is no scalar; an alias (which the tree resolved) skips the spec. */
static void test_cdi_as_the_tree_read(void **state)
{
	static const char nul[] = "kind: a.com/b\ndevices:\n  - \"name\\0z\": x\n"
				  "    containerEdits: {deviceNodes: [{path: /dev/x, major: 1, minor: 2}]}\n";
	static const char first[] = "kind: a.com/b\ndevices:\n  - name: x\n    containerEdits: "
				    "{deviceNodes: [{path: [1], path: /dev/p, major: 1, minor: 2}]}\n";
	static const char alias[] = "kind: a.com/b\ne: &e {deviceNodes: [{path: /d, major: 1}]}\n"
				    "devices:\n  - name: x\n    containerEdits: *e\n";
	struct ag_cdi_cache c = { 0 };
	size_t cap = 0;

	n_warn = 0;
	assert_int_equal(ag_cdi_load_buf(&c, &cap, "/etc/cdi/n.yaml", nul, sizeof(nul) - 1, 0, NULL, warn, NULL), 0);
	assert_int_equal(n_warn, 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.devs[0].name, "x");
	assert_int_equal(c.devs[0].n_nodes, 1);
	ag_cdi_free(&c);
	cap = 0;
	assert_int_equal(ag_cdi_load_buf(&c, &cap, "/etc/cdi/f.yaml", first, sizeof(first) - 1, 0, NULL, warn, NULL), 0);
	assert_string_equal(last_warn, "cdi: /etc/cdi/f.yaml: device x: a deviceNode has no path");
	assert_int_equal(c.n, 1);
	assert_int_equal(c.devs[0].n_nodes, 0);
	ag_cdi_free(&c);
	cap = 0;
	assert_int_equal(ag_cdi_load_buf(&c, &cap, "/etc/cdi/a.yaml", alias, sizeof(alias) - 1, 0, NULL, warn, NULL), 0);
	assert_string_equal(last_warn, "cdi: /etc/cdi/a.yaml: line 5: a YAML alias: aliases are not supported in a CDI spec: skipped");
	assert_int_equal(c.n, 0);
	ag_cdi_free(&c);
}

/* The stack overflow of warnf: a file name longer than the message buffer. */
static void test_cdi_long_name_warning(void **state)
{
	static const char spec[] = "kind: nvidia.com/gpu\ndevices:\n  - name: bad=name\n";
	struct ag_cdi_cache c = { 0 };
	char name[1100];
	size_t cap = 0;

	memset(name, 'd', sizeof(name) - 1);
	name[0] = '/';
	name[sizeof(name) - 1] = '\0';
	n_warn = 0;
	assert_int_equal(ag_cdi_load_buf(&c, &cap, name, spec, sizeof(spec) - 1, 0, NULL, warn, NULL), 0);
	assert_int_equal(n_warn, 1);
	/* whole: the name, then the cause (it was cut at 1,023 bytes, before the cause) */
	assert_memory_equal(last_warn, "cdi: /ddd", 9);
	assert_memory_equal(last_warn + 5, name, strlen(name));
	assert_string_equal(last_warn + 5 + strlen(name), ": a device has no valid name");
	ag_cdi_free(&c);
}

/* ---- PodResources, CRI, gRPC ---- */

static struct k8s_devmap map;

static void frame(struct buf *out, const struct buf *msg)
{
	unsigned char h[5] = { 0, (unsigned char)(msg->n >> 24), (unsigned char)(msg->n >> 16),
			       (unsigned char)(msg->n >> 8), (unsigned char)msg->n };

	out->n = 0;
	put(out, h, 5);
	put(out, msg->p, msg->n);
}

/* ListPodResourcesResponse{pod_resources: [{name p, namespace n, containers: [{name c, devices:
 * [{resource_name r, device_ids: ids}]}]}]} */
static void pr_list(struct buf *out, const struct buf *ids)
{
	struct buf cd = { 0 }, cr = { 0 }, pr = { 0 }, l = { 0 };

	pb_str(&cd, 1, "nvidia.com/gpu");
	put(&cd, ids->p, ids->n);
	pb_str(&cr, 1, "c");
	pb_ld(&cr, 2, cd.p, cd.n);
	pb_str(&pr, 1, "p");
	pb_str(&pr, 2, "n");
	pb_ld(&pr, 3, cr.p, cr.n);
	pb_ld(&l, 1, pr.p, pr.n);
	frame(out, &l);
	free(cd.p);
	free(cr.p);
	free(pr.p);
	free(l.p);
}

static int pr_parse(const struct buf *body, struct k8s_pr_snap *s, char *err, size_t errlen)
{
	struct k8s_pr pr = { .map = &map };
	ProtobufCMessage *m = NULL;
	uint64_t unmapped = 0;
	int ret;

	ret = ag_grpc_unframe((const unsigned char *)body->p, body->n,
			      &v1__list_pod_resources_response__descriptor, &m, err, errlen);
	if (ret)
		return ret;
	ret = k8s_pr_build(&pr, (V1__ListPodResourcesResponse *)m, s, &unmapped, err, errlen);
	protobuf_c_message_free_unpacked(m, NULL);
	return ret;
}

/* The issue's 2 MB answer: a million empty device ids cost 1.1 GB. Decoded, it would cost more
 * than the budget (protobuf-c keeps about 16 bytes per field while it scans, 24 per string): it
 * is refused, naming the message, with the memory held under the budget. */
static void test_podresources_million_empty_ids(void **state)
{
	struct buf ids = { 0 }, body = { 0 };
	struct k8s_pr_snap s;
	char err[512];

	for (int i = 0; i < 1000000; i++)
		put(&ids, "\x12\x00", 2);
	pr_list(&body, &ids);
	meter_start();
	assert_int_equal(pr_parse(&body, &s, err, sizeof(err)), -EMSGSIZE);
	/* under the decode budget (AG_GRPC_DECODE_FACTOR x): 29.0x */
	meter_within("PodResources, a million empty ids", body.n, 29.1, 0);
	if (!strstr(err, "decode to more than") || !strstr(err, "v1.ListPodResourcesResponse"))
		fail_msg("unexpected error: %s", err);
	/* fewer of them decode, and name no device */
	ids.n = 0;
	for (int i = 0; i < 2000; i++)
		put(&ids, "\x12\x00", 2);
	pb_str(&ids, 2, "GPU-the-one");
	pr_list(&body, &ids);
	assert_int_equal(pr_parse(&body, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.c[0].n, 1);
	assert_string_equal(s.c[0].a[0].id, "GPU-the-one");
	k8s_pr_snap_free(&s);
	free(ids.p);
	free(body.p);
}

static void test_podresources_ids_per_container(void **state)
{
	struct buf ids = { 0 }, body = { 0 };
	struct k8s_pr_snap s;
	char err[512], id[64];

	for (unsigned int i = 0; i < K8S_PR_MAX_IDS; i++) {
		snprintf(id, sizeof(id), "GPU-%08u-0000-4000-8000-000000000000", i);
		pb_str(&ids, 2, id);
	}
	pr_list(&body, &ids);
	meter_start();
	assert_int_equal(pr_parse(&body, &s, err, sizeof(err)), 0);
	meter_within("PodResources, a container at its id limit", body.n, 31.6, 0); /* 31.5x */
	assert_int_equal(s.c[0].n, K8S_PR_MAX_IDS);
	k8s_pr_snap_free(&s);
	pb_str(&ids, 2, "GPU-one-more");
	pr_list(&body, &ids);
	assert_int_equal(pr_parse(&body, &s, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "container n/p/c: 1025 devices, more than 1024");
	free(ids.p);
	free(body.p);
}

/* 8 containers of 1024 ids each are the answer's limit; another pod of them is refused. Each id
 * kept holds a struct k8s_alloc whatever its length on the wire: that is the bound here. */
static void test_podresources_total_ids(void **state)
{
	struct buf ids = { 0 }, cd = { 0 }, cr = { 0 }, pr = { 0 }, l = { 0 }, body = { 0 };
	struct k8s_pr_snap s;
	char err[512], id[64];

	for (unsigned int i = 0; i < K8S_PR_MAX_IDS; i++) {
		snprintf(id, sizeof(id), "GPU-%u", i);
		pb_str(&ids, 2, id);
	}
	pb_str(&cd, 1, "nvidia.com/gpu");
	put(&cd, ids.p, ids.n);
	pb_ld(&cr, 2, cd.p, cd.n);
	pb_str(&pr, 1, "p");
	pb_str(&pr, 2, "n");
	for (unsigned int i = 0; i < K8S_PR_MAX_TOTAL_IDS / K8S_PR_MAX_IDS; i++)
		pb_ld(&pr, 3, cr.p, cr.n);
	pb_ld(&l, 1, pr.p, pr.n);
	frame(&body, &l);
	meter_start();
	assert_int_equal(pr_parse(&body, &s, err, sizeof(err)), 0);
	/* the kept ids (about 9 MiB) plus 1.9x */
	meter_within("PodResources at its total id limit", body.n, 2.0,
		     (size_t)K8S_PR_MAX_TOTAL_IDS * (sizeof(struct k8s_alloc) + 64));
	assert_int_equal(s.n, K8S_PR_MAX_TOTAL_IDS / K8S_PR_MAX_IDS);
	k8s_pr_snap_free(&s);
	pb_ld(&l, 1, pr.p, pr.n); /* a second such pod */
	frame(&body, &l);
	assert_int_equal(pr_parse(&body, &s, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "container n/p/: more than 8192 devices in the answer");
	free(ids.p);
	free(cd.p);
	free(cr.p);
	free(pr.p);
	free(l.p);
	free(body.p);
}

/* Empty sub-messages cost far more decoded than on the wire: the decode budget refuses them. */
static void test_grpc_decode_budget(void **state)
{
	struct buf pr = { 0 }, l = { 0 }, body = { 0 };
	ProtobufCMessage *m = NULL;
	char err[512];

	for (int i = 0; i < 500000; i++)
		put(&pr, "\x1a\x00", 2); /* an empty ContainerResources */
	pb_ld(&l, 1, pr.p, pr.n);
	frame(&body, &l);
	meter_start();
	assert_int_equal(ag_grpc_unframe((const unsigned char *)body.p, body.n,
					 &v1__list_pod_resources_response__descriptor, &m, err,
					 sizeof(err)), -EMSGSIZE);
	meter_within("gRPC, sub-messages over the decode budget", body.n, 30.0, 0); /* 29.9x */
	assert_null(m);
	assert_non_null(strstr(err, "decode to more than"));
	free(pr.p);
	free(l.p);
	free(body.p);
}

static void test_cri_labels_limit(void **state)
{
	struct buf c = { 0 }, l = { 0 }, body = { 0 }, kv = { 0 };
	struct k8s_cri_snap s = { 0 };
	ProtobufCMessage *m = NULL;
	size_t cap = 0;
	char err[512], k[32];

	pb_str(&c, 1, "0123456789abcdef");
	for (unsigned int i = 0; i <= K8S_CRI_MAX_LABELS; i++) {
		kv.n = 0;
		snprintf(k, sizeof(k), "label-%u", i);
		pb_str(&kv, 1, i == 0 ? "io.kubernetes.pod.namespace" : i == 1 ? "io.kubernetes.pod.name" :
			       i == 2 ? "io.kubernetes.container.name" : k);
		pb_str(&kv, 2, "v");
		pb_ld(&c, 8, kv.p, kv.n);
	}
	pb_ld(&l, 1, c.p, c.n);
	frame(&body, &l);
	assert_int_equal(ag_grpc_unframe((const unsigned char *)body.p, body.n,
					 &runtime__v1__list_containers_response__descriptor, &m, err,
					 sizeof(err)), 0);
	meter_start();
	assert_int_equal(k8s_cri_add_containers(&s, &cap, (Runtime__V1__ListContainersResponse *)m),
			 -E2BIG);
	meter_within("CRI, a container over its label limit", body.n, 0.0, 0); /* refused: 0x */
	k8s_cri_snap_free(&s);
	protobuf_c_message_free_unpacked(m, NULL);
	free(c.p);
	free(l.p);
	free(body.p);
	free(kv.p);
}

/* ---- Kubernetes objects and the watch stream ---- */

static void pod_json(struct buf *b, unsigned int n_ctr, unsigned int n_labels, bool dup)
{
	b->n = 0;
	puts_(b, "{\"metadata\":{\"uid\":\"u\",\"name\":\"p\",\"namespace\":\"n\",\"labels\":{");
	for (unsigned int i = 0; i < n_labels; i++)
		putf(b, "%s\"l%u\":\"v\"", i ? "," : "", i);
	puts_(b, "}},\"spec\":{\"containers\":[");
	for (unsigned int i = 0; i < n_ctr; i++)
		putf(b, "%s{\"name\":\"c%u\"}", i ? "," : "", i);
	puts_(b, "]},\"status\":{\"containerStatuses\":[");
	for (unsigned int i = 0; i < n_ctr; i++)
		putf(b, "%s{\"name\":\"c%u\",\"containerID\":\"containerd://%064u\"}", i ? "," : "",
		     dup ? 0 : i, i);
	puts_(b, "]}}");
}

static int pod_parse(const struct buf *b, const char **why)
{
	char err[1024];
	json_object *o = k8s_json_parse(b->p, b->n, k8s_keep_pod, "pod", err, sizeof(err));
	struct k8s_api_pod p;
	int ret;

	assert_non_null(o);
	ret = k8s_api_pod_parse(o, &p, why);
	k8s_api_pod_free(&p);
	json_object_put(o);
	return ret;
}

static void test_pod_limits(void **state)
{
	struct buf b = { 0 };
	const char *why = "";

	pod_json(&b, K8S_API_MAX_CONTAINERS, K8S_API_MAX_LABELS, false);
	meter_start();
	assert_int_equal(pod_parse(&b, &why), 0);
	/* all of it is kept (containers, labels): json-c's tree, 17.9x */
	meter_within("a pod at its container and label limits", b.n, 18.0, 0);
	pod_json(&b, K8S_API_MAX_CONTAINERS + 1, 1, false);
	assert_int_equal(pod_parse(&b, &why), -E2BIG);
	assert_string_equal(why, "more than 256 containers");
	pod_json(&b, 1, K8S_API_MAX_LABELS + 1, false);
	assert_int_equal(pod_parse(&b, &why), -E2BIG);
	assert_string_equal(why, "more than 1024 labels");
	free(b.p);
}

/* Two containerStatuses of one name leaked a string per event: nothing is held after the free. */
static void test_pod_duplicate_status_no_leak(void **state)
{
	struct buf b = { 0 };
	const char *why = "";

	pod_json(&b, 1, 0, false);
	b.n -= 3;
	puts_(&b, ",{\"name\":\"c0\",\"containerID\":\"containerd://dup\"}]}}");
	assert_int_equal(pod_parse(&b, &why), 0); /* json-c's own caches settle */
	meter_start();
	for (int i = 0; i < 100; i++)
		assert_int_equal(pod_parse(&b, &why), 0);
	if (METER && live != base)
		fail_msg("100 pod events with duplicate containerStatuses: %zd bytes still held",
			 (ssize_t)(live - base));
	free(b.p);
}

/* A pod as the API server sends it: managedFields, annotations, volumes, env, conditions (about
 * 12 KiB, json-c took 30 times that for it all). */
static void real_pod(struct buf *b, unsigned int i)
{
	putf(b, "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"train-%u\",\"namespace\":"
	     "\"team-a\",\"uid\":\"0d1f6c7e-%04x-4222-8333-444455556666\",\"resourceVersion\":\"%u\","
	     "\"creationTimestamp\":\"2026-12-01T10:00:00Z\",\"labels\":{\"app\":\"trainer\","
	     "\"pod-template-hash\":\"7d9f8c6b5\",\"team\":\"a\"},\"annotations\":{\"kubectl.kubernetes.io/"
	     "last-applied-configuration\":\"", i, i & 0xffff, i);
	for (int k = 0; k < 40; k++)
		puts_(b, "{\\\"apiVersion\\\":\\\"v1\\\",\\\"kind\\\":\\\"Pod\\\"},");
	puts_(b, "\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":"
	      "\"train-7d9f8c6b5\",\"uid\":\"aa\",\"controller\":true,\"blockOwnerDeletion\":true}],"
	      "\"managedFields\":[");
	for (int m = 0; m < 3; m++) {
		putf(b, "%s{\"manager\":\"kubelet\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
		     "\"time\":\"2026-12-01T10:00:01Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
		     "\"f:status\":{\"f:conditions\":{", m ? "," : "");
		for (int k = 0; k < 30; k++)
			putf(b, "%s\"k:{\\\"type\\\":\\\"C%d\\\"}\":{\".\":{},\"f:lastProbeTime\":{},"
			     "\"f:status\":{},\"f:type\":{}}", k ? "," : "", k);
		puts_(b, "}}},\"subresource\":\"status\"}");
	}
	puts_(b, "]},\"spec\":{\"volumes\":[");
	for (int k = 0; k < 8; k++)
		putf(b, "%s{\"name\":\"v%d\",\"configMap\":{\"name\":\"cm%d\",\"defaultMode\":420}}",
		     k ? "," : "", k, k);
	puts_(b, "],\"containers\":[{\"name\":\"main\",\"image\":\"registry.example/train:1.2\","
	      "\"env\":[");
	for (int k = 0; k < 20; k++)
		putf(b, "%s{\"name\":\"ENV_%d\",\"value\":\"value-%d\"}", k ? "," : "", k, k);
	puts_(b, "],\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"},\"claims\":[{\"name\":\"gpu\"}]},"
	      "\"volumeMounts\":[{\"name\":\"v0\",\"mountPath\":\"/etc/v0\"}]},{\"name\":\"sidecar\","
	      "\"image\":\"registry.example/side:1\"}],\"serviceAccountName\":\"trainer\","
	      "\"nodeName\":\"node-1\",\"resourceClaims\":[{\"name\":\"gpu\","
	      "\"resourceClaimTemplateName\":\"gpu-t\"}],\"tolerations\":[{\"key\":\"k\","
	      "\"operator\":\"Exists\"}]},\"status\":{\"phase\":\"Running\",\"conditions\":[");
	for (int k = 0; k < 6; k++)
		putf(b, "%s{\"type\":\"C%d\",\"status\":\"True\",\"lastTransitionTime\":"
		     "\"2026-12-01T10:00:02Z\"}", k ? "," : "", k);
	putf(b, "],\"containerStatuses\":[{\"name\":\"main\",\"containerID\":\"containerd://%064x\","
	     "\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{\"startedAt\":\"x\"}}},"
	     "{\"name\":\"sidecar\",\"containerID\":\"containerd://%063xf\"}],"
	     "\"resourceClaimStatuses\":[{\"name\":\"gpu\",\"resourceClaimName\":\"train-%u-gpu\"}]}}",
	     i, i, i);
}

static int podlist(struct buf *b, struct k8s_api_pod **pods, size_t *n, char *err, size_t errlen)
{
	char rv[64], cont[64];

	return k8s_api_podlist_parse(b->p, b->n, "/api/v1/pods", pods, n, NULL, rv, sizeof(rv), cont,
				     sizeof(cont), err, errlen);
}

static void pods_free(struct k8s_api_pod *pods, size_t n)
{
	for (size_t i = 0; i < n; i++)
		k8s_api_pod_free(&pods[i]);
	free(pods);
}

/* For the record, not a bound (printed, not asserted: neither its time nor its memory is the
 * agent's any more): what json-c's whole tree of b costs (b is freed). */
static void jsonc_record(const char *what, struct buf *b)
{
	json_object *o;

	meter_start();
	o = json_tokener_parse(b->p);
	assert_non_null(o);
	meter_print(what, b->n);
	json_object_put(o);
	free(b->p);
}

/* The answer limit (64 MiB): K8S_API_MAX_PODS real pods fit in it; json-c kept everything and took
 * 30 times the answer for them (2 GB). */
static void test_podlist_at_limit(void **state)
{
	struct buf b = { 0 };
	struct k8s_api_pod *pods;
	size_t n;
	char err[1024];

	puts_(&b, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"9\"},"
	      "\"items\":[");
	for (unsigned int i = 0; i < K8S_API_MAX_PODS; i++) {
		if (i)
			puts_(&b, ",");
		real_pod(&b, i);
	}
	puts_(&b, "]}");
	assert_true(b.n <= K8S_API_MAX_BODY);
	{
		/* for the record (not a bound): json-c's tree of all of one such pod, as the agent
		 * parsed before api_json.c */
		struct buf one = { 0 };

		real_pod(&one, 1);
		jsonc_record("json-c's whole tree of one real pod (no keep list)", &one);
	}
	meter_start();
	if (podlist(&b, &pods, &n, err, sizeof(err)))
		fail_msg("%s", err);
	meter_within("a PodList of 4096 real pods", b.n, 1.15, 0); /* 1.1x */
	assert_int_equal(n, K8S_API_MAX_PODS);
	assert_string_equal(pods[7].c[0].id, "0000000000000000000000000000000000000000000000000000000000000007");
	assert_string_equal(pods[7].cl[0].claim, "train-7-gpu");
	assert_int_equal(pods[7].labels.n, 3);
	pods_free(pods, n);
	free(b.p);
}

/* The hostile shapes: tiny objects (refused before json-c sees them), and pods just under the
 * bound (held under it). */
static void test_podlist_hostile(void **state)
{
	struct buf b = { 0 };
	struct k8s_api_pod *pods = NULL;
	size_t n = 0;
	char err[1024];

	puts_(&b, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[{}");
	while (b.n < K8S_API_MAX_BODY - 8)
		puts_(&b, ",{}");
	puts_(&b, "]}");
	{
		/* for the record (not a bound): json-c's tree of 256 KiB of {}, as before (the
		 * factor is the same at any size) */
		struct buf one = { 0 };

		puts_(&one, "[{}");
		while (one.n < (1u << 18) - 4)
			puts_(&one, ",{}");
		puts_(&one, "]");
		jsonc_record("json-c's whole tree of 256 KiB of {} (no keep list)", &one);
	}
	meter_start();
	assert_int_equal(podlist(&b, &pods, &n, err, sizeof(err)), -E2BIG);
	/* refused by the scan that splits the items (counted past the limit, not kept): 0x */
	meter_within("a PodList of 64 MiB of {}", b.n, 0.0, 0);
	if (!strstr(err, "/api/v1/pods: ") || !strstr(err, "pods, more than 4096 on one node"))
		fail_msg("unexpected error: %s", err);
	/* kept values under the bound: pods of a few kept values padded with what is not kept */
	b.n = 0;
	puts_(&b, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[");
	for (unsigned int i = 0; b.n < K8S_API_MAX_BODY - 1024; i++) {
		putf(&b, "%s{\"metadata\":{\"uid\":\"u%u\",\"name\":\"p\",\"namespace\":\"n\"},"
		     "\"spec\":{},\"x\":\"", i ? "," : "", i);
		for (int k = 0; k < 560; k++)
			puts_(&b, "x");
		puts_(&b, "\"}");
	}
	puts_(&b, "]}");
	meter_start();
	if (podlist(&b, &pods, &n, err, sizeof(err)) != -E2BIG)
		fail_msg("%s", err);
	/* the check lets json-c's tree be K8S_JSON_FACTOR x + K8S_JSON_FIXED; this shape takes 4.1x */
	meter_within("a PodList of 64 MiB of minimal pods", b.n, 4.2, 0);
	assert_non_null(strstr(err, "pods, more than 4096 on one node"));
	/* no JSON */
	b.n = 0;
	puts_(&b, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[{\"a\":\"\x01\"}]}");
	assert_int_equal(podlist(&b, &pods, &n, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "/api/v1/pods: not JSON at byte 51: a control character in a string");
	b.n = 0;
	for (int i = 0; i < 40; i++)
		puts_(&b, "[");
	assert_int_equal(podlist(&b, &pods, &n, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "/api/v1/pods: not JSON at byte 32: nested deeper than 32 levels");
	free(b.p);
}

/* A watch line at its limit (16 MiB): one event of a real pod padded to it, and one of tiny values */
static void test_watch_event_at_limit(void **state)
{
	struct buf b = { 0 };
	json_object *o;
	struct k8s_api_pod p;
	const char *why = "";
	char err[1024];

	puts_(&b, "{\"type\":\"MODIFIED\",\"object\":");
	real_pod(&b, 1);
	b.n -= 2; /* into status */
	puts_(&b, ",\"message\":\"");
	while (b.n < K8S_API_MAX_LINE - 16)
		puts_(&b, "padding ");
	puts_(&b, "\"}}}");
	assert_true(b.n <= K8S_API_MAX_LINE);
	meter_start();
	o = k8s_json_parse(b.p, b.n, k8s_keep_watch, NULL, err, sizeof(err));
	if (!o)
		fail_msg("%s", err);
	assert_int_equal(k8s_api_pod_parse(k8s_jget(o, "object"), &p, &why), 0);
	meter_within("a watch event of 16 MiB", b.n, 0.0, 0); /* the padding is blanked: 15 KiB */
	k8s_api_pod_free(&p);
	json_object_put(o);
	b.n = 0;
	puts_(&b, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"labels\":{");
	for (unsigned int i = 0; b.n < K8S_API_MAX_LINE - 32; i++)
		putf(&b, "%s\"%x\":0", i ? "," : "", i);
	puts_(&b, "}}}}");
	meter_start();
	assert_null(k8s_json_parse(b.p, b.n, k8s_keep_watch, NULL, err, sizeof(err)));
	meter_within("a watch event of 16 MiB of labels", b.n, 0.0, 0); /* refused by the scan */
	assert_non_null(strstr(err, "more than 6 times its"));
	free(b.p);
}

static size_t n_lines;

static int count_line(struct k8s_req *r, char *line, size_t len)
{
	n_lines++;
	return 0;
}

/* A chunk of a million short lines: one move of the rest, not one per line. */
static void test_watch_many_lines(void **state)
{
	struct k8s_req r = { .line = count_line };
	size_t n = 3u << 20;
	char *chunk = malloc(n);

	for (size_t i = 0; i < n; i += 3)
		memcpy(chunk + i, "{}\n", 3);
	n_lines = 0;
	meter_start();
	assert_int_equal(k8s_req_feed(&r, chunk, n), n);
	meter_within("watch stream, a million lines in one chunk", n, 1.4, 0); /* 1.3x */
	assert_int_equal(n_lines, n / 3);
	k8s_req_reset(&r);
	free(chunk);
}

static void test_watch_line_limit(void **state)
{
	struct k8s_req r = { .line = count_line };
	size_t n = K8S_API_MAX_LINE + 1;
	char *chunk = malloc(n);

	memset(chunk, 'x', n);
	n_lines = 0;
	/* refused alone: dropped to its newline, and the line after it is read (it cut the
	 * transfer, and the watch resumed into the same line for ever) */
	assert_int_equal(k8s_req_feed(&r, chunk, n), n);
	assert_int_equal(r.long_lines, 1);
	assert_int_equal(n_lines, 0);
	assert_int_equal(k8s_req_feed(&r, "xx\n{}\n", 6), 6);
	assert_int_equal(n_lines, 1);
	assert_int_equal(r.long_lines, 1);
	k8s_req_reset(&r);
	free(chunk);
}

/* ---- procfs ---- */

static void test_nvidia_caps_limit(void **state)
{
	struct buf b = { 0 };
	struct ag_nv_table t = { 0 };
	char err[512];

	for (unsigned int i = 0; i < AG_NV_MAX_CAPS; i++)
		putf(&b, "gpu%u/gi%u/ci%u/access %u\n", i / 1024, i / 32 % 32, i % 32, i);
	meter_start();
	assert_int_equal(ag_nv_parse_caps(&t, "mig-minors", b.p, b.n, err, sizeof(err)), 0);
	meter_within("mig-minors at its limit", b.n, 1.6, 0); /* 1.57x */
	assert_int_equal(t.n_caps, AG_NV_MAX_CAPS);
	puts_(&b, "gpu99/gi0/access 1\n");
	ag_nv_free(&t);
	assert_int_equal(ag_nv_parse_caps(&t, "mig-minors", b.p, b.n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "nvidia procfs: mig-minors: more than 65536 capability minors");
	ag_nv_free(&t);
	free(b.p);
}

static void test_text_files_linear(void **state)
{
	struct buf b = { 0 };
	char mnt[4096];

	puts_(&b, "Character devices:\n");
	while (b.n < (4u << 20))
		puts_(&b, "240 not-this-one\n");
	puts_(&b, "241 accel\n");
	meter_start();
	assert_int_equal(ag_proc_devices_major_buf(b.p, b.n, "accel"), 241);
	meter_within("/proc/devices of 4 MiB", b.n, 0.0, 0); /* 8 KiB */
	b.n = 0;
	while (b.n < (4u << 20))
		puts_(&b, "22 1 0:21 / /proc rw,nosuid - proc proc rw\n");
	puts_(&b, "25 1 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
	meter_start();
	assert_int_equal(ag_mountinfo_cgroup2(b.p, mnt, sizeof(mnt)), 0);
	meter_within("mountinfo of 4 MiB", b.n, 0.0, 0); /* 0 */
	assert_string_equal(mnt, "/sys/fs/cgroup");
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_at_limits),
		cmocka_unit_test(test_config_over_limits),
		cmocka_unit_test(test_config_nul_key_and_ranges_per_major),
		cmocka_unit_test(test_tenant_lookup_deep_path),
		cmocka_unit_test(test_yaml_nesting),
		cmocka_unit_test(test_cdi_at_limits),
		cmocka_unit_test(test_cdi_hostile_at_limit),
		cmocka_unit_test(test_cdi_as_the_tree_read),
		cmocka_unit_test(test_cdi_long_name_warning),
		cmocka_unit_test(test_podresources_million_empty_ids),
		cmocka_unit_test(test_podresources_ids_per_container),
		cmocka_unit_test(test_podresources_total_ids),
		cmocka_unit_test(test_grpc_decode_budget),
		cmocka_unit_test(test_cri_labels_limit),
		cmocka_unit_test(test_pod_limits),
		cmocka_unit_test(test_pod_duplicate_status_no_leak),
		cmocka_unit_test(test_podlist_at_limit),
		cmocka_unit_test(test_podlist_hostile),
		cmocka_unit_test(test_watch_event_at_limit),
		cmocka_unit_test(test_watch_many_lines),
		cmocka_unit_test(test_watch_line_limit),
		cmocka_unit_test(test_nvidia_caps_limit),
		cmocka_unit_test(test_text_files_linear),
	};
	int ret;

	alarm(120); /* a parser gone quadratic hangs: fail the run instead */
	ag_log_level = AG_LOG_ERROR; /* ids that map to no device are warned about, one line each */
	if (k8s_map_init(&map, "/nonexistent", NULL, NULL, 0))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	k8s_map_fini(&map);
	return ret;
}
