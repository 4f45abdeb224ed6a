/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_HBONE_H
#define ZT_HBONE_H

#include <stdint.h>
#include <netinet/in.h>

#include "ipaddr.h"
#include "podref.h"

/*
 * HBONE without TLS (--proxy): pod-to-pod traffic as HTTP/2 CONNECT
 * streams to the destination pod's 15008 (h2conn.h does the HTTP/2).
 * Plain h2c: a real ztunnel speaks it only inside mutual TLS, so this
 * carries traffic between our own daemons, never to a real one.
 */

#define HBONE_IDLE_MS		300000	/* POOL_UNUSED_RELEASE_TIMEOUT */
#define HBONE_POOL_MAX		16	/* connections per (pod, destination),
					 * 100 streams each */

/* idle: a pooled connection unused this long (ms) is closed;
 * half_close_ms: a tunnel half-closed and idle this long is ended
 * (h2conn.h). */
void	hbone_init(uint64_t idle, uint64_t half_close_ms);

/* Inbound: a connection accepted on the pod's 15008; c is ours, peer
 * its peer's address as accept gave it. */
void	hbone_accept(struct pod_ref *, int c, const union sockip *peer);

/*
 * Outbound: carry c, the pod's captured connection from src to dst, in
 * a CONNECT stream to dst's 15008, on a pooled connection per (pod,
 * dst) with at most 100 streams each, and at most HBONE_POOL_MAX such
 * connections (past that, c is closed).  c is ours.
 */
void	hbone_outbound(struct pod_ref *, int c, const union sockip *src,
	    const union sockip *dst, const char *dst_workload);

/* The pod is going (or the drain's deadline came): its connections,
 * both ways, end now, saying why. */
void	hbone_pod_gone(const struct pod_ref *, const char *why);
/*
 * Shutting down: no new connection or stream from now on; every
 * connection drains (GOAWAY), those without streams closing at once.
 * Returns how many are left draining (hbone_count() says how many are
 * left later); the caller keeps the deadline.
 */
unsigned hbone_drain(void);
unsigned hbone_count(void);

/* At exit, after the pods: whatever is left closes now. */
void	hbone_done(void);

/* Each of the pod's HBONE tunnels, both ways, as /config_dump lists it. */
#include "connview.h"
void	hbone_each(const struct pod_ref *, conn_view_fn *, void *arg);

/* The TCP states of the pod's HBONE sockets (connections and tunnels,
 * both roles), added up. */
struct sock_states;
void	hbone_sock_states(const struct pod_ref *, struct sock_states *);

/* Connections and open streams, both ways, for the metrics. */
void	hbone_counts(unsigned *client_conns, unsigned *server_conns,
	    unsigned *streams);

#endif
