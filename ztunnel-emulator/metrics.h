/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_METRICS_H
#define ZT_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "ipaddr.h"
#include "util.h"

/*
 * The daemon's counters, in Prometheus text exposition (metrics_write),
 * with ztunnel's names where they apply.  Connections are counted per
 * label set (reporter, source and destination workload): at most
 * METRICS_SERIES_MAX sets; past that, workloads show as "overflow".
 */

#define METRICS_SERIES_MAX	1024

struct tcp_series;

enum metrics_flags {
	METRICS_FLAGS_NONE,	/* "-" */
	METRICS_FLAGS_CONNECT,	/* "CONNECT": the upstream never answered */
};

/* The set for these labels ("namespace/name" or a bare name; NULL or ""
 * for unknown); never NULL. */
struct tcp_series *metrics_tcp_series(int source_reporter,
		    const char *src_workload, const char *dst_workload);
void		metrics_tcp_opened(struct tcp_series *);

/*
 * How a connection ended, for the counters and for the access log line
 * ztunnel writes at info (target "access"):
 *
 *   connection complete	src.addr=10.244.0.11:40022 src.workload="web"
 *   src.namespace="shop" dst.addr=10.244.0.12:15008
 *   dst.hbone_addr=10.244.0.12:8080 dst.workload="db" dst.namespace="shop"
 *   direction="outbound" bytes_sent=5 bytes_recv=12 duration="3ms"
 *
 * (one line; workloads only where known, error="..." when it did not end
 * in a clean close).
 */
struct tcp_end {
	enum metrics_flags	 flags;
	uint64_t		 received;	/* from the source */
	uint64_t		 sent;		/* to the source */
	const union sockip	*src;	/* the connection as the app made it */
	const union sockip	*dst;
	int			 hbone;		/* carried in an HBONE tunnel */
	uint64_t		 duration_ms;
	const char		*error;		/* NULL: a clean close */
};
void		metrics_tcp_closed(struct tcp_series *, const struct tcp_end *);

/*
 * Handing the counters over to another instance (handover.h): every
 * series with its counts, then the totals; the receiver adds them to its
 * own.  A series' labels ("namespace/name" each) name it for a
 * connection that moves.
 */
#define METRICS_WL_MAX	512
struct metrics_series_state {
	int		 source_reporter;
	char		 src[METRICS_WL_MAX];	/* "namespace/name" */
	char		 dst[METRICS_WL_MAX];
	uint64_t	 opened;
	uint64_t	 closed[2], received[2], sent[2];	/* by flags */
};
typedef void	metrics_series_fn(void *arg,
		    const struct metrics_series_state *);
void		metrics_each_series(metrics_series_fn *, void *arg);
void		metrics_add_series(const struct metrics_series_state *);
void		metrics_series_id(const struct tcp_series *,
		    int *source_reporter, char *src, size_t srclen, char *dst,
		    size_t dstlen);

enum metrics_handoff {
	METRICS_HANDOFF_LISTENING,
	METRICS_HANDOFF_PENDING,
	METRICS_HANDOFF_REFUSED,
	METRICS_HANDOFF_N,
};
void		metrics_handoff(enum metrics_handoff);

/* The DNS proxy's queries, by how each ended (dnsproxy.h). */
enum metrics_dns {
	METRICS_DNS_SUCCESS,		/* answered here */
	METRICS_DNS_UNSUPPORTED,	/* known, not of the type asked */
	METRICS_DNS_FORWARDED,
	METRICS_DNS_FORWARD_FAILED,	/* SERVFAIL */
	METRICS_DNS_UNKNOWN_SOURCE,	/* SERVFAIL */
	METRICS_DNS_MALFORMED,		/* FORMERR, NOTIMP */
	METRICS_DNS_N,
};
void		metrics_dns(enum metrics_dns);
/* A query sent upstream (its result is counted as it ends). */
void		metrics_dns_upstream(void);

/* The counters that are not per series, for a handover. */
#define METRICS_ZDS_TYPES	6	/* zds.h's request types, 0..ZDS_KEEP */
struct metrics_totals {
	uint64_t	 handoffs[METRICS_HANDOFF_N];
	uint64_t	 zds[METRICS_ZDS_TYPES];
	uint64_t	 started, stopped;
};
void		metrics_get_totals(struct metrics_totals *);
void		metrics_add_totals(const struct metrics_totals *);
void		metrics_zds_message(int type);	/* zds.h's zds_req_type */
void		metrics_proxy_started(void);
void		metrics_proxy_stopped(void);

/* A pod's proxied sockets by TCP state. */
struct metrics_pod {
	const char		*ns;	/* "" if unknown */
	const char		*name;
	struct sock_states	 sockets;
};

/* The gauges the caller knows. */
struct metrics_gauges {
	unsigned	active;		/* pods listening */
	unsigned	pending;	/* pods pending */
	unsigned	hbone_out;	/* HBONE connections, client side */
	unsigned	hbone_in;	/* HBONE connections, server side */
	unsigned	hbone_streams;	/* open tunnels, both sides */
	const struct metrics_pod *pods;	/* npods of them */
	size_t		npods;
};

/* Everything, with the caller's gauges.  A malloc()ed text, its length
 * in *len; NULL if out of memory. */
char	       *metrics_write(size_t *len, const struct metrics_gauges *);

#endif
