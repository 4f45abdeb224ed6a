/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ztunnel-emulator: plays Istio's ztunnel.  Receives pods' network
 * namespaces over a Unix socket and opens listeners inside them, without
 * ever moving into them for longer than a handoff.
 */
#define LOG_TARGET NULL	/* the program's name */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "admin.h"
#include "ambient.h"
#include "control.h"
#include "drain.h"
#include "ev.h"
#include "handover.h"
#include "log.h"
#include "hbone.h"
#include "linger.h"
#include "netns.h"
#include "notify.h"
#include "peers.h"
#include "dnsproxy.h"
#include "pods.h"
#include "proxy.h"
#include "relay.h"
#include "udsock.h"
#include "util.h"
#include "version.h"
#include "wire.h"
#include "zds.h"
#include "zdsclient.h"

#define EXIT_USAGE	1
#define RESOLV_CONF	"/etc/resolv.conf"

struct options {
	struct control_opts ctl;	/* ctl.path NULL: no control socket */
	const char	*zds_path;	/* --zds: the node agent's socket */
	struct admin_opts admin;	/* --admin, --metrics, --ready */
	int		 proxy;		/* --proxy */
	const char	*peers;		/* --peers: other nodes' mesh pods */
	struct proxy_opts pxy;		/* --pool-idle, --keepalive, ... */
	enum log_level	 level;
	enum log_format	 log_format;
	int64_t		 drain_ms;	/* --drain-deadline; -1: not given */
	const char	*handover;	/* --handover: the upgrade's socket */
	int		 dns;		/* --dns 1, --no-dns 0; -1: as --proxy */
	struct dnsproxy_conf dnsconf;	/* --dns-upstream, --dns-domain */
};

static const char *peers_path;		/* reread on SIGHUP */
static uint64_t	 drain_ms;		/* the drain's deadline */

static void
usage(FILE *f)
{
	fprintf(f, "usage: ztunnel-emulator [-qv] [--proxy] [--allow-uid uid]... "
	    "[--socket-mode mode]\n"
	    "                        [options] [<uds_path>]\n"
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
	    "  --proxy           listen as ztunnel does (0.0.0.0, SO_MARK 1337,\n"
	    "                    SO_REUSEPORT, IP_TRANSPARENT) and carry the\n"
	    "                    pods' captured traffic: 15001 out, 15006 in\n"
	    "                    (the pods need cni-emulator --redirect);\n"
	    "                    to mesh pods over HBONE: HTTP/2 CONNECT to\n"
	    "                    their 15008, in the clear (h2c), which a real\n"
	    "                    ztunnel (mTLS only) does not speak\n"
	    "  --peers FILE      mesh pods on other nodes, reached by HBONE:\n"
	    "                    lines of \"ADDRESS [namespace/name]\"; reread\n"
	    "                    on SIGHUP\n"
	    "  --no-dns          no DNS proxy (--dns, the default with --proxy:\n"
	    "                    UDP and TCP on 127.0.0.1:15053 in each pod,\n"
	    "                    and [::1]:15053 where lo has IPv6)\n"
	    "  --dns-upstream ADDR[:PORT]\n"
	    "                    where names we do not know are asked\n"
	    "                    (repeatable, 3 at most; default: the\n"
	    "                    nameservers of /etc/resolv.conf)\n"
	    "  --dns-domain D    the cluster's domain (default " DNSP_DOMAIN_DEFAULT "):\n"
	    "                    pods answer as NAME.NAMESPACE.svc.D\n"
	    "  --pool-idle SEC   close an HBONE connection unused this long\n"
	    "                    (default 300)\n"
	    "  --keepalive TIME[,INTERVAL[,RETRIES]]\n"
	    "                    TCP keepalive on every proxied socket, in\n"
	    "                    seconds (ztunnel's: 180,180,9), and a user\n"
	    "                    timeout of TIME + RETRIES * INTERVAL\n"
	    "  --no-keepalive    neither; --no-user-timeout: keepalive only\n"
	    "  --drain-deadline SEC\n"
	    "                    on SIGTERM, stop listening and give the\n"
	    "                    connections this long to end (default:\n"
	    "                    from TERMINATION_GRACE_PERIOD_SECONDS as\n"
	    "                    ztunnel, else 5)\n"
	    "  --handover PATH   upgrade with no listener closed and no\n"
	    "                    connection reset: take every socket from\n"
	    "                    the instance serving PATH, if one is, then\n"
	    "                    serve PATH for the next one\n"
	    "  --half-close-timeout SEC\n"
	    "                    close a connection one way done and idle\n"
	    "                    this long (default 60; 0: never)\n"
	    "  --admin ADDR:PORT   /config_dump, POST /quitquitquit, /logging\n"
	    "                    (ztunnel's: 127.0.0.1:15000)\n"
	    "  --metrics ADDR:PORT Prometheus /metrics (ztunnel's: port 15020)\n"
	    "  --ready ADDR:PORT   /healthz/ready (ztunnel's: port 15021)\n"
	    "  --zds PATH        also (or only) take pods from an Istio node\n"
	    "                    agent over ZDS: connect to its socket PATH\n"
	    "                    (Istio's: " ZDS_SOCK_PATH ")\n"
	    "  --allow-uid U     also accept requests from user U (a uid or\n"
	    "                    a name; repeatable); root and the daemon's\n"
	    "                    own uid always may\n"
	    "  --socket-mode M   mode of the socket file (octal, default 0600)\n"
	    "  --log-format F    ztunnel (default): \"TIME LEVEL TARGET MESSAGE\n"
	    "                    FIELDS\", tab-separated, as ztunnel logs; short:\n"
	    "                    \"ztunnel-emulator: TARGET: MESSAGE FIELDS\"\n"
	    "  -q, --quiet       log warnings and errors only\n"
	    "  -v, --verbose     log debug detail\n"
	    "  -h, --help        show this help\n"
	    "  -V, --version     show the version\n"
	    "\n"
	    "Exit status: 0 stopped by SIGINT/SIGTERM or handed over, 1 usage,\n"
	    "2 failure.\n");
}

static void
drained(void)
{
	ev_stop(EXIT_SUCCESS);
}

/* The first signal drains, as ztunnel does during an upgrade (drain.h);
 * a second one stops at once. */
static void
on_stop(int sig, void *arg)
{
	(void)arg;
	log_info("%s: shutting down (pods: %zu)", strsignal(sig), pod_count());
	if (draining()) {
		ev_stop(EXIT_SUCCESS);
		return;
	}
	drain_start(drain_ms, drained);
}

static void
on_hup(int sig, void *arg)
{
	char err[256];

	(void)sig;
	(void)arg;
	/* A closed terminal or a careless kill -HUP must not take every
	 * pod's listeners with it: only --peers is reread. */
	if (peers_path == NULL) {
		log_info("SIGHUP: ignored (nothing to reload)");
		return;
	}
	if (peers_load(peers_path, err, sizeof(err)) == -1)
		log_warnx("SIGHUP: %s: keeping the %u peers we had", err,
		    peers_count());
	else
		log_info("SIGHUP: %u peers from %s", peers_count(), peers_path);
}

/*
 * What the daemon will need, tried now, as ztunnel tries its syscalls at
 * start: entering a namespace (CAP_SYS_ADMIN), and with --proxy marking
 * and making transparent sockets (CAP_NET_ADMIN).  Better one line now
 * than a failure at the first pod.
 */
static void
check_privileges(int proxy)
{
	int s, v = ZT_MARK, on = 1;

	if (netns_enter_home() == -1)
		fatalx("setns: %s: entering a pod's network namespace needs "
		    "CAP_SYS_ADMIN (run as root, or setcap cap_sys_admin+ep)",
		    strerror(errno));
	if (!proxy)
		return;
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (setsockopt(s, SOL_SOCKET, SO_MARK, &v, sizeof(v)) == -1 ||
	    setsockopt(s, SOL_IP, IP_TRANSPARENT, &on, sizeof(on)) == -1)
		fatalx("--proxy: setsockopt SO_MARK, IP_TRANSPARENT: %s: "
		    "ztunnel's sockets need CAP_NET_ADMIN or CAP_NET_RAW (run as root)",
		    strerror(errno));
	close(s);
}

/* The DNS proxy's upstreams: those given, else our own resolv.conf's
 * (without any, names we do not know get SERVFAIL, and we say so). */
static void
dns_setup(struct dnsproxy_conf *c)
{
	char	err[256] = "", list[DNSP_UPSTREAMS_MAX * 24] = "";
	size_t	off = 0;
	unsigned i;

	if (c->nupstreams == 0 && dnsproxy_read_resolv(RESOLV_CONF, c, err,
	    sizeof(err)) == -1)
		log_warnx("DNS: %s: %s: names we do not know get SERVFAIL "
		    "(give --dns-upstream)", RESOLV_CONF,
		    errno == EINVAL ? err : strerror(errno));
	else if (err[0] != '\0' && c->nupstreams > 0)
		log_info("DNS: %s", err);
	for (i = 0; i < c->nupstreams && off < sizeof(list); i++) {
		char a[SOCKIP_STRLEN];

		sockip_str(&c->upstreams[i], a, sizeof(a));
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    i > 0 ? "," : "", a);
	}
	dnsproxy_init(c, pod_dns_lookup);
	log_info("DNS proxy on %u in every pod: domain %s, upstreams %s",
	    DNSP_PORT, c->domain, c->nupstreams > 0 ? list : "none");
}

static void
setup(struct options *o)
{
	const struct admin_surface *bad;
	struct handover_taken taken = { .handover_fd = -1 };
	struct nsid	 home;
	uint64_t	 limit;
	const char	*why;
	int		 have_pods = 0;

	if (ev_init() == -1)
		fatal("event loop");
	if (ev_signal(SIGINT, on_stop, NULL) == -1 ||
	    ev_signal(SIGTERM, on_stop, NULL) == -1 ||
	    ev_signal(SIGHUP, on_hup, NULL) == -1)
		fatal("signals");
	drain_ms = drain_deadline(o->drain_ms, &why);
	log_debug("drain deadline %ju ms (%s)", (uintmax_t)drain_ms, why);
	if (o->peers != NULL) {
		char err[256];

		if (peers_load(o->peers, err, sizeof(err)) == -1)
			fatalx("%s", err);
		peers_path = o->peers;
		log_info("%u peers from %s", peers_count(), o->peers);
	}
	/* Thousands of pods are thousands of listeners. */
	if (raise_nofile(&limit) == -1)
		log_warn("raising the descriptor limit (now %ju)",
		    (uintmax_t)limit);
	log_debug("descriptor limit %ju", (uintmax_t)limit);
	/* Opened once, before any handoff: the way home from every pod. */
	if (netns_home_init(&home) == -1)
		fatal("open /proc/thread-self/ns/net");
	check_privileges(o->proxy);
	/* An upgrade: the sockets of the running instance, before we bind
	 * anything of our own (handover.h). */
	if (o->handover != NULL) {
		if (handover_connect(o->handover, o->proxy, &taken) == -1)
			fatalx("--handover %s: the running instance serves on; "
			    "this one stops", o->handover);
		handover_match(&taken, &o->ctl, &o->admin);
	}
	/* Every listener of our own before the control socket: one that
	 * cannot be had must not leave a socket file behind. */
	if (admin_start(&o->admin, &bad) == -1) {
		handover_abort("a surface could not be bound");
		fatalx("%s %s: %s%s", bad->flag, bad->given, strerror(errno),
		    errno == EADDRINUSE ? " (another daemon there?)" : "");
	}
	if (pods_init(&home, o->proxy) == -1)
		fatal("pod table");
	proxy_init(pod_resolve, &o->pxy);
	if (o->dns)
		dns_setup(&o->dnsconf);
	if (o->ctl.path != NULL) {
		if (control_start(&o->ctl) == -1) {
			handover_abort("the control socket could not be bound");
			fatalx("%s: %s%s", o->ctl.path,
			    strerror(errno), udsock_hint(errno));
		}
		log_info("listening on %s (mode %04o, own netns net:[%ju])",
		    o->ctl.path, (unsigned)o->ctl.mode, (uintmax_t)home.ino);
	}
	if (taken.connected && handover_take(&have_pods) == -1) {
		if (!have_pods)
			fatalx("--handover %s: nothing taken; the running "
			    "instance serves on", o->handover);
		log_warnx("--handover %s: the pods taken, some connections "
		    "left to the running instance", o->handover);
	}
	if (o->zds_path != NULL)
		zdsclient_start(o->zds_path, &o->ctl.allow);
	if (o->handover != NULL && handover_serve(o->handover,
	    taken.handover_fd, drain_ms, drained) == -1)
		fatalx("--handover %s: %s%s", o->handover, strerror(errno),
		    udsock_hint(errno));
}

static void
shutdown_all(void)
{
	handover_stop();
	admin_stop();
	control_stop();
	zdsclient_stop();
	pods_done();
	hbone_done();
	relay_pool_free();
	linger_done();
	peers_free();
	netns_home_close();
	ev_done();
}

/* TIME[,INTERVAL[,RETRIES]], each 1 to a day (or probes); what is not
 * given keeps ztunnel's default. */
static int
parse_keepalive(const char *arg, struct podsock_opts *s)
{
	char		 buf[64], *f[3], *save = NULL;
	unsigned long	 v[3] = { KEEPALIVE_TIME_S, KEEPALIVE_INTERVAL_S,
	    KEEPALIVE_RETRIES };
	int		 i, n = 0;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	memcpy(buf, arg, strlen(arg) + 1);
	for (n = 0; n < 3 && (f[n] = strtok_r(n == 0 ? buf : NULL, ",",
	    &save)) != NULL; n++)
		;
	if (n == 0 || strtok_r(NULL, ",", &save) != NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (parse_ulong(f[i], 10, 86400, &v[i]) == -1 || v[i] == 0)
			return -1;
	s->keepalive_time = (unsigned)v[0];
	s->keepalive_interval = (unsigned)v[1];
	s->keepalive_retries = (unsigned)v[2];
	return 0;
}

static int
parse_args(int argc, char *argv[], struct options *o)
{
	static const struct option longopts[] = {
		{ "admin",	 required_argument,	NULL, 'A' },
		{ "allow-uid",	 required_argument,	NULL, 'u' },
		{ "metrics",	 required_argument,	NULL, 'M' },
		{ "ready",	 required_argument,	NULL, 'R' },
		{ "half-close-timeout", required_argument, NULL, 'H' },
		{ "handover",	 required_argument,	NULL, 'O' },
		{ "drain-deadline", required_argument,	NULL, 'D' },
		{ "dns",	 no_argument,		NULL, 'n' },
		{ "dns-domain",	 required_argument,	NULL, 'd' },
		{ "dns-upstream", required_argument,	NULL, 'N' },
		{ "no-dns",	 no_argument,		NULL, 'x' },
		{ "help",	 no_argument,		NULL, 'h' },
		{ "keepalive",	 required_argument,	NULL, 'K' },
		{ "log-format",	 required_argument,	NULL, 'L' },
		{ "no-keepalive", no_argument,		NULL, 'k' },
		{ "no-user-timeout", no_argument,	NULL, 'U' },
		{ "peers",	 required_argument,	NULL, 'p' },
		{ "pool-idle",	 required_argument,	NULL, 'I' },
		{ "proxy",	 no_argument,		NULL, 'P' },
		{ "quiet",	 no_argument,		NULL, 'q' },
		{ "socket-mode", required_argument,	NULL, 'm' },
		{ "verbose",	 no_argument,		NULL, 'v' },
		{ "version",	 no_argument,		NULL, 'V' },
		{ "zds",	 required_argument,	NULL, 'z' },
		{ NULL,		 0,			NULL, 0 },
	};
	unsigned long	mode;
	uint64_t	ms;
	int		ch;

	const struct admin_surface *bad;

	memset(o, 0, sizeof(*o));
	admin_opts_init(&o->admin);
	o->ctl.mode = 0600;
	o->ctl.fd = -1;
	o->pxy.pool_idle_ms = HBONE_IDLE_MS;
	o->pxy.half_close_ms = RELAY_HALF_CLOSE_MS;
	o->pxy.sock = (struct podsock_opts){ KEEPALIVE_TIME_S,
	    KEEPALIVE_INTERVAL_S, KEEPALIVE_RETRIES, 1 };
	o->level = LOG_LEVEL_INFO;
	o->log_format = LOG_FORMAT_ZTUNNEL;
	o->drain_ms = -1;
	o->dns = -1;
	snprintf(o->dnsconf.domain, sizeof(o->dnsconf.domain), "%s",
	    DNSP_DOMAIN_DEFAULT);
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
			o->ctl.mode = (mode_t)mode;
			break;
		case 'P':
			o->proxy = 1;
			break;
		case 'p':
			o->peers = optarg;
			break;
		case 'I':
			if (parse_seconds_ms(optarg, 86400000,
			    &o->pxy.pool_idle_ms) == -1 ||
			    o->pxy.pool_idle_ms == 0) {
				log_warnx("bad --pool-idle %s: seconds, more "
				    "than 0, at most a day", optarg);
				return -1;
			}
			break;
		case 'A':
			o->admin.s[ADMIN_ADMIN].given = optarg;
			break;
		case 'H':
			if (parse_seconds_ms(optarg, 86400000,
			    &o->pxy.half_close_ms) == -1) {
				log_warnx("bad --half-close-timeout %s: seconds, "
				    "at most a day (0: never)", optarg);
				return -1;
			}
			break;
		case 'K':
			if (parse_keepalive(optarg, &o->pxy.sock) == -1) {
				log_warnx("bad --keepalive %s: TIME[,INTERVAL"
				    "[,RETRIES]], seconds and a count, each 1 "
				    "to 86400", optarg);
				return -1;
			}
			break;
		case 'k':
			o->pxy.sock.keepalive_time = 0;
			break;
		case 'D':
			if (parse_seconds_ms(optarg, 86400000, &ms) == -1) {
				log_warnx("bad --drain-deadline %s: seconds, at "
				    "most a day (0: close at once)", optarg);
				return -1;
			}
			o->drain_ms = (int64_t)ms;
			break;
		case 'O':
			o->handover = optarg;
			break;
		case 'L':
			if (log_format_parse(optarg, &o->log_format) == -1) {
				log_warnx("bad --log-format %s: ztunnel or short",
				    optarg);
				return -1;
			}
			break;
		case 'U':
			o->pxy.sock.user_timeout = 0;
			break;
		case 'M':
			o->admin.s[ADMIN_METRICS].given = optarg;
			break;
		case 'R':
			o->admin.s[ADMIN_READY].given = optarg;
			break;
		case 'q':
			o->level = LOG_LEVEL_WARN;
			break;
		case 'u':
			if (udsock_allow_add(&o->ctl.allow, optarg) == -1) {
				log_warnx("bad --allow-uid %s: %s", optarg,
				    errno == ENOSPC ? "at most 32" :
				    "no such user in /etc/passwd");
				return -1;
			}
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
		case 'n':
			o->dns = 1;
			break;
		case 'x':
			o->dns = 0;
			break;
		case 'N':
			if (o->dnsconf.nupstreams == DNSP_UPSTREAMS_MAX ||
			    dnsproxy_parse_upstream(optarg, &o->dnsconf.
			    upstreams[o->dnsconf.nupstreams]) == -1) {
				log_warnx("bad --dns-upstream %s: not ADDR[:PORT] "
				    "(IPv4), or more than %d", optarg,
				    DNSP_UPSTREAMS_MAX);
				return -1;
			}
			o->dnsconf.nupstreams++;
			break;
		case 'd':
			if (text_dns_domain(optarg, o->dnsconf.domain,
			    sizeof(o->dnsconf.domain)) == -1) {
				log_warnx("bad --dns-domain %s: not a domain "
				    "name", optarg);
				return -1;
			}
			break;
		default:
			return -1;
		}
	}
	if (o->dns == -1)
		o->dns = o->proxy;
	if (o->dns && !o->proxy) {
		log_warnx("--dns needs --proxy: the DNS proxy is part of "
		    "serving the pods' traffic");
		return -1;
	}
	if (admin_parse(&o->admin, &bad) == -1) {
		log_warnx("bad %s %s: not ADDR:PORT (an IPv4 address, [IPv6] or "
		    "localhost; ztunnel's is %s)", bad->flag, bad->given,
		    bad->ztunnel);
		return -1;
	}
	/* The control socket: the one given, else the default one unless
	 * ZDS alone brings the pods (--zds without a uds_path). */
	if (argc - optind > 1)
		return -1;
	if (argc - optind == 1)
		o->ctl.path = argv[optind];
	else if (o->zds_path == NULL) {
		o->ctl.path = WIRE_SOCK_PATH;
		o->ctl.make_dir = 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct options	o;
	int		status;

	log_init(argv[0], LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &o) == -1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	log_setlevel(o.level);
	log_setformat(o.log_format);

	setup(&o);
	/* Type=notify: ready once every socket is open. */
	if (notify_send("READY=1") == -1)
		log_warn("NOTIFY_SOCKET");
	if ((status = ev_run()) == -1)
		fatal("event loop");
	(void)notify_send("STOPPING=1");
	shutdown_all();
	return status;
}
