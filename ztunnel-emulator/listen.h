/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_LISTEN_H
#define ZT_LISTEN_H

#include <stdint.h>

#include "ambient.h"
#include "ipaddr.h"
#include "podref.h"

/* How every pod listens from now on: the seed's 127.0.0.1 listeners that
 * answer "ok" (proxy 0), or ztunnel's (proxy 1): wildcard address,
 * SO_MARK 1337, SO_REUSEPORT, IP_TRANSPARENT, serving the pod's traffic
 * (proxy.h). */
void		listen_init(int proxy);
int		listen_proxy(void);
/* "127.0.0.1" or "0.0.0.0": for logs and errors. */
const char     *listen_addr(void);

/* Why listen_open() failed. */
struct listen_error {
	const char	*what;		/* "setns", "socket", "bind", ... */
	uint16_t	 port;		/* 0: not about one port */
	int		 err;		/* errno */
};

/* A pod's listeners: this file's. */
struct lset;

/*
 * Enter the namespace nsfd (checked to be one; it stays the caller's),
 * open the pod's three listeners there, come back, and serve them from
 * the event loop for owner.  All or nothing: NULL on failure, and none
 * is left open.  Exits the program if it cannot come back.
 */
struct lset    *listen_open(int nsfd, struct pod_ref *owner,
		    struct listen_error *);
/* Stop listening (draining: another instance listens beside us), the
 * queue served first; the set stays for the views.  -1 with errno set if
 * the pod's tcp_migrate_req could not be set (see listen.c): closed all
 * the same. */
int		listen_stop(struct lset *);
/* Put back the pod's tcp_migrate_req as listen_stop() found it (done by
 * listen_close() too). */
void		listen_restore(struct lset *);
void		listen_close(struct lset *);
/* All three still listen (one closed from outside, by ss -K, does
 * not): 1, else 0. */
int		listen_alive(const struct lset *);

/*
 * Handing a pod over (handover.h): listen_fds() gives the three
 * listening sockets, still ours (-1 if stopped or one is dead); listen_forget() drops
 * our copies once the other instance has its own (the sockets go on
 * listening there); listen_adopt() serves received ones, in port order,
 * ours from now on (all closed on failure).
 */
int		listen_fds(const struct lset *, int fds[ZT_NPORTS]);
void		listen_forget(struct lset *);
struct lset    *listen_adopt(int fds[ZT_NPORTS], uint64_t served,
		    struct pod_ref *owner, struct listen_error *);
/* Whether the pod's loopback is up now (asked from here: device ioctls
 * act in the socket's namespace).  1 up, 0 down, -1 cannot tell. */
int		listen_loopback_up(const struct lset *);
/* The pod's own addresses, IPv4 and IPv6, read when first asked (or
 * before its listeners close): how many, at most max, into addrs. */
#define LISTEN_ADDRS_MAX	8
unsigned	listen_addrs(struct lset *, struct ipaddr *addrs, unsigned max);
/* Connections answered "ok" (without --proxy). */
uint64_t	listen_served(const struct lset *);

#endif
