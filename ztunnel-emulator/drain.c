/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drain.c: the way out of a rolling upgrade (drain.h).  Only the order
 * lives here; each module stops its own part.  What is left is counted
 * every DRAIN_TICK_MS: a deadline of seconds needs no finer clock, and
 * no module has to call back up here.
 */
#define LOG_TARGET "drain"

#include <errno.h>
#include <stdlib.h>

#include "admin.h"
#include "control.h"
#include "drain.h"
#include "ev.h"
#include "hbone.h"
#include "linger.h"
#include "log.h"
#include "pods.h"
#include "relay.h"
#include "util.h"

#define DRAIN_TICK_MS	50

static struct {
	int		 on;
	int		 closing;	/* past the deadline, or none left */
	uint64_t	 deadline;	/* monotonic ms */
	uint64_t	 started;
	struct ev_timer	 tick;
	void		(*done)(void);
} dr;

uint64_t
drain_deadline(int64_t given_ms, const char **why)
{
	const char	*grace = getenv("TERMINATION_GRACE_PERIOD_SECONDS");
	unsigned long	 s;

	if (given_ms >= 0) {
		*why = "--drain-deadline";
		return (uint64_t)given_ms;
	}
	if (grace != NULL && parse_ulong(grace, 10, 86400, &s) == 0) {
		*why = "TERMINATION_GRACE_PERIOD_SECONDS";
		s = s > 10 ? s - 5 : s > 1 ? s - 1 : 1;
		return (uint64_t)s * 1000;
	}
	*why = "default";
	return DRAIN_DEADLINE_MS;
}

static unsigned
left(void)
{
	return relay_count() + hbone_count();
}

/* What is left is closed; the program ends once the last socket closed
 * that way has had its lingering close (linger.h), within LINGER_MS. */
static void
finish(void)
{
	dr.closing = 1;
	pods_close_connections("drain deadline");
	log_info("drained in %ju ms", (uintmax_t)(monotonic_ms() - dr.started));
}

static void
tick(void *arg)
{
	void	(*done)(void) = dr.done;
	unsigned n;

	(void)arg;
	if (!dr.closing) {
		if ((n = left()) != 0 && monotonic_ms() < dr.deadline) {
			ev_timer_at(&dr.tick, monotonic_ms() + DRAIN_TICK_MS);
			return;
		}
		if (n != 0)
			log_info("deadline: closing the %u connections left", n);
		finish();
	}
	if (linger_count() != 0) {
		ev_timer_at(&dr.tick, monotonic_ms() + DRAIN_TICK_MS);
		return;
	}
	dr.done = NULL;
	if (done != NULL)
		done();
}

void
drain_start(uint64_t deadline_ms, void (*done)(void))
{
	if (dr.on)
		return;
	dr.on = 1;
	dr.done = done;
	dr.started = monotonic_ms();
	dr.deadline = dr.started + deadline_ms;
	pods_drain();
	admin_stop_listening();
	control_stop_listening();
	(void)hbone_drain();
	log_info("draining %u connections (%u plain, %u HBONE), at most "
	    "%ju ms", left(), relay_count(), hbone_count(),
	    (uintmax_t)deadline_ms);
	ev_timer_init(&dr.tick, tick, NULL);
	ev_timer_at(&dr.tick, monotonic_ms());
}

int
draining(void)
{
	return dr.on;
}
