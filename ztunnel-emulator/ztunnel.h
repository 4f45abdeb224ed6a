/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZTUNNEL_H
#define ZTUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "netns.h"
#include "wire.h"

#define ZT_NPORTS		3	/* 15008 inbound HBONE, 15006 inbound, 15001 outbound */
#define CONTROL_DEADLINE_MS	2000	/* a peer's time to send its request, or read our reply */
#define CONTROL_MAX_PEERS	512	/* peers in flight; the oldest is dropped for a new one */
#define CONTROL_MAX_ALLOW	32	/* --allow-uid entries */
#define ACCEPT_BATCH		32	/* accepts per wake-up, so no socket starves the others */

extern const uint16_t zt_ports[ZT_NPORTS];

/*
 * Everything registered with epoll starts with an evsrc, and epoll hands
 * back a pointer to it: the kind says which handler owns the object.
 */
enum src_kind {
	SRC_CONTROL,
	SRC_PEER,
	SRC_LISTENER,
	SRC_ZDS,
};

struct evsrc {
	enum src_kind	kind;
};

/* The object that embeds an evsrc as its member `src`. */
#define EVSRC_OWNER(s, type) \
	((type *)(void *)((char *)(s) - offsetof(type, src)))

struct pod;

struct listener {
	struct evsrc	 src;
	int		 fd;		/* -1 once closed */
	uint16_t	 port;
	struct pod	*pod;
};

enum pod_origin {
	POD_CONTROL,		/* the control socket: cni-emulator, the seed */
	POD_ZDS,		/* a node agent over ZDS */
};

enum pod_state {
	POD_UP,			/* listening */
	POD_PENDING,		/* ZDS add failed: retried until it works */
};

/*
 * A pod is its listeners.  An up pod keeps no descriptor for its
 * namespace: each listening socket holds a reference to it, so the
 * namespace (and its inode number, hence our nsid) lives exactly as long
 * as the listeners do.  A pending pod has no listeners and holds the
 * namespace descriptor instead, to try again with.
 */
struct pod {
	TAILQ_ENTRY(pod)	 entry;		/* podtab.all, oldest first */
	TAILQ_ENTRY(pod)	 pending_entry;	/* ztunnel.pending */
	struct pod		*next_byname;	/* hash chains */
	struct pod		*next_byns;
	struct nsid		 ns;
	enum pod_origin		 origin;
	enum pod_state		 state;
	int			 nsfd;		/* pending: the namespace; else -1 */
	unsigned		 zds_gen;	/* ZDS connection that last added or kept it */
	uint64_t		 added_ms;
	uint64_t		 retry_ms;	/* pending: when to try again */
	uint64_t		 served;	/* connections answered */
	struct listener		 lis[ZT_NPORTS];
	const char		*workload;	/* ZDS "namespace/name", in name[]; else "" */
	char			 name[];	/* the key: a name, or a ZDS uid */
};

TAILQ_HEAD(podlist, pod);
TAILQ_HEAD(pendlist, pod);

struct podtab {
	struct podlist	  all;
	struct pod	**byname;
	struct pod	**byns;
	size_t		  nbuckets;	/* a power of two */
	size_t		  count;
};

/* A client on the control socket, from accept to close. */
struct peer {
	struct evsrc		 src;
	TAILQ_ENTRY(peer)	 entry;		/* ztunnel.peers, by deadline */
	int			 fd;		/* -1 once closed */
	int			 passfd;	/* the descriptor it sent, or -1 */
	uid_t			 uid;
	pid_t			 pid;
	uint64_t		 deadline;
	size_t			 inlen;
	unsigned char		 in[WIRE_REQ_MAX];
	char			*out;		/* the reply; NULL while reading */
	size_t			 outlen, outoff;
};

TAILQ_HEAD(peerlist, peer);

struct ztunnel {
	int		 epfd;
	int		 home_ns;	/* our own netns: where every handoff returns */
	struct nsid	 home_id;
	int		 reserve_fd;	/* spent to shed a connection when out of fds */

	const char	*ctl_path;
	int		 ctl_fd;
	ino_t		 ctl_ino;
	struct evsrc	 ctl_src;
	uid_t		 allow[CONTROL_MAX_ALLOW];	/* besides 0 and our own uid */
	size_t		 nallow;

	struct peerlist	 peers;		/* earliest deadline first */
	unsigned	 npeers;
	struct podtab	 pods;
	struct pendlist	 pending;	/* earliest retry first */

	/* The ZDS client (--zds): see zds.c. */
	const char	*zds_path;	/* NULL: off */
	int		 zds_fd;	/* -1: not connected */
	struct evsrc	 zds_src;
	int		 zds_snapshot_done;
	unsigned	 zds_gen;	/* counts connections */
	uint64_t	 zds_retry_ms;	/* when to connect again */
	uint64_t	 zds_backoff_ms;
	int		 zds_quiet;	/* connect failures logged once */

	/* Closed this round but possibly still named by an event of the
	 * current epoll batch: freed once the batch is done. */
	struct peerlist	 dead_peers;
	struct podlist	 dead_pods;
	unsigned	 freed_since_trim;	/* see pods_reap() */
};

/* main.c */
int		ev_watch(struct ztunnel *, int fd, uint32_t events,
		    struct evsrc *);
int		ev_modify(struct ztunnel *, int fd, uint32_t events,
		    struct evsrc *);
int		accept_or_shed(struct ztunnel *, int lfd, const char *busy);

/* control.c: the seed-protocol socket and its peers */
void		control_accept(struct ztunnel *);
void		control_event(struct ztunnel *, struct peer *, uint32_t);
int		control_timeout(struct ztunnel *, uint64_t now);
void		control_expire(struct ztunnel *, uint64_t now);
void		control_close_all(struct ztunnel *);
void		control_reap(struct ztunnel *);

/* listen.c: a pod's listeners */
struct listen_error {
	const char	*what;		/* "setns", "socket", "bind", ... */
	uint16_t	 port;		/* 0: not about one port */
	int		 err;		/* errno */
};
int		listen_open(struct ztunnel *, struct pod *, int nsfd,
		    struct listen_error *);
void		listen_close(struct pod *);
void		listen_serve(struct ztunnel *, struct listener *);

/* podtab.c: the pod table */
int		pods_init(struct podtab *);
struct pod     *pod_new(const char *name, const char *workload,
		    const struct nsid *);
struct pod     *pods_byname(const struct podtab *, const char *name);
struct pod     *pods_byns(const struct podtab *, const struct nsid *);
int		pods_insert(struct podtab *, struct pod *);
void		pods_remove(struct podtab *, struct pod *);
void		pods_free(struct podtab *);

/* pods.c: a pod's life */
#define POD_TRIM_EVERY	256	/* removals between returns of memory to the kernel */
#define POD_RETRY_MS	5000	/* between attempts for a pending pod */

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

enum pod_result	pod_add(struct ztunnel *, const struct pod_req *,
		    struct pod **, char *err, size_t errlen);
const char     *pod_label(const struct pod *);
void		pod_del(struct ztunnel *, struct pod *, const char *why);
/* Remove a pod and close its listeners, silently; the memory goes at the
 * end of the current event batch. */
void		pod_drop(struct ztunnel *, struct pod *);
void		pods_reap(struct ztunnel *);
int		pods_retry_timeout(struct ztunnel *, uint64_t now);
void		pods_retry(struct ztunnel *, uint64_t now);

/* zds.c: the ZDS client (ztunnel's role) */
void		zds_start(struct ztunnel *, const char *path);
int		zds_timeout(struct ztunnel *, uint64_t now);
void		zds_tick(struct ztunnel *, uint64_t now);
void		zds_event(struct ztunnel *, uint32_t events);
void		zds_stop(struct ztunnel *);

#endif
