/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c: counters and their Prometheus text (see metrics.h), in the
 * text exposition format 0.0.4: "# HELP" and "# TYPE" per family,
 * counters named with "_total"; and, as a connection is counted closed,
 * ztunnel's access log line.
 */
#define LOG_TARGET "access"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ambient.h"
#include "log.h"
#include "metrics.h"
#include "text.h"
#include "util.h"
#include "version.h"
#include "zds.h"

#define WL_MAX	256

_Static_assert(METRICS_ZDS_TYPES == ZDS_KEEP + 1, "one counter per ZDS type");
_Static_assert(METRICS_WL_MAX >= 2 * WL_MAX, "namespace/name fits");

struct tcp_series {
	struct tcp_series	*next;
	int			 source_reporter;
	char			 src_ns[WL_MAX], src_name[WL_MAX];
	char			 dst_ns[WL_MAX], dst_name[WL_MAX];
	uint64_t		 opened;
	uint64_t		 closed[2], received[2], sent[2];
};

static struct {
	struct tcp_series	*series;
	unsigned		 nseries;
	struct tcp_series	 overflow[2];
	uint64_t		 handoffs[METRICS_HANDOFF_N];
	uint64_t		 zds[METRICS_ZDS_TYPES];
	uint64_t		 started, stopped;
	uint64_t		 dns[METRICS_DNS_N], dns_upstream;
	time_t			 start_time;
} m;

/* "ns/name" into its parts ("default" the namespace of a bare name);
 * nobody we know is "unknown". */
static void
split(const char *wl, char *ns, char *name)
{
	const char *n;

	if (wl == NULL || *wl == '\0') {
		snprintf(ns, WL_MAX, "%s", "unknown");
		snprintf(name, WL_MAX, "%s", "unknown");
		return;
	}
	text_workload_split(wl, ns, WL_MAX, &n);
	snprintf(name, WL_MAX, "%s", n);
}

struct tcp_series *
metrics_tcp_series(int source_reporter, const char *src, const char *dst)
{
	struct tcp_series	*s;
	char			 sns[WL_MAX], sn[WL_MAX], dns[WL_MAX], dn[WL_MAX];

	split(src, sns, sn);
	split(dst, dns, dn);
	for (s = m.series; s != NULL; s = s->next)
		if (s->source_reporter == source_reporter &&
		    strcmp(s->src_name, sn) == 0 && strcmp(s->src_ns, sns) == 0 &&
		    strcmp(s->dst_name, dn) == 0 && strcmp(s->dst_ns, dns) == 0)
			return s;
	if (m.nseries == METRICS_SERIES_MAX ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		s = &m.overflow[source_reporter != 0];
		if (s->src_name[0] == '\0') {
			s->source_reporter = source_reporter;
			snprintf(s->src_ns, WL_MAX, "%s", "overflow");
			snprintf(s->src_name, WL_MAX, "%s", "overflow");
			snprintf(s->dst_ns, WL_MAX, "%s", "overflow");
			snprintf(s->dst_name, WL_MAX, "%s", "overflow");
		}
		return s;
	}
	s->source_reporter = source_reporter;
	snprintf(s->src_ns, WL_MAX, "%s", sns);
	snprintf(s->src_name, WL_MAX, "%s", sn);
	snprintf(s->dst_ns, WL_MAX, "%s", dns);
	snprintf(s->dst_name, WL_MAX, "%s", dn);
	s->next = m.series;
	m.series = s;
	m.nseries++;
	return s;
}

void
metrics_tcp_opened(struct tcp_series *s)
{
	s->opened++;
}

/* A line of key=value fields, appended to in place; what does not fit
 * is cut (the log line has a limit of its own). */
struct fields {
	char	buf[1024];
	size_t	len;
};

static void	add(struct fields *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

static void
add(struct fields *f, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (f->len >= sizeof(f->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(f->buf + f->len, sizeof(f->buf) - f->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		f->len += (size_t)n < sizeof(f->buf) - f->len ? (size_t)n :
		    sizeof(f->buf) - 1 - f->len;
}

/* ' src.workload="web" src.namespace="shop"', or nothing for a
 * workload we do not know (or lost in the overflow set). */
static void
add_workload(struct fields *f, const char *side, const char *ns,
    const char *name)
{
	if (strcmp(name, "unknown") == 0 || strcmp(name, "overflow") == 0)
		return;
	add(f, " %s.workload=\"%s\" %s.namespace=\"%s\"", side, name, side,
	    ns);
}

void
metrics_tcp_closed(struct tcp_series *s, const struct tcp_end *e)
{
	struct fields		f = { .len = 0 };
	union sockip		tunnel;
	char			src[SOCKIP_STRLEN], dst[SOCKIP_STRLEN];
	char			target[SOCKIP_STRLEN];

	s->closed[e->flags]++;
	s->received[e->flags] += e->received;
	s->sent[e->flags] += e->sent;
	if (log_getlevel() < LOG_LEVEL_INFO)
		return;

	/* Through a tunnel, an outbound connection went to the peer's
	 * 15008, and the app's own target rides as dst.hbone_addr. */
	sockip_str(e->src, src, sizeof(src));
	sockip_str(e->dst, target, sizeof(target));
	tunnel = *e->dst;
	if (e->hbone && s->source_reporter)
		sockip_set_port(&tunnel, ZT_PORT_HBONE);
	sockip_str(&tunnel, dst, sizeof(dst));

	f.buf[0] = '\0';
	add(&f, "src.addr=%s", src);
	add_workload(&f, "src", s->src_ns, s->src_name);
	add(&f, " dst.addr=%s", dst);
	if (e->hbone)
		add(&f, " dst.hbone_addr=%s", target);
	add_workload(&f, "dst", s->dst_ns, s->dst_name);
	add(&f, " direction=\"%s\" bytes_sent=%ju bytes_recv=%ju "
	    "duration=\"%jums\"", s->source_reporter ? "outbound" : "inbound",
	    (uintmax_t)e->received, (uintmax_t)e->sent,
	    (uintmax_t)e->duration_ms);
	if (e->error != NULL)
		add(&f, " error=\"%s\"", e->error);
	log_event(LOG_LEVEL_INFO, "connection complete", "%s", f.buf);
}

static void
series_state(const struct tcp_series *s, struct metrics_series_state *st)
{
	memset(st, 0, sizeof(*st));
	st->source_reporter = s->source_reporter;
	snprintf(st->src, sizeof(st->src), "%s/%s", s->src_ns, s->src_name);
	snprintf(st->dst, sizeof(st->dst), "%s/%s", s->dst_ns, s->dst_name);
	st->opened = s->opened;
	memcpy(st->closed, s->closed, sizeof(st->closed));
	memcpy(st->received, s->received, sizeof(st->received));
	memcpy(st->sent, s->sent, sizeof(st->sent));
}

void
metrics_each_series(metrics_series_fn *fn, void *arg)
{
	struct metrics_series_state	 st;
	const struct tcp_series		*s;
	int				 i;

	for (s = m.series; s != NULL; s = s->next) {
		series_state(s, &st);
		fn(arg, &st);
	}
	for (i = 0; i < 2; i++)
		if (m.overflow[i].src_name[0] != '\0') {
			series_state(&m.overflow[i], &st);
			fn(arg, &st);
		}
}

void
metrics_add_series(const struct metrics_series_state *st)
{
	struct tcp_series	*s;
	int			 i;

	s = metrics_tcp_series(st->source_reporter, st->src, st->dst);
	s->opened += st->opened;
	for (i = 0; i < 2; i++) {
		s->closed[i] += st->closed[i];
		s->received[i] += st->received[i];
		s->sent[i] += st->sent[i];
	}
}

void
metrics_series_id(const struct tcp_series *s, int *source_reporter,
    char *src, size_t srclen, char *dst, size_t dstlen)
{
	*source_reporter = s->source_reporter;
	snprintf(src, srclen, "%s/%s", s->src_ns, s->src_name);
	snprintf(dst, dstlen, "%s/%s", s->dst_ns, s->dst_name);
}

void
metrics_get_totals(struct metrics_totals *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->handoffs, m.handoffs, sizeof(t->handoffs));
	memcpy(t->zds, m.zds, sizeof(t->zds));
	t->started = m.started;
	t->stopped = m.stopped;
}

void
metrics_add_totals(const struct metrics_totals *t)
{
	int i;

	for (i = 0; i < METRICS_HANDOFF_N; i++)
		m.handoffs[i] += t->handoffs[i];
	for (i = 0; i < METRICS_ZDS_TYPES; i++)
		m.zds[i] += t->zds[i];
	m.started += t->started;
	m.stopped += t->stopped;
}

void
metrics_handoff(enum metrics_handoff h)
{
	m.handoffs[h]++;
}

void
metrics_dns(enum metrics_dns r)
{
	m.dns[r]++;
}

void
metrics_dns_upstream(void)
{
	m.dns_upstream++;
}

void
metrics_zds_message(int type)
{
	if (type >= 0 && type <= ZDS_KEEP)
		m.zds[type]++;
}

void
metrics_proxy_started(void)
{
	m.started++;
}

void
metrics_proxy_stopped(void)
{
	m.stopped++;
}

/* --- the text --------------------------------------------------------- */

/* Text exposition 0.0.4: a counter's family is named with its _total. */
static void
family(struct strbuf *o, const char *name, const char *type, const char *help)
{
	const char *suffix = strcmp(type, "counter") == 0 ? "_total" : "";

	strbuf_printf(o, "# HELP %s%s %s.\n# TYPE %s%s %s\n", name, suffix, help, name,
	    suffix, type);
}

static const char *const flag_names[2] = { "-", "CONNECT" };

/* key="value", the value escaped as the text format wants (backslash,
 * double quote, newline): names come from ZDS, netns names and
 * --peers, and none of them may break a line of /metrics. */
static void
label(struct strbuf *o, const char *key, const char *v)
{
	size_t n;

	strbuf_printf(o, "%s=\"", key);
	while (*v != '\0') {
		n = strcspn(v, "\\\"\n");
		strbuf_printf(o, "%.*s", (int)n, v);
		v += n;
		if (*v != '\0') {
			strbuf_printf(o, "\\%c", *v == '\n' ? 'n' : *v);
			v++;
		}
	}
	strbuf_printf(o, "\",");
}

static void
tcp_labels(struct strbuf *o, const struct tcp_series *s, int f)
{
	strbuf_printf(o, "{reporter=\"%s\",",
	    s->source_reporter ? "source" : "destination");
	label(o, "source_workload", s->src_name);
	label(o, "source_workload_namespace", s->src_ns);
	label(o, "destination_workload", s->dst_name);
	label(o, "destination_workload_namespace", s->dst_ns);
	strbuf_printf(o, "request_protocol=\"tcp\",response_flags=\"%s\","
	    "connection_security_policy=\"unknown\"}", flag_names[f]);
}

static uint64_t
value(const struct tcp_series *s, int what, int f)
{
	switch (what) {
	case 0:
		return f == 0 ? s->opened : 0;
	case 1:
		return s->closed[f];
	case 2:
		return s->sent[f];
	default:
		return s->received[f];
	}
}

static void
tcp_one(struct strbuf *o, const char *name, const struct tcp_series *s,
    int what)
{
	int f;

	for (f = 0; f < 2; f++) {
		if (value(s, what, f) == 0 && !(f == 0 && what == 0))
			continue;
		strbuf_printf(o, "%s_total", name);
		tcp_labels(o, s, f);
		strbuf_printf(o, " %ju\n", (uintmax_t)value(s, what, f));
	}
}

static void
tcp_family(struct strbuf *o, const char *name, const char *help, int what)
{
	const struct tcp_series	*s;
	int			 i;

	family(o, name, "counter", help);
	for (s = m.series; s != NULL; s = s->next)
		tcp_one(o, name, s, what);
	for (i = 0; i < 2; i++)
		if (m.overflow[i].src_name[0] != '\0')
			tcp_one(o, name, &m.overflow[i], what);
}

static void
pod_sockets(struct strbuf *o, const struct metrics_pod *p)
{
	static const char *const states[4] = { "established", "close_wait",
	    "fin_wait", "other" };
	unsigned	n[4] = { p->sockets.established, p->sockets.close_wait,
	    p->sockets.fin_wait, p->sockets.other };
	int		i;

	for (i = 0; i < 4; i++) {
		strbuf_printf(o, "ztunnel_emulator_pod_sockets{");
		label(o, "workload", p->name);
		label(o, "workload_namespace", p->ns[0] != '\0' ? p->ns :
		    "unknown");
		strbuf_printf(o, "state=\"%s\"} %u\n", states[i], n[i]);
	}
}

static unsigned
open_fds(void)
{
	struct dirent	*de;
	DIR		*d;
	unsigned	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0;	/* not the one reading the list */
}

static unsigned long
rss_bytes(void)
{
	unsigned long	size, rss = 0;
	FILE		*f;

	if ((f = fopen("/proc/self/statm", "re")) == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (unsigned long)sysconf(_SC_PAGESIZE);
}

char *
metrics_write(size_t *len, const struct metrics_gauges *g)
{
	static const char *const handoff_names[METRICS_HANDOFF_N] = {
	    "listening", "pending", "refused" };
	static const char *const dns_names[METRICS_DNS_N] = { "success",
	    "unsupported_type", "forwarded", "forwarding_failed",
	    "unknown_source", "malformed" };
	static const enum zds_req_type zds_types[4] = { ZDS_ADD, ZDS_DEL,
	    ZDS_SNAPSHOT_SENT, ZDS_KEEP };
	struct strbuf	o = { NULL, 0, 0, 0 };
	size_t		j;
	uint64_t	dns;
	int		i;

	if (m.start_time == 0)
		m.start_time = time(NULL);
	tcp_family(&o, "istio_tcp_connections_opened", "The total number "
	    "of TCP connections opened", 0);
	tcp_family(&o, "istio_tcp_connections_closed", "The total number "
	    "of TCP connections closed", 1);
	tcp_family(&o, "istio_tcp_sent_bytes", "The size of total bytes "
	    "sent during response in case of a TCP connection", 2);
	tcp_family(&o, "istio_tcp_received_bytes", "The size of total bytes "
	    "received during request in case of a TCP connection", 3);
	family(&o, "workload_manager_active_proxy_count", "gauge",
	    "The number of workloads whose proxy is up");
	strbuf_printf(&o, "workload_manager_active_proxy_count %u\n",
	    g->active);
	family(&o, "workload_manager_pending_proxy_count", "gauge",
	    "The number of workloads whose proxy is pending");
	strbuf_printf(&o, "workload_manager_pending_proxy_count %u\n",
	    g->pending);
	family(&o, "workload_manager_proxies_started", "counter",
	    "The total number of proxies that were started");
	strbuf_printf(&o, "workload_manager_proxies_started_total %ju\n",
	    (uintmax_t)m.started);
	family(&o, "workload_manager_proxies_stopped", "counter",
	    "The total number of proxies that were stopped");
	strbuf_printf(&o, "workload_manager_proxies_stopped_total %ju\n",
	    (uintmax_t)m.stopped);
	family(&o, "ztunnel_emulator_hbone_connections", "gauge",
	    "HBONE (HTTP/2) connections open, by direction");
	strbuf_printf(&o, "ztunnel_emulator_hbone_connections{direction="
	    "\"outbound\"} %u\n", g->hbone_out);
	strbuf_printf(&o, "ztunnel_emulator_hbone_connections{direction="
	    "\"inbound\"} %u\n", g->hbone_in);
	family(&o, "ztunnel_emulator_hbone_streams", "gauge",
	    "HBONE streams (tunnels) open, both directions");
	strbuf_printf(&o, "ztunnel_emulator_hbone_streams %u\n",
	    g->hbone_streams);
	family(&o, "ztunnel_emulator_pod_sockets", "gauge",
	    "A pod's proxied TCP sockets (both ends, plain and HBONE) by "
	    "state: half-open ones (close_wait, fin_wait) that grow are a leak");
	for (j = 0; j < g->npods; j++)
		pod_sockets(&o, &g->pods[j]);
	family(&o, "istio_build", "gauge", "Istio component build info");
	strbuf_printf(&o, "istio_build{component=\"ztunnel-emulator\",tag=\"%s\"} 1\n",
	    VERSION);
	family(&o, "ztunnel_emulator_handoffs", "counter",
	    "Namespace handoffs, by result");
	for (i = 0; i < METRICS_HANDOFF_N; i++)
		strbuf_printf(&o, "ztunnel_emulator_handoffs_total{result=\"%s\"} %ju\n",
		    handoff_names[i], (uintmax_t)m.handoffs[i]);
	family(&o, "ztunnel_emulator_zds_messages", "counter",
	    "ZDS requests received, by type");
	for (i = 0; i < 4; i++)
		strbuf_printf(&o, "ztunnel_emulator_zds_messages_total{type=\"%s\"} %ju\n",
		    zds_type_name(zds_types[i]), (uintmax_t)m.zds[zds_types[i]]);
	family(&o, "istio_dns_requests", "counter", "Total number of DNS "
	    "requests");
	for (i = 0, dns = 0; i < METRICS_DNS_N; i++)
		dns += m.dns[i];
	strbuf_printf(&o, "istio_dns_requests_total %ju\n", (uintmax_t)dns);
	family(&o, "istio_dns_upstream_requests", "counter", "Total number "
	    "of DNS requests forwarded to upstream");
	strbuf_printf(&o, "istio_dns_upstream_requests_total %ju\n",
	    (uintmax_t)m.dns_upstream);
	family(&o, "istio_dns_upstream_failures", "counter", "Total number "
	    "of DNS requests that failed upstream");
	strbuf_printf(&o, "istio_dns_upstream_failures_total %ju\n",
	    (uintmax_t)m.dns[METRICS_DNS_FORWARD_FAILED]);
	family(&o, "ztunnel_emulator_dns_queries", "counter",
	    "DNS queries to 15053, by how they ended");
	for (i = 0; i < METRICS_DNS_N; i++)
		strbuf_printf(&o, "ztunnel_emulator_dns_queries_total{result=\"%s\"} %ju\n",
		    dns_names[i], (uintmax_t)m.dns[i]);
	family(&o, "process_open_fds", "gauge", "Number of open file "
	    "descriptors");
	strbuf_printf(&o, "process_open_fds %u\n", open_fds());
	family(&o, "process_resident_memory_bytes", "gauge", "Resident "
	    "memory size in bytes");
	strbuf_printf(&o, "process_resident_memory_bytes %lu\n", rss_bytes());
	family(&o, "process_start_time_seconds", "gauge", "Start time of the "
	    "process since unix epoch in seconds");
	strbuf_printf(&o, "process_start_time_seconds %jd\n", (intmax_t)m.start_time);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
