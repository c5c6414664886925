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

/* States whose entry the kernel applies to the cgroups below (fill_kpolicy: AG_PF_INHERIT). */
static bool tenant_like(int state)
{
	return state == AG_P_TENANT || state == AG_P_EXEMPT || state == AG_P_UNRESOLVED;
}

/* The cgroup level of a path relative to the cgroup2 root: "/" 0, "/a" 1, "/a/b" 2. */
static unsigned int path_level(const char *path)
{
	unsigned int n = 0;

	for (const char *s = path; *s; s++)
		if (*s == '/' && s[1] && s[1] != '/')
			n++;
	return n;
}

/* The tenant a path lies below: its nearest ancestor this table holds as a full cgroup, when that
 * one's entry is inherited. NULL: the path is no tenant's descendant. */
static struct ag_cg *tenant_of(const struct ag_policy_db *db, const char *path)
{
	char buf[4096];

	if (ag_strlcpy(buf, path, sizeof(buf)))
		return NULL;
	for (;;) {
		char *slash = strrchr(buf, '/');
		struct ag_cg *cg;

		if (!slash || slash == buf)
			return NULL;
		*slash = 0;
		cg = ag_policy_find_path(db, buf);
		if (cg)
			return tenant_like(cg->state) ? cg : NULL;
	}
}

struct ag_cg *ag_policy_tenant_of(const struct ag_policy_db *db, const char *path)
{
	return tenant_of(db, path);
}

/* Whether the kernel's ancestor walk (levels 1 to AG_ANCESTOR_LEVELS - 1) reaches this tenant
 * from below: then its descendants need no entry of their own. */
static bool walk_reaches(const struct ag_cg *tenant)
{
	unsigned int level = path_level(tenant->path);

	return level >= 1 && level < AG_ANCESTOR_LEVELS;
}

/*
 * What the sources say of a cgroup that is no tenant's descendant (those are members, never
 * classified): so exempt, tenant and allocation patterns are matched at the tenant's level, and
 * nothing a tenant names below itself changes its verdict. A descendant of a tenant too deep for
 * the kernel's walk gets an entry of its own: a copy of its tenant's.
 */
static int classify(struct ag_policy_db *db, const char *path, struct ag_tenant *t)
{
	const struct ag_config *cfg = db->cfg;
	const struct ag_cg *ten = tenant_of(db, path);

	memset(t, 0, sizeof(*t));
	if (ten) {
		*t = ten->t;
		t->state = ten->state;
		if (!t->key[0])
			ag_strlcpy(t->key, ten->path, sizeof(t->key));
		return t->state;
	}
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

static void set_unwritten(struct ag_policy_db *db, struct ag_cg *cg, bool unwritten)
{
	if (cg->unwritten == unwritten)
		return;
	cg->unwritten = unwritten;
	if (unwritten) {
		if (!db->unwritten++ && db->on_full)
			db->on_full(true, cg, db->cb_ctx);
	} else if (!--db->unwritten && db->on_full) {
		db->on_full(false, NULL, db->cb_ctx);
	}
}

static void set_in_map(struct ag_policy_db *db, struct ag_cg *cg, bool in)
{
	if (cg->in_map != in)
		db->map_entries += in ? 1 : -1;
	cg->in_map = in;
}

/* Whether the entry the kernel holds for cg allowed a device range that p does not. */
static bool revokes(struct ag_policy_db *db, const struct ag_cg *cg, const struct ag_policy *p)
{
	struct ag_policy old;

	if (ag_maps_policy_get(db->maps, cg->id, &old) || old.state != AG_P_TENANT)
		return false;
	for (__u32 i = 0; i < old.n && i < AG_MAX_ALLOWED; i++) {
		bool kept = false;

		for (__u32 j = 0; j < p->n && j < AG_MAX_ALLOWED && !kept; j++)
			kept = p->state == AG_P_TENANT && p->d[j].major == old.d[i].major &&
			       p->d[j].lo <= old.d[i].lo && p->d[j].hi >= old.d[i].hi;
		if (!kept)
			return true;
	}
	return false;
}

static void write_map(struct ag_policy_db *db, struct ag_cg *cg)
{
	/* host cgroups need an entry only where a miss would read as "unresolved" */
	bool want = cg->state != AG_P_HOST || under_root(db, cg->path);
	struct ag_policy p;

	if (!want)
		set_unwritten(db, cg, false);
	if (!db->maps) {
		set_in_map(db, cg, want);
		return;
	}
	if (!want) {
		if (cg->in_map && ag_maps_policy_del(db->maps, cg->id) && errno != ENOENT)
			db->map_errors++;
		set_in_map(db, cg, false);
		return;
	}
	fill_kpolicy(cg, &p);
	if (db->on_revoked && cg->in_map && revokes(db, cg, &p))
		db->on_revoked(cg, db->cb_ctx);
	if (ag_maps_policy_set(db->maps, cg->id, &p)) {
		bool full = errno == E2BIG || errno == ENOMEM || errno == ENOSPC;

		db->map_errors++;
		if (full) {
			db->map_refused++;
			/* not logged per cgroup: the full/room events say it, the summary counts */
			if (cg->in_map) /* an update of an entry present needs no room */
				ag_maps_policy_del(db->maps, cg->id);
			set_in_map(db, cg, false);
			set_unwritten(db, cg, true);
			return;
		}
		ag_err("policy: cannot update the policy map for cgroup %llu (%s): %s",
		       (unsigned long long)cg->id, cg->path, strerror(errno));
		set_in_map(db, cg, false);
		return;
	}
	set_in_map(db, cg, true);
	set_unwritten(db, cg, false);
}

/* Room was made in the policy map: write the cgroups that found none. */
static void retry_unwritten(struct ag_policy_db *db)
{
	struct ag_hnode *n;
	size_t b = 0;

	for (n = ag_htab_iter(&db->ids, &b, NULL); n && db->unwritten;
	     n = ag_htab_iter(&db->ids, &b, n)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);

		if (cg->unwritten) {
			write_map(db, cg);
			if (cg->unwritten)
				return; /* still full */
		}
	}
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
	    ag_htab_init(&db->owners, 256) || ag_htab_init(&db->keys, 256) ||
	    ag_htab_init(&db->members, 1024))
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
	for (n = ag_htab_iter(&db->members, &b, NULL); n; n = next) {
		next = ag_htab_iter(&db->members, &b, n);
		free(ag_container_of(n, struct ag_member, by_id));
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
	ag_htab_free(&db->members);
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

const struct ag_member *ag_policy_member(const struct ag_policy_db *db, __u64 id)
{
	uint64_t h = ag_hash_u64(id);

	for (struct ag_hnode *n = ag_htab_first(&db->members, h); n; n = ag_htab_next(n, h)) {
		struct ag_member *m = ag_container_of(n, struct ag_member, by_id);

		if (m->id == id)
			return m;
	}
	return NULL;
}

struct ag_cg *ag_policy_lookup(const struct ag_policy_db *db, __u64 id, const char **path)
{
	struct ag_cg *cg = ag_policy_find(db, id);
	const struct ag_member *m;

	if (cg) {
		if (path)
			*path = cg->path;
		return cg;
	}
	m = ag_policy_member(db, id);
	if (!m || !(cg = ag_policy_find(db, m->tenant)))
		return NULL;
	if (path)
		*path = m->path;
	return cg;
}

static int member_add(struct ag_policy_db *db, __u64 id, const char *path, const struct ag_cg *ten)
{
	size_t n = strlen(path);
	struct ag_member *m = malloc(sizeof(*m) + n + 1);

	if (!m)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->tenant = ten->id;
	m->seen = db->scan_gen;
	memcpy(m->path, path, n + 1);
	ag_htab_add(&db->members, &m->by_id, ag_hash_u64(id));
	return 0;
}

static void member_del(struct ag_policy_db *db, struct ag_member *m)
{
	ag_htab_del(&db->members, &m->by_id);
	free(m);
}

/* The nearest ancestor of path held as a full cgroup ("/" included), or NULL; *len gets the
 * length of its path. */
static struct ag_cg *nearest_full(const struct ag_policy_db *db, const char *path, size_t *len)
{
	char buf[4096];

	if (ag_strlcpy(buf, path, sizeof(buf)))
		return NULL;
	for (;;) {
		char *slash = strrchr(buf, '/');
		struct ag_cg *cg;

		if (!slash)
			return NULL;
		if (slash == buf) {
			if (!buf[1])
				return NULL; /* path was "/" */
			buf[1] = 0;
		} else {
			*slash = 0;
		}
		cg = ag_policy_find_path(db, buf);
		if (cg) {
			*len = strlen(buf);
			return cg;
		}
		if (!strcmp(buf, "/"))
			return NULL;
	}
}

/*
 * A cgroup whose ancestors this table does not hold (their mkdir events were lost, or came
 * later): the one below the nearest ancestor held is looked up in the cgroup2 file system and
 * judged first, down to the parent, so that a tenant's sub-cgroup is never judged on its own name
 * before its tenant is known. Returns its tenant, if it has one.
 */
static struct ag_cg *settle_ancestors(struct ag_policy_db *db, const char *path)
{
	for (int guard = 0; guard < 4096; guard++) {
		size_t alen = 0, end;
		struct ag_cg *a = nearest_full(db, path, &alen), *ten;
		char rel[4096], abs[8192];
		__u64 id;

		if (a && tenant_like(a->state))
			return a;
		/* the component after a (or the first one) */
		end = a && strcmp(a->path, "/") ? alen : 0;
		if (path[end] != '/')
			return NULL;
		end++;
		while (path[end] && path[end] != '/')
			end++;
		if (!path[end])
			return NULL; /* a is the parent: nothing missing */
		if (end >= sizeof(rel))
			return NULL;
		memcpy(rel, path, end);
		rel[end] = 0;
		if ((size_t)snprintf(abs, sizeof(abs), "%s%s", db->cgroup2, rel) >= sizeof(abs) ||
		    ag_cgroup_id(abs, &id))
			return NULL; /* gone: so is path */
		if (!ag_policy_added(db, id, rel, 0)) {
			ten = tenant_of(db, path);
			return ten;
		}
	}
	return NULL;
}

struct ag_cg *ag_policy_added(struct ag_policy_db *db, __u64 id, const char *path, __u64 created_ns)
{
	struct ag_cg *cg = ag_policy_find(db, id), *ten;
	struct ag_member *m;
	struct ag_tenant t;

	if (cg) {
		cg->seen = db->scan_gen;
		return cg;
	}
	if ((m = (struct ag_member *)ag_policy_member(db, id))) {
		m->seen = db->scan_gen;
		return NULL;
	}
	ten = tenant_of(db, path);
	if (!ten && db->cgroup2)
		ten = settle_ancestors(db, path);
	if (ten && walk_reaches(ten)) {
		member_add(db, id, path, ten);
		return NULL;
	}
	cg = calloc(1, sizeof(*cg));
	if (!cg || !(cg->path = strdup(path))) {
		free(cg);
		return NULL;
	}
	cg->id = id;
	cg->created_ns = created_ns;
	cg->preexisting = db->starting;
	cg->state = AG_P_HOST;
	cg->seen = db->scan_gen;
	ag_htab_add(&db->ids, &cg->by_id, ag_hash_u64(id));
	ag_htab_add(&db->paths, &cg->by_path, ag_hash_str(path));
	classify(db, path, &t);
	apply(db, cg, &t);
	return cg;
}

static void cg_forget(struct ag_policy_db *db, struct ag_cg *cg)
{
	bool freed = cg->in_map;

	if (cg->state == AG_P_TENANT && cg->key)
		key_release(db, cg->key);
	if (cg->in_map && db->maps)
		ag_maps_policy_del(db->maps, cg->id);
	set_in_map(db, cg, false);
	set_unwritten(db, cg, false);
	ag_htab_del(&db->ids, &cg->by_id);
	ag_htab_del(&db->paths, &cg->by_path);
	cg_free(cg);
	if (freed && db->unwritten)
		retry_unwritten(db);
}

void ag_policy_removed(struct ag_policy_db *db, __u64 id)
{
	struct ag_cg *cg = ag_policy_find(db, id);
	struct ag_member *m;

	if (cg) {
		cg_forget(db, cg);
		return;
	}
	if ((m = (struct ag_member *)ag_policy_member(db, id)))
		member_del(db, m);
}

static int cmp_level(const void *x, const void *y)
{
	unsigned int a = path_level((*(struct ag_member *const *)x)->path);
	unsigned int b = path_level((*(struct ag_member *const *)y)->path);

	return a < b ? -1 : a > b;
}

/* Members whose tenant is no longer one: judged on their own again, parents first (a promoted
 * parent that is a tenant takes its children back as members). */
static void promote_members(struct ag_policy_db *db)
{
	struct ag_member **v = NULL;
	struct ag_hnode *n;
	size_t cnt = 0, b = 0;

	for (n = ag_htab_iter(&db->members, &b, NULL); n; n = ag_htab_iter(&db->members, &b, n)) {
		struct ag_member *m = ag_container_of(n, struct ag_member, by_id);
		const struct ag_cg *ten = ag_policy_find(db, m->tenant);
		struct ag_member **nv;

		if (ten && tenant_like(ten->state))
			continue;
		if (!(nv = realloc(v, (cnt + 1) * sizeof(*v))))
			break;
		v = nv;
		v[cnt++] = m;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_level);
	for (size_t i = 0; i < cnt; i++) {
		char *path = strdup(v[i]->path);
		__u64 id = v[i]->id;

		member_del(db, v[i]);
		if (path)
			ag_policy_added(db, id, path, 0);
		free(path);
	}
	free(v);
}

/* Cgroups held on their own that now lie below a tenant the kernel's walk reaches: members. */
static void demote_descendants(struct ag_policy_db *db)
{
	struct ag_hnode *n;
	__u64 *ids = NULL;
	size_t cnt = 0, b = 0;

	for (n = ag_htab_iter(&db->ids, &b, NULL); n; n = ag_htab_iter(&db->ids, &b, n)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);
		const struct ag_cg *ten = tenant_of(db, cg->path);
		__u64 *ni;

		if (!ten || !walk_reaches(ten))
			continue;
		if (!(ni = realloc(ids, (cnt + 1) * sizeof(*ids))))
			break;
		ids = ni;
		ids[cnt++] = cg->id;
	}
	for (size_t i = 0; i < cnt; i++) {
		struct ag_cg *cg = ag_policy_find(db, ids[i]);
		const struct ag_cg *ten = cg ? tenant_of(db, cg->path) : NULL;

		if (!ten)
			continue;
		member_add(db, cg->id, cg->path, ten);
		cg_forget(db, cg);
	}
	free(ids);
}

void ag_policy_refresh(struct ag_policy_db *db)
{
	struct ag_hnode *n;
	struct ag_tenant t;
	bool lost = false, gained = false;
	size_t b = 0;

	for (n = ag_htab_iter(&db->ids, &b, NULL); n; n = ag_htab_iter(&db->ids, &b, n)) {
		struct ag_cg *cg = ag_container_of(n, struct ag_cg, by_id);
		bool was = tenant_like(cg->state);

		classify(db, cg->path, &t);
		apply(db, cg, &t);
		lost |= was && !tenant_like(cg->state);
		gained |= !was && tenant_like(cg->state);
	}
	if (gained)
		demote_descendants(db);
	if (lost)
		promote_members(db);
}

static int scan_one(const char *path, __u64 id, void *ctx)
{
	ag_policy_added(ctx, id, path, 0); /* marks it seen */
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
	/* members first: a tenant goes after the cgroups below it */
	for (n = ag_htab_iter(&db->members, &b, NULL); n;) {
		struct ag_member *m = ag_container_of(n, struct ag_member, by_id);

		n = ag_htab_iter(&db->members, &b, n);
		if (m->seen != db->scan_gen)
			member_del(db, m);
	}
	b = 0;
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

/* Entries that a previous agent wrote (adopted pinned maps, kernel/pins.h) for cgroups that are
 * gone, or that this agent's sources no longer put in the kernel: deleted. What it keeps was
 * rewritten by the scan. */
unsigned int ag_policy_prune(const struct ag_policy_db *db, struct ag_maps *m)
{
	unsigned int pruned = 0;

	__u64 *ids = NULL, id, *prev = NULL;
	struct ag_dev_key *devs = NULL, dk, *dprev = NULL;
	size_t n = 0, cap = 0;

	while (!ag_maps_policy_next(m, prev, &id)) {
		const struct ag_cg *cg = ag_policy_find(db, id);

		if ((!cg || !cg->in_map) && n < 1u << 20) {
			if (n == cap) {
				__u64 *x = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof(*ids));

				if (!x)
					break;
				ids = x;
			}
			ids[n++] = id;
		}
		prev = &id;
	}
	for (size_t i = 0; i < n; i++)
		if (!ag_maps_policy_del(m, ids[i]))
			pruned++;
	n = 0;
	prev = NULL;
	while (!ag_maps_viol_next(m, prev, &id)) {
		if (ids && !ag_policy_find(db, id) && n < cap)
			ids[n++] = id;
		prev = &id;
	}
	for (size_t i = 0; i < n; i++)
		ag_maps_viol_del(m, ids[i]);
	free(ids);
	n = cap = 0;
	while (!ag_maps_owner_next(m, dprev, &dk)) {
		if (!ag_policy_owners(db, dk.major, dk.minor)) {
			if (n == cap) {
				struct ag_dev_key *x = realloc(devs, (cap = cap ? cap * 2 : 64) * sizeof(*devs));

				if (!x)
					break;
				devs = x;
			}
			devs[n++] = dk;
		}
		dprev = &dk;
	}
	for (size_t i = 0; i < n; i++)
		if (!ag_maps_owner_set(m, devs[i].major, devs[i].minor, 0))
			pruned++;
	free(devs);
	if (pruned)
		ag_info("pins: deleted %u stale entries of the adopted policy and owners maps", pruned);
	return pruned;
}
