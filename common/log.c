/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: one-line messages on stderr.
 *
 * Each message is formatted into one buffer and written with a single
 * write(2), so lines from a daemon and its clients never interleave mid-line
 * when they share a terminal or a log file.
 *
 * Writing never blocks: a daemon whose log pipe nobody reads must go on
 * serving.  A line that cannot be written at once is dropped and counted,
 * and the count is reported with the next line that gets through.  (A
 * pipe that polls writable has room for PIPE_BUF bytes, more than a line;
 * a socket is written with MSG_DONTWAIT.)
 *
 * A message may carry names from outside (a namespace name, a ZDS
 * string, a --peers line): whatever is not printable UTF-8 in it is
 * written as \xHH, so no log line can hold a raw control byte or break
 * a terminal.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "text.h"

#define LOG_LINE_MAX 1024

static const char	*progname = "?";
static enum log_level	 curlevel = LOG_LEVEL_INFO;

/* Per output: whether it is a socket, and the lines dropped since the
 * last one written. */
static struct out {
	int		fd;
	int		sock;
	unsigned long	dropped;
} out_err = { STDERR_FILENO, 0, 0 }, out_std = { STDOUT_FILENO, 0, 0 };

static int
out_ready(const struct out *o)
{
	struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };

	return o->sock || (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT));
}

static int
out_write1(const struct out *o, const char *buf, size_t len)
{
	if (o->sock)
		return send(o->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    (ssize_t)len ? 0 : -1;
	return write(o->fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* Write one whole line, or drop it and count; never block. */
static void
out_line(struct out *o, const char *line, size_t len)
{
	char	note[128];
	int	n;

	if (!out_ready(o)) {
		o->dropped++;
		return;
	}
	if (o->dropped > 0) {
		n = snprintf(note, sizeof(note), "%s: %lu log lines dropped "
		    "(nobody was reading)\n", progname, o->dropped);
		if (n > 0 && out_write1(o, note, (size_t)n) == 0)
			o->dropped = 0;
	}
	if (out_write1(o, line, len) == -1)
		o->dropped++;
}

static void
out_init(struct out *o)
{
	struct stat st;

	o->sock = fstat(o->fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

void
log_init(const char *prog, enum log_level level)
{
	const char *slash = strrchr(prog, '/');

	progname = slash != NULL ? slash + 1 : prog;
	curlevel = level;
	out_init(&out_err);
	out_init(&out_std);
}

void
log_stdout(const char *line)
{
	char	buf[LOG_LINE_MAX];
	int	n;
	int	saved_errno = errno;

	n = snprintf(buf, sizeof(buf), "%s\n", line);
	if (n > 0 && (size_t)n < sizeof(buf))
		out_line(&out_std, buf, (size_t)n);
	errno = saved_errno;
}

void
log_setlevel(enum log_level level)
{
	curlevel = level;
}

enum log_level
log_getlevel(void)
{
	return curlevel;
}

static void	vlog(int err, const char *fmt, va_list ap)
		    __attribute__((format(printf, 2, 0)));

/* Format "prog: message[: strerror(err)]\n"; err < 0 means no suffix. */
static void
vlog(int err, const char *fmt, va_list ap)
{
	char	line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
	int	saved_errno = errno;
	size_t	len;
	int	n;

	n = snprintf(line, sizeof(line), "%s: ", progname);
	len = n > 0 ? (size_t)n : 0;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	text_escape(msg, line + len, sizeof(line) - len - 1, TEXT_ESC_CONTROLS);
	len += strlen(line + len);
	if (err >= 0) {
		n = snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(err));
		if (n > 0)
			len += (size_t)n;
		if (len >= sizeof(line) - 1)
			len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	out_line(&out_err, line, len);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	int	err = errno;
	va_list	ap;

	va_start(ap, fmt);
	vlog(err, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(-1, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (curlevel < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	vlog(-1, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (curlevel < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	vlog(-1, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int	err = errno;
	va_list	ap;

	va_start(ap, fmt);
	vlog(err, fmt, ap);
	va_end(ap);
	exit(EXIT_FATAL);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(-1, fmt, ap);
	va_end(ap);
	exit(EXIT_FATAL);
}
