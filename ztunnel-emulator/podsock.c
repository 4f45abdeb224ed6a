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
upstream(const struct pod_ref *pod, const struct sockaddr_in *from)
{
	struct sockaddr_in	bound, any;
	socklen_t		len;
	int			s, on = 1, mark = ZT_MARK, err, tries;

	for (tries = 0; tries < 3; tries++) {
		s = netns_socket(pod->nsfd, AF_INET,
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
		any.sin_port = 0;
		if (setsockopt(s, SOL_IP, IP_TRANSPARENT, &on,
		    sizeof(on)) == -1 ||
		    setsockopt(s, SOL_IP, IP_FREEBIND, &on, sizeof(on)) == -1 ||
		    bind(s, (const struct sockaddr *)&any, sizeof(any)) == -1 ||
		    getsockname(s, (struct sockaddr *)&bound, &len) == -1)
			goto fail;
		if (bound.sin_port != from->sin_port)
			return s;
		log_debug("conn %s: port %u is the client's own: another",
		    pod->label, ntohs(bound.sin_port));
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
podsock_connect(const struct pod_ref *pod, const struct sockaddr_in *from,
    const struct sockaddr_in *to)
{
	int s, err;

	if ((s = upstream(pod, from)) == -1)
		return -1;
	if (connect(s, (const struct sockaddr *)to, sizeof(*to)) == -1 &&
	    errno != EINPROGRESS) {
		err = errno;
		close(s);
		errno = err;
		return -1;
	}
	return s;
}
