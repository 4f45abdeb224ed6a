/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_REDIRECT_H
#define CNI_REDIRECT_H

#include <stddef.h>

/*
 * istio-cni's in-pod redirection (IPv4), installed inside the pod's
 * network namespace nsfd: the local route in table 100, the fwmark rule
 * that uses it, and the mangle and nat rules (iptables-restore
 * --noflush), as in Istio's golden file, DNS capture aside.
 *
 * Both are idempotent and all or nothing: install leaves either the whole
 * set or nothing of ours; remove takes away exactly what install put
 * there, whatever part of it is present.  The commands run in a child
 * that enters the namespace; this process never does.  -1 with a one-line
 * reason in err.
 */
int	redirect_install(int nsfd, char *err, size_t errlen);
int	redirect_remove(int nsfd, char *err, size_t errlen);

#endif
