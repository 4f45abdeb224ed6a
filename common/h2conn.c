/* SPDX-License-Identifier: Apache-2.0 */
/*
 * h2conn.c: HTTP/2 connections carrying CONNECT tunnels (see h2conn.h).
 *
 * One connection is its socket, an input buffer of whole frames, an
 * output buffer, the HPACK decoder, and its tunnels by stream id.  Bytes
 * take the shortest way.  HBONE here is HTTP/2 in the clear, so a bulk
 * flow's DATA payloads never enter user space: only the 9-byte frame
 * headers do.  Out, a tunnel whose reads come back full splices its
 * socket into the connection's pipe, a frame at a time, and the header
 * goes out just ahead of the payload (out_write).  In, a DATA frame
 * whose payload is mostly still in the socket is spliced through the
 * tunnel's pipe into its socket, and the next read takes a frame header
 * alone, so that the next payload stays in the socket too.  Small
 * frames, and bytes a slow socket does not take, are copied: readv
 * straight into DATA frames in the output buffer, a payload written
 * straight from the input buffer; what a socket does not take at once
 * is kept, in the tunnel (its pipe, then a buffer), and flow control
 * bounds that (the window comes back as the socket takes it).
 *
 * All sockets are edge-triggered.  A reader goes on until EAGAIN or until
 * its wake-up's quantum is spent (ev.h), and then asks the loop to call it
 * again on the next turn: one connection's peer, however fast it sends,
 * holds the loop for one quantum at a time.  "readable" and "writable"
 * flags remember an edge that could not be used at once (no window, no
 * room, no quantum), so nothing waits for an edge that already came.
 *
 * What a peer makes us do costs it: every byte and frame counts against
 * the wake-up's quantum, and every frame that moves no data (or a stream
 * refused at once) against the connection's flood budget (RFC 9113
 * 10.5), which a WINDOW_UPDATE earns back only by the DATA we sent.
 *
 * One way out each: tun_close() for a tunnel (tun_end() first sends
 * what a live connection owes), conn_fail() for the connection, which
 * closes its tunnels and lingers on its socket.  A failure found deep
 * inside a frame or a tunnel is recorded (conn_doom) and acted on by
 * conn_flush(), which ends every event: no call path leads back up.
 * Memory goes after the event batch, so a frame being handled never
 * outlives what it names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "buf.h"
#include "ev.h"
#include "h2conn.h"
#include "linger.h"
#include "hpack.h"
#include "util.h"

/*
 * gcc 12's -fanalyzer reports "leak of '<unknown>'" for the buffer
 * buf_reserve() stores into a connection it reached through a tunnel
 * (t->c): it loses track of the store.  The buffers are freed in
 * conn_free(); AddressSanitizer, valgrind and fuzz-h2conn check that
 * for real.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

#define IO_EVENTS	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define KIB		((size_t)1024)
#define CHUNK		(256 * KIB)	/* the most one DATA read takes */
#define OUT_HWM		(512 * KIB)	/* no new DATA above this */
#define OUT_MAX		(4096 * KIB)	/* a peer that never reads */
#define IN_START	(64 * KIB)
#define IN_BULK		(1024 * KIB + H2_FRAME_HDR)
#define BLOCK_MAX	((size_t)4096)	/* one HEADERS block of ours */
#define NHASH		64
#define FLOOD_BUDGET	10000		/* frames that move no data... */
#define FLOOD_REFILL	100		/* ...given back per second */
#define EARLY_RESET_COST 100		/* a stream reset before its answer */
#define REFUSED_COST_BYTES 1024		/* a refused stream costs 1, and 1
					 * more per this many header bytes */
#define DATA_REFUND	2		/* per DATA frame we send: the stream's
					 * and the connection's WINDOW_UPDATE */
#define FRAME_WORK_MIN	64		/* quantum units a frame costs at least */
/* One readv covers a CHUNK in frames of the smallest size a peer may
 * set. */
#define MAX_IOV		(CHUNK / H2_DEFAULT_FRAME_SIZE)
#define LINGER_MS	1000		/* after a GOAWAY, input discarded */
#ifndef SPLICE_MIN			/* (fuzz-h2conn sets a small one) */
#define SPLICE_MIN	(64 * KIB)	/* a DATA payload with this much still
					 * in the socket moves by splice */
#endif
#define PIPE_WANT	(1024 * KIB)	/* pipe-max-size's default */


enum tun_state {
	T_CONNECTING,		/* server: the upstream connect is under way */
	T_WAITING,		/* client: CONNECT sent, no answer yet */
	T_OPEN,			/* 200: bytes flow */
};

struct h2tun {
	TAILQ_ENTRY(h2tun)	 entry;
	struct h2tun		*hnext;
	struct h2conn		*c;
	uint32_t		 id;
	enum tun_state		 state;
	int			 fd;
	struct ev_io		 io;
	struct ev_timer		 deadline;	/* connect, answer, then the
						 * half-close timeout */
	uint64_t		 moved;		/* bytes when it was set */
	int			 readable;	/* an edge not yet read to EAGAIN */
	int			 fd_eof;	/* the socket said EOF */
	int			 end_sent;	/* END_STREAM out */
	int			 end_recv;	/* END_STREAM in */
	int			 fd_shut;	/* FIN given to the socket */
	int			 bulk_out;	/* its last read was SPLICE_MIN or
						 * more, or all the windows let
						 * it take: the next goes by
						 * splice */
	int64_t			 send_win;
	int64_t			 recv_win;
	uint32_t		 unacked;	/* taken by the socket, not yet
						 * given back to the peer */
	int			 pipe[2];	/* payloads spliced in: -1 until
						 * the first; [0] read, [1] write */
	size_t			 piped;		/* bytes in the pipe, not yet taken */
	struct buf		 pend;		/* from the peer, not yet taken,
						 * after what the pipe holds */
	uint64_t		 sent, received;
	int			 status;
	char			*baggage;	/* for the 200, or NULL */
	void			*arg;
	struct ev_deferred	 dead;
};

struct h2conn {
	TAILQ_HEAD(, h2tun)	 tuns;
	LIST_ENTRY(h2conn)	 linger_entry;	/* lingering: on lingering_conns */
	struct h2tun		*hash[NHASH];
	enum h2_role		 role;
	const struct h2conn_ops	*ops;
	void			*arg;
	int			 fd;
	struct ev_io		 io;
	struct ev_timer		 timer;
	int			 connecting;	/* client: TCP not up yet */
	int			 preface_ok;	/* server: the magic is in */
	int			 settings_recv;
	int			 settings_acked;
	unsigned		 settings_out;	/* SETTINGS of ours not acked yet */
	int			 closed;
	const char		*failing;	/* why the connection must end, found
						 * where it could not end it */
	enum h2_error		 fail_code;
	int			 lingering;	/* closed, input still discarded */
	int			 shut_wr;	/* lingering: our FIN is out */
	int			 writable;
	int			 out_blocked;	/* a tunnel waits for room */
	int			 win_blocked;	/* a tunnel waits for the window */
	int			 goaway_recv;
	int			 peer_error;	/* its GOAWAY's error code, or -1 */
	int			 draining;	/* GOAWAY sent: no new streams */
	int			 drain_ping;	/* the drain's PING is out */
	uint64_t		 idle_limit;	/* client: close after this
						 * long without a stream */
	struct h2_settings	 peer;
	int64_t			 send_win;
	int64_t			 recv_win;
	uint32_t		 unacked;
	uint32_t		 last_peer_id;	/* the highest stream it opened */
	uint32_t		 next_id;	/* client: the next we open */
	uint32_t		 goaway_last;
	unsigned		 nstreams;
	uint32_t		 max_list;	/* what we advertised */
	struct buf		 in, out;
	int			 opipe[2];	/* DATA payloads out: -1 until the
						 * first; [0] read, [1] write */
	size_t			 so_mark;	/* out bytes ahead of the pipe's... */
	size_t			 so_left;	/* ...payload, still in the pipe */
	uint32_t		 so_id;		/* the stream it is for */
	struct h2tun		*sp_tun;	/* a DATA payload moving by splice
						 * to this tunnel (NULL: dropped) */
	size_t			 sp_left;	/* of it, still in the socket */
	int			 sp_end;	/* it ends the stream */
	int			 hdr_reads;	/* the last DATA was spliced: read
						 * a frame header at a time */
	uint8_t			*hb;		/* a header block being joined */
	size_t			 hblen;
	uint32_t		 hbstream;
	uint8_t			 hbflags;
	int			 in_block;
	struct hpack_dec	*dec;
	uint64_t		 ping_sent_ms, settings_sent_ms, idle_since;
	uint64_t		 flood_ms;	/* when flood was last brought up to date */
	uint64_t		 flood;		/* of the budget, used */
	int			 ping_out;
	uint8_t			 ping_data[8];
	struct ev_deferred	 dead;
};

static uint64_t	half_close_ms = H2_HALF_CLOSE_MS;

/* Connections closed but still dropping their peer's input: the only
 * ones nobody else knows of any more (h2conn_reap). */
static LIST_HEAD(, h2conn) lingering_conns = LIST_HEAD_INITIALIZER(lingering_conns);

static void	conn_fail(struct h2conn *, enum h2_error, const char *why);
static void	linger(struct h2conn *);
static void	linger_end(struct h2conn *);
static void	conn_flush(struct h2conn *);
static void	conn_arm(struct h2conn *);
static void	tun_end(struct h2tun *, int rst, enum h2_error,
		    const char *why);
static void	tun_pump(struct h2conn *, struct h2tun *);
static void	on_tun(void *, uint32_t);
static void	flood_refund(struct h2conn *, size_t);

/* ---- output ----------------------------------------------------------- */

/*
 * The connection must end, but deep inside a frame or a tunnel, where
 * ending it would pull the ground from under the caller: say so, and
 * conn_flush(), which ends every event, ends it.  (No path from the
 * frame code back into conn_fail(): the calls stay a tree.)
 */
static void
conn_doom(struct h2conn *c, enum h2_error err, const char *why)
{
	if (c->failing == NULL) {
		c->failing = why;
		c->fail_code = err;
	}
}

/* Bytes waiting to go out: the buffer's and a payload in the pipe. */
static size_t
out_queued(const struct h2conn *c)
{
	return c->out.len + c->so_left;
}

/* Reserve n bytes of output for a frame; NULL if the connection is
 * closed or doomed, or the peer has let OUT_MAX pile up unread. */
static uint8_t *
out_reserve(struct h2conn *c, size_t n)
{
	if (c->closed || c->failing != NULL)
		return NULL;
	if (buf_reserve(&c->out, n, OUT_MAX + CHUNK) == -1 ||
	    c->out.len > OUT_MAX) {
		conn_doom(c, H2_ENHANCE_YOUR_CALM, "peer does not read");
		return NULL;
	}
	return buf_tail(&c->out);
}

static void
put_frame_hdr(uint8_t *p, size_t len, uint8_t type, uint8_t flags,
    uint32_t stream)
{
	struct h2_frame_hdr h = { (uint32_t)len, type, flags, stream };

	h2_hdr_encode(p, &h);
}

static void
send_rst(struct h2conn *c, uint32_t id, enum h2_error err)
{
	uint8_t *p;

	if ((p = out_reserve(c, 13)) != NULL)
		c->out.len += h2_put_rst_stream(p, 13, id, err);
}

static void
send_window(struct h2conn *c, uint32_t id, uint32_t inc)
{
	uint8_t *p;

	if ((p = out_reserve(c, 13)) != NULL)
		c->out.len += h2_put_window_update(p, 13, id, inc);
}

static void
send_goaway(struct h2conn *c, uint32_t last, enum h2_error err)
{
	uint8_t *p;

	if ((p = out_reserve(c, 17)) != NULL)
		c->out.len += h2_put_goaway(p, 17, last, err);
}

static void
send_ping(struct h2conn *c, int ack, const uint8_t data[8])
{
	uint8_t *p;

	if ((p = out_reserve(c, 17)) != NULL)
		c->out.len += h2_put_ping(p, 17, ack, data);
}

/* One HEADERS frame with the whole block (ours are small). */
static void
send_headers(struct h2conn *c, uint32_t id, int end_stream,
    const char *const *fields, size_t n)
{
	uint8_t	*p;
	size_t	 len = 0, i;

	if ((p = out_reserve(c, H2_FRAME_HDR + BLOCK_MAX)) == NULL)
		return;
	for (i = 0; i < n; i++)
		if (hpack_encode(p + H2_FRAME_HDR, BLOCK_MAX, &len,
		    fields[2 * i], fields[2 * i + 1]) == -1) {
			conn_doom(c, H2_INTERNAL_ERROR, "header block too big");
			return;
		}
	put_frame_hdr(p, len, H2_HEADERS,
	    (uint8_t)(H2_END_HEADERS | (end_stream ? H2_END_STREAM : 0)), id);
	c->out.len += H2_FRAME_HDR + len;
}

/* A PING of ours, its payload the time: a keepalive probe, or the
 * drain's round trip. */
static void
send_probe(struct h2conn *c, uint64_t now, int drain)
{
	int i;

	for (i = 0; i < 8; i++)
		c->ping_data[i] = (uint8_t)(now >> (8 * i));
	c->ping_out = 1;
	c->ping_sent_ms = now;
	c->drain_ping = drain;
	send_ping(c, 0, c->ping_data);
}

static void
send_status(struct h2conn *c, uint32_t id, int status, int end_stream)
{
	char		 code[8];
	const char	*f[2] = { ":status", code };

	snprintf(code, sizeof(code), "%d", status);
	send_headers(c, id, end_stream, f, 1);
}

/* A 200, with the destination's baggage if the owner named one
 * (ztunnel's ENABLE_RESPONSE_BAGGAGE, on by default). */
static void
send_ok(struct h2conn *c, uint32_t id, const char *baggage)
{
	const char *f[4] = { ":status", "200", "baggage", baggage };

	send_headers(c, id, 0, f, baggage != NULL ? 2 : 1);
}

/* Give back what a socket took, once half a window has gathered, as
 * ztunnel's h2 does: one WINDOW_UPDATE for many frames. */
static void
give_back(struct h2conn *c, struct h2tun *t, size_t n)
{
	c->unacked += (uint32_t)n;
	if (c->unacked >= H2_CONN_WINDOW / 2) {
		send_window(c, 0, c->unacked);
		c->recv_win += c->unacked;
		c->unacked = 0;
	}
	if (t == NULL || t->end_recv)
		return;
	t->unacked += (uint32_t)n;
	if (t->unacked >= H2_STREAM_WINDOW / 2) {
		send_window(c, t->id, t->unacked);
		t->recv_win += t->unacked;
		t->unacked = 0;
	}
}

/* ---- tunnels ---------------------------------------------------------- */

/* A pipe of up to PIPE_WANT: fewer, larger splices.  Refused a larger
 * size (pipe-max-size set lower), it works at the size it has.  -1 if
 * there is none (out of descriptors): the bytes are copied instead. */
static int
pipe_open(int p[2])
{
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1) {
		p[0] = p[1] = -1;
		return -1;
	}
	(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_WANT);
	return 0;
}

/* Close a pipe, with whatever it still holds; one never made: nothing. */
static void
pipe_close(int p[2])
{
	if (p[0] == -1)
		return;
	close(p[0]);
	close(p[1]);
	p[0] = p[1] = -1;
}

static struct h2tun *
tun_find(const struct h2conn *c, uint32_t id)
{
	struct h2tun *t;

	for (t = c->hash[id % NHASH]; t != NULL; t = t->hnext)
		if (t->id == id)
			return t;
	return NULL;
}

/* A stream id the peer may not use yet (RFC 9113 5.1 "idle"): past the
 * last it opened (server), or not one we opened (client). */
static int
stream_idle(const struct h2conn *c, uint32_t id)
{
	if ((id & 1) == 0)
		return 1;		/* even: pushed, and nobody pushes */
	return c->role == H2_SERVER ? id > c->last_peer_id : id >= c->next_id;
}

/* One way done (END_STREAM out, or the peer's END_STREAM passed on as a
 * FIN), the other not: it gets the half-close timeout to move. */
static void
tun_half_closed(struct h2tun *t)
{
	if (t->state != T_OPEN || t->deadline.armed || half_close_ms == 0 ||
	    t->end_sent == (t->end_recv && t->fd_shut))
		return;
	t->moved = t->sent + t->received;
	ev_timer_at(&t->deadline, monotonic_ms() + half_close_ms);
}

static void
on_deadline(void *arg)
{
	struct h2tun *t = arg;

	if (t->state == T_OPEN) {
		/* Bytes moved meanwhile: not idle, look again later. */
		if (t->sent + t->received != t->moved) {
			t->moved = t->sent + t->received;
			ev_timer_at(&t->deadline, monotonic_ms() +
			    half_close_ms);
			return;
		}
		tun_end(t, 1, H2_CANCEL, "half-closed and idle");
	} else if (t->state == T_CONNECTING) {
		send_status(t->c, t->id, 503, 1);
		t->end_sent = 1;
		tun_end(t, 1, H2_NO_ERROR, "upstream connect timed out");
	} else
		tun_end(t, 1, H2_CANCEL, "no answer to CONNECT");
	conn_flush(t->c);
}

static struct h2tun *
tun_new(struct h2conn *c, uint32_t id, int fd, enum tun_state state,
    void *arg)
{
	struct h2tun *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->io.fd = -1;
	t->pipe[0] = t->pipe[1] = -1;
	if (ev_io_add(&t->io, fd, IO_EVENTS, on_tun, t) == -1) {
		free(t);
		return NULL;
	}
	t->c = c;
	t->id = id;
	t->fd = fd;
	t->state = state;
	t->arg = arg;
	t->send_win = c->peer.initial_window_size;
	t->recv_win = H2_STREAM_WINDOW;
	ev_timer_init(&t->deadline, on_deadline, t);
	ev_timer_at(&t->deadline, monotonic_ms() +
	    (state == T_CONNECTING ? H2_CONNECT_MS : H2_RESPONSE_MS));
	t->hnext = c->hash[id % NHASH];
	c->hash[id % NHASH] = t;
	TAILQ_INSERT_TAIL(&c->tuns, t, entry);
	c->nstreams++;
	return t;
}

static void
tun_free(void *arg)
{
	struct h2tun *t = arg;

	buf_free(&t->pend);
	free(t->baggage);
	free(t);
}

/*
 * Every tunnel ends here: unlinked, its socket closed (drained first,
 * so the close is a FIN, not a reset), the owner told, freed after the
 * batch.  Nothing is sent: tun_end() does that while the connection
 * lives; conn_fail() calls this directly for a connection that is gone.
 */
static void
tun_close(struct h2tun *t, const char *why)
{
	struct h2conn	 *c = t->c;
	struct h2tun	**pp;
	struct h2tun_end  e;

	for (pp = &c->hash[t->id % NHASH]; *pp != t; pp = &(*pp)->hnext)
		;
	*pp = t->hnext;
	TAILQ_REMOVE(&c->tuns, t, entry);
	c->nstreams--;
	if (c->nstreams == 0)
		c->idle_since = monotonic_ms();
	ev_timer_stop(&t->deadline);
	pipe_close(t->pipe);
	/* A payload on its way here: the rest of it is dropped. */
	if (c->sp_tun == t)
		c->sp_tun = NULL;
	/* A side still sending gets our FIN, never a reset (linger.h); a
	 * tunnel's socket is never passed on (sole). */
	linger_side_end(&t->io, t->fd, t->fd_eof, 1);
	memset(&e, 0, sizeof(e));
	e.sent = t->sent;
	e.received = t->received;
	e.established = t->state == T_OPEN;
	e.status = t->status;
	e.why = why;
	c->ops->tun_end(t->arg, &e);
	ev_defer_free(&t->dead, tun_free, t);
	if (c->closed)
		return;
	if (c->nstreams == 0 && (c->draining || c->goaway_recv))
		conn_doom(c, H2_NO_ERROR, "drained");
	else if (c->nstreams == 0 && c->role == H2_CLIENT &&
	    c->settings_recv && c->peer.max_concurrent_streams == 0)
		/* Idle, and no stream will ever fit: pooling it would only
		 * hold a descriptor until the idle timeout. */
		conn_doom(c, H2_NO_ERROR, "the peer allows no streams");
	else
		conn_arm(c);
}

/* A tunnel ends on a live connection: RST_STREAM if asked (and the
 * stream is not closed already), and the connection window gets back
 * what the stream held undelivered. */
static void
tun_end(struct h2tun *t, int rst, enum h2_error err, const char *why)
{
	struct h2conn *c = t->c;

	if (rst && !(t->end_sent && t->end_recv))
		send_rst(c, t->id, err);
	if (t->pend.len + t->piped > 0)
		give_back(c, NULL, t->pend.len + t->piped);
	tun_close(t, why);
}

/* Both ways done: the stream closed cleanly. */
static int
tun_maybe_done(struct h2tun *t)
{
	if (t->end_sent && t->end_recv && t->fd_shut) {
		tun_end(t, 0, H2_NO_ERROR, "closed");
		return 1;
	}
	return 0;
}

/* The socket took w bytes of what came for it. */
static void
tun_took(struct h2tun *t, size_t w)
{
	ev_spend(w);
	t->received += (uint64_t)w;
	t->c->ops->bytes(t->arg, 1, w);
	give_back(t->c, t, w);
}

/* Hand the socket what it will take of p; the rest is kept.  -1 if the
 * socket is gone (the tunnel ended). */
static int
tun_deliver(struct h2tun *t, const uint8_t *p, size_t n)
{
	ssize_t w = 0;

	if (t->piped == 0 && t->pend.len == 0 && n > 0 &&
	    t->state == T_OPEN) {
		w = send(t->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && errno != EAGAIN && errno != EINTR) {
			tun_end(t, 1, H2_CANCEL, strerror(errno));
			return -1;
		}
		if (w < 0)
			w = 0;
		tun_took(t, (size_t)w);
	}
	if ((size_t)w < n) {
		/* Flow control bounds this by our stream window. */
		if (buf_reserve(&t->pend, n - (size_t)w,
		    H2_STREAM_WINDOW + 2 * CHUNK) == -1) {
			tun_end(t, 1, H2_INTERNAL_ERROR, "out of memory");
			return -1;
		}
		memcpy(buf_tail(&t->pend), p + w, n - (size_t)w);
		t->pend.len += n - (size_t)w;
		ev_spend(n - (size_t)w);
	}
	return 0;
}

/* The socket can take more: what the pipe holds, what is kept, then the
 * FIN if due. */
static int
tun_flush(struct h2tun *t)
{
	ssize_t w;

	if (t->state != T_OPEN)
		return 0;		/* kept until the upstream is there */
	while (t->piped > 0) {
		if (ev_exhausted()) {
			ev_io_again(&t->io, EPOLLOUT);
			return 0;
		}
		w = splice(t->pipe[0], NULL, t->fd, NULL, t->piped,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w <= 0) {
			tun_end(t, 1, H2_CANCEL, strerror(errno));
			return -1;
		}
		t->piped -= (size_t)w;
		tun_took(t, (size_t)w);
	}
	while (t->pend.len > 0) {
		if (ev_exhausted()) {
			ev_io_again(&t->io, EPOLLOUT);
			return 0;
		}
		w = send(t->fd, t->pend.p + t->pend.off, t->pend.len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w <= 0) {
			tun_end(t, 1, H2_CANCEL, strerror(errno));
			return -1;
		}
		buf_drop(&t->pend, (size_t)w);
		tun_took(t, (size_t)w);
	}
	if (t->end_recv && !t->fd_shut) {
		t->fd_shut = 1;
		(void)shutdown(t->fd, SHUT_WR);
	}
	if (tun_maybe_done(t))
		return -1;
	tun_half_closed(t);
	return 0;
}

/*
 * Up to want bytes of the socket as DATA frames in the output buffer:
 * readv straight into the frames' payloads, one header ahead of each
 * (the peer's MAX_FRAME_SIZE apart).  As readv, and *frames the number
 * of frames made.
 */
static ssize_t
pump_copy(struct h2conn *c, struct h2tun *t, size_t want, size_t *frames)
{
	struct iovec	 iov[MAX_IOV];
	uint8_t		*base;
	size_t		 fs = c->peer.max_frame_size, left, got, k, i, n;
	ssize_t		 r;

	k = (want + fs - 1) / fs;	/* <= MAX_IOV: want <= CHUNK */
	if ((base = out_reserve(c, want + k * H2_FRAME_HDR)) == NULL) {
		errno = ECANCELED;
		return -1;
	}
	for (i = 0, left = want; i < k; i++) {
		n = left < fs ? left : fs;
		iov[i].iov_base = base + i * (H2_FRAME_HDR + fs) + H2_FRAME_HDR;
		iov[i].iov_len = n;
		left -= n;
	}
	if ((r = readv(t->fd, iov, (int)k)) <= 0)
		return r;
	/* Headers for the frames filled, the last one short. */
	for (i = 0, got = (size_t)r; got > 0; i++) {
		n = got < fs ? got : fs;
		put_frame_hdr(base + i * (H2_FRAME_HDR + fs), n, H2_DATA, 0,
		    t->id);
		got -= n;
		c->out.len += H2_FRAME_HDR + n;
	}
	*frames = i;
	return r;
}

/*
 * Up to want bytes of the socket as one DATA frame, its payload never
 * copied: spliced into the connection's pipe, its header put in the
 * output buffer.  out_write() sends what is queued up to that header,
 * then the payload from the pipe, then the rest.  As readv.
 */
static ssize_t
pump_splice(struct h2conn *c, struct h2tun *t, size_t want)
{
	uint8_t	*h;
	ssize_t	 r;

	if ((h = out_reserve(c, H2_FRAME_HDR)) == NULL) {
		errno = ECANCELED;
		return -1;
	}
	if (want > c->peer.max_frame_size)
		want = c->peer.max_frame_size;
	r = splice(t->fd, NULL, c->opipe[1], NULL, want,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (r <= 0)
		return r;
	put_frame_hdr(h, (size_t)r, H2_DATA, 0, t->id);
	c->out.len += H2_FRAME_HDR;
	c->so_mark = c->out.len;
	c->so_left = (size_t)r;
	c->so_id = t->id;
	return r;
}

/*
 * Read the socket into DATA frames while the windows and the output
 * buffer allow.  A flow that fills its reads (SPLICE_MIN or more) goes
 * by splice, a frame at a time through the connection's one pipe; the
 * rest, and any flow while another's payload holds the pipe, is copied.
 */
static void
tun_pump(struct h2conn *c, struct h2tun *t)
{
	size_t		 want, frames;
	ssize_t		 r;
	int		 by_splice;

	while (t->state == T_OPEN && t->readable && !t->fd_eof &&
	    !c->closed && !c->connecting) {
		/* A spliced frame takes up to a pipe's worth (and the peer's
		 * MAX_FRAME_SIZE): four times fewer calls than a CHUNK. */
		want = t->bulk_out ? PIPE_WANT : CHUNK;
		if ((int64_t)want > t->send_win)
			want = t->send_win > 0 ? (size_t)t->send_win : 0;
		if ((int64_t)want > c->send_win)
			want = c->send_win > 0 ? (size_t)c->send_win : 0;
		if (want == 0) {
			c->win_blocked |= c->send_win <= 0;
			return;		/* a WINDOW_UPDATE brings us back */
		}
		if (out_queued(c) >= OUT_HWM ||
		    (c->so_left > 0 && c->so_id == t->id)) {
			c->out_blocked = 1;
			return;		/* conn_flush brings us back */
		}
		if (ev_exhausted()) {
			ev_io_again(&t->io, EPOLLIN);
			return;		/* the loop brings us back */
		}
		by_splice = t->bulk_out && c->so_left == 0 &&
		    c->peer.max_frame_size >= SPLICE_MIN &&
		    (c->opipe[0] != -1 || pipe_open(c->opipe) == 0);
		frames = 1;
		r = by_splice ? pump_splice(c, t, want) :
		    pump_copy(c, t, want < CHUNK ? want : CHUNK, &frames);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN) {
			t->readable = 0;
			return;
		}
		if (r == -1 && errno == ECANCELED)
			return;		/* the connection is failing */
		if (r <= 0) {
			/* EOF; a reset is the same to us (as ztunnel). */
			t->fd_eof = 1;
			t->end_sent = 1;
			if (out_reserve(c, H2_FRAME_HDR) == NULL)
				return;
			put_frame_hdr(buf_tail(&c->out), 0, H2_DATA,
			    H2_END_STREAM, t->id);
			c->out.len += H2_FRAME_HDR;
			if (!tun_maybe_done(t))
				tun_half_closed(t);
			return;
		}
		/* A read cut short by the windows, not by the socket, says
		 * nothing of the flow: a bulk one stays bulk, and its next
		 * frame is spliced, not copied. */
		t->bulk_out = r >= (ssize_t)SPLICE_MIN || (size_t)r == want;
		t->send_win -= r;
		c->send_win -= r;
		ev_spend((size_t)r);
		flood_refund(c, frames);
		t->sent += (uint64_t)r;
		c->ops->bytes(t->arg, 0, (size_t)r);
		/* A short read is not the end of the edge: a FIN that came
		 * with the data brings no edge of its own.  Only EAGAIN is. */
	}
}

static void
on_tun(void *arg, uint32_t events)
{
	struct h2tun	*t = arg;
	struct h2conn	*c = t->c;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (t->state == T_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			send_status(c, t->id, 503, 1);
			t->end_sent = 1;
			tun_end(t, 1, H2_NO_ERROR, err == ECONNREFUSED ?
			    "upstream refused" : strerror(err));
			conn_flush(c);
			return;
		}
		ev_timer_stop(&t->deadline);
		t->state = T_OPEN;
		t->status = 200;
		send_ok(c, t->id, t->baggage);
		/* What came before the answer, and a FIN with it. */
		if (tun_flush(t) == -1) {
			conn_flush(c);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		t->readable = 1;
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) &&
	    tun_flush(t) == -1) {
		conn_flush(c);
		return;
	}
	tun_pump(c, t);
	conn_flush(c);
}

/* ---- frames in -------------------------------------------------------- */

/*
 * Frames that move nothing cost the peer from a budget of FLOOD_BUDGET,
 * given back at FLOOD_REFILL a second; a peer that spends it all is
 * abusive (RFC 9113 10.5).  A slow refill, not a count per second: a
 * flood is caught after the same number of frames however fast we read
 * them, and a peer's occasional PING never adds up.  -1: the connection
 * ended.
 */
static int
flood(struct h2conn *c, unsigned cost)
{
	uint64_t now = monotonic_ms(), back;

	back = (now - c->flood_ms) * FLOOD_REFILL / 1000;
	if (back > 0) {
		c->flood = back >= c->flood ? 0 : c->flood - back;
		c->flood_ms = now;
	}
	c->flood += cost;
	if (c->flood > FLOOD_BUDGET) {
		conn_fail(c, H2_ENHANCE_YOUR_CALM, "flood of control frames");
		return -1;
	}
	return 0;
}

/* n DATA frames of ours went out: the WINDOW_UPDATEs they call for are
 * paid for in advance. */
static void
flood_refund(struct h2conn *c, size_t n)
{
	uint64_t back = (uint64_t)n * DATA_REFUND;

	c->flood = back >= c->flood ? 0 : c->flood - back;
}

static int
on_data(struct h2conn *c, const struct h2_frame_hdr *h, const uint8_t *p)
{
	struct h2tun	*t;
	const uint8_t	*data;
	size_t		 len;
	enum h2_error	 err;

	if ((err = h2_unpad(h, p, &data, &len)) != H2_NO_ERROR) {
		conn_fail(c, err, "bad DATA padding");
		return -1;
	}
	/* The whole frame counts against the connection's window. */
	c->recv_win -= h->len;
	if (c->recv_win < 0) {
		conn_fail(c, H2_FLOW_CONTROL_ERROR, "connection window overrun");
		return -1;
	}
	t = tun_find(c, h->stream);
	if (t == NULL) {
		if (stream_idle(c, h->stream)) {
			conn_fail(c, H2_PROTOCOL_ERROR, "DATA on an idle stream");
			return -1;
		}
		/* A stream we closed: give the window back, and say so. */
		give_back(c, NULL, h->len);
		send_rst(c, h->stream, H2_STREAM_CLOSED);
		return flood(c, 1);
	}
	/* A server keeps what comes before its answer (the client need
	 * not wait for it); a client takes nothing before the 200. */
	if (t->end_recv || t->state == T_WAITING) {
		give_back(c, NULL, h->len);
		tun_end(t, 1, H2_STREAM_CLOSED, t->end_recv ?
		    "DATA after END_STREAM" : "DATA before the answer");
		return 0;
	}
	t->recv_win -= h->len;
	if (t->recv_win < 0) {
		give_back(c, NULL, h->len);
		tun_end(t, 1, H2_FLOW_CONTROL_ERROR, "stream window overrun");
		return 0;
	}
	if (len == 0 && !(h->flags & H2_END_STREAM) && flood(c, 1) == -1)
		return -1;
	/* Padding is consumed at once. */
	if (h->len > len)
		give_back(c, t, h->len - len);
	if (tun_deliver(t, data, len) == -1)
		return 0;
	if (h->flags & H2_END_STREAM) {
		t->end_recv = 1;
		(void)tun_flush(t);
	}
	return 0;
}

/* What a stream refused at once costs its connection's flood budget:
 * one, and more for a header list that cost us more to decode (a small
 * block can expand through the dynamic table to 64 KiB). */
static unsigned
refused_cost(const struct h2_fields *fs)
{
	return 1 + (unsigned)(fs->decoded / REFUSED_COST_BYTES);
}

/* Server: a new stream's request.  -1: the connection ended (a flood
 * of requests refused at once). */
static int
on_request(struct h2conn *c, uint32_t id, const struct h2_fields *fs,
    int end_stream)
{
	struct h2tun	*t;
	struct h2_answer a;
	void		*targ = NULL;
	int		 fd;

	if (fs->bad || !fs->has_method) {
		c->ops->malformed(c->arg, id, fs->bad ? fs->why :
		    "no :method");
		send_rst(c, id, H2_PROTOCOL_ERROR);
		return flood(c, refused_cost(fs));
	}
	if (strcmp(fs->req->method, "CONNECT") == 0 &&
	    (!fs->has_authority || fs->req->has_scheme || fs->req->has_path)) {
		c->ops->malformed(c->arg, id, fs->has_authority ?
		    "CONNECT with :scheme or :path" : "CONNECT, no :authority");
		send_rst(c, id, H2_PROTOCOL_ERROR);
		return flood(c, refused_cost(fs));
	}
	memset(&a, 0, sizeof(a));
	fd = c->ops->request(c->arg, fs->req, &targ, &a);
	if (fd == -1) {
		send_status(c, id, a.status, 1);
		if (!end_stream)
			send_rst(c, id, H2_NO_ERROR);
		return flood(c, refused_cost(fs));
	}
	if ((t = tun_new(c, id, fd, T_CONNECTING, targ)) == NULL) {
		struct h2tun_end e = { 0, 0, 0, 503, "out of memory" };

		close(fd);
		c->ops->tun_end(targ, &e);
		send_status(c, id, 503, 1);
		return flood(c, refused_cost(fs));
	}
	t->end_recv = end_stream;
	/* Kept until the app answers; without memory, the 200 goes bare. */
	if (a.baggage[0] != '\0')
		t->baggage = strdup(a.baggage);
	return 0;
}

/* Client: the answer to one of our CONNECTs. */
static void
on_response(struct h2tun *t, const struct h2_fields *fs, int end_stream)
{
	char why[32];

	if (t->state == T_OPEN) {	/* trailers */
		if (!end_stream || fs->bad) {
			tun_end(t, 1, H2_PROTOCOL_ERROR, "bad trailers");
			return;
		}
		t->end_recv = 1;
		(void)tun_flush(t);
		return;
	}
	if (fs->bad || fs->status == 0) {
		tun_end(t, 1, H2_PROTOCOL_ERROR, "malformed response");
		return;
	}
	if (fs->status >= 100 && fs->status < 200 && fs->status != 101 &&
	    !end_stream)
		return;			/* informational: the real one follows */
	t->status = fs->status;
	if (fs->status != 200) {
		snprintf(why, sizeof(why), "CONNECT answered %d", fs->status);
		tun_end(t, 1, H2_CANCEL, why);
		return;
	}
	ev_timer_stop(&t->deadline);
	t->state = T_OPEN;
	t->end_recv = end_stream;
	t->readable = 1;
	if (tun_flush(t) == 0)
		tun_pump(t->c, t);
}

/* A whole header block, HEADERS and its CONTINUATIONs joined. */
static int
on_header_block(struct h2conn *c, uint32_t id, uint8_t flags,
    const uint8_t *block, size_t len)
{
	struct h2_request	 req;
	struct h2_fields		 fs;
	struct h2tun		*t = tun_find(c, id);
	const char		*why = NULL;
	int			 r, is_new = 0, refuse = 0;

	if (t == NULL && stream_idle(c, id) && c->role == H2_CLIENT) {
		conn_fail(c, H2_PROTOCOL_ERROR, "HEADERS on an idle stream");
		return -1;
	}
	if (t == NULL && c->role == H2_SERVER && (id & 1) == 0) {
		/* Even ids are the server's to open (5.1.1). */
		conn_fail(c, H2_PROTOCOL_ERROR, "HEADERS on an even stream id");
		return -1;
	}
	if (t == NULL && c->role == H2_SERVER && !stream_idle(c, id)) {
		/* A new stream's id must grow (5.1.1); an old one is closed. */
		conn_fail(c, H2_STREAM_CLOSED, "HEADERS on a closed stream");
		return -1;
	}
	if (t == NULL && c->role == H2_SERVER) {
		c->last_peer_id = id;
		is_new = 1;
		refuse = c->draining || c->nstreams >= H2_SERVER_STREAMS;
	} else if (t != NULL && t->end_recv) {
		tun_end(t, 1, H2_STREAM_CLOSED, "HEADERS after END_STREAM");
		t = NULL;
	}
	h2_fields_init(&fs, c->role == H2_SERVER ? &req : NULL);
	/* Decoded whatever we do with it: the table must stay in step. */
	r = hpack_decode(c->dec, block, len, c->max_list, h2_fields_add, &fs,
	    &why);
	ev_spend(fs.decoded);
	if (r == HPACK_ERR_COMPRESSION) {
		conn_fail(c, H2_COMPRESSION_ERROR, why);
		return -1;
	}
	if (is_new && (refuse || r == HPACK_ERR_TOO_BIG)) {
		if (r == HPACK_ERR_TOO_BIG)
			send_status(c, id, 431, 1);
		send_rst(c, id, refuse ? H2_REFUSED_STREAM : H2_NO_ERROR);
		return flood(c, refused_cost(&fs));
	}
	if (is_new)
		return on_request(c, id, &fs, (flags & H2_END_STREAM) != 0);
	if (t == NULL)
		return 0;		/* an answer to a stream we gave up */
	if (r == HPACK_ERR_TOO_BIG) {
		tun_end(t, 1, H2_PROTOCOL_ERROR, "response headers too big");
		return 0;
	}
	if (c->role == H2_SERVER) {	/* trailers on a request */
		if (!(flags & H2_END_STREAM)) {
			tun_end(t, 1, H2_PROTOCOL_ERROR, "HEADERS mid-stream");
			return 0;
		}
		t->end_recv = 1;
		(void)tun_flush(t);
		return 0;
	}
	on_response(t, &fs, (flags & H2_END_STREAM) != 0);
	return 0;
}

/* HEADERS or CONTINUATION: join them; a block may not pass twice the
 * header list we allow (endless CONTINUATION is the attack). */
static int
on_headers(struct h2conn *c, const struct h2_frame_hdr *h, const uint8_t *p)
{
	const uint8_t	*block;
	size_t		 len, limit = 2 * (size_t)c->max_list;
	enum h2_error	 err;
	uint8_t		*nb;

	if (h->type == H2_HEADERS) {
		if ((err = h2_unpad(h, p, &block, &len)) != H2_NO_ERROR) {
			conn_fail(c, err, "bad HEADERS padding");
			return -1;
		}
		if (h->flags & H2_END_HEADERS)
			return on_header_block(c, h->stream, h->flags, block,
			    len);
		c->in_block = 1;
		c->hbstream = h->stream;
		c->hbflags = h->flags;
		c->hblen = 0;
	} else {
		if (!c->in_block) {
			conn_fail(c, H2_PROTOCOL_ERROR,
			    "CONTINUATION without HEADERS");
			return -1;
		}
		block = p;
		len = h->len;
		if (len == 0 && flood(c, 1) == -1)
			return -1;
	}
	if (c->hblen + len > limit) {
		conn_fail(c, H2_ENHANCE_YOUR_CALM, "header block too big");
		return -1;
	}
	if ((nb = realloc(c->hb, c->hblen + len + 1)) == NULL) {
		conn_fail(c, H2_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	c->hb = nb;
	memcpy(c->hb + c->hblen, block, len);
	c->hblen += len;
	if (!(h->flags & H2_END_HEADERS))
		return 0;
	c->in_block = 0;
	return on_header_block(c, c->hbstream, c->hbflags, c->hb, c->hblen);
}

static int
on_rst(struct h2conn *c, const struct h2_frame_hdr *h, const uint8_t *p)
{
	struct h2tun	*t = tun_find(c, h->stream);
	uint32_t	 code = h2_get32(p);
	char		 why[40];
	int		 early;

	if (t == NULL) {
		if (stream_idle(c, h->stream)) {
			conn_fail(c, H2_PROTOCOL_ERROR,
			    "RST_STREAM on an idle stream");
			return -1;
		}
		return flood(c, 1);
	}
	/* Reset before the answer: the rapid-reset attack's shape, and an
	 * upstream connect made for nothing. */
	early = t->state == T_CONNECTING;
	/* What the socket has not taken is lost; a FIN for the rest. */
	t->end_sent = t->end_recv = 1;
	if (t->piped == 0 && t->pend.len == 0 && !t->fd_shut) {
		t->fd_shut = 1;
		(void)shutdown(t->fd, SHUT_WR);
	}
	snprintf(why, sizeof(why), "peer reset (%s)", code == H2_NO_ERROR ?
	    "NO_ERROR" : code == H2_CANCEL ? "CANCEL" : "error");
	tun_end(t, 0, H2_NO_ERROR, why);
	return flood(c, early ? EARLY_RESET_COST : 1);
}

static int
on_settings(struct h2conn *c, const struct h2_frame_hdr *h, const uint8_t *p)
{
	struct h2_settings	 s = c->peer;
	struct h2tun		*t;
	enum h2_error		 err;
	int64_t			 delta;
	uint8_t			*o;

	if (h->flags & H2_ACK) {
		/* An ACK for nothing we sent is no answer but a cost (as
		 * nghttp2 and the h2 crate treat it). */
		if (c->settings_out == 0) {
			conn_fail(c, H2_PROTOCOL_ERROR,
			    "SETTINGS ACK for no SETTINGS");
			return -1;
		}
		c->settings_out--;
		c->settings_acked = 1;
		return 0;
	}
	if (c->settings_recv && flood(c, 1) == -1)
		return -1;
	if ((err = h2_settings_decode(p, h->len, &s)) != H2_NO_ERROR) {
		conn_fail(c, err, "bad SETTINGS");
		return -1;
	}
	if (c->role == H2_CLIENT && s.enable_push != 0 &&
	    s.enable_push != c->peer.enable_push) {
		conn_fail(c, H2_PROTOCOL_ERROR, "server enabled push");
		return -1;
	}
	delta = (int64_t)s.initial_window_size -
	    (int64_t)c->peer.initial_window_size;
	TAILQ_FOREACH(t, &c->tuns, entry) {
		t->send_win += delta;
		if (t->send_win > H2_MAX_WINDOW) {
			conn_fail(c, H2_FLOW_CONTROL_ERROR,
			    "SETTINGS overflows a window");
			return -1;
		}
	}
	c->peer = s;
	c->settings_recv = 1;
	if ((o = out_reserve(c, H2_FRAME_HDR)) == NULL)
		return -1;
	c->out.len += h2_put_settings_ack(o, H2_FRAME_HDR);
	if (delta > 0)
		c->win_blocked = 1;	/* more room for every stream */
	return 0;
}

static int
on_ping(struct h2conn *c, const struct h2_frame_hdr *h, const uint8_t *p)
{
	if (!(h->flags & H2_ACK)) {
		if (flood(c, 1) == -1)
			return -1;
		send_ping(c, 1, p);
		return 0;
	}
	if (!c->ping_out || memcmp(p, c->ping_data, 8) != 0)
		return flood(c, 1);	/* an answer to nothing we asked */
	c->ping_out = 0;
	if (c->drain_ping) {
		/* The drain's round trip: now the real last id. */
		c->drain_ping = 0;
		send_goaway(c, c->last_peer_id, H2_NO_ERROR);
	}
	return 0;
}

static int
on_goaway(struct h2conn *c, const uint8_t *p)
{
	struct h2tun	*t, *next;
	uint32_t	 last = h2_get32(p) & 0x7fffffffu;
	uint32_t	 code = h2_get32(p + 4);

	if (c->goaway_recv && last > c->goaway_last) {
		conn_fail(c, H2_PROTOCOL_ERROR, "GOAWAY raised its last id");
		return -1;
	}
	if (code != H2_NO_ERROR)
		c->peer_error = (int)(code & 0x7fffffff);
	c->goaway_recv = 1;
	c->goaway_last = last;
	/* Ours past its last id were never seen: they fail. */
	for (t = TAILQ_FIRST(&c->tuns); t != NULL && !c->closed; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (c->role == H2_CLIENT && t->id > last)
			tun_end(t, 0, H2_NO_ERROR, "refused by GOAWAY");
	}
	return flood(c, 1);
}

static int
on_window(struct h2conn *c, const struct h2_frame_hdr *h, const uint8_t *p)
{
	uint32_t	 inc = h2_get32(p) & 0x7fffffffu;
	struct h2tun	*t;

	/* Paid back by the DATA we send (flood_refund): a peer that only
	 * opens windows it never needed runs its budget out. */
	if (flood(c, 1) == -1)
		return -1;
	if (h->stream == 0) {
		if (inc == 0) {
			conn_fail(c, H2_PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
			return -1;
		}
		c->send_win += inc;
		if (c->send_win > H2_MAX_WINDOW) {
			conn_fail(c, H2_FLOW_CONTROL_ERROR,
			    "connection window past 2^31-1");
			return -1;
		}
		c->win_blocked = 1;
		return 0;
	}
	if ((t = tun_find(c, h->stream)) == NULL) {
		if (stream_idle(c, h->stream)) {
			conn_fail(c, H2_PROTOCOL_ERROR,
			    "WINDOW_UPDATE on an idle stream");
			return -1;
		}
		return 0;
	}
	if (inc == 0) {
		tun_end(t, 1, H2_PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
		return 0;
	}
	t->send_win += inc;
	if (t->send_win > H2_MAX_WINDOW) {
		tun_end(t, 1, H2_FLOW_CONTROL_ERROR, "stream window past 2^31-1");
		return 0;
	}
	tun_pump(c, t);
	return 0;
}

static int
on_frame(struct h2conn *c, const struct h2_frame_hdr *h, const uint8_t *p)
{
	enum h2_error err;

	if (c->in_block && (h->type != H2_CONTINUATION ||
	    h->stream != c->hbstream)) {
		conn_fail(c, H2_PROTOCOL_ERROR, "header block interrupted");
		return -1;
	}
	if (!c->settings_recv && h->type != H2_SETTINGS) {
		conn_fail(c, H2_PROTOCOL_ERROR, "first frame not SETTINGS");
		return -1;
	}
	if ((err = h2_check(h, H2_OUR_FRAME_SIZE)) != H2_NO_ERROR) {
		conn_fail(c, err, "malformed frame");
		return -1;
	}
	switch (h->type) {
	case H2_DATA:
		return on_data(c, h, p);
	case H2_HEADERS:
	case H2_CONTINUATION:
		return on_headers(c, h, p);
	case H2_RST_STREAM:
		return on_rst(c, h, p);
	case H2_SETTINGS:
		return on_settings(c, h, p);
	case H2_PING:
		return on_ping(c, h, p);
	case H2_GOAWAY:
		return on_goaway(c, p);
	case H2_WINDOW_UPDATE:
		return on_window(c, h, p);
	case H2_PRIORITY:
	case H2_PUSH_PROMISE:		/* refused by h2_check */
	default:
		return flood(c, 1);	/* PRIORITY and unknown: ignored */
	}
}

/* ---- DATA payloads by splice ------------------------------------------ */

/*
 * The tunnel a DATA frame's payload can be spliced to: the frame is
 * whole but for a payload of SPLICE_MIN or more still in the socket, it
 * is in both windows, unpadded, and for an open stream that keeps
 * nothing back.  Every other frame, and every frame that is refused,
 * goes the usual way (on_data), whole.
 */
static struct h2tun *
splice_target(struct h2conn *c, const struct h2_frame_hdr *h)
{
	struct h2tun *t;

	if (h->type != H2_DATA || (h->flags & H2_PADDED) ||
	    H2_FRAME_HDR + h->len - c->in.len < SPLICE_MIN ||
	    c->recv_win < (int64_t)h->len)
		return NULL;
	t = tun_find(c, h->stream);
	if (t == NULL || t->state != T_OPEN || t->end_recv ||
	    t->pend.len > 0 || t->recv_win < (int64_t)h->len)
		return NULL;
	/* The tunnel's pipe, kept while it lives; none to be had (out of
	 * descriptors): copied. */
	if (t->pipe[0] == -1 && pipe_open(t->pipe) == -1)
		return NULL;
	return t;
}

/* The frame's header and the payload read with it are in the buffer:
 * account for the whole frame, pass on what is here, and leave the
 * rest to splice_step(). */
static void
splice_start(struct h2conn *c, struct h2tun *t, const struct h2_frame_hdr *h)
{
	size_t		 have = c->in.len - H2_FRAME_HDR;
	const uint8_t	*p = c->in.p + c->in.off + H2_FRAME_HDR;

	c->recv_win -= h->len;
	t->recv_win -= h->len;
	ev_spend(FRAME_WORK_MIN);
	c->sp_tun = t;
	c->sp_left = h->len - have;
	c->sp_end = (h->flags & H2_END_STREAM) != 0;
	c->hdr_reads = 1;
	/* A tunnel that ends here is dropped from sp_tun by tun_close. */
	(void)tun_deliver(t, p, have);
	buf_drop(&c->in, c->in.len);
}

/* The payload is all in: the stream's end, if it carried it. */
static void
splice_done(struct h2conn *c)
{
	struct h2tun *t = c->sp_tun;

	c->sp_tun = NULL;
	if (t != NULL && c->sp_end) {
		t->end_recv = 1;
		(void)tun_flush(t);
	}
}

/*
 * More of a spliced payload out of the socket: into the tunnel's pipe
 * and on to its socket, while nothing is kept ahead of the pipe; else
 * (the pipe full, the socket slow) copied into what the tunnel keeps,
 * after the pipe's bytes; or dropped, the tunnel gone, its window given
 * back.  1: more may come at once; 0: wait for the socket; -1: the
 * connection ended.
 */
static int
splice_step(struct h2conn *c)
{
	struct h2tun	*t = c->sp_tun;
	struct buf	*into;
	size_t		 want = c->sp_left;
	ssize_t		 n;

	if (t != NULL && t->pend.len == 0) {
		n = splice(c->fd, NULL, t->pipe[1], NULL, want,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			t->piped += (size_t)n;
			c->sp_left -= (size_t)n;
			(void)tun_flush(t);
			goto moved;
		}
		if (n == -1 && errno == EINTR)
			return 1;
		if (n == -1 && errno == EAGAIN && t->piped == 0)
			return 0;	/* an empty pipe: the socket is */
		if (n == 0 || errno != EAGAIN)
			goto failed;
		/* The pipe is full, or the socket empty: copy to find out. */
	}
	into = t != NULL ? &t->pend : &c->in;
	if (want > CHUNK)
		want = CHUNK;
	if (buf_reserve(into, want, H2_STREAM_WINDOW + 2 * CHUNK) == -1) {
		conn_fail(c, H2_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	n = recv(c->fd, buf_tail(into), want, MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return errno == EINTR;
	if (n <= 0)
		goto failed;
	ev_spend((size_t)n);
	c->sp_left -= (size_t)n;
	if (t == NULL)
		give_back(c, NULL, (size_t)n);	/* dropped */
	else
		t->pend.len += (size_t)n;
moved:
	if (c->sp_left == 0)
		splice_done(c);
	return 1;
failed:
	conn_fail(c, H2_NO_ERROR, n == 0 ? "peer closed" : strerror(errno));
	return -1;
}

/* ---- frames in, whole ------------------------------------------------- */

/* Whole frames out of the input buffer, while the quantum lasts (what
 * it leaves stays buffered); a DATA frame that can be is left to
 * splice_step() after its header.  -1: the connection ended. */
static int
conn_parse(struct h2conn *c)
{
	struct h2_frame_hdr	 h;
	const uint8_t		*p;
	struct h2tun		*t;

	if (c->in.len == 0)
		return 0;		/* nothing read yet, maybe no buffer */
	if (!c->preface_ok) {
		size_t n = c->in.len < H2_PREFACE_LEN ? c->in.len :
		    H2_PREFACE_LEN;

		/* Refused at the first wrong byte, not after 24. */
		if (memcmp(c->in.p + c->in.off, H2_PREFACE, n) != 0) {
			conn_fail(c, H2_PROTOCOL_ERROR, "bad preface");
			return -1;
		}
		if (n < H2_PREFACE_LEN)
			return 0;
		buf_drop(&c->in, H2_PREFACE_LEN);
		c->preface_ok = 1;
	}
	while (c->in.len >= H2_FRAME_HDR && !ev_exhausted()) {
		p = c->in.p + c->in.off;
		h2_hdr_decode(p, &h);
		if (h.len > H2_OUR_FRAME_SIZE) {
			conn_fail(c, H2_FRAME_SIZE_ERROR, "frame too big");
			return -1;
		}
		if (c->in.len < H2_FRAME_HDR + h.len) {
			if ((t = splice_target(c, &h)) != NULL)
				splice_start(c, t, &h);
			else
				c->hdr_reads = 0;	/* read it whole */
			break;
		}
		buf_drop(&c->in, H2_FRAME_HDR + h.len);
		/* A DATA payload counts as it is delivered; the rest by its
		 * size, and no frame for nothing. */
		ev_spend(h.type == H2_DATA ? FRAME_WORK_MIN :
		    H2_FRAME_HDR + h.len < FRAME_WORK_MIN ? FRAME_WORK_MIN :
		    H2_FRAME_HDR + h.len);
		if (on_frame(c, &h, p + H2_FRAME_HDR) == -1 || c->closed)
			return -1;
		if (c->failing != NULL) {
			conn_fail(c, c->fail_code, c->failing);
			return -1;
		}
	}
	return 0;
}

/* Room to read into: the whole of the next frame at least. */
static int
in_room(struct h2conn *c)
{
	struct h2_frame_hdr	h;
	size_t			need = IN_START;

	/* Until the preface is whole, its bytes are no frame header (read
	 * as one, "PRI" asks for 5 MB). */
	if (c->preface_ok && c->in.len >= H2_FRAME_HDR) {
		h2_hdr_decode(c->in.p + c->in.off, &h);
		need = H2_FRAME_HDR + h.len;
	}
	if (c->in.cap == c->in.off + c->in.len && c->in.cap >= IN_START &&
	    c->in.cap < IN_BULK)
		need = IN_BULK;		/* a full read: a bulk flow */
	if (need < c->in.len + 4096)
		need = c->in.len + 4096;
	return buf_reserve(&c->in, need - c->in.len,
	    H2_FRAME_HDR + H2_OUR_FRAME_SIZE + IN_BULK);
}

/*
 * Handle what is buffered, then read more, until EAGAIN or the end of
 * the quantum; then the loop calls us again.  While DATA payloads move
 * by splice, a read takes one frame header at a time, so that the next
 * payload is still in the socket to be spliced.
 */
static void
conn_read(struct h2conn *c)
{
	size_t	room;
	ssize_t	n;

	while (!c->closed) {
		if (ev_exhausted()) {
			ev_io_again(&c->io, EPOLLIN);
			return;
		}
		if (c->sp_left > 0) {
			if (splice_step(c) <= 0)
				return;
			continue;
		}
		if (conn_parse(c) == -1 || c->closed)
			return;
		if (c->sp_left > 0)
			continue;
		if (ev_exhausted()) {
			ev_io_again(&c->io, EPOLLIN);
			return;
		}
		if (in_room(c) == -1) {
			conn_fail(c, H2_INTERNAL_ERROR, "out of memory");
			return;
		}
		room = c->in.cap - c->in.off - c->in.len;
		if (c->hdr_reads && c->in.len < H2_FRAME_HDR)
			room = H2_FRAME_HDR - c->in.len;
		n = recv(c->fd, buf_tail(&c->in), room, MSG_DONTWAIT);
		if (n > 0) {
			c->in.len += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		conn_fail(c, H2_NO_ERROR, n == 0 ? "peer closed" :
		    strerror(errno));
		return;
	}
}

/* ---- the connection --------------------------------------------------- */

/*
 * A spliced payload's turn: what is queued ahead of it, then the
 * payload from the pipe.  0: it is gone, or the socket is full
 * (c->writable is 0 then); -1 if the socket is broken.
 */
static int
out_splice(struct h2conn *c)
{
	ssize_t n;

	while (c->so_left > 0) {
		if (c->so_mark > 0)
			n = send(c->fd, c->out.p + c->out.off, c->so_mark,
			    MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE);
		else
			n = splice(c->opipe[0], NULL, c->fd, NULL, c->so_left,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK |
			    (c->out.len > 0 ? SPLICE_F_MORE : 0));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			c->writable = 0;
			return 0;
		}
		if (n <= 0)
			return -1;
		ev_spend((size_t)n);
		if (c->so_mark > 0) {
			buf_drop(&c->out, (size_t)n);
			c->so_mark -= (size_t)n;
		} else
			c->so_left -= (size_t)n;
	}
	return 0;
}

/* Write what is queued, without failing the connection: -1 if the
 * socket is broken. */
static int
out_write(struct h2conn *c)
{
	size_t	sent;
	int	r;

	if (!c->writable || c->connecting)
		return 0;
	if (c->so_left > 0) {
		if (out_splice(c) == -1)
			return -1;
		if (c->so_left > 0)
			return 0;	/* the socket is full */
	}
	r = buf_send(&c->out, c->fd, &sent);
	ev_spend(sent);
	if (r == 1)
		c->writable = 0;
	return r == -1 ? -1 : 0;
}

/*
 * Write what is queued; while the socket keeps taking it, the tunnels
 * that waited for room or for the connection's window go on (a loop, not
 * a recursion: a fast socket would otherwise go deep), until the quantum
 * is spent: then the loop brings us back to write what they made.
 */
static void
conn_flush(struct h2conn *c)
{
	struct h2tun *t, *next;

	while (!c->closed) {
		if (c->failing != NULL) {
			conn_fail(c, c->fail_code, c->failing);
			return;
		}
		if (out_write(c) == -1) {
			conn_fail(c, H2_NO_ERROR, strerror(errno));
			return;
		}
		if (!(c->out_blocked || c->win_blocked) || c->so_left > 0 ||
		    out_queued(c) >= OUT_HWM / 2 || c->send_win <= 0)
			return;
		if (ev_exhausted()) {
			ev_io_again(&c->io, EPOLLOUT);
			return;
		}
		c->out_blocked = c->win_blocked = 0;
		for (t = TAILQ_FIRST(&c->tuns); t != NULL && !c->closed;
		    t = next) {
			next = TAILQ_NEXT(t, entry);
			tun_pump(c, t);
		}
	}
}

static void
conn_free(void *arg)
{
	struct h2conn *c = arg;

	pipe_close(c->opipe);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->hb);
	free(c->dec);
	free(c);
}

/* The one way out: GOAWAY (best effort), every tunnel ended, the socket
 * closed, the owner told. */
static void
conn_fail(struct h2conn *c, enum h2_error err, const char *why)
{
	struct h2conn_end	 end;
	struct h2tun		*t;

	if (c->closed)
		return;
	c->closed = 1;		/* from here, nothing new is queued */
	if ((err != H2_NO_ERROR || c->preface_ok) &&
	    buf_reserve(&c->out, 17, OUT_MAX + CHUNK + 17) == 0)
		c->out.len += h2_put_goaway(buf_tail(&c->out), 17,
		    c->last_peer_id, err);
	while ((t = TAILQ_FIRST(&c->tuns)) != NULL)
		tun_close(t, why);
	ev_timer_stop(&c->timer);
	end.why = why;
	end.error = err;
	end.peer_error = c->peer_error;
	c->ops->conn_end(c->arg, c, &end);
	/*
	 * A lingering close, for up to LINGER_MS: what is queued (the
	 * GOAWAY last) goes out, then our FIN, while what the peer still
	 * sends is read and dropped.  Closing with unread input would send
	 * a reset, which can overtake the GOAWAY and lose the peer the
	 * reason; so would a FIN before it.
	 */
	c->lingering = 1;
	LIST_INSERT_HEAD(&lingering_conns, c, linger_entry);
	ev_timer_at(&c->timer, monotonic_ms() + LINGER_MS);
	linger(c);
}

/* Write what is queued, then the FIN; drop what the peer sends until
 * its EOF, or the deadline. */
static void
linger(struct h2conn *c)
{
	char	buf[16384];
	ssize_t	n;

	if (out_write(c) == -1) {
		linger_end(c);
		return;
	}
	if (out_queued(c) == 0 && !c->shut_wr) {
		c->shut_wr = 1;
		(void)shutdown(c->fd, SHUT_WR);
	}
	for (;;) {
		if (ev_exhausted()) {
			ev_io_again(&c->io, EPOLLIN);
			return;
		}
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			ev_spend((size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		break;			/* EOF or an error: done */
	}
	linger_end(c);
}

static void
linger_end(struct h2conn *c)
{
	c->lingering = 0;
	LIST_REMOVE(c, linger_entry);
	ev_timer_stop(&c->timer);
	ev_io_close(&c->io);
	ev_defer_free(&c->dead, conn_free, c);
}

static void
on_conn(void *arg, uint32_t events)
{
	struct h2conn	*c = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (c->lingering) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			c->writable = 1;
		linger(c);
		return;
	}
	if (c->connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			conn_fail(c, H2_NO_ERROR, err == ECONNREFUSED ?
			    "connect refused" : strerror(err));
			return;
		}
		c->connecting = 0;
		conn_arm(c);
	}
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		c->writable = 1;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_read(c);
	if (!c->closed)
		conn_flush(c);
}

/* The next thing due: the connect, the settings ack, a PING, idleness. */
static void
conn_arm(struct h2conn *c)
{
	uint64_t now = monotonic_ms(), when;

	if (c->connecting)
		return;			/* armed for the connect already */
	when = c->ping_out ? c->ping_sent_ms + H2_PING_TIMEOUT_MS :
	    now + H2_PING_MS;
	if (!c->settings_acked && c->settings_sent_ms + H2_PING_TIMEOUT_MS <
	    when)
		when = c->settings_sent_ms + H2_PING_TIMEOUT_MS;
	if (c->idle_limit > 0 && c->nstreams == 0 &&
	    c->idle_since + c->idle_limit < when)
		when = c->idle_since + c->idle_limit;
	if (c->timer.armed && c->timer.when <= when)
		return;
	ev_timer_at(&c->timer, when);
}

static void
on_timer(void *arg)
{
	struct h2conn	*c = arg;
	uint64_t	 now = monotonic_ms();

	if (c->lingering) {
		linger_end(c);
		return;
	}
	if (c->connecting) {
		conn_fail(c, H2_NO_ERROR, "connect timed out");
		return;
	}
	if (!c->settings_acked &&
	    now >= c->settings_sent_ms + H2_PING_TIMEOUT_MS) {
		conn_fail(c, H2_SETTINGS_TIMEOUT, "SETTINGS never acked");
		return;
	}
	if (c->ping_out && now >= c->ping_sent_ms + H2_PING_TIMEOUT_MS) {
		conn_fail(c, H2_NO_ERROR, "keepalive PING unanswered");
		return;
	}
	if (c->idle_limit > 0 && c->nstreams == 0 &&
	    now >= c->idle_since + c->idle_limit) {
		conn_fail(c, H2_NO_ERROR, "idle");
		return;
	}
	if (!c->ping_out && now >= c->ping_sent_ms + H2_PING_MS)
		send_probe(c, now, 0);
	conn_arm(c);
	conn_flush(c);
}

/* The preface (client), our SETTINGS, the connection window. */
static int
conn_hello(struct h2conn *c)
{
	static const uint16_t cids[] = { H2_SET_ENABLE_PUSH,
	    H2_SET_INITIAL_WINDOW_SIZE, H2_SET_MAX_FRAME_SIZE,
	    H2_SET_MAX_HEADER_LIST_SIZE };
	static const uint32_t cvals[] = { 0, H2_STREAM_WINDOW,
	    H2_OUR_FRAME_SIZE, H2_CLIENT_HEADER_LIST };
	static const uint16_t sids[] = { H2_SET_MAX_CONCURRENT_STREAMS,
	    H2_SET_INITIAL_WINDOW_SIZE, H2_SET_MAX_FRAME_SIZE,
	    H2_SET_MAX_HEADER_LIST_SIZE };
	static const uint32_t svals[] = { H2_SERVER_STREAMS, H2_STREAM_WINDOW,
	    H2_OUR_FRAME_SIZE, H2_SERVER_HEADER_LIST };
	static const uint8_t preface[H2_PREFACE_LEN] = H2_PREFACE; /* no NUL */
	uint8_t *p;

	if ((p = out_reserve(c, 128)) == NULL)
		return -1;
	if (c->role == H2_CLIENT) {
		memcpy(p, preface, H2_PREFACE_LEN);	/* NOLINT(bugprone-not-null-terminated-result): bytes, not a string */
		c->out.len += H2_PREFACE_LEN;
		c->out.len += h2_put_settings(p + H2_PREFACE_LEN, 100, cids,
		    cvals, 4);
	} else
		c->out.len += h2_put_settings(p, 100, sids, svals, 4);
	c->settings_out = 1;
	send_window(c, 0, H2_CONN_WINDOW - H2_DEFAULT_WINDOW);
	c->recv_win = H2_CONN_WINDOW;
	c->settings_sent_ms = monotonic_ms();
	return 0;
}

struct h2conn *
h2conn_new(int fd, enum h2_role role, const struct h2conn_ops *ops,
    void *carg)
{
	struct h2conn	*c = NULL;
	int		 err, on = 1;

	/* Frames are small and answered: Nagle would hold a HEADERS back
	 * for the peer's delayed ACK, 40 ms a stream.  (A stream socket
	 * that is not TCP has no Nagle to turn off.) */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1 &&
	    errno != EOPNOTSUPP)
		goto fail;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->dec = malloc(sizeof(*c->dec))) == NULL)
		goto fail;
	TAILQ_INIT(&c->tuns);
	c->io.fd = -1;
	c->opipe[0] = c->opipe[1] = -1;
	c->fd = fd;
	c->role = role;
	c->ops = ops;
	c->arg = carg;
	c->peer_error = -1;
	hpack_dec_init(c->dec);
	h2_settings_default(&c->peer);
	c->send_win = H2_DEFAULT_WINDOW;
	c->max_list = role == H2_SERVER ? H2_SERVER_HEADER_LIST :
	    H2_CLIENT_HEADER_LIST;
	c->next_id = 1;
	c->preface_ok = role == H2_CLIENT;
	c->connecting = role == H2_CLIENT;
	c->writable = 1;
	c->idle_since = c->flood_ms = monotonic_ms();
	ev_timer_init(&c->timer, on_timer, c);
	if (conn_hello(c) == -1 ||
	    ev_io_add(&c->io, fd, IO_EVENTS, on_conn, c) == -1)
		goto fail;
	if (c->connecting)
		ev_timer_at(&c->timer, monotonic_ms() + H2_CONNECT_MS);
	else
		conn_arm(c);
	/* No write here: the caller must hold c before any callback can
	 * run; the first edge (writable) sends the preface. */
	return c;
fail:
	err = errno;
	if (c != NULL) {
		buf_free(&c->out);
		free(c->dec);
		free(c);
	}
	close(fd);
	errno = err;
	return NULL;
}

struct h2tun *
h2conn_tunnel(struct h2conn *c, int fd, const char *authority,
    const char *const *hdrs, size_t n, void *targ)
{
	const char	*f[2 * 8] = { NULL };
	struct h2tun	*t;
	size_t		 i;

	if (!h2conn_can_open(c) || n > 6) {
		close(fd);
		errno = EBUSY;
		return NULL;
	}
	if ((t = tun_new(c, c->next_id, fd, T_WAITING, targ)) == NULL) {
		close(fd);
		return NULL;
	}
	c->next_id += 2;
	f[0] = ":method";
	f[1] = "CONNECT";
	f[2] = ":authority";
	f[3] = authority;
	for (i = 0; i < 2 * n; i++)
		f[4 + i] = hdrs[i];
	send_headers(c, t->id, 0, f, n + 2);
	/* The socket may be writable with no edge to come: write now (the
	 * tunnel may end in it, and its owner be told, before we return). */
	conn_flush(c);
	return t;
}

void
h2conn_each(const struct h2conn *c, void (*fn)(void *, void *), void *arg)
{
	const struct h2tun *t;

	if (c->closed)
		return;
	TAILQ_FOREACH(t, &c->tuns, entry)
		fn(arg, t->arg);
}

void
h2conn_set_half_close(uint64_t ms)
{
	half_close_ms = ms;
}

void
h2conn_sock_states(const struct h2conn *c, struct sock_states *s)
{
	const struct h2tun *t;

	if (c->closed)
		return;
	sock_state_count(c->fd, s);
	TAILQ_FOREACH(t, &c->tuns, entry)
		sock_state_count(t->fd, s);
}

int
h2conn_can_open(const struct h2conn *c)
{
	uint32_t cap = c->peer.max_concurrent_streams;

	if (cap > H2_CLIENT_STREAMS)
		cap = H2_CLIENT_STREAMS;
	return c->role == H2_CLIENT && !c->closed && !c->goaway_recv &&
	    !c->draining && c->nstreams < cap && c->next_id < 0x7fffffffu;
}

unsigned
h2conn_streams(const struct h2conn *c)
{
	return c->nstreams;
}

void
h2conn_set_idle(struct h2conn *c, uint64_t ms)
{
	c->idle_limit = ms;
	conn_arm(c);
}

void
h2conn_close(struct h2conn *c, enum h2_error err, const char *why)
{
	conn_fail(c, err, why);
}

void
h2conn_reap(void)
{
	struct h2conn *c;

	while ((c = LIST_FIRST(&lingering_conns)) != NULL)
		linger_end(c);
}

void
h2conn_drain(struct h2conn *c)
{
	if (c->closed || c->draining)
		return;
	c->draining = 1;
	if (c->nstreams == 0) {
		conn_fail(c, H2_NO_ERROR, "drained");
		return;
	}
	if (c->role == H2_SERVER) {
		send_goaway(c, 0x7fffffffu, H2_NO_ERROR);
		if (!c->ping_out)
			send_probe(c, monotonic_ms(), 1);
		else	/* no PING of ours to wait for: the real id now */
			send_goaway(c, c->last_peer_id, H2_NO_ERROR);
	} else
		send_goaway(c, 0, H2_NO_ERROR);
	conn_flush(c);
}
