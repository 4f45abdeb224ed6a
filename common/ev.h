/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_EV_H
#define COMMON_EV_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

/*
 * The one event loop of each program, in the manner of event(3): modules
 * register their own descriptors, deadlines and signals with a callback
 * and an argument; main() sets up and calls ev_run(); nothing calls up.
 *
 * Descriptors are level-triggered.  Deadlines are absolute, on
 * monotonic_ms()'s clock; an idle program sleeps without a timeout.
 * Signals are read from a signalfd, so their callbacks run in the loop
 * like any other event.  Objects that an event of the current batch may
 * still name are freed through ev_defer_free(), after the batch.
 *
 * Fairness.  One loop carries every pod on the node, so no callback may
 * hold it.  Each call of a callback gets a quantum of work: EV_QUANTUM
 * units (a byte read, written or decoded; what a frame or a request costs
 * to handle, as its module counts it, with ev_spend()) or EV_SLICE_US of
 * time, whichever runs out first.  A reader asks ev_exhausted() as it
 * goes; one that stops with work left calls ev_io_again() and resumes on
 * the loop's next turn, after every descriptor that became ready
 * meanwhile, so a peer that never stops sending gets its turns and no
 * more.  No reader loops "until EAGAIN" on its own.
 */

typedef void	ev_io_cb(void *arg, uint32_t events);
typedef void	ev_timer_cb(void *arg);
typedef void	ev_signal_cb(int sig, void *arg);
typedef void	ev_free_fn(void *arg);

/* A descriptor in the epoll set; embed it in its owner. */
struct ev_io {
	int			 fd;		/* -1: not registered */
	ev_io_cb		*cb;
	void			*arg;
	/* ev_io_again(): on one of the loop's lists of leftover work. */
	TAILQ_ENTRY(ev_io)	 again_entry;
	struct ev_iolist	*again_list;	/* NULL: not queued */
	uint32_t		 again_events;
};
TAILQ_HEAD(ev_iolist, ev_io);

/* A one-shot deadline; embed it in its owner. */
struct ev_timer {
	TAILQ_ENTRY(ev_timer)	 entry;	/* the loop's list, earliest first */
	uint64_t		 when;
	ev_timer_cb		*cb;
	void			*arg;
	int			 armed;
};

/* A node of the deferred-free list; embed it in the object it frees. */
struct ev_deferred {
	struct ev_deferred	*next;
	ev_free_fn		*fn;
	void			*arg;
};

/* Create the epoll set and the reserve descriptor, ignore SIGPIPE.
 * -1 with errno set. */
int	ev_init(void);
/* Run until ev_stop(); returns its status. */
int	ev_run(void);
void	ev_stop(int status);
/* Close everything the loop itself holds; run the deferred frees. */
void	ev_done(void);

/* Register fd for events (EPOLLIN, EPOLLOUT...); -1 with errno set. */
int	ev_io_add(struct ev_io *io, int fd, uint32_t events, ev_io_cb *cb,
	    void *arg);
int	ev_io_mod(struct ev_io *, uint32_t events);
/* Forget the descriptor (the caller closes it): no callback for it runs
 * any more, not even one already in the current batch. */
void	ev_io_del(struct ev_io *);
/* The same, and close the descriptor (taken out of the set first:
 * close() alone would leave it there while another descriptor, say one
 * handed to another process, shares its open file). */
void	ev_io_close(struct ev_io *);
/* ev_io_close() for a descriptor that is the only one on its open file
 * (never duplicated, never passed to another process): close() alone
 * then takes it out of the set, one system call instead of two. */
void	ev_io_close_sole(struct ev_io *);

/* The work a callback may do per call: see "Fairness" above. */
#define EV_QUANTUM	((size_t)256 * 1024)
#define EV_SLICE_US	1000
/* Count units of work against the current call's quantum. */
void	ev_spend(size_t units);
/* The current call has spent its quantum or its time slice: stop, and
 * ev_io_again() if work is left. */
int	ev_exhausted(void);
/* Call io's callback again with events on the loop's next turn, after
 * the descriptors ready then (once, however often it is asked). */
void	ev_io_again(struct ev_io *, uint32_t events);

void	ev_timer_init(struct ev_timer *t, ev_timer_cb *cb, void *arg);
/* Arm (or move) the deadline to when (monotonic ms). */
void	ev_timer_at(struct ev_timer *, uint64_t when);
void	ev_timer_stop(struct ev_timer *);

/* Call cb in the loop whenever sig arrives.  Block the signals with
 * ev_signal() before starting threads or children; at most EV_NSIGNALS. */
#define EV_NSIGNALS	8
int	ev_signal(int sig, ev_signal_cb *cb, void *arg);
/* In a forked child, before exec: the signal mask the program started
 * with, not the loop's blocked signals. */
void	ev_signal_restore_mask(void);

/* Free arg with fn once the current batch of events is done. */
void	ev_defer_free(struct ev_deferred *d, ev_free_fn *fn, void *arg);

/*
 * accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) that never leaves a connection
 * queued because the program is out of descriptors (a level-triggered
 * listener would wake the loop again at once, forever): on EMFILE/ENFILE
 * the reserve descriptor is given up for a moment, the connection is
 * accepted, sent busy (if not NULL) and closed.  Returns the new
 * descriptor, or -1: errno EAGAIN when there is nothing (more) to accept,
 * EMFILE when one was shed, anything else for a real error.
 */
int	ev_accept(int lfd, const char *busy);
/* The same, with the peer's address in sa (as accept4's; *len in and
 * out): no getpeername() afterwards. */
int	ev_accept_peer(int lfd, const char *busy, struct sockaddr *sa,
	    socklen_t *len);

#endif
