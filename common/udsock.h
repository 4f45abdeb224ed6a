/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_UDSOCK_H
#define COMMON_UDSOCK_H

#include <sys/types.h>

/*
 * Unix domain socket endpoints with a path in the file system.
 *
 * udsock_listen() never deletes anything but a stale socket:
 *   nothing at path            -> create
 *   a socket nobody listens on -> replace it
 *   a socket someone answers   -> -1/EADDRINUSE (another daemon runs)
 *   anything else              -> -1/EEXIST (not ours to delete)
 * The socket file is created with the given mode (umask tightened around
 * bind, so it is never more open than that, not even for a moment), and
 * its identity is returned in *ino so that udsock_unlink() removes only
 * this socket and not a successor's.
 */
int	udsock_listen(const char *path, int type, mode_t mode, ino_t *ino);
int	udsock_unlink(const char *path, ino_t ino);

/* Connect a close-on-exec socket of the given type (SOCK_STREAM,
 * SOCK_SEQPACKET) to path. */
int	udsock_connect(const char *path, int type);

/* What to tell a user when udsock_listen() failed with err: a phrase
 * starting with " (" and ending with ")", or "". */
const char *udsock_hint(int err);

#endif
