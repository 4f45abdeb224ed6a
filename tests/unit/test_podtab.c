/* SPDX-License-Identifier: Apache-2.0 */
/*
 * podtab: the daemon's pod table, by name, by namespace, in add order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "podtab.h"

#define N 5000

/* An entry and its name, as pods.c embeds one in a pod. */
struct pod {
	struct podtab_entry	te;
	char			name[32];
};

static struct podtab_entry *
make(int i)
{
	struct nsid	id = { .dev = 4, .ino = 4026531840u + (ino_t)i };
	struct pod	*p;

	CHECK((p = calloc(1, sizeof(*p))) != NULL);
	snprintf(p->name, sizeof(p->name), "pod-%d", i);
	p->te.name = p->name;
	p->te.ns = id;
	return &p->te;
}

static void
test_podtab_insert_lookup(void)
{
	static struct podtab_entry *pods[N];
	struct podtab		 t;
	struct nsid		 id = { .dev = 4 };
	int			 i;

	CHECK(podtab_init(&t) == 0);
	for (i = 0; i < N; i++) {
		pods[i] = make(i);
		CHECK(podtab_insert(&t, pods[i]) == 0);
	}
	CHECK(t.count == N);
	CHECK(t.nbuckets >= N);
	for (i = 0; i < N; i++) {
		CHECK(podtab_byname(&t, pods[i]->name) == pods[i]);
		CHECK(podtab_byns(&t, &pods[i]->ns) == pods[i]);
	}
	CHECK(podtab_byname(&t, "pod-x") == NULL);
	id.ino = 1;
	CHECK(podtab_byns(&t, &id) == NULL);
	/* Same inode on another device is another namespace. */
	id = pods[0]->ns;
	id.dev++;
	CHECK(podtab_byns(&t, &id) == NULL);
	for (i = 0; i < N; i++) {
		podtab_remove(&t, pods[i]);
		free(pods[i]);
	}
	podtab_free(&t);
}

static void
test_podtab_remove_shrinks(void)
{
	static struct podtab_entry *pods[N];
	struct podtab		 t;
	struct podtab_entry	*p;
	int			 i, n;

	CHECK(podtab_init(&t) == 0);
	for (i = 0; i < N; i++) {
		pods[i] = make(i);
		CHECK(podtab_insert(&t, pods[i]) == 0);
	}
	/* Remove the even ones, then check everything is still found. */
	for (i = 0; i < N; i += 2) {
		podtab_remove(&t, pods[i]);
		free(pods[i]);
	}
	for (i = 1; i < N; i += 2) {
		CHECK(podtab_byname(&t, pods[i]->name) == pods[i]);
		CHECK(podtab_byns(&t, &pods[i]->ns) == pods[i]);
	}
	/* Add order is kept. */
	n = 1;
	TAILQ_FOREACH(p, &t.all, entry) {
		CHECK(p == pods[n]);
		n += 2;
	}
	for (i = 1; i < N; i += 2) {
		podtab_remove(&t, pods[i]);
		free(pods[i]);
	}
	CHECK(t.count == 0);
	CHECK(TAILQ_EMPTY(&t.all));
	CHECK(t.nbuckets == 64);
	podtab_free(&t);
}

const struct unit_test podtab_tests[] = {
	UNIT_TEST(test_podtab_insert_lookup),
	UNIT_TEST(test_podtab_remove_shrinks),
	UNIT_END
};
