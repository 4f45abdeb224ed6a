/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control.c: the seed-protocol socket.  Each peer is one connection and one
 * request: read it (with the descriptor it carries), act, write one reply,
 * close.  Nothing here blocks: a peer that is slow or silent only runs out
 * its own deadline.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "fdpass.h"
#include "log.h"
#include "util.h"
#include "ztunnel.h"

static void	peer_read(struct ztunnel *, struct peer *);
static void	peer_write(struct ztunnel *, struct peer *);
static void	peer_close(struct ztunnel *, struct peer *);
static void	peer_reply(struct ztunnel *, struct peer *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	handle(struct ztunnel *, struct peer *,
		    const struct wire_req *);
static void	handle_add(struct ztunnel *, struct peer *);

void
control_accept(struct ztunnel *zt)
{
	struct peer	*p;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd, n;

	for (n = 0; n < ACCEPT_BATCH; n++) {
		fd = accept_or_shed(zt, zt->ctl_fd,
		    WIRE_ERROR "daemon is out of file descriptors\n");
		if (fd == -1)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
			log_warn("control: SO_PEERCRED");
			close(fd);
			continue;
		}
		/* A bound, not a queue: make room by dropping the oldest,
		 * which is the one nearest its deadline anyway. */
		if (zt->npeers >= CONTROL_MAX_PEERS) {
			p = TAILQ_FIRST(&zt->peers);
			log_warnx("control: too many peers, dropping pid %ld",
			    (long)p->pid);
			peer_reply(zt, p, WIRE_ERROR "daemon busy, try again");
			peer_close(zt, p);
		}
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			log_warn("control: peer");
			close(fd);
			continue;
		}
		p->src.kind = SRC_PEER;
		p->fd = fd;
		p->passfd = -1;
		p->uid = cred.uid;
		p->pid = cred.pid;
		p->deadline = monotonic_ms() + CONTROL_DEADLINE_MS;
		if (ev_watch(zt, fd, EPOLLIN, &p->src) == -1) {
			log_warn("control: epoll_ctl");
			close(fd);
			free(p);
			continue;
		}
		TAILQ_INSERT_TAIL(&zt->peers, p, entry);
		zt->npeers++;
		log_debug("control: peer pid %ld uid %ld connected",
		    (long)p->pid, (long)p->uid);
		/* Clients send right after connecting: read now rather than
		 * after another trip through epoll_wait. */
		peer_read(zt, p);
	}
}

void
control_event(struct ztunnel *zt, struct peer *p, uint32_t events)
{
	(void)events;
	if (p->fd == -1)
		return;		/* dropped earlier in this batch */
	if (p->out == NULL)
		peer_read(zt, p);
	else
		peer_write(zt, p);
}

static void
peer_read(struct ztunnel *zt, struct peer *p)
{
	struct wire_req	req;
	char		why[WIRE_REPLY_MAX];
	ssize_t		n;
	int		fd;

	for (;;) {
		if (p->inlen == sizeof(p->in)) {
			peer_reply(zt, p, WIRE_ERROR "request longer than %zu "
			    "bytes", sizeof(p->in));
			return;
		}
		n = fdpass_recv(p->fd, p->in + p->inlen,
		    sizeof(p->in) - p->inlen, &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			log_warnx("control: pid %ld: receive: %s",
			    (long)p->pid, fdpass_strerror(errno));
			peer_reply(zt, p, WIRE_ERROR "receive: %s",
			    fdpass_strerror(errno));
			return;
		}
		if (fd != -1 && p->passfd != -1) {
			close(fd);
			peer_reply(zt, p, WIRE_ERROR "more than one "
			    "descriptor attached");
			return;
		}
		if (fd != -1)
			p->passfd = fd;
		if (n == 0) {
			/* A connect-and-close (like a liveness probe) is
			 * not worth a line; half a request is. */
			if (p->inlen > 0 || p->passfd != -1)
				log_warnx("control: pid %ld hung up in the "
				    "middle of a request", (long)p->pid);
			peer_close(zt, p);
			return;
		}
		p->inlen += (size_t)n;
		switch (wire_parse(p->in, p->inlen, &req, why, sizeof(why))) {
		case WIRE_INCOMPLETE:
			continue;
		case WIRE_MALFORMED:
			log_warnx("control: pid %ld: %s", (long)p->pid, why);
			peer_reply(zt, p, WIRE_ERROR "%s", why);
			return;
		case WIRE_COMPLETE:
			handle(zt, p, &req);
			return;
		}
	}
}

static void
handle(struct ztunnel *zt, struct peer *p, const struct wire_req *req)
{
	switch (req->op) {
	case WIRE_OP_ADD:
		handle_add(zt, p);
		break;
	}
}

static void
handle_add(struct ztunnel *zt, struct peer *p)
{
	char err[WIRE_REPLY_MAX];

	log_debug("control: add from pid %ld uid %ld", (long)p->pid,
	    (long)p->uid);
	if (pod_add(zt, NULL, p->passfd, err, sizeof(err)) == -1) {
		peer_reply(zt, p, WIRE_ERROR "%s", err);
		return;
	}
	peer_reply(zt, p, WIRE_READY);
}

/* Queue one line and start writing it; the peer is closed once it is
 * written.  Only the first reply to a peer counts. */
static void
peer_reply(struct ztunnel *zt, struct peer *p, const char *fmt, ...)
{
	va_list	ap;
	char	line[WIRE_REPLY_MAX];
	int	n;

	if (p->out != NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if ((p->out = malloc((size_t)n)) == NULL) {
		peer_close(zt, p);
		return;
	}
	memcpy(p->out, line, (size_t)n);
	p->outlen = (size_t)n;
	p->outoff = 0;
	/* The descriptor has done its job (or failed to). */
	if (p->passfd != -1) {
		close(p->passfd);
		p->passfd = -1;
	}
	peer_write(zt, p);
	if (p->fd != -1 && ev_modify(zt, p->fd, EPOLLOUT, &p->src) == -1)
		peer_close(zt, p);
}

static void
peer_write(struct ztunnel *zt, struct peer *p)
{
	ssize_t n;

	while (p->outoff < p->outlen) {
		n = send(p->fd, p->out + p->outoff, p->outlen - p->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			/* EPIPE, ECONNRESET: the seed's client never reads
			 * and is usually gone by now. */
			log_debug("control: pid %ld: reply: %s", (long)p->pid,
			    strerror(errno));
			break;
		}
		p->outoff += (size_t)n;
	}
	peer_close(zt, p);
}

static void
peer_close(struct ztunnel *zt, struct peer *p)
{
	if (p->fd == -1)
		return;
	close(p->fd);
	p->fd = -1;
	if (p->passfd != -1)
		close(p->passfd);
	p->passfd = -1;
	TAILQ_REMOVE(&zt->peers, p, entry);
	zt->npeers--;
	TAILQ_INSERT_TAIL(&zt->dead_peers, p, entry);
}

/* Milliseconds until the next peer deadline, -1 if no peer is waiting:
 * an idle daemon sleeps without timers. */
int
control_timeout(struct ztunnel *zt, uint64_t now)
{
	struct peer *p = TAILQ_FIRST(&zt->peers);

	if (p == NULL)
		return -1;
	return p->deadline > now ? (int)(p->deadline - now) : 0;
}

void
control_expire(struct ztunnel *zt, uint64_t now)
{
	struct peer *p;

	/* Deadlines are set in accept order, so the list is sorted. */
	while ((p = TAILQ_FIRST(&zt->peers)) != NULL && p->deadline <= now) {
		log_warnx("control: pid %ld: no complete request within %d ms",
		    (long)p->pid, CONTROL_DEADLINE_MS);
		if (p->out == NULL)
			peer_reply(zt, p, WIRE_ERROR "timed out waiting for "
			    "the request");
		peer_close(zt, p);
	}
}

void
control_close_all(struct ztunnel *zt)
{
	struct peer *p;

	while ((p = TAILQ_FIRST(&zt->peers)) != NULL)
		peer_close(zt, p);
}

void
control_reap(struct ztunnel *zt)
{
	struct peer *p;

	while ((p = TAILQ_FIRST(&zt->dead_peers)) != NULL) {
		TAILQ_REMOVE(&zt->dead_peers, p, entry);
		free(p->out);
		free(p);
	}
}
