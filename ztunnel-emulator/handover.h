/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_HANDOVER_H
#define ZT_HANDOVER_H

#include <stdint.h>

#include "admin.h"
#include "control.h"

/*
 * --handover PATH: an upgrade that closes no listener and resets no
 * connection.  Beyond Istio, whose upgrade resets every long-lived
 * connection on the node: the running instance hands its live sockets to
 * the new one over a Unix socket at PATH, with SCM_RIGHTS.
 *
 * The new instance, at start: handover_connect() finds the running one
 * at PATH (or nobody: then it starts afresh) and receives its listening
 * sockets (the handover socket itself, the control socket, the admin
 * surfaces); handover_match() gives each to the option it serves, so
 * the program binds only what it was not handed; handover_take() then
 * receives every pod with its listeners, and every plain connection
 * with the bytes in its pipes, and commits each step.  A failure before
 * the pods' commit leaves the old instance serving everything: nothing
 * is half-moved.
 *
 * Every instance: handover_serve() listens at PATH (mode 0600; root or
 * our own uid only, checked both ways) for the next one.  Handing over,
 * it keeps serving until each step is committed, then closes its copies;
 * what it cannot hand over (HBONE connections: they drain with GOAWAY)
 * it drains, and done() runs when that is over, to exit.
 */

#define HANDOVER_STEP_MS	5000	/* each answer of the exchange */

/* What a new instance was handed before it binds anything. */
struct handover_taken {
	int	 connected;	/* an old instance is handing over */
	int	 handover_fd;	/* the listening socket at PATH, or -1 */
	int	 control_fd;	/* the control socket's, or -1 */
	char	 control_path[108];
	int	 admin_fd[ADMIN_N];	/* by surface, or -1 */
	char	 admin_given[ADMIN_N][64];
	char	 admin_flag[ADMIN_N][16];
};

/*
 * The new instance: connect to PATH and receive the listening sockets.
 * 0 with t->connected 1 (go on with handover_match() and
 * handover_take()), 0 with t->connected 0 (nobody at PATH: start
 * afresh), -1 (logged: the running instance refused us, is not ours, or
 * runs in another mode; it serves on, untouched).
 */
int	handover_connect(const char *path, int proxy, struct handover_taken *t);
/* Give each socket handed over to the option asking for the same
 * address; close the rest (the options that changed bind afresh). */
void	handover_match(struct handover_taken *t, struct control_opts *,
	    struct admin_opts *);
/* Something of ours failed before we took the pods (a surface that
 * could not be bound): tell the old instance, which serves on. */
void	handover_abort(const char *why);
/* Receive the pods and the connections; -1 if the exchange broke
 * (logged): before the pods' commit we have nothing and must exit,
 * after it we keep what we took. */
int	handover_take(int *have_pods);

/* Every instance: serve PATH (fd: the socket handed over, else -1 to
 * bind it).  done() runs from the loop once we have handed everything
 * over and drained the rest within deadline_ms.  -1 with errno set. */
int	handover_serve(const char *path, int fd, uint64_t deadline_ms,
	    void (*done)(void));
/* At exit: close the socket, remove its file if it is still ours. */
void	handover_stop(void);

#endif
