/* SPDX-License-Identifier: Apache-2.0 */
/*
 * somark.so: preloaded (LD_PRELOAD) into haproxy by make bench-traffic, to
 * place it behind istio-cni's rules as our daemon is placed, doing in
 * each connection it makes the two things ours does there and haproxy
 * 2.6 has no option for:
 *
 * - connect() sets SO_MARK to ztunnel's mark first.  The mark lets a
 *   connection out of a pod pass the rules instead of being captured
 *   again, and routes the app's replies to a connection made from the
 *   client's address back to the proxy (table 100).
 * - bind() of one address on port 0 (haproxy's "usesrc clientip": the
 *   client's address, transparent) takes a port in turn from our range
 *   for it (PODSOCK_IN_PORTS), as our 15006 does.  With the kernel's
 *   port, one could take the very port of a client's connection that
 *   the rules redirected, and meet it in the pod's conntrack: the stall
 *   of issue 20, part 1.  haproxy refuses a port range with usesrc.
 *
 * Each adds the system calls ours makes for the same thing.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "ambient.h"
#include "podsock.h"

static unsigned next_port;

static int
inet(const struct sockaddr *sa)
{
	return sa != NULL && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int mark = ZT_MARK;

	if (inet(sa) &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1)
		return -1;
	return (int)syscall(SYS_connect, fd, sa, len);
}

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)&ss;
	in_port_t		*port;
	int			 tries, any;

	if (!inet(sa) || len > sizeof(ss))
		return (int)syscall(SYS_bind, fd, sa, len);
	memcpy(&ss, sa, len);
	if (sa->sa_family == AF_INET) {
		port = &in->sin_port;
		any = in->sin_addr.s_addr == htonl(INADDR_ANY);
	} else {
		port = &in6->sin6_port;
		any = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
	}
	if (*port != 0 || any)
		return (int)syscall(SYS_bind, fd, sa, len);
	for (tries = 0; tries < PODSOCK_PORT_TRIES; tries++) {
		next_port = (next_port + 1) %
		    (PODSOCK_IN_PORTS_HI - PODSOCK_IN_PORTS_LO + 1);
		*port = htons((in_port_t)(PODSOCK_IN_PORTS_LO + next_port));
		if (syscall(SYS_bind, fd, &ss, len) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return -1;
	}
	return (int)syscall(SYS_bind, fd, sa, len);
}
