/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PODS_H
#define ZT_PODS_H

#include <stddef.h>
#include <stdint.h>

#include "podtab.h"
#include "text.h"
#include "util.h"

#define POD_TRIM_EVERY	256	/* removals between returns of memory to the kernel */
#define POD_RETRY_MS	5000	/* between attempts for a pending pod */
#define POD_ERR_MAX	256	/* an error line, as sent back to a client */

/* What a client asks for when it hands over a namespace. */
struct pod_req {
	enum pod_origin	 origin;
	const char	*key;		/* NULL: name it after the namespace */
	const char	*workload;	/* ZDS: "namespace/name"; else "" */
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
/* Remove a pod, saying why in the log: its listeners close at once, its
 * memory goes after the current event batch. */
void		pod_del(struct pod *, const char *why);

/*
 * A pod as the views show it (--list, /config_dump, /metrics): a copy,
 * filled by pod_view().  The strings point into the pod: good until the
 * current event is done.
 */
struct pod_view {
	const char	*key;		/* its name, or its ZDS uid */
	const char	*label;		/* its workload if named, else key */
	char		 ns[TEXT_NAME_MAX + 1];	/* the workload's namespace,
						 * "" if none was named */
	const char	*name;		/* the workload's name, else key */
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
	uint32_t	 addrs[4];	/* network order */
};
void		pod_view(const struct pod *, struct pod_view *);

struct pod     *pod_byname(const char *name);
/* In add order: pod_first(), then pod_next(p) until NULL. */
struct pod     *pod_first(void);
struct pod     *pod_next(const struct pod *);
size_t		pod_count(void);
size_t		pod_pending(void);
/* The workload ("namespace/name", or the pod's name) whose interfaces
 * carry addr (network order), or the --peers entry for it ("" if it
 * names none), with *mesh 1; NULL and *mesh 0 for anything else.  A
 * zt_resolve_fn (hbone.h). */
const char     *pod_resolve(uint32_t addr, int *mesh);

#endif
