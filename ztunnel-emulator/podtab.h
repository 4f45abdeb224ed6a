/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PODTAB_H
#define ZT_PODTAB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ev.h"
#include "netns.h"
#include "relay.h"

#define ZT_NPORTS	3	/* 15008 inbound HBONE, 15006 inbound, 15001 outbound */

extern const uint16_t zt_ports[ZT_NPORTS];


struct pod;

struct listener {
	struct ev_io	 io;		/* io.fd: the listening socket, or -1 */
	uint16_t	 port;
	struct pod	*pod;
};

enum pod_origin {
	POD_CONTROL,		/* the control socket: cni-emulator, the seed */
	POD_ZDS,		/* a node agent over ZDS */
};

enum pod_state {
	POD_UP,			/* listening */
	POD_PENDING,		/* ZDS add failed: retried until it works */
};

/*
 * A pod is its listeners.  An up pod keeps no descriptor for its
 * namespace: each listening socket holds a reference to it, so the
 * namespace (and its inode number, hence our nsid) lives exactly as long
 * as the listeners do.  A pending pod has no listeners and holds the
 * namespace descriptor instead, to try again with.  With --proxy every
 * pod keeps it: its upstream connections are made inside it.
 *
 * pods.c owns pods; this file only finds them.
 */
struct pod {
	TAILQ_ENTRY(pod)	 entry;		/* podtab.all, oldest first */
	struct pod		*next_byname;	/* hash chains */
	struct pod		*next_byns;
	struct ev_timer		 retry;		/* pending: the next attempt */
	struct ev_deferred	 dead;		/* freed after the event batch */
	struct nsid		 ns;
	enum pod_origin		 origin;
	enum pod_state		 state;
	int			 nsfd;		/* the namespace while pending, or
						 * with --proxy; else -1 */
	unsigned		 zds_gen;	/* zdsclient.c: the session that
						 * last added or kept it */
	uint64_t		 added_ms;
	uint64_t		 served;	/* connections answered "ok" */
	struct relay_stats	 conns;		/* --proxy: its connections */
	uint32_t		 addrs[4];	/* its IPv4 addresses (network
						 * order), from its interfaces */
	unsigned		 naddrs;
	struct listener		 lis[ZT_NPORTS];
	const char		*workload;	/* ZDS "namespace/name", in name[]; else "" */
	char			 name[];	/* the key: a name, or a ZDS uid */
};

TAILQ_HEAD(podlist, pod);

/* Every pod by name and by namespace identity in O(1), and in add order. */
struct podtab {
	struct podlist	  all;
	struct pod	**byname;
	struct pod	**byns;
	size_t		  nbuckets;	/* a power of two */
	size_t		  count;
};

/* How logs and lists show a pod: its workload if ZDS named one. */
static inline const char *
pod_label(const struct pod *pod)
{
	return pod->workload[0] != '\0' ? pod->workload : pod->name;
}

/* Its workload's namespace (into ns, "" if ZDS named none) and name
 * (the pod's own name if ZDS named none). */
void		pod_workload_parts(const struct pod *, char *ns, size_t nssize,
		    const char **name);

int		podtab_init(struct podtab *);
struct pod     *podtab_byname(const struct podtab *, const char *name);
struct pod     *podtab_byns(const struct podtab *, const struct nsid *);
/* -1/ENOMEM, and the table as it was. */
int		podtab_insert(struct podtab *, struct pod *);
void		podtab_remove(struct podtab *, struct pod *);
void		podtab_free(struct podtab *);

#endif
