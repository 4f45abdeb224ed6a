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
 * operator gave (NULL: off), and that parsed. */
struct admin_surface {
	const char		*flag;		/* "--admin" */
	const char		*ztunnel;	/* "127.0.0.1:15000" */
	const char		*given;
	struct httpd_addr	 addr;
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
 * the requests in flight. */
void	admin_stop_listening(void);
void	admin_stop(void);

#endif
