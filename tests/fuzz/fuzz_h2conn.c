/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a whole HTTP/2 server connection (h2conn.c) fed what
 * a hostile client sends.  The input goes down one end of a socketpair,
 * then EOF; the session runs in the real event loop until it ends.  An
 * even first byte puts the preface and an empty SETTINGS in front (to
 * get past the gate quickly); an odd one sends the input raw.  With bit
 * 1 of the first byte set, the input goes in two pieces 1 ms apart,
 * split where the first byte's upper bits say: a frame cut in two, whose
 * payload's rest takes the splice paths (built with SPLICE_MIN 16, and
 * the apps never read, so their pipes fill too).  Requests
 * for port 1 are refused (503); any other gets a tunnel to a socketpair,
 * so the stream paths run too.  Beyond ASan and UBSan: the connection
 * must end (every input ends in EOF), every tunnel must be ended before
 * it, and nothing may be left open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ev.h"
#include "h2conn.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_IN		65536
#define MAX_TUNNELS	256

static int	 apps[MAX_TUNNELS];	/* the far ends of the tunnels */
static int	 napps, open_tunnels, ended;
static int	 dummy;

static int
on_request(void *carg, const struct h2_request *r, void **targ,
    struct h2_answer *a)
{
	int sp[2], *status = &a->status;

	(void)carg;
	*targ = &dummy;
	snprintf(a->baggage, sizeof(a->baggage), "k8s.pod.name=fuzz");
	if (strstr(r->authority, ":1") != NULL || napps == MAX_TUNNELS ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		*status = 503;
		return -1;
	}
	apps[napps++] = sp[1];
	open_tunnels++;
	return sp[0];
}

static void
on_bytes(void *targ, int received, size_t n)
{
	(void)targ;
	(void)received;
	(void)n;
}

static void
on_tun_end(void *targ, const struct h2tun_end *e)
{
	(void)targ;
	(void)e;
	open_tunnels--;
}

static void
on_malformed(void *carg, uint32_t stream, const char *why)
{
	(void)carg;
	(void)stream;
	if (why == NULL)
		abort();		/* a refusal always says why */
}

static void
on_conn_end(void *carg, struct h2conn *c, const struct h2conn_end *e)
{
	(void)carg;
	(void)c;
	if (e->why == NULL)
		abort();
	if (open_tunnels != 0)
		abort();		/* a tunnel outlived its connection */
	ended = 1;
	ev_stop(0);
}

static const struct h2conn_ops ops = {
	on_request, on_malformed, on_bytes, on_tun_end, on_conn_end,
};

/* The input's second piece, and then EOF. */
static const uint8_t	*rest;
static size_t		 rest_len;
static int		 feed_fd;

static void
on_rest(void *arg)
{
	(void)arg;
	if (write(feed_fd, rest, rest_len) != (ssize_t)rest_len)
		abort();
	(void)shutdown(feed_fd, SHUT_WR);
}

static void
on_deadline(void *arg)
{
	(void)arg;
	abort();			/* an input the session never ended on */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 hello[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				    "\0\0\0\4\0\0\0\0\0";
	static int		 inited;
	static struct ev_timer	 deadline, second;
	int			 sp[2], i;
	size_t			 first = size - 1;

	if (!inited) {
		if (ev_init() == -1)
			abort();
		inited = 1;
	}
	if (size == 0 || size > MAX_IN)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		abort();
	ended = napps = open_tunnels = 0;
	if ((data[0] & 1) == 0 &&
	    write(sp[1], hello, sizeof(hello) - 1) != sizeof(hello) - 1)
		abort();
	if (data[0] & 2)
		first = (size - 1) * (data[0] >> 2) / 64;
	/* A socketpair's buffer takes 64 KiB: never a short write here. */
	if (write(sp[1], data + 1, first) != (ssize_t)first)
		abort();
	feed_fd = sp[1];
	rest = data + 1 + first;
	rest_len = size - 1 - first;
	ev_timer_init(&second, on_rest, NULL);
	if (rest_len > 0)
		ev_timer_at(&second, monotonic_ms() + 1);
	else
		(void)shutdown(sp[1], SHUT_WR);
	if (h2conn_new(sp[0], H2_SERVER, &ops, NULL) == NULL)
		abort();
	ev_timer_init(&deadline, on_deadline, NULL);
	ev_timer_at(&deadline, monotonic_ms() + 10000);
	(void)ev_run();
	ev_timer_stop(&deadline);
	ev_timer_stop(&second);
	if (!ended)
		abort();
	close(sp[1]);
	for (i = 0; i < napps; i++)
		close(apps[i]);
	return 0;
}
