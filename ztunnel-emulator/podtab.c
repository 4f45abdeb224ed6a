/* SPDX-License-Identifier: Apache-2.0 */
/*
 * podtab.c: the pod table (see podtab.h).  Every entry is reachable by name
 * and by namespace identity in O(1) (two chained hash tables that double
 * as they fill), and in insertion order for listing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podtab.h"


#define PODS_MIN_BUCKETS 64

static size_t
hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

static size_t
hash_ns(const struct nsid *id)
{
	uint64_t h = (uint64_t)id->ino ^ ((uint64_t)id->dev << 32);

	/* nsfs inode numbers are close together: spread them. */
	h *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(h ^ (h >> 29));
}

static int
alloc_buckets(struct podtab *t, size_t n)
{
	struct podtab_entry **byname, **byns, *p;

	byname = calloc(n, sizeof(struct podtab_entry *));
	byns = calloc(n, sizeof(struct podtab_entry *));
	if (byname == NULL || byns == NULL) {
		free(byname);
		free(byns);
		errno = ENOMEM;
		return -1;
	}
	free(t->byname);
	free(t->byns);
	t->byname = byname;
	t->byns = byns;
	t->nbuckets = n;
	/* Rehash from the ordered list: the chains are rebuilt whole. */
	TAILQ_FOREACH(p, &t->all, entry) {
		size_t a = hash_name(p->name) & (n - 1);
		size_t b = hash_ns(&p->ns) & (n - 1);

		p->next_byname = byname[a];
		byname[a] = p;
		p->next_byns = byns[b];
		byns[b] = p;
	}
	return 0;
}

int
podtab_init(struct podtab *t)
{
	memset(t, 0, sizeof(*t));
	TAILQ_INIT(&t->all);
	return alloc_buckets(t, PODS_MIN_BUCKETS);
}

struct podtab_entry *
podtab_byname(const struct podtab *t, const char *name)
{
	struct podtab_entry *p = t->byname[hash_name(name) & (t->nbuckets - 1)];

	while (p != NULL && strcmp(p->name, name) != 0)
		p = p->next_byname;
	return p;
}

struct podtab_entry *
podtab_byns(const struct podtab *t, const struct nsid *ns)
{
	struct podtab_entry *p = t->byns[hash_ns(ns) & (t->nbuckets - 1)];

	while (p != NULL && !nsid_equal(&p->ns, ns))
		p = p->next_byns;
	return p;
}

int
podtab_insert(struct podtab *t, struct podtab_entry *p)
{
	size_t a, b;

	/* Grow first, so a failure leaves the table as it was. */
	if (t->count + 1 > t->nbuckets &&
	    alloc_buckets(t, t->nbuckets * 2) == -1)
		return -1;
	TAILQ_INSERT_TAIL(&t->all, p, entry);
	a = hash_name(p->name) & (t->nbuckets - 1);
	b = hash_ns(&p->ns) & (t->nbuckets - 1);
	p->next_byname = t->byname[a];
	t->byname[a] = p;
	p->next_byns = t->byns[b];
	t->byns[b] = p;
	t->count++;
	return 0;
}

void
podtab_remove(struct podtab *t, struct podtab_entry *p)
{
	struct podtab_entry **pp;

	pp = &t->byname[hash_name(p->name) & (t->nbuckets - 1)];
	while (*pp != p)
		pp = &(*pp)->next_byname;
	*pp = p->next_byname;
	pp = &t->byns[hash_ns(&p->ns) & (t->nbuckets - 1)];
	while (*pp != p)
		pp = &(*pp)->next_byns;
	*pp = p->next_byns;
	TAILQ_REMOVE(&t->all, p, entry);
	t->count--;
	/* Give memory back after a wave of removals; a failure to shrink
	 * leaves a table that is merely roomier than it needs to be. */
	if (t->nbuckets > PODS_MIN_BUCKETS && t->count < t->nbuckets / 4)
		(void)alloc_buckets(t, t->nbuckets / 2);
}

void
podtab_free(struct podtab *t)
{
	free(t->byname);
	free(t->byns);
	t->byname = t->byns = NULL;
	t->nbuckets = 0;
}
