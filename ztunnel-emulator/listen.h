/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_LISTEN_H
#define ZT_LISTEN_H

#include <stdint.h>

#include "podtab.h"

extern const uint16_t zt_ports[ZT_NPORTS];

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
