// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cgpattern.h"
#include "cgroups.h"
#include "log.h"
#include "policy.h"
#include "util.h"
#include "verdict.h"

#define AG_OWNER_RANGE_MAX 1024 /* minors expanded per allocated range for owners */

static const char *const pstate_names[] = { "host", "tenant", "exempt", "unresolved",
					    "tenant_parent" };

const char *ag_pstate_name(int state)
{
	return state >= 0 && state < (int)ARRAY_SIZE(pstate_names) ? pstate_names[state] : "?";
}

/* ---- the configuration's source ---------------------------------------------------------- */

struct cfg_src {
	struct ag_source src;
	const struct ag_config *cfg;
	char **roots;
};

static int add_dev(struct ag_tenant *t, __u32 major, __u32 lo, __u32 hi, __u32 flags)
{
	for (unsigned int i = 0; i < t->n_devs; i++)
		if (t->devs[i].major == major && t->devs[i].lo == lo && t->devs[i].hi == hi) {
			t->devs[i].flags |= flags;
			return 0;
		}
	if (t->n_devs >= AG_MAX_ALLOWED)
		return -E2BIG;
	t->devs[t->n_devs++] = (struct ag_dev_range){ major, lo, hi, flags };
	return 0;
}

/* A tenant is the topmost cgroup on the path that a tenant (or allocation) pattern names; the
 * cgroups below it are part of it. */
static int cfg_resolve(void *ctx, const char *path, struct ag_tenant *out)
{
	struct cfg_src *cs = ctx;
	const struct ag_config *cfg = cs->cfg;
	char top[4096];
	size_t n = strlen(path), end;
	int k = -1;

	/* the topmost prefix any pattern names: one pass per pattern over the path (a scan of every
	 * prefix against every pattern took 43 s for a 2,000-deep path and 2,048 patterns) */
	for (size_t i = 0; i < cfg->n_tenants + cfg->n_allocs; i++) {
		const char *pat = i < cfg->n_tenants ? cfg->tenants[i] : cfg->allocs[i - cfg->n_tenants].cgroup;
		int m = ag_cgpattern_prefix(pat, path);

		if (m >= 0 && (k < 0 || m < k))
			k = m;
	}
	if (k < 0)
		return AG_R_NOT_MINE;
	/* the end of the k-th component */
	end = 0;
	for (int c = 0; c < k; c++) {
		while (end < n && path[end] == '/')
			end++;
		while (end < n && path[end] != '/')
			end++;
	}
	if (!end)
		end = 1; /* "/" */
	if (end >= sizeof(top))
		return AG_R_NOT_MINE;
	memcpy(top, path, end);
	top[end] = 0;
	out->state = AG_P_TENANT;
	ag_strlcpy(out->key, top, sizeof(out->key));
	for (size_t i = 0; i < cfg->n_allocs; i++) {
		const struct ag_cfg_alloc *a = &cfg->allocs[i];

		if (!ag_cgpattern_match(a->cgroup, top))
			continue;
		for (size_t j = 0; j < a->n_devices; j++)
			if (add_dev(out, a->devices[j].major, a->devices[j].lo, a->devices[j].hi, 0))
				ag_warn("policy: %s: more than %d device ranges allocated; %s:%d ignored",
					top, AG_MAX_ALLOWED, cfg->path, a->devices[j].line);
	}
	return AG_R_DONE;
}

static const char *const *cfg_roots(void *ctx)
{
	return (const char *const *)((struct cfg_src *)ctx)->roots;
}

static void cfg_destroy(void *ctx)
{
	struct cfg_src *cs = ctx;

	for (char **r = cs->roots; r && *r; r++)
		free(*r);
	free(cs->roots);
	free(cs);
}

struct ag_source *ag_config_source_new(const struct ag_config *cfg)
{
	struct cfg_src *cs = calloc(1, sizeof(*cs));
	size_t n = 0, cap = cfg->n_tenants + cfg->n_allocs + 1;

	if (!cs)
		return NULL;
	cs->cfg = cfg;
	cs->roots = calloc(cap, sizeof(char *));
	if (!cs->roots) {
		free(cs);
		return NULL;
	}
	for (size_t i = 0; i < cap - 1; i++) {
		const char *pat = i < cfg->n_tenants ? cfg->tenants[i] : cfg->allocs[i - cfg->n_tenants].cgroup;
		char buf[4096];

		if (ag_cgpattern_parent(pat, buf, sizeof(buf)))
			continue;
		cs->roots[n] = strdup(buf);
		if (cs->roots[n])
			n++;
	}
	cs->src.name = "config";
	cs->src.ctx = cs;
	cs->src.resolve = cfg_resolve;
	cs->src.tenant_roots = cfg_roots;
	cs->src.destroy = cfg_destroy;
	return &cs->src;
}

/* ---- owners: exclusive devices, counted once per tenant key --------------------------------- */

struct owner {
	struct ag_hnode node;
	struct ag_dev_key k;
	__u32 count;
};

struct keyent {
	struct ag_hnode node;
	char *key;
	unsigned int refs;
	unsigned int n_devs;
	struct ag_dev_range devs[AG_MAX_ALLOWED];
};

static uint64_t dev_hash(__u32 major, __u32 minor)
{
	return ag_hash_u64(((uint64_t)major << 32) | minor);
}

static struct owner *owner_find(const struct ag_policy_db *db, __u32 major, __u32 minor)
{
	uint64_t h = dev_hash(major, minor);

	for (struct ag_hnode *n = ag_htab_first(&db->owners, h); n; n = ag_htab_next(n, h)) {
		struct owner *o = ag_container_of(n, struct owner, node);

		if (o->k.major == major && o->k.minor == minor)
			return o;
	}
	return NULL;
}

__u32 ag_policy_owners(const struct ag_policy_db *db, __u32 major, __u32 minor)
{
	struct owner *o = owner_find(db, major, minor);

	return o ? o->count : 0;
}

static void owner_add(struct ag_policy_db *db, __u32 major, __u32 minor, int delta)
{
	struct owner *o = owner_find(db, major, minor);

	if (!o) {
		if (delta < 0)
			return;
		o = calloc(1, sizeof(*o));
		if (!o) {
			db->map_errors++;
			return;
		}
		o->k.major = major;
		o->k.minor = minor;
		ag_htab_add(&db->owners, &o->node, dev_hash(major, minor));
	}
	o->count += delta;
	if (db->maps && ag_maps_owner_set(db->maps, major, minor, o->count)) {
		db->map_errors++;
		ag_err("policy: cannot update owners for device %u:%u: %s", major, minor,
		       strerror(errno));
	}
	if (!o->count) {
		ag_htab_del(&db->owners, &o->node);
		free(o);
	}
}

static void owners_apply(struct ag_policy_db *db, const struct ag_dev_range *d, unsigned int n,
			 int delta)
{
	for (unsigned int i = 0; i < n; i++) {
		__u32 hi = d[i].hi;

		if (d[i].flags & (AG_RF_SHARED | AG_RF_ADMIN))
			continue;
		if (hi - d[i].lo >= AG_OWNER_RANGE_MAX)
			hi = d[i].lo + AG_OWNER_RANGE_MAX - 1;
		for (__u32 m = d[i].lo; m <= hi; m++) {
			owner_add(db, d[i].major, m, delta);
			if (m == 0xffffffffu)
				break;
		}
	}
}

static struct keyent *key_find(const struct ag_policy_db *db, const char *key)
{
	uint64_t h = ag_hash_str(key);

	for (struct ag_hnode *n = ag_htab_first(&db->keys, h); n; n = ag_htab_next(n, h)) {
		struct keyent *k = ag_container_of(n, struct keyent, node);

		if (!strcmp(k->key, key))
			return k;
	}
	return NULL;
}

static void key_acquire(struct ag_policy_db *db, const char *key, const struct ag_tenant *t)
{
	struct keyent *k = key_find(db, key);

	if (k) {
		k->refs++;
		if (k->n_devs != t->n_devs ||
		    memcmp(k->devs, t->devs, t->n_devs * sizeof(t->devs[0]))) {
			owners_apply(db, k->devs, k->n_devs, -1);
			k->n_devs = t->n_devs;
			memcpy(k->devs, t->devs, t->n_devs * sizeof(t->devs[0]));
			owners_apply(db, k->devs, k->n_devs, +1);
		}
		return;
	}
	k = calloc(1, sizeof(*k));
	if (!k || !(k->key = strdup(key))) {
		free(k);
		db->map_errors++;
		return;
	}
	k->refs = 1;
	k->n_devs = t->n_devs;
	memcpy(k->devs, t->devs, t->n_devs * sizeof(t->devs[0]));
	ag_htab_add(&db->keys, &k->node, ag_hash_str(key));
	owners_apply(db, k->devs, k->n_devs, +1);
}

static void key_release(struct ag_policy_db *db, const char *key)
{
	struct keyent *k = key_find(db, key);

	if (!k || --k->refs)
		return;
	owners_apply(db, k->devs, k->n_devs, -1);
	ag_htab_del(&db->keys, &k->node);
	free(k->key);
	free(k);
}

/* ---- classification ------------------------------------------------------------------------ */

static bool under_root(const struct ag_policy_db *db, const char *path)
{
	for (size_t i = 0; i < db->n_roots; i++) {
		size_t n = strlen(db->roots[i]);

		if (!strcmp(db->roots[i], "/"))
			return strcmp(path, "/") != 0;
		if (!strncmp(path, db->roots[i], n) && path[n] == '/')
			return true;
	}
	return false;
}

static bool is_root(const struct ag_policy_db *db, const char *path)
{
	for (size_t i = 0; i < db->n_roots; i++)
		if (!strcmp(db->roots[i], path))
			return true;
	return false;
}

/* Every vendor control node that a container holding a device of that vendor needs, marked
 * shared; control nodes allocated explicitly are shared too (never cross_tenant). */
static void expand_controls(const struct ag_devtab *dt, struct ag_tenant *t)
{
	char vendors[8][16];
	unsigned int nv = 0;

	if (!dt)
		return;
	for (unsigned int i = 0; i < t->n_devs; i++) {
		const struct ag_class *c = ag_devtab_class(dt, ag_devtab_lookup(dt, t->devs[i].major,
										 t->devs[i].lo));
		bool seen = false;

		if (!c)
			continue;
		if (c->control) {
			t->devs[i].flags |= AG_RF_SHARED;
			continue;
		}
		if (!c->vendor[0])
			continue;
		for (unsigned int v = 0; v < nv; v++)
			seen |= !strcmp(vendors[v], c->vendor);
		if (!seen && nv < ARRAY_SIZE(vendors))
			ag_strlcpy(vendors[nv++], c->vendor, sizeof(vendors[0]));
	}
	for (unsigned int r = 0; r < dt->n_ranges; r++) {
		const struct ag_class *c = ag_devtab_class(dt, dt->ranges[r].class_id);

		if (!c || !c->control)
			continue;
		for (unsigned int v = 0; v < nv; v++)
			if (!strcmp(vendors[v], c->vendor) &&
			    add_dev(t, dt->ranges[r].major, dt->ranges[r].lo, dt->ranges[r].hi,
				    AG_RF_SHARED))
				ag_warn("policy: no room for the %s control node in a tenant's %d device ranges",
					c->name, AG_MAX_ALLOWED);
	}
}

static int classify(struct ag_policy_db *db, const char *path, struct ag_tenant *t)
{
	const struct ag_config *cfg = db->cfg;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; cfg && i < cfg->n_exempt; i++)
		if (ag_cgpattern_match_or_ancestor(cfg->exempt[i], path))
			return t->state = AG_P_EXEMPT;
	for (int i = 0; i < db->n_src; i++) {
		int r = db->src[i]->resolve(db->src[i]->ctx, path, t);

		if (r == AG_R_DONE) {
			if (t->state == AG_P_TENANT)
				expand_controls(db->devtab, t);
			return t->state;
		}
		if (r == AG_R_PENDING) {
			t->state = AG_P_UNRESOLVED;
			return t->state;
		}
		memset(t, 0, sizeof(*t));
	}
	return t->state = is_root(db, path) ? AG_P_TENANT_PARENT : AG_P_HOST;
}

static void fill_kpolicy(const struct ag_cg *cg, struct ag_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->state = cg->state;
	if (cg->state == AG_P_TENANT || cg->state == AG_P_EXEMPT || cg->state == AG_P_UNRESOLVED)
		p->flags = AG_PF_INHERIT;
	if (cg->state == AG_P_UNRESOLVED && cg->preexisting)
		p->flags |= AG_PF_PREEXISTING;
	if (cg->state == AG_P_TENANT) {
		p->n = cg->t.n_devs;
		memcpy(p->d, cg->t.devs, cg->t.n_devs * sizeof(cg->t.devs[0]));
	}
}

static void write_map(struct ag_policy_db *db, struct ag_cg *cg)
{
	/* host cgroups need an entry only where a miss would read as "unresolved" */
	bool want = cg->state != AG_P_HOST || under_root(db, cg->path);
	struct ag_policy p;

	if (!db->maps) {
		cg->in_map = want;
		return;
	}
	if (!want) {
		if (cg->in_map && ag_maps_policy_del(db->maps, cg->id) && errno != ENOENT)
			db->map_errors++;
		cg->in_map = false;
		return;
	}
	fill_kpolicy(cg, &p);
	if (ag_maps_policy_set(db->maps, cg->id, &p)) {
		db->map_errors++;
		ag_err("policy: cannot update the policy map for cgroup %llu (%s): %s%s",
		       (unsigned long long)cg->id, cg->path, strerror(errno),
		       errno == E2BIG || errno == ENOMEM ? " (raise max_cgroups)" : "");
		cg->in_map = false;
		return;
	}
	cg->in_map = true;
}

static const char *cg_key(const struct ag_cg *cg, const struct ag_tenant *t)
{
	return t->key[0] ? t->key : cg->path;
}

static void record_latency(struct ag_policy_db *db, __u64 created_ns)
{
	__u64 now = ag_now_ns(CLOCK_BOOTTIME);

	if (db->n_lat == db->cap_lat) {
		size_t cap = db->cap_lat ? db->cap_lat * 2 : 256;
		__u64 *nl;

		if (cap > 1000000)
			return; /* a bounded sample: enough for any percentile we report */
		nl = realloc(db->lat, cap * sizeof(*nl));
		if (!nl)
			return;
		db->lat = nl;
		db->cap_lat = cap;
	}
	db->lat[db->n_lat++] = now > created_ns ? now - created_ns : 0;
}

/* Move a cgroup to what classify() said; returns whether anything changed. */
static bool apply(struct ag_policy_db *db, struct ag_cg *cg, const struct ag_tenant *t)
{
	int old = cg->state;

	if (old == t->state && !memcmp(&cg->t, t, sizeof(*t)) && (cg->in_map || old == AG_P_HOST))
		return false;
	if (old == AG_P_TENANT && cg->key)
		key_release(db, cg->key);
	free(cg->key);
	cg->key = NULL;
	cg->t = *t;
	cg->state = t->state;
	if (cg->state == AG_P_TENANT) {
		cg->key = strdup(cg_key(cg, t));
		if (cg->key)
			key_acquire(db, cg->key, t);
	}
	write_map(db, cg);
	if (cg->created_ns && !cg->lat_done && cg->in_map &&
	    (cg->state == AG_P_TENANT || cg->state == AG_P_EXEMPT)) {
		record_latency(db, cg->created_ns);
		cg->lat_done = true;
	}
	if (old == AG_P_UNRESOLVED && cg->state != AG_P_UNRESOLVED && db->on_resolved)
		db->on_resolved(cg, db->cb_ctx);
	return true;
}

/* ---- the table ----------------------------------------------------------------------------- */

int ag_policy_init(struct ag_policy_db *db, const struct ag_config *cfg,
		   const struct ag_devtab *devtab, struct ag_maps *maps)
{
	memset(db, 0, sizeof(*db));
	db->cfg = cfg;
	db->devtab = devtab;
	db->maps = maps;
	if (ag_htab_init(&db->ids, 1024) || ag_htab_init(&db->paths, 1024) ||
	    ag_htab_init(&db->owners, 256) || ag_htab_init(&db->keys, 256))
		return -ENOMEM;
	return 0;
}

int ag_policy_add_source(struct ag_policy_db *db, struct ag_source *src)
{
	const char *const *r;
	char **nr;
	size_t n = 0;

	if (db->n_src >= AG_MAX_SOURCES)
		return -ENOSPC;
	db->src[db->n_src++] = src;
	for (r = src->tenant_roots ? src->tenant_roots(src->ctx) : NULL; r && r[n]; n++)
		;
	if (!n)
		return 0;
	nr = realloc(db->roots, (db->n_roots + n) * sizeof(char *));
	if (!nr)
		return -ENOMEM;
	db->roots = nr;
	for (size_t i = 0; i < n; i++)
		if (!is_root(db, r[i]) && (db->roots[db->n_roots] = strdup(r[i])))
			db->n_roots++;
	return 0;
}

static void cg_free(struct ag_cg *cg)
{
	free(cg->pending);
	free(cg->path);
	free(cg->key);
	free(cg);
}

void ag_policy_free(struct ag_policy_db *db)
{
	struct ag_hnode *n, *next;
	size_t b = 0;

	for (n = ag_htab_iter(&db->ids, &b, NULL); n; n = next) {
		next = ag_htab_iter(&db->ids, &b, n);
		cg_free(ag_container_of(n, struct ag_cg, by_id));
	}
	b = 0;
	for (n = ag_htab_iter(&db->owners, &b, NULL); n; n = next) {
		next = ag_htab_iter(&db->owners, &b, n);
		free(ag_container_of(n, struct owner, node));
	}
	b = 0;
	for (n = ag_htab_iter(&db->keys, &b, NULL); n; n = next) {
		struct keyent *k = ag_container_of(n, struct keyent, node);

		next = ag_htab_iter(&db->keys, &b, n);
		free(k->key);
		free(k);
	}
	for (int i = 0; i < db->n_src; i++)
		if (db->src[i]->destroy)
			db->src[i]->destroy(db->src[i]->ctx);
	for (size_t i = 0; i < db->n_roots; i++)
		free(db->roots[i]);
	free(db->roots);
	free(db->lat);
	ag_htab_free(&db->ids);
	ag_htab_free(&db->paths);
	ag_htab_free(&db->owners);
	ag_htab_free(&db->keys);
}

struct ag_cg *ag_policy_find(const struct ag_policy_db *db, __u64 id)
{
	uint64_t h = ag_hash_u64(id);

	for (struct ag_hnode *n = ag_htab_first(&db->ids, h); n; n = ag_htab_next(n, h)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);

		if (cg->id == id)
			return cg;
	}
	return NULL;
}

struct ag_cg *ag_policy_find_path(const struct ag_policy_db *db, const char *path)
{
	uint64_t h = ag_hash_str(path);

	for (struct ag_hnode *n = ag_htab_first(&db->paths, h); n; n = ag_htab_next(n, h)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_path);

		if (!strcmp(cg->path, path))
			return cg;
	}
	return NULL;
}

struct ag_cg *ag_policy_added(struct ag_policy_db *db, __u64 id, const char *path, __u64 created_ns)
{
	struct ag_cg *cg = ag_policy_find(db, id);
	struct ag_tenant t;

	if (cg)
		return cg;
	cg = calloc(1, sizeof(*cg));
	if (!cg || !(cg->path = strdup(path))) {
		free(cg);
		return NULL;
	}
	cg->id = id;
	cg->created_ns = created_ns;
	cg->preexisting = db->starting;
	cg->state = AG_P_HOST;
	ag_htab_add(&db->ids, &cg->by_id, ag_hash_u64(id));
	ag_htab_add(&db->paths, &cg->by_path, ag_hash_str(path));
	classify(db, path, &t);
	apply(db, cg, &t);
	return cg;
}

void ag_policy_removed(struct ag_policy_db *db, __u64 id)
{
	struct ag_cg *cg = ag_policy_find(db, id);

	if (!cg)
		return;
	if (cg->state == AG_P_TENANT && cg->key)
		key_release(db, cg->key);
	if (cg->in_map && db->maps)
		ag_maps_policy_del(db->maps, cg->id);
	ag_htab_del(&db->ids, &cg->by_id);
	ag_htab_del(&db->paths, &cg->by_path);
	cg_free(cg);
}

void ag_policy_refresh(struct ag_policy_db *db)
{
	struct ag_hnode *n;
	struct ag_tenant t;
	size_t b = 0;

	for (n = ag_htab_iter(&db->ids, &b, NULL); n; n = ag_htab_iter(&db->ids, &b, n)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);

		classify(db, cg->path, &t);
		apply(db, cg, &t);
	}
}

static int scan_one(const char *path, __u64 id, void *ctx)
{
	struct ag_policy_db *db = ctx;
	struct ag_cg *cg = ag_policy_added(db, id, path, 0);

	if (cg)
		cg->seen = db->scan_gen;
	return 0;
}

int ag_policy_scan(struct ag_policy_db *db, const char *cgroup2)
{
	db->scan_gen++;
	return ag_cgroup_walk(cgroup2, scan_one, db);
}

int ag_policy_reconcile(struct ag_policy_db *db, const char *cgroup2, ag_gone_cb gone, void *ctx)
{
	struct ag_hnode *n;
	__u64 *ids = NULL;
	size_t n_ids = 0, b = 0;
	int err = ag_policy_scan(db, cgroup2);

	if (err)
		return err; /* a partial walk proves nothing gone */
	for (n = ag_htab_iter(&db->ids, &b, NULL); n; n = ag_htab_iter(&db->ids, &b, n)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);
		__u64 *ni;

		if (cg->seen == db->scan_gen)
			continue;
		ni = realloc(ids, (n_ids + 1) * sizeof(*ids));
		if (!ni)
			break;
		ids = ni;
		ids[n_ids++] = cg->id;
	}
	for (size_t i = 0; i < n_ids; i++) {
		struct ag_cg *cg = ag_policy_find(db, ids[i]);

		if (gone)
			gone(cg, ctx);
		ag_policy_removed(db, ids[i]);
	}
	free(ids);
	return n_ids;
}

bool ag_policy_effective(const struct ag_policy_db *db, const char *path, struct ag_policy *out)
{
	char buf[4096];
	struct ag_cg *cg = ag_policy_find_path(db, path);

	if (cg && cg->in_map) {
		fill_kpolicy(cg, out);
		return cg->state != AG_P_HOST && cg->state != AG_P_TENANT_PARENT;
	}
	if (ag_strlcpy(buf, path, sizeof(buf)))
		return false;
	/* the nearest ancestor with an entry, as the kernel's ancestor walk finds it */
	for (;;) {
		char *slash = strrchr(buf, '/');

		if (!slash || (slash == buf && !buf[1]))
			return false;
		if (slash == buf)
			slash[1] = 0;
		else
			*slash = 0;
		cg = ag_policy_find_path(db, buf);
		if (cg && cg->in_map)
			break;
		if (!strcmp(buf, "/"))
			return false;
	}
	if (cg->state == AG_P_TENANT_PARENT) {
		memset(out, 0, sizeof(*out));
		out->state = AG_P_UNRESOLVED;
		return true;
	}
	fill_kpolicy(cg, out);
	return (out->flags & AG_PF_INHERIT) && cg->state != AG_P_HOST;
}

void ag_policy_counts(const struct ag_policy_db *db, unsigned int counts[5])
{
	struct ag_hnode *n;
	size_t b = 0;

	memset(counts, 0, 5 * sizeof(counts[0]));
	for (n = ag_htab_iter(&db->ids, &b, NULL); n; n = ag_htab_iter(&db->ids, &b, n)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);

		if (cg->state >= 0 && cg->state < 5)
			counts[cg->state]++;
	}
}
