/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpd.c: the smallest HTTP/1.1 server that serves an operator's curl
 * and Prometheus honestly (see httpd.h).  Nothing here blocks: a client
 * that sends nothing, or too much, or reads nothing, costs only itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "buf.h"
#include "ev.h"
#include "httpd.h"
#include "util.h"

struct client {
	struct ev_io		 io;
	struct ev_timer		 deadline;
	struct ev_deferred	 dead;
	TAILQ_ENTRY(client)	 entry;
	struct httpd		*srv;
	size_t			 inlen;
	char			 in[HTTPD_REQ_MAX + 1];
	int			 answering;	/* 0 while reading */
	struct buf		 out;		/* the answer */
};

TAILQ_HEAD(clientlist, client);

struct httpd {
	struct ev_io		 io;
	char			 where[64];	/* "addr:port", as bound */
	httpd_fn		*fn;
	void			*arg;
	struct clientlist	 clients;
	unsigned		 n;
};

static void	accept_clients(void *, uint32_t);
static void	client_event(void *, uint32_t);
static void	client_expire(void *);
static void	client_close(struct client *);
static void	client_reply(struct client *, struct httpd_resp *);
static void	make_room(struct httpd *, struct client *);

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Unknown";
	}
}

int
httpd_parse(const char *addrport, struct httpd_addr *a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)(void *)&a->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)(void *)&a->ss;
	char			 host[64];
	const char		*colon = strrchr(addrport, ':');
	unsigned long		 port;
	size_t			 hlen;

	memset(a, 0, sizeof(*a));
	if (colon == NULL || (hlen = (size_t)(colon - addrport)) == 0 ||
	    hlen >= sizeof(host) ||
	    parse_ulong(colon + 1, 10, 65535, &port) == -1) {
		errno = EINVAL;
		return -1;
	}
	memcpy(host, addrport, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		return 0;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	a->len = sizeof(*sin);
	if (strcmp(host, "localhost") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Serve fd, a listening socket (ours from now on; closed on failure). */
static struct httpd *
serve_fd(int fd, httpd_fn *fn, void *arg)
{
	struct sockaddr_storage	 bound;
	socklen_t		 blen = sizeof(bound);
	struct httpd		*h;
	int			 err;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) == -1 ||
	    ev_io_add(&h->io, fd, EPOLLIN, accept_clients, h) == -1) {
		err = errno;
		close(fd);
		free(h);
		errno = err;
		return NULL;
	}
	sa_str((struct sockaddr *)&bound, h->where, sizeof(h->where));
	h->fn = fn;
	h->arg = arg;
	TAILQ_INIT(&h->clients);
	return h;
}

struct httpd *
httpd_open(const struct httpd_addr *a, httpd_fn *fn, void *arg)
{
	int fd, on = 1, err;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return NULL;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 ||
	    listen(fd, 64) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	return serve_fd(fd, fn, arg);
}

struct httpd *
httpd_adopt(int fd, httpd_fn *fn, void *arg)
{
	int		on = 0;
	socklen_t	len = sizeof(on);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1 ||
	    !on) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	return serve_fd(fd, fn, arg);
}

int
httpd_fd(const struct httpd *h)
{
	return h->io.fd;
}

const char *
httpd_where(const struct httpd *h)
{
	return h->where;
}

void
httpd_stop_listening(struct httpd *h)
{
	if (h != NULL)
		ev_io_close(&h->io);
}

void
httpd_close(struct httpd *h)
{
	if (h == NULL)
		return;
	while (!TAILQ_EMPTY(&h->clients))
		client_close(TAILQ_FIRST(&h->clients));
	ev_io_close(&h->io);
	free(h);
}

void
httpd_printf(struct httpd_resp *r, int status, const char *type,
    const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vasprintf(&r->body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->body = NULL;
		r->len = 0;
		r->status = 500;
		r->type = "text/plain";
		return;
	}
	r->status = status;
	r->type = type;
	r->len = (size_t)n;
}

static void
accept_clients(void *arg, uint32_t events)
{
	struct httpd	*h = arg;
	struct client	*c;
	int		 fd, i;

	(void)events;
	for (i = 0; i < 16 && !ev_exhausted(); i++) {
		if ((fd = ev_accept(h->io.fd, NULL)) == -1)
			return;
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->srv = h;
		if (ev_io_add(&c->io, fd, EPOLLIN, client_event, c) == -1) {
			close(fd);
			free(c);
			continue;
		}
		ev_timer_init(&c->deadline, client_expire, c);
		ev_timer_at(&c->deadline, monotonic_ms() + HTTPD_DEADLINE_MS);
		TAILQ_INSERT_TAIL(&h->clients, c, entry);
		if (++h->n > HTTPD_CLIENTS)
			make_room(h, c);
	}
}

/*
 * One client too many.  Idle connections must not keep kubelet's probe
 * or Prometheus out: the oldest client still sending its request (the
 * nearest its deadline anyway) makes room, as on the control socket.
 * Only if every other client is being answered is the newcomer turned
 * away.
 */
static void
make_room(struct httpd *h, struct client *newest)
{
	struct httpd_resp	 r = { 0, NULL, NULL, 0 };
	struct client		*c;

	TAILQ_FOREACH(c, &h->clients, entry)
		if (!c->answering && c != newest)
			break;
	if (c == NULL)
		c = newest;
	httpd_printf(&r, 503, "text/plain", "busy\n");
	client_reply(c, &r);
	/* Answered, it leaves the count; gone for good if it cannot
	 * take the answer at once. */
}

static void
client_free(void *arg)
{
	struct client *c = arg;

	buf_free(&c->out);
	free(c);
}

static void
client_close(struct client *c)
{
	if (c->io.fd == -1)
		return;
	ev_io_close(&c->io);
	ev_timer_stop(&c->deadline);
	TAILQ_REMOVE(&c->srv->clients, c, entry);
	c->srv->n--;
	ev_defer_free(&c->dead, client_free, c);
}

static void
client_write(struct client *c)
{
	/* Not all of it yet: the next writable edge brings the rest. */
	if (buf_send(&c->out, c->io.fd, NULL) == 1)
		return;
	/* Done (or the client left): close, having read what it sent. */
	(void)shutdown(c->io.fd, SHUT_WR);
	client_close(c);
}

/* Start answering; the body becomes part of the output. */
static void
client_reply(struct client *c, struct httpd_resp *r)
{
	char	head[256];
	int	n;

	if (c->answering) {
		free(r->body);
		return;
	}
	c->answering = 1;
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", r->status, reason(r->status),
	    r->type != NULL ? r->type : "text/plain", r->len);
	if (n < 0 || buf_add(&c->out, head, (size_t)n, SIZE_MAX) == -1 ||
	    buf_add(&c->out, r->body, r->len, SIZE_MAX) == -1) {
		free(r->body);
		client_close(c);
		return;
	}
	free(r->body);
	ev_timer_at(&c->deadline, monotonic_ms() + HTTPD_DEADLINE_MS);
	if (ev_io_mod(&c->io, EPOLLOUT) == -1) {
		client_close(c);
		return;
	}
	client_write(c);
}

static void
client_error(struct client *c, int status, const char *text)
{
	struct httpd_resp r = { 0, NULL, NULL, 0 };

	httpd_printf(&r, status, "text/plain", "%s\n", text);
	client_reply(c, &r);
}

/* The request line and the headers are in; parse and answer. */
static void
handle(struct client *c, char *end)
{
	struct httpd_resp	 r = { 404, "text/plain", NULL, 0 };
	struct httpd_req	 req;
	char			*line, *sp1, *sp2, *q, *p;
	int			 lines = 0;

	*end = '\0';
	for (p = c->in; (p = strstr(p, "\r\n")) != NULL; p += 2)
		if (++lines > HTTPD_HEADERS_MAX + 1) {
			client_error(c, 431, "too many header lines");
			return;
		}
	line = c->in;
	if ((p = strstr(line, "\r\n")) != NULL)
		*p = '\0';
	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp1 == line ||
	    sp1[1] != '/') {
		client_error(c, 400, "bad request line");
		return;
	}
	*sp1 = *sp2 = '\0';
	req.method = line;
	req.path = sp1 + 1;
	if ((q = strchr(sp1 + 1, '?')) != NULL) {
		*q = '\0';
		req.query = q + 1;
	} else {
		req.query = "";
	}
	c->srv->fn(c->srv->arg, &req, &r);
	client_reply(c, &r);
}

static void
client_read(struct client *c)
{
	ssize_t	 n;
	char	*end;

	for (;;) {
		if (c->inlen == HTTPD_REQ_MAX) {
			client_error(c, 431, "request too large");
			return;
		}
		n = recv(c->io.fd, c->in + c->inlen, HTTPD_REQ_MAX - c->inlen,
		    MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		if ((end = strstr(c->in, "\r\n\r\n")) != NULL) {
			handle(c, end);
			return;
		}
	}
}

static void
client_event(void *arg, uint32_t events)
{
	struct client *c = arg;

	(void)events;
	if (!c->answering)
		client_read(c);
	else
		client_write(c);
}

static void
client_expire(void *arg)
{
	struct client *c = arg;

	/* A whole request that came in while we were busy is served. */
	if (!c->answering) {
		client_read(c);
		if (c->io.fd == -1 || c->answering)
			return;
	}
	client_close(c);
}
