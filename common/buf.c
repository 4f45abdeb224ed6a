/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c: the byte buffer (see buf.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"

int
buf_reserve(struct buf *b, size_t n, size_t max)
{
	size_t	 want;
	uint8_t	*p;

	if (b->cap - b->off - b->len >= n)
		return 0;
	if (b->off > 0 && b->cap - b->len >= n) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
		return 0;
	}
	if (b->len + n > max)
		return -1;
	want = b->cap < 4096 ? 4096 : b->cap;
	while (want < b->len + n)
		want *= 2;
	if (want > max)
		want = max;
	/* A new buffer with the data at its start: one copy, where a
	 * memmove and a realloc would make two. */
	if ((p = malloc(want)) == NULL)
		return -1;
	if (b->len > 0)
		memcpy(p, b->p + b->off, b->len);
	free(b->p);
	b->p = p;
	b->off = 0;
	b->cap = want;
	return 0;
}

uint8_t *
buf_tail(struct buf *b)
{
	return b->p + b->off + b->len;
}

int
buf_add(struct buf *b, const void *p, size_t n, size_t max)
{
	if (buf_reserve(b, n, max) == -1)
		return -1;
	if (n > 0)
		memcpy(buf_tail(b), p, n);
	b->len += n;
	return 0;
}

void
buf_drop(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int
buf_send(struct buf *b, int fd, size_t *sent)
{
	ssize_t n;

	if (sent != NULL)
		*sent = 0;
	while (b->len > 0) {
		n = send(fd, b->p + b->off, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			buf_drop(b, (size_t)n);
			if (sent != NULL)
				*sent += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	return 0;
}
