/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.c: clocks and number parsing shared by both programs.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "util.h"

uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	/* Cannot fail with a valid clock id and pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
ms_until(uint64_t deadline, uint64_t now)
{
	uint64_t left = deadline > now ? deadline - now : 0;

	return left > INT_MAX ? INT_MAX : (int)left;
}

int
parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
	unsigned long	 v;
	char		*end;

	/* strtoul would accept leading space and a minus sign. */
	if (!isdigit((unsigned char)s[0])) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoul(s, &end, base);
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (errno == ERANGE || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_seconds_ms(const char *s, uint64_t max_ms, uint64_t *out)
{
	uint64_t	ms = 0, scale = 100;
	const char     *p = s;

	if (!isdigit((unsigned char)*p)) {
		errno = EINVAL;
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		ms = ms * 10 + (uint64_t)(*p - '0') * 1000;
		if (ms > max_ms) {
			errno = ERANGE;
			return -1;
		}
	}
	if (*p == '.') {
		/* Milliseconds are enough: further digits are ignored. */
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			ms += (uint64_t)(*p - '0') * scale;
	}
	if (*p != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (ms > max_ms) {
		errno = ERANGE;
		return -1;
	}
	*out = ms;
	return 0;
}

int
raise_nofile(uint64_t *limit)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	*limit = rl.rlim_cur;
	if (rl.rlim_cur == rl.rlim_max)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	*limit = rl.rlim_cur;
	return 0;
}

int
parse_uid(const char *arg, uid_t *uid)
{
	unsigned long	 v;
	char		 line[1024], *pw, *id, *end;
	FILE		*f;
	int		 found = 0;

	if (parse_ulong(arg, 10, (uid_t)-2, &v) == 0) {
		*uid = (uid_t)v;
		return 0;
	}
	if ((f = fopen("/etc/passwd", "re")) == NULL)
		return -1;
	/* name:password:uid:gid:gecos:home:shell; fields may be empty. */
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if ((pw = strchr(line, ':')) == NULL ||
		    (id = strchr(pw + 1, ':')) == NULL ||
		    (end = strchr(id + 1, ':')) == NULL)
			continue;
		*pw = *end = '\0';
		if (strcmp(line, arg) == 0 &&
		    parse_ulong(id + 1, 10, (uid_t)-2, &v) == 0) {
			*uid = (uid_t)v;
			found = 1;
		}
	}
	fclose(f);
	if (!found)
		errno = ENOENT;
	return found ? 0 : -1;
}

void
strbuf_printf(struct strbuf *t, const char *fmt, ...)
{
	va_list	 ap;
	char	*nbuf;
	size_t	 nsize;
	int	 n;

	while (!t->failed) {
		/* Room first: even NULL + 0 is not a pointer C allows. */
		if (t->buf != NULL) {
			va_start(ap, fmt);
			n = vsnprintf(t->buf + t->len, t->size - t->len, fmt,
			    ap);
			va_end(ap);
			if (n >= 0 && (size_t)n < t->size - t->len) {
				t->len += (size_t)n;
				return;
			}
			if (n < 0) {
				t->failed = 1;
				return;
			}
		}
		nsize = t->size == 0 ? 4096 : t->size * 2;
		if ((nbuf = realloc(t->buf, nsize)) == NULL) {
			t->failed = 1;
			return;
		}
		t->buf = nbuf;
		t->size = nsize;
	}
}

void
sock_drain(int fd)
{
	char	buf[4096];
	int	i;

	for (i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

void
sa_str(const struct sockaddr *sa, char *buf, size_t size)
{
	const struct sockaddr_in6	*sin6;
	const struct sockaddr_in	*sin;
	char				 ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)) ==
		    NULL)
			snprintf(ip, sizeof(ip), "?");
		snprintf(buf, size, "[%s]:%u", ip, ntohs(sin6->sin6_port));
		return;
	}
	sin = (const struct sockaddr_in *)(const void *)sa;
	if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, size, "%s:%u", ip, ntohs(sin->sin_port));
}

void
strbuf_add(struct strbuf *t, const void *p, size_t n)
{
	char	*nbuf;
	size_t	 nsize;

	if (t->failed)
		return;
	if (t->size - t->len <= n) {
		nsize = t->size == 0 ? 4096 : t->size;
		while (nsize - t->len <= n)
			nsize *= 2;
		if ((nbuf = realloc(t->buf, nsize)) == NULL) {
			t->failed = 1;
			return;
		}
		t->buf = nbuf;
		t->size = nsize;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

void
strbuf_free(struct strbuf *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->size = 0;
	t->failed = 0;
}

void
sock_state_count(int fd, struct sock_states *s)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1) {
		s->other++;
		return;
	}
	switch (ti.tcpi_state) {
	case TCP_ESTABLISHED:
		s->established++;
		break;
	case TCP_CLOSE_WAIT:
		s->close_wait++;
		break;
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
		s->fin_wait++;
		break;
	default:
		s->other++;
		break;
	}
}

void
strbuf_json(struct strbuf *t, const char *s)
{
	size_t n;

	strbuf_add(t, "\"", 1);
	while (*s != '\0') {
		n = strcspn(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
		    "\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
		    "\x19\x1a\x1b\x1c\x1d\x1e\x1f");
		strbuf_add(t, s, n);
		s += n;
		if (*s == '\0')
			break;
		if (*s == '"' || *s == '\\')
			strbuf_printf(t, "\\%c", *s);
		else
			strbuf_printf(t, "\\u%04x", (unsigned char)*s);
		s++;
	}
	strbuf_add(t, "\"", 1);
}
