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

/* What of ours is in the pod now, against what install puts there. */
#define REDIRECT_WHY_MAX	160
struct redirect_check {
	int	rules;		/* both tables exactly as installed */
	int	routing;	/* the fwmark rule and table 100's route */
	int	any;		/* any trace of ours: a chain, jump, rule, route */
	char	rules_why[REDIRECT_WHY_MAX];	/* the first thing amiss */
	char	routing_why[REDIRECT_WHY_MAX];
};
int	redirect_check(int nsfd, struct redirect_check *, char *err,
	    size_t errlen);

#endif
