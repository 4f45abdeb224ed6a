/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdnoreturn.h>

/*
 * One line per event on stderr, in one of two formats:
 *
 *   short    "program: message"; what the one-shot client always writes,
 *            and the daemons while they read their options.
 *   ztunnel  "<RFC 3339 time>\t<level>\t<target>\t<message>[\t<k=v ...>]",
 *            the way ztunnel (and istio-cni) write their logs; the
 *            daemons' default once started.
 *
 * Every file that logs names its target before the first call:
 *
 *   #define LOG_TARGET "zds"
 *
 * (the target is the column an operator filters on, so a message does
 * not repeat it).  The _warn variants append ": strerror(errno)"; the
 * _warnx ones do not.  log_event() is a message plus key=value fields,
 * such as the access log's "connection complete src.addr=...".
 * fatal() and fatalx() are for a program that cannot go on; code in
 * common/ never calls them (it returns -1 with errno set and lets the
 * program decide).
 */

/* Severity of a line, and the threshold set by -q/-v or POST /logging. */
enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,	/* -q: warnings and errors only */
	LOG_LEVEL_INFO = 2,	/* default: one line per event */
	LOG_LEVEL_DEBUG = 3,	/* -v */
};
#define LOG_LEVELS 4

enum log_format {
	LOG_FORMAT_SHORT,
	LOG_FORMAT_ZTUNNEL,
};

/* Exit status of fatal()/fatalx(); the programs document it. */
#define EXIT_FATAL 2

void		log_init(const char *prog, enum log_level level);
void		log_setlevel(enum log_level level);
enum log_level	log_getlevel(void);
void		log_setformat(enum log_format format);
/* "error", "warn", "info", "debug"; and back (-1 if none matches). */
const char	*log_level_name(enum log_level level);
int		 log_level_parse(const char *name, enum log_level *level);
/* "short" or "ztunnel" (-1 if neither). */
int		 log_format_parse(const char *name, enum log_format *format);
/* One line of a program's output on stdout ("listeners ready"), written
 * like the log: whole, or dropped and counted, never blocking. */
void		log_stdout(const char *line);

/* with_errno: append ": strerror(errno)", errno as it is on entry. */
void		log_msg(const char *target, enum log_level level,
		    int with_errno, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
void		log_kv(const char *target, enum log_level level,
		    const char *msg, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
noreturn void	log_fatal(const char *target, int with_errno,
		    const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

#define log_warn(...)	log_msg(LOG_TARGET, LOG_LEVEL_WARN, 1, __VA_ARGS__)
#define log_warnx(...)	log_msg(LOG_TARGET, LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_TARGET, LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_TARGET, LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_event(level, msg, ...) \
	log_kv(LOG_TARGET, (level), (msg), __VA_ARGS__)
#define fatal(...)	log_fatal(LOG_TARGET, 1, __VA_ARGS__)
#define fatalx(...)	log_fatal(LOG_TARGET, 0, __VA_ARGS__)

#endif
