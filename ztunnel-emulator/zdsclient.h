/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_ZDSCLIENT_H
#define ZT_ZDSCLIENT_H

#include "udsock.h"

/* ztunnel's side of ZDS: connect to the node agent at path (and again
 * whenever it goes away), and take its pods, if the agent is root, our
 * own uid or one allow admits: whoever can bind that path while the real
 * agent is down must not be able to remove every pod. */
void	zdsclient_start(const char *path, const struct udsock_allow *allow);
void	zdsclient_stop(void);
/* Whether ZDS is on, the session is up, and its snapshot came whole
 * (SnapshotSent acknowledged) on the current session. */
void	zdsclient_status(int *on, int *connected, int *snapshot);

#endif
