/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_NOTIFY_H
#define COMMON_NOTIFY_H

/*
 * The service manager's readiness protocol (systemd's sd_notify), by
 * hand: one datagram with msg ("READY=1", "STOPPING=1") to the Unix
 * socket named by $NOTIFY_SOCKET (a path, or an abstract name written
 * with a leading '@').  Nothing to do, and 0, when it is not set.  -1
 * with errno set if it is set and the message could not be sent.
 */
int	notify_send(const char *msg);

#endif
