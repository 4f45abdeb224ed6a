/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PODREF_H
#define ZT_PODREF_H

#include "relay.h"

/*
 * What the traffic code (listen.c, proxy.c, relay.c, hbone.c) may know
 * of a pod: a narrow handle that pods.c fills and owns, valid while the
 * pod lives (the pod's removal ends every connection that holds one, in
 * the same event).  The pod itself is pods.c's alone.
 */
struct pod_ref {
	const char		*label;	/* logs and metrics: the workload,
					 * "namespace/name", else the name */
	const char		*ns;	/* the workload's namespace ("" if
					 * nobody named one) */
	const char		*name;	/* the workload's name */
	int			 baggage; /* ZDS named it: say so in HBONE */
	int			 nsfd;	/* --proxy: its namespace, where
					 * its sockets are made; else -1 */
	struct relay_stats	*conns;	/* its connections are counted here */
};

#endif
