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
struct admin_opts {
	const char	*admin;
	const char	*metrics;
	const char	*ready;
};

/* -1 with errno set, *which naming the surface that failed. */
int	admin_start(const struct admin_opts *, const char **which);
void	admin_stop(void);

#endif
