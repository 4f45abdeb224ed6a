/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zt-load: drives ztunnel-emulator for the scale test and the benchmark,
 * and measures the kernel's own floor for the same work.  Latencies are
 * measured in-process (CLOCK_MONOTONIC), so no process start is counted
 * unless that is what is measured.
 *
 *   zt-load lo-up  PREFIX FIRST COUNT       bring lo up in PREFIX-FIRST..
 *   zt-load add    SOCK PREFIX FIRST COUNT  "add PREFIX-i" + its netns fd
 *   zt-load del    SOCK PREFIX FIRST COUNT  "del PREFIX-i"
 *   zt-load cycle  SOCK PREFIX FIRST COUNT  add then del each, both timed
 *   zt-load floor  PREFIX FIRST COUNT       setns, 3 x socket/bind/listen,
 *                                           setns back, per namespace
 *   zt-load spawn  COUNT PROGRAM [ARGS]     fork + exec + wait, per run
 *
 * Prints one line of statistics per timed operation:
 *   OP n=COUNT p50=US p90=US p99=US mean=US  (microseconds)
 * and with -o FILE also every sample, one per line, in microseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "fdpass.h"
#include "netns.h"
#include "udsock.h"
#include "wire.h"

static const char *samples_path;

static void
die(const char *what)
{
	fprintf(stderr, "zt-load: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
diex(const char *what)
{
	fprintf(stderr, "zt-load: %s\n", what);
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *op, uint64_t *ns, size_t n)
{
	uint64_t	sum = 0;
	size_t		i;
	FILE	       *f;

	if (n == 0)
		return;
	if (samples_path != NULL) {
		if ((f = fopen(samples_path, "a")) == NULL)
			die(samples_path);
		for (i = 0; i < n; i++)
			fprintf(f, "%s,%.3f\n", op, (double)ns[i] / 1e3);
		fclose(f);
	}
	for (i = 0; i < n; i++)
		sum += ns[i];
	qsort(ns, n, sizeof(*ns), cmp_u64);
	printf("%s n=%zu p50=%.1f p90=%.1f p99=%.1f mean=%.1f\n", op, n,
	    (double)ns[n / 2] / 1e3, (double)ns[n * 9 / 10] / 1e3,
	    (double)ns[n * 99 / 100] / 1e3, (double)sum / (double)n / 1e3);
}

static void
netns_path(char *buf, size_t size, const char *prefix, long i)
{
	snprintf(buf, size, "%s/%s-%ld", NETNS_RUN_DIR, prefix, i);
}

/* One request on a fresh connection, as cni-emulator makes it. */
static void
request(const char *sock_path, enum wire_op op, const char *name, int fd)
{
	char	buf[WIRE_REPLY_MAX];
	ssize_t	n;
	size_t	len = 0;
	int	s, reqlen;

	if ((reqlen = wire_format(buf, sizeof(buf), op, name)) == -1)
		die("request");
	if ((s = udsock_connect(sock_path, SOCK_STREAM)) == -1)
		die(sock_path);
	if (fdpass_send(s, buf, (size_t)reqlen, fd) == -1)
		die("send");
	while (len < sizeof(buf) - 1) {
		n = read(s, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	buf[len] = '\0';
	close(s);
	if (strncmp(buf, WIRE_ERROR, strlen(WIRE_ERROR)) == 0 || len == 0) {
		fprintf(stderr, "zt-load: %s %s: %s\n", op == WIRE_OP_ADD ?
		    "add" : "del", name, len ? buf : "no reply\n");
		exit(3);
	}
}

static void
one(const char *sock, enum wire_op op, const char *prefix, long i)
{
	char	path[PATH_MAX], name[WIRE_NAME_MAX + 1];
	int	fd = -1;

	snprintf(name, sizeof(name), "%s-%ld", prefix, i);
	if (op == WIRE_OP_ADD) {
		netns_path(path, sizeof(path), prefix, i);
		if ((fd = netns_open(path)) == -1)
			die(path);
	}
	request(sock, op, name, fd);
	if (fd != -1)
		close(fd);
}

static void
run_requests(const char *mode, const char *sock, const char *prefix,
    long first, long count)
{
	uint64_t	*a, *d, t;
	long		 i;

	if ((a = calloc((size_t)count, sizeof(*a))) == NULL ||
	    (d = calloc((size_t)count, sizeof(*d))) == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		if (strcmp(mode, "del") != 0) {
			t = now_ns();
			one(sock, WIRE_OP_ADD, prefix, first + i);
			a[i] = now_ns() - t;
		}
		if (strcmp(mode, "add") != 0) {
			t = now_ns();
			one(sock, WIRE_OP_DEL, prefix, first + i);
			d[i] = now_ns() - t;
		}
	}
	if (strcmp(mode, "del") != 0)
		report("add", a, (size_t)count);
	if (strcmp(mode, "add") != 0)
		report("del", d, (size_t)count);
	free(a);
	free(d);
}

static void
lo_up(const char *prefix, long first, long count)
{
	struct ifreq	ifr;
	char		path[PATH_MAX];
	long		i;
	int		home, fd, s;

	if ((home = netns_open_self()) == -1)
		die("own netns");
	for (i = first; i < first + count; i++) {
		netns_path(path, sizeof(path), prefix, i);
		if ((fd = netns_open(path)) == -1)
			die(path);
		if (netns_enter(fd) == -1)
			die("setns");
		if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
			die("socket");
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, "lo", 3);
		if (ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
			die("SIOCGIFFLAGS");
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1)
			die("SIOCSIFFLAGS");
		close(s);
		if (netns_enter(home) == -1)
			die("setns home");
		close(fd);
	}
	close(home);
}

/*
 * The kernel floor: what any implementation must do per pod, and nothing
 * else.  The sockets stay open, as the daemon's do, until the end.
 */
static void
floor_run(const char *prefix, long first, long count)
{
	struct sockaddr_in	 sin;
	static const uint16_t	 ports[3] = { 15008, 15006, 15001 };
	uint64_t		*ns, t;
	char			 path[PATH_MAX];
	long			 i;
	int			*socks, home, fd, j, on = 1;

	if ((ns = calloc((size_t)count, sizeof(*ns))) == NULL ||
	    (socks = calloc((size_t)count * 3, sizeof(*socks))) == NULL)
		die("calloc");
	if ((home = netns_open_self()) == -1)
		die("own netns");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < count; i++) {
		netns_path(path, sizeof(path), prefix, first + i);
		if ((fd = netns_open(path)) == -1)
			die(path);
		t = now_ns();
		if (netns_enter(fd) == -1)
			die("setns");
		for (j = 0; j < 3; j++) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);

			sin.sin_port = htons(ports[j]);
			if (s == -1 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR,
			    &on, sizeof(on)) == -1 ||
			    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
			    listen(s, SOMAXCONN) == -1)
				die("listener");
			socks[i * 3 + j] = s;
		}
		if (netns_enter(home) == -1)
			die("setns home");
		close(fd);
		ns[i] = now_ns() - t;
	}
	report("floor", ns, (size_t)count);
	for (i = 0; i < count * 3; i++)
		close(socks[i]);
	free(socks);
	free(ns);
}

static void
spawn_run(long count, char **argv)
{
	uint64_t	*ns, t;
	long		 i;
	pid_t		 pid;
	int		 status;

	if ((ns = calloc((size_t)count, sizeof(*ns))) == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		t = now_ns();
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) == -1)
			die("waitpid");
		ns[i] = now_ns() - t;
		if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
			diex("spawned program failed");
	}
	report("spawn", ns, (size_t)count);
	free(ns);
}

static long
num(const char *s)
{
	char	*end;
	long	 v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0)
		diex("bad number");
	return v;
}

int
main(int argc, char *argv[])
{
	if (argc > 2 && strcmp(argv[1], "-o") == 0) {
		samples_path = argv[2];
		argc -= 2;
		argv += 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "lo-up") == 0)
		lo_up(argv[2], num(argv[3]), num(argv[4]));
	else if (argc == 6 && (strcmp(argv[1], "add") == 0 ||
	    strcmp(argv[1], "del") == 0 || strcmp(argv[1], "cycle") == 0))
		run_requests(argv[1], argv[2], argv[3], num(argv[4]),
		    num(argv[5]));
	else if (argc == 5 && strcmp(argv[1], "floor") == 0)
		floor_run(argv[2], num(argv[3]), num(argv[4]));
	else if (argc >= 4 && strcmp(argv[1], "spawn") == 0)
		spawn_run(num(argv[2]), argv + 3);
	else {
		fprintf(stderr, "usage: see the comment at the top of "
		    "tests/bench/zt-load.c\n");
		return 1;
	}
	return 0;
}
