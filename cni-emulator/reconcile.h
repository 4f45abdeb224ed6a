/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_RECONCILE_H
#define CNI_RECONCILE_H

#include <stdint.h>

#include "verify.h"

/*
 * The node agent keeps its pods whole (as istio-cni's
 * reconcileIptablesOnStartup, and then on a period): at start, and every
 * period_ms, each pod it knows is verified (verify.h), one per turn of
 * the loop, and what drifted is repaired and logged:
 *   rules, routing  reinstalled whole (with --redirect; without it they
 *                   are not ours, and are only reported)
 *   loopback        brought up
 *   listeners       the pod's Add sent again to the newest ztunnel,
 *                   which binds what it lost (none connected: reported)
 * A round that finds a pod whole again after a repair counts nothing.
 */
#define RECONCILE_PERIOD_MS	30000

struct reconcile_opts {
	uint64_t	period_ms;
	int		redirect;	/* the rules are ours to put back */
};

/* Start the rounds: the first at once.  -1 with errno set. */
int		reconcile_start(const struct reconcile_opts *);
void		reconcile_stop(void);

/* Repairs made, by facet, since start. */
void		reconcile_counts(uint64_t out[VERIFY_NFACETS]);
/* The last round's verdict on the pod with this uid: 1 whole, 0 not, -1
 * not checked yet. */
int		reconcile_state(const char *uid);
/* Rounds completed. */
uint64_t	reconcile_rounds(void);

#endif
