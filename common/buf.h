/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * A byte buffer that grows up to a limit: data at p[off .. off + len),
 * taken from the front and added at the back.  What HTTP/2 connections
 * read and write, and what the HTTP and control servers answer.
 */
struct buf {
	uint8_t	*p;
	size_t	 off, len, cap;
};

/* Room for n more bytes at the end, without growing past max; -1 (and
 * the buffer as it was) if that cannot be. */
int		buf_reserve(struct buf *, size_t n, size_t max);
/* Where the next bytes go (after buf_reserve). */
uint8_t	       *buf_tail(struct buf *);
/* n bytes of p at the end; -1 past max. */
int		buf_add(struct buf *, const void *p, size_t n, size_t max);
/* Forget the first n bytes. */
void		buf_drop(struct buf *, size_t n);
void		buf_free(struct buf *);
/*
 * Send what the buffer holds to a socket without blocking (MSG_NOSIGNAL),
 * dropping what went: 0 all of it went, 1 the socket is full (try again
 * when it is writable), -1 with errno set if it is broken.  *sent, if
 * not NULL, gets the bytes that went.
 */
int		buf_send(struct buf *, int fd, size_t *sent);

#endif
