/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_HTTPD_H
#define COMMON_HTTPD_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * A minimal HTTP/1.1 server on the event loop, for admin, metrics and
 * readiness: one request per connection, answered with Content-Length
 * and "Connection: close".  Bounded like ztunnel's: a request of at most
 * HTTPD_REQ_MAX bytes, HTTPD_HEADERS_MAX header lines, that must arrive
 * within HTTPD_DEADLINE_MS; at most HTTPD_CLIENTS at once per server:
 * one more makes the oldest client still sending its request answer 503
 * and go (idle connections never keep a probe out), or, if every other
 * client is being answered, is answered 503 itself.
 */

#define HTTPD_REQ_MAX		8192
#define HTTPD_HEADERS_MAX	64
#define HTTPD_DEADLINE_MS	2000
#define HTTPD_CLIENTS		32

struct httpd;

struct httpd_req {
	const char	*method;
	const char	*path;		/* without the query */
	const char	*query;		/* after '?', or "" */
};

/* What a handler answers: body is malloc()ed (the server frees it) or
 * NULL for none. */
struct httpd_resp {
	int		 status;
	const char	*type;		/* Content-Type */
	char		*body;
	size_t		 len;
};

typedef void	httpd_fn(void *arg, const struct httpd_req *,
		    struct httpd_resp *);

/* Where a server listens: parsed from "ADDR:PORT". */
struct httpd_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

/* "ADDR:PORT": an IPv4 address, "[IPv6]" or "localhost" (127.0.0.1),
 * and a port (0: the kernel picks one).  -1/EINVAL if it is not that. */
int		httpd_parse(const char *addrport, struct httpd_addr *);
/* Listen there and serve from the event loop.  NULL with errno set. */
struct httpd   *httpd_open(const struct httpd_addr *, httpd_fn *fn,
		    void *arg);
/* Serve a listening socket received from elsewhere (another instance
 * of the program), ours from now on.  NULL with errno set, fd closed. */
struct httpd   *httpd_adopt(int fd, httpd_fn *fn, void *arg);
/* Its listening socket, still its own (-1 once it stopped listening). */
int		httpd_fd(const struct httpd *);
/* Where it listens ("127.0.0.1:15000", "[::1]:40123"), for logs. */
const char     *httpd_where(const struct httpd *);
/* Take no new client; those in flight are answered.  httpd_close()
 * still frees it. */
void		httpd_stop_listening(struct httpd *);
void		httpd_close(struct httpd *);

/* A body from a format, for handlers; on failure the response is a 500. */
void		httpd_printf(struct httpd_resp *, int status, const char *type,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
