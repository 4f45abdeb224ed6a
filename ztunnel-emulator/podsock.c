/* SPDX-License-Identifier: Apache-2.0 */
/*
 * podsock.c: the sockets the daemon makes inside a pod to carry its
 * traffic onward (see podsock.h): to the app for 15006 and 15008, out of
 * the pod for 15001, whether plain or as an HBONE tunnel.
 */
#define LOG_TARGET "podsock"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "log.h"
#include "netns.h"
#include "podsock.h"

static struct podsock_opts tune = { KEEPALIVE_TIME_S, KEEPALIVE_INTERVAL_S,
    KEEPALIVE_RETRIES, 1 };

void
podsock_init(const struct podsock_opts *o)
{
	tune = *o;
}

/*
 * A peer that vanished (a pod deleted without a FIN, a node gone) would
 * otherwise hold the socket for ever: keepalive probes find it after
 * time + retries * interval, and the user timeout bounds data left
 * unacknowledged as long.
 */
int
podsock_tune(int fd)
{
	int		on = 1, v;
	unsigned	ms;

	if (tune.keepalive_time == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1)
		return -1;
	v = (int)tune.keepalive_time;
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)) == -1)
		return -1;
	v = (int)tune.keepalive_interval;
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v)) == -1)
		return -1;
	v = (int)tune.keepalive_retries;
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v)) == -1)
		return -1;
	if (!tune.user_timeout)
		return 0;
	ms = 1000 * (tune.keepalive_time + tune.keepalive_retries *
	    tune.keepalive_interval);
	return setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

int
podsock_tune_listener(int fd)
{
	int		off = 0;
	unsigned	zero = 0;

	/* Off, explicitly: a listener handed over by another instance may
	 * have had them on. */
	if (tune.keepalive_time == 0)
		return setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &off,
		    sizeof(off)) == -1 || setsockopt(fd, IPPROTO_TCP,
		    TCP_USER_TIMEOUT, &zero, sizeof(zero)) == -1 ? -1 : 0;
	if (podsock_tune(fd) == -1)
		return -1;
	return tune.user_timeout ? 0 : setsockopt(fd, IPPROTO_TCP,
	    TCP_USER_TIMEOUT, &zero, sizeof(zero));
}

int
podsock_own_port(uint16_t port)
{
	return port == ZT_PORT_HBONE || port == ZT_PORT_INBOUND ||
	    port == ZT_PORT_OUTBOUND;
}

/*
 * The kernel picks the port, and must not pick the client's own: the
 * redirected connection we are serving has the very tuple (client:port
 * -> app) in the pod's conntrack, and a second connection with it would
 * clash there and never complete.
 */
static int
upstream(const struct pod_ref *pod, int family, const union sockip *from)
{
	union sockip	bound, any;
	socklen_t	len;
	int		s, on = 1, mark = ZT_MARK, err, tries, v6;

	v6 = family == AF_INET6;
	for (tries = 0; tries < 3; tries++) {
		s = netns_socket(pod->nsfd, family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s == -1 && errno == ENOTRECOVERABLE)
			fatal("cannot return to our own network namespace");
		if (s == -1)
			return -1;
		if (setsockopt(s, SOL_SOCKET, SO_MARK, &mark,
		    sizeof(mark)) == -1 || podsock_tune(s) == -1)
			goto fail;
		if (from == NULL)
			return s;
		len = sizeof(bound);
		memset(&bound, 0, sizeof(bound));
		any = *from;
		sockip_set_port(&any, 0);
		if (setsockopt(s, v6 ? SOL_IPV6 : SOL_IP, v6 ?
		    IPV6_TRANSPARENT : IP_TRANSPARENT, &on, sizeof(on)) == -1 ||
		    setsockopt(s, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_FREEBIND :
		    IP_FREEBIND, &on, sizeof(on)) == -1 ||
		    bind(s, &any.sa, sockip_len(&any)) == -1 ||
		    getsockname(s, &bound.sa, &len) == -1)
			goto fail;
		if (sockip_port(&bound) != sockip_port(from))
			return s;
		log_debug("conn %s: port %u is the client's own: another",
		    pod->label, sockip_port(&bound));
		close(s);
	}
	errno = EADDRINUSE;
	return -1;
fail:
	err = errno;
	close(s);
	errno = err;
	return -1;
}

int
podsock_connect(const struct pod_ref *pod, const union sockip *from,
    const union sockip *to)
{
	int s, err;

	/* A source of the other family (an IPv6 tunnel to an IPv4 app)
	 * cannot be the connection's: the pod's own address is. */
	if (from != NULL && from->sa.sa_family != to->sa.sa_family)
		from = NULL;
	if ((s = upstream(pod, to->sa.sa_family, from)) == -1)
		return -1;
	if (connect(s, &to->sa, sockip_len(to)) == -1 &&
	    errno != EINPROGRESS) {
		err = errno;
		close(s);
		errno = err;
		return -1;
	}
	return s;
}
