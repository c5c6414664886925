// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include "htab.h"

uint64_t ag_hash_u64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

uint64_t ag_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

int ag_htab_init(struct ag_htab *h, size_t nb)
{
	size_t n = 16;

	while (n < nb)
		n *= 2;
	h->b = calloc(n, sizeof(*h->b));
	h->nb = n;
	h->n = 0;
	return h->b ? 0 : -ENOMEM;
}

void ag_htab_free(struct ag_htab *h)
{
	free(h->b);
	h->b = NULL;
	h->nb = h->n = 0;
}

static void grow(struct ag_htab *h)
{
	size_t nb = h->nb * 2;
	struct ag_hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < h->nb; i++) {
		struct ag_hnode *n = h->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(h->b);
	h->b = b;
	h->nb = nb;
}

void ag_htab_add(struct ag_htab *h, struct ag_hnode *n, uint64_t hash)
{
	if (h->n + 1 > h->nb)
		grow(h);
	n->hash = hash;
	n->next = h->b[hash & (h->nb - 1)];
	h->b[hash & (h->nb - 1)] = n;
	h->n++;
}

void ag_htab_del(struct ag_htab *h, struct ag_hnode *n)
{
	struct ag_hnode **pp = &h->b[n->hash & (h->nb - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			h->n--;
			return;
		}
	}
}

struct ag_hnode *ag_htab_first(const struct ag_htab *h, uint64_t hash)
{
	struct ag_hnode *n = h->b[hash & (h->nb - 1)];

	while (n && n->hash != hash)
		n = n->next;
	return n;
}

struct ag_hnode *ag_htab_next(struct ag_hnode *n, uint64_t hash)
{
	for (n = n->next; n && n->hash != hash; n = n->next)
		;
	return n;
}

struct ag_hnode *ag_htab_iter(const struct ag_htab *h, size_t *bucket, struct ag_hnode *prev)
{
	if (prev && prev->next)
		return prev->next;
	for (size_t i = prev ? *bucket + 1 : *bucket; i < h->nb; i++) {
		if (h->b[i]) {
			*bucket = i;
			return h->b[i];
		}
	}
	*bucket = h->nb;
	return NULL;
}
