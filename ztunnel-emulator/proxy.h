/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PROXY_H
#define ZT_PROXY_H

#include "podtab.h"

#define PROXY_MARK	1337	/* 0x539: istio-cni's rules let it pass */

/*
 * --proxy: a connection the pod's redirection rules sent to one of its
 * listeners.  15001 (outbound): to its original destination, from inside
 * the pod, marked so it is not captured again.  15006 (inbound
 * plaintext): to the app, inside the pod, from the client's own address.
 * Takes the accepted socket c.
 */
void	proxy_accept(struct listener *, int c);

/* Who has this address (network order): a workload name for the
 * metrics, or NULL.  Set by whoever knows the pods. */
typedef const char *proxy_resolve_fn(uint32_t addr);
void	proxy_set_resolver(proxy_resolve_fn *);

#endif
