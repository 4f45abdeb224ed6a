/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_DRAIN_H
#define ZT_DRAIN_H

#include <stdint.h>

#define DRAIN_DEADLINE_MS	5000	/* ztunnel's, with no grace period */

/*
 * ztunnel's drain deadline (ms): --drain-deadline if given (given_ms,
 * else -1), else from TERMINATION_GRACE_PERIOD_SECONDS (that minus 5
 * above 10, else minus 1, at least 1 s), else DRAIN_DEADLINE_MS.  *why
 * says which, for the log.
 */
uint64_t	drain_deadline(int64_t given_ms, const char **why);

/*
 * The first SIGTERM, as ztunnel takes it during a rolling upgrade: stop
 * taking anything new at once (every pod's listeners, the admin
 * surfaces, the control socket: the instance beside us has its own),
 * send GOAWAY on HBONE, and let the connections that flow finish.
 * done() runs from the loop once none is left, or at the deadline,
 * after the rest were closed (with a FIN, never a reset).
 */
void		drain_start(uint64_t deadline_ms, void (*done)(void));
int		draining(void);

#endif
