/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_DNSPROXY_H
#define ZT_DNSPROXY_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "ambient.h"
#include "dns.h"
#include "podref.h"

/*
 * ztunnel's DNS proxy (DATAPATH.md 8.2): in each pod, UDP and TCP on
 * 127.0.0.1:15053 (and [::1]:15053 where the pod's lo has IPv6), where
 * istio-cni's rules send the pod's DNS.  A and AAAA for the names it
 * knows are answered here, TTL 30; everything else goes to the upstream
 * servers from sockets made in the pod's namespace and marked 0x539 (the
 * rules let them out, in conntrack zone 1), over UDP, again over TCP if
 * the answer was truncated, 5 s at most.  A query from an address that
 * is not the pod's gets SERVFAIL.
 *
 * The names it knows are asked of whoever knows the pods (pods.c, with
 * --peers), through the lookup function given at init: nothing here
 * calls up.
 */

#define DNSP_PORT		ZT_PORT_DNS
#define DNSP_TTL		30	/* seconds, as ztunnel's */
#define DNSP_TIMEOUT_MS		5000	/* a forwarded query; a TCP client idle */
#define DNSP_UPSTREAMS_MAX	3	/* as resolv.conf's MAXNS */
#define DNSP_INFLIGHT_MAX	64	/* forwarded queries per pod at once */
#define DNSP_CONNS_MAX		32	/* TCP clients per pod at once */
#define DNSP_NFDS		4	/* UDP and TCP on 127.0.0.1, on ::1 */
#define DNSP_DOMAIN_DEFAULT	"cluster.local"

struct dnsproxy_conf {
	char			 domain[DNS_TEXT_MAX + 1];
	unsigned		 nupstreams;
	union sockip		 upstreams[DNSP_UPSTREAMS_MAX];
};

/* The addresses of the workload name in namespace ns, at most max, into
 * out: how many (0: it has none), or -1 if nobody has that name. */
typedef int	dnsproxy_lookup_fn(const char *name, const char *ns,
		    struct ipaddr *out, size_t max);

/* conf NULL: no DNS proxy (--no-dns, or without --proxy). */
void		dnsproxy_init(const struct dnsproxy_conf *, dnsproxy_lookup_fn *);
int		dnsproxy_on(void);
/* The nameservers of a resolv.conf file into conf (one we cannot use,
 * such as a link-local one with its %interface, is named in err and
 * skipped).  -1 with errno set, or EINVAL and err if it names none we
 * can use. */
int		dnsproxy_read_resolv(const char *path, struct dnsproxy_conf *,
		    char *err, size_t errlen);
/* Parse "ADDR", "ADDR:PORT" or "[ADDR6]:PORT" as an upstream (port 53
 * if none).  -1 if bad. */
int		dnsproxy_parse_upstream(const char *, union sockip *);

/*
 * In the pod's namespace (the caller has entered it): the sockets, in
 * the order of DNSP_NFDS, -1 for [::1] where lo has no IPv6 (*v6 0).
 * All or nothing: -1 with errno and *what set, none left open.
 */
int		dnsproxy_bind(int fds[DNSP_NFDS], int *v6, const char **what);

/* A pod's DNS proxy: this file's.  It knows at most this many of the
 * pod's addresses (a client from another is unplaced). */
#define DNSP_ADDRS_MAX	8
struct dnsset;
/* Serve the sockets of dnsproxy_bind() for owner, whose own addresses
 * are addrs.  The descriptors are ours from now on
 * (closed on failure: NULL with errno set). */
struct dnsset  *dnsproxy_serve(int fds[DNSP_NFDS], struct pod_ref *owner,
		    const struct ipaddr *addrs, unsigned naddrs);
/* Close it: its sockets, its TCP clients and the queries in flight. */
void		dnsproxy_close(struct dnsset *);

#endif
