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
 * The source port of a connection to the app from the client's address:
 * ours, from PODSOCK_IN_PORTS in turn, never one a client takes for
 * itself.  With the kernel's choice (bind(client, 0) gives an odd port
 * of the pod's ephemeral range), a busy client whose even ports were all
 * in TIME_WAIT went on to odd ones: its SYN then met one of our
 * connections with the same tuple in the pod's conntrack, was taken for
 * part of it and answered with an ACK, and waited out its retries (a
 * 64 s open, our connection reset).  Taken in turn, a port comes round
 * again after (HI - LO + 1) connections, later than its TIME_WAIT ends
 * at any rate below 270 a second.
 */
static uint16_t
next_in_port(void)
{
	static unsigned next;

	next = (next + 1) % (PODSOCK_IN_PORTS_HI - PODSOCK_IN_PORTS_LO + 1);
	return (uint16_t)(PODSOCK_IN_PORTS_LO + next);
}

/*
 * Bind s to the client's address on a port of ours: one that is not the
 * client's own (the redirected connection we serve has that tuple in the
 * pod's conntrack), and one no socket of the pod holds.  SO_REUSEADDR, so
 * that an app of the pod that sets it too may still listen on the port;
 * a port whose TIME_WAIT is to this very destination fails at connect(),
 * and the caller takes another.  When every try fails, the kernel's own.
 */
static int
bind_client(int s, const struct pod_ref *pod, const union sockip *from)
{
	union sockip	sa = *from;
	uint16_t	port;
	int		on = 1, v6 = from->sa.sa_family == AF_INET6, tries;

	/* Transparent is enough to bind an address that is not the pod's:
	 * the kernel lets it bind as it would with FREEBIND. */
	if (setsockopt(s, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT :
	    IP_TRANSPARENT, &on, sizeof(on)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		return -1;
	for (tries = 0; tries < PODSOCK_PORT_TRIES; tries++) {
		if ((port = next_in_port()) == sockip_port(from))
			continue;
		sockip_set_port(&sa, port);
		if (bind(s, &sa.sa, sockip_len(&sa)) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return -1;
	}
	log_debug("conn %s: no port of ours free: the kernel's", pod->label);
	sockip_set_port(&sa, 0);
	return bind(s, &sa.sa, sockip_len(&sa));
}

/* Made in the pod, marked and tuned; from: bound to the client. */
static int
upstream(const struct pod_ref *pod, int family, const union sockip *from)
{
	int s, mark = ZT_MARK, err;

	s = netns_socket(pod->nsfd, family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1 && errno == ENOTRECOVERABLE)
		fatal("cannot return to our own network namespace");
	if (s == -1)
		return -1;
	if (setsockopt(s, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1 ||
	    podsock_tune(s) == -1 ||
	    (from != NULL && bind_client(s, pod, from) == -1)) {
		err = errno;
		close(s);
		errno = err;
		return -1;
	}
	return s;
}

int
podsock_connect(const struct pod_ref *pod, const union sockip *from,
    const union sockip *to)
{
	int s, err, tries;

	/* A source of the other family (an IPv6 tunnel to an IPv4 app)
	 * cannot be the connection's: the pod's own address is. */
	if (from != NULL && from->sa.sa_family != to->sa.sa_family)
		from = NULL;
	for (tries = 0; tries < 3; tries++) {
		if ((s = upstream(pod, to->sa.sa_family, from)) == -1)
			return -1;
		if (connect(s, &to->sa, sockip_len(to)) == 0 ||
		    errno == EINPROGRESS)
			return s;
		err = errno;
		close(s);
		errno = err;
		/* Bound to a port in TIME_WAIT to this destination. */
		if (from == NULL || err != EADDRNOTAVAIL)
			return -1;
	}
	return -1;
}
