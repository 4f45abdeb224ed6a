/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linger.c: a lingering close (linger.h).  Each socket gets a record of
 * its own, on one list so linger_done() finds them all.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "ev.h"
#include "linger.h"
#include "util.h"

struct lingering {
	LIST_ENTRY(lingering)	 entry;
	struct ev_io		 io;
	struct ev_timer		 timer;
	struct ev_deferred	 dead;
};

static LIST_HEAD(, lingering) all = LIST_HEAD_INITIALIZER(all);
static unsigned n;

static void
end(struct lingering *l)
{
	LIST_REMOVE(l, entry);
	n--;
	ev_timer_stop(&l->timer);
	ev_io_close(&l->io);
	ev_defer_free(&l->dead, free, l);
}

static void
on_timer(void *arg)
{
	end(arg);
}

/* Drop what comes until EOF (or an error: the peer reset, nothing to
 * save), within the quantum. */
static void
on_read(void *arg, uint32_t events)
{
	struct lingering	*l = arg;
	char			 buf[16384];
	ssize_t			 r;

	(void)events;
	for (;;) {
		if (ev_exhausted()) {
			ev_io_again(&l->io, EPOLLIN);
			return;
		}
		r = recv(l->io.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0) {
			ev_spend((size_t)r);
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			return;
		break;
	}
	end(l);
}

void
linger_close(int fd)
{
	struct lingering *l;

	sock_drain(fd);
	if (shutdown(fd, SHUT_WR) == -1 || n >= LINGER_MAX ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return;
	}
	if (ev_io_add(&l->io, fd, EPOLLIN, on_read, l) == -1) {
		free(l);
		close(fd);
		return;
	}
	ev_timer_init(&l->timer, on_timer, l);
	ev_timer_at(&l->timer, monotonic_ms() + LINGER_MS);
	LIST_INSERT_HEAD(&all, l, entry);
	n++;
}

void
linger_side_end(struct ev_io *io, int fd, int done, int sole)
{
	if (!done) {
		ev_io_del(io);
		linger_close(fd);
	} else if (sole && io->fd == fd)
		ev_io_close_sole(io);
	else {
		ev_io_del(io);
		close(fd);
	}
}

unsigned
linger_count(void)
{
	return n;
}

void
linger_done(void)
{
	while (!LIST_EMPTY(&all))
		end(LIST_FIRST(&all));
}
