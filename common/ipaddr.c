/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipaddr.c: addresses of either family (see ipaddr.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "ipaddr.h"

socklen_t
sockip_len(const union sockip *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->v6) : sizeof(a->v4);
}

void
sockip_canon(union sockip *a)
{
	struct sockaddr_in v4;

	if (a->sa.sa_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&a->v6.sin6_addr))
		return;
	memset(&v4, 0, sizeof(v4));
	v4.sin_family = AF_INET;
	v4.sin_port = a->v6.sin6_port;
	memcpy(&v4.sin_addr, &a->v6.sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	a->v4 = v4;
}

uint16_t
sockip_port(const union sockip *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->v6.sin6_port :
	    a->v4.sin_port);
}

void
sockip_set_port(union sockip *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET6)
		a->v6.sin6_port = htons(port);
	else
		a->v4.sin_port = htons(port);
}

void
sockip_ip(const union sockip *a, struct ipaddr *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = a->sa.sa_family;
	if (ip->family == AF_INET6)
		memcpy(ip->addr, &a->v6.sin6_addr, 16);
	else if (ip->family == AF_INET)
		memcpy(ip->addr, &a->v4.sin_addr, 4);
}

int
sockip_same_ip(const union sockip *a, const union sockip *b)
{
	struct ipaddr x, y;

	sockip_ip(a, &x);
	sockip_ip(b, &y);
	return ipaddr_eq(&x, &y);
}

int
sockip_loopback(const union sockip *a)
{
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->v6.sin6_addr);
	return (ntohl(a->v4.sin_addr.s_addr) >> 24) == IN_LOOPBACKNET;
}

void
sockip_str(const union sockip *a, char *buf, size_t size)
{
	struct ipaddr	ip;
	char		s[INET6_ADDRSTRLEN];

	sockip_ip(a, &ip);
	snprintf(buf, size, ip.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    ipaddr_str(&ip, s, sizeof(s)), sockip_port(a));
}

int
sockip_parse(const char *s, uint16_t defport, union sockip *out)
{
	char		 host[INET6_ADDRSTRLEN + 2], *end;
	const char	*colon, *portstr = NULL;
	struct ipaddr	 ip;
	size_t		 hlen;
	unsigned long	 port = defport;
	int		 bracket = s[0] == '[';

	if (bracket) {
		if ((colon = strchr(s, ']')) == NULL)
			return -1;
		hlen = (size_t)(colon - s - 1);
		s++;
		if (colon[1] == ':')
			portstr = colon + 2;
		else if (colon[1] != '\0')
			return -1;
	} else if ((colon = strrchr(s, ':')) != NULL &&
	    strchr(s, ':') == colon) {
		hlen = (size_t)(colon - s);	/* a.b.c.d:port */
		portstr = colon + 1;
	} else
		hlen = strlen(s);		/* a.b.c.d, or a bare v6 */
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (portstr == NULL && defport == 0)
		return -1;
	if (portstr != NULL) {
		if (*portstr < '0' || *portstr > '9')
			return -1;
		errno = 0;
		port = strtoul(portstr, &end, 10);
		if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
			return -1;
	}
	/* Brackets are for IPv6 only. */
	if (ipaddr_parse(host, &ip) == -1 ||
	    (bracket && ip.family != AF_INET6))
		return -1;
	ipaddr_sockip(&ip, (uint16_t)port, out);
	return 0;
}

int
ipaddr_eq(const struct ipaddr *a, const struct ipaddr *b)
{
	return ipaddr_cmp(a, b) == 0;
}

int
ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, a->family == AF_INET6 ? 16 : 4);
}

const char *
ipaddr_str(const struct ipaddr *a, char *buf, size_t size)
{
	if (inet_ntop(a->family == AF_INET6 ? AF_INET6 : AF_INET, a->addr,
	    buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
	return buf;
}

int
ipaddr_parse(const char *s, struct ipaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -1;
	return 0;
}

void
ipaddr_sockip(const struct ipaddr *a, uint16_t port, union sockip *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET6) {
		out->v6.sin6_family = AF_INET6;
		out->v6.sin6_port = htons(port);
		memcpy(&out->v6.sin6_addr, a->addr, 16);
	} else {
		out->v4.sin_family = AF_INET;
		out->v4.sin_port = htons(port);
		memcpy(&out->v4.sin_addr, a->addr, 4);
	}
}

/* The next netlink message or attribute after p, of aligned size step:
 * the macros' own casts from char * upset -Wcast-align, though every
 * one is aligned. */
static const void *
skip(const void *p, size_t step)
{
	return (const char *)p + step;
}

/* One address message's address (IFA_LOCAL, else IFA_ADDRESS) into *a;
 * 0 if it has none we keep. */
static int
addr_msg(const struct nlmsghdr *h, struct ipaddr *a)
{
	const struct ifaddrmsg	*ifa = NLMSG_DATA(h);
	const struct rtattr	*rta, *local = NULL, *addr = NULL;
	size_t			 left, want;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    ifa->ifa_scope != RT_SCOPE_UNIVERSE ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	left = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa));
	for (rta = skip(ifa, NLMSG_ALIGN(sizeof(*ifa))); RTA_OK(rta, left);
	    left -= RTA_ALIGN(rta->rta_len) < left ? RTA_ALIGN(rta->rta_len) :
	    left, rta = skip(rta, RTA_ALIGN(rta->rta_len))) {
		if (rta->rta_type == IFA_LOCAL)
			local = rta;
		else if (rta->rta_type == IFA_ADDRESS)
			addr = rta;
	}
	/* IFA_LOCAL is the interface's own where a peer is set. */
	if (local == NULL)
		local = addr;
	want = ifa->ifa_family == AF_INET6 ? 16 : 4;
	if (local == NULL || RTA_PAYLOAD(local) != want)
		return 0;
	memset(a, 0, sizeof(*a));
	a->family = ifa->ifa_family;
	memcpy(a->addr, RTA_DATA(local), want);
	return 1;
}

/* Answers of one RTM_GETADDR dump: the addresses, at most max.  1 at
 * its end, 0 for more to come, -1 with errno set. */
static int
addr_msgs(const void *buf, size_t len, struct ipaddr *out, unsigned max,
    unsigned *n, uint32_t seq)
{
	const struct nlmsghdr *h;

	for (h = buf; NLMSG_OK(h, len); len -= NLMSG_ALIGN(h->nlmsg_len) <
	    len ? NLMSG_ALIGN(h->nlmsg_len) : len,
	    h = skip(h, NLMSG_ALIGN(h->nlmsg_len))) {
		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			errno = EPROTO;
			return -1;
		}
		if (h->nlmsg_type == RTM_NEWADDR && *n < max &&
		    addr_msg(h, &out[*n]))
			(*n)++;
	}
	return 0;
}

int
ipaddr_list(int nl, struct ipaddr *out, unsigned max)
{
	static uint32_t seq;
	struct {
		struct nlmsghdr	h;
		struct ifaddrmsg ifa;
	} req;
	struct sockaddr_nl	 kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr	h;		/* aligned as a message */
		char		b[8192];
	}			 buf;
	ssize_t			 len;
	unsigned		 n = 0;
	int			 rc;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETADDR;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = ++seq;
	req.ifa.ifa_family = AF_UNSPEC;
	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
	    sizeof(kernel)) == -1)
		return -1;
	for (;;) {
		len = recv(nl, &buf, sizeof(buf), 0);
		if (len == -1 && errno == EINTR)
			continue;
		if (len == -1)
			return -1;
		if (len == 0) {
			errno = EPROTO;
			return -1;
		}
		if ((rc = addr_msgs(&buf, (size_t)len, out, max, &n,
		    req.h.nlmsg_seq)) == -1)
			return -1;
		if (rc == 1)
			return (int)n;
	}
}
