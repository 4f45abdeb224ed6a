/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_RELAY_H
#define ZT_RELAY_H

#include <stdint.h>
#include <netinet/in.h>
#include <sys/queue.h>

#define RELAY_CONNECT_MS	10000	/* ztunnel's CONNECTION_TIMEOUT */
#define RELAY_HALF_CLOSE_MS	60000	/* one way done, nothing moving */

struct relay;

enum relay_dir {
	RELAY_OUTBOUND,		/* the pod's own connection out, via 15001 */
	RELAY_INBOUND,		/* a connection into the pod, via 15006 */
};

/* What a pod keeps of its connections: for --list and its removal. */
struct relay_stats {
	TAILQ_HEAD(, relay)	 open;		/* live sessions */
	uint64_t		 nopen;
	uint64_t		 total;
	uint64_t		 bytes_in;	/* client -> upstream: relays ended,
						 * HBONE tunnels as they go */
	uint64_t		 bytes_out;	/* upstream -> client, the same */
};

/* A session with one direction done and no byte moving for half_close
 * ms is closed both ways; 0: never. */
void	relay_init(uint64_t half_close);

void	relay_stats_init(struct relay_stats *);
/* Bytes so far, open sessions included. */
void	relay_stats_bytes(const struct relay_stats *, uint64_t *in,
	    uint64_t *out);
/* Each open session, as /config_dump lists it. */
#include "connview.h"
void	relay_each(const struct relay_stats *, conn_view_fn *, void *arg);
/* The TCP states of the open sessions' sockets, both ends, added up. */
struct sock_states;
void	relay_sock_states(const struct relay_stats *, struct sock_states *);

/*
 * Relay between client (accepted, non-blocking) and upstream (a socket
 * whose non-blocking connect() to dst is under way or done), both ours
 * from now on: bytes move both ways through a pipe each (splice, no
 * copy), a FIN is carried across as a half-close, and the session ends
 * once both directions have, or at the first error.  label names the pod
 * in the log line each session ends with (-v); the session is counted in
 * the metrics series given.  -1 with errno set, and both descriptors
 * closed.
 */
struct tcp_series;

int	relay_start(struct relay_stats *, const char *label, enum relay_dir,
	    int client, int upstream, const union sockip *src,
	    const union sockip *dst, struct tcp_series *);
/* Open sessions, every pod's. */
unsigned relay_count(void);
/* Close the pipes kept for the next sessions (at exit). */
void	relay_pool_free(void);

/*
 * Handing sessions over to another instance of the daemon (handover.h).
 * A session's state, and its six descriptors: the client, the upstream,
 * and both ends of each direction's pipe, with the bytes still in them.
 */
#define RELAY_NFDS	6	/* a half's pipe is -1 if it holds nothing */
struct relay_half_state {
	uint64_t	 held;		/* bytes in the pipe */
	int		 eof;		/* the source is done */
	int		 err;		/* ...by this error (0: a FIN) */
	int		 shut;		/* the destination got its FIN */
	uint64_t	 bytes;		/* moved so far */
};
struct relay_state {
	enum relay_dir		 dir;
	union sockip		 src, dst;
	int			 connecting;	/* the upstream's connect */
	uint64_t		 age_ms;
	struct relay_half_state	 up, down;	/* client->upstream, back */
	struct tcp_series	*series;
	int			 fds[RELAY_NFDS];	/* client, upstream,
						 * up pipe r/w, down pipe r/w */
};
/*
 * Hold every session of s: no watch, no timer, out of s (its counts go
 * with it), fn told each one's state; the descriptors stay ours.  A held
 * session is the caller's until relay_forget() or relay_resume().
 */
typedef void	relay_hold_fn(void *arg, struct relay *,
		    const struct relay_state *);
void	relay_hold(struct relay_stats *s, relay_hold_fn *fn, void *arg);
/* Handed over: close our copies and free it, ending nothing (no log
 * line, no counter: the session goes on elsewhere). */
void	relay_forget(struct relay *);
/* Not handed over after all: back into s (its pod's), watched again. */
void	relay_resume(struct relay *, struct relay_stats *s, const char *label);
/* The receiving side: a session from its state (the descriptors ours
 * from now on; on failure all closed).  -1 with errno set. */
int	relay_adopt(struct relay_stats *, const char *label,
	    const struct relay_state *);
/* End every session of a pod at once (it is being removed). */
void	relay_close_all(struct relay_stats *, const char *why);

#endif
