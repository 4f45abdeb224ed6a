/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni-emulator: plays Istio's CNI node agent.  Opens a pod's network
 * namespace and hands the descriptor to ztunnel-emulator over a Unix socket,
 * then waits for its answer.  Also removes and lists pods.
 */
#define LOG_TARGET NULL	/* the program's name */

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
#include "reconcile.h"
#include "redirect.h"
#include "status.h"
#include "udsock.h"
#include "text.h"
#include "util.h"
#include "verify.h"
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
	struct reconcile_opts reconcile; /* its rounds; period 0: none */
	struct status_opts status;	/* --health, --metrics */
	struct nswatch_opts watch;	/* its pods */
	struct client_opts client;	/* add, del, list */
	enum wire_op	 op;
	const char	*arg;		/* netns (add) or pod name (del) */
	int		 verify;	/* --verify */
	enum redirect_backend backend;	/* --redirect-backend */
	enum log_format	 log_format;	/* the agent's */
};

/*
 * The options, one table: what each is for and what it goes with.  A
 * run is one of five modes; an option given outside its modes is a
 * usage error that says which it goes with.
 */
enum {
	M_ADD	= 1,
	M_DEL	= 2,
	M_LIST	= 4,
	M_AGENT	= 8,
	M_VERIFY = 16,
	M_ANY	= M_ADD | M_DEL | M_LIST | M_AGENT | M_VERIFY,
};

struct opt {
	const char	*name;
	int		 has_arg;
	int		 val;		/* getopt's */
	char		 shortopt;	/* 0: none */
	unsigned	 modes;
	const char	*with;		/* "goes with ..." */
	const char	*arg;		/* for --help */
	const char	*help;		/* lines of at most 54 columns */
};

static const struct opt opts[] = {
	{ "name", 1, 'n', 'n', M_ADD, "adding a pod", "NAME",
	    "the pod's name (default: the namespace's)" },
	{ "redirect", 0, 'R', 0, M_ADD | M_DEL | M_AGENT,
	    "adding or removing a pod, or --zds-serve", NULL,
	    "istio-cni's in-pod rules: in before the handoff,\n"
	    "out after the removal (--del then takes the netns);\n"
	    "with --zds-serve, for every pod it announces" },
	{ "redirect-backend", 1, 'b', 0, M_ADD | M_DEL | M_AGENT,
	    "adding or removing a pod, or --zds-serve", "B",
	    "with --redirect: iptables (the default, as Istio's),\n"
	    "nftables (Istio 1.28's native backend), or auto\n"
	    "(decided once, as istio-cni does); --del --redirect\n"
	    "removes either" },
	{ "no-dns-capture", 0, 'X', 0, M_ADD | M_AGENT | M_VERIFY,
	    "--redirect, or --verify", NULL,
	    "with --redirect: leave the pod's DNS alone (Istio's\n"
	    "AMBIENT_DNS_CAPTURE=false); by default UDP and TCP\n"
	    "port 53 go to ztunnel's DNS proxy on 15053" },
	{ "seed", 0, 'S', 0, M_ADD, "adding a pod", NULL,
	    "send the seed's one byte (0x01): the daemon names it" },
	{ "no-wait", 0, 'W', 0, M_ADD, "adding a pod", NULL,
	    "send and exit, like the seed's client" },
	{ "del", 0, 'd', 'd', M_DEL, NULL, NULL,
	    "remove the pod NAME (--redirect: the netns's pod)" },
	{ "list", 0, 'l', 'l', M_LIST, NULL, NULL,
	    "list the daemon's pods" },
	{ "output", 1, 'o', 'o', M_LIST, "--list", "FMT",
	    "with --list: wide (more columns) or json" },
	{ "json", 0, 'J', 0, M_LIST | M_VERIFY, "--list or --verify", NULL,
	    "with --list or --verify: as JSON" },
	{ "verify", 0, 'C', 0, M_VERIFY, NULL, NULL,
	    "check each enrolled pod (or each netns given) in\n"
	    "its namespace: rules, routing, listeners held by\n"
	    "a live ztunnel-emulator listing it, lo up" },
	{ "zds-serve", 1, 'Z', 0, M_AGENT, NULL, "PATH",
	    "be the node agent: serve ZDS on PATH" },
	{ "watch", 0, 'w', 0, M_AGENT, "--zds-serve", NULL,
	    "follow " NETNS_RUN_DIR ": an Add or a Del as\n"
	    "namespaces come and go (needs --select)" },
	{ "select", 1, 'G', 0, M_AGENT, "--zds-serve --watch", "GLOB",
	    "the names that are pods, as the shell matches them\n"
	    "('web-*'; '*' for every one): nothing else is taken" },
	{ "allow-uid", 1, 'u', 0, M_AGENT, "--zds-serve", "U",
	    "also serve a ztunnel running as user U (repeatable;\n"
	    "root and our own uid always may)" },
	{ "k8s-namespace", 1, 'K', 0, M_AGENT, "--zds-serve", "NS",
	    "the pods' namespace in WorkloadInfo (\"default\")" },
	{ "log-format", 1, 'L', 0, M_AGENT, "--zds-serve", "F",
	    "ztunnel (default): TIME LEVEL TARGET MESSAGE,\n"
	    "tab-separated, as Istio's agents log; short:\n"
	    "\"cni-emulator: TARGET: MESSAGE\"" },
	{ "reconcile-period", 1, 'P', 0, M_AGENT, "--zds-serve", "S",
	    "verify every pod and repair what drifted at start\n"
	    "and every S seconds (default 30)" },
	{ "no-reconcile", 0, 'N', 0, M_AGENT, "--zds-serve", NULL,
	    "no such rounds" },
	{ "health", 1, 'H', 0, M_AGENT, "--zds-serve", "ADDR:PORT",
	    "serve /healthz and /readyz (istio-cni's: port 8000)" },
	{ "metrics", 1, 'M', 0, M_AGENT, "--zds-serve", "ADDR:PORT",
	    "serve Prometheus /metrics (istio-cni's: 15014)" },
	{ "timeout", 1, 't', 't', M_ANY, NULL, "S",
	    "wait at most S seconds for an answer (default 5)" },
	{ "verbose", 0, 'v', 'v', M_ANY, NULL, NULL,
	    "print the daemon's answer on success too; with\n"
	    "--zds-serve, log debug detail" },
	{ "help", 0, 'h', 'h', M_ANY, NULL, NULL, "show this help" },
	{ "version", 0, 'V', 'V', M_ANY, NULL, NULL, "show the version" },
};
#define NOPTS	(sizeof(opts) / sizeof(opts[0]))

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cni-emulator [-v] [-t seconds] [--no-wait]\n"
	    "                    [--redirect [--redirect-backend iptables|nftables|auto]\n"
	    "                                [--no-dns-capture]]\n"
	    "                    [--name name | --seed] [<uds_path>] <netns>\n"
	    "       cni-emulator [-v] [-t seconds] --del [--redirect] "
	    "[<uds_path>] <name>\n"
	    "       cni-emulator [-t seconds] --list [-o wide|json] [<uds_path>]\n"
	    "       cni-emulator --verify [--json] [--no-dns-capture] [netns...]\n"
	    "       cni-emulator [-v] [-t seconds] [--watch --select glob]\n"
	    "                    [--redirect [--redirect-backend b] [--no-dns-capture]]\n"
	    "                    [--k8s-namespace ns] [--allow-uid uid]...\n"
	    "                    [--log-format ztunnel|short]\n"
	    "                    [--reconcile-period s | --no-reconcile]\n"
	    "                    [--health addr:port] [--metrics addr:port]\n"
	    "                    --zds-serve <path> [netns...]\n");
}

static void
help(void)
{
	char		 left[32];
	const char	*h, *nl;
	size_t		 i;

	usage(stdout);
	printf("\n"
	    "Open the network namespace <netns> (a path, or a name under\n"
	    "%s) and send its descriptor to ztunnel-emulator at\n"
	    "<uds_path> (default %s);\n"
	    "wait for its answer.\n\n", NETNS_RUN_DIR, WIRE_SOCK_PATH);
	for (i = 0; i < NOPTS; i++) {
		snprintf(left, sizeof(left), "%c%c%c --%s%s%s",
		    opts[i].shortopt ? '-' : ' ',
		    opts[i].shortopt ? opts[i].shortopt : ' ',
		    opts[i].shortopt ? ',' : ' ', opts[i].name,
		    opts[i].arg != NULL ? " " : "",
		    opts[i].arg != NULL ? opts[i].arg : "");
		printf("  %-22s", left);
		if (strlen(left) >= 22)
			printf("\n  %-22s", "");
		for (h = opts[i].help; (nl = strchr(h, '\n')) != NULL;
		    h = nl + 1)
			printf("%.*s\n  %-22s", (int)(nl - h), h, "");
		printf("%s\n", h);
	}
	printf("\n"
	    "Exit status: 0 done, 1 usage, 2 local failure (open, connect,\n"
	    "send, rules), 3 the daemon refused, 4 no answer from the daemon,\n"
	    "5 --verify: a pod is not whole.\n");
}

static int
parse_args(int argc, char *argv[], struct options *o)
{
	struct option	 longopts[NOPTS + 1];
	unsigned	 seen = 0, mode;
	size_t		 i;
	int		 ch, nargs, idx;
	const char	*bad;

	memset(longopts, 0, sizeof(longopts));
	for (i = 0; i < NOPTS; i++)
		longopts[i] = (struct option){ opts[i].name,
		    opts[i].has_arg ? required_argument : no_argument, NULL,
		    opts[i].val };
	memset(o, 0, sizeof(*o));
	o->op = WIRE_OP_ADD;
	o->client.timeout_ms = DEFAULT_TIMEOUT_MS;
	o->agent.k8s_namespace = "default";
	o->client.wait = 1;
	o->log_format = LOG_FORMAT_ZTUNNEL;
	o->reconcile.period_ms = RECONCILE_PERIOD_MS;
	while ((ch = getopt_long(argc, argv, "dhln:o:t:vV", longopts,
	    &idx)) != -1) {
		for (i = 0; i < NOPTS && opts[i].val != ch; i++)
			;
		if (i < NOPTS)
			seen |= 1u << i;
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
			o->client.output = LIST_JSON;
			break;
		case 'C':
			o->verify = 1;
			break;
		case 'P':
			if (parse_seconds_ms(optarg, MAX_TIMEOUT_MS,
			    &o->reconcile.period_ms) == -1 ||
			    o->reconcile.period_ms == 0) {
				log_warnx("bad --reconcile-period %s: seconds, "
				    "more than 0, at most an hour", optarg);
				return -1;
			}
			break;
		case 'N':
			o->reconcile.period_ms = 0;
			break;
		case 'H':
			o->status.health = optarg;
			break;
		case 'M':
			o->status.metrics = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "wide") == 0)
				o->client.output = LIST_WIDE;
			else if (strcmp(optarg, "json") == 0)
				o->client.output = LIST_JSON;
			else {
				log_warnx("bad -o %s: wide or json", optarg);
				return -1;
			}
			break;
		case 'L':
			if (log_format_parse(optarg, &o->log_format) == -1) {
				log_warnx("bad --log-format %s: ztunnel or short",
				    optarg);
				return -1;
			}
			break;
		case 'R':
			o->client.redirect = 1;
			o->agent.redirect = 1;
			break;
		case 'S':
			o->client.seed = 1;
			break;
		case 'b':
			if (redirect_backend_parse(optarg, &o->backend) == -1) {
				log_warnx("bad --redirect-backend %s: iptables, "
				    "nftables or auto", optarg);
				return -1;
			}
			break;
		case 'X':
			redirect_set_dns(0);
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
	/* One mode a run; every option given must go with it. */
	mode = o->agent.path != NULL ? M_AGENT : o->verify ? M_VERIFY :
	    o->op == WIRE_OP_DEL ? M_DEL : o->op == WIRE_OP_LIST ? M_LIST :
	    M_ADD;
	if ((o->agent.path != NULL) + o->verify + (o->op != WIRE_OP_ADD) > 1) {
		log_warnx("--zds-serve, --verify, --del and --list are modes "
		    "of their own: one at a time");
		return -1;
	}
	for (i = 0; i < NOPTS; i++)
		if ((seen & (1u << i)) && !(opts[i].modes & mode)) {
			log_warnx("--%s goes with %s", opts[i].name,
			    opts[i].with);
			return -1;
		}
	if (o->client.seed && o->client.name != NULL) {
		log_warnx("--seed sends no name: it cannot go with --name");
		return -1;
	}
	/* A backend with no rules to put in would be silently ignored. */
	for (i = 0; i < NOPTS; i++)
		if ((seen & (1u << i)) && (opts[i].val == 'b' ||
		    (opts[i].val == 'X' && mode != M_VERIFY)) &&
		    !o->client.redirect) {
			log_warnx("--%s goes with --redirect", opts[i].name);
			return -1;
		}
	if (mode == M_AGENT) {
		/* Nothing is enrolled that nobody named: on a machine with
		 * other namespaces, enrolling them all would put listeners
		 * and (--redirect) rules in each. */
		if (o->watch.select != NULL && !o->watch.watch) {
			log_warnx("--select goes with --watch");
			return -1;
		}
		if (o->watch.watch && (o->watch.select == NULL ||
		    o->watch.select[0] == '\0')) {
			log_warnx("--watch needs --select GLOB: which names "
			    "under " NETNS_RUN_DIR " are pods ('*' for every "
			    "one, knowingly)");
			return -1;
		}
		if (status_parse(&o->status, &bad) == -1) {
			log_warnx("bad %s: not ADDR:PORT (an IPv4 address, "
			    "[IPv6] or localhost)", bad);
			return -1;
		}
		o->agent.timeout_ms = o->client.timeout_ms;
		o->watch.probe_ms = o->client.timeout_ms;
		o->reconcile.redirect = o->agent.redirect;
		o->status.reconcile = o->reconcile.period_ms != 0;
		return 0;
	}
	if (mode == M_VERIFY)
		return 0;	/* the namespaces, if any, follow */
	/* [uds_path] and the argument: the socket is the daemon's default
	 * unless given (two arguments, as the seed's client has them). */
	nargs = argc - optind;
	if (mode == M_LIST ? nargs > 1 : nargs < 1 || nargs > 2)
		return -1;
	o->client.sock_path = (mode == M_LIST ? nargs == 1 : nargs == 2) ?
	    argv[optind] : WIRE_SOCK_PATH;
	o->arg = mode == M_LIST ? NULL : argv[argc - 1];
	return 0;
}


static void
on_stop(int sig, void *arg)
{
	(void)arg;
	log_info("%s: shutting down", strsignal(sig));
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
	const char	*bad;
	struct nsid	 home;
	uint64_t	 limit;
	int		 i, status;

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
	/* Our own surfaces before the socket file: one that cannot be had
	 * must leave nothing behind. */
	if (status_start(&o->status, &bad) == -1)
		fatalx("%s %s: %s%s", bad, strcmp(bad, "--health") == 0 ?
		    o->status.health : o->status.metrics, strerror(errno),
		    errno == EADDRINUSE ? " (another agent there?)" : "");
	/* The way home, for the reconcile's looks inside pods. */
	if (netns_home_init(&home) == -1)
		fatal("open /proc/thread-self/ns/net");
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
	log_info("serving on %s (SOCK_SEQPACKET), %s", o->agent.path,
	    o->watch.watch ? "watching " NETNS_RUN_DIR : "a fixed set of pods");
	if (o->reconcile.period_ms != 0 && reconcile_start(&o->reconcile) == -1)
		fatal("reconcile");
	if (notify_send("READY=1") == -1)
		log_warn("NOTIFY_SOCKET");
	if ((status = ev_run()) == -1)
		fatal("event loop");
	(void)notify_send("STOPPING=1");
	reconcile_stop();
	status_stop();
	agent_stop();
	nswatch_stop();
	netns_home_close();
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
	if (o.client.redirect || o.agent.redirect) {
		const char		*why;
		enum redirect_backend	 b;

		if (o.agent.path != NULL)
			log_setformat(o.log_format);
		b = redirect_set_backend(o.backend, &why);
		if (o.backend == REDIRECT_AUTO || o.agent.path != NULL)
			log_info("in-pod rules: %s (%s)",
			    redirect_backend_name(b), why);
	}
	if (o.agent.path != NULL) {
		if (o.client.verbose)
			log_setlevel(LOG_LEVEL_DEBUG);
		log_setformat(o.log_format);
		return run_agent(&o, argc - optind, argv + optind);
	}
	if (o.verify)
		return verify_command(argv + optind, argc - optind,
		    o.client.output == LIST_JSON);
	switch (o.op) {
	case WIRE_OP_ADD:
		return (int)client_add(&o.client, o.arg);
	case WIRE_OP_DEL:
		return (int)client_del(&o.client, o.arg);
	case WIRE_OP_LIST:
	case WIRE_OP_LIST_WIDE:
	case WIRE_OP_LIST_JSON:
	case WIRE_OP_INFO:
	default:
		return (int)client_list(&o.client);
	}
}
