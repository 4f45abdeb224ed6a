/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udsock.c: listening on and connecting to Unix sockets by path.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "udsock.h"
#include "util.h"

static int
fill_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Is someone accepting connections on the socket at path?  1 yes, 0 no
 * (stale), -1 cannot tell (errno set). */
static int
socket_is_live(const struct sockaddr_un *sun)
{
	int fd, rc, err;

	/* Non-blocking, so that a listener with a full backlog answers
	 * EAGAIN at once instead of holding us up: it is alive. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	err = errno;
	close(fd);
	if (rc == 0)
		return 1;
	switch (err) {
	case EAGAIN:
	case EPROTOTYPE:	/* alive, but SOCK_SEQPACKET or DGRAM */
		return 1;
	case ECONNREFUSED:	/* the file outlived its listener */
		return 0;
	default:
		errno = err;
		return -1;
	}
}

int
udsock_listen(const char *path, int type, mode_t mode, ino_t *ino)
{
	struct sockaddr_un	sun;
	struct stat		st;
	mode_t			oldmask;
	int			fd, live, err;

	if (fill_addr(&sun, path) == -1)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return -1;
		}
		if ((live = socket_is_live(&sun)) != 0) {
			if (live == 1)
				errno = EADDRINUSE;
			return -1;
		}
		if (unlink(path) == -1 && errno != ENOENT)
			return -1;
	} else if (errno != ENOENT) {
		return -1;
	}

	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* bind gives the file 0777 & ~umask: exactly mode, from the start. */
	oldmask = umask(0777 & ~mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		err = errno;
		umask(oldmask);
		goto fail;
	}
	umask(oldmask);
	if (lstat(path, &st) == -1 || listen(fd, SOMAXCONN) == -1) {
		err = errno;
		unlink(path);
		goto fail;
	}
	*ino = st.st_ino;
	return fd;
fail:
	close(fd);
	errno = err;
	return -1;
}

int
udsock_unlink(const char *path, ino_t ino)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	/* Someone replaced our socket (e.g. a second daemon after ours was
	 * declared stale): theirs is not ours to remove. */
	if (!S_ISSOCK(st.st_mode) || st.st_ino != ino)
		return 0;
	return unlink(path);
}

int
udsock_adopt(int fd, const char *path, ino_t *ino)
{
	struct sockaddr_un	sun;
	socklen_t		len = sizeof(sun), olen;
	struct stat		st;
	int			on = 0;

	memset(&sun, 0, sizeof(sun));
	olen = sizeof(on);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sun, &len) == -1)
		return -1;
	if (!on || sun.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) ||
	    strncmp(sun.sun_path, path, sizeof(sun.sun_path)) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (lstat(path, &st) == -1)
		return -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	*ino = st.st_ino;
	return 0;
}

int
udsock_connect(const char *path, int type)
{
	struct sockaddr_un	sun;
	int			fd, err;

	if (fill_addr(&sun, path) == -1)
		return -1;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int
udsock_connect_timeout(const char *path, int type, int timeout_ms)
{
	struct sockaddr_un	sun;
	uint64_t		deadline = monotonic_ms() + (uint64_t)timeout_ms;
	int			fd, err;

	if (fill_addr(&sun, path) == -1)
		return -1;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	/*
	 * A non-blocking connect() to a Unix socket either completes at
	 * once or fails with EAGAIN while the backlog is full; there is no
	 * "in progress" to poll for.  Try again every few milliseconds.
	 */
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		err = errno;
		if (err != EAGAIN && err != EINTR)
			goto fail;
		if (monotonic_ms() >= deadline) {
			err = ETIMEDOUT;
			goto fail;
		}
		(void)poll(NULL, 0, 5);
	}
	if (fcntl(fd, F_SETFL, 0) == -1) {
		err = errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	errno = err;
	return -1;
}

const char *
udsock_hint(int err)
{
	switch (err) {
	case EADDRINUSE:
		return " (by a running daemon: stop it first, or choose "
		    "another path)";
	case EEXIST:
		return " (not a socket: refusing to replace it; remove it "
		    "yourself if it is junk)";
	case ENAMETOOLONG:
		return " (a Unix socket path has at most 107 bytes)";
	default:
		return "";
	}
}

int
udsock_peer_allowed(int fd, const struct udsock_allow *allow,
    struct ucred *cred)
{
	socklen_t	len = sizeof(*cred);
	size_t		i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == -1)
		return -1;
	if (cred->uid == 0 || cred->uid == geteuid())
		return 1;
	for (i = 0; i < allow->n; i++)
		if (allow->uid[i] == cred->uid)
			return 1;
	return 0;
}

int
udsock_allow_add(struct udsock_allow *allow, const char *arg)
{
	if (allow->n == UDSOCK_MAX_ALLOW) {
		errno = ENOSPC;
		return -1;
	}
	if (parse_uid(arg, &allow->uid[allow->n]) == -1)
		return -1;
	allow->n++;
	return 0;
}

int
udsock_mkdir(const char *path)
{
	char		 dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char	*slash = strrchr(path, '/');

	if (slash == NULL || slash == path)
		return 0;
	if ((size_t)(slash - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}
