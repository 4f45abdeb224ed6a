/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_UDSOCK_H
#define COMMON_UDSOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define UDSOCK_MAX_ALLOW	32

/* Who may be served on a socket: root and our own effective uid always,
 * and the uids listed here. */
struct udsock_allow {
	uid_t	uid[UDSOCK_MAX_ALLOW];
	size_t	n;
};

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
/* A listening socket received from the previous owner of path: check it
 * listens and is bound to path, and that path is a socket file; its
 * identity in *ino.  -1 with errno set (EINVAL: not that socket). */
int	udsock_adopt(int fd, const char *path, ino_t *ino);

/* Connect a close-on-exec socket of the given type (SOCK_STREAM,
 * SOCK_SEQPACKET) to path. */
int	udsock_connect(const char *path, int type);

/* The same, giving up after timeout_ms: connect() to a Unix socket whose
 * listener has a full backlog (a stopped or overloaded daemon) would
 * otherwise wait for ever.  -1/ETIMEDOUT then. */
int	udsock_connect_timeout(const char *path, int type, int timeout_ms);

/* Admit one more user, a uid or a name (parse_uid).  -1/ENOSPC past
 * UDSOCK_MAX_ALLOW, -1/ENOENT for no such user. */
int	udsock_allow_add(struct udsock_allow *allow, const char *arg);

/* The peer's credentials (SO_PEERCRED: the kernel's word, not the
 * peer's) in *cred, and whether allow admits it: 1 yes, 0 no, -1 with
 * errno set if they cannot be read. */
int	udsock_peer_allowed(int fd, const struct udsock_allow *allow,
	    struct ucred *cred);

/* What to tell a user when udsock_listen() failed with err: a phrase
 * starting with " (" and ending with ")", or "". */
const char *udsock_hint(int err);

/* The directory path is in, made (0755) if it is not there; its parent
 * must be.  -1 with errno set. */
int	udsock_mkdir(const char *path);

#endif
