/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni-emulator: plays Istio's CNI node agent.  Opens a pod's network
 * namespace and hands the descriptor to ztunnel-emulator over a Unix socket,
 * then waits for its answer.  Also removes and lists pods.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "client.h"
#include "ev.h"
#include "log.h"
#include "netns.h"
#include "notify.h"
#include "nswatch.h"
#include "udsock.h"
#include "text.h"
#include "util.h"
#include "version.h"
#include "wire.h"
#include "zds.h"


/* Exit status, documented in --help and the man page: client.h's. */
#define EXIT_OK		CLIENT_OK
#define EXIT_USAGE	CLIENT_USAGE

#define DEFAULT_TIMEOUT_MS	5000
#define MAX_TIMEOUT_MS		UINT64_C(3600000)	/* an hour */

struct options {
	struct agent_opts agent;	/* --zds-serve */
	struct nswatch_opts watch;	/* its pods */
	struct client_opts client;	/* add, del, list */
	enum wire_op	 op;
	const char	*arg;		/* netns (add) or pod name (del) */
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
	o->client.timeout_ms = DEFAULT_TIMEOUT_MS;
	o->agent.k8s_namespace = "default";
	o->client.wait = 1;
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
			o->client.name = optarg;
			break;
		case 't':
			if (parse_seconds_ms(optarg, MAX_TIMEOUT_MS,
			    &o->client.timeout_ms) == -1 || o->client.timeout_ms == 0) {
				log_warnx("bad timeout: %s (seconds, > 0)",
				    optarg);
				return -1;
			}
			break;
		case 'v':
			o->client.verbose = 1;
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
			o->client.json = 1;
			break;
		case 'R':
			o->client.redirect = 1;
			o->agent.redirect = 1;
			break;
		case 'S':
			o->client.seed = 1;
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
			o->client.wait = 0;
			break;
		default:
			return -1;
		}
	}
	if (o->agent.path != NULL) {
		/* The node agent: the rest are namespaces, maybe none. */
		if (o->op != WIRE_OP_ADD || o->client.name != NULL || o->client.seed ||
		    !o->client.wait) {
			log_warnx("--zds-serve goes with --watch, "
			    "--k8s-namespace and --timeout only");
			return -1;
		}
		if (o->watch.select != NULL && !o->watch.watch) {
			log_warnx("--select goes with --watch");
			return -1;
		}
		o->agent.timeout_ms = o->client.timeout_ms;
		o->watch.probe_ms = o->client.timeout_ms;
		return 0;
	}
	if (o->watch.watch || o->watch.select != NULL || o->agent.allow.n > 0) {
		log_warnx("--watch, --select and --allow-uid go with --zds-serve");
		return -1;
	}
	nargs = o->op == WIRE_OP_LIST ? 1 : 2;
	if (argc - optind != nargs)
		return -1;
	if (o->client.json && o->op != WIRE_OP_LIST) {
		log_warnx("--json goes with --list");
		return -1;
	}
	if (o->client.redirect && o->op == WIRE_OP_LIST) {
		log_warnx("--redirect goes with adding or removing a pod");
		return -1;
	}
	if (o->op != WIRE_OP_ADD && (o->client.name != NULL || !o->client.wait || o->client.seed)) {
		log_warnx("--name, --seed and --no-wait go with adding a pod");
		return -1;
	}
	if (o->client.seed && o->client.name != NULL) {
		log_warnx("--seed sends no name: it cannot go with --name");
		return -1;
	}
	o->client.sock_path = argv[optind];
	o->arg = nargs == 2 ? argv[optind + 1] : NULL;
	return 0;
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

int
main(int argc, char *argv[])
{
	struct options	 o;

	log_init(argv[0], LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &o) == -1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.agent.path != NULL) {
		if (o.client.verbose)
			log_setlevel(LOG_LEVEL_DEBUG);
		return run_agent(&o, argc - optind, argv + optind);
	}
	switch (o.op) {
	case WIRE_OP_ADD:
		return (int)client_add(&o.client, o.arg);
	case WIRE_OP_DEL:
		return (int)client_del(&o.client, o.arg);
	case WIRE_OP_LIST:
	case WIRE_OP_LIST_JSON:
	default:
		return (int)client_list(&o.client);
	}
}
