/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ztunnel-emulator: plays Istio's ztunnel.  Receives pods' network
 * namespaces over a Unix socket and opens listeners inside them, without
 * ever moving into them for longer than a handoff.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "log.h"
#include "udsock.h"
#include "util.h"
#include "version.h"
#include "zds.h"
#include "ztunnel.h"


#define EXIT_USAGE	1
#define EPOLL_BATCH	64

static volatile sig_atomic_t quit;

struct options {
	const char	*path;		/* the control socket, or NULL */
	const char	*zds_path;	/* --zds: the node agent's socket */
	mode_t		 mode;
	uid_t		 allow[CONTROL_MAX_ALLOW];
	size_t		 nallow;
	enum log_level	 level;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ztunnel-emulator [-qv] [--allow-uid uid]... "
	    "[--socket-mode mode] <uds_path>\n"
	    "       ztunnel-emulator [-qv] [options] --zds <agent_path> "
	    "[<uds_path>]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Listen on the Unix socket <uds_path> for network namespaces sent\n"
	    "by cni-emulator, and open listeners on 127.0.0.1:15008, :15006\n"
	    "and :15001 inside each.  Prints \"listeners ready\" on stdout for\n"
	    "each pod set up; logs one line per event on stderr.\n"
	    "\n"
	    "  --zds PATH        also (or only) take pods from an Istio node\n"
	    "                    agent over ZDS: connect to its socket PATH\n"
	    "                    (Istio's: " ZDS_SOCK_PATH ")\n"
	    "  --allow-uid U     also accept requests from user U (a uid or\n"
	    "                    a name; repeatable); root and the daemon's\n"
	    "                    own uid always may\n"
	    "  --socket-mode M   mode of the socket file (octal, default 0600)\n"
	    "  -q, --quiet       log errors only\n"
	    "  -v, --verbose     log debug detail\n"
	    "  -h, --help        show this help\n"
	    "  -V, --version     show the version\n"
	    "\n"
	    "Exit status: 0 stopped by SIGINT/SIGTERM, 1 usage, 2 failure.\n");
}

static void
on_signal(int sig)
{
	quit = sig;
}

/* Block SIGINT and SIGTERM except while waiting in epoll_pwait, so that a
 * signal can never slip in between checking `quit` and going to sleep.
 * Returns the mask to wait with. */
static sigset_t
setup_signals(void)
{
	struct sigaction	sa;
	sigset_t		block, waitmask;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	/* A peer that hangs up must never kill us: writes get EPIPE. */
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction SIGPIPE");
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		fatal("sigaction");
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &waitmask) == -1)
		fatal("sigprocmask");
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	return waitmask;
}

/* Thousands of pods are thousands of listeners: take all the descriptors
 * the hard limit allows. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	log_debug("descriptor limit %ju", (uintmax_t)rl.rlim_cur);
}

int
ev_watch(struct ztunnel *zt, int fd, uint32_t events, struct evsrc *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(zt->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
ev_modify(struct ztunnel *zt, int fd, uint32_t events, struct evsrc *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(zt->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/*
 * accept4() that never leaves a connection queued because we are out of
 * descriptors: a level-triggered listener would wake us again at once,
 * forever.  Give up the reserve descriptor for a moment to accept the
 * connection, tell it (busy) and close it.
 */
int
accept_or_shed(struct ztunnel *zt, int lfd, const char *busy)
{
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1)
			return fd;
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EAGAIN:
			return -1;
		case EMFILE:
		case ENFILE:
			break;
		default:
			log_warn("accept");
			return -1;
		}
		log_warnx("out of file descriptors: refusing a connection");
		if (zt->reserve_fd != -1)
			close(zt->reserve_fd);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1) {
			if (busy != NULL)
				(void)send(fd, busy, strlen(busy),
				    MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
		}
		zt->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return -1;
	}
}

static void	setup_control(struct ztunnel *, const struct options *);

static void
setup(struct ztunnel *zt, const struct options *o)
{
	const char *path = o->path;

	memset(zt, 0, sizeof(*zt));
	memcpy(zt->allow, o->allow, sizeof(zt->allow));
	zt->nallow = o->nallow;
	TAILQ_INIT(&zt->peers);
	TAILQ_INIT(&zt->dead_peers);
	TAILQ_INIT(&zt->dead_pods);
	TAILQ_INIT(&zt->pending);
	zt->ctl_fd = -1;
	zt->zds_fd = -1;
	zt->ctl_path = path;
	zt->ctl_src.kind = SRC_CONTROL;

	if (pods_init(&zt->pods) == -1)
		fatal("pod table");
	if ((zt->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	/* Opened once, before any handoff: the way home from every pod. */
	if ((zt->home_ns = netns_open_self()) == -1)
		fatal("open /proc/thread-self/ns/net");
	if (netns_check(zt->home_ns, &zt->home_id) == -1)
		fatal("own network namespace");
	if ((zt->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		fatal("open /dev/null");
	if (path != NULL)
		setup_control(zt, o);
	if (o->zds_path != NULL)
		zds_start(zt, o->zds_path);
}

static void
setup_control(struct ztunnel *zt, const struct options *o)
{
	const char *path = o->path;

	zt->ctl_fd = udsock_listen(path, SOCK_STREAM, o->mode, &zt->ctl_ino);
	if (zt->ctl_fd == -1) {
		switch (errno) {
		case EADDRINUSE:
			fatalx("%s: already in use by a running daemon "
			    "(stop it first, or choose another path)", path);
		case EEXIST:
			fatalx("%s: exists and is not a socket; refusing to "
			    "replace it (remove it yourself if it is junk)",
			    path);
		case ENAMETOOLONG:
			fatalx("%s: path too long for a Unix socket (at most "
			    "107 bytes)", path);
		default:
			fatal("listen on %s", path);
		}
	}
	if (ev_watch(zt, zt->ctl_fd, EPOLLIN, &zt->ctl_src) == -1)
		fatal("epoll_ctl");
	log_info("listening on %s (mode %04o, own netns net:[%ju])", path,
	    (unsigned)o->mode, (uintmax_t)zt->home_id.ino);
}

static void
dispatch(struct ztunnel *zt, const struct epoll_event *ev)
{
	struct evsrc *src = ev->data.ptr;

	switch (src->kind) {
	case SRC_CONTROL:
		control_accept(zt);
		break;
	case SRC_PEER:
		control_event(zt, EVSRC_OWNER(src, struct peer), ev->events);
		break;
	case SRC_LISTENER:
		listen_serve(zt, EVSRC_OWNER(src, struct listener));
		break;
	case SRC_ZDS:
		zds_event(zt, ev->events);
		break;
	}
}

/* The nearest of all deadlines, -1 for none: idle means no wake-ups. */
static int
next_timeout(struct ztunnel *zt)
{
	uint64_t	now = monotonic_ms();
	int		t[3], i, best = -1;

	t[0] = control_timeout(zt, now);
	t[1] = zds_timeout(zt, now);
	t[2] = pods_retry_timeout(zt, now);
	for (i = 0; i < 3; i++)
		if (t[i] != -1 && (best == -1 || t[i] < best))
			best = t[i];
	return best;
}

static void
run(struct ztunnel *zt, const sigset_t *waitmask)
{
	struct epoll_event	evs[EPOLL_BATCH];
	uint64_t		now;
	int			i, n;

	while (!quit) {
		n = epoll_pwait(zt->epfd, evs, EPOLL_BATCH, next_timeout(zt),
		    waitmask);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (i = 0; i < n; i++)
			dispatch(zt, &evs[i]);
		now = monotonic_ms();
		control_expire(zt, now);
		zds_tick(zt, now);
		pods_retry(zt, now);
		/* Only now is nothing in evs[] left to point at them. */
		control_reap(zt);
		pods_reap(zt);
	}
}

static void
shutdown_all(struct ztunnel *zt)
{
	struct pod *pod;

	log_info("%s: shutting down (pods: %zu)", strsignal(quit),
	    zt->pods.count);
	control_close_all(zt);
	control_reap(zt);
	zds_stop(zt);
	while ((pod = TAILQ_FIRST(&zt->pods.all)) != NULL)
		pod_drop(zt, pod);
	pods_reap(zt);
	pods_free(&zt->pods);
	if (zt->ctl_fd != -1) {
		close(zt->ctl_fd);
		if (udsock_unlink(zt->ctl_path, zt->ctl_ino) == -1)
			log_warn("unlink %s", zt->ctl_path);
	}
	close(zt->reserve_fd);
	close(zt->home_ns);
	close(zt->epfd);
}

/* A uid, or a user name looked up in the passwd database. */
static int
parse_uid(const char *arg, uid_t *uid)
{
	struct passwd	*pw;
	unsigned long	 v;

	if (parse_ulong(arg, 10, (uid_t)-2, &v) == 0) {
		*uid = (uid_t)v;
		return 0;
	}
	if ((pw = getpwnam(arg)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	return 0;
}

static int
parse_args(int argc, char *argv[], struct options *o)
{
	static const struct option longopts[] = {
		{ "allow-uid",	 required_argument,	NULL, 'u' },
		{ "help",	 no_argument,		NULL, 'h' },
		{ "quiet",	 no_argument,		NULL, 'q' },
		{ "socket-mode", required_argument,	NULL, 'm' },
		{ "verbose",	 no_argument,		NULL, 'v' },
		{ "version",	 no_argument,		NULL, 'V' },
		{ "zds",	 required_argument,	NULL, 'z' },
		{ NULL,		 0,			NULL, 0 },
	};
	unsigned long	mode;
	int		ch;

	memset(o, 0, sizeof(*o));
	o->mode = 0600;
	o->level = LOG_LEVEL_INFO;
	while ((ch = getopt_long(argc, argv, "hqvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			help();
			exit(EXIT_SUCCESS);
		case 'm':
			if (parse_ulong(optarg, 8, 0777, &mode) == -1) {
				log_warnx("bad socket mode: %s (octal, at most "
				    "0777)", optarg);
				return -1;
			}
			o->mode = (mode_t)mode;
			break;
		case 'q':
			o->level = LOG_LEVEL_ERROR;
			break;
		case 'u':
			if (o->nallow == CONTROL_MAX_ALLOW) {
				log_warnx("at most %d --allow-uid",
				    CONTROL_MAX_ALLOW);
				return -1;
			}
			if (parse_uid(optarg, &o->allow[o->nallow]) == -1) {
				log_warnx("bad --allow-uid: %s (no such user)",
				    optarg);
				return -1;
			}
			o->nallow++;
			break;
		case 'v':
			o->level = LOG_LEVEL_DEBUG;
			break;
		case 'V':
			printf("ztunnel-emulator %s\n", VERSION);
			exit(EXIT_SUCCESS);
		case 'z':
			o->zds_path = optarg;
			break;
		default:
			return -1;
		}
	}
	/* The control socket is optional only with ZDS to take pods from. */
	if (argc - optind > 1 || (argc - optind == 0 && o->zds_path == NULL))
		return -1;
	o->path = argc - optind == 1 ? argv[optind] : NULL;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct options	o;
	struct ztunnel	zt;
	sigset_t	waitmask;

	log_init(argv[0], LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &o) == -1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	log_setlevel(o.level);

	/* "listeners ready" must reach a pipe or a file line by line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	waitmask = setup_signals();
	raise_nofile();
	setup(&zt, &o);
	run(&zt, &waitmask);
	shutdown_all(&zt);
	return EXIT_SUCCESS;
}
