/* SPDX-License-Identifier: Apache-2.0 */
/*
 * podtab: the daemon's pod table, by name, by namespace, in add order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "ztunnel.h"

#define N 5000

static struct pod *
make(int i)
{
	struct nsid	id = { .dev = 4, .ino = 4026531840u + (ino_t)i };
	char		name[32];
	struct pod	*p;

	snprintf(name, sizeof(name), "pod-%d", i);
	CHECK((p = pod_new(name, "", &id)) != NULL);
	return p;
}

static void
test_podtab_insert_lookup(void)
{
	static struct pod	*pods[N];
	struct podtab		 t;
	struct nsid		 id = { .dev = 4 };
	int			 i;

	CHECK(pods_init(&t) == 0);
	for (i = 0; i < N; i++) {
		pods[i] = make(i);
		CHECK(pods_insert(&t, pods[i]) == 0);
	}
	CHECK(t.count == N);
	CHECK(t.nbuckets >= N);
	for (i = 0; i < N; i++) {
		CHECK(pods_byname(&t, pods[i]->name) == pods[i]);
		CHECK(pods_byns(&t, &pods[i]->ns) == pods[i]);
	}
	CHECK(pods_byname(&t, "pod-x") == NULL);
	id.ino = 1;
	CHECK(pods_byns(&t, &id) == NULL);
	/* Same inode on another device is another namespace. */
	id = pods[0]->ns;
	id.dev++;
	CHECK(pods_byns(&t, &id) == NULL);
	for (i = 0; i < N; i++) {
		pods_remove(&t, pods[i]);
		free(pods[i]);
	}
	pods_free(&t);
}

static void
test_podtab_remove_shrinks(void)
{
	static struct pod	*pods[N];
	struct podtab		 t;
	struct pod		*p;
	int			 i, n;

	CHECK(pods_init(&t) == 0);
	for (i = 0; i < N; i++) {
		pods[i] = make(i);
		CHECK(pods_insert(&t, pods[i]) == 0);
	}
	/* Remove the even ones, then check everything is still found. */
	for (i = 0; i < N; i += 2) {
		pods_remove(&t, pods[i]);
		free(pods[i]);
	}
	for (i = 1; i < N; i += 2) {
		CHECK(pods_byname(&t, pods[i]->name) == pods[i]);
		CHECK(pods_byns(&t, &pods[i]->ns) == pods[i]);
	}
	/* Add order is kept. */
	n = 1;
	TAILQ_FOREACH(p, &t.all, entry) {
		CHECK(p == pods[n]);
		n += 2;
	}
	for (i = 1; i < N; i += 2) {
		pods_remove(&t, pods[i]);
		free(pods[i]);
	}
	CHECK(t.count == 0);
	CHECK(TAILQ_EMPTY(&t.all));
	CHECK(t.nbuckets == 64);
	pods_free(&t);
}

static void
test_podtab_new_listeners_closed(void)
{
	struct pod	*p = make(1);
	int		 i;

	CHECK(strcmp(p->name, "pod-1") == 0);
	CHECK(strcmp(p->workload, "") == 0);
	CHECK(p->nsfd == -1 && p->state == POD_UP);
	for (i = 0; i < ZT_NPORTS; i++) {
		CHECK(p->lis[i].fd == -1);
		CHECK(p->lis[i].pod == p);
		CHECK(p->lis[i].port == zt_ports[i]);
	}
	CHECK(zt_ports[0] == 15008 && zt_ports[1] == 15006 &&
	    zt_ports[2] == 15001);
	free(p);
}

const struct unit_test podtab_tests[] = {
	UNIT_TEST(test_podtab_insert_lookup),
	UNIT_TEST(test_podtab_remove_shrinks),
	UNIT_TEST(test_podtab_new_listeners_closed),
	UNIT_END
};
