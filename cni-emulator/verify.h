/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_VERIFY_H
#define CNI_VERIFY_H

#include <stdint.h>

/*
 * Enrolment, measured in the pod itself rather than believed: what
 * `cni-emulator --verify` prints and the node agent's reconcile repairs.
 * A pod is whole when, inside its network namespace:
 *   rules      istio-cni's rule set is there exactly as redirect.c
 *              installs it (both tables, our chains, one jump each)
 *   routing    the fwmark rule and table 100's local default route
 *   listeners  15008, 15006 and 15001 are listening, each socket held
 *              by a live ztunnel-emulator (found from the sockets, as
 *              ss -p does) that lists the pod as up when asked on its
 *              control socket (found from its descriptors: no path to
 *              give)
 *   loopback   lo is up
 */

#define VERIFY_WHY_MAX	160

enum verify_facet {
	VERIFY_RULES,
	VERIFY_ROUTING,
	VERIFY_LISTENERS,
	VERIFY_LOOPBACK,
	VERIFY_NFACETS
};

struct verify_report {
	uint64_t	netns;			/* the namespace's inode */
	int		ok[VERIFY_NFACETS];
	char		why[VERIFY_NFACETS][VERIFY_WHY_MAX];	/* if not ok */
	long		owner;			/* the listeners' pid, or 0 */
};

/* The facet's name as --json spells it: "rules", "routing", ... */
const char	*verify_facet_name(enum verify_facet);

/*
 * Check the namespace nsfd; -1 (why in err) only if the checks could not
 * be run at all.  The process table is read afresh at most once per
 * VERIFY_PROC_MS, so checking many pods in a row reads it once.
 * Needs netns_home_init().
 */
#define VERIFY_PROC_MS	500
#define VERIFY_NO_RULES	1	/* rules and routing not looked at (ok) */
int		 verify_pod(int nsfd, int flags, struct verify_report *,
		    char *err, size_t errlen);
int		 verify_whole(const struct verify_report *);
/* Forget what was learned of the process table (and free it). */
void		 verify_forget(void);

/* The command: every enrolled pod under /var/run/netns, or the names
 * given; one line each (or JSON).  Returns the exit status: 0 all whole,
 * 2 a check could not run, 5 a pod is not whole. */
int		 verify_command(char *const names[], int n, int json);

/* Bring lo up in nsfd; -1 with errno set. */
int		 verify_loopback_up(int nsfd);

#endif
