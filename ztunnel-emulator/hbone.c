/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hbone.c: the daemon's side of HBONE (see hbone.h).
 *
 * Inbound, a pod's 15008 is an HTTP/2 server: each CONNECT names
 * "podIP:port"; we answer 400 if that is not this pod, 503 for one of
 * our own ports or an app that refuses or does not answer in 10 s, and
 * 200 once the app has accepted a connection we made inside the pod from
 * the client's own address, as for 15006.
 *
 * Outbound, a pod's captured connection to a mesh pod becomes a CONNECT
 * stream: the pool holds the pod's connections to each destination's
 * 15008, made inside the pod with the ztunnel mark, up to 100 streams
 * each; past that, another connection, up to HBONE_POOL_MAX per
 * destination (past that, the app's connection is turned away).  One
 * unused for the idle time is closed, and one whose peer allows no
 * stream as soon as it has none (h2conn).  Every stream carries forwarded and traceparent, and baggage
 * when ZDS told us the pod's namespace and name.
 */
#define LOG_TARGET "hbone"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "ambient.h"
#include "ev.h"
#include "h2conn.h"
#include "hbone.h"
#include "mesh.h"
#include "log.h"
#include "metrics.h"
#include "podsock.h"
#include "util.h"

struct hconn {
	LIST_ENTRY(hconn)	 entry;
	struct h2conn		*h;
	struct pod_ref		*pod;
	enum h2_role		 role;
	union sockip		 local;		/* server: where it came in */
	union sockip		 peer;		/* the other end */
	char			 label[64];
};

struct htun {
	struct pod_ref		*pod;
	enum h2_role		 role;		/* server: inbound */
	struct tcp_series	*series;
	union sockip		 src, dst;
	uint64_t		 start_ms;
};

static LIST_HEAD(, hconn)	 conns = LIST_HEAD_INITIALIZER(conns);
static uint64_t			 idle_ms = HBONE_IDLE_MS;
static unsigned			 nconns;
static int			 draining;	/* shutting down: nothing new */

static int	on_request(void *, const struct h2_request *, void **,
		    struct h2_answer *);
static void	on_bytes(void *, int, size_t);
static void	on_tun_end(void *, const struct h2tun_end *);
static void	on_malformed(void *, uint32_t, const char *);
static void	on_conn_end(void *, struct h2conn *, const struct h2conn_end *);

static const struct h2conn_ops ops = {
	on_request, on_malformed, on_bytes, on_tun_end, on_conn_end,
};

void
hbone_init(uint64_t idle, uint64_t half_close_ms)
{
	idle_ms = idle;
	h2conn_set_half_close(half_close_ms);
}

/* A connection of the pod's, in either role; fd is ours.  local: where
 * a server's came in (NULL for a client). */
static struct hconn *
hconn_new(struct pod_ref *pod, enum h2_role role, int fd,
    const union sockip *local, const union sockip *peer)
{
	struct hconn	*hc;
	char		 a[SOCKIP_STRLEN];

	if ((hc = calloc(1, sizeof(*hc))) == NULL) {
		close(fd);
		return NULL;
	}
	hc->pod = pod;
	hc->role = role;
	if (local != NULL)
		hc->local = *local;
	hc->peer = *peer;
	sockip_str(peer, a, sizeof(a));
	snprintf(hc->label, sizeof(hc->label), "%s%s%s", pod->label,
	    role == H2_SERVER ? " <- " : " -> ", a);
	if ((hc->h = h2conn_new(fd, role, &ops, hc)) == NULL) {
		free(hc);
		return NULL;
	}
	LIST_INSERT_HEAD(&conns, hc, entry);
	nconns++;
	return hc;
}

static struct htun *
htun_new(struct pod_ref *pod, enum h2_role role, const union sockip *src,
    const union sockip *dst, struct tcp_series *series)
{
	struct htun *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->pod = pod;
	t->role = role;
	t->src = *src;
	t->dst = *dst;
	t->series = series;
	t->start_ms = monotonic_ms();
	metrics_tcp_opened(series);
	pod->conns->nopen++;
	pod->conns->total++;
	return t;
}

/* ---- inbound ---------------------------------------------------------- */

void
hbone_accept(struct pod_ref *pod, int c, const union sockip *from)
{
	union sockip	local, peer = *from;
	socklen_t	llen = sizeof(local);

	if (draining) {
		close(c);
		return;
	}
	memset(&local, 0, sizeof(local));
	if (getsockname(c, &local.sa, &llen) == -1 ||
	    (local.sa.sa_family != AF_INET && local.sa.sa_family != AF_INET6)) {
		log_debug("%s: not an IP connection", pod->label);
		close(c);
		return;
	}
	/* An IPv4 client of a [::] listener, as IPv4. */
	sockip_canon(&local);
	sockip_canon(&peer);
	if (hconn_new(pod, H2_SERVER, c, &local, &peer) == NULL)
		log_warn("%s: connection", pod->label);
}

/* A request that fails early: logged, not counted (as ztunnel's
 * log_early_deny). */
static int
deny(const struct hconn *hc, const struct h2_request *r, int code,
    const char *why, int *status)
{
	log_debug("%s: CONNECT %s: %d, %s", hc->label, r->authority,
	    code, why);
	*status = code;
	return -1;
}

/* What ZDS told us of a pod, as W3C baggage, and nothing we would make
 * up: "" for a pod it did not name (or one too long to say whole). */
static void
pod_baggage(const struct pod_ref *pod, char *buf, size_t size)
{
	int n;

	buf[0] = '\0';
	if (!pod->baggage)
		return;
	n = snprintf(buf, size, "k8s.namespace.name=%s,k8s.pod.name=%s",
	    pod->ns, pod->name);
	if (n < 0 || (size_t)n >= size)
		buf[0] = '\0';
}

/* dst is the pod hc came into: the address it came to, or another of
 * the pod's (its IPv4 one through a tunnel over IPv6). */
static int
this_pod(const struct hconn *hc, const union sockip *dst)
{
	const char *wl;

	if (sockip_same_ip(dst, &hc->local))
		return 1;
	wl = mesh_workload(dst, NULL);
	return wl != NULL && strcmp(wl, hc->pod->label) == 0;
}

static int
on_request(void *carg, const struct h2_request *r, void **targ,
    struct h2_answer *a)
{
	struct hconn		*hc = carg;
	union sockip		 dst;
	struct htun		*t;
	int			 s, *status = &a->status;

	if (strcmp(r->method, "CONNECT") != 0)
		return deny(hc, r, 400, "not CONNECT", status);
	/* "a.b.c.d:port" or "[v6]:port", as ztunnel's authority. */
	if (sockip_parse(r->authority, 0, &dst) == -1)
		return deny(hc, r, 400, "authority not ADDRESS:PORT", status);
	if (!this_pod(hc, &dst))
		return deny(hc, r, 400, "authority is not this pod", status);
	if (podsock_own_port(sockip_port(&dst)))
		return deny(hc, r, 503, "one of ztunnel's own ports", status);
	/* To the app from the client's own address, as for 15006 (unless
	 * the client is this pod: a hairpin). */
	s = podsock_connect(hc->pod, sockip_same_ip(&hc->peer, &dst) ? NULL :
	    &hc->peer, &dst);
	if (s == -1)
		return deny(hc, r, 503, strerror(errno), status);
	t = htun_new(hc->pod, H2_SERVER, &hc->peer, &dst,
	    metrics_tcp_series(0, mesh_workload(&hc->peer, NULL),
	    hc->pod->label));
	if (t == NULL) {
		close(s);
		return deny(hc, r, 503, "out of memory", status);
	}
	log_debug("%s: CONNECT %s forwarded=%s traceparent=%s",
	    hc->label, r->authority, r->forwarded[0] ? r->forwarded : "-",
	    r->traceparent[0] ? r->traceparent : "-");
	pod_baggage(hc->pod, a->baggage, sizeof(a->baggage));
	*targ = t;
	return s;
}

/* ---- outbound --------------------------------------------------------- */

/* A pooled connection from pod to dst's 15008 that takes one more
 * stream, or a new one. */
static struct hconn *
pool_get(struct pod_ref *pod, const union sockip *dst)
{
	struct hconn		*hc;
	union sockip		 to = *dst;
	unsigned		 n = 0;
	int			 s;

	LIST_FOREACH(hc, &conns, entry) {
		if (hc->role != H2_CLIENT || hc->pod != pod ||
		    !sockip_same_ip(&hc->peer, dst))
			continue;
		if (h2conn_can_open(hc->h))
			return hc;
		n++;
	}
	/* A peer that takes few streams (or none) must not make us open a
	 * connection per app connection. */
	if (n >= HBONE_POOL_MAX) {
		errno = EBUSY;
		return NULL;
	}
	sockip_set_port(&to, ZT_PORT_HBONE);
	if ((s = podsock_connect(pod, NULL, &to)) == -1)
		return NULL;
	if ((hc = hconn_new(pod, H2_CLIENT, s, NULL, &to)) == NULL)
		return NULL;
	h2conn_set_idle(hc->h, idle_ms);
	log_debug("%s: new connection", hc->label);
	return hc;
}

/* W3C trace context: version 00, random ids, not sampled. */
static int
traceparent(char *buf, size_t size)
{
	uint8_t	r[24];
	char	hex[49];
	int	i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < 24; i++)
		snprintf(hex + (ptrdiff_t)2 * i, 3, "%02x", r[i]);
	snprintf(buf, size, "00-%.32s-%.16s-00", hex, hex + 32);
	return 0;
}

void
hbone_outbound(struct pod_ref *pod, int c, const union sockip *src,
    const union sockip *dst, const char *dst_workload)
{
	struct hconn	*hc;
	struct htun	*t;
	char		 authority[SOCKIP_STRLEN], client[SOCKIP_STRLEN];
	char		 fwd[SOCKIP_STRLEN + 8], trace[64];
	char		 baggage[512];
	const char	*hdrs[6];
	size_t		 n = 0;

	if (draining || (hc = pool_get(pod, dst)) == NULL) {
		log_debug("%s: no connection: %s", pod->label,
		    draining ? "shutting down" : errno == EBUSY ? "the pool "
		    "to this destination is full" : strerror(errno));
		close(c);
		return;
	}
	sockip_str(dst, authority, sizeof(authority));
	sockip_str(src, client, sizeof(client));
	snprintf(fwd, sizeof(fwd), "for=\"%s\"", client);
	hdrs[n++] = "forwarded";
	hdrs[n++] = fwd;
	if (traceparent(trace, sizeof(trace)) == 0) {
		hdrs[n++] = "traceparent";
		hdrs[n++] = trace;
	}
	pod_baggage(pod, baggage, sizeof(baggage));
	if (baggage[0] != '\0') {
		hdrs[n++] = "baggage";
		hdrs[n++] = baggage;
	}
	t = htun_new(pod, H2_CLIENT, src, dst,
	    metrics_tcp_series(1, pod->label, dst_workload));
	if (t == NULL) {
		close(c);
		return;
	}
	if (h2conn_tunnel(hc->h, c, authority, hdrs, n / 2, t) == NULL) {
		struct h2tun_end e = { 0, 0, 0, 0, "no stream" };

		on_tun_end(t, &e);
	}
}

/* ---- ends ------------------------------------------------------------- */

/* The pod's byte counts move as the bytes do (--list); in is what the
 * app's client sent: the socket's side outbound, the stream's inbound. */
static void
on_bytes(void *targ, int received, size_t n)
{
	struct htun *t = targ;

	if ((t->role == H2_CLIENT) == !received)
		t->pod->conns->bytes_in += n;
	else
		t->pod->conns->bytes_out += n;
}

static void
on_tun_end(void *targ, const struct h2tun_end *e)
{
	struct htun	*t = targ;
	struct tcp_end	 end;
	uint64_t	 in, out;

	in = t->role == H2_CLIENT ? e->sent : e->received;
	out = t->role == H2_CLIENT ? e->received : e->sent;
	t->pod->conns->nopen--;
	end = (struct tcp_end){
		.flags = e->established ? METRICS_FLAGS_NONE :
		    METRICS_FLAGS_CONNECT,
		.received = in,
		.sent = out,
		.src = &t->src,
		.dst = &t->dst,
		.hbone = 1,
		.duration_ms = monotonic_ms() - t->start_ms,
		.error = strcmp(e->why, "closed") == 0 ? NULL : e->why,
	};
	metrics_tcp_closed(t->series, &end);
	free(t);
}

static void
on_malformed(void *carg, uint32_t stream, const char *why)
{
	struct hconn *hc = carg;

	log_debug("%s: stream %u: malformed request: %s", hc->label,
	    stream, why);
}

/* An error is the news: ours (a peer that broke the rules) at info, as
 * a peer's GOAWAY with an error; a clean end at debug. */
static void
on_conn_end(void *carg, struct h2conn *h, const struct h2conn_end *e)
{
	struct hconn *hc = carg;

	(void)h;
	if (e->peer_error > 0)
		log_info("%s: the peer's GOAWAY: error %d", hc->label,
		    e->peer_error);
	if (e->error != H2_NO_ERROR)
		log_info("%s: connection error %d: %s", hc->label,
		    e->error, e->why);
	else
		log_debug("%s: connection closed: %s", hc->label, e->why);
	LIST_REMOVE(hc, entry);
	nconns--;
	free(hc);
}

void
hbone_pod_gone(const struct pod_ref *pod, const char *why)
{
	struct hconn *hc, *next;

	/* Closing one may close no other, but it frees itself. */
	for (hc = LIST_FIRST(&conns); hc != NULL; hc = next) {
		next = LIST_NEXT(hc, entry);
		if (hc->pod == pod)
			h2conn_close(hc->h, H2_NO_ERROR, why);
	}
}

unsigned
hbone_drain(void)
{
	struct hconn *hc, *next;

	draining = 1;
	/* Those without streams close at once (and free themselves). */
	for (hc = LIST_FIRST(&conns); hc != NULL; hc = next) {
		next = LIST_NEXT(hc, entry);
		h2conn_drain(hc->h);
	}
	return nconns;
}

unsigned
hbone_count(void)
{
	return nconns;
}

void
hbone_done(void)
{
	struct hconn *hc;

	while ((hc = LIST_FIRST(&conns)) != NULL)
		h2conn_close(hc->h, H2_NO_ERROR, "shutting down");
	h2conn_reap();
}

struct each {
	const struct hconn	*hc;
	conn_view_fn		*fn;
	void			*arg;
};

/* A tunnel as ztunnel lists it: inbound from the client to the app it
 * asked for; outbound from the app to the peer's 15008, for where the
 * app asked to go. */
static void
each_tunnel(void *arg, void *targ)
{
	struct each		*e = arg;
	const struct htun	*t = targ;
	struct conn_view	 v;

	if (t == NULL)
		return;
	memset(&v, 0, sizeof(v));
	v.hbone = 1;
	v.inbound = t->role == H2_SERVER;
	v.src = t->src;
	if (v.inbound)
		v.actual_dst = t->dst;
	else {
		v.original_dst = t->dst;
		v.actual_dst = e->hc->peer;
	}
	e->fn(e->arg, &v);
}

void
hbone_each(const struct pod_ref *pod, conn_view_fn *fn, void *arg)
{
	const struct hconn	*hc;
	struct each		 e = { NULL, fn, arg };

	LIST_FOREACH(hc, &conns, entry)
		if (hc->pod == pod) {
			e.hc = hc;
			h2conn_each(hc->h, each_tunnel, &e);
		}
}

void
hbone_sock_states(const struct pod_ref *pod, struct sock_states *s)
{
	const struct hconn *hc;

	LIST_FOREACH(hc, &conns, entry)
		if (hc->pod == pod)
			h2conn_sock_states(hc->h, s);
}

void
hbone_counts(unsigned *client, unsigned *server, unsigned *streams)
{
	const struct hconn *hc;

	*client = *server = *streams = 0;
	LIST_FOREACH(hc, &conns, entry) {
		if (hc->role == H2_CLIENT)
			(*client)++;
		else
			(*server)++;
		*streams += h2conn_streams(hc->h);
	}
}
