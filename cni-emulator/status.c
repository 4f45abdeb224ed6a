/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.c: the node agent's health and metrics servers (status.h), on
 * common/httpd.c.  What they report is asked of the modules that own it
 * (agent.c, nswatch.c, reconcile.c) at each request.
 */
#define LOG_TARGET "status"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "httpd.h"
#include "log.h"
#include "nswatch.h"
#include "reconcile.h"
#include "status.h"
#include "util.h"
#include "verify.h"

static struct {
	struct status_opts	 o;
	struct httpd		*health, *metrics;
} st;

static void
on_health(void *arg, const struct httpd_req *q, struct httpd_resp *r)
{
	(void)arg;
	if (strcmp(q->method, "GET") != 0) {
		httpd_printf(r, 405, "text/plain", "GET only\n");
		return;
	}
	if (strcmp(q->path, "/healthz") == 0)
		httpd_printf(r, 200, "text/plain", "ok\n");
	else if (strcmp(q->path, "/readyz") != 0)
		httpd_printf(r, 404, "text/plain", "/healthz, /readyz\n");
	else if (st.o.reconcile && reconcile_rounds() == 0)
		httpd_printf(r, 503, "text/plain",
		    "not ready: the first reconcile round is under way\n");
	else
		httpd_printf(r, 200, "text/plain", "ready\n");
}

/* A label value: backslash, quote and newline escaped. */
static void
label(struct strbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			strbuf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			strbuf_printf(b, "\\n");
		else
			strbuf_add(b, s, 1);
	}
}

static void
on_metrics(void *arg, const struct httpd_req *q, struct httpd_resp *r)
{
	struct strbuf	 b = { NULL, 0, 0, 0 };
	struct nspod	*p;
	uint64_t	 n[VERIFY_NFACETS];
	int		 f, s;

	(void)arg;
	if (strcmp(q->method, "GET") != 0 || strcmp(q->path, "/metrics") != 0) {
		httpd_printf(r, 404, "text/plain", "GET /metrics\n");
		return;
	}
	strbuf_printf(&b, "# HELP ztunnel_connected The ztunnels connected "
	    "to the node agent over ZDS.\n# TYPE ztunnel_connected gauge\n"
	    "ztunnel_connected %u\n", agent_connected());
	reconcile_counts(n);
	strbuf_printf(&b, "# HELP nodeagent_reconcile_events_total Repairs "
	    "the reconcile made, by what had drifted.\n"
	    "# TYPE nodeagent_reconcile_events_total counter\n");
	for (f = 0; f < VERIFY_NFACETS; f++)
		strbuf_printf(&b, "nodeagent_reconcile_events_total{type=\"%s\"} "
		    "%" PRIu64 "\n", verify_facet_name(f), n[f]);
	strbuf_printf(&b, "# HELP nodeagent_pod_enrolment Each pod's "
	    "enrolment, as ambient.istio.io/redirection says it: enabled "
	    "(whole at the last check) or pending.\n"
	    "# TYPE nodeagent_pod_enrolment gauge\n");
	for (p = nswatch_first(); p != NULL; p = nswatch_next(p)) {
		s = reconcile_state(p->uid);
		strbuf_printf(&b, "nodeagent_pod_enrolment{pod=\"");
		label(&b, p->name);
		strbuf_printf(&b, "\",uid=\"%s\",state=\"%s\"} 1\n", p->uid,
		    s == 1 ? "enabled" : "pending");
	}
	if (b.failed) {
		strbuf_free(&b);
		httpd_printf(r, 500, "text/plain", "out of memory\n");
		return;
	}
	r->status = 200;
	r->type = "text/plain; version=0.0.4";
	r->body = b.buf;
	r->len = b.len;
}

int
status_parse(const struct status_opts *o, const char **bad)
{
	struct httpd_addr a;

	if (o->health != NULL && httpd_parse(o->health, &a) == -1) {
		*bad = "--health";
		return -1;
	}
	if (o->metrics != NULL && httpd_parse(o->metrics, &a) == -1) {
		*bad = "--metrics";
		return -1;
	}
	return 0;
}

static struct httpd *
serve(const char *given, httpd_fn *fn, const char *component)
{
	struct httpd_addr	 a;
	struct httpd		*h;

	if (httpd_parse(given, &a) == -1 || (h = httpd_open(&a, fn,
	    NULL)) == NULL)
		return NULL;
	log_event(LOG_LEVEL_INFO, "listener established", "address=%s "
	    "component=\"%s\"", httpd_where(h), component);
	return h;
}

int
status_start(const struct status_opts *o, const char **bad)
{
	st.o = *o;
	if (o->health != NULL && (st.health = serve(o->health, on_health,
	    "health")) == NULL) {
		*bad = "--health";
		return -1;
	}
	if (o->metrics != NULL && (st.metrics = serve(o->metrics, on_metrics,
	    "stats")) == NULL) {
		int err = errno;

		*bad = "--metrics";
		status_stop();
		errno = err;
		return -1;
	}
	return 0;
}

void
status_stop(void)
{
	if (st.health != NULL)
		httpd_close(st.health);
	if (st.metrics != NULL)
		httpd_close(st.metrics);
	st.health = st.metrics = NULL;
}
