/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_H2CONN_H
#define COMMON_H2CONN_H

#include <stddef.h>
#include <stdint.h>

#include "h2fields.h"
#include "h2frame.h"

/*
 * HTTP/2 connections whose streams are byte tunnels (RFC 9113 section
 * 8.5, CONNECT): HBONE without its TLS.  Each stream is tied to a
 * socket, and the session moves bytes between the two by itself: DATA
 * frames are read straight into the output buffer and written straight
 * out of the input buffer, under flow control both ways, with
 * WINDOW_UPDATE sent as the socket takes the data.  END_STREAM and FIN
 * map to each other; RST_STREAM ends the tunnel.
 *
 * Settings are ztunnel's (DATAPATH.md 3.4).  Keepalive: a PING every
 * H2_PING_MS, the connection dropped if one goes H2_PING_TIMEOUT_MS
 * unanswered.  Everything a peer can make us hold is bounded: frame size,
 * header block and list, streams, the data a window allows, control
 * frames we owe it; a peer past a bound gets the RFC 9113 error and, for
 * a connection error, GOAWAY and the close.  Nothing a peer does reaches
 * another connection.
 */

#define H2_STREAM_WINDOW	4194304		/* HTTP2_STREAM_WINDOW_SIZE */
#define H2_CONN_WINDOW		16777216	/* HTTP2_CONNECTION_WINDOW_SIZE */
#define H2_OUR_FRAME_SIZE	1048576		/* HTTP2_FRAME_SIZE */
#define H2_CLIENT_HEADER_LIST	16384
#define H2_SERVER_HEADER_LIST	65536
#define H2_SERVER_STREAMS	200		/* our MAX_CONCURRENT_STREAMS */
#define H2_CLIENT_STREAMS	100		/* pool_max_streams_per_conn */
#define H2_PING_MS		10000
#define H2_PING_TIMEOUT_MS	20000
#define H2_CONNECT_MS		10000		/* TCP connect, upstream connect */
#define H2_RESPONSE_MS		15000		/* CONNECT sent, no answer */
#define H2_HALF_CLOSE_MS	60000		/* one way done, nothing moving */

enum h2_role { H2_CLIENT, H2_SERVER };

struct h2conn;
struct h2tun;

/* How a tunnel ended, for its owner's counters and log line. */
struct h2tun_end {
	uint64_t	 sent;		/* socket -> stream */
	uint64_t	 received;	/* stream -> socket */
	int		 established;	/* 200 sent or received */
	int		 status;	/* the response's, 0 if none */
	const char	*why;
};

/* How a connection ended, for its owner's log line. */
struct h2conn_end {
	const char	*why;
	enum h2_error	 error;		/* the code of our GOAWAY: NO_ERROR
					 * for a clean end */
	int		 peer_error;	/* the code of the peer's GOAWAY if it
					 * sent one with an error, else -1 */
};

/* What a server answers a request with, besides its status. */
struct h2_answer {
	int	 status;	/* when the request is refused */
	char	 baggage[512];	/* with the 200, if not "" */
};

struct h2conn_ops {
	/*
	 * Server: a well-formed request on a new stream.  Return a socket
	 * whose non-blocking connect() is under way, and the tunnel's
	 * argument in *targ; or -1 and the status in a->status.  Either
	 * way a->baggage may name the destination for the 200.
	 */
	int	(*request)(void *carg, const struct h2_request *, void **targ,
		    struct h2_answer *a);
	/* Server: a request too malformed to answer, reset with
	 * PROTOCOL_ERROR (for the owner's log). */
	void	(*malformed)(void *carg, uint32_t stream, const char *why);
	/* Bytes moved: sent (socket -> stream) or received (stream ->
	 * socket), as they go. */
	void	(*bytes)(void *targ, int received, size_t n);
	/* A tunnel is over; its socket is closed. */
	void	(*tun_end)(void *targ, const struct h2tun_end *);
	/* The connection is over, after its tunnels; no call follows. */
	void	(*conn_end)(void *carg, struct h2conn *,
		    const struct h2conn_end *);
};

/*
 * Take fd (ours from now on): a server's accepted socket, or a client's
 * whose non-blocking connect() is under way.  The preface and SETTINGS
 * go out at once.  NULL with errno set, and fd closed.
 */
struct h2conn *h2conn_new(int fd, enum h2_role, const struct h2conn_ops *,
		    void *carg);

/*
 * Client: a CONNECT for authority on a new stream, its tunnel to fd
 * (ours from now on, whatever happens).  hdrs: name/value pairs, n of
 * them.  Once the answer is 200 the bytes flow; any other status ends
 * the tunnel, none copied.  NULL (fd closed, errno set) if the
 * connection cannot take another stream.
 */
struct h2tun   *h2conn_tunnel(struct h2conn *, int fd, const char *authority,
		    const char *const *hdrs, size_t n, void *targ);

/* A tunnel with one direction done and no byte moving for ms is reset
 * (CANCEL) and its socket closed; 0: never.  For every connection. */
void		h2conn_set_half_close(uint64_t ms);

/* Call fn with each tunnel's argument (its owner's targ), in order. */
void		h2conn_each(const struct h2conn *, void (*fn)(void *arg,
		    void *targ), void *arg);

/* The TCP states of the connection's socket and its tunnels' sockets,
 * added up (util.h). */
struct sock_states;
void		h2conn_sock_states(const struct h2conn *, struct sock_states *);

/* A client connection that can take one more stream now. */
int		h2conn_can_open(const struct h2conn *);
unsigned	h2conn_streams(const struct h2conn *);
/* Client: close (GOAWAY, NO_ERROR) after ms without a stream; 0: never. */
void		h2conn_set_idle(struct h2conn *, uint64_t ms);

/* GOAWAY with code, and the close: every tunnel ends at once. */
void		h2conn_close(struct h2conn *, enum h2_error, const char *why);
/* At exit: close at once the connections that, closed, still drop what
 * their peer sends (a lingering close, up to 1 s). */
void		h2conn_reap(void);
/* Graceful: GOAWAY(2^31-1) and a PING, then GOAWAY with the last stream
 * taken once the PING is answered; no new streams; the connection
 * closes itself when its last stream ends. */
void		h2conn_drain(struct h2conn *);

#endif
