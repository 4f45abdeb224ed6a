/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay.c: one session per proxied connection, in the manner of relayd:
 * both ends, a pipe per direction, and one way out (relay_end) that logs
 * once and frees everything.
 *
 * The kernel moves the bytes: splice(2) from one socket into the
 * direction's pipe, and from the pipe into the other socket, never
 * through our memory.  A direction ends when its source says EOF (or
 * resets) and its pipe has drained; then its destination gets a FIN
 * (shutdown SHUT_WR), so a half-closed connection stays half-open the
 * other way.  The session ends when both directions have (the second
 * FIN goes with the close), or when a write fails.  Like ztunnel, we
 * never send a reset on purpose: what the kernel still holds unread is
 * drained before the close.
 *
 * A bulk flow moves at most a quantum (ev.h) per wake-up, then waits its
 * turn: one busy connection never holds the loop the node shares.
 *
 * A session with one direction done and nothing moving the other way
 * for the half-close timeout is closed both ways (haproxy's client-fin
 * and server-fin): a peer whose FIN never comes, or whose FIN conntrack
 * lost, must not hold two sockets half-open for ever.
 */
#define LOG_TARGET "relay"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ev.h"
#include "linger.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "util.h"

#define PIPE_WANT	(1 << 20)	/* pipe-max-size's default */
#define RELAY_EVENTS	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

/* One direction: from src through the pipe into dst. */
struct half {
	int		 pipe[2];	/* [0] read end, [1] write end */
	size_t		 cap;		/* what the pipe holds */
	size_t		 held;		/* bytes in the pipe */
	int		 eof;		/* the source is done */
	int		 err;		/* ...by this error (0: a FIN) */
	int		 shut;		/* the destination got its FIN */
	uint64_t	 bytes;
};

struct relay {
	TAILQ_ENTRY(relay)	 entry;		/* stats->open */
	struct relay_stats	*stats;
	const char		*label;
	enum relay_dir		 dir;
	int			 cfd, ufd;	/* client, upstream: ours */
	struct ev_io		 c, u;		/* their watches; fd -1: not yet */
	struct ev_timer		 timer;		/* the connect's deadline, then
						 * the half-close timeout */
	uint64_t		 moved;		/* bytes when the timer was set */
	struct ev_deferred	 dead;
	int			 connecting;
	int			 again;		/* its quantum ran out: pump
						 * both ways next turn */
	int			 shared;	/* its sockets were handed over
						 * (or to us): another process
						 * may hold them too */
	struct half		 up, down;	/* client->upstream, back */
	union sockip		 src, dst;
	uint64_t		 start_ms;
	struct tcp_series	*series;
};

static void	on_client(void *, uint32_t);
static void	on_upstream(void *, uint32_t);
static void	on_timer(void *);

static uint64_t	half_close_ms = RELAY_HALF_CLOSE_MS;
static unsigned		nrelays;	/* open sessions, every pod's */

void
relay_init(uint64_t half_close)
{
	half_close_ms = half_close;
}
static void	relay_end(struct relay *, const char *how);

void
relay_stats_init(struct relay_stats *s)
{
	memset(s, 0, sizeof(*s));
	TAILQ_INIT(&s->open);
}

void
relay_stats_bytes(const struct relay_stats *s, uint64_t *in, uint64_t *out)
{
	const struct relay *r;

	*in = s->bytes_in;
	*out = s->bytes_out;
	TAILQ_FOREACH(r, &s->open, entry) {
		*in += r->up.bytes;
		*out += r->down.bytes;
	}
}

void
relay_each(const struct relay_stats *s, conn_view_fn *fn, void *arg)
{
	const struct relay	*r;
	struct conn_view	 v;

	TAILQ_FOREACH(r, &s->open, entry) {
		memset(&v, 0, sizeof(v));
		v.inbound = r->dir == RELAY_INBOUND;
		v.src = r->src;
		v.actual_dst = r->dst;
		/* Outbound it went where the app asked: say so, as ztunnel
		 * does for a passthrough. */
		if (!v.inbound)
			v.original_dst = r->dst;
		fn(arg, &v);
	}
}

void
relay_sock_states(const struct relay_stats *s, struct sock_states *st)
{
	const struct relay *r;

	TAILQ_FOREACH(r, &s->open, entry) {
		sock_state_count(r->cfd, st);
		sock_state_count(r->ufd, st);
	}
}

static void
half_init(struct half *h)
{
	h->pipe[0] = h->pipe[1] = -1;
	h->cap = PIPE_WANT;	/* what a pipe from the pool will hold */
}

/*
 * Pipes are held only while bytes wait in them: a half takes one from
 * the pool to read into, and gives it back once it is empty again.  An
 * idle connection holds none (four pipes of a megabyte each, their
 * rings allocated, were most of what an idle connection cost), and a
 * new one makes none while the pool has some (pipe2 and F_SETPIPE_SZ
 * were a good part of what opening one cost).  The pool keeps at most
 * POOL_MAX, and closes them all once none was asked for in POOL_IDLE_MS.
 */
#define POOL_MAX	64
#define POOL_IDLE_MS	2000

static struct {
	int		 fds[POOL_MAX][2];
	size_t		 cap[POOL_MAX];
	unsigned	 n;
	uint64_t	 last_get;
	struct ev_timer	 timer;
	int		 timer_init;
} pool;

/* A pipe of up to PIPE_WANT: fewer, larger splices and wake-ups for a
 * bulk flow.  Its pages are taken only as data sits in it. */
static int
pipe_open(struct half *h)
{
	int size;

	if (pipe2(h->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	size = fcntl(h->pipe[1], F_SETPIPE_SZ, PIPE_WANT);
	if (size == -1)
		size = fcntl(h->pipe[1], F_GETPIPE_SZ);
	h->cap = size > 0 ? (size_t)size : 65536;
	return 0;
}

static void
pool_trim(void *arg)
{
	uint64_t now = monotonic_ms();

	(void)arg;
	if (now - pool.last_get < POOL_IDLE_MS) {
		ev_timer_at(&pool.timer, pool.last_get + POOL_IDLE_MS);
		return;
	}
	while (pool.n > 0) {
		pool.n--;
		close(pool.fds[pool.n][0]);
		close(pool.fds[pool.n][1]);
	}
}

/* A pipe for h to read into: its own, one from the pool, or a new one. */
static int
pipe_get(struct half *h)
{
	if (h->pipe[0] != -1)
		return 0;
	pool.last_get = monotonic_ms();
	if (pool.n == 0)
		return pipe_open(h);
	pool.n--;
	h->pipe[0] = pool.fds[pool.n][0];
	h->pipe[1] = pool.fds[pool.n][1];
	h->cap = pool.cap[pool.n];
	return 0;
}

/* h's pipe is empty: back to the pool (closed if the pool is full). */
static void
pipe_put(struct half *h)
{
	if (h->pipe[0] == -1 || h->held != 0)
		return;
	if (pool.n < POOL_MAX) {
		pool.fds[pool.n][0] = h->pipe[0];
		pool.fds[pool.n][1] = h->pipe[1];
		pool.cap[pool.n] = h->cap;
		pool.n++;
		if (!pool.timer_init) {
			ev_timer_init(&pool.timer, pool_trim, NULL);
			pool.timer_init = 1;
		}
		if (!pool.timer.armed)
			ev_timer_at(&pool.timer, monotonic_ms() + POOL_IDLE_MS);
	} else {
		close(h->pipe[0]);
		close(h->pipe[1]);
	}
	h->pipe[0] = h->pipe[1] = -1;
}

/* The session ends: an empty pipe goes back, one with bytes is closed
 * (they are lost with the session). */
static void
pipe_drop(struct half *h)
{
	pipe_put(h);
	if (h->pipe[0] != -1) {
		close(h->pipe[0]);
		close(h->pipe[1]);
		h->pipe[0] = h->pipe[1] = -1;
	}
}

void
relay_pool_free(void)
{
	if (pool.timer_init)
		ev_timer_stop(&pool.timer);
	pool.last_get = 0;
	while (pool.n > 0) {
		pool.n--;
		close(pool.fds[pool.n][0]);
		close(pool.fds[pool.n][1]);
	}
}

int
relay_start(struct relay_stats *stats, const char *label, enum relay_dir dir,
    int client, int upstream, const union sockip *src,
    const union sockip *dst, struct tcp_series *series)
{
	struct relay	*r;
	int		 err;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto fail;
	half_init(&r->up);
	half_init(&r->down);
	r->c.fd = r->u.fd = -1;
	r->cfd = client;
	r->ufd = upstream;
	/* The upstream first: the client waits in the kernel until the
	 * upstream answers.  Watched as it will stay: the connect's end is
	 * its first edge. */
	if (ev_io_add(&r->u, upstream, RELAY_EVENTS, on_upstream, r) == -1)
		goto fail;
	r->connecting = 1;
	r->stats = stats;
	r->label = label;
	r->dir = dir;
	r->src = *src;
	r->dst = *dst;
	r->start_ms = monotonic_ms();
	ev_timer_init(&r->timer, on_timer, r);
	ev_timer_at(&r->timer, r->start_ms + RELAY_CONNECT_MS);
	/* The client is watched once the upstream is there. */
	TAILQ_INSERT_TAIL(&stats->open, r, entry);
	stats->nopen++;
	stats->total++;
	nrelays++;
	r->series = series;
	metrics_tcp_opened(series);
	return 0;
fail:
	err = errno;
	if (r != NULL) {
		ev_io_del(&r->u);
		free(r);
	}
	close(client);
	close(upstream);
	errno = err;
	return -1;
}

/* Move what can move in one direction, without blocking, within the
 * quantum: -1 if the destination is gone, -2 if no pipe could be had
 * (errno says why), 1 if the quantum ran out first (the caller asks to
 * be called again), else 0.  last: the other way is done, so this one's
 * end is the session's, and relay_end()'s close() sends the FIN. */
static int
half_pump(struct half *h, int from, int to, int last)
{
	ssize_t n;

	for (;;) {
		if (ev_exhausted())
			return 1;
		if (!h->eof && h->held < h->cap) {
			if (pipe_get(h) == -1)
				return -2;
			n = splice(from, NULL, h->pipe[1], NULL,
			    h->cap - h->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0)
				h->held += (size_t)n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				h->eof = 1;	/* EOF, or a reset: the same to us */
				h->err = n == 0 ? 0 : errno;
			}
		}
		if (h->held == 0) {
			pipe_put(h);	/* nothing waits: not ours to hold */
			break;
		}
		n = splice(h->pipe[0], NULL, to, NULL, h->held,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			h->held -= (size_t)n;
			h->bytes += (uint64_t)n;
			ev_spend((size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		return -1;		/* the destination is gone */
	}
	if (h->eof && h->held == 0 && !h->shut) {
		h->shut = 1;
		if (!last)
			(void)shutdown(to, SHUT_WR);
	}
	return 0;
}

#define SRC_EVENTS	(EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define DST_EVENTS	(EPOLLOUT | EPOLLHUP | EPOLLERR)
#define ALL_EVENTS	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/*
 * Whether an event can move anything in h: its source readable (or
 * done) with room in the pipe, or its destination writable with bytes
 * waiting.  An edge reports every bit that is ready, not only the one
 * that changed: a client's request arrives marked writable too, and
 * trying the reply direction then costs two splices that find nothing.
 */
static int
half_wants(const struct half *h, uint32_t src_ev, uint32_t dst_ev)
{
	return ((src_ev & SRC_EVENTS) && !h->eof && h->held < h->cap) ||
	    ((dst_ev & DST_EVENTS) && h->held > 0);
}

/* Move what the events of the client's socket (cev) and the upstream's
 * (uev) let move; 1 if that ended the session.  Work left when the
 * quantum ran out waits for the loop's next turn, both ways. */
static int
pump(struct relay *r, uint32_t cev, uint32_t uev)
{
	char	why[64];
	int	up = 0, down = 0;

	if (r->again) {
		r->again = 0;
		cev = uev = ALL_EVENTS;
	}
	if (half_wants(&r->up, cev, uev) &&
	    (up = half_pump(&r->up, r->cfd, r->ufd, r->down.shut)) < 0) {
		snprintf(why, sizeof(why), "%s: %s", up == -1 ? "upstream" :
		    "no pipe", strerror(errno));
		relay_end(r, why);
		return 1;
	}
	if (half_wants(&r->down, uev, cev) &&
	    (down = half_pump(&r->down, r->ufd, r->cfd, r->up.shut)) < 0) {
		snprintf(why, sizeof(why), "%s: %s", down == -1 ? "client" :
		    "no pipe", strerror(errno));
		relay_end(r, why);
		return 1;
	}
	if (r->up.shut && r->down.shut) {
		relay_end(r, "closed");
		return 1;
	}
	/* One way done: the other has the half-close timeout to move. */
	if ((r->up.shut || r->down.shut) && !r->timer.armed &&
	    half_close_ms > 0) {
		r->moved = r->up.bytes + r->down.bytes;
		ev_timer_at(&r->timer, monotonic_ms() + half_close_ms);
	}
	if (up == 1 || down == 1) {
		r->again = 1;
		ev_io_again(&r->c, EPOLLIN | EPOLLOUT);
	}
	return 0;
}

/* Move what can; a socket in error ends the session (what it still had
 * is lost).  One shut both ways (EPOLLHUP) needs nothing more: its peer's
 * FIN is in, so reading it ends in EOF, and the watch is edge-triggered,
 * so it does not wake us again. */
static void
pump_or_end(struct relay *r, uint32_t events, int fd, const struct half *from,
    const char *who)
{
	char		why[64];
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (pump(r, fd == r->cfd ? events : 0, fd == r->ufd ? events : 0) != 0 ||
	    !(events & EPOLLERR))
		return;
	/* Say what the socket says (a read may have taken it already):
	 * reset, or timed out (keepalive, the user timeout). */
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err == 0)
		err = from->err != 0 ? from->err : ECONNRESET;
	snprintf(why, sizeof(why), "%s: %s", who, strerror(err));
	relay_end(r, why);
}

static void
on_client(void *arg, uint32_t events)
{
	struct relay *r = arg;

	pump_or_end(r, events, r->cfd, &r->up, "client");
}

/* The upstream's first event: connected, or refused (an error or a
 * hang-up comes with it; only then is the socket asked why). */
static void
connected(struct relay *r, uint32_t events)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (events & (EPOLLERR | EPOLLHUP)) {
		if (getsockopt(r->ufd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		else if (err == 0)	/* hung up, and said no more */
			err = ECONNREFUSED;
	}
	if (err != 0) {
		relay_end(r, err == ECONNREFUSED ? "upstream refused" :
		    strerror(err));
		return;
	}
	r->connecting = 0;
	ev_timer_stop(&r->timer);
	/* Edge-triggered, both ways, for good (the upstream was watched so
	 * from its connect): pump() always goes on until the kernel says
	 * EAGAIN (or a pipe is full, and then the other side's edge brings
	 * us back), so no change of readiness is missed and the watch never
	 * needs changing. */
	if (ev_io_add(&r->c, r->cfd, RELAY_EVENTS, on_client, r) == -1) {
		relay_end(r, "epoll_ctl");
		return;
	}
	/* What the client sent while we connected goes now; the upstream
	 * is read only if this edge said it has bytes (any that come later
	 * bring an edge of their own). */
	(void)pump(r, ALL_EVENTS, events);
}

static void
on_upstream(void *arg, uint32_t events)
{
	struct relay *r = arg;

	if (r->connecting)
		connected(r, events);
	else
		pump_or_end(r, events, r->ufd, &r->down, "upstream");
}

static void
on_timer(void *arg)
{
	struct relay	*r = arg;
	char		 why[64];

	if (r->connecting) {
		relay_end(r, "upstream connect timed out");
		return;
	}
	/* Bytes moved meanwhile: it is not idle, look again later. */
	if (r->up.bytes + r->down.bytes != r->moved) {
		r->moved = r->up.bytes + r->down.bytes;
		ev_timer_at(&r->timer, monotonic_ms() + half_close_ms);
		return;
	}
	snprintf(why, sizeof(why), "half-closed, idle for %ju s",
	    (uintmax_t)(half_close_ms / 1000));
	relay_end(r, why);
}

static void
relay_free(void *arg)
{
	free(arg);
}

/* The one way out: log once, close everything, free after the batch. */
static void
relay_end(struct relay *r, const char *how)
{
	struct tcp_end end;

	/* A side still sending gets our FIN, never a reset (linger.h). */
	linger_side_end(&r->c, r->cfd, r->up.eof, !r->shared);
	linger_side_end(&r->u, r->ufd, r->down.eof || r->connecting,
	    !r->shared);
	ev_timer_stop(&r->timer);
	pipe_drop(&r->up);
	pipe_drop(&r->down);
	r->stats->bytes_in += r->up.bytes;
	r->stats->bytes_out += r->down.bytes;
	/* As ztunnel counts: received is what the client sent upstream. */
	end = (struct tcp_end){
		.flags = r->connecting ? METRICS_FLAGS_CONNECT :
		    METRICS_FLAGS_NONE,
		.received = r->up.bytes,
		.sent = r->down.bytes,
		.src = &r->src,
		.dst = &r->dst,
		.duration_ms = monotonic_ms() - r->start_ms,
		.error = strcmp(how, "closed") == 0 ? NULL : how,
	};
	metrics_tcp_closed(r->series, &end);
	r->stats->nopen--;
	nrelays--;
	TAILQ_REMOVE(&r->stats->open, r, entry);
	ev_defer_free(&r->dead, relay_free, r);
}

unsigned
relay_count(void)
{
	return nrelays;
}

/* --- handover ------------------------------------------------------------- */

static void
half_state(const struct half *h, struct relay_half_state *st)
{
	st->held = h->held;
	st->eof = h->eof;
	st->err = h->err;
	st->shut = h->shut;
	st->bytes = h->bytes;
}

void
relay_hold(struct relay_stats *s, relay_hold_fn *fn, void *arg)
{
	struct relay_state	 st;
	struct relay		*r;

	while ((r = TAILQ_FIRST(&s->open)) != NULL) {
		ev_io_del(&r->c);
		ev_io_del(&r->u);
		ev_timer_stop(&r->timer);
		TAILQ_REMOVE(&s->open, r, entry);
		s->nopen--;
		s->total--;
		nrelays--;
		r->stats = NULL;
		r->label = "(in transit)";
		memset(&st, 0, sizeof(st));
		st.dir = r->dir;
		st.src = r->src;
		st.dst = r->dst;
		st.connecting = r->connecting;
		st.age_ms = monotonic_ms() - r->start_ms;
		half_state(&r->up, &st.up);
		half_state(&r->down, &st.down);
		st.series = r->series;
		st.fds[0] = r->cfd;
		st.fds[1] = r->ufd;
		st.fds[2] = r->up.pipe[0];
		st.fds[3] = r->up.pipe[1];
		st.fds[4] = r->down.pipe[0];
		st.fds[5] = r->down.pipe[1];
		fn(arg, r, &st);
	}
}

void
relay_forget(struct relay *r)
{
	/* Shared with the other instance now: close() alone would leave
	 * them in our epoll set (see ev_io_close); they are out of it. */
	close(r->cfd);
	close(r->ufd);
	if (r->up.pipe[0] != -1) {	/* the other instance's now too */
		close(r->up.pipe[0]);
		close(r->up.pipe[1]);
	}
	if (r->down.pipe[0] != -1) {
		close(r->down.pipe[0]);
		close(r->down.pipe[1]);
	}
	ev_defer_free(&r->dead, relay_free, r);
}

/* Watch a held or adopted session again, and move what waits. */
static int
relay_watch(struct relay *r, struct relay_stats *s, const char *label)
{
	r->shared = 1;
	r->stats = s;
	r->label = label;
	TAILQ_INSERT_TAIL(&s->open, r, entry);
	s->nopen++;
	s->total++;
	nrelays++;
	if (r->connecting) {
		/* What is left of the connect's time, at least a second. */
		uint64_t age = monotonic_ms() - r->start_ms;

		ev_timer_at(&r->timer, monotonic_ms() + (age + 1000 <
		    RELAY_CONNECT_MS ? RELAY_CONNECT_MS - age : 1000));
		if (ev_io_add(&r->u, r->ufd, RELAY_EVENTS, on_upstream,
		    r) == -1)
			return -1;
		return 0;
	}
	if (ev_io_add(&r->u, r->ufd, RELAY_EVENTS, on_upstream, r) == -1 ||
	    ev_io_add(&r->c, r->cfd, RELAY_EVENTS, on_client, r) == -1)
		return -1;
	if ((r->up.shut || r->down.shut) && half_close_ms > 0) {
		r->moved = r->up.bytes + r->down.bytes;
		ev_timer_at(&r->timer, monotonic_ms() + half_close_ms);
	}
	/* Edge-triggered: whatever is ready now is reported once anyway,
	 * but bytes held in a pipe need no event to move. */
	r->again = 1;
	ev_io_again(&r->c, EPOLLIN | EPOLLOUT);
	return 0;
}

void
relay_resume(struct relay *r, struct relay_stats *s, const char *label)
{
	if (relay_watch(r, s, label) == -1)
		relay_end(r, "epoll_ctl");
}

static void
half_adopt(struct half *h, const struct relay_half_state *st, int rfd,
    int wfd)
{
	int size;

	h->pipe[0] = rfd;
	h->pipe[1] = wfd;
	/* None if it held nothing when it was handed over. */
	size = wfd != -1 ? fcntl(wfd, F_GETPIPE_SZ) : PIPE_WANT;
	h->cap = size > 0 ? (size_t)size : 65536;
	h->held = (size_t)st->held;
	h->eof = st->eof;
	h->err = st->err;
	h->shut = st->shut;
	h->bytes = st->bytes;
}

int
relay_adopt(struct relay_stats *s, const char *label,
    const struct relay_state *st)
{
	struct relay	*r;
	int		 i, err;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err = errno;
		for (i = 0; i < RELAY_NFDS; i++)
			close(st->fds[i]);
		errno = err;
		return -1;
	}
	r->c.fd = r->u.fd = -1;
	r->cfd = st->fds[0];
	r->ufd = st->fds[1];
	half_adopt(&r->up, &st->up, st->fds[2], st->fds[3]);
	half_adopt(&r->down, &st->down, st->fds[4], st->fds[5]);
	r->dir = st->dir;
	r->src = st->src;
	r->dst = st->dst;
	r->connecting = st->connecting;
	r->start_ms = monotonic_ms() - st->age_ms;
	r->series = st->series;
	ev_timer_init(&r->timer, on_timer, r);
	if (relay_watch(r, s, label) == -1) {
		err = errno;
		relay_end(r, "epoll_ctl");
		errno = err;
		return -1;
	}
	return 0;
}

void
relay_close_all(struct relay_stats *s, const char *why)
{
	struct relay *r;

	while ((r = TAILQ_FIRST(&s->open)) != NULL)
		relay_end(r, why);
}
