/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.c: where a captured connection goes (--proxy).  The pod's nat
 * rules REDIRECT it to 15001 (what the pod sends out) or 15006 (what
 * comes in); the original destination is in conntrack, and
 * SO_ORIGINAL_DST reads it back.  The upstream socket is made inside the
 * pod's network namespace and carries the ztunnel mark 0x539, which the
 * rules let through: it is never captured again.  Inbound, it is also
 * bound to the client's own address (IP_TRANSPARENT, IP_FREEBIND), so the
 * app sees who called; the app's replies carry the connmark 0x111, and
 * the pod's table 100 delivers them back to this socket.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"
#include "netns.h"
#include "proxy.h"
#include "relay.h"

static proxy_resolve_fn *resolve;

void
proxy_set_resolver(proxy_resolve_fn *fn)
{
	resolve = fn;
}

static const char *
workload_of(uint32_t addr)
{
	return resolve != NULL ? resolve(addr) : NULL;
}

/* ztunnel's own ports are never a destination: a loop, or a way around
 * the capture. */
static int
own_port(const struct sockaddr_in *dst)
{
	int i;

	for (i = 0; i < ZT_NPORTS; i++)
		if (ntohs(dst->sin_port) == zt_ports[i])
			return 1;
	return 0;
}

/* Close a connection we will not serve, with a FIN, not a reset. */
static void
turn_away(int c, const struct pod *pod, const char *why)
{
	char buf[512];

	log_debug("conn %s: %s", pod_label(pod), why);
	(void)shutdown(c, SHUT_WR);
	(void)recv(c, buf, sizeof(buf), MSG_DONTWAIT);
	close(c);
}

/*
 * The upstream socket, inside the pod, marked; bound to the client's
 * address if from is given.  The kernel picks the port, and must not
 * pick the client's own: the redirected connection we are serving has
 * the very tuple (client:port -> app) in the pod's conntrack, and a
 * second connection with it would clash there and never complete.
 */
static int
upstream_socket(const struct pod *pod, const struct sockaddr_in *from)
{
	struct sockaddr_in	bound, any;
	socklen_t		len;
	int			s, on = 1, mark = PROXY_MARK, err, tries;

	for (tries = 0; tries < 3; tries++) {
		s = netns_socket(pod->nsfd, AF_INET,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s == -1 && errno == ENOTRECOVERABLE)
			fatal("cannot return to our own network namespace");
		if (s == -1)
			return -1;
		if (setsockopt(s, SOL_SOCKET, SO_MARK, &mark,
		    sizeof(mark)) == -1)
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
		    pod_label(pod), ntohs(bound.sin_port));
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

void
proxy_accept(struct listener *l, int c)
{
	struct sockaddr_in	 src, dst;
	socklen_t		 len = sizeof(dst), slen = sizeof(src);
	struct pod		*pod = l->pod;
	enum relay_dir		 dir;
	struct tcp_series	*series;
	int			 s;

	/* 15008 is HBONE's, not plain TCP's. */
	if (l->port == 15008) {
		turn_away(c, pod, "15008: no HBONE here (plain TCP only)");
		return;
	}
	dir = l->port == 15001 ? RELAY_OUTBOUND : RELAY_INBOUND;
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	if (getpeername(c, (struct sockaddr *)&src, &slen) == -1 ||
	    src.sin_family != AF_INET) {
		turn_away(c, pod, "not IPv4");
		return;
	}
	/* Not redirected (someone dialled the port itself): the local
	 * address, which is ours, and so refused below. */
	if (getsockopt(c, SOL_IP, SO_ORIGINAL_DST, &dst, &len) == -1) {
		len = sizeof(dst);
		if (getsockname(c, (struct sockaddr *)&dst, &len) == -1) {
			turn_away(c, pod, "no destination");
			return;
		}
	}
	/* As ztunnel: inbound, never to one of its ports; outbound, never
	 * to one of them on loopback (a loop through ourselves). */
	if (own_port(&dst) && (dir == RELAY_INBOUND ||
	    (ntohl(dst.sin_addr.s_addr) >> 24) == IN_LOOPBACKNET)) {
		turn_away(c, pod, "destination is one of ztunnel's own ports");
		return;
	}
	/* Inbound: from the client's address (any port but its own),
	 * unless it is the pod's own (a hairpin), which a plain connect
	 * gives anyway. */
	s = upstream_socket(pod, dir == RELAY_INBOUND &&
	    src.sin_addr.s_addr != dst.sin_addr.s_addr ? &src : NULL);
	if (s == -1) {
		turn_away(c, pod, strerror(errno));
		return;
	}
	if (connect(s, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		close(s);
		turn_away(c, pod, strerror(errno));
		return;
	}
	/* The reporter is the pod whose listener took it. */
	series = dir == RELAY_OUTBOUND ?
	    metrics_tcp_series(1, pod->workload[0] ? pod->workload : pod->name,
	    workload_of(dst.sin_addr.s_addr)) :
	    metrics_tcp_series(0, workload_of(src.sin_addr.s_addr),
	    pod->workload[0] ? pod->workload : pod->name);
	if (relay_start(&pod->conns, pod_label(pod), dir, c, s, &src, &dst,
	    series) == -1)
		log_warn("conn %s: relay", pod_label(pod));
}
