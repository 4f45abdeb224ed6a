/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PROXY_H
#define ZT_PROXY_H

#include "hbone.h"
#include "podtab.h"

/*
 * --proxy: a connection the pod's redirection rules sent to one of its
 * listeners.  15001 (outbound): to a mesh pod, through HBONE (hbone.h);
 * to anything else, to its original destination, from inside the pod,
 * marked so it is not captured again.  15008: HBONE's server.  15006 (inbound
 * plaintext): to the app, inside the pod, from the client's own address.
 * Takes the accepted socket c.
 */
void	proxy_accept(struct listener *, int c);

/* Who has an address, and whether it is in the mesh (hbone.h): set by
 * whoever knows the pods.  pool_idle_ms: HBONE_IDLE_MS, or --pool-idle. */
void	proxy_init(zt_resolve_fn *, uint64_t pool_idle_ms);

#endif
