/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reconcile.c: the node agent's rounds of verify-and-repair (reconcile.h).
 * A round takes a reference on every pod nswatch knows, then checks one
 * per turn of the loop (a pod's check runs a few short commands in it):
 * the other ztunnels' requests and new pods are served in between.
 */
#define LOG_TARGET "reconcile"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ev.h"
#include "log.h"
#include "nswatch.h"
#include "reconcile.h"
#include "redirect.h"
#include "util.h"
#include "verify.h"

/* The last verdict per pod, by uid: for the metrics. */
struct verdict {
	char	uid[32];
	int	whole;
};

static struct {
	struct reconcile_opts	 o;
	int			 on;
	int			 in_round;
	struct ev_timer		 timer;
	struct nspod		**round;	/* referenced */
	size_t			 n, next;
	uint64_t		 repairs[VERIFY_NFACETS];
	uint64_t		 rounds;
	struct verdict		*v;
	size_t			 nv, vcap;
} rc;

static void	tick(void *);

static void
round_free(void)
{
	size_t i;

	for (i = rc.next; i < rc.n; i++)
		nspod_unref(rc.round[i]);
	free(rc.round);
	rc.round = NULL;
	rc.n = rc.next = 0;
}

static void
verdict(const char *uid, int whole)
{
	struct verdict	*v;
	size_t		 i;

	for (i = 0; i < rc.nv; i++)
		if (strcmp(rc.v[i].uid, uid) == 0) {
			rc.v[i].whole = whole;
			return;
		}
	if (rc.nv == rc.vcap) {
		size_t cap = rc.vcap != 0 ? rc.vcap * 2 : 64;

		if ((v = reallocarray(rc.v, cap, sizeof(*v))) == NULL)
			return;		/* the metric says "not checked" */
		rc.v = v;
		rc.vcap = cap;
	}
	snprintf(rc.v[rc.nv].uid, sizeof(rc.v[rc.nv].uid), "%s", uid);
	rc.v[rc.nv++].whole = whole;
}

/* Drop the verdicts of pods nswatch no longer knows. */
static void
verdicts_trim(void)
{
	struct nspod	*p;
	size_t		 i = 0;
	int		 known;

	while (i < rc.nv) {
		known = 0;
		for (p = nswatch_first(); p != NULL && !known;
		    p = nswatch_next(p))
			known = strcmp(p->uid, rc.v[i].uid) == 0;
		if (known)
			i++;
		else
			rc.v[i] = rc.v[--rc.nv];
	}
}

static void
repaired(struct nspod *pod, enum verify_facet f, const char *why)
{
	rc.repairs[f]++;
	log_info("%s: repaired %s (%s)", pod->name, verify_facet_name(f), why);
}

/* One pod: verify, then put back what drifted. */
static void
check(struct nspod *pod)
{
	struct verify_report	 r;
	char			 err[512];
	int			 rules;

	if (pod->fd == -1)
		return;			/* gone meanwhile */
	/* Without --redirect the rules are not ours: not even looked at. */
	if (verify_pod(pod->fd, rc.o.redirect ? 0 : VERIFY_NO_RULES, &r, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: cannot verify: %s", pod->name, err);
		return;
	}
	/* Before the newest ztunnel has every pod and has answered every
	 * Add, a pod without listeners may be on its way: not drift. */
	if (!agent_synced())
		r.ok[VERIFY_LISTENERS] = 1;
	verdict(pod->uid, verify_whole(&r));
	if (verify_whole(&r))
		return;
	rules = !r.ok[VERIFY_RULES] || !r.ok[VERIFY_ROUTING];
	if (rules && redirect_install(pod->fd, err, sizeof(err)) == -1)
		log_warnx("%s: reinstalling in-pod rules: %s", pod->name, err);
	else if (rules) {
		if (!r.ok[VERIFY_RULES])
			repaired(pod, VERIFY_RULES, r.why[VERIFY_RULES]);
		if (!r.ok[VERIFY_ROUTING])
			repaired(pod, VERIFY_ROUTING, r.why[VERIFY_ROUTING]);
	}
	if (!r.ok[VERIFY_LOOPBACK]) {
		if (verify_loopback_up(pod->fd) == -1)
			log_warn("%s: bringing lo up", pod->name);
		else
			repaired(pod, VERIFY_LOOPBACK, r.why[VERIFY_LOOPBACK]);
	}
	if (!r.ok[VERIFY_LISTENERS]) {
		if (agent_resend(pod) == -1)
			log_warnx("%s: %s; no ztunnel to send it to",
			    pod->name, r.why[VERIFY_LISTENERS]);
		else
			repaired(pod, VERIFY_LISTENERS, r.why[VERIFY_LISTENERS]);
	}
}

static void
round_start(void)
{
	struct nspod	*p;
	size_t		 n = 0;

	for (p = nswatch_first(); p != NULL; p = nswatch_next(p))
		n++;
	if (n > 0 && (rc.round = calloc(n, sizeof(struct nspod *))) == NULL) {
		log_warn("a round of %zu pods", n);
		return;
	}
	for (p = nswatch_first(); p != NULL && rc.n < n; p = nswatch_next(p)) {
		nspod_ref(p);
		rc.round[rc.n++] = p;
	}
	log_debug("a round of %zu pods", rc.n);
}

static void
tick(void *arg)
{
	struct nspod *pod;

	(void)arg;
	if (!rc.in_round) {
		rc.in_round = 1;
		round_start();
	}
	if (rc.round != NULL && rc.next < rc.n) {
		pod = rc.round[rc.next++];
		check(pod);
		nspod_unref(pod);
		ev_timer_at(&rc.timer, monotonic_ms());	/* the next one */
		return;
	}
	round_free();
	rc.in_round = 0;
	verdicts_trim();
	verify_forget();
	rc.rounds++;
	ev_timer_at(&rc.timer, monotonic_ms() + rc.o.period_ms);
}

int
reconcile_start(const struct reconcile_opts *o)
{
	rc.o = *o;
	rc.on = 1;
	ev_timer_init(&rc.timer, tick, NULL);
	ev_timer_at(&rc.timer, monotonic_ms());
	return 0;
}

void
reconcile_stop(void)
{
	if (!rc.on)
		return;
	ev_timer_stop(&rc.timer);
	round_free();
	verify_forget();
	free(rc.v);
	rc.v = NULL;
	rc.nv = rc.vcap = 0;
	rc.on = 0;
}

void
reconcile_counts(uint64_t out[VERIFY_NFACETS])
{
	memcpy(out, rc.repairs, sizeof(rc.repairs));
}

int
reconcile_state(const char *uid)
{
	size_t i;

	for (i = 0; i < rc.nv; i++)
		if (strcmp(rc.v[i].uid, uid) == 0)
			return rc.v[i].whole;
	return -1;
}

uint64_t
reconcile_rounds(void)
{
	return rc.rounds;
}
