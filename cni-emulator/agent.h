/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_AGENT_H
#define CNI_AGENT_H

#include <stdint.h>

#include "nswatch.h"
#include "udsock.h"

struct agent_opts {
	const char	*path;		/* where to listen (SOCK_SEQPACKET) */
	const char	*k8s_namespace;	/* WorkloadInfo.namespace */
	uint64_t	 timeout_ms;	/* hello, each ack */
	struct udsock_allow allow;	/* ztunnels besides root and our uid */
	int		 redirect;	/* install each pod's in-pod rules */
};

/*
 * The node agent's side of ZDS (cni-emulator --zds-serve): listen on
 * o->path and serve every ztunnel that connects from the event loop, with
 * the pods nswatch knows.  Start nswatch first.  -1 with errno set (see
 * udsock_listen).
 */
int	agent_start(const struct agent_opts *);
/* Disconnect every ztunnel, close and remove the socket. */
void	agent_stop(void);
/* For nswatch_start(): tell every ztunnel that has had its snapshot. */
void	agent_ns_changed(enum nswatch_change, struct nspod *, void *arg);
/* How many ztunnels are connected (said hello). */
unsigned agent_connected(void);
/* The newest ztunnel has had its snapshot and answered every request:
 * a pod without listeners then is drift, not a pod on its way. */
int	agent_synced(void);
/* The pod's Add again, to the newest ztunnel (the reconcile's repair of
 * listeners); -1 with errno ENOTCONN if no ztunnel is connected. */
int	agent_resend(struct nspod *);

#endif
