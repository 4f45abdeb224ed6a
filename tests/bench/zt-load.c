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
 *                                           setns back, close, per pod
 *   zt-load ledger PREFIX FIRST COUNT       the floor, then each thing the
 *                                           daemon does beyond it, timed
 *                                           alone (CPU time per pod)
 *   zt-load spawn  COUNT PROGRAM [ARGS]     fork + exec + wait, per run
 *   zt-load cli    CNI SOCK PREFIX FIRST COUNT
 *                                           run "CNI SOCK PREFIX-i" per pod
 *   zt-load zds    SOCK PREFIX FIRST COUNT  be the node agent on SOCK: wait
 *                                           for one ztunnel, then Add each
 *                                           pod and Del each, one acked
 *                                           request at a time
 *   zt-load zds-bare SOCK                   a bare ztunnel over ZDS: connect
 *                                           to the agent on SOCK, hello;
 *                                           per Add only epoll_wait,
 *                                           recvmsg with the fd, setns,
 *                                           3 x socket/SO_REUSEADDR/bind/
 *                                           listen, setns back, 3 x
 *                                           epoll_ctl, close, ack (the
 *                                           yardstick for the daemon's
 *                                           CPU per Add); until EOF
 *   zt-load zds-bare SOCK checks            the same, with the checks and
 *                                           options the daemon must have:
 *                                           the fd validated (fstat,
 *                                           NS_GET_NSTYPE), SO_REUSEPORT
 *                                           (upgrades), lo up?, the
 *                                           "listeners ready" line
 *   zt-load zds-bare SOCK checks BYTES      the same, keeping BYTES (8 or
 *                                           more) of fresh heap per pod as
 *                                           the daemon's records do (what
 *                                           memory per pod costs; RESULTS.md)
 *   zt-load tcp-echo PORT                   an app: echo each connection's
 *                                           bytes, all connections on one
 *                                           epoll loop, for ever
 *   zt-load tcp-rtt IP PORT COUNT           new-connection latency: connect,
 *                                           one byte there and back, close
 *   zt-load tcp-rate IP PORT COUNT PROCS    the same from PROCS processes at
 *                                           once: connections per second
 *   zt-load tcp-hold IP PORT COUNT          COUNT connections, a byte echoed
 *                                           on each, then held open ("held
 *                                           COUNT") until killed
 *   zt-load tcp-splice LPORT IP PORT [MODE] the bare splice relay (the
 *                                           yardstick): LPORT to IP:PORT,
 *                                           two pipes per connection;
 *                                           MODE bare (the default), big,
 *                                           frame or unframe (below, at
 *                                           tcp_splice)
 *
 * Prints one line of statistics per timed operation:
 *   OP n=COUNT p50=US p90=US p99=US mean=US  (microseconds)
 * and with -o FILE also every sample, one per line, in microseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "fdpass.h"
#include "h2frame.h"
#include "netns.h"
#include "udsock.h"
#include "wire.h"
#include "zds.h"

static const char *samples_path;

static void	die(const char *) __attribute__((noreturn));
static void	diex(const char *) __attribute__((noreturn));

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

/* Nanoseconds a process has spent on a CPU (/proc/PID/schedstat). */
static uint64_t
cpu_ns(pid_t pid)
{
	unsigned long long	ns = 0;
	char			path[64];
	FILE		       *f;

	snprintf(path, sizeof(path), "/proc/%ld/schedstat", (long)pid);
	if ((f = fopen(path, "r")) == NULL || fscanf(f, "%llu", &ns) != 1)
		die(path);
	fclose(f);
	return ns;
}

static int
devnull_fd(void)
{
	static int fd = -1;

	if (fd == -1 && (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		die("/dev/null");
	return fd;
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
 * Where a handoff's time goes.  The kernel floor is what any
 * implementation must do per pod and nothing else: setns in, socket, bind
 * and listen three times, setns back, close.  Each further step adds one
 * thing the daemon does on top, in a loop over fresh namespaces, and the
 * CPU time per pod of the whole is printed; the differences are the costs.
 * The sockets stay open, as the daemon's do, until the pass is over.
 */
enum { L_REUSE = 1, L_CHECK = 2, L_LO = 4, L_EPOLL = 8, L_STDOUT = 16,
    L_IPC = 32 };

static double
ledger_pass(const char *prefix, long first, long count, int what,
    uint64_t *lat)
{
	struct sockaddr_in	 sin;
	static const uint16_t	 ports[3] = { 15008, 15006, 15001 };
	struct epoll_event	 ev = { .events = EPOLLIN };
	struct ifreq		 ifr;
	struct nsid		 id;
	uint8_t			 msg[64];
	char			 path[PATH_MAX];
	uint64_t		 cpu0, t = 0;
	long			 i;
	int			*fds, *socks, home, ep, sv[2], fd, got, j, on = 1;

	if ((fds = calloc((size_t)count, sizeof(*fds))) == NULL ||
	    (socks = calloc((size_t)count * 3, sizeof(*socks))) == NULL)
		die("calloc");
	if ((home = netns_open_self()) == -1 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		die("setup");
	for (i = 0; i < count; i++) {
		netns_path(path, sizeof(path), prefix, first + i);
		if ((fds[i] = netns_open(path)) == -1)
			die(path);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	cpu0 = cpu_ns(getpid());
	for (i = 0; i < count; i++) {
		fd = fds[i];
		if (lat != NULL)
			t = now_ns();
		if (what & L_IPC) {	/* the request in, with its fd */
			if (fdpass_send(sv[0], msg, 40, fd) != 40 ||
			    fdpass_recv(sv[1], msg, sizeof(msg), &got) != 40)
				die("ipc");
			close(fd);
			fd = got;
		}
		if ((what & L_CHECK) && netns_check(fd, &id) == -1)
			die("check");
		if (netns_enter(fd) == -1)
			die("setns");
		for (j = 0; j < 3; j++) {
			int sk = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);

			sin.sin_port = htons(ports[j]);
			if (sk == -1 || ((what & L_REUSE) && setsockopt(sk,
			    SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1) ||
			    bind(sk, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
			    listen(sk, SOMAXCONN) == -1)
				die("listener");
			socks[i * 3 + j] = sk;
		}
		if ((what & L_LO) && ioctl(socks[i * 3], SIOCGIFFLAGS, &ifr) == -1)
			die("SIOCGIFFLAGS");
		if (netns_enter(home) == -1)
			die("setns home");
		close(fd);
		for (j = 0; (what & L_EPOLL) && j < 3; j++)
			if (epoll_ctl(ep, EPOLL_CTL_ADD, socks[i * 3 + j], &ev) == -1)
				die("epoll_ctl");
		if ((what & L_STDOUT) && write(devnull_fd(), "listeners ready\n",
		    16) != 16)
			die("write");
		if ((what & L_IPC) && (send(sv[1], "\x0a\x00", 2, 0) != 2 ||
		    recv(sv[0], msg, sizeof(msg), 0) != 2))
			die("ack");
		if (lat != NULL)
			lat[i] = now_ns() - t;
	}
	cpu0 = cpu_ns(getpid()) - cpu0;
	for (i = 0; i < count * 3; i++)
		close(socks[i]);
	close(ep);
	close(home);
	close(sv[0]);
	close(sv[1]);
	free(socks);
	free(fds);
	return (double)cpu0 / 1e3 / (double)count;
}

static void
ledger_run(const char *prefix, long first, long count)
{
	static const struct {
		int		 what;
		const char	*name;
	} steps[] = {
		{ 0, "floor: setns, 3 x socket/bind/listen, setns, close" },
		{ L_REUSE, "+ SO_REUSEADDR x3 (rebind past TIME_WAIT)" },
		{ L_REUSE | L_CHECK, "+ validate the fd (netns_check: fstat, "
		    "NS_GET_NSTYPE)" },
		{ L_REUSE | L_CHECK | L_LO, "+ lo up? (SIOCGIFFLAGS)" },
		{ L_REUSE | L_CHECK | L_LO | L_EPOLL, "+ epoll_ctl x3 (serve "
		    "them)" },
		{ L_REUSE | L_CHECK | L_LO | L_EPOLL | L_STDOUT, "+ stdout "
		    "line" },
		{ L_REUSE | L_CHECK | L_LO | L_EPOLL | L_STDOUT | L_IPC,
		    "+ fd in and ack out over SEQPACKET (both ends)" },
	};
	size_t	i;
	double	us[3], t;

	/* The median of three passes: one pass is at the mercy of whatever
	 * else the machine did meanwhile. */
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		us[0] = ledger_pass(prefix, first, count, steps[i].what, NULL);
		us[1] = ledger_pass(prefix, first, count, steps[i].what, NULL);
		us[2] = ledger_pass(prefix, first, count, steps[i].what, NULL);
		if (us[0] > us[1])
			t = us[0], us[0] = us[1], us[1] = t;
		if (us[1] > us[2])
			t = us[1], us[1] = us[2], us[2] = t;
		if (us[0] > us[1])
			t = us[0], us[0] = us[1], us[1] = t;
		printf("ledger step=%zu us_per_pod=%.1f  %s\n", i, us[1],
		    steps[i].name);
	}
}

/* The floor alone, with per-pod latencies as well as CPU time. */
static void
floor_run(const char *prefix, long first, long count)
{
	uint64_t	*ns;
	double		 cpu;

	if ((ns = calloc((size_t)count, sizeof(*ns))) == NULL)
		die("calloc");
	cpu = ledger_pass(prefix, first, count, 0, ns);
	report("floor", ns, (size_t)count);
	printf("floor-cpu n=%ld us_per_pod=%.1f\n", count, cpu);
	free(ns);
}

/* fork, exec, wait: the time it took.  Exit status 0 (or 1, for a
 * trivial program) is required. */
static uint64_t
spawn_once(char **argv)
{
	uint64_t	t = now_ns();
	pid_t		pid;
	int		status;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid");
	t = now_ns() - t;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
		fprintf(stderr, "zt-load: %s %s: failed\n", argv[0],
		    argv[1] != NULL ? argv[1] : "");
		exit(3);
	}
	return t;
}

static void
spawn_run(long count, char **argv)
{
	uint64_t	*ns;
	long		 i;

	if ((ns = calloc((size_t)count, sizeof(*ns))) == NULL)
		die("calloc");
	for (i = 0; i < count; i++)
		ns[i] = spawn_once(argv);
	report("spawn", ns, (size_t)count);
	free(ns);
}

/* One process per handoff, as a CNI plugin would run it. */
static void
cli_run(char *cni, char *sock, const char *prefix, long first, long count)
{
	uint64_t	*ns;
	char		 name[WIRE_NAME_MAX + 1];
	char		*argv[] = { cni, sock, name, NULL };
	long		 i;

	if ((ns = calloc((size_t)count, sizeof(*ns))) == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s-%ld", prefix, first + i);
		ns[i] = spawn_once(argv);
	}
	report("cli", ns, (size_t)count);
	free(ns);
}

/* Send one request (fd attached, or -1) and wait for its ack. */
static void
zds_round_trip(int s, const struct zds_request *req, int fd)
{
	uint8_t		buf[ZDS_MSG_MAX];
	char		err[256];
	const char     *why;
	ssize_t		n;
	int		got;

	if ((n = zds_encode_request(buf, sizeof(buf), req)) == -1)
		die("encode");
	if (fdpass_send(s, buf, (size_t)n, fd) != n)
		die("send");
	if ((n = fdpass_recv(s, buf, sizeof(buf), &got)) <= 0)
		die("ack");
	if (zds_decode_ack(buf, (size_t)n, err, sizeof(err), &why) == -1)
		diex(why);
	if (err[0] != '\0') {
		fprintf(stderr, "zt-load: %s %s: %s\n",
		    zds_type_name(req->type), req->uid, err);
		exit(3);
	}
}

static void
zds_run(const char *path, const char *prefix, long first, long count)
{
	struct zds_request	 req;
	struct ucred		 cred;
	socklen_t		 credlen = sizeof(cred);
	uint64_t		*a, *d, t, start, total, cpu0, cpu1;
	uint8_t			 buf[ZDS_MSG_MAX];
	char			 p[PATH_MAX];
	ino_t			 ino;
	long			 i;
	int			*fds, l, s, got;

	if ((a = calloc((size_t)count, sizeof(*a))) == NULL ||
	    (d = calloc((size_t)count, sizeof(*d))) == NULL ||
	    (fds = calloc((size_t)count, sizeof(*fds))) == NULL)
		die("calloc");
	/* Open every namespace first: the timed loop is the protocol and
	 * the daemon, not our open(). */
	for (i = 0; i < count; i++) {
		netns_path(p, sizeof(p), prefix, first + i);
		if ((fds[i] = netns_open(p)) == -1)
			die(p);
	}
	if ((l = udsock_listen(path, SOCK_SEQPACKET, 0600, &ino)) == -1)
		die(path);
	printf("listening\n");
	/* Blocking from here on: one ztunnel, one request at a time. */
	if (fcntl(l, F_SETFL, 0) == -1)
		die("fcntl");
	if ((s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		die("accept");
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == -1)
		die("SO_PEERCRED");
	if (fdpass_recv(s, buf, sizeof(buf), &got) <= 0)
		die("hello");
	memset(&req, 0, sizeof(req));
	req.type = ZDS_SNAPSHOT_SENT;
	zds_round_trip(s, &req, -1);

	/* The daemon's own time on a CPU: its cost, without the wake-ups
	 * and our side of the exchange. */
	cpu0 = cpu_ns(cred.pid);
	start = now_ns();
	for (i = 0; i < count; i++) {
		memset(&req, 0, sizeof(req));
		req.type = ZDS_ADD;
		snprintf(req.uid, sizeof(req.uid), "%s-%ld", prefix, first + i);
		req.has_info = 1;
		snprintf(req.info.name, sizeof(req.info.name), "%s", req.uid);
		snprintf(req.info.namespace, sizeof(req.info.namespace),
		    "bench");
		t = now_ns();
		zds_round_trip(s, &req, fds[i]);
		a[i] = now_ns() - t;
	}
	total = now_ns() - start;
	cpu1 = cpu_ns(cred.pid);
	printf("zds-add-rate n=%ld per_s=%.0f us_per_pod=%.1f\n", count,
	    (double)count * 1e9 / (double)total, (double)total / 1e3 /
	    (double)count);
	printf("zds-add-cpu n=%ld us_per_pod=%.1f\n", count,
	    (double)(cpu1 - cpu0) / 1e3 / (double)count);
	for (i = 0; i < count; i++) {
		memset(&req, 0, sizeof(req));
		req.type = ZDS_DEL;
		snprintf(req.uid, sizeof(req.uid), "%s-%ld", prefix, first + i);
		t = now_ns();
		zds_round_trip(s, &req, -1);
		d[i] = now_ns() - t;
		close(fds[i]);
	}
	printf("zds-del-cpu n=%ld us_per_pod=%.1f\n", count,
	    (double)(cpu_ns(cred.pid) - cpu1) / 1e3 / (double)count);
	report("zds-add", a, (size_t)count);
	report("zds-del", d, (size_t)count);
	close(s);
	close(l);
	udsock_unlink(path, ino);
	free(a);
	free(d);
	free(fds);
}

/*
 * The handoff and nothing else, as a ztunnel that trusted its agent
 * would do it: what our daemon's CPU per ZDS Add is compared with.
 * Listeners of a Del are closed; every request is acked.
 */
static void
zds_bare(const char *path, int checks, size_t keep)
{
	static const uint16_t	 ports[3] = { 15008, 15006, 15001 };
	struct sockaddr_un	 sun;
	struct sockaddr_in	 sin;
	struct epoll_event	 ev = { .events = EPOLLIN }, got_ev;
	struct zds_request	 req;
	struct ifreq		 ifr;
	struct nsid		 id;
	const char		*why;
	uint8_t			 buf[ZDS_MSG_MAX];
	int			*socks = NULL, home = -1, ep = -1, s = -1, fd;
	int			 j, on = 1;
	size_t			 n = 0, cap = 0, i;
	void			*kept = NULL, *rec;
	ssize_t			 len;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		diex("socket path too long");
	memcpy(sun.sun_path, path, strlen(path));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if ((home = netns_open_self()) == -1 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    (len = zds_encode_hello(buf, sizeof(buf), 1)) == -1 ||
	    send(s, buf, (size_t)len, 0) != len ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == -1)
		die("zds-bare: setup");
	for (;;) {
		if (epoll_wait(ep, &got_ev, 1, -1) != 1)
			die("epoll_wait");
		if ((len = fdpass_recv(s, buf, sizeof(buf), &fd)) <= 0)
			break;		/* the agent is done */
		if (zds_decode_request(buf, (size_t)len, &req, &why) == -1)
			diex(why);
		if (req.type == ZDS_ADD && fd != -1) {
			if (checks && netns_check(fd, &id) == -1)
				die("check");
			/* A record per pod, zeroed, linked by its first word. */
			if (keep > 0) {
				if ((rec = calloc(1, keep)) == NULL)
					die("calloc");
				memcpy(rec, &kept, sizeof(kept));
				kept = rec;
			}
			if (n + 3 > cap) {
				int *more;

				cap = cap ? cap * 2 : 3072;
				if ((more = realloc(socks, cap *
				    sizeof(*socks))) == NULL)
					die("realloc");
				socks = more;
			}
			if (netns_enter(fd) == -1)
				die("setns");
			for (j = 0; j < 3; j++) {
				int sk = socket(AF_INET, SOCK_STREAM |
				    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

				sin.sin_port = htons(ports[j]);
				if (sk == -1 || setsockopt(sk, SOL_SOCKET,
				    SO_REUSEADDR, &on, sizeof(on)) == -1 ||
				    (checks && setsockopt(sk, SOL_SOCKET,
				    SO_REUSEPORT, &on, sizeof(on)) == -1) ||
				    bind(sk, (struct sockaddr *)&sin,
				    sizeof(sin)) == -1 ||
				    listen(sk, SOMAXCONN) == -1)
					die("listener");
				socks[n++] = sk;
			}
			if (checks && ioctl(socks[n - 3], SIOCGIFFLAGS,
			    &ifr) == -1)
				die("SIOCGIFFLAGS");
			if (netns_enter(home) == -1)
				die("setns home");
			if (checks && write(devnull_fd(), "listeners ready\n",
			    16) != 16)
				die("write");
			for (j = 1; j <= 3; j++)
				if (epoll_ctl(ep, EPOLL_CTL_ADD, socks[n - j],
				    &ev) == -1)
					die("epoll_ctl");
			close(fd);
		} else if (req.type == ZDS_DEL && n >= 3) {
			/* The oldest pod: the driver deletes in add order. */
			for (j = 0; j < 3; j++)
				close(socks[j]);
			memmove(socks, socks + 3, (n - 3) * sizeof(*socks));
			n -= 3;
		} else if (fd != -1)
			close(fd);
		if ((len = zds_encode_ack(buf, sizeof(buf), "")) == -1 ||
		    send(s, buf, (size_t)len, 0) != len)
			die("ack");
	}
	for (i = 0; i < n; i++)
		close(socks[i]);
	free(socks);
	while ((rec = kept) != NULL) {
		memcpy(&kept, rec, sizeof(kept));
		free(rec);
	}
	close(s);
	close(ep);
	close(home);
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

/* The address IP:PORT (IPv4), or a one-line exit. */
static struct sockaddr_in
tcp_addr(const char *ip, const char *port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)num(port));
	if (ip != NULL && inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		diex("bad address");
	return sin;
}

/* A listening socket on every address, PORT; nonblocking if asked. */
static int
tcp_listen(const char *port, int flags)
{
	struct sockaddr_in	sin = tcp_addr(NULL, port);
	int			l, on = 1;

	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0)) == -1 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, SOMAXCONN) == -1)
		die("listen");
	return l;
}

/* A nonblocking listener on PORT in a new epoll set, its events tagged
 * data; says "listening".  Returns the set, the listener in *lfd. */
static int
tcp_listen_epoll(const char *port, epoll_data_t data, int *lfd)
{
	struct epoll_event	ev = { .events = EPOLLIN, .data = data };
	int			ep;

	*lfd = tcp_listen(port, SOCK_NONBLOCK);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if (epoll_ctl(ep, EPOLL_CTL_ADD, *lfd, &ev) == -1)
		die("epoll_ctl");
	printf("listening\n");
	return ep;
}

/* epoll_wait with no timeout, through signals. */
static int
wait_events(int ep, struct epoll_event *evs, int max)
{
	int k;

	while ((k = epoll_wait(ep, evs, max, -1)) == -1)
		if (errno != EINTR)
			die("epoll_wait");
	return k;
}

/* One new connection: connect, one byte there and back.  Returns it
 * open; -1 with errno on failure. */
static int
tcp_exchange(const struct sockaddr_in *sin)
{
	char	b = 'x';
	int	s, e;

	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(s, (const struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    write(s, &b, 1) != 1 || read(s, &b, 1) != 1) {
		e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* An app: every connection at once on one epoll loop, each echoed.  The
 * accepted sockets block, so a short write finishes there: the clients
 * here send a byte and wait for it. */
static void
tcp_echo(const char *port)
{
	struct epoll_event	ev = { .events = EPOLLIN }, evs[64];
	char			buf[4096];
	ssize_t			n;
	int			l, c, ep, fd, i, k;

	ep = tcp_listen_epoll(port, (epoll_data_t){ .fd = -1 }, &l);
	for (;;) {
		k = wait_events(ep, evs, 64);
		for (i = 0; i < k; i++) {
			if ((fd = evs[i].data.fd) == -1) {
				while ((c = accept4(l, NULL, NULL,
				    SOCK_CLOEXEC)) != -1) {
					ev.data.fd = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c,
					    &ev) == -1)
						close(c);
				}
				continue;
			}
			if ((n = read(fd, buf, sizeof(buf))) <= 0 ||
			    write(fd, buf, (size_t)n) != n)
				close(fd);
		}
	}
}

static void
tcp_rtt(const char *ip, const char *port, long count)
{
	struct sockaddr_in	 sin = tcp_addr(ip, port);
	uint64_t		*ns, t0;
	long			 i;
	int			 s;

	if ((ns = calloc((size_t)count, sizeof(*ns))) == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		t0 = now_ns();
		if ((s = tcp_exchange(&sin)) == -1)
			die("tcp-rtt");
		ns[i] = now_ns() - t0;
		close(s);
	}
	report("tcp-rtt", ns, (size_t)count);
	free(ns);
}

/* Connections per second: PROCS processes, each opening its share of
 * COUNT one after the other; the wall time of them all. */
static void
tcp_rate(const char *ip, const char *port, long count, long procs)
{
	struct sockaddr_in	sin = tcp_addr(ip, port);
	uint64_t		t0, dt;
	long			p, i;
	pid_t			pid;
	int			s, st, bad = 0;

	if (procs < 1 || count < procs)
		diex("tcp-rate: COUNT must be at least PROCS, PROCS at least 1");
	t0 = now_ns();
	for (p = 0; p < procs; p++) {
		if ((pid = fork()) == -1)
			die("fork");
		if (pid != 0)
			continue;
		for (i = 0; i < count / procs; i++) {
			if ((s = tcp_exchange(&sin)) == -1) {
				perror("zt-load: tcp-rate");
				_exit(1);
			}
			close(s);
		}
		_exit(0);
	}
	while (wait(&st) != -1)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	if (errno != ECHILD)
		die("wait");
	if (bad)
		diex("tcp-rate: a client failed");
	dt = now_ns() - t0;
	printf("tcp-rate n=%ld procs=%ld per_s=%.0f\n", count / procs * procs,
	    procs, (double)(count / procs * procs) * 1e9 / (double)dt);
}

/* COUNT connections, each with one byte echoed (so every hop on the way
 * has its connection up), held open until we are killed. */
static void
tcp_hold(const char *ip, const char *port, long count)
{
	struct sockaddr_in	sin = tcp_addr(ip, port);
	long			i;

	for (i = 0; i < count; i++)
		if (tcp_exchange(&sin) == -1)
			die("tcp-hold");
	printf("held %ld\n", count);
	for (;;)
		pause();
}

/*
 * The bare splice relay, the yardstick for ours: LPORT to IP:PORT, one
 * epoll loop, edge-triggered, two pipes per connection made at accept,
 * each direction pumped only when its socket signalled.  Nothing else: no
 * capture, no original destination, no pool, no limits.
 *
 * Its other modes are the yardstick for HBONE's bytes (issue 20, part 3),
 * all with 1 MiB pipes, as the daemon's HBONE path has:
 *   big      the same relay, 1 MiB pipes, up to 1 MiB a splice
 *   frame    what LPORT's clients send goes on in HTTP/2 DATA frames,
 *            the payload spliced and only the 9-byte header written
 *            (MSG_MORE), as the daemon sends them; a frame of 0 bytes
 *            with END_STREAM for the FIN; what comes back is unframed
 *   unframe  the other end: LPORT's clients send frames, their payloads
 *            go on spliced, each header read alone (9 bytes), as the
 *            daemon takes them; what comes back is framed
 * Two relays, frame then unframe, are HBONE's two hops without its
 * flow control, its streams or its copying path: what the framing itself
 * costs the kernel.
 */
enum splice_mode { SP_BARE, SP_BIG, SP_FRAME, SP_UNFRAME };
enum { BIG_PIPE = 1 << 20 };

struct splice_conn;
struct splice_end {
	struct splice_conn	*conn;
	int			 side;		/* 0 client, 1 upstream */
};
struct splice_conn {
	int			 fd[2];
	int			 pipe[2][2];	/* [from side][read, write] */
	size_t			 held[2];	/* bytes in pipe[side] */
	int			 eof[2];	/* side sent its FIN */
	int			 shut[2];	/* our FIN sent to side */
	int			 framed[2];	/* side's bytes come framed */
	uint8_t			 hdr[2][H2_FRAME_HDR];	/* [from side] */
	size_t			 hdr_at[2];	/* header bytes read so far */
	size_t			 hdr_left[2];	/* header bytes to write */
	size_t			 payload[2];	/* framed payload still to read */
	size_t			 want;		/* the most a splice takes */
	int			 dead;
	struct splice_end	 end[2];
	struct splice_conn	*next_dead;
};

static void
splice_kill(struct splice_conn *c, struct splice_conn **dead)
{
	int i;

	if (c->dead)
		return;
	c->dead = 1;
	for (i = 0; i < 2; i++) {
		close(c->fd[i]);
		close(c->pipe[i][0]);
		close(c->pipe[i][1]);
	}
	c->next_dead = *dead;
	*dead = c;
}

/* A DATA frame's header for len bytes on stream 1; END_STREAM with 0. */
static void
frame_hdr(uint8_t b[H2_FRAME_HDR], size_t len)
{
	struct h2_frame_hdr h = {
		.len = (uint32_t)len, .type = H2_DATA,
		.flags = len == 0 ? H2_END_STREAM : 0, .stream = 1,
	};

	h2_hdr_encode(b, &h);
}

/* Side FROM's next frame header, read alone.  1: there is a payload to
 * splice, or the stream ended; 0: wait; -1: an error. */
static int
unframe_next(struct splice_conn *c, int from)
{
	struct h2_frame_hdr	 h;
	uint8_t			*b = c->hdr[from];
	ssize_t			 n;

	n = recv(c->fd[from], b + c->hdr_at[from],
	    H2_FRAME_HDR - c->hdr_at[from], MSG_DONTWAIT);
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	if (n > 0 && (c->hdr_at[from] += (size_t)n) < H2_FRAME_HDR)
		return 1;
	c->hdr_at[from] = 0;
	h2_hdr_decode(b, &h);
	c->payload[from] = n == 0 ? 0 : h.len;
	if (c->payload[from] == 0)
		c->eof[from] = 1;		/* END_STREAM, or a FIN */
	return 1;
}

/* Move what side FROM sent to the other side until either would block.
 * -1: the connection is over (an error, or both FINs through). */
static int
splice_pump(struct splice_conn *c, int from)
{
	int	to = !from, framing = c->framed[to];
	size_t	want;
	ssize_t	n;

	for (;;) {
		if (c->hdr_left[from] > 0) {
			n = send(c->fd[to], c->hdr[from] + H2_FRAME_HDR -
			    c->hdr_left[from], c->hdr_left[from],
			    MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
			if (n == -1)
				return errno == EAGAIN ? 0 : -1;
			c->hdr_left[from] -= (size_t)n;
			continue;
		}
		if (c->held[from] > 0) {
			n = splice(c->pipe[from][0], NULL, c->fd[to], NULL,
			    c->held[from], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1)
				return errno == EAGAIN ? 0 : -1;
			c->held[from] -= (size_t)n;
			continue;
		}
		if (c->eof[from]) {
			if (!c->shut[to] && shutdown(c->fd[to], SHUT_WR) == -1)
				return -1;
			c->shut[to] = 1;
			return c->eof[to] && c->held[to] == 0 &&
			    c->hdr_left[to] == 0 ? -1 : 0;
		}
		want = c->want;
		if (c->framed[from]) {
			if (c->payload[from] == 0) {
				if ((n = unframe_next(c, from)) <= 0)
					return (int)n;
				continue;
			}
			if (want > c->payload[from])
				want = c->payload[from];
		}
		n = splice(c->fd[from], NULL, c->pipe[from][1], NULL, want,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0)
			c->eof[from] = 1;
		else if (c->framed[from])
			c->payload[from] -= (size_t)n;
		c->held[from] += (size_t)n;
		if (framing) {
			frame_hdr(c->hdr[from], (size_t)n);
			c->hdr_left[from] = H2_FRAME_HDR;
		}
	}
}

static struct splice_conn *
splice_open(int ep, int client, const struct sockaddr_in *up,
    enum splice_mode mode)
{
	struct splice_conn	*c;
	struct epoll_event	 ev;
	int			 i;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd[0] = client;
	c->fd[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd[1] == -1)
		goto fail;
	if (connect(c->fd[1], (const struct sockaddr *)up, sizeof(*up)) == -1 &&
	    errno != EINPROGRESS)
		goto fail_up;
	if (pipe2(c->pipe[0], O_CLOEXEC | O_NONBLOCK) == -1)
		goto fail_up;
	if (pipe2(c->pipe[1], O_CLOEXEC | O_NONBLOCK) == -1)
		goto fail_pipe;
	c->want = 1 << 16;
	if (mode != SP_BARE) {
		if (fcntl(c->pipe[0][1], F_SETPIPE_SZ, BIG_PIPE) == -1 ||
		    fcntl(c->pipe[1][1], F_SETPIPE_SZ, BIG_PIPE) == -1)
			goto fail_both;
		c->want = BIG_PIPE;
	}
	c->framed[1] = mode == SP_FRAME;
	c->framed[0] = mode == SP_UNFRAME;
	for (i = 0; i < 2; i++) {
		c->end[i].conn = c;
		c->end[i].side = i;
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = &c->end[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[i], &ev) == -1)
			goto fail_both;	/* closing fds takes them out */
	}
	return c;
fail_both:
	close(c->pipe[1][0]);
	close(c->pipe[1][1]);
fail_pipe:
	close(c->pipe[0][0]);
	close(c->pipe[0][1]);
fail_up:
	close(c->fd[1]);
fail:
	close(client);
	free(c);
	return NULL;
}

static void
tcp_splice(const char *lport, const char *ip, const char *port,
    const char *how)
{
	static const char *const modes[] = { "bare", "big", "frame",
	    "unframe" };
	enum splice_mode	 mode = SP_BARE;
	struct sockaddr_in	 up = tcp_addr(ip, port);
	struct epoll_event	 evs[64];
	struct splice_conn	*dead, *c;
	struct splice_end	*e, listener = { NULL, -1 };
	int			 l, ep, fd, i, k;

	while (strcmp(how, modes[mode]) != 0)
		if (++mode > SP_UNFRAME)
			diex("tcp-splice: mode: bare, big, frame or unframe");
	ep = tcp_listen_epoll(lport, (epoll_data_t){ .ptr = &listener }, &l);
	for (;;) {
		k = wait_events(ep, evs, 64);
		dead = NULL;
		for (i = 0; i < k; i++) {
			e = evs[i].data.ptr;
			if (e == &listener) {
				while ((fd = accept4(l, NULL, NULL,
				    SOCK_CLOEXEC | SOCK_NONBLOCK)) != -1)
					(void)splice_open(ep, fd, &up, mode);
				continue;
			}
			c = e->conn;
			if (c->dead)
				continue;
			/* Readable: this side's bytes out.  Writable: what
			 * waits for this side (the other side's bytes). */
			if ((evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR |
			    EPOLLHUP) && splice_pump(c, e->side) == -1) ||
			    (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP) &&
			    splice_pump(c, !e->side) == -1))
				splice_kill(c, &dead);
		}
		while ((c = dead) != NULL) {
			dead = c->next_dead;
			free(c);
		}
	}
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
	/* A reset connection is an error to report, not a silent death. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal");
	if (argc == 5 && strcmp(argv[1], "lo-up") == 0)
		lo_up(argv[2], num(argv[3]), num(argv[4]));
	else if (argc == 6 && (strcmp(argv[1], "add") == 0 ||
	    strcmp(argv[1], "del") == 0 || strcmp(argv[1], "cycle") == 0))
		run_requests(argv[1], argv[2], argv[3], num(argv[4]),
		    num(argv[5]));
	else if (argc == 5 && strcmp(argv[1], "floor") == 0)
		floor_run(argv[2], num(argv[3]), num(argv[4]));
	else if (argc == 5 && strcmp(argv[1], "ledger") == 0)
		ledger_run(argv[2], num(argv[3]), num(argv[4]));
	else if (argc >= 4 && strcmp(argv[1], "spawn") == 0)
		spawn_run(num(argv[2]), argv + 3);
	else if (argc == 7 && strcmp(argv[1], "cli") == 0)
		cli_run(argv[2], argv[3], argv[4], num(argv[5]), num(argv[6]));
	else if (argc == 3 && strcmp(argv[1], "tcp-echo") == 0)
		tcp_echo(argv[2]);
	else if (argc == 5 && strcmp(argv[1], "tcp-rtt") == 0)
		tcp_rtt(argv[2], argv[3], num(argv[4]));
	else if (argc == 6 && strcmp(argv[1], "tcp-rate") == 0)
		tcp_rate(argv[2], argv[3], num(argv[4]), num(argv[5]));
	else if (argc == 5 && strcmp(argv[1], "tcp-hold") == 0)
		tcp_hold(argv[2], argv[3], num(argv[4]));
	else if ((argc == 5 || argc == 6) && strcmp(argv[1], "tcp-splice") == 0)
		tcp_splice(argv[2], argv[3], argv[4], argc == 6 ? argv[5] :
		    "bare");
	else if (argc == 3 && strcmp(argv[1], "zds-bare") == 0)
		zds_bare(argv[2], 0, 0);
	else if (argc == 4 && strcmp(argv[1], "zds-bare") == 0 &&
	    strcmp(argv[3], "checks") == 0)
		zds_bare(argv[2], 1, 0);
	else if (argc == 5 && strcmp(argv[1], "zds-bare") == 0 &&
	    strcmp(argv[3], "checks") == 0 && num(argv[4]) >= 8)
		zds_bare(argv[2], 1, (size_t)num(argv[4]));
	else if (argc == 6 && strcmp(argv[1], "zds") == 0)
		zds_run(argv[2], argv[3], num(argv[4]), num(argv[5]));
	else {
		fprintf(stderr, "usage: see the comment at the top of "
		    "tests/bench/zt-load.c\n");
		return 1;
	}
	return 0;
}
