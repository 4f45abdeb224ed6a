/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_CONTROL_H
#define ZT_CONTROL_H

#include <sys/types.h>

#include "udsock.h"

struct control_opts {
	const char		*path;
	mode_t			 mode;
	int			 make_dir;	/* the default path: make its
						 * directory (0755) if missing */
	struct udsock_allow	 allow;		/* --allow-uid */
	int			 fd;		/* the socket a previous instance
						 * handed over; else -1 */
};

/* Listen on the control socket and serve it from the event loop: add,
 * del and list requests (wire.h), one per connection.  -1 with errno set
 * (see udsock_listen). */
int	control_start(const struct control_opts *);
/* Draining: take no new peer; close the socket and remove its file (if
 * it is still ours); those in flight are answered. */
void	control_stop_listening(void);
/* Close every peer and the socket; remove the socket file. */
void	control_stop(void);
/* For a handover: the listening socket (still ours) and its path; -1 if
 * there is none.  control_forget() then closes our copy and leaves the
 * file to the next instance. */
int	control_listener(const char **path, int *fd);
void	control_forget(void);

#endif
