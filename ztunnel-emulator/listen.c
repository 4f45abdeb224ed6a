/* SPDX-License-Identifier: Apache-2.0 */
/*
 * listen.c: a pod's listeners, created inside the pod's network namespace
 * and served from ours.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log.h"
#include "ztunnel.h"

static int	open_listeners(struct pod *, struct listen_error *);
static int	open_one(uint16_t port, const char **what);
static int	loopback_up(int sock);

/*
 * The handoff proper.  nsfd is the pod's namespace, already checked to be
 * one; it stays the caller's.  A socket belongs to the namespace it was
 * created in, not to the one its owner later runs in: so we step into the
 * pod's namespace, create the listeners there, and step back, and they go
 * on listening inside the pod.  All or nothing: on failure no listener of
 * this pod is left open.
 */
int
listen_open(struct ztunnel *zt, struct pod *pod, int nsfd,
    struct listen_error *e)
{
	int i, rc;

	if (netns_enter(nsfd) == -1) {
		*e = (struct listen_error){ "setns", 0, errno };
		return -1;
	}
	rc = open_listeners(pod, e);
	/*
	 * The one way back, whatever happened in there.  Going on in the
	 * pod's namespace would put the next pod's listeners (and our own
	 * control socket's peers) in the wrong place: dying is better.
	 */
	if (netns_enter(zt->home_ns) == -1)
		fatal("cannot return to our own network namespace");
	if (rc == -1)
		return -1;

	for (i = 0; i < ZT_NPORTS; i++) {
		if (ev_watch(zt, pod->lis[i].fd, EPOLLIN,
		    &pod->lis[i].src) == -1) {
			*e = (struct listen_error){ "epoll_ctl", 0, errno };
			listen_close(pod);
			return -1;
		}
	}
	return 0;
}

/* Inside the pod's namespace: 127.0.0.1:15008, :15006, :15001 in that
 * order, and make sure something in there can reach them. */
static int
open_listeners(struct pod *pod, struct listen_error *e)
{
	const char	*what;
	int		 i;

	for (i = 0; i < ZT_NPORTS; i++) {
		pod->lis[i].fd = open_one(pod->lis[i].port, &what);
		if (pod->lis[i].fd == -1) {
			*e = (struct listen_error){ what, pod->lis[i].port,
			    errno };
			goto fail;
		}
	}
	/*
	 * With lo down, binding 127.0.0.1 still succeeds on current kernels,
	 * but every connect from inside the pod fails with ENETUNREACH:
	 * listeners nobody can reach are a failure, not a success.
	 */
	if (loopback_up(pod->lis[0].fd) != 1) {
		*e = (struct listen_error){ "loopback", 0, errno };
		goto fail;
	}
	return 0;
fail:
	listen_close(pod);
	errno = e->err;
	return -1;
}

static int
open_one(uint16_t port, const char **what)
{
	struct sockaddr_in	sin;
	int			fd, on = 1, err;

	*what = "socket";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/*
	 * We close each accepted connection first, which leaves TIME_WAIT
	 * entries on the port; without SO_REUSEADDR a pod re-added within a
	 * minute could not bind again.  It does not let us share the port
	 * with a live listener.
	 */
	*what = "setsockopt SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	*what = "bind";
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto fail;
	/* The kernel caps the backlog at the pod's net.core.somaxconn. */
	*what = "listen";
	if (listen(fd, SOMAXCONN) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* 1 if the loopback device of sock's namespace is up, 0 if it is down
 * (errno ENETDOWN), -1 if we cannot tell. */
static int
loopback_up(int sock)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", sizeof("lo"));
	/* Device ioctls act in the socket's namespace, wherever we are. */
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) == -1)
		return -1;
	if (!(ifr.ifr_flags & IFF_UP)) {
		errno = ENETDOWN;
		return 0;
	}
	return 1;
}

void
listen_close(struct pod *pod)
{
	int i;

	/* close() also takes the fd out of the epoll set. */
	for (i = 0; i < ZT_NPORTS; i++) {
		if (pod->lis[i].fd != -1)
			close(pod->lis[i].fd);
		pod->lis[i].fd = -1;
	}
}

/* Answer every pending connection with "ok\n" and close it, as the seed's
 * listeners do. */
void
listen_serve(struct ztunnel *zt, struct listener *l)
{
	static const char	ok[] = "ok\n";
	int			c, n;

	for (n = 0; n < ACCEPT_BATCH && l->fd != -1; n++) {
		c = accept_or_shed(zt, l->fd, NULL);
		if (c == -1)
			return;
		/* A new socket's buffer always has room for three bytes;
		 * if the client already left, there is nobody to tell. */
		(void)send(c, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(c);
		l->pod->served++;
	}
}
