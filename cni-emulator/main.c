/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni-emulator: plays Istio's CNI node agent.  Opens a pod's network
 * namespace and hands the descriptor to ztunnel-emulator over a Unix socket,
 * then waits for its answer.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fdpass.h"
#include "log.h"
#include "netns.h"
#include "udsock.h"
#include "util.h"
#include "wire.h"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

/* Exit status, documented in --help and the README. */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_LOCAL = 2,		/* could not open, connect or send */
	EXIT_REFUSED = 3,	/* the daemon answered with an error */
	EXIT_NOACK = 4,		/* no answer: timeout or hang-up */
};

#define DEFAULT_TIMEOUT_MS	5000
#define MAX_TIMEOUT_MS		(3600 * 1000)

struct options {
	const char	*sock_path;
	const char	*netns;
	uint64_t	 timeout_ms;
	int		 wait;
	int		 verbose;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: cni-emulator [-v] [--no-wait] [-t seconds] "
	    "<uds_path> <netns>\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Open the network namespace <netns> (a path, or a name under\n"
	    "%s) and send its descriptor to ztunnel-emulator at\n"
	    "<uds_path>; wait for its answer.\n"
	    "\n"
	    "  -t, --timeout S  wait at most S seconds for the answer "
	    "(default %d)\n"
	    "      --no-wait    send and exit, like the seed's client\n"
	    "  -v, --verbose    print the daemon's answer on success too\n"
	    "  -h, --help       show this help\n"
	    "  -V, --version    show the version\n"
	    "\n"
	    "Exit status: 0 listeners ready, 1 usage, 2 local failure (open,\n"
	    "connect, send), 3 the daemon refused, 4 no answer from the daemon.\n",
	    NETNS_RUN_DIR, DEFAULT_TIMEOUT_MS / 1000);
}

static int
parse_args(int argc, char *argv[], struct options *o)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "no-wait",	no_argument,		NULL, 'W' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->wait = 1;
	while ((ch = getopt_long(argc, argv, "ht:vV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			help();
			exit(EXIT_OK);
		case 't':
			if (parse_seconds_ms(optarg, MAX_TIMEOUT_MS,
			    &o->timeout_ms) == -1 || o->timeout_ms == 0) {
				log_warnx("bad timeout: %s (seconds, > 0)",
				    optarg);
				return -1;
			}
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'V':
			printf("cni-emulator %s\n", VERSION);
			exit(EXIT_OK);
		case 'W':
			o->wait = 0;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 2)
		return -1;
	o->sock_path = argv[optind];
	o->netns = argv[optind + 1];
	return 0;
}

/* Open and check the namespace; one line and EXIT_LOCAL on failure. */
static int
open_netns(const char *arg)
{
	char		path[4096];
	struct nsid	id;
	int		fd;

	if (netns_resolve(arg, path, sizeof(path)) == -1) {
		log_warn("bad netns %s", arg);
		exit(EXIT_LOCAL);
	}
	if ((fd = netns_open(path)) == -1) {
		if (errno == ENOENT)
			log_warn("open %s (list them: ip netns list)", path);
		else if (errno == EACCES)
			log_warn("open %s (run as root)", path);
		else
			log_warn("open %s", path);
		exit(EXIT_LOCAL);
	}
	if (netns_check(fd, &id) == -1) {
		if (errno == EINVAL)
			log_warnx("%s: not a network namespace", path);
		else
			log_warn("%s", path);
		exit(EXIT_LOCAL);
	}
	return fd;
}

static int
connect_daemon(const char *path)
{
	int fd;

	if ((fd = udsock_connect(path, SOCK_STREAM)) != -1)
		return fd;
	switch (errno) {
	case ENOENT:
		log_warn("connect %s (is ztunnel-emulator running?)", path);
		break;
	case ECONNREFUSED:
		log_warn("connect %s (a stale socket: no daemon behind it)",
		    path);
		break;
	case EACCES:
		log_warn("connect %s (the socket is mode 0600: run as its "
		    "owner, or as root)", path);
		break;
	default:
		log_warn("connect %s", path);
	}
	exit(EXIT_LOCAL);
}

/*
 * Read one reply line within the deadline.  Returns its length (the line
 * without its newline, NUL-terminated), 0 if the daemon hung up without
 * one, -1 with errno ETIMEDOUT or another error.
 */
static ssize_t
read_reply(int fd, char *buf, size_t size, uint64_t timeout_ms)
{
	uint64_t	deadline = monotonic_ms() + timeout_ms, now;
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	size_t		len = 0;
	ssize_t		n;
	char	       *nl;

	while (len < size - 1) {
		now = monotonic_ms();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			continue;	/* the deadline check ends it */
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			return nl - buf;
		}
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

int
main(int argc, char *argv[])
{
	static const unsigned char	req = WIRE_SEED_ADD;
	struct options			o;
	char				reply[WIRE_REPLY_MAX + 1];
	ssize_t				n;
	int				nsfd, sock;

	log_init(argv[0], LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &o) == -1) {
		usage(stderr);
		return EXIT_USAGE;
	}

	nsfd = open_netns(o.netns);
	sock = connect_daemon(o.sock_path);
	if (fdpass_send(sock, &req, sizeof(req), nsfd) == -1) {
		log_warnx("send to %s: %s", o.sock_path,
		    fdpass_strerror(errno));
		return EXIT_LOCAL;
	}
	/* The daemon has its own reference now; ours has done its job. */
	close(nsfd);
	if (!o.wait)
		return EXIT_OK;

	n = read_reply(sock, reply, sizeof(reply), o.timeout_ms);
	close(sock);
	if (n == -1 && errno == ETIMEDOUT) {
		log_warnx("no acknowledgement from %s within %ju ms (the "
		    "descriptor was delivered; a daemon that never answers, "
		    "like the seed's, needs --no-wait)", o.sock_path,
		    (uintmax_t)o.timeout_ms);
		return EXIT_NOACK;
	}
	if (n == -1) {
		log_warn("read from %s", o.sock_path);
		return EXIT_NOACK;
	}
	if (n == 0) {
		log_warnx("%s closed the connection without an "
		    "acknowledgement", o.sock_path);
		return EXIT_NOACK;
	}
	if (strncmp(reply, WIRE_ERROR, strlen(WIRE_ERROR)) == 0) {
		log_warnx("daemon: %s", reply + strlen(WIRE_ERROR));
		return EXIT_REFUSED;
	}
	if (strstr(reply, WIRE_READY) == NULL) {
		log_warnx("unexpected answer from %s: %s", o.sock_path, reply);
		return EXIT_REFUSED;
	}
	if (o.verbose)
		printf("%s\n", reply);
	return EXIT_OK;
}
