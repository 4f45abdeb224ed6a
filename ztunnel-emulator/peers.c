/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peers.c: the mesh pods of other nodes (see peers.h), a sorted array
 * searched by address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"
#include "text.h"

struct peer {
	struct ipaddr	 addr;
	char		*workload;
};

static struct peer	*table;
static unsigned		 count;

static int
cmp(const void *a, const void *b)
{
	return ipaddr_cmp(&((const struct peer *)a)->addr,
	    &((const struct peer *)b)->addr);
}

static void
table_free(struct peer *t, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		free(t[i].workload);
	free(t);
}

/* A workload: "namespace/name" or a bare name, each part a name by the
 * rule of text.h (it becomes a metric label, a log field, baggage). */
static int
workload_ok(const char *w)
{
	const char *slash = strchr(w, '/');

	if (slash == NULL)
		return text_name_ok(w);
	return text_name_ok_len(w, (size_t)(slash - w)) &&
	    text_name_ok(slash + 1);
}

/* One line: 0 and its address and workload name (in
 * line; "" if none), 1 if it has no entry, -1 if it is not "ADDRESS
 * [WORKLOAD]", -2 if its workload is no name. */
static int
parse_line(char *line, struct ipaddr *addr, const char **name)
{
	char		*ip, *n, *save = NULL;
	size_t		 len;

	line[strcspn(line, "#\n")] = '\0';
	/* A file written on Windows: CRLF ends its lines. */
	if ((len = strlen(line)) > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	if ((ip = strtok_r(line, " \t", &save)) == NULL)
		return 1;
	n = strtok_r(NULL, " \t", &save);
	if (strtok_r(NULL, " \t", &save) != NULL ||
	    ipaddr_parse(ip, addr) == -1)
		return -1;
	if (n != NULL && !workload_ok(n))
		return -2;
	*name = n != NULL ? n : "";
	return 0;
}

int
peers_load(const char *path, char *err, size_t errlen)
{
	FILE		*f;
	char		 line[512];
	struct peer	*t = NULL, *nt;
	const char	*name;
	struct ipaddr	 addr;
	unsigned	 n = 0, cap = 0, lineno = 0, i;
	int		 r, saved;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%u: longer than %zu bytes",
			    path, lineno, sizeof(line) - 2);
			errno = EINVAL;
			goto fail;
		}
		if (n == cap) {
			if (cap == PEERS_MAX) {
				snprintf(err, errlen, "%s: more than %u peers",
				    path, PEERS_MAX);
				errno = E2BIG;
				goto fail;
			}
			cap = cap == 0 ? 64 : cap * 2;
			if ((nt = reallocarray(t, cap, sizeof(*t))) == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			t = nt;
		}
		if ((r = parse_line(line, &addr, &name)) < 0) {
			snprintf(err, errlen, r == -1 ? "%s:%u: not \"ADDRESS "
			    "[namespace/name]\"" : "%s:%u: the workload is no "
			    "name: each part 1 to 253 bytes of printable UTF-8, "
			    "no spaces", path, lineno);
			errno = EINVAL;
			goto fail;
		}
		if (r == 1)
			continue;
		if ((t[n].workload = strdup(name)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		t[n++].addr = addr;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	if (n > 0)
		qsort(t, n, sizeof(*t), cmp);
	for (i = 1; i < n; i++)
		if (ipaddr_eq(&t[i].addr, &t[i - 1].addr)) {
			snprintf(err, errlen, "%s: an address twice", path);
			table_free(t, n);
			errno = EINVAL;
			return -1;
		}
	table_free(table, count);
	table = t;
	count = n;
	return 0;
fail:
	saved = errno;
	fclose(f);
	table_free(t, n);
	errno = saved;
	return -1;
}

const char *
peers_lookup(const struct ipaddr *addr)
{
	struct peer	 key = { *addr, NULL };
	struct peer	*p;

	if (count == 0)
		return NULL;
	p = bsearch(&key, table, count, sizeof(*table), cmp);
	return p != NULL ? p->workload : NULL;
}

unsigned
peers_find(const char *workload, struct ipaddr *addrs, unsigned max)
{
	unsigned i, n = 0;

	for (i = 0; i < count && n < max; i++)
		if (table[i].workload != NULL &&
		    strcmp(table[i].workload, workload) == 0)
			addrs[n++] = table[i].addr;
	return n;
}

unsigned
peers_count(void)
{
	return count;
}

void
peers_free(void)
{
	table_free(table, count);
	table = NULL;
	count = 0;
}
