/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.c: where a captured connection goes (--proxy).  The pod's nat
 * rules REDIRECT it to 15001 (what the pod sends out) or 15006 (what
 * comes in); the original destination is in conntrack, and
 * SO_ORIGINAL_DST (IP6T_SO_ORIGINAL_DST for IPv6) reads it back.  The upstream socket is made inside the
 * pod's network namespace and carries the ztunnel mark 0x539, which the
 * rules let through: it is never captured again.  Inbound, it is also
 * bound to the client's own address (IP_TRANSPARENT, or IPv6's twin,
 * which also lets it bind an address that is not the pod's), so the
 * app sees who called; the app's replies carry the connmark 0x111, and
 * the pod's table 100 delivers them back to this socket.
 */
#define LOG_TARGET "proxy"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ambient.h"
#include "hbone.h"
#include "log.h"
#include "metrics.h"
#include "podsock.h"
#include "proxy.h"
#include "relay.h"
#include "util.h"

/* linux/netfilter_ipv6/ip6_tables.h's, whose header clashes with libc's. */
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST	80
#endif

void
proxy_init(mesh_resolve_fn *fn, const struct proxy_opts *o)
{
	mesh_init(fn);
	podsock_init(&o->sock);
	relay_init(o->half_close_ms);
	hbone_init(o->pool_idle_ms, o->half_close_ms);
}

/* Where c was going before the pod's rules sent it to us: conntrack's
 * original destination, of src's family. */
static int
original_dst(int c, const union sockip *src, union sockip *dst)
{
	socklen_t len;

	memset(dst, 0, sizeof(*dst));
	if (src->sa.sa_family == AF_INET6) {
		len = sizeof(dst->v6);
		return getsockopt(c, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst->v6,
		    &len);
	}
	/* An IPv4 client of a [::] listener too: conntrack's entry is
	 * IPv4, and the option looks at the socket's IPv4 view. */
	len = sizeof(dst->v4);
	return getsockopt(c, SOL_IP, SO_ORIGINAL_DST, &dst->v4, &len);
}

/* Close a connection we will not serve, with a FIN, not a reset. */
static void
turn_away(int c, const struct pod_ref *pod, const char *why)
{
	log_debug("conn %s: %s", pod->label, why);
	(void)shutdown(c, SHUT_WR);
	sock_drain(c);
	close(c);
}

void
proxy_accept(struct pod_ref *pod, uint16_t port, int c,
    const union sockip *peer)
{
	union sockip		 src = *peer, dst;
	socklen_t		 len;
	enum relay_dir		 dir;
	struct tcp_series	*series;
	const char		*dst_workload;
	int			 s, mesh;

	/* Keepalive and the user timeout come with it: an accepted socket
	 * inherits them from its listener (listen.c), five calls fewer per
	 * connection. */
	if (port == ZT_PORT_HBONE) {
		hbone_accept(pod, c, peer);
		return;
	}
	dir = port == ZT_PORT_OUTBOUND ? RELAY_OUTBOUND : RELAY_INBOUND;
	if (src.sa.sa_family != AF_INET && src.sa.sa_family != AF_INET6) {
		turn_away(c, pod, "not an IP connection");
		return;
	}
	sockip_canon(&src);
	/* Not redirected (someone dialled the port itself): the local
	 * address, which is ours, and so refused below. */
	if (original_dst(c, &src, &dst) == -1) {
		len = sizeof(dst);
		if (getsockname(c, &dst.sa, &len) == -1) {
			turn_away(c, pod, "no destination");
			return;
		}
		sockip_canon(&dst);
	}
	/* As ztunnel: inbound, never to one of its ports; outbound, never
	 * to one of them on loopback (a loop through ourselves). */
	if (podsock_own_port(sockip_port(&dst)) && (dir == RELAY_INBOUND ||
	    sockip_loopback(&dst))) {
		turn_away(c, pod, "destination is one of ztunnel's own ports");
		return;
	}
	/* Outbound to a mesh pod, here or on another node: HBONE.  There is
	 * no same-node shortcut (as in ztunnel). */
	dst_workload = mesh_workload(&dst, &mesh);
	if (dir == RELAY_OUTBOUND && mesh) {
		hbone_outbound(pod, c, &src, &dst, dst_workload);
		return;
	}
	/* Inbound: from the client's address (any port but its own),
	 * unless it is the pod's own (a hairpin), which a plain connect
	 * gives anyway.  Outbound: from the app's address, on a port of
	 * ours, not one of its pod's range (podsock.h). */
	if (dir == RELAY_OUTBOUND)
		s = podsock_connect_out(pod, &src, &dst);
	else
		s = podsock_connect(pod, !sockip_same_ip(&src, &dst) ?
		    &src : NULL, &dst);
	if (s == -1) {
		turn_away(c, pod, strerror(errno));
		return;
	}
	/* The reporter is the pod whose listener took it. */
	series = dir == RELAY_OUTBOUND ?
	    metrics_tcp_series(1, pod->label, dst_workload) :
	    metrics_tcp_series(0, mesh_workload(&src, NULL),
	    pod->label);
	if (relay_start(pod->conns, pod->label, dir, c, s, &src, &dst,
	    series) == -1)
		log_warn("conn %s: relay", pod->label);
}
