/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_LISTEN_H
#define ZT_LISTEN_H

#include <stdint.h>

#include "podtab.h"

/* How every pod listens from now on: the seed's 127.0.0.1 listeners that
 * answer "ok" (proxy 0), or ztunnel's (proxy 1): wildcard address,
 * SO_MARK 1337, SO_REUSEPORT, IP_TRANSPARENT, serving the pod's traffic
 * (proxy.h). */
void		listen_init(int proxy);
/* "127.0.0.1" or "0.0.0.0": for logs and errors. */
const char     *listen_addr(void);

/* Why listen_open() failed. */
struct listen_error {
	const char	*what;		/* "setns", "socket", "bind", ... */
	uint16_t	 port;		/* 0: not about one port */
	int		 err;		/* errno */
};

/*
 * Enter the namespace nsfd (checked to be one; it stays the caller's),
 * open the pod's three listeners there, come back, and serve them from
 * the event loop.  All or nothing: on failure none is left open.  Exits
 * the program if it cannot come back.
 */
int		listen_open(struct pod *, int nsfd, struct listen_error *);
void		listen_close(struct pod *);
/* Whether the pod's loopback is up now (asked from here: device ioctls
 * act in the socket's namespace).  1 up, 0 down, -1 cannot tell. */
int		listen_loopback_up(const struct pod *);

#endif
