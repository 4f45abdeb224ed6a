/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ev.c: the event loop (see ev.h).  One per process, so its state is this
 * file's: the epoll set, the deadlines in time order, the signalfd, the
 * reserve descriptor, the objects waiting to be freed, and the work left
 * over from callbacks that spent their quantum.
 *
 * A turn of the loop: epoll_wait (without sleeping if work is left over),
 * the descriptors it reports, then the leftovers queued by the turn
 * before, then the deadlines that are due, then the deferred frees.  A
 * callback that queues itself again goes on the next turn's list, so a
 * busy peer gets one quantum per turn, like everyone else.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>

#include "ev.h"
#include "util.h"

#define EV_BATCH	64

TAILQ_HEAD(timerlist, ev_timer);

static struct {
	int			 epfd;
	int			 reserve_fd;	/* given up to shed a connection */
	int			 running, status;
	struct timerlist	 timers;	/* earliest first */
	struct ev_deferred	*deferred;
	/* Leftover work: queued during this turn (next), and queued by the
	 * turn before, being served now (now). */
	struct ev_iolist	 again[2];
	int			 next;		/* index of the next turn's list */
	/* The current call's quantum. */
	size_t			 spent;
	uint64_t		 slice_end_ns;
	/* Signals, read from a signalfd. */
	struct ev_io		 sigio;
	sigset_t		 sigs, oldmask;
	int			 nsig;
	struct {
		int		 sig;
		ev_signal_cb	*cb;
		void		*arg;
	}			 sigtab[EV_NSIGNALS];
} ev = { .epfd = -1, .reserve_fd = -1, .sigio = { .fd = -1 } };

static void	run_deferred(void);

int
ev_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	/* A peer that hangs up must never kill us: writes get EPIPE. */
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		return -1;
	TAILQ_INIT(&ev.timers);
	TAILQ_INIT(&ev.again[0]);
	TAILQ_INIT(&ev.again[1]);
	sigemptyset(&ev.sigs);
	if (sigprocmask(SIG_BLOCK, NULL, &ev.oldmask) == -1)
		return -1;
	if ((ev.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if ((ev.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	return 0;
}

void
ev_done(void)
{
	run_deferred();
	if (ev.sigio.fd != -1)
		close(ev.sigio.fd);
	if (ev.reserve_fd != -1)
		close(ev.reserve_fd);
	if (ev.epfd != -1)
		close(ev.epfd);
	ev.sigio.fd = ev.reserve_fd = ev.epfd = -1;
}

void
ev_stop(int status)
{
	ev.running = 0;
	ev.status = status;
}

/* --- descriptors -------------------------------------------------------- */

int
ev_io_add(struct ev_io *io, int fd, uint32_t events, ev_io_cb *cb,
    void *arg)
{
	struct epoll_event e = { .events = events, .data.ptr = io };

	if (epoll_ctl(ev.epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		return -1;
	io->again_list = NULL;
	io->again_events = 0;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	return 0;
}

int
ev_io_mod(struct ev_io *io, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = io };

	return epoll_ctl(ev.epfd, EPOLL_CTL_MOD, io->fd, &e);
}

static void
again_unlink(struct ev_io *io)
{
	if (io->again_list == NULL)
		return;
	TAILQ_REMOVE(io->again_list, io, again_entry);
	io->again_list = NULL;
	io->again_events = 0;
}

void
ev_io_del(struct ev_io *io)
{
	if (io->fd == -1)
		return;
	again_unlink(io);
	/* Cannot fail for a registered fd; if it did, the owner's close()
	 * takes the fd out of the set all the same. */
	(void)epoll_ctl(ev.epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fd = -1;
}

static void
io_close(struct ev_io *io, int sole)
{
	int fd = io->fd;

	if (fd == -1)
		return;
	/* Out of the set first, unless this is the file's last
	 * descriptor: close() releases the file, and the item with it.
	 * Otherwise close() alone leaves it there while another
	 * descriptor shares the open file, and one handed to the next
	 * instance of the daemon does. */
	if (sole) {
		again_unlink(io);
		io->fd = -1;
	} else
		ev_io_del(io);
	close(fd);
}

void
ev_io_close(struct ev_io *io)
{
	io_close(io, 0);
}

void
ev_io_close_sole(struct ev_io *io)
{
	io_close(io, 1);
}

/* --- fairness ------------------------------------------------------------ */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A fresh quantum, before each callback. */
static void
quantum_start(void)
{
	ev.spent = 0;
	ev.slice_end_ns = now_ns() + (uint64_t)EV_SLICE_US * 1000u;
}

void
ev_spend(size_t units)
{
	ev.spent += units;
}

int
ev_exhausted(void)
{
	return ev.spent >= EV_QUANTUM || now_ns() >= ev.slice_end_ns;
}

void
ev_io_again(struct ev_io *io, uint32_t events)
{
	struct ev_iolist	*next = &ev.again[ev.next];
	uint32_t		 had = io->again_events;

	if (io->fd == -1)
		return;
	if (io->again_list != next) {
		/* Queued for this turn and not served yet: it moves to the
		 * end of the next turn, with what it had. */
		again_unlink(io);
		TAILQ_INSERT_TAIL(next, io, again_entry);
		io->again_list = next;
	}
	io->again_events = had | events;
}

/* Call io for events (and whatever it had left over). */
static void
dispatch(struct ev_io *io, uint32_t events)
{
	events |= io->again_events;
	again_unlink(io);
	quantum_start();
	io->cb(io->arg, events);
}

/* The leftovers of the turn before (now), oldest first; what they queue
 * again waits for the next turn. */
static void
run_again(struct ev_iolist *now)
{
	struct ev_io *io;

	while (ev.running && (io = TAILQ_FIRST(now)) != NULL)
		dispatch(io, 0);
}

/* --- deadlines ---------------------------------------------------------- */

void
ev_timer_init(struct ev_timer *t, ev_timer_cb *cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
}

/*
 * Insert in time order, looking from the latest end: deadlines of one
 * kind are mostly armed with the same delay, so the place is almost
 * always the tail, and arming costs O(1).
 */
void
ev_timer_at(struct ev_timer *t, uint64_t when)
{
	struct ev_timer *after;

	ev_timer_stop(t);
	t->when = when;
	t->armed = 1;
	after = TAILQ_LAST(&ev.timers, timerlist);
	while (after != NULL && after->when > when)
		after = TAILQ_PREV(after, timerlist, entry);
	if (after == NULL)
		TAILQ_INSERT_HEAD(&ev.timers, t, entry);
	else
		TAILQ_INSERT_AFTER(&ev.timers, after, t, entry);
}

void
ev_timer_stop(struct ev_timer *t)
{
	if (!t->armed)
		return;
	TAILQ_REMOVE(&ev.timers, t, entry);
	t->armed = 0;
}

static int
next_timeout(void)
{
	struct ev_timer *t = TAILQ_FIRST(&ev.timers);

	return t == NULL ? -1 : ms_until(t->when, monotonic_ms());
}

/* Fire what is due; a callback may arm or stop any timer, itself too. */
static void
run_timers(void)
{
	uint64_t	 now = monotonic_ms();
	struct ev_timer	*t;

	while ((t = TAILQ_FIRST(&ev.timers)) != NULL && t->when <= now) {
		ev_timer_stop(t);
		quantum_start();
		t->cb(t->arg);
	}
}

/* --- signals ------------------------------------------------------------ */

static void
signal_read(void *arg, uint32_t events)
{
	struct signalfd_siginfo	si;
	int			i;

	(void)arg;
	(void)events;
	while (read(ev.sigio.fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		for (i = 0; i < ev.nsig; i++)
			if (ev.sigtab[i].sig == (int)si.ssi_signo)
				ev.sigtab[i].cb((int)si.ssi_signo,
				    ev.sigtab[i].arg);
}

int
ev_signal(int sig, ev_signal_cb *cb, void *arg)
{
	sigset_t	one;
	int		fd;

	if (ev.nsig == EV_NSIGNALS) {
		errno = ENOSPC;
		return -1;
	}
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigaddset(&ev.sigs, sig);
	/* Blocked, the signal waits in the signalfd for the loop. */
	if (sigprocmask(SIG_BLOCK, &one, NULL) == -1)
		return -1;
	fd = signalfd(ev.sigio.fd, &ev.sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		return -1;
	if (ev.sigio.fd == -1 &&
	    ev_io_add(&ev.sigio, fd, EPOLLIN, signal_read, NULL) == -1) {
		close(fd);
		return -1;
	}
	ev.sigtab[ev.nsig].sig = sig;
	ev.sigtab[ev.nsig].cb = cb;
	ev.sigtab[ev.nsig].arg = arg;
	ev.nsig++;
	return 0;
}

void
ev_signal_restore_mask(void)
{
	(void)sigprocmask(SIG_SETMASK, &ev.oldmask, NULL);
}

/* --- deferred frees ----------------------------------------------------- */

void
ev_defer_free(struct ev_deferred *d, ev_free_fn *fn, void *arg)
{
	d->fn = fn;
	d->arg = arg;
	d->next = ev.deferred;
	ev.deferred = d;
}

static void
run_deferred(void)
{
	struct ev_deferred *d;

	while ((d = ev.deferred) != NULL) {
		ev.deferred = d->next;
		d->fn(d->arg);
	}
}

/* --- the loop ----------------------------------------------------------- */

int
ev_run(void)
{
	struct epoll_event	 evs[EV_BATCH];
	struct ev_iolist	*now;
	struct ev_io		*io;
	int			 i, n;

	ev.running = 1;
	while (ev.running) {
		/* Leftover work waits only for what is ready now. */
		n = epoll_wait(ev.epfd, evs, EV_BATCH,
		    TAILQ_EMPTY(&ev.again[ev.next]) ? next_timeout() : 0);
		if (n == -1 && errno != EINTR)
			return -1;
		/* This turn serves what the last one queued; what this
		 * one queues goes on the other list. */
		now = &ev.again[ev.next];
		ev.next ^= 1;
		for (i = 0; i < n && ev.running; i++) {
			io = evs[i].data.ptr;
			/* Deleted earlier in this batch: its owner is
			 * still allocated (deferred), but done. */
			if (io->fd != -1)
				dispatch(io, evs[i].events);
		}
		run_again(now);
		run_timers();
		/* Only now is nothing in evs[] left to point at them. */
		run_deferred();
	}
	return ev.status;
}

/* --- accept ------------------------------------------------------------- */

int
ev_accept(int lfd, const char *busy)
{
	return ev_accept_peer(lfd, busy, NULL, NULL);
}

int
ev_accept_peer(int lfd, const char *busy, struct sockaddr *sa,
    socklen_t *len)
{
	int fd;

	for (;;) {
		fd = accept4(lfd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1)
			return fd;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EMFILE && errno != ENFILE)
			return -1;
		if (ev.reserve_fd != -1)
			close(ev.reserve_fd);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1) {
			char drain[512];

			if (busy != NULL)
				(void)send(fd, busy, strlen(busy),
				    MSG_NOSIGNAL | MSG_DONTWAIT);
			/* A FIN, not a reset: what it sent already is
			 * read and dropped before the close. */
			(void)shutdown(fd, SHUT_WR);
			(void)recv(fd, drain, sizeof(drain), MSG_DONTWAIT);
			close(fd);
		}
		ev.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		errno = EMFILE;
		return -1;
	}
}
