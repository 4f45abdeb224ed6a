/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.c: config dump, metrics and readiness over HTTP (see admin.h),
 * with ztunnel's paths, status codes and shapes where they apply.
 */
#define LOG_TARGET "admin"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "admin.h"
#include "ev.h"
#include "hbone.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "listen.h"
#include "podjson.h"
#include "pods.h"
#include "util.h"
#include "zdsclient.h"

static struct {
	struct httpd	*admin, *metrics, *ready;
	char		 node[256];	/* NODE_NAME, else the hostname */
	const char	*flags[ADMIN_N];	/* for a handover */
	const char	*given[ADMIN_N];
} ad;

static void
respond(struct httpd_resp *r, struct strbuf *t, const char *type)
{
	if (t->failed) {
		free(t->buf);
		httpd_printf(r, 500, "text/plain", "out of memory\n");
		return;
	}
	r->status = 200;
	r->type = type;
	r->body = t->buf;
	r->len = t->len;
}

/* --- /config_dump ------------------------------------------------------ */

/*
 * In the shape istioctl reads (istioctl ztunnel-config workloads,
 * connections and all --file: DATAPATH.md 8.3): workloads, services,
 * policies, certificates (the last three empty: no control plane), and
 * workloadState per pod uid with its live connections.  What is ours
 * only sits under "emulator" (each pod's facts, as --list --json has
 * them) and "zds", which istioctl ignores.
 */

static const char *trust_domain = "cluster.local";

static void
json_addr(struct strbuf *t, const union sockip *sa)
{
	char a[SOCKIP_STRLEN];

	if (sa->sa.sa_family == 0) {
		strbuf_printf(t, "null");
		return;
	}
	sockip_str(sa, a, sizeof(a));
	strbuf_json(t, a);
}

struct conns_json {
	struct strbuf	*t;
	int		 inbound;	/* which list is being written */
	int		 n;
};

static void
conn_json(void *arg, const struct conn_view *c)
{
	struct conns_json *cj = arg;

	if (c->inbound != cj->inbound)
		return;
	strbuf_printf(cj->t, "%s\n          {\"src\": ", cj->n++ ? "," : "");
	json_addr(cj->t, &c->src);
	strbuf_printf(cj->t, ", \"originalDst\": ");
	json_addr(cj->t, &c->original_dst);
	strbuf_printf(cj->t, ", \"actualDst\": ");
	json_addr(cj->t, &c->actual_dst);
	strbuf_printf(cj->t, ", \"protocol\": \"%s\"}", c->hbone ? "HBONE" :
	    "TCP");
}

static void
workload_json(struct strbuf *t, const struct pod_view *v)
{
	char		ip[INET6_ADDRSTRLEN];
	unsigned	i;

	strbuf_printf(t, "\n    {\n      \"uid\": ");
	strbuf_json(t, v->key);
	strbuf_printf(t, ",\n      \"workloadIps\": [");
	for (i = 0; i < v->naddrs; i++)
		strbuf_printf(t, "%s\"%s\"", i ? ", " : "",
		    ipaddr_str(&v->addrs[i], ip, sizeof(ip)));
	/* With --proxy, pod-to-pod traffic is HBONE, as in the mesh. */
	strbuf_printf(t, "],\n      \"protocol\": \"%s\",\n      \"name\": ",
	    listen_proxy() ? "HBONE" : "TCP");
	strbuf_json(t, v->name);
	strbuf_printf(t, ",\n      \"namespace\": ");
	strbuf_json(t, v->ns);
	strbuf_printf(t, ",\n      \"serviceAccount\": ");
	strbuf_json(t, v->service_account);
	strbuf_printf(t, ",\n      \"workloadName\": ");
	strbuf_json(t, v->name);
	strbuf_printf(t, ",\n      \"workloadType\": \"pod\",\n"
	    "      \"canonicalName\": ");
	strbuf_json(t, v->name);
	strbuf_printf(t, ",\n      \"canonicalRevision\": \"latest\",\n"
	    "      \"clusterId\": \"Kubernetes\",\n"
	    "      \"trustDomain\": \"%s\",\n      \"node\": ", trust_domain);
	strbuf_json(t, ad.node);
	strbuf_printf(t, ",\n      \"networkMode\": \"Standard\",\n"
	    "      \"status\": \"%s\",\n      \"hostname\": \"\",\n"
	    "      \"capacity\": 1\n    }", v->up ? "Healthy" : "Unhealthy");
}

static void
state_json(struct strbuf *t, const struct pod *p, const struct pod_view *v)
{
	struct conns_json cj = { t, 1, 0 };

	strbuf_printf(t, "\n    ");
	strbuf_json(t, v->key);
	strbuf_printf(t, ": {\n      \"state\": \"%s\",\n"
	    "      \"connections\": {\n        \"inbound\": [",
	    v->up ? "Up" : "Pending");
	pod_connections(p, conn_json, &cj);
	strbuf_printf(t, "%s],\n        \"outbound\": [", cj.n ? "\n        " :
	    "");
	cj.inbound = 0;
	cj.n = 0;
	pod_connections(p, conn_json, &cj);
	strbuf_printf(t, "%s]\n      },\n      \"info\": {\"name\": ",
	    cj.n ? "\n        " : "");
	strbuf_json(t, v->name);
	strbuf_printf(t, ", \"namespace\": ");
	strbuf_json(t, v->ns);
	strbuf_printf(t, ", \"trustDomain\": \"%s\", \"serviceAccount\": ",
	    trust_domain);
	strbuf_json(t, v->service_account);
	strbuf_printf(t, "},\n      \"emulator\": {");
	podjson_facts(t, v);
	strbuf_printf(t, "}\n    }");
}

static void
config_dump(struct httpd_resp *r)
{
	struct strbuf		 t = { NULL, 0, 0, 0 };
	const struct pod	*p;
	struct pod_view		 v;
	int			 on, connected, snap;

	strbuf_printf(&t, "{\n  \"workloads\": [");
	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		pod_view(p, &v, 0);
		if (p != pod_first())
			strbuf_printf(&t, ",");
		workload_json(&t, &v);
	}
	strbuf_printf(&t, "%s],\n  \"services\": [],\n  \"policies\": [],\n"
	    "  \"certificates\": [],\n  \"workloadState\": {",
	    pod_first() != NULL ? "\n  " : "");
	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		pod_view(p, &v, POD_VIEW_SOCKETS);
		if (p != pod_first())
			strbuf_printf(&t, ",");
		state_json(&t, p, &v);
	}
	zdsclient_status(&on, &connected, &snap);
	strbuf_printf(&t, "%s},\n  \"zds\": {\"enabled\": %s, \"connected\": %s, "
	    "\"snapshotReceived\": %s, \"pending\": %zu}\n}\n",
	    pod_first() != NULL ? "\n  " : "", on ? "true" : "false",
	    connected ? "true" : "false", snap ? "true" : "false",
	    pod_pending());
	respond(r, &t, "application/json");
}

/* --- the admin server --------------------------------------------------- */

static void
serve_admin(void *arg, const struct httpd_req *q, struct httpd_resp *r)
{
	enum log_level	lvl;

	(void)arg;
	if (strcmp(q->path, "/") == 0) {
		/* What is here, as ztunnel's admin lists it. */
		httpd_printf(r, 200, "text/plain", "ztunnel-emulator admin\n\n"
		    "/config_dump      pods, their state and live connections "
		    "(JSON, as istioctl ztunnel-config reads it)\n"
		    "/logging          POST: the log level "
		    "(?level=error|warn|info|debug)\n"
		    "/quitquitquit     POST: shut down, draining\n");
	} else if (strcmp(q->path, "/config_dump") == 0) {
		config_dump(r);
	} else if (strcmp(q->path, "/quitquitquit") == 0) {
		if (strcmp(q->method, "POST") != 0) {
			httpd_printf(r, 405, "text/plain", "Invalid HTTP "
			    "method\n usage: POST /quitquitquit\n");
			return;
		}
		log_info("/quitquitquit: shutting down");
		httpd_printf(r, 200, "text/plain", "shutdown now\n");
		ev_stop(0);
	} else if (strcmp(q->path, "/logging") == 0) {
		if (strcmp(q->method, "POST") != 0) {
			httpd_printf(r, 405, "text/plain", "Invalid HTTP "
			    "method\n usage: POST /logging?level=<error|"
			    "warn|info|debug>\n");
			return;
		}
		if (strncmp(q->query, "level=", 6) == 0) {
			if (log_level_parse(q->query + 6, &lvl) == -1) {
				httpd_printf(r, 400, "text/plain", "invalid "
				    "level %s (error, warn, info or debug)\n",
				    q->query + 6);
				return;
			}
			log_setlevel(lvl);
		}
		httpd_printf(r, 200, "text/plain", "current log level is %s\n",
		    log_level_name(log_getlevel()));
	} else {
		r->status = 404;
	}
}

static void
serve_metrics(void *arg, const struct httpd_req *q, struct httpd_resp *r)
{
	struct metrics_gauges	 g;
	struct metrics_pod	*mp = NULL;
	struct pod_view		*views = NULL;
	const struct pod	*p;
	size_t			 len, i, n = pod_count();
	char			*text;

	(void)arg;
	if (strcmp(q->path, "/metrics") != 0 &&
	    strcmp(q->path, "/stats/prometheus") != 0) {
		r->status = 404;
		return;
	}
	if (strcmp(q->method, "GET") != 0) {
		httpd_printf(r, 405, "text/plain", "GET only\n");
		return;
	}
	memset(&g, 0, sizeof(g));
	g.pending = (unsigned)pod_pending();
	g.active = (unsigned)pod_count() - g.pending;
	hbone_counts(&g.hbone_out, &g.hbone_in, &g.hbone_streams);
	if (n > 0 && ((views = calloc(n, sizeof(*views))) == NULL ||
	    (mp = calloc(n, sizeof(*mp))) == NULL)) {
		free(views);
		httpd_printf(r, 500, "text/plain", "out of memory\n");
		return;
	}
	for (p = pod_first(), i = 0; p != NULL && i < n && mp != NULL;
	    p = pod_next(p), i++) {
		pod_view(p, &views[i], POD_VIEW_SOCKETS);
		mp[i].ns = views[i].ns;
		mp[i].name = views[i].name;
		mp[i].sockets = views[i].sockets;
	}
	g.pods = mp;
	g.npods = i;
	text = metrics_write(&len, &g);
	free(mp);
	free(views);
	if (text == NULL) {
		httpd_printf(r, 500, "text/plain", "out of memory\n");
		return;
	}
	r->status = 200;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = text;
	r->len = len;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ztunnel's rule: ready once the snapshot is in and nothing is pending. */
static void
serve_ready(void *arg, const struct httpd_req *q, struct httpd_resp *r)
{
	struct strbuf		 t = { NULL, 0, 0, 0 };
	const struct pod	*p;
	struct pod_view		 v;
	const char		**why;
	size_t			 n = 0, i;
	int			 on, connected, snap;

	(void)arg;
	if (strcmp(q->path, "/healthz/ready") != 0) {
		r->status = 404;
		return;
	}
	if (strcmp(q->method, "GET") != 0) {
		httpd_printf(r, 405, "text/plain", "GET only\n");
		return;
	}
	if ((why = calloc(pod_pending() + 1, sizeof(*why))) == NULL) {
		httpd_printf(r, 500, "text/plain", "out of memory\n");
		return;
	}
	zdsclient_status(&on, &connected, &snap);
	if (on && !(connected && snap))
		why[n++] = "zds snapshot";
	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		pod_view(p, &v, 0);
		if (!v.up)
			why[n++] = v.label;
	}
	if (n == 0) {
		free(why);
		httpd_printf(r, 200, "text/plain", "ready\n");
		return;
	}
	qsort(why, n, sizeof(*why), cmp_str);
	strbuf_printf(&t, "not ready, pending: ");
	for (i = 0; i < n; i++)
		strbuf_printf(&t, "%s%s", i ? ", " : "", why[i]);
	strbuf_printf(&t, "\n");
	free(why);
	respond(r, &t, "text/plain");
	r->status = 500;
}

void
admin_opts_init(struct admin_opts *o)
{
	static const char *const flags[ADMIN_N] = { "--admin", "--metrics",
	    "--ready" };
	/* ztunnel's (DATAPATH.md 4.1): admin on loopback, the others on
	 * every address. */
	static const char *const ztunnel[ADMIN_N] = { "127.0.0.1:15000",
	    "[::]:15020", "[::]:15021" };
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < ADMIN_N; i++) {
		o->s[i].flag = flags[i];
		o->s[i].ztunnel = ztunnel[i];
		o->s[i].fd = -1;
	}
}

int
admin_parse(struct admin_opts *o, const struct admin_surface **bad)
{
	int i;

	for (i = 0; i < ADMIN_N; i++)
		if (o->s[i].given != NULL &&
		    httpd_parse(o->s[i].given, &o->s[i].addr) == -1) {
			*bad = &o->s[i];
			return -1;
		}
	return 0;
}

int
admin_start(const struct admin_opts *o, const struct admin_surface **bad)
{
	static const char *const component[ADMIN_N] = { "admin", "stats",
	    "readiness" };
	static httpd_fn	*const fn[ADMIN_N] = { serve_admin, serve_metrics,
	    serve_ready };
	struct httpd	**srv[ADMIN_N] = { &ad.admin, &ad.metrics, &ad.ready };
	const char	 *node = getenv("NODE_NAME");
	int		  i, err;

	/* The node's name for /config_dump: ztunnel's NODE_NAME, else the
	 * host's own. */
	if (node != NULL && node[0] != '\0')
		snprintf(ad.node, sizeof(ad.node), "%s", node);
	else if (gethostname(ad.node, sizeof(ad.node) - 1) == -1)
		snprintf(ad.node, sizeof(ad.node), "unknown");

	for (i = 0; i < ADMIN_N; i++) {
		if (o->s[i].given == NULL)
			continue;
		if (o->s[i].fd != -1)
			*srv[i] = httpd_adopt(o->s[i].fd, fn[i], NULL);
		else
			*srv[i] = httpd_open(&o->s[i].addr, fn[i], NULL);
		if (*srv[i] == NULL) {
			err = errno;
			*bad = &o->s[i];
			admin_stop();
			errno = err;
			return -1;
		}
		ad.flags[i] = o->s[i].flag;
		ad.given[i] = o->s[i].given;
		/* The address as bound: the port the kernel chose for 0. */
		log_event(LOG_LEVEL_INFO, "listener established",
		    "address=%s component=\"%s\"", httpd_where(*srv[i]),
		    component[i]);
	}
	return 0;
}

int
admin_listeners(admin_listener_fn *fn, void *arg)
{
	struct httpd	*srv[ADMIN_N] = { ad.admin, ad.metrics, ad.ready };
	int		 i;

	for (i = 0; i < ADMIN_N; i++)
		if (srv[i] != NULL && httpd_fd(srv[i]) != -1 &&
		    fn(arg, ad.flags[i], ad.given[i], httpd_fd(srv[i])) == -1)
			return -1;
	return 0;
}

void
admin_stop_listening(void)
{
	httpd_stop_listening(ad.admin);
	httpd_stop_listening(ad.metrics);
	httpd_stop_listening(ad.ready);
}

void
admin_stop(void)
{
	httpd_close(ad.admin);
	httpd_close(ad.metrics);
	httpd_close(ad.ready);
	ad.admin = ad.metrics = ad.ready = NULL;
}
