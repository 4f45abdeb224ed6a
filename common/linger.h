/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_LINGER_H
#define COMMON_LINGER_H

/*
 * Ending a connection that the peer is still sending on, without a reset.
 *
 * close() on a socket with unread input, or one that input still reaches,
 * makes the kernel answer with RST; a peer that had not yet read our last
 * bytes and our FIN loses them and sees "connection reset".  That is what
 * a drain's deadline, or a pod taken out of the mesh, would do to every
 * client still writing.  linger_close() sends our FIN now, then reads and
 * drops what still comes until the peer's own FIN, or LINGER_MS, and only
 * then closes (the "lingering close" of web servers).
 *
 * The lingering sockets are the loop's like any other reader: each
 * wake-up reads within the quantum (ev.h).  At most LINGER_MAX linger at
 * once; past that, and when memory runs out, the socket is closed at once.
 */

#define LINGER_MS	1000
#define LINGER_MAX	4096

/* Take fd (a connected stream socket, out of the epoll set): it is ours
 * to close, whatever happens. */
void		linger_close(int fd);
/* One side of a connection at its end: fd, watched by io or not (io's fd
 * -1).  Still sending (done 0): out of the set, and linger_close().  Else
 * closed; sole: no other descriptor shares its file (never passed to
 * another process), so close() alone takes it out of the set. */
struct ev_io;
void		linger_side_end(struct ev_io *io, int fd, int done, int sole);
/* How many linger now: a program about to exit waits for none. */
unsigned	linger_count(void);
/* At exit: close them all now. */
void		linger_done(void);

#endif
