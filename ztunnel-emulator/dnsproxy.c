/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dnsproxy.c: ztunnel's DNS proxy on 15053, one per pod (dnsproxy.h).
 *
 * A query comes in over UDP (a datagram) or TCP (a client connection,
 * two-byte lengths).  It is answered here if it asks A or AAAA for a
 * name we know, else forwarded: one socket per query, made inside the
 * pod and marked, connected to the upstream (so only the upstream can
 * answer it), retried over TCP if the answer comes back truncated.
 * Every query is charged to the loop's quantum; a pod has at most
 * DNSP_INFLIGHT_MAX forwarded queries and DNSP_CONNS_MAX TCP clients.
 */
#define LOG_TARGET "dns"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "ambient.h"
#include "dnsproxy.h"
#include "ev.h"
#include "log.h"
#include "metrics.h"
#include "netns.h"
#include "podsock.h"
#include "util.h"

#define QUERY_MAX	4096	/* a query bigger than this is not one */
#define QUERY_COST	2048	/* loop units a query costs beyond its bytes */
#define UDP_BATCH	32	/* datagrams per wake-up */
#define TCP_BATCH	8	/* queries per TCP client per wake-up */
#define ADDRS_MAX	16	/* addresses in one answer */
#define ALIASES_MAX	8

struct dnsset;
struct dnsconn;

/* One of a pod's four sockets. */
struct dsock {
	struct ev_io	 io;
	struct dnsset	*set;
	int		 tcp;
};

/* Where a query came from, and so where its answer goes. */
struct origin {
	struct dsock		*sock;		/* UDP: the socket it came to */
	struct sockaddr_storage	 sa;		/* UDP: the client */
	socklen_t		 salen;
	struct dnsconn		*conn;		/* TCP: the client */
};

/* A query forwarded upstream, until its answer or its deadline. */
struct fwd {
	LIST_ENTRY(fwd)		 entry;
	struct dnsset		*set;
	struct origin		 from;
	struct dns_query	 q;
	uint8_t			*msg;		/* two-byte length, then the query */
	size_t			 len;		/* the query's, without the two */
	struct ev_io		 io;		/* to the upstream */
	struct ev_timer		 timer;
	unsigned		 upstream;	/* conf.upstreams[] */
	int			 tcp;		/* asking over TCP now */
	size_t			 sent;		/* TCP: bytes of msg */
	uint8_t			*ans;		/* TCP: the answer so far */
	size_t			 have;
	struct ev_deferred	 dead;
};

/* A TCP client: one query at a time, in order. */
struct dnsconn {
	LIST_ENTRY(dnsconn)	 entry;
	struct dnsset		*set;
	struct ev_io		 io;
	struct ev_timer		 idle;
	int			 placed;	/* from the pod (from_pod()) */
	struct fwd		*busy;		/* its query upstream now */
	int			 eof;		/* it sent all it will */
	uint8_t			 in[2 + QUERY_MAX];
	size_t			 inlen;
	uint8_t			*out;		/* answers not yet written */
	size_t			 outlen, outoff;
	struct ev_deferred	 dead;
};

struct dnsset {
	struct dsock		 s[DNSP_NFDS];
	struct pod_ref		*owner;
	struct ipaddr		 addrs[DNSP_ADDRS_MAX];	/* the pod's */
	unsigned		 naddrs;
	LIST_HEAD(, fwd)	 fwds;
	unsigned		 nfwd;
	LIST_HEAD(, dnsconn)	 conns;
	unsigned		 nconns;
	struct ev_deferred	 dead;
};

static struct dnsproxy_conf	 conf;
static dnsproxy_lookup_fn	*lookup;
static int			 on;
static uint8_t			 rbuf[DNS_TCP_MAX];	/* one datagram at a time */

void
dnsproxy_init(const struct dnsproxy_conf *c, dnsproxy_lookup_fn *fn)
{
	on = c != NULL;
	if (c != NULL)
		conf = *c;
	lookup = fn;
}

int
dnsproxy_on(void)
{
	return on;
}

int
dnsproxy_parse_upstream(const char *s, union sockip *sa)
{
	return sockip_parse(s, 53, sa);
}

int
dnsproxy_read_resolv(const char *path, struct dnsproxy_conf *c, char *err,
    size_t errlen)
{
	FILE	*f;
	char	 line[512], addr[128];

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	c->nupstreams = 0;
	err[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "nameserver %127s", addr) != 1)
			continue;
		if (c->nupstreams == DNSP_UPSTREAMS_MAX)
			break;
		/* "ADDR:PORT" is no resolv.conf syntax: a bare address. */
		if (strchr(addr, ':') != NULL ||
		    dnsproxy_parse_upstream(addr,
		    &c->upstreams[c->nupstreams]) == -1) {
			snprintf(err, errlen, "nameserver %s skipped: not an "
			    "address we can reach from a pod", addr);
			continue;
		}
		c->nupstreams++;
	}
	fclose(f);
	if (c->nupstreams == 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s names no nameserver", path);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* --- the sockets ------------------------------------------------------ */

static int
open_sock(int family, int type, const char **what)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	const struct sockaddr	*sa;
	socklen_t		len;
	int			fd, one = 1, mark = ZT_MARK, err;

	*what = "socket";
	if ((fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (family == AF_INET6) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(DNSP_PORT);
		sin6.sin6_addr = in6addr_loopback;
		sa = (const struct sockaddr *)&sin6;
		len = sizeof(sin6);
	} else {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(DNSP_PORT);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa = (const struct sockaddr *)&sin;
		len = sizeof(sin);
	}
	/* As the other listeners: a second instance binds beside us during
	 * an upgrade; every socket of ztunnel's carries its mark. */
	*what = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1 ||
	    (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &one, sizeof(one)) == -1))
		goto fail;
	*what = "bind";
	if (bind(fd, sa, len) == -1)
		goto fail;
	*what = "listen";
	if (type == SOCK_STREAM && listen(fd, 128) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int
dnsproxy_bind(int fds[DNSP_NFDS], int *v6, const char **what)
{
	static const int types[DNSP_NFDS] = { SOCK_DGRAM, SOCK_STREAM,
	    SOCK_DGRAM, SOCK_STREAM };
	int i, err;

	for (i = 0; i < DNSP_NFDS; i++)
		fds[i] = -1;
	*v6 = 1;
	for (i = 0; i < DNSP_NFDS; i++) {
		fds[i] = open_sock(i < 2 ? AF_INET : AF_INET6, types[i], what);
		if (fds[i] != -1)
			continue;
		/* No IPv6 on the pod's lo (istio/istio#52487 made ztunnel
		 * stop at this): serve IPv4 alone. */
		if (i == 2 && (errno == EADDRNOTAVAIL ||
		    errno == EAFNOSUPPORT)) {
			*v6 = 0;
			break;
		}
		err = errno;
		while (i-- > 0)
			close(fds[i]);
		fds[0] = fds[1] = -1;
		errno = err;
		return -1;
	}
	return 0;
}

static void	sock_ready(void *, uint32_t);
static void	conn_close(struct dnsconn *);
static void	fwd_free(struct fwd *);

struct dnsset *
dnsproxy_serve(int fds[DNSP_NFDS], struct pod_ref *owner,
    const struct ipaddr *addrs, unsigned naddrs)
{
	struct dnsset	*set;
	int		 i, err;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		goto fail;
	set->owner = owner;
	set->naddrs = naddrs < DNSP_ADDRS_MAX ? naddrs : DNSP_ADDRS_MAX;
	if (addrs != NULL)	/* none read: NULL */
		memcpy(set->addrs, addrs, set->naddrs * sizeof(*addrs));
	LIST_INIT(&set->fwds);
	LIST_INIT(&set->conns);
	for (i = 0; i < DNSP_NFDS; i++) {
		set->s[i].io.fd = -1;
		set->s[i].set = set;
		set->s[i].tcp = i % 2;
	}
	for (i = 0; i < DNSP_NFDS; i++) {
		if (fds[i] == -1)
			continue;
		if (ev_io_add(&set->s[i].io, fds[i], EPOLLIN, sock_ready,
		    &set->s[i]) == -1)
			goto fail;
		fds[i] = -1;
	}
	return set;
fail:
	err = errno;
	for (i = 0; i < DNSP_NFDS; i++)
		if (fds[i] != -1)
			close(fds[i]);
	dnsproxy_close(set);
	errno = err;
	return NULL;
}

void
dnsproxy_close(struct dnsset *set)
{
	int i;

	if (set == NULL)
		return;
	while (!LIST_EMPTY(&set->fwds))
		fwd_free(LIST_FIRST(&set->fwds));
	while (!LIST_EMPTY(&set->conns))
		conn_close(LIST_FIRST(&set->conns));
	for (i = 0; i < DNSP_NFDS; i++)
		ev_io_close(&set->s[i].io);
	ev_defer_free(&set->dead, free, set);
}

/* --- answering --------------------------------------------------------- */

static const char *
type_name(uint16_t t)
{
	static char buf[16];

	switch (t) {
	case DNS_TYPE_A:	return "A";
	case DNS_TYPE_AAAA:	return "AAAA";
	case 5:			return "CNAME";
	case 12:		return "PTR";
	case 15:		return "MX";
	case 16:		return "TXT";
	case 33:		return "SRV";
	default:
		snprintf(buf, sizeof(buf), "TYPE%u", t);
		return buf;
	}
}

/* ztunnel's access log line for a query (at -v). */
static void
access_log(const struct dnsset *set, const struct dns_query *q,
    const char *result, unsigned endpoints)
{
	log_kv(LOG_TARGET, LOG_LEVEL_DEBUG, "dns request", "src.workload=%s "
	    "src.namespace=%s query=%s domain=%s. result=\"%s\" endpoints=%u",
	    set->owner->name, set->owner->ns[0] != '\0' ? set->owner->ns :
	    "default", type_name(q->qtype), q->name, result, endpoints);
}

static void	conn_send(struct dnsconn *, const uint8_t *, size_t);

static void
reply(struct origin *o, const uint8_t *msg, size_t len)
{
	if (o->conn != NULL) {
		conn_send(o->conn, msg, len);
		return;
	}
	if (sendto(o->sock->io.fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (const struct sockaddr *)&o->sa, o->salen) == -1)
		log_debug("sendto a DNS client: %s", strerror(errno));
}

/* The most a UDP client takes (EDNS, else 512); TCP: everything. */
static size_t
answer_max(const struct origin *o, const struct dns_query *q)
{
	if (o->conn != NULL)
		return DNS_TCP_MAX;
	return q->udp_size > DNS_UDP_MAX ? q->udp_size : DNS_UDP_MAX;
}

/* Answer q with rcode and addrs (AA: ours to say). */
static void
answer(struct origin *o, const struct dns_query *q, const uint8_t *msg,
    int rcode, const struct ipaddr *addrs, size_t n, int authoritative)
{
	uint8_t	out[DNS_UDP_MAX * 8];
	size_t	max = answer_max(o, q);
	ssize_t	len;

	if (max > sizeof(out))
		max = sizeof(out);
	if ((len = dns_answer(q, msg, rcode, addrs, n, DNSP_TTL, out,
	    max)) == -1)
		return;
	if (authoritative)
		out[2] |= 0x04;		/* AA */
	reply(o, out, (size_t)len);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && s[ls - lx - 1] == '.' &&
	    strcmp(s + ls - lx, suffix) == 0;
}

static unsigned
labels(const char *s)
{
	unsigned n = 1;

	for (; *s != '\0'; s++)
		n += *s == '.';
	return n;
}

static void
add_alias(char out[][DNS_TEXT_MAX + 1], unsigned *n, const char *a,
    const char *b)
{
	if (*n < ALIASES_MAX && (size_t)snprintf(out[*n], DNS_TEXT_MAX + 1,
	    "%s%s%s", a, b[0] != '\0' ? "." : "", b) <= DNS_TEXT_MAX)
		(*n)++;
}

/*
 * The names a query may mean, as ztunnel expands them for a client in
 * namespace ns: the name itself; a short name with the search domains
 * (<svc> in the client's namespace, <svc>.<ns>, <svc>.<ns>.svc); and
 * the same for a name a resolver already suffixed with one of them.
 */
static unsigned
aliases(const char *name, const char *ns, char out[][DNS_TEXT_MAX + 1])
{
	char		 nsdom[2 * DNS_TEXT_MAX + 8], svcdom[DNS_TEXT_MAX + 8];
	char		 base[DNS_TEXT_MAX + 1];
	const char	*search[3];
	unsigned	 n = 0, i, k;

	snprintf(nsdom, sizeof(nsdom), "%s.svc.%s", ns, conf.domain);
	snprintf(svcdom, sizeof(svcdom), "svc.%s", conf.domain);
	search[0] = nsdom;
	search[1] = svcdom;
	search[2] = conf.domain;
	add_alias(out, &n, name, "");
	for (i = 0; i < 4; i++) {
		/* i 0: as asked; 1..3: with search domain i-1 taken off. */
		if (i == 0)
			snprintf(base, sizeof(base), "%s", name);
		else if (ends_with(name, search[i - 1]))
			snprintf(base, sizeof(base), "%.*s",
			    (int)(strlen(name) - strlen(search[i - 1]) - 1),
			    name);
		else
			continue;
		k = labels(base);
		if (i != 0)
			add_alias(out, &n, base, "");
		if (k == 1)
			add_alias(out, &n, base, nsdom);
		else if (k == 2)
			add_alias(out, &n, base, svcdom);
		else if (k == 3 && ends_with(base, "svc"))
			add_alias(out, &n, base, conf.domain);
	}
	return n;
}

/* name as <name>.<ns>.svc.<domain>: the workload's addresses, or -1. */
static int
find(const char *fqdn, struct ipaddr *addrs, size_t max)
{
	char		 name[DNS_TEXT_MAX + 1], *ns, *dot;
	char		 suffix[DNS_TEXT_MAX + 8];
	size_t		 len;

	snprintf(suffix, sizeof(suffix), "svc.%s", conf.domain);
	if (!ends_with(fqdn, suffix) || lookup == NULL)
		return -1;
	len = strlen(fqdn) - strlen(suffix) - 1;
	snprintf(name, sizeof(name), "%.*s", (int)len, fqdn);
	if ((dot = strchr(name, '.')) == NULL || strchr(dot + 1, '.') != NULL)
		return -1;
	*dot = '\0';
	ns = dot + 1;
	return lookup(name, ns, addrs, max);
}

/* A client at sa: the pod's own address (or loopback), else unplaced. */
static int
from_pod(const struct dnsset *set, const struct sockaddr_storage *sa)
{
	union sockip	 a;
	struct ipaddr	 ip;
	unsigned	 i;

	if (sa->ss_family != AF_INET && sa->ss_family != AF_INET6)
		return 0;
	memset(&a, 0, sizeof(a));
	memcpy(&a, sa, sa->ss_family == AF_INET6 ? sizeof(a.v6) :
	    sizeof(a.v4));
	sockip_canon(&a);
	if (sockip_loopback(&a))
		return 1;
	sockip_ip(&a, &ip);
	for (i = 0; i < set->naddrs; i++)
		if (ipaddr_eq(&set->addrs[i], &ip))
			return 1;
	return 0;
}

static int
placed(const struct dnsset *set, const struct origin *o)
{
	return o->conn != NULL ? o->conn->placed : from_pod(set, &o->sa);
}

static void	forward(struct dnsset *, struct origin *,
		    const struct dns_query *, const uint8_t *, size_t);

/* One query, whole, from o. */
static void
query(struct dnsset *set, struct origin *o, const uint8_t *msg, size_t len)
{
	char		 alias[ALIASES_MAX][DNS_TEXT_MAX + 1];
	struct dns_query q;
	enum dns_parse	 pr;
	struct ipaddr	 addrs[ADDRS_MAX];
	const char	*why;
	uint8_t		 err[DNS_HEADER_LEN];
	ssize_t		 n;
	unsigned	 i, na, fam = 0;
	int		 found = -1, k;

	ev_spend(len + QUERY_COST);
	switch ((pr = dns_parse_query(msg, len, &q, &why))) {
	case DNS_DROP:
		log_debug("%s: dropped a DNS message: %s", set->owner->label, why);
		return;
	case DNS_FORMERR:
	case DNS_NOTIMP:
		log_debug("%s: refused a DNS query: %s", set->owner->label, why);
		metrics_dns(METRICS_DNS_MALFORMED);
		if ((n = dns_error(msg, len, pr == DNS_NOTIMP ?
		    DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR, err,
		    sizeof(err))) > 0)
			reply(o, err, (size_t)n);
		return;
	case DNS_OK:
		break;
	}
	if (!placed(set, o)) {
		access_log(set, &q, "unknown source", 0);
		metrics_dns(METRICS_DNS_UNKNOWN_SOURCE);
		answer(o, &q, msg, DNS_RCODE_SERVFAIL, NULL, 0, 0);
		return;
	}
	if (q.qclass != DNS_CLASS_IN || (q.qtype != DNS_TYPE_A &&
	    q.qtype != DNS_TYPE_AAAA)) {
		forward(set, o, &q, msg, len);
		return;
	}
	na = aliases(q.name, set->owner->ns[0] != '\0' ? set->owner->ns :
	    "default", alias);
	for (i = 0; i < na && found == -1; i++)
		found = find(alias[i], addrs, ADDRS_MAX);
	if (found == -1) {
		forward(set, o, &q, msg, len);
		return;
	}
	for (k = 0; k < found; k++)
		fam += addrs[k].family == (q.qtype == DNS_TYPE_A ? AF_INET :
		    AF_INET6);
	if (found > 0 && fam == 0) {
		/* Known, but not of this family: no records, no NXDOMAIN. */
		access_log(set, &q, "service does not support this record "
		    "type", 0);
		metrics_dns(METRICS_DNS_UNSUPPORTED);
	} else {
		access_log(set, &q, fam > 0 ? "success" : "no records", fam);
		metrics_dns(METRICS_DNS_SUCCESS);
	}
	answer(o, &q, msg, DNS_RCODE_NOERROR, addrs, (size_t)found, 1);
}

/* --- forwarding -------------------------------------------------------- */

static void	fwd_io(void *, uint32_t);
static void	fwd_timeout(void *);
static void	fwd_fail(struct fwd *, const char *why);
static void	conn_resume(struct dnsconn *);
static void	conn_want(struct dnsconn *);

/* Ask upstream f->upstream over UDP, from inside the pod. */
static int
fwd_udp(struct fwd *f)
{
	const union sockip *to = &conf.upstreams[f->upstream];
	int s, mark = ZT_MARK, err;

	s = netns_socket(f->set->owner->nsfd, to->sa.sa_family,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1 && errno == ENOTRECOVERABLE)
		fatal("cannot return to our own network namespace");
	if (s == -1)
		return -1;
	/* Marked: the pod's rules let it out, in conntrack zone 1, and do
	 * not send it back to us. */
	if (setsockopt(s, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1 ||
	    connect(s, &to->sa, sockip_len(to)) == -1 ||
	    send(s, f->msg + 2, f->len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 ||
	    ev_io_add(&f->io, s, EPOLLIN, fwd_io, f) == -1) {
		err = errno;
		close(s);
		errno = err;
		return -1;
	}
	return 0;
}

/* The answer was truncated: ask the same upstream over TCP. */
static int
fwd_tcp(struct fwd *f)
{
	int s;

	ev_io_close(&f->io);
	f->tcp = 1;
	f->sent = 0;
	f->have = 0;
	if (f->ans == NULL && (f->ans = malloc(2 + DNS_TCP_MAX)) == NULL)
		return -1;
	if ((s = podsock_connect(f->set->owner, NULL,
	    &conf.upstreams[f->upstream])) == -1)
		return -1;
	if (ev_io_add(&f->io, s, EPOLLOUT, fwd_io, f) == -1) {
		close(s);
		return -1;
	}
	return 0;
}

static void
forward(struct dnsset *set, struct origin *o, const struct dns_query *q,
    const uint8_t *msg, size_t len)
{
	struct fwd *f;

	if (conf.nupstreams == 0 || set->owner->nsfd == -1 ||
	    set->nfwd >= DNSP_INFLIGHT_MAX || (f = calloc(1, sizeof(*f))) ==
	    NULL) {
		access_log(set, q, conf.nupstreams == 0 ?
		    "forwarding failed (no upstream)" :
		    "forwarding failed (too many queries in flight)", 0);
		metrics_dns(METRICS_DNS_FORWARD_FAILED);
		answer(o, q, msg, DNS_RCODE_SERVFAIL, NULL, 0, 0);
		return;
	}
	f->io.fd = -1;
	f->set = set;
	f->from = *o;
	f->q = *q;
	f->len = len;
	if ((f->msg = malloc(len + 2)) == NULL) {
		free(f);
		answer(o, q, msg, DNS_RCODE_SERVFAIL, NULL, 0, 0);
		return;
	}
	f->msg[0] = (uint8_t)(len >> 8);
	f->msg[1] = (uint8_t)len;
	memcpy(f->msg + 2, msg, len);
	LIST_INSERT_HEAD(&set->fwds, f, entry);
	set->nfwd++;
	if (o->conn != NULL) {
		o->conn->busy = f;
		conn_want(o->conn);
	}
	ev_timer_init(&f->timer, fwd_timeout, f);
	ev_timer_at(&f->timer, monotonic_ms() + DNSP_TIMEOUT_MS);
	metrics_dns_upstream();
	while (fwd_udp(f) == -1) {
		if (++f->upstream == conf.nupstreams) {
			fwd_fail(f, strerror(errno));
			return;
		}
	}
}

/* The upstream's answer, checked: to the client, as it came. */
static void
fwd_done(struct fwd *f, const uint8_t *ans, size_t len,
    const struct dns_response *r)
{
	if (len > answer_max(&f->from, &f->q)) {
		/* Too big for the UDP client: TC, and it asks over TCP. */
		uint8_t	out[DNS_UDP_MAX];
		ssize_t	n = dns_answer(&f->q, f->msg + 2, (int)r->rcode, NULL,
		    0, 0, out, sizeof(out));

		if (n > 0) {
			out[2] |= 0x02;		/* TC */
			reply(&f->from, out, (size_t)n);
		}
	} else
		reply(&f->from, ans, len);
	access_log(f->set, &f->q, "forwarded", r->answers);
	metrics_dns(METRICS_DNS_FORWARDED);
	fwd_free(f);
}

static void
fwd_fail(struct fwd *f, const char *why)
{
	char result[160];

	snprintf(result, sizeof(result), "forwarding failed (%s)", why);
	access_log(f->set, &f->q, result, 0);
	metrics_dns(METRICS_DNS_FORWARD_FAILED);
	answer(&f->from, &f->q, f->msg + 2, DNS_RCODE_SERVFAIL, NULL, 0, 0);
	fwd_free(f);
}

static void
fwd_timeout(void *arg)
{
	fwd_fail(arg, "timed out");
}

/* This upstream failed: the next one, in the time left, else SERVFAIL. */
static void
fwd_next(struct fwd *f, const char *why)
{
	ev_io_close(&f->io);
	f->tcp = 0;
	while (++f->upstream < conf.nupstreams)
		if (fwd_udp(f) == 0)
			return;
	fwd_fail(f, why);
}

static void
fwd_io(void *arg, uint32_t events)
{
	struct fwd		*f = arg;
	struct dns_response	 r;
	const char		*why;
	ssize_t			 n, m;
	int			 soerr = 0;
	socklen_t		 sl = sizeof(soerr);

	if (!f->tcp) {
		n = recv(f->io.fd, rbuf, sizeof(rbuf), 0);
		if (n == -1) {
			if (errno != EAGAIN)
				fwd_next(f, strerror(errno));
			return;
		}
		ev_spend((size_t)n);
		if (dns_check_response(rbuf, (size_t)n, f->msg + 2, f->q.qlen,
		    &r, &why) == -1) {
			log_debug("%s: upstream answer dropped: %s",
			    f->set->owner->label, why);
			return;
		}
		if (r.truncated && fwd_tcp(f) == 0)
			return;
		fwd_done(f, rbuf, (size_t)n, &r);
		return;
	}
	if (events & (EPOLLERR | EPOLLHUP) && f->sent == 0) {
		(void)getsockopt(f->io.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		fwd_next(f, strerror(soerr != 0 ? soerr : ECONNRESET));
		return;
	}
	if (f->sent < f->len + 2) {
		n = send(f->io.fd, f->msg + f->sent, f->len + 2 - f->sent,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno != EAGAIN)
				fwd_next(f, strerror(errno));
			return;
		}
		if ((f->sent += (size_t)n) == f->len + 2)
			(void)ev_io_mod(&f->io, EPOLLIN);
		return;
	}
	n = recv(f->io.fd, f->ans + f->have, 2 + DNS_TCP_MAX - f->have, 0);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		fwd_next(f, n == 0 ? "upstream closed the connection" :
		    strerror(errno));
		return;
	}
	ev_spend((size_t)n);
	f->have += (size_t)n;
	if ((m = dns_tcp_message(f->ans, f->have)) == 0)
		return;
	if (m == -1 || dns_check_response(f->ans + 2, (size_t)m, f->msg + 2,
	    f->q.qlen, &r, &why) == -1) {
		fwd_next(f, m == -1 ? "an empty answer" : why);
		return;
	}
	fwd_done(f, f->ans + 2, (size_t)m, &r);
}

static void
fwd_free(struct fwd *f)
{
	struct dnsconn *c = f->from.conn;

	LIST_REMOVE(f, entry);
	f->set->nfwd--;
	ev_io_close(&f->io);
	ev_timer_stop(&f->timer);
	free(f->msg);
	free(f->ans);
	f->msg = f->ans = NULL;
	ev_defer_free(&f->dead, free, f);
	if (c != NULL) {
		c->busy = NULL;
		conn_resume(c);
	}
}

/* --- the sockets' events ------------------------------------------------ */

static void	conn_io(void *, uint32_t);
static void	conn_idle(void *);

static void
accept_some(struct dsock *s)
{
	struct dnsset	*set = s->set;
	struct dnsconn	*c;
	struct sockaddr_storage peer;
	socklen_t	 len;
	int		 fd, n;

	for (n = 0; n < UDP_BATCH && !ev_exhausted(); n++) {
		/* Where it comes from, once for all its queries. */
		len = sizeof(peer);
		memset(&peer, 0, sizeof(peer));
		if ((fd = ev_accept_peer(s->io.fd, NULL,
		    (struct sockaddr *)&peer, &len)) == -1) {
			if (errno != EAGAIN && errno != EMFILE)
				log_warn("accept on %s:%u", set->owner->label,
				    DNSP_PORT);
			return;
		}
		ev_spend(QUERY_COST);
		if (set->nconns >= DNSP_CONNS_MAX ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			log_debug("%s: DNS client refused: %u open",
			    set->owner->label, set->nconns);
			close(fd);
			continue;
		}
		c->set = set;
		c->io.fd = -1;
		c->placed = from_pod(set, &peer);
		if (ev_io_add(&c->io, fd, EPOLLIN, conn_io, c) == -1) {
			close(fd);
			free(c);
			continue;
		}
		ev_timer_init(&c->idle, conn_idle, c);
		ev_timer_at(&c->idle, monotonic_ms() + DNSP_TIMEOUT_MS);
		LIST_INSERT_HEAD(&set->conns, c, entry);
		set->nconns++;
	}
	ev_io_again(&s->io, EPOLLIN);
}

static void
sock_ready(void *arg, uint32_t events)
{
	struct dsock	*s = arg;
	struct origin	 o;
	ssize_t		 n;
	int		 i;

	(void)events;
	if (s->tcp) {
		accept_some(s);
		return;
	}
	for (i = 0; i < UDP_BATCH; i++) {
		if (ev_exhausted()) {
			ev_io_again(&s->io, EPOLLIN);
			return;
		}
		memset(&o, 0, sizeof(o));
		o.sock = s;
		o.salen = sizeof(o.sa);
		n = recvfrom(s->io.fd, rbuf, QUERY_MAX + 1, MSG_TRUNC,
		    (struct sockaddr *)&o.sa, &o.salen);
		if (n == -1) {
			if (errno != EAGAIN)
				log_debug("recvfrom on %s:%u: %s",
				    s->set->owner->label, DNSP_PORT,
				    strerror(errno));
			return;
		}
		if (n > QUERY_MAX) {
			ev_spend(QUERY_COST);
			continue;	/* no query is that long */
		}
		query(s->set, &o, rbuf, (size_t)n);
	}
	ev_io_again(&s->io, EPOLLIN);
}

static void
conn_close(struct dnsconn *c)
{
	LIST_REMOVE(c, entry);
	c->set->nconns--;
	if (c->busy != NULL) {
		c->busy->from.conn = NULL;
		fwd_free(c->busy);
	}
	ev_io_close(&c->io);
	ev_timer_stop(&c->idle);
	free(c->out);
	c->out = NULL;
	ev_defer_free(&c->dead, free, c);
}

static void
conn_idle(void *arg)
{
	struct dnsconn *c = arg;

	if (c->busy != NULL) {	/* its query has a deadline of its own */
		ev_timer_at(&c->idle, monotonic_ms() + DNSP_TIMEOUT_MS);
		return;
	}
	conn_close(c);
}

/* Queue a length-prefixed answer; written as the socket takes it. */
static void
conn_send(struct dnsconn *c, const uint8_t *msg, size_t len)
{
	uint8_t *out;

	if ((out = realloc(c->out, c->outlen + len + 2)) == NULL) {
		conn_close(c);
		return;
	}
	c->out = out;
	out[c->outlen] = (uint8_t)(len >> 8);
	out[c->outlen + 1] = (uint8_t)len;
	memcpy(out + c->outlen + 2, msg, len);
	c->outlen += len + 2;
	conn_want(c);
}

/* What c waits for: its answers written, else its next query (none
 * while one is upstream: one at a time, in order). */
static void
conn_want(struct dnsconn *c)
{
	uint32_t ev = 0;

	if (c->outoff < c->outlen)
		ev = EPOLLOUT;
	else if (c->busy == NULL && !c->eof)
		ev = EPOLLIN;
	(void)ev_io_mod(&c->io, ev);
}

/* Its query is answered: the next, maybe already here. */
static void
conn_resume(struct dnsconn *c)
{
	conn_want(c);
	if (c->inlen > 0 || c->eof)
		ev_io_again(&c->io, EPOLLIN);
}

static void
conn_io(void *arg, uint32_t events)
{
	struct dnsconn	*c = arg;
	struct origin	 o;
	ssize_t		 n, m;
	int		 k;

	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);		/* gone: nobody to answer */
		return;
	}
	if (c->outoff < c->outlen) {
		n = send(c->io.fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN) {
			conn_close(c);
			return;
		}
		if (n > 0)
			c->outoff += (size_t)n;
		if (c->outoff < c->outlen)
			return;
		c->outoff = c->outlen = 0;
	}
	if (c->busy != NULL) {
		conn_want(c);
		return;
	}
	ev_timer_at(&c->idle, monotonic_ms() + DNSP_TIMEOUT_MS);
	if ((events & EPOLLIN) && !c->eof && c->inlen < sizeof(c->in)) {
		n = recv(c->io.fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
		    0);
		if (n == -1 && errno != EAGAIN) {
			conn_close(c);
			return;
		}
		if (n == 0)
			c->eof = 1;	/* answer what came, then close */
		if (n > 0) {
			ev_spend((size_t)n);
			c->inlen += (size_t)n;
		}
	}
	for (k = 0; k < TCP_BATCH && c->busy == NULL && c->outlen == 0; k++) {
		if ((m = dns_tcp_message(c->in, c->inlen)) == -1 ||
		    (m == 0 && (c->eof || c->inlen == sizeof(c->in)))) {
			/* Empty, bigger than any query, or cut short by the
			 * client's end: nothing more to answer. */
			conn_close(c);
			return;
		}
		if (m == 0)
			break;
		memset(&o, 0, sizeof(o));
		o.conn = c;
		query(c->set, &o, c->in + 2, (size_t)m);
		/* query() may have closed c (an answer it could not queue):
		 * it is then on the deferred list, not yet freed. */
		if (c->io.fd == -1)
			return;
		memmove(c->in, c->in + 2 + m, c->inlen - 2 - (size_t)m);
		c->inlen -= 2 + (size_t)m;
	}
	conn_want(c);
	if (k == TCP_BATCH && c->busy == NULL && c->outlen == 0)
		ev_io_again(&c->io, EPOLLIN);
}
