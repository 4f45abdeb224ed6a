/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_IPADDR_H
#define COMMON_IPADDR_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/*
 * Addresses of either family, as a dual-stack pod has them.  A listener
 * bound to [::] sees an IPv4 client as ::ffff:a.b.c.d; sockip_canon()
 * turns that back into IPv4 at the door, so everything past it (the
 * original destination, the rules' families, logs and metrics) sees one
 * spelling per address, as ztunnel's to_canonical does.
 */

/* An address without a port: what an interface carries. */
struct ipaddr {
	int		family;		/* AF_INET or AF_INET6; 0: none */
	uint8_t		addr[16];	/* network order; IPv4 in the first 4 */
};

/* A socket address of either family. */
union sockip {
	struct sockaddr		sa;
	struct sockaddr_in	v4;
	struct sockaddr_in6	v6;
};

/* Room for "[v6]:port" and a NUL. */
#define SOCKIP_STRLEN	(INET6_ADDRSTRLEN + 8)

socklen_t	sockip_len(const union sockip *);
/* ::ffff:a.b.c.d as a.b.c.d; anything else unchanged. */
void		sockip_canon(union sockip *);
uint16_t	sockip_port(const union sockip *);	/* host order */
void		sockip_set_port(union sockip *, uint16_t);
void		sockip_ip(const union sockip *, struct ipaddr *);
/* The same host (family and address), ports aside. */
int		sockip_same_ip(const union sockip *, const union sockip *);
/* 127.0.0.0/8 or ::1. */
int		sockip_loopback(const union sockip *);
/* "a.b.c.d:port" or "[v6]:port", into buf. */
void		sockip_str(const union sockip *, char *buf, size_t size);
/*
 * Parse "a.b.c.d:port" or "[v6]:port" into sa.  With defport non-zero
 * the port may be left out (then "a.b.c.d", "[v6]" or a bare "v6" are
 * taken).  Port 0 is refused.  -1 if it is not such an address.
 */
int		sockip_parse(const char *, uint16_t defport, union sockip *);

int		ipaddr_eq(const struct ipaddr *, const struct ipaddr *);
int		ipaddr_cmp(const struct ipaddr *, const struct ipaddr *);
/* The address alone, without brackets, into buf (INET6_ADDRSTRLEN). */
const char     *ipaddr_str(const struct ipaddr *, char *buf, size_t size);
/* Parse a bare IPv4 or IPv6 address; -1 if it is neither. */
int		ipaddr_parse(const char *, struct ipaddr *);
/* The socket address of a with port (host order). */
void		ipaddr_sockip(const struct ipaddr *a, uint16_t port,
		    union sockip *);

/*
 * The addresses of the namespace a NETLINK_ROUTE socket was made in
 * (netns_socket() makes one in a pod), global scope only: not loopback,
 * not link-local.  At most max into out: how many, or -1 with errno
 * set.  One dump, read whole; it blocks only on the kernel.
 */
int		ipaddr_list(int nlsock, struct ipaddr *out, unsigned max);

#endif
