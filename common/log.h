/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdnoreturn.h>

/*
 * One line per message on stderr: "program: message".  The _warn variants
 * append ": strerror(errno)"; the _warnx variants do not.  fatal() and
 * fatalx() are for a program that cannot go on; library code never calls
 * them (it returns -1 with errno set and lets the program decide).
 */

enum log_level {
	LOG_LEVEL_ERROR = 0,	/* -q: warnings and errors only */
	LOG_LEVEL_INFO = 1,	/* default: one line per event */
	LOG_LEVEL_DEBUG = 2,	/* -v */
};

/* Exit status of fatal()/fatalx(); the programs document it. */
#define EXIT_FATAL 2

void		log_init(const char *prog, enum log_level level);
void		log_setlevel(enum log_level level);
enum log_level	log_getlevel(void);
/* One line of a program's output on stdout ("listeners ready"), written
 * like the log: whole, or dropped and counted, never blocking. */
void		log_stdout(const char *line);

void		log_warn(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
void		log_warnx(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
void		log_info(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
void		log_debug(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
noreturn void	fatal(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
noreturn void	fatalx(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

#endif
