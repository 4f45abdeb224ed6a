/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PODS_H
#define ZT_PODS_H

#include <stddef.h>
#include <stdint.h>

#include "ipaddr.h"
#include "netns.h"
#include "text.h"
#include "util.h"

/*
 * The pods: pods.c owns them, and no other file sees inside one.  The
 * traffic code gets a narrow handle (podref.h); the views (--list,
 * /config_dump, /metrics, readiness) get a filled copy (pod_view());
 * the sources of pods (the control socket, ZDS) get these calls.
 */

#define POD_TRIM_EVERY	256	/* removals between returns of memory to the kernel */
#define POD_RETRY_MS	5000	/* between attempts for a pending pod */
#define POD_ERR_MAX	256	/* an error line, as sent back to a client */

struct pod;

enum pod_origin {
	POD_CONTROL,		/* the control socket: cni-emulator, the seed */
	POD_ZDS,		/* a node agent over ZDS */
};

/* What a client asks for when it hands over a namespace. */
struct pod_req {
	enum pod_origin	 origin;
	const char	*key;		/* NULL: name it after the namespace */
	const char	*workload;	/* ZDS: "namespace/name"; else "" */
	const char	*service_account; /* ZDS's; else "" */
	int		 nsfd;		/* stays the caller's */
};

enum pod_result {
	POD_REFUSED = -1,
	POD_LISTENING = 0,
	POD_PENDING_RETRY = 1,		/* ZDS only */
};

/* The pods, with our own namespace's identity (never a pod's); proxy:
 * listen as ztunnel does and carry the pods' traffic (listen.h).  -1
 * with errno set. */
int		pods_init(const struct nsid *home, int proxy);
/* Remove every pod; free the table. */
void		pods_done(void);

/*
 * The handoff: give the pod behind req->nsfd its listeners.  Returns
 * POD_LISTENING when the pod listens (now, or already did),
 * POD_PENDING_RETRY when a ZDS pod could not listen yet and will be tried
 * again every POD_RETRY_MS, POD_REFUSED otherwise; err says why.  *podp
 * is the pod, unless refused.  Logs the outcome.
 */
enum pod_result	pod_add(const struct pod_req *, struct pod **podp,
		    char *err, size_t errlen);
/* Remove a pod, saying why in the log: its listeners and connections
 * close at once, its memory goes after the current event batch. */
void		pod_del(struct pod *, const char *why);

/*
 * Draining, on the first SIGTERM: every pod stops listening (another
 * instance listens beside us), pending pods stop retrying, and no pod is
 * added from now on; the connections flow on.  pods_close_connections()
 * ends them all (the drain's deadline).
 */
void		pods_drain(void);
int		pods_draining(void);
void		pods_close_connections(const char *why);

/*
 * Handing the pods over to another instance (handover.h).  A pod as it
 * moves: what it is, its counts so far (connections that ended), its
 * namespace and, if up, its listeners.
 */
struct pod_export {
	const char	*key;		/* its name, or its ZDS uid */
	const char	*workload;	/* ZDS: "namespace/name"; else "" */
	const char	*service_account;
	enum pod_origin	 origin;
	int		 up;		/* listening; else pending */
	uint64_t	 age_ms;
	uint64_t	 served;	/* answered "ok" */
	uint64_t	 conns_total;	/* ended ones */
	uint64_t	 bytes_in, bytes_out;	/* of those */
	int		 nsfd;		/* export: a new descriptor, the
					 * callee's; adopt: ours */
	int		 lfds[3];	/* up: 15008, 15006, 15001; export:
					 * still the pod's; adopt: ours */
};
typedef int	pod_export_fn(void *arg, const struct pod_export *);
/* Each pod, in add order, until fn says -1 (returned then). */
int		pods_export(pod_export_fn *, void *arg);
/* Every pod's listeners are the other instance's now: close our copies
 * (the sockets listen on there); from now on we take no new pod. */
void		pods_handed_over(void);
/* The receiving side: a pod from its export, its descriptors ours from
 * now on (closed on failure).  Logs it. */
enum pod_result	pod_adopt(const struct pod_export *, char *err, size_t errlen);

/* Every pod's plain sessions held for the move (relay_hold), fn told
 * each with its pod's key. */
struct relay;
struct relay_state;
typedef void	pod_relay_fn(void *arg, const char *key, struct relay *,
		    const struct relay_state *);
void		pods_hold_relays(pod_relay_fn *, void *arg);
/* A held session that did not move: back to its pod (ended if the pod
 * went meanwhile). */
void		pods_resume_relay(const char *key, struct relay *);
/* The receiving side: a session of the pod key.  -1 with errno set
 * (ENOENT: no such pod), its descriptors closed. */
int		pods_adopt_relay(const char *key, const struct relay_state *);

struct pod     *pod_byname(const char *name);
enum pod_origin	pod_origin(const struct pod *);
/* In add order: pod_first(), then pod_next(p) until NULL. */
struct pod     *pod_first(void);
struct pod     *pod_next(const struct pod *);
size_t		pod_count(void);
size_t		pod_pending(void);

/*
 * ZDS sessions: a pod added or kept on session gen is claimed by it; at
 * SnapshotSent every ZDS pod the session did not claim is removed.
 * Counts what was kept (of which pending) and removed.
 */
void		pod_zds_claim(struct pod *, unsigned gen);
void		pods_zds_sweep(unsigned gen, size_t *kept, size_t *pending,
		    size_t *removed);

/*
 * A pod as the views show it: a copy, filled by pod_view().  The strings
 * point into the pod: good until the current event is done.
 */
struct pod_view {
	const char	*key;		/* its name, or its ZDS uid */
	const char	*label;		/* its workload if named, else key */
	const char	*ns;		/* the workload's namespace */
	const char	*name;		/* the workload's name */
	const char	*service_account; /* ZDS's, else "default" */
	int		 up;		/* listening; else pending */
	int		 zds;		/* added over ZDS; else the control
					 * socket */
	uint64_t	 netns;		/* the namespace's inode */
	uint64_t	 age_ms;
	uint64_t	 served;	/* answered "ok" (without --proxy) */
	uint64_t	 conns_open, conns_total;
	uint64_t	 bytes_in, bytes_out;	/* client -> upstream, back */
	struct sock_states sockets;	/* its proxied sockets, now */
	unsigned	 naddrs;
#define POD_VIEW_ADDRS	8
	struct ipaddr	 addrs[POD_VIEW_ADDRS];
};
/* Each of its live connections, plain and HBONE, both ways. */
#include "connview.h"
void		pod_connections(const struct pod *, conn_view_fn *, void *arg);

/* POD_VIEW_SOCKETS: count its sockets by state too (a getsockopt each). */
#define POD_VIEW_SOCKETS	1
void		pod_view(const struct pod *, struct pod_view *, int flags);

/* The workload ("namespace/name", or the pod's name) whose interfaces
 * carry addr (its port aside), or the --peers entry for it ("" if it
 * names none), with *mesh 1; NULL and *mesh 0 for anything else.  A
 * mesh_resolve_fn (mesh.h). */
const char     *pod_resolve(const union sockip *addr, int *mesh);

/* The addresses of the pods and --peers entries named name in namespace
 * ns, at most max: how many, or -1 if nobody has that name.  A
 * dnsproxy_lookup_fn (dnsproxy.h). */
#include "dns.h"
int		pod_dns_lookup(const char *name, const char *ns,
		    struct ipaddr *out, size_t max);

#endif
