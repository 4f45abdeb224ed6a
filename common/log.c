/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: one line per event on stderr, short or as ztunnel writes it.
 *
 * Each message is formatted into one buffer and written with a single
 * write(2), so lines from a daemon and its clients never interleave mid-line
 * when they share a terminal or a log file.
 *
 * Writing never blocks: a daemon whose log pipe nobody reads must go on
 * serving.  A line that cannot be written at once is dropped and counted,
 * and the count is reported with the next line that gets through.  (A
 * pipe that polls writable has room for PIPE_BUF bytes, more than a line;
 * a socket is written with MSG_DONTWAIT; a regular file or /dev/null never
 * blocks, and is written without asking.)
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
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "text.h"

#define LOG_LINE_MAX 1024

static const char	*progname = "?";
static enum log_level	 curlevel = LOG_LEVEL_INFO;
static enum log_format	 curformat = LOG_FORMAT_SHORT;

static const char *const level_names[LOG_LEVELS] = {
	"error", "warn", "info", "debug",
};
static const char *const format_names[] = { "short", "ztunnel" };

/* Per output: whether it is a socket, whether it can block at all, and
 * the lines dropped since the last one written. */
static struct out {
	int		fd;
	int		sock;
	int		never_blocks;	/* a regular file, /dev/null */
	unsigned long	dropped;
} out_err = { STDERR_FILENO, 0, 0, 0 }, out_std = { STDOUT_FILENO, 0, 0, 0 };

static int
out_ready(const struct out *o)
{
	struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };

	return o->sock || o->never_blocks ||
	    (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT));
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

/* Asked once: a line per pod ("listeners ready") must not cost a
 * poll(2) each where a write cannot block. */
static void
out_init(struct out *o)
{
	struct stat st, null;

	if (fstat(o->fd, &st) == -1)
		return;
	o->sock = S_ISSOCK(st.st_mode);
	o->never_blocks = S_ISREG(st.st_mode) || (S_ISCHR(st.st_mode) &&
	    stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode) &&
	    st.st_rdev == null.st_rdev);
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

void
log_setformat(enum log_format format)
{
	curformat = format;
}

const char *
log_level_name(enum log_level level)
{
	return (unsigned)level < LOG_LEVELS ? level_names[level] : "?";
}

int
log_level_parse(const char *name, enum log_level *level)
{
	unsigned i;

	for (i = 0; i < LOG_LEVELS; i++)
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	return -1;
}

int
log_format_parse(const char *name, enum log_format *format)
{
	unsigned i;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (strcmp(name, format_names[i]) == 0) {
			*format = (enum log_format)i;
			return 0;
		}
	return -1;
}

/* "2026-11-29T19:40:00.123456Z", as ztunnel stamps its lines (UTC). */
static size_t
stamp(char *buf, size_t size)
{
	struct timespec	ts;
	struct tm	tm;
	size_t		n;
	int		m;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		return 0;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	m = snprintf(buf + n, size - n, ".%06ldZ", ts.tv_nsec / 1000);
	return m > 0 && (size_t)m < size - n ? n + (size_t)m : 0;
}

/* Append s to line (escaped: nothing from outside may put a control
 * byte or a tab in a line); returns the new length. */
static size_t
put(char *line, size_t len, const char *s)
{
	text_escape(s, line + len, LOG_LINE_MAX - 1 - len, TEXT_ESC_CONTROLS);
	return len + strlen(line + len);
}

/* Append a raw (trusted) piece: a separator, a level, a target. */
static size_t
put_raw(char *line, size_t len, const char *s)
{
	int n = snprintf(line + len, LOG_LINE_MAX - 1 - len, "%s", s);

	if (n < 0)
		return len;
	return len + (size_t)n < LOG_LINE_MAX - 1 ? len + (size_t)n :
	    LOG_LINE_MAX - 2;
}

/*
 * Write one line.  In the short format:
 * "prog: [target: ]msg[: strerror][ fields]";
 * in ztunnel's: "time\tlevel\ttarget\tmsg[: strerror][\tfields]".
 * err < 0 means no strerror; fields may be NULL.
 */
static void
emit(const char *target, enum log_level level, int err, const char *msg,
    const char *fields)
{
	char	line[LOG_LINE_MAX];
	size_t	len = 0;

	if (curformat == LOG_FORMAT_ZTUNNEL) {
		len = stamp(line, sizeof(line));
		len = put_raw(line, len, "\t");
		len = put_raw(line, len, log_level_name(level));
		len = put_raw(line, len, "\t");
		len = put_raw(line, len, target != NULL ? target : progname);
		len = put_raw(line, len, "\t");
	} else {
		len = put_raw(line, len, progname);
		len = put_raw(line, len, ": ");
		if (target != NULL) {
			len = put_raw(line, len, target);
			len = put_raw(line, len, ": ");
		}
	}
	len = put(line, len, msg);
	if (err >= 0) {
		len = put_raw(line, len, ": ");
		len = put_raw(line, len, strerror(err));
	}
	if (fields != NULL && fields[0] != '\0') {
		len = put_raw(line, len,
		    curformat == LOG_FORMAT_ZTUNNEL ? "\t" : " ");
		len = put(line, len, fields);
	}
	line[len++] = '\n';
	out_line(&out_err, line, len);
}

static void	vlog(const char *target, enum log_level level, int err,
		    const char *fmt, va_list ap)
		    __attribute__((format(printf, 4, 0)));

static void
vlog(const char *target, enum log_level level, int err, const char *fmt,
    va_list ap)
{
	char	msg[LOG_LINE_MAX];

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	emit(target, level, err, msg, NULL);
}

void
log_msg(const char *target, enum log_level level, int with_errno,
    const char *fmt, ...)
{
	int	saved_errno = errno;
	va_list	ap;

	if (level > curlevel)
		return;
	va_start(ap, fmt);
	vlog(target, level, with_errno ? saved_errno : -1, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_kv(const char *target, enum log_level level, const char *msg,
    const char *fmt, ...)
{
	char	fields[LOG_LINE_MAX];
	int	saved_errno = errno;
	va_list	ap;

	if (level > curlevel)
		return;
	va_start(ap, fmt);
	if (vsnprintf(fields, sizeof(fields), fmt, ap) < 0)
		fields[0] = '\0';
	va_end(ap);
	emit(target, level, -1, msg, fields);
	errno = saved_errno;
}

void
log_fatal(const char *target, int with_errno, const char *fmt, ...)
{
	int	err = errno;
	va_list	ap;

	va_start(ap, fmt);
	vlog(target, LOG_LEVEL_ERROR, with_errno ? err : -1, fmt, ap);
	va_end(ap);
	exit(EXIT_FATAL);
}
