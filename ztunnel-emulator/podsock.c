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

/* A range of source ports of ours, taken in turn. */
struct ports {
	uint16_t	lo, hi;
	unsigned	next;
	unsigned	skip;		/* connections left to the kernel's */
};

/*
 * IN: the source port of a connection to the app from the client's
 * address.  With the kernel's choice (bind(client, 0) gives an odd port
 * of the pod's ephemeral range), a busy client whose even ports were all
 * in TIME_WAIT went on to odd ones: its SYN then met one of our
 * connections with the same tuple in the pod's conntrack, was taken for
 * part of it and answered with an ACK, and waited out its retries (a
 * 64 s open, our connection reset).  OUT: the source port of one out of
 * a source pod (podsock.h).  Taken in turn, a port comes round again
 * after (HI - LO + 1) connections, later than its TIME_WAIT ends at any
 * rate below 230 a second.
 */
static struct ports in_ports = { PODSOCK_IN_PORTS_LO, PODSOCK_IN_PORTS_HI,
    0, 0 };
static struct ports out_ports = { PODSOCK_OUT_PORTS_LO, PODSOCK_OUT_PORTS_HI,
    0, 0 };

static uint16_t
next_port(struct ports *p)
{
	p->next = (p->next + 1) % (unsigned)(p->hi - p->lo + 1);
	return (uint16_t)(p->lo + p->next);
}

/* Where a connection of ours comes from. */
struct source {
	const union sockip	*addr;		/* bound to it; NULL: the pod's
						 * own address, unbound */
	int			 transparent;	/* addr is not the pod's */
	struct ports		*ports;		/* on a port of these; NULL:
						 * the kernel's */
	uint16_t		 avoid;		/* never this port */
};

/*
 * Bind s to src's address on a port of its own: not the one to avoid
 * (the client's own: the redirected connection we serve has that tuple
 * in the pod's conntrack), and one no socket of the pod holds.
 * SO_REUSEADDR, so that an app of the pod that sets it too may still
 * listen on the port.  When every try fails, the kernel's own: on the
 * client's address for a transparent source, and for the pod's own
 * address left unbound, as connect() then picks both.
 */
static int
bind_ours(int s, const struct pod_ref *pod, const struct source *src)
{
	union sockip	sa = *src->addr;
	uint16_t	port;
	int		on = 1, tries;

	if (src->ports != NULL) {
		if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1)
			return -1;
		for (tries = 0; tries < PODSOCK_PORT_TRIES; tries++) {
			if ((port = next_port(src->ports)) == src->avoid)
				continue;
			sockip_set_port(&sa, port);
			if (bind(s, &sa.sa, sockip_len(&sa)) == 0)
				return 0;
			if (errno != EADDRINUSE)
				return -1;
		}
		log_debug("conn %s: no port of ours free: the kernel's",
		    pod->label);
		if (!src->transparent)
			return 0;
	}
	sockip_set_port(&sa, 0);
	return bind(s, &sa.sa, sockip_len(&sa));
}

/* Made in the pod, marked and tuned, bound as src says, and connecting
 * to `to`. */
static int
connect_one(const struct pod_ref *pod, const struct source *src,
    const union sockip *to)
{
	int s, on = 1, mark = ZT_MARK, v6 = to->sa.sa_family == AF_INET6, err;

	s = netns_socket(pod->nsfd, to->sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1 && errno == ENOTRECOVERABLE)
		fatal("cannot return to our own network namespace");
	if (s == -1)
		return -1;
	/* Transparent is enough to bind an address that is not the pod's:
	 * the kernel lets it bind as it would with FREEBIND. */
	if (setsockopt(s, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1 ||
	    podsock_tune(s) == -1 ||
	    (src->transparent && setsockopt(s, v6 ? SOL_IPV6 : SOL_IP,
	    v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &on, sizeof(on)) == -1) ||
	    (src->addr != NULL && bind_ours(s, pod, src) == -1) ||
	    (connect(s, &to->sa, sockip_len(to)) == -1 &&
	    errno != EINPROGRESS)) {
		err = errno;
		close(s);
		errno = err;
		return -1;
	}
	return s;
}

/*
 * A port of ours whose TIME_WAIT is to this very destination fails at
 * connect(): its range comes round faster than TIME_WAIT ends (over 230
 * connections a second to one destination).  That connection, and the
 * next PORTS_SKIP, take the kernel's port instead, so that a burst costs
 * one wasted socket in PORTS_SKIP, not one each.
 */
#define PORTS_SKIP	64

static int
connect_from(const struct pod_ref *pod, const struct source *src,
    const union sockip *to)
{
	struct source	kernel = *src;
	int		s;

	if (src->addr != NULL && src->ports != NULL) {
		if (src->ports->skip == 0) {
			if ((s = connect_one(pod, src, to)) != -1 ||
			    errno != EADDRNOTAVAIL)
				return s;
			log_debug("conn %s: a port of ours in TIME_WAIT to "
			    "this destination: the kernel's for %d",
			    pod->label, PORTS_SKIP);
			src->ports->skip = PORTS_SKIP;
		} else
			src->ports->skip--;
	}
	/* The kernel's port: on the client's address, or unbound. */
	kernel.ports = NULL;
	if (!kernel.transparent)
		kernel.addr = NULL;
	return connect_one(pod, &kernel, to);
}

int
podsock_connect(const struct pod_ref *pod, const union sockip *from,
    const union sockip *to)
{
	struct source src = { NULL, 0, &in_ports, 0 };

	/* A source of the other family (an IPv6 tunnel to an IPv4 app)
	 * cannot be the connection's: the pod's own address is. */
	if (from != NULL && from->sa.sa_family == to->sa.sa_family) {
		src.addr = from;
		src.transparent = 1;
		src.avoid = sockip_port(from);
	}
	return connect_from(pod, &src, to);
}

int
podsock_connect_out(const struct pod_ref *pod, const union sockip *self,
    const union sockip *to)
{
	struct source src = { NULL, 0, &out_ports, 0 };

	if (self != NULL && self->sa.sa_family == to->sa.sa_family)
		src.addr = self;
	return connect_from(pod, &src, to);
}
