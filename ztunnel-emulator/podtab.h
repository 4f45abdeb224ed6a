/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PODTAB_H
#define ZT_PODTAB_H

#include <stddef.h>
#include <sys/queue.h>

#include "netns.h"

/*
 * A table of entries by name and by namespace identity in O(1), and in
 * insertion order: two chained hash tables that double as they fill and
 * halve as they empty.  An entry is embedded in its owner (pods.c's pod),
 * which keeps its name and namespace for as long as it is in the table;
 * the table knows nothing else of it.
 */
struct podtab_entry {
	TAILQ_ENTRY(podtab_entry) entry;	/* the table's list, oldest first */
	struct podtab_entry	*next_byname;	/* hash chains */
	struct podtab_entry	*next_byns;
	const char		*name;		/* the key */
	struct nsid		 ns;
};

TAILQ_HEAD(podtab_list, podtab_entry);

struct podtab {
	struct podtab_list	  all;
	struct podtab_entry	**byname;
	struct podtab_entry	**byns;
	size_t			  nbuckets;	/* a power of two */
	size_t			  count;
};

int			 podtab_init(struct podtab *);
struct podtab_entry	*podtab_byname(const struct podtab *, const char *name);
struct podtab_entry	*podtab_byns(const struct podtab *, const struct nsid *);
/* -1/ENOMEM, and the table as it was. */
int			 podtab_insert(struct podtab *, struct podtab_entry *);
void			 podtab_remove(struct podtab *, struct podtab_entry *);
void			 podtab_free(struct podtab *);

#endif
