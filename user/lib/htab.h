/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A chained hash table keyed by u64 or by string; entries embed struct ag_hnode. */
#ifndef AG_HTAB_H
#define AG_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct ag_hnode {
	struct ag_hnode *next;
	uint64_t hash;
};

struct ag_htab {
	struct ag_hnode **b;
	size_t nb, n;
};

uint64_t ag_hash_u64(uint64_t k);
uint64_t ag_hash_str(const char *s);

int ag_htab_init(struct ag_htab *h, size_t nb);
void ag_htab_free(struct ag_htab *h); /* frees the buckets, not the entries */
void ag_htab_add(struct ag_htab *h, struct ag_hnode *n, uint64_t hash);
void ag_htab_del(struct ag_htab *h, struct ag_hnode *n);

/* Iterate the chain of one hash: for (n = ag_htab_first(h, hash); n; n = ag_htab_next(n, hash)) */
struct ag_hnode *ag_htab_first(const struct ag_htab *h, uint64_t hash);
struct ag_hnode *ag_htab_next(struct ag_hnode *n, uint64_t hash);

/* Every entry: i is the cursor, start at 0; returns NULL at the end. Not safe across del. */
struct ag_hnode *ag_htab_iter(const struct ag_htab *h, size_t *bucket, struct ag_hnode *prev);

#define ag_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
