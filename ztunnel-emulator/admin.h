/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_ADMIN_H
#define ZT_ADMIN_H

/*
 * What an operator of ztunnel looks at, each off unless given an
 * ADDR:PORT (ztunnel's: admin 127.0.0.1:15000, metrics 15020, readiness
 * 15021), served from the daemon's own namespace:
 *   admin     /config_dump, POST /quitquitquit, POST /logging?level=
 *   metrics   /metrics, /stats/prometheus
 *   readiness /healthz/ready
 */
#include "httpd.h"

/* One surface: its flag, ztunnel's own address for it, what the
 * operator gave (NULL: off), and that parsed; and the listening socket
 * a previous instance handed over for that same address, if any. */
struct admin_surface {
	const char		*flag;		/* "--admin" */
	const char		*ztunnel;	/* "127.0.0.1:15000" */
	const char		*given;
	struct httpd_addr	 addr;
	int			 fd;		/* handed over; else -1 */
};

enum { ADMIN_ADMIN, ADMIN_METRICS, ADMIN_READY, ADMIN_N };

struct admin_opts {
	struct admin_surface	 s[ADMIN_N];
};

/* The three, off, with their flags and ztunnel's addresses. */
void	admin_opts_init(struct admin_opts *);
/* Parse what was given: -1 (a usage error) with *bad the surface. */
int	admin_parse(struct admin_opts *, const struct admin_surface **bad);
/* Bind and serve each given one, before anything else of the daemon's:
 * -1 with errno set and *bad the surface that failed, and none bound. */
int	admin_start(const struct admin_opts *, const struct admin_surface **bad);
/* Draining: stop listening (the next instance binds the ports), answer
 * the requests in flight.  Also what ends a handover: our copies of the
 * listening sockets close, the next instance's go on. */
void	admin_stop_listening(void);
/* Each surface that listens: its flag, the address as given, and its
 * socket (still ours), for a handover. */
typedef int	admin_listener_fn(void *arg, const char *flag,
		    const char *given, int fd);
int	admin_listeners(admin_listener_fn *, void *arg);
void	admin_stop(void);

#endif
