/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PODSOCK_H
#define ZT_PODSOCK_H

#include <stdint.h>
#include <netinet/in.h>

#include "ambient.h"
#include "ipaddr.h"
#include "podref.h"

/* ztunnel's SocketConfig defaults (KEEPALIVE_TIME, _INTERVAL, _RETRIES). */
#define KEEPALIVE_TIME_S	180
#define KEEPALIVE_INTERVAL_S	180
#define KEEPALIVE_RETRIES	9

/* How every proxied socket is tuned, both ends of every connection. */
struct podsock_opts {
	unsigned	keepalive_time;		/* seconds idle before a probe;
						 * 0: no keepalive */
	unsigned	keepalive_interval;	/* seconds between probes */
	unsigned	keepalive_retries;	/* probes unanswered: dead */
	int		user_timeout;		/* TCP_USER_TIMEOUT, as ztunnel:
						 * time + retries * interval */
};

void	podsock_init(const struct podsock_opts *);
/* Keepalive and the user timeout on a socket we connect (podsock_connect
 * does it); accepted ones inherit them from the listener.  -1 with
 * errno set. */
int	podsock_tune(int fd);

/*
 * The source ports of our own connections, taken in turn, each range
 * larger than a destination's TIME_WAIT holds at 160 new connections a
 * second, and both outside the ephemeral range a pod's apps take theirs
 * from (Linux's ip_local_port_range, 32768-60999 unless it sets another):
 *  - IN: to an app from its client's address.  No client's flow can
 *    have the tuple of one of ours, whether the client is an app (its
 *    range) or a daemon's outbound connection (OUT).
 *  - OUT: out of a source pod, to the app's destination.  The app's
 *    socket keeps that destination too (the redirect rewrites packets,
 *    not the socket), so with the kernel's choice the two shared the
 *    pod's range: twice the TIME_WAITs, and each connect's port search
 *    went through them all (at 12,000, seven times the CPU per
 *    connection).  Below Istio's own ports (15000 and up).
 */
#define PODSOCK_IN_PORTS_LO	16384
#define PODSOCK_IN_PORTS_HI	32767
#define PODSOCK_OUT_PORTS_LO	1024
#define PODSOCK_OUT_PORTS_HI	14999
#define PODSOCK_PORT_TRIES	64	/* ports tried before the kernel's */

/*
 * A TCP connection to `to`, started from inside the pod's network
 * namespace: non-blocking (the connect is under way, or done), with the
 * ztunnel mark, ZT_MARK (never captured again).  from: bind to that
 * client's address (IP_TRANSPARENT, enough to bind it) on a port of
 * PODSOCK_IN_PORTS other than the client's own, or the port the kernel
 * gives when PODSOCK_PORT_TRIES of them in a row are taken, or when ours
 * come round faster than TIME_WAIT ends (one fails at connect: then for
 * a few connections); NULL: the pod's own address and the kernel's
 * port, as routing and the pod's range give them.  -1 with errno set.
 * A failed return to our own namespace is fatal.
 */
int	podsock_connect(const struct pod_ref *, const union sockip *from,
	    const union sockip *to);
/* The same from the pod's own address self (the app's), on a port of
 * PODSOCK_OUT_PORTS (or, as above, the kernel's); self NULL, or of the
 * other family: as podsock_connect(pod, NULL, to). */
int	podsock_connect_out(const struct pod_ref *, const union sockip *self,
	    const union sockip *to);

/* The same on a listening socket, off where they are off: every socket
 * accepted from it inherits them.  -1 with errno set. */
int	podsock_tune_listener(int fd);
/* One of ztunnel's own ports (15001, 15006, 15008): never a target. */
int	podsock_own_port(uint16_t port);

#endif
