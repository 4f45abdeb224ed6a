/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni-emulator: plays Istio's CNI node agent.  Opens a pod's network
 * namespace and hands the descriptor to ztunnel-emulator over a Unix socket,
 * then waits for its answer.  Also removes and lists pods.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "agent.h"
#include "ev.h"
#include "fdpass.h"
#include "log.h"
#include "netns.h"
#include "notify.h"
#include "nswatch.h"
#include "redirect.h"
#include "udsock.h"
#include "text.h"
#include "util.h"
#include "version.h"
#include "wire.h"
#include "zds.h"


/* Exit status, documented in --help and the README. */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_LOCAL = 2,		/* could not open, connect or send */
	EXIT_REFUSED = 3,	/* the daemon answered with an error */
	EXIT_NOACK = 4,		/* no answer: timeout or hang-up */
};

#define DEFAULT_TIMEOUT_MS	5000
#define MAX_TIMEOUT_MS		UINT64_C(3600000)	/* an hour */
#define MAX_REPLY		(64 << 20)	/* a list of ~500k pods */

struct options {
	struct agent_opts agent;	/* --zds-serve */
	struct nswatch_opts watch;	/* its pods */
	enum wire_op	 op;
	const char	*sock_path;
	const char	*arg;		/* netns (add) or pod name (del) */
	const char	*name;		/* --name */
	uint64_t	 timeout_ms;
	int		 seed;		/* the seed's bare 0x01 request */
	int		 redirect;	/* --redirect: istio-cni's in-pod rules */
	int		 wait;
	int		 verbose;
	int		 json;		/* --list --json */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cni-emulator [-v] [-t seconds] [--no-wait] [--redirect] "
	    "[--name name | --seed] <uds_path> <netns>\n"
	    "       cni-emulator [-v] [-t seconds] --del <uds_path> <name>\n"
	    "       cni-emulator [-v] [-t seconds] --del --redirect <uds_path> "
	    "<netns>\n"
	    "       cni-emulator [-t seconds] --list [--json] <uds_path>\n"
	    "       cni-emulator [-v] [-t seconds] [--watch [--select glob]] "
	    "[--k8s-namespace ns]\n"
	    "                    [--allow-uid uid]... --zds-serve <path> "
	    "[netns...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Open the network namespace <netns> (a path, or a name under\n"
	    "%s) and send its descriptor to ztunnel-emulator at\n"
	    "<uds_path>; wait for its answer.  The pod is named after the\n"
	    "namespace (ns2 for ns2 or /var/run/netns/ns2, pid-1234 for\n"
	    "/proc/1234/ns/net) unless --name says otherwise.\n"
	    "\n"
	    "  -n, --name NAME  the pod's name\n"
	    "      --redirect   install istio-cni's in-pod rules (iptables,\n"
	    "                   ip rule, ip route) in the pod before handing\n"
	    "                   it over; with --del, remove them (its\n"
	    "                   argument is then the netns); with\n"
	    "                   --zds-serve, for every pod it announces\n"
	    "      --seed       send the seed's one-byte request (0x01); the\n"
	    "                   daemon names the pod\n"
	    "  -d, --del        remove the pod <name>: close its listeners\n"
	    "  -l, --list       list the daemon's pods (--json: as JSON)\n"
	    "      --zds-serve PATH\n"
	    "                   be the node agent: serve ZDS on PATH to\n"
	    "                   ztunnel-emulator --zds, with the given\n"
	    "                   namespaces as pods\n"
	    "      --watch      with --zds-serve: follow %s, sending\n"
	    "                   an Add or a Del as namespaces come and go\n"
	    "      --select GLOB\n"
	    "                   with --watch: only the names that match GLOB\n"
	    "                   (as the shell matches; e.g. 'web-*')\n"
	    "      --allow-uid U\n"
	    "                   with --zds-serve: also serve a ztunnel running\n"
	    "                   as user U (root and our own uid always may)\n"
	    "      --k8s-namespace NS\n"
	    "                   with --zds-serve: the pods' namespace in\n"
	    "                   WorkloadInfo (default \"default\")\n"
	    "  -t, --timeout S  wait at most S seconds for the answer "
	    "(default %d)\n"
	    "      --no-wait    send and exit, like the seed's client\n"
	    "  -v, --verbose    print the daemon's answer on success too\n"
	    "  -h, --help       show this help\n"
	    "  -V, --version    show the version\n"
	    "\n"
	    "Exit status: 0 done, 1 usage, 2 local failure (open, connect,\n"
	    "send), 3 the daemon refused, 4 no answer from the daemon.\n",
	    NETNS_RUN_DIR, NETNS_RUN_DIR, DEFAULT_TIMEOUT_MS / 1000);
}

static int
parse_args(int argc, char *argv[], struct options *o)
{
	static const struct option longopts[] = {
		{ "allow-uid",	required_argument,	NULL, 'u' },
		{ "del",	no_argument,		NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "json",	no_argument,		NULL, 'J' },
		{ "k8s-namespace", required_argument,	NULL, 'K' },
		{ "list",	no_argument,		NULL, 'l' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "no-wait",	no_argument,		NULL, 'W' },
		{ "redirect",	no_argument,		NULL, 'R' },
		{ "seed",	no_argument,		NULL, 'S' },
		{ "select",	required_argument,	NULL, 'G' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "watch",	no_argument,		NULL, 'w' },
		{ "zds-serve",	required_argument,	NULL, 'Z' },
		{ NULL,		0,			NULL, 0 },
	};
	int ch, nargs;

	memset(o, 0, sizeof(*o));
	o->op = WIRE_OP_ADD;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->agent.k8s_namespace = "default";
	o->wait = 1;
	while ((ch = getopt_long(argc, argv, "dhln:t:vV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->op = WIRE_OP_DEL;
			break;
		case 'u':
			if (udsock_allow_add(&o->agent.allow, optarg) == -1) {
				log_warnx("bad --allow-uid %s: %s", optarg,
				    errno == ENOSPC ? "at most 32" :
				    "no such user in /etc/passwd");
				return -1;
			}
			break;
		case 'h':
			help();
			exit(EXIT_OK);
		case 'l':
			o->op = WIRE_OP_LIST;
			break;
		case 'n':
			if (!text_name_ok(optarg)) {
				log_warnx("bad pod name: %s (1 to %d bytes of "
				    "printable UTF-8, no spaces)", optarg,
				    WIRE_NAME_MAX);
				return -1;
			}
			o->name = optarg;
			break;
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
		case 'K':
			if (strlen(optarg) > ZDS_STR_MAX) {
				log_warnx("--k8s-namespace: too long");
				return -1;
			}
			o->agent.k8s_namespace = optarg;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'R':
			o->redirect = 1;
			o->agent.redirect = 1;
			break;
		case 'S':
			o->seed = 1;
			break;
		case 'G':
			o->watch.select = optarg;
			break;
		case 'w':
			o->watch.watch = 1;
			break;
		case 'Z':
			o->agent.path = optarg;
			break;
		case 'W':
			o->wait = 0;
			break;
		default:
			return -1;
		}
	}
	if (o->agent.path != NULL) {
		/* The node agent: the rest are namespaces, maybe none. */
		if (o->op != WIRE_OP_ADD || o->name != NULL || o->seed ||
		    !o->wait) {
			log_warnx("--zds-serve goes with --watch, "
			    "--k8s-namespace and --timeout only");
			return -1;
		}
		if (o->watch.select != NULL && !o->watch.watch) {
			log_warnx("--select goes with --watch");
			return -1;
		}
		o->agent.timeout_ms = o->timeout_ms;
		o->watch.probe_ms = o->timeout_ms;
		return 0;
	}
	if (o->watch.watch || o->watch.select != NULL || o->agent.allow.n > 0) {
		log_warnx("--watch, --select and --allow-uid go with --zds-serve");
		return -1;
	}
	nargs = o->op == WIRE_OP_LIST ? 1 : 2;
	if (argc - optind != nargs)
		return -1;
	if (o->json && o->op != WIRE_OP_LIST) {
		log_warnx("--json goes with --list");
		return -1;
	}
	if (o->redirect && o->op == WIRE_OP_LIST) {
		log_warnx("--redirect goes with adding or removing a pod");
		return -1;
	}
	if (o->op != WIRE_OP_ADD && (o->name != NULL || !o->wait || o->seed)) {
		log_warnx("--name, --seed and --no-wait go with adding a pod");
		return -1;
	}
	if (o->seed && o->name != NULL) {
		log_warnx("--seed sends no name: it cannot go with --name");
		return -1;
	}
	o->sock_path = argv[optind];
	o->arg = nargs == 2 ? argv[optind + 1] : NULL;
	return 0;
}

/* Open and check the namespace; one line and EXIT_LOCAL on failure. */
static int
open_netns(const char *arg)
{
	char		path[PATH_MAX];
	struct nsid	id;
	int		fd;

	if (netns_resolve(arg, path, sizeof(path)) == -1) {
		log_warn("bad netns %s", arg);
		exit(EXIT_LOCAL);
	}
	if ((fd = netns_open(path)) == -1) {
		log_warnx("open %s: %s%s", path, strerror(errno),
		    errno == ENOENT ? " (list them: ip netns list)" :
		    errno == EACCES ? " (run as root)" : "");
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
connect_daemon(const char *path, uint64_t timeout_ms)
{
	const char	*hint = "";
	int		 fd;

	if ((fd = udsock_connect_timeout(path, SOCK_STREAM,
	    (int)timeout_ms)) != -1)
		return fd;
	switch (errno) {
	case ETIMEDOUT:
		log_warnx("connect %s: no room in its queue within %ju ms (the "
		    "daemon is stopped or overloaded)", path,
		    (uintmax_t)timeout_ms);
		exit(EXIT_NOACK);
	case ENOENT:
		hint = " (is ztunnel-emulator running?)";
		break;
	case ECONNREFUSED:
		hint = " (a stale socket: no daemon behind it)";
		break;
	case EACCES:
		hint = " (the socket's mode keeps you out: run as its owner or "
		    "root, or see the daemon's --socket-mode)";
		break;
	default:
		break;
	}
	log_warnx("connect %s: %s%s", path, strerror(errno), hint);
	exit(EXIT_LOCAL);
}

/*
 * Read the reply within the deadline: up to the first newline into line
 * (WIRE_REPLY_MAX + 1 bytes), or, whole, to the end of the stream into a
 * buffer that grows (a list).  Returns the reply, NUL-terminated, with
 * *lenp its length (0: the daemon hung up without a word); NULL with errno
 * ETIMEDOUT or another error.  A one-line reply needs no heap at all,
 * which spares a short-lived client the cost of setting one up.
 */
static char *
read_reply(int fd, char *line, int whole, uint64_t timeout_ms, size_t *lenp)
{
	uint64_t	 deadline = monotonic_ms() + timeout_ms, now;
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	size_t		 len = 0, size = WIRE_REPLY_MAX;
	char		*buf = line, *nbuf;
	ssize_t		 n;

	for (;;) {
		if ((now = monotonic_ms()) >= deadline) {
			errno = ETIMEDOUT;
			goto fail;
		}
		n = poll(&pfd, 1, ms_until(deadline, now));
		if (n == -1 && errno != EINTR)
			goto fail;
		if (n <= 0)
			continue;
		if (len == size) {
			if (!whole || size >= MAX_REPLY) {
				errno = EMSGSIZE;
				goto fail;
			}
			nbuf = realloc(buf == line ? NULL : buf, size * 2 + 1);
			if (nbuf == NULL)
				goto fail;
			if (buf == line)
				memcpy(nbuf, line, len);
			buf = nbuf;
			size *= 2;
		}
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		/* A daemon that answers before reading our request (it
		 * refused us at the door) resets the connection when it
		 * closes; its answer comes first and is whole. */
		if (n == -1 && errno == ECONNRESET && len > 0)
			break;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
		if (!whole && memchr(buf, '\n', len) != NULL)
			break;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	if (buf != line)
		free(buf);
	return NULL;
}

/* A JSON string (the list's fields are printable ASCII, no spaces). */
static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/*
 * --list --json: the daemon's table as an array of objects, for scripts.
 * Columns: NAME STATE NETNS PORTS SERVED CONNS BYTES AGE VIA.
 */
static void
print_json(char *table)
{
	char		*line, *save, *f[9], *fsave;
	unsigned long	 a, b;
	int		 n, first = 1;

	printf("[");
	if (strtok_r(table, "\n", &save) == NULL) {	/* the header */
		printf("]\n");
		return;
	}
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		for (n = 0; n < 9; n++)
			if ((f[n] = strtok_r(n == 0 ? line : NULL, " ",
			    &fsave)) == NULL)
				break;
		if (n < 9)
			continue;
		printf("%s\n  {\"name\": ", first ? "" : ",");
		json_str(f[0]);
		printf(", \"state\": ");
		json_str(f[1]);
		if (sscanf(f[2], "net:[%lu]", &a) == 1)
			printf(", \"netns\": %lu", a);
		printf(", \"ports\": [%s]", f[3]);
		printf(", \"served\": %s", f[4]);
		if (sscanf(f[5], "%lu/%lu", &a, &b) == 2)
			printf(", \"connections\": {\"open\": %lu, "
			    "\"total\": %lu}", a, b);
		if (sscanf(f[6], "%lu/%lu", &a, &b) == 2)
			printf(", \"bytes\": {\"in\": %lu, \"out\": %lu}",
			    a, b);
		printf(", \"age\": ");
		json_str(f[7]);
		printf(", \"via\": ");
		json_str(f[8]);
		printf("}");
		first = 0;
	}
	printf("%s]\n", first ? "" : "\n");
}

/* Send one request (with fd, or -1), wait for the reply, and turn it into
 * an exit status; a good reply goes to stdout when show is set. */
static int
exchange(const struct options *o, const char *req, size_t reqlen, int fd,
    int show)
{
	size_t	 len;
	char	 line[WIRE_REPLY_MAX + 1], *reply, *nl;
	uint64_t start = monotonic_ms(), spent;
	int	 sock, status = EXIT_OK, send_err = 0;

	/* One deadline for the whole exchange: -t bounds every wait. */
	sock = connect_daemon(o->sock_path, o->timeout_ms);
	if (fdpass_send(sock, req, reqlen, fd) == -1) {
		send_err = errno;
		/* Closed on us: it may have said why before it did. */
		if (send_err != EPIPE && send_err != ECONNRESET) {
			log_warnx("send to %s: %s", o->sock_path,
			    fdpass_strerror(send_err));
			exit(EXIT_LOCAL);
		}
	}
	/* The daemon has its own reference now; ours has done its job. */
	if (fd != -1)
		close(fd);
	if (!o->wait && send_err == 0) {
		close(sock);
		return EXIT_OK;
	}
	spent = monotonic_ms() - start;
	reply = read_reply(sock, line, o->op == WIRE_OP_LIST,
	    spent < o->timeout_ms ? o->timeout_ms - spent : 0, &len);
	close(sock);
	if ((reply == NULL || len == 0) && send_err != 0) {
		log_warnx("send to %s: %s", o->sock_path, strerror(send_err));
		exit(EXIT_LOCAL);
	}
	if (reply == NULL) {
		if (errno == ETIMEDOUT)
			log_warnx("no acknowledgement from %s within %ju ms "
			    "(the request was delivered; a daemon that never "
			    "answers, like the seed's, needs --no-wait)",
			    o->sock_path, (uintmax_t)o->timeout_ms);
		else
			log_warn("read from %s", o->sock_path);
		return EXIT_NOACK;
	}
	if (len == 0) {
		log_warnx("%s closed the connection without an "
		    "acknowledgement", o->sock_path);
		status = EXIT_NOACK;
	} else if (strncmp(reply, WIRE_ERROR, strlen(WIRE_ERROR)) == 0) {
		if ((nl = strchr(reply, '\n')) != NULL)
			*nl = '\0';
		log_warnx("daemon: %s", reply + strlen(WIRE_ERROR));
		status = EXIT_REFUSED;
	} else if (reply[len - 1] != '\n') {
		log_warnx("%s: reply cut short", o->sock_path);
		status = EXIT_NOACK;
	} else if (show && o->json) {
		print_json(reply);
	} else if (show) {
		fputs(reply, stdout);
	}
	if (reply != line)
		free(reply);
	return status;
}

static void
on_stop(int sig, void *arg)
{
	(void)arg;
	log_info("zds: %s: shutting down", strsignal(sig));
	ev_stop(EXIT_OK);
}

static void
on_hup(int sig, void *arg)
{
	(void)sig;
	(void)arg;
	log_info("SIGHUP: ignored (nothing to reload)");
}

/* cni-emulator --zds-serve: the node agent, until SIGINT or SIGTERM. */
static int
run_agent(const struct options *o, int nargs, char **args)
{
	uint64_t	limit;
	int		i, status;

	if (ev_init() == -1)
		fatal("event loop");
	if (ev_signal(SIGINT, on_stop, NULL) == -1 ||
	    ev_signal(SIGTERM, on_stop, NULL) == -1 ||
	    ev_signal(SIGHUP, on_hup, NULL) == -1)
		fatal("signals");
	/* One descriptor per pod: as many as the hard limit allows. */
	if (raise_nofile(&limit) == -1)
		log_warn("raising the descriptor limit (now %ju)",
		    (uintmax_t)limit);
	/* The socket first: however many namespaces there are, it must
	 * exist, to refuse a ztunnel a partial snapshot if need be. */
	if (agent_start(&o->agent) == -1)
		fatalx("%s: %s%s", o->agent.path, strerror(errno),
		    udsock_hint(errno));
	if (nswatch_start(&o->watch, agent_ns_changed, NULL) == -1)
		fatal("watch %s", NETNS_RUN_DIR);
	for (i = 0; i < nargs; i++)
		if (nswatch_add_fixed(args[i]) == -1)
			fatal("netns %s", args[i]);
	log_info("zds: serving on %s (SOCK_SEQPACKET), %s", o->agent.path,
	    o->watch.watch ? "watching " NETNS_RUN_DIR : "a fixed set of pods");
	if (notify_send("READY=1") == -1)
		log_warn("NOTIFY_SOCKET");
	if ((status = ev_run()) == -1)
		fatal("event loop");
	(void)notify_send("STOPPING=1");
	agent_stop();
	nswatch_stop();
	ev_done();
	return status;
}

/*
 * --redirect: the pod's rules go in before the daemon hears of it, and
 * come out again if it refuses the pod (no answer at all may still mean
 * a pod that listens: its rules stay).
 */
static int
add_redirected(const struct options *o, const char *name, int fd)
{
	char	req[WIRE_REQ_MAX], err[512];
	int	len, keep, status;

	if ((keep = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("dup");
		return EXIT_LOCAL;
	}
	if (redirect_install(fd, err, sizeof(err)) == -1) {
		log_warnx("redirect %s: %s; nothing installed", o->arg, err);
		close(keep);
		close(fd);
		return EXIT_LOCAL;
	}
	if (o->seed) {
		req[0] = WIRE_SEED_ADD;
		len = 1;
	} else if ((len = wire_format(req, sizeof(req), WIRE_OP_ADD,
	    name)) == -1) {
		log_warnx("bad pod name: %s", name);
		len = 0;
	}
	status = len > 0 ? exchange(o, req, (size_t)len, fd, o->verbose) :
	    EXIT_USAGE;
	if (len == 0)
		close(fd);
	if ((status == EXIT_REFUSED || status == EXIT_USAGE ||
	    status == EXIT_LOCAL) && redirect_remove(keep, err, sizeof(err)) == -1)
		log_warnx("redirect %s: removing the rules again: %s", o->arg,
		    err);
	close(keep);
	return status;
}

/* --del --redirect NETNS: the rules out of the namespace, then the pod
 * (named after the namespace, as for an add) out of the daemon. */
static int
del_redirected(const struct options *o)
{
	char	req[WIRE_REQ_MAX], path[PATH_MAX], buf[WIRE_NAME_MAX + 1];
	char	err[512];
	const char *name;
	int	fd, len;

	fd = open_netns(o->arg);
	if (redirect_remove(fd, err, sizeof(err)) == -1) {
		log_warnx("redirect %s: %s", o->arg, err);
		close(fd);
		return EXIT_LOCAL;
	}
	close(fd);
	if (netns_resolve(o->arg, path, sizeof(path)) == -1 ||
	    (name = netns_pod_name(o->arg, path, buf, sizeof(buf))) == NULL ||
	    (len = wire_format(req, sizeof(req), WIRE_OP_DEL, name)) == -1) {
		log_warnx("cannot name the pod after %s", o->arg);
		return EXIT_USAGE;
	}
	return exchange(o, req, (size_t)len, -1, o->verbose);
}

int
main(int argc, char *argv[])
{
	struct options	 o;
	char		 req[WIRE_REQ_MAX], buf[WIRE_NAME_MAX + 1];
	const char	*name = NULL;
	char		 path[PATH_MAX];
	int		 len, fd = -1;

	log_init(argv[0], LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &o) == -1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.agent.path != NULL) {
		if (o.verbose)
			log_setlevel(LOG_LEVEL_DEBUG);
		return run_agent(&o, argc - optind, argv + optind);
	}

	switch (o.op) {
	case WIRE_OP_ADD:
		fd = open_netns(o.arg);
		name = o.name;
		if (name == NULL && netns_resolve(o.arg, path, sizeof(path)) == 0)
			name = netns_pod_name(o.arg, path, buf, sizeof(buf));
		if (!o.seed && (name == NULL || !text_name_ok(name))) {
			log_warnx("cannot name the pod after %s: use --name",
			    o.arg);
			return EXIT_USAGE;
		}
		if (o.redirect)
			return add_redirected(&o, name, fd);
		if (o.seed) {
			req[0] = WIRE_SEED_ADD;
			return exchange(&o, req, 1, fd, o.verbose);
		}
		break;
	case WIRE_OP_DEL:
		name = o.arg;
		if (o.redirect)
			return del_redirected(&o);
		break;
	case WIRE_OP_LIST:
		break;
	}
	if ((len = wire_format(req, sizeof(req), o.op, name)) == -1) {
		log_warnx("bad pod name: %s", name);
		return EXIT_USAGE;
	}
	return exchange(&o, req, (size_t)len, fd,
	    o.verbose || o.op == WIRE_OP_LIST);
}
