/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PEERS_H
#define ZT_PEERS_H

#include <stdint.h>

#include "ipaddr.h"

/*
 * --peers FILE: the mesh pods on other nodes, which the real ztunnel
 * learns from its control plane.  One per line, "ADDRESS [WORKLOAD]"
 * (IPv4 or IPv6; a workload as "namespace/name"), '#' starts a
 * comment; a dual-stack pod has a line per address.
 * Traffic a pod sends to one of them goes through an HBONE tunnel to
 * ADDRESS:15008, as to a pod of our own.
 */

#define PEERS_MAX	65536u

/* Read the file; the table is replaced only if all of it is good.  -1
 * with errno set (EINVAL: a bad line, named in err). */
int		peers_load(const char *path, char *err, size_t errlen);
/* The workload named for addr, "" if none was; NULL if addr is not a
 * peer. */
const char     *peers_lookup(const struct ipaddr *addr);
/* The addresses of the peers named workload ("namespace/name"), at most
 * max: how many. */
unsigned	peers_find(const char *workload, struct ipaddr *addrs,
		    unsigned max);
unsigned	peers_count(void);
void		peers_free(void);

#endif
