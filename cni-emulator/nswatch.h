/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_NSWATCH_H
#define CNI_NSWATCH_H

#include <stdint.h>

#include "netns.h"
#include "zds.h"

/*
 * The network namespaces the node agent knows: the ones named on the
 * command line and, with a watch, every one under /var/run/netns.  A pod
 * is a namespace, by identity (dev, inode); a name is only an alias of
 * it.  Two names for one namespace are one pod, removing one of them
 * removes nothing, and a name moved to another namespace moves.
 *
 * The agent holds one descriptor per pod.  Whoever keeps a pointer to a
 * pod past the current event takes a reference; the pod's descriptor is
 * closed as soon as it is gone, its memory when the last reference goes.
 */
struct nspod {
	struct nsid	 id;
	int		 fd;		/* the namespace; -1 once gone */
	unsigned	 refs;
	char		 uid[32];	/* "netns-INODE": stable, unique */
	char		 name[ZDS_STR_MAX + 1];	/* first name, valid UTF-8 */
};

enum nswatch_change {
	NSWATCH_APPEARED,
	NSWATCH_GONE,
};

typedef void	nswatch_cb(enum nswatch_change, struct nspod *, void *arg);

struct nswatch_opts {
	int		 watch;		/* follow /var/run/netns */
	const char	*select;	/* only names matching this glob, or NULL */
	uint64_t	 probe_ms;	/* how long a new name may take to mount */
};

/* Start; cb hears of every pod that appears or goes from now on.
 * -1 with errno set. */
int		nswatch_start(const struct nswatch_opts *o, nswatch_cb *cb,
		    void *arg);
/* A namespace named on the command line (see netns_resolve): followed
 * like a watched one, but never removed.  -1 with errno set. */
int		nswatch_add_fixed(const char *arg);
void		nswatch_stop(void);

/* Every pod known now, in the order they appeared. */
struct nspod   *nswatch_first(void);
struct nspod   *nswatch_next(const struct nspod *);
/* How many known names could not be looked at for want of descriptors
 * or memory (they are retried): while any, a snapshot would be partial.
 * The errno of the last such failure in *err. */
unsigned	nswatch_unresolved(int *err);

void		nspod_ref(struct nspod *);
void		nspod_unref(struct nspod *);

#endif
