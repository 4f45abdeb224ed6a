/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_FDPASS_H
#define COMMON_FDPASS_H

#include <sys/types.h>
#include <sys/socket.h>

/*
 * Send and receive one message carrying at most one file descriptor
 * (SCM_RIGHTS) over a Unix socket.  This is the only code that touches
 * struct msghdr and control messages.
 *
 * Errors are -1 with errno set; besides the syscalls' own:
 *   EBADMSG   control data truncated (MSG_CTRUNC): the peer sent more
 *             descriptors than fit, or our descriptor table is full
 *   E2BIG     more than one descriptor arrived
 *   EPROTO    a control message other than SCM_RIGHTS arrived
 *   EMSGSIZE  a datagram did not fit the buffer (MSG_TRUNC)
 * Whatever descriptors arrived with a rejected message are closed before
 * returning, so on error the caller owns nothing.
 */

/* Send len bytes with fd attached (fd == -1: no descriptor).  Never raises
 * SIGPIPE.  Returns the bytes sent or -1. */
ssize_t		fdpass_send(int sock, const void *buf, size_t len, int fd);

/* Receive up to len bytes; *fdp becomes the close-on-exec descriptor that
 * came with them, or -1.  Returns the bytes read (0: end of stream) or -1. */
ssize_t		fdpass_recv(int sock, void *buf, size_t len, int *fdp);

/* The intake rule on its own, for any received msghdr: keep at most one
 * descriptor, close the rest, reject anything else (see above). */
int		fdpass_collect(const struct msghdr *msg, int *fdp);

/* A one-line reason for an errno value from this module. */
const char     *fdpass_strerror(int err);

#endif
