/* SPDX-License-Identifier: Apache-2.0 */
/*
 * listen.c: a pod's listeners, created inside the pod's network namespace
 * and served from ours.
 */
#define LOG_TARGET "listen"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "dnsproxy.h"
#include "ev.h"
#include "listen.h"
#include "log.h"
#include "netns.h"
#include "podsock.h"
#include "proxy.h"

#define ACCEPT_BATCH	32	/* accepts per wake-up: no listener starves the rest */

struct lset;

struct listener {
	struct ev_io	 io;		/* io.fd: the listening socket, or -1 */
	uint16_t	 port;
	struct lset	*set;
};

struct lset {
	struct listener	 lis[ZT_NPORTS];
	struct pod_ref	*owner;
	struct ev_deferred dead;
	uint64_t	 served;	/* answered "ok" */
	int		 addrs_read;	/* read_addrs() done */
	unsigned	 naddrs;
	struct ipaddr	*addrs;		/* naddrs of them, from read_addrs() */
	struct dnsset	*dns;		/* 15053, with the DNS proxy on */
	int		 stopped;	/* listen_stop(): closed */
	int		 migrate_nsfd;	/* its namespace while tcp_migrate_req
					 * is ours to put back; else -1 */
	char		 migrate_old[8];	/* the value to put back */
};

#define MIGRATE_REQ	"/proc/sys/net/ipv4/tcp_migrate_req"

static const uint16_t	ports[ZT_NPORTS] = ZT_PORTS;
static int		proxy_mode;
static int		family = AF_INET;	/* of the listeners */

/*
 * With --proxy, as ztunnel's: [::], IPv4 clients as ::ffff:a.b.c.d (no
 * IPV6_V6ONLY), so one socket per port serves a dual-stack pod.  A kernel
 * without IPv6 (ipv6.disable=1: the same in every namespace) gets
 * 0.0.0.0.  Without --proxy, the seed's 127.0.0.1.
 */
void
listen_init(int proxy)
{
	int fd;

	proxy_mode = proxy;
	if (!proxy)
		return;
	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		family = AF_INET6;
		close(fd);
	} else
		log_info("no IPv6 in this kernel (%s): listeners on 0.0.0.0",
		    strerror(errno));
}

int
listen_proxy(void)
{
	return proxy_mode;
}

const char *
listen_addr(void)
{
	return !proxy_mode ? "127.0.0.1" : family == AF_INET6 ? "[::]" :
	    "0.0.0.0";
}

static int	open_listeners(int fds[ZT_NPORTS], int dfds[DNSP_NFDS],
		    int *nl, struct listen_error *);
static int	serve_dns(struct lset *, int dfds[DNSP_NFDS], int v6, int nl,
		    struct listen_error *);
static int	open_one(uint16_t port, const char **what);
static int	loopback_up(int sock);
static void	serve(void *, uint32_t);
static int	accept_some(struct listener *, int max);
static void	read_addrs(struct lset *, int nl);
static void	lset_free(void *);

/*
 * The handoff proper.  nsfd is the pod's namespace, already checked to be
 * one; it stays the caller's.  A socket belongs to the namespace it was
 * created in, not to the one its owner later runs in: so we step into the
 * pod's namespace, create the listeners there, and step back, and they go
 * on listening inside the pod.  All or nothing: on failure no listener of
 * this pod is left open.
 */
struct lset *
listen_open(int nsfd, struct pod_ref *owner, struct listen_error *e)
{
	struct lset	*ls;
	int		 fds[ZT_NPORTS] = { -1, -1, -1 }, i, rc, v6, nl = -1;
	int		 dfds[DNSP_NFDS] = { -1, -1, -1, -1 };

	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		*e = (struct listen_error){ "memory", 0, errno };
		return NULL;
	}
	for (i = 0; i < ZT_NPORTS; i++)
		ls->lis[i].io.fd = -1;
	ls->owner = owner;
	ls->migrate_nsfd = -1;
	if (netns_enter(nsfd) == -1) {
		*e = (struct listen_error){ "setns", 0, errno };
		free(ls);
		return NULL;
	}
	rc = open_listeners(fds, dfds, &nl, e);
	v6 = dfds[2] != -1;
	/*
	 * The one way back, whatever happened in there.  Going on in the
	 * pod's namespace would put the next pod's listeners (and our own
	 * control socket's peers) in the wrong place: dying is better.
	 */
	if (netns_go_home() == -1)
		fatal("cannot return to our own network namespace");
	if (rc == -1) {
		free(ls);
		return NULL;
	}

	for (i = 0; i < ZT_NPORTS; i++) {
		ls->lis[i].set = ls;
		ls->lis[i].port = ports[i];
		if (ev_io_add(&ls->lis[i].io, fds[i], EPOLLIN, serve,
		    &ls->lis[i]) == -1) {
			*e = (struct listen_error){ "epoll_ctl", 0, errno };
			while (i < ZT_NPORTS)
				close(fds[i++]);
			for (i = 0; i < DNSP_NFDS; i++)
				if (dfds[i] != -1)
					close(dfds[i]);
			if (nl != -1)
				close(nl);
			listen_close(ls);
			return NULL;
		}
	}
	if (serve_dns(ls, dfds, v6, nl, e) == -1) {
		listen_close(ls);
		return NULL;
	}
	return ls;
}

/* The DNS proxy's sockets, made in the pod, served from here; nl, a
 * netlink socket made there too (or -1), is used up. */
static int
serve_dns(struct lset *ls, int dfds[DNSP_NFDS], int v6, int nl,
    struct listen_error *e)
{
	if (!dnsproxy_on()) {
		if (nl != -1)
			close(nl);
		return 0;
	}
	read_addrs(ls, nl);	/* who may ask: the pod's own addresses */
	if (!v6)
		log_info("%s: no IPv6 on lo: IPv4 only (DNS on 127.0.0.1:%u)",
		    ls->owner->label, DNSP_PORT);
	if ((ls->dns = dnsproxy_serve(dfds, ls->owner, ls->addrs,
	    ls->naddrs)) == NULL) {
		*e = (struct listen_error){ "epoll_ctl", DNSP_PORT, errno };
		return -1;
	}
	return 0;
}

/* Inside the pod's namespace: 15008, 15006, 15001 in that order (and the
 * DNS proxy's 15053, with a netlink socket into *nl to read the pod's
 * addresses by: made here, it costs no trip into the pod later), and
 * make sure something in there can reach them. */
static int
open_listeners(int fds[ZT_NPORTS], int dfds[DNSP_NFDS], int *nl,
    struct listen_error *e)
{
	const char	*what;
	int		 i, n, v6;

	for (n = 0; n < ZT_NPORTS; n++) {
		if ((fds[n] = open_one(ports[n], &what)) == -1) {
			*e = (struct listen_error){ what, ports[n], errno };
			goto fail;
		}
	}
	/*
	 * With lo down, binding 127.0.0.1 still succeeds on current kernels,
	 * but every connect from inside the pod fails with ENETUNREACH:
	 * listeners nobody can reach are a failure, not a success.
	 */
	if (loopback_up(fds[0]) != 1) {
		*e = (struct listen_error){ "loopback", 0, errno };
		goto fail;
	}
	if (dnsproxy_on() && dnsproxy_bind(dfds, &v6, &what) == -1) {
		*e = (struct listen_error){ what, DNSP_PORT, errno };
		goto fail;
	}
	/* Failing, it is made from home when needed. */
	if (dnsproxy_on())
		*nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
		    NETLINK_ROUTE);
	return 0;
fail:
	for (i = 0; i < n; i++)
		close(fds[i]);
	errno = e->err;
	return -1;
}

static int
open_one(uint16_t port, const char **what)
{
	union sockip	sa;
	int		fd, on = 1, off = 0, mark = ZT_MARK, err;

	*what = "socket";
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	if (family == AF_INET6) {
		sa.v6.sin6_family = AF_INET6;
		sa.v6.sin6_port = htons(port);
		sa.v6.sin6_addr = in6addr_any;
		/* Both families, whatever net.ipv6.bindv6only says. */
		*what = "setsockopt IPV6_V6ONLY";
		if (setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, &off,
		    sizeof(off)) == -1)
			goto fail;
	} else {
		sa.v4.sin_family = AF_INET;
		sa.v4.sin_port = htons(port);
		sa.v4.sin_addr.s_addr = htonl(proxy_mode ? INADDR_ANY :
		    INADDR_LOOPBACK);
	}
	/*
	 * We close each accepted connection first, which leaves TIME_WAIT
	 * entries on the port; without SO_REUSEADDR a pod re-added within a
	 * minute could not bind again.  It does not let us share the port
	 * with a live listener.
	 */
	*what = "setsockopt SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/*
	 * As ztunnel's: a second instance of the daemon (same uid: the
	 * kernel allows no one else) can bind beside this one during an
	 * upgrade, and both accept until this one closes (listen_stop()).
	 * A process of the pod's own still cannot take the port from us.
	 */
	*what = "setsockopt SO_REUSEPORT";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	/* As ztunnel's in-pod listeners: marked (what they send is let
	 * through), transparent (needs CAP_NET_ADMIN). */
	if (proxy_mode) {
		*what = "setsockopt SO_MARK";
		if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark,
		    sizeof(mark)) == -1)
			goto fail;
		*what = family == AF_INET6 ? "setsockopt IPV6_TRANSPARENT" :
		    "setsockopt IP_TRANSPARENT";
		if (setsockopt(fd, family == AF_INET6 ? SOL_IPV6 : SOL_IP,
		    family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT,
		    &on, sizeof(on)) == -1)
			goto fail;
		/* Keepalive and the user timeout, set once here: every
		 * socket accepted from it inherits them (the kernel clones
		 * the listener, and starts the keepalive timer). */
		*what = "setsockopt keepalive";
		if (podsock_tune_listener(fd) == -1)
			goto fail;
	}
	*what = "bind";
	if (bind(fd, &sa.sa, sockip_len(&sa)) == -1)
		goto fail;
	/*
	 * The kernel caps the backlog at the pod's net.core.somaxconn.
	 * ztunnel's listeners take 128 and accept as fast as its async
	 * runtime goes; here a burst of 1,000 connects from one pod
	 * overflowed 128 (each accept also makes an upstream socket inside
	 * the pod), and the kernel reset the excess.
	 */
	*what = "listen";
	if (listen(fd, SOMAXCONN) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* 1 if the loopback device of sock's namespace is up, 0 if it is down
 * (errno ENETDOWN), -1 if we cannot tell. */
static int
loopback_up(int sock)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", sizeof("lo"));
	/* Device ioctls act in the socket's namespace, wherever we are. */
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) == -1)
		return -1;
	if (!(ifr.ifr_flags & IFF_UP)) {
		errno = ENETDOWN;
		return 0;
	}
	return 1;
}

int
listen_loopback_up(const struct lset *ls)
{
	return loopback_up(ls->lis[0].io.fd);
}

unsigned
listen_addrs(struct lset *ls, struct ipaddr *addrs, unsigned max)
{
	unsigned n;

	if (!ls->addrs_read)
		read_addrs(ls, -1);
	n = ls->naddrs < max ? ls->naddrs : max;
	if (n > 0)
		memcpy(addrs, ls->addrs, n * sizeof(*addrs));
	return n;
}

uint64_t
listen_served(const struct lset *ls)
{
	return ls->served;
}

/* Without --proxy: the IPv4 ones, from SIOCGIFCONF on one of its
 * listeners (ioctls act in the socket's namespace; the seed's pods have
 * no others, and their namespace is not ours to keep). */
static int
ifconf_addrs(int fd, struct ipaddr *addrs, unsigned max)
{
	struct ifreq	 ifr[16];
	struct ifconf	 ifc = { .ifc_len = sizeof(ifr), .ifc_req = ifr };
	struct ipaddr	*a;
	size_t		 i, n;
	unsigned	 got = 0;

	memset(ifr, 0, sizeof(ifr));
	if (ioctl(fd, SIOCGIFCONF, &ifc) == -1)
		return -1;
	n = (size_t)ifc.ifc_len / sizeof(ifr[0]);
	for (i = 0; i < n && got < max; i++) {
		if (ifr[i].ifr_addr.sa_family != AF_INET)
			continue;
		a = &addrs[got];
		memset(a, 0, sizeof(*a));
		a->family = AF_INET;
		memcpy(a->addr, &((struct sockaddr_in *)(void *)&ifr[i].
		    ifr_addr)->sin_addr, 4);
		if (a->addr[0] != IN_LOOPBACKNET)
			got++;
	}
	return (int)got;
}

/*
 * The pod's own addresses, of both families (not loopback, not
 * link-local), read when first asked (a pod nobody sends to, or that
 * nobody looks at, never pays for it), or before its listeners close.
 * With --proxy, by netlink from inside the pod: nl, a socket made there,
 * or -1 (one is made now); used up either way.
 */
static void
read_addrs(struct lset *ls, int nl)
{
	struct ipaddr	 got[LISTEN_ADDRS_MAX];
	size_t		 i;
	int		 fd = -1, n = -1;

	for (i = 0; i < ZT_NPORTS && fd == -1; i++)
		fd = ls->lis[i].io.fd;	/* any of its sockets will do */
	if (ls->addrs_read || fd == -1)
		goto done;
	ls->addrs_read = 1;
	if (ls->owner->nsfd == -1)
		n = ifconf_addrs(fd, got, LISTEN_ADDRS_MAX);
	else {
		if (nl == -1 && (nl = netns_socket(ls->owner->nsfd,
		    AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) == -1 &&
		    errno == ENOTRECOVERABLE)
			fatal("cannot return to our own network namespace");
		if (nl != -1)
			n = ipaddr_list(nl, got, LISTEN_ADDRS_MAX);
	}
	if (n == -1)
		log_warn("%s: reading its addresses", ls->owner->label);
	else if (n > 0) {
		/* Kept as many as there are: a pod with none (or never
		 * asked) costs nothing here. */
		if ((ls->addrs = calloc((size_t)n, sizeof(*ls->addrs))) == NULL)
			log_warn("%s: keeping its addresses", ls->owner->label);
		else {
			memcpy(ls->addrs, got, (size_t)n * sizeof(*ls->addrs));
			ls->naddrs = (unsigned)n;
		}
	}
done:
	if (nl != -1)
		close(nl);
}

/*
 * Stop listening, as a draining ztunnel does: another instance bound
 * beside us (SO_REUSEPORT) takes the pod's new connections from now on.
 * What is already queued is served first.  A listener that closes
 * resets what still waits in its queue, and handshakes under way would
 * meet the other listener without their request and be reset too: so
 * the pod's net.ipv4.tcp_migrate_req is 1 while we close (the kernel
 * then hands both to the other listener of the port), and goes back to
 * what it was at listen_restore().  Neither istio-cni nor ztunnel sets
 * it: ztunnel's upgrade resets those connections.  -1 with errno set if
 * the sysctl could not be set: the listeners are closed all the same.
 */
int
listen_stop(struct lset *ls)
{
	char	 old[sizeof(ls->migrate_old)];
	int	 i, k, rc = 0, nsfd;

	if (ls->stopped)
		return 0;
	read_addrs(ls, -1);	/* the views go on showing them */
	/* Bounded: a queue holds at most SOMAXCONN. */
	for (i = 0; i < ZT_NPORTS; i++)
		for (k = 0; k <= SOMAXCONN / ACCEPT_BATCH &&
		    accept_some(&ls->lis[i], ACCEPT_BATCH) == ACCEPT_BATCH; k++)
			;
	if ((nsfd = netns_of_socket(ls->lis[0].io.fd)) == -1 ||
	    netns_sysctl(nsfd, MIGRATE_REQ, "1", old, sizeof(old)) == -1) {
		if (errno == ENOTRECOVERABLE)
			fatal("cannot return to our own network namespace");
		rc = -1;
		if (nsfd != -1)
			close(nsfd);
	} else {
		ls->migrate_nsfd = nsfd;
		memcpy(ls->migrate_old, old, sizeof(old));
	}
	for (i = 0; i < ZT_NPORTS; i++)
		ev_io_close(&ls->lis[i].io);
	dnsproxy_close(ls->dns);
	ls->dns = NULL;
	ls->stopped = 1;
	return rc;
}

void
listen_restore(struct lset *ls)
{
	char old[sizeof(ls->migrate_old)];

	if (ls == NULL || ls->migrate_nsfd == -1)
		return;
	/* Only what we set: a value changed since is someone else's. */
	if (netns_sysctl(ls->migrate_nsfd, MIGRATE_REQ, NULL, old,
	    sizeof(old)) == 0 && strcmp(old, "1") == 0 &&
	    netns_sysctl(ls->migrate_nsfd, MIGRATE_REQ, ls->migrate_old, old,
	    sizeof(old)) == 0)
		log_debug("%s: tcp_migrate_req back to %s", ls->owner->label,
		    ls->migrate_old);
	else if (errno == ENOTRECOVERABLE)
		fatal("cannot return to our own network namespace");
	close(ls->migrate_nsfd);
	ls->migrate_nsfd = -1;
}

int
listen_fds(const struct lset *ls, int fds[ZT_NPORTS])
{
	int i;

	if (ls->stopped || !listen_alive(ls))
		return -1;
	for (i = 0; i < ZT_NPORTS; i++)
		fds[i] = ls->lis[i].io.fd;
	return 0;
}

int
listen_alive(const struct lset *ls)
{
	int	i, on;
	socklen_t len;

	for (i = 0; i < ZT_NPORTS; i++) {
		len = sizeof(on);
		on = 0;
		/* ss -K leaves our descriptor on a socket that no longer
		 * listens: SO_ACCEPTCONN says so before accept() does. */
		if (ls->lis[i].io.fd == -1 || getsockopt(ls->lis[i].io.fd,
		    SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1 || !on)
			return 0;
	}
	return 1;
}

void
listen_forget(struct lset *ls)
{
	int i;

	/* Our copies only: the sockets listen on in the other instance
	 * (which made DNS sockets of its own beside ours). */
	read_addrs(ls, -1);
	for (i = 0; i < ZT_NPORTS; i++)
		ev_io_close(&ls->lis[i].io);
	dnsproxy_close(ls->dns);
	ls->dns = NULL;
	ls->stopped = 1;
}

/* DNS sockets are not handed over: the new instance makes its own
 * beside the old one's (SO_REUSEPORT), which close as it hands over. */
static int
adopt_dns(struct lset *ls, struct listen_error *e)
{
	const char	*what;
	int		 dfds[DNSP_NFDS], v6, rc;

	if (!dnsproxy_on() || ls->owner->nsfd == -1)
		return 0;
	if (netns_enter(ls->owner->nsfd) == -1) {
		*e = (struct listen_error){ "setns", 0, errno };
		return -1;
	}
	rc = dnsproxy_bind(dfds, &v6, &what);
	if (netns_go_home() == -1)
		fatal("cannot return to our own network namespace");
	if (rc == -1) {
		*e = (struct listen_error){ what, DNSP_PORT, errno };
		return -1;
	}
	return serve_dns(ls, dfds, v6, -1, e);
}

struct lset *
listen_adopt(int fds[ZT_NPORTS], uint64_t served, struct pod_ref *owner,
    struct listen_error *e)
{
	struct lset	*ls;
	int		 i, j;

	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		*e = (struct listen_error){ "memory", 0, errno };
		goto fail;
	}
	ls->owner = owner;
	ls->migrate_nsfd = -1;
	ls->served = served;
	for (i = 0; i < ZT_NPORTS; i++) {
		ls->lis[i].io.fd = -1;
		ls->lis[i].set = ls;
		ls->lis[i].port = ports[i];
	}
	for (i = 0; i < ZT_NPORTS; i++) {
		/* Ours to tune now (an older instance set nothing on them,
		 * or other values). */
		if ((proxy_mode && podsock_tune_listener(fds[i]) == -1) ||
		    ev_io_add(&ls->lis[i].io, fds[i], EPOLLIN, serve,
		    &ls->lis[i]) == -1) {
			*e = (struct listen_error){ "epoll_ctl", 0, errno };
			for (j = i; j < ZT_NPORTS; j++)
				close(fds[j]);
			listen_close(ls);
			return NULL;
		}
	}
	if (adopt_dns(ls, e) == -1) {
		listen_close(ls);
		return NULL;
	}
	return ls;
fail:
	for (i = 0; i < ZT_NPORTS; i++)
		close(fds[i]);
	return NULL;
}

/* The listeners close now; the set is freed after the event batch (one
 * of its listeners may be in the batch still). */
void
listen_close(struct lset *ls)
{
	int i;

	if (ls == NULL)
		return;
	listen_restore(ls);
	for (i = 0; i < ZT_NPORTS; i++)
		ev_io_close(&ls->lis[i].io);
	dnsproxy_close(ls->dns);
	ls->dns = NULL;
	ev_defer_free(&ls->dead, lset_free, ls);
}

static void
lset_free(void *arg)
{
	struct lset *ls = arg;

	free(ls->addrs);
	free(ls);
}

static void
serve(void *arg, uint32_t events)
{
	(void)events;
	(void)accept_some(arg, ACCEPT_BATCH);
}

/* Take up to max connections from the queue: hand each to the proxy, or
 * answer it with "ok\n" and close it, as the seed's listeners do; the
 * loop's quantum ends it early.  Returns how many were taken. */
static int
accept_some(struct listener *l, int max)
{
	static const char	 ok[] = "ok\n";
	struct pod_ref		*pod = l->set->owner;
	union sockip		 peer;
	socklen_t		 plen;
	int			 c, n;

	for (n = 0; n < max && !ev_exhausted(); n++) {
		plen = sizeof(peer);
		memset(&peer, 0, sizeof(peer));
		if ((c = ev_accept_peer(l->io.fd, NULL, &peer.sa,
		    &plen)) == -1) {
			if (errno == EMFILE)
				log_warnx("out of file descriptors: refused a "
				    "connection to %s:%u", pod->label, l->port);
			else if (errno == EINVAL) {
				/* Not listening any more: closed from
				 * outside (ss -K).  Level-triggered, it
				 * would wake us forever: closed here;
				 * listen_alive() says so, and the pod's
				 * next add binds it again. */
				log_warnx("%s:%u is no longer listening (closed "
				    "from outside?)", pod->label, l->port);
				ev_io_close(&l->io);
			} else if (errno != EAGAIN)
				log_warn("accept on %s:%u", pod->label, l->port);
			return n;
		}
		if (proxy_mode) {
			proxy_accept(pod, l->port, c, &peer);
			continue;
		}
		/* A new socket's buffer always has room for three bytes;
		 * if the client already left, there is nobody to tell. */
		(void)send(c, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(c);
		l->set->served++;
	}
	return n;
}
