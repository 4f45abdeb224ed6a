/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_REDIRECT_H
#define CNI_REDIRECT_H

#include <stddef.h>

/*
 * istio-cni's in-pod redirection, installed inside the pod's network
 * namespace nsfd: the local route in table 100, the fwmark rule that
 * uses it, and the mangle and nat rules (iptables-restore --noflush), as
 * in Istio's golden file, with DNS capture or not; or, with the nftables
 * backend, its three inet tables in one nft -f transaction.  IPv4 always,
 * and IPv6 too where the pod's lo has it (ip -6, ip6tables-restore, the
 * ip6 twins in the inet tables), as istio-cni with ambient.ipv6 on.
 * One backend per pod: install refuses a pod with the other's rules;
 * remove takes away whichever of ours it finds.
 *
 * Both are idempotent and all or nothing: install leaves either the whole
 * set or nothing of ours; remove takes away exactly what install put
 * there, whatever part of it is present.  The commands run in a child
 * that enters the namespace; this process never does.  -1 with a one-line
 * reason in err.
 */
enum redirect_backend {
	REDIRECT_IPTABLES,	/* iptables-restore (the default, as Istio's) */
	REDIRECT_NFTABLES,	/* nft -f: the three inet istio-ambient-* tables */
	REDIRECT_AUTO,		/* decided once, as istio-cni does */
};
int	redirect_backend_parse(const char *, enum redirect_backend *);
const char *redirect_backend_name(enum redirect_backend);
/* What install uses from now on (auto: decided now, *why says on what);
 * returns the backend chosen. */
enum redirect_backend redirect_set_backend(enum redirect_backend,
	    const char **why);

/* DNS capture (on by default, as Istio's AMBIENT_DNS_CAPTURE): the
 * pod's DNS to 15053, and conntrack zone 1 for ztunnel's own. */
void	redirect_set_dns(int on);
int	redirect_dns(void);
/* 0: installed for IPv4 alone (no IPv6 on the pod's lo); 1: for both
 * families; -1 with err set. */
int	redirect_install(int nsfd, char *err, size_t errlen);
int	redirect_remove(int nsfd, char *err, size_t errlen);

/* What of ours is in the pod now, against what install puts there. */
#define REDIRECT_WHY_MAX	160
struct redirect_check {
	enum redirect_backend backend;	/* whose rules are there */
	int	rules;		/* exactly as installed (nft: rules counted) */
	int	routing;	/* the fwmark rule and table 100's route */
	int	any;		/* any trace of ours: a chain, jump, rule, route */
	int	ipv6;		/* the pod's lo has IPv6: both families checked */
	char	rules_why[REDIRECT_WHY_MAX];	/* the first thing amiss */
	char	routing_why[REDIRECT_WHY_MAX];
};
int	redirect_check(int nsfd, struct redirect_check *, char *err,
	    size_t errlen);

#endif
