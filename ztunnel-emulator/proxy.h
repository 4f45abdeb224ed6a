/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PROXY_H
#define ZT_PROXY_H

#include "ipaddr.h"
#include "mesh.h"
#include "podref.h"

/*
 * --proxy: a connection the pod's redirection rules sent to one of its
 * listeners.  15001 (outbound): to a mesh pod, through HBONE (hbone.h);
 * to anything else, to its original destination, from inside the pod,
 * marked so it is not captured again.  15008: HBONE's server.  15006 (inbound
 * plaintext): to the app, inside the pod, from the client's own address.
 * Takes the accepted socket c; peer: its peer's address, as accept gave
 * it.
 */
void	proxy_accept(struct pod_ref *, uint16_t port, int c,
	    const union sockip *peer);

#include "podsock.h"

struct proxy_opts {
	uint64_t		pool_idle_ms;	/* HBONE_IDLE_MS, --pool-idle */
	uint64_t		half_close_ms;	/* --half-close-timeout */
	struct podsock_opts	sock;		/* --keepalive ... */
};

/* Who has an address, and whether it is in the mesh (mesh.h): set by
 * whoever knows the pods; and how connections are kept. */
void	proxy_init(mesh_resolve_fn *, const struct proxy_opts *);

#endif
