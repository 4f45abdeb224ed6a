/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and ages, immune to
 * changes of the wall clock. */
uint64_t	monotonic_ms(void);

/* Milliseconds from now until deadline, 0 if it has passed: an
 * epoll_wait timeout. */
int		ms_until(uint64_t deadline, uint64_t now);

/* Parse a whole string as an unsigned number in [0, max] in the given
 * base (0: C rules).  -1/EINVAL for junk, -1/ERANGE past max. */
int		parse_ulong(const char *s, int base, unsigned long max,
		    unsigned long *out);

/* Parse seconds with an optional fraction ("2", "0.5") into milliseconds,
 * at most max_ms.  -1/EINVAL or -1/ERANGE. */
int		parse_seconds_ms(const char *s, uint64_t max_ms, uint64_t *out);

/* A uid, or a user name looked up in /etc/passwd (read directly, so
 * that a static binary needs no NSS modules).  -1/ENOENT: no such user. */
int		parse_uid(const char *arg, uid_t *uid);

/* Raise the soft RLIMIT_NOFILE to the hard limit: a daemon holds a
 * descriptor or more per pod.  Returns the limit now in force in *limit;
 * -1 with errno set if it could not be read or raised. */
int		raise_nofile(uint64_t *limit);

/* Read and drop what a socket still holds (a bounded amount), so that
 * closing it sends a FIN, not a reset. */
void		sock_drain(int fd);

/* How many of a set of TCP sockets are in which state (TCP_INFO), as
 * `ss` would show them: the half-open ones are the leak to watch. */
struct sock_states {
	unsigned	established;
	unsigned	close_wait;	/* the peer is done, we are not */
	unsigned	fin_wait;	/* we are done, the peer is not */
	unsigned	other;		/* connecting, closing, ... */
};
void		sock_state_count(int fd, struct sock_states *);

/* "a.b.c.d:port", or "[v6]:port" for IPv6 as a URL has it, into buf. */
struct sockaddr;
void		sa_str(const struct sockaddr *, char *buf, size_t size);

/* A text that grows as it is written: printf into it; failed is set
 * (and the rest ignored) if memory runs out. */
struct strbuf {
	char	*buf;
	size_t	 len, size;
	int	 failed;
};

void		strbuf_printf(struct strbuf *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted: quotes, backslashes and controls
 * escaped. */
void		strbuf_json(struct strbuf *, const char *s);
/* n bytes of p, and a NUL after them (not counted in len). */
void		strbuf_add(struct strbuf *, const void *p, size_t n);
void		strbuf_free(struct strbuf *);

#endif
