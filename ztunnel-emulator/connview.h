/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_CONNVIEW_H
#define ZT_CONNVIEW_H

#include "ipaddr.h"

/*
 * One live connection of a pod, as /config_dump lists it (ztunnel's
 * workloadState connections, which istioctl ztunnel-config connections
 * prints): a copy, filled by whoever owns the connection.
 */
struct conn_view {
	int			inbound;	/* into the pod; else out of it */
	int			hbone;		/* HBONE; else plain TCP */
	union sockip		src;		/* who started it */
	union sockip		original_dst;	/* what it asked for (family
						 * 0: nothing else) */
	union sockip		actual_dst;	/* where it went */
};

typedef void	conn_view_fn(void *arg, const struct conn_view *);

#endif
