/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: one-line messages on stderr.
 *
 * Each message is formatted into one buffer and written with a single
 * write(2), so lines from a daemon and its clients never interleave mid-line
 * when they share a terminal or a log file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 1024

static const char	*progname = "?";
static enum log_level	 curlevel = LOG_LEVEL_INFO;

void
log_init(const char *prog, enum log_level level)
{
	const char *slash = strrchr(prog, '/');

	progname = slash != NULL ? slash + 1 : prog;
	curlevel = level;
}

void
log_setlevel(enum log_level level)
{
	curlevel = level;
}

static void	vlog(int err, const char *fmt, va_list ap)
		    __attribute__((format(printf, 2, 0)));

/* Format "prog: message[: strerror(err)]\n"; err < 0 means no suffix. */
static void
vlog(int err, const char *fmt, va_list ap)
{
	char	line[LOG_LINE_MAX];
	int	saved_errno = errno;
	size_t	len;
	int	n;

	n = snprintf(line, sizeof(line), "%s: ", progname);
	len = n > 0 ? (size_t)n : 0;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;		/* truncated: keep the newline */
	if (err >= 0) {
		n = snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(err));
		if (n > 0)
			len += (size_t)n;
		if (len >= sizeof(line) - 1)
			len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	/* Nowhere to report a failed write to stderr; ignore it. */
	if (write(STDERR_FILENO, line, len) == -1)
		(void)0;
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
