/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.c: is a pod whole (verify.h)?  Each facet is read from the pod
 * itself: the rules and routes by redirect.c, the listening sockets by
 * sock_diag from a netlink socket made inside the pod's namespace (ss's
 * own source), lo's flags by ioctl from a socket made there too; this
 * process never stays in the pod.  Whose the sockets are comes from the
 * process table, as ss -p finds it: each ztunnel-emulator's descriptors
 * name their socket inodes, and among them is its control socket, which
 * /proc/PID/net/unix gives the path of.
 */
#define LOG_TARGET "verify"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ambient.h"
#include "client.h"
#include "log.h"
#include "netns.h"
#include "redirect.h"
#include "text.h"
#include "util.h"
#include "verify.h"

#define ASK_MS		2000	/* a daemon's answer to --list --json */
#define TCP_LISTEN_STATE 10	/* include/net/tcp_states.h */
#define MAX_PER_PORT	4	/* sockets on one port (SO_REUSEPORT) */
#define EXIT_LOCAL	2
#define EXIT_NOT_WHOLE	5

static const uint16_t ports[3] = ZT_PORTS;

const char *
verify_facet_name(enum verify_facet f)
{
	static const char *const names[VERIFY_NFACETS] = { "rules",
	    "routing", "listeners", "loopback" };

	return names[f];
}

/* --- the process table: whose socket is it? ------------------------------ */

struct sockowner {
	uint64_t	ino;
	pid_t		pid;
};

struct zproc {
	pid_t	 pid;
	int	 asked;		/* its control socket looked for */
	char	*json;		/* its pods, or NULL: none found, no answer */
};

static struct {
	struct sockowner	*s;
	size_t			 n, cap;
	struct zproc		*p;
	size_t			 np, pcap;
	uint64_t		 read_ms;
	int			 valid;
} pt;

/* One of the arguments pid runs with is a ztunnel-emulator: the program
 * itself, or under valgrind or nsenter. */
static int
is_ztunnel(const char *pid)
{
	char	path[64], buf[4096], *arg, *slash;
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
		slash = strrchr(arg, '/');
		if (strcmp(slash != NULL ? slash + 1 : arg,
		    "ztunnel-emulator") == 0)
			return 1;
	}
	return 0;
}

static int
by_ino(const void *a, const void *b)
{
	const struct sockowner *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int
add_socket(uint64_t ino, pid_t pid)
{
	struct sockowner *s;

	if (pt.n == pt.cap) {
		size_t cap = pt.cap != 0 ? pt.cap * 2 : 1024;

		/* Not reallocarray(): gcc 12's -fanalyzer then loses
		 * track of the array and calls a later read a use after
		 * free. */
		if ((s = calloc(cap, sizeof(*s))) == NULL)
			return -1;
		if (pt.n > 0)
			memcpy(s, pt.s, pt.n * sizeof(*s));
		free(pt.s);
		pt.s = s;
		pt.cap = cap;
	}
	pt.s[pt.n++] = (struct sockowner){ ino, pid };
	return 0;
}

static int
add_proc(pid_t pid)
{
	struct zproc *p;

	if (pt.np == pt.pcap) {
		size_t cap = pt.pcap != 0 ? pt.pcap * 2 : 8;

		if ((p = calloc(cap, sizeof(*p))) == NULL)	/* as above */
			return -1;
		if (pt.np > 0)
			memcpy(p, pt.p, pt.np * sizeof(*p));
		free(pt.p);
		pt.p = p;
		pt.pcap = cap;
	}
	pt.p[pt.np++] = (struct zproc){ pid, 0, NULL };
	return 0;
}

/* The sockets of one process, from its descriptors. */
static int
read_fds(const char *pid)
{
	char		 path[300], link[64];
	struct dirent	*de;
	DIR		*d;
	ssize_t		 n;
	unsigned long long ino;
	int		 rc = 0;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	if ((d = opendir(path)) == NULL)
		return 0;	/* gone meanwhile, or not ours to read */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) == 1 &&
		    add_socket(ino, (pid_t)atol(pid)) == -1) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

void
verify_forget(void)
{
	size_t i;

	for (i = 0; i < pt.np; i++)
		free(pt.p[i].json);
	free(pt.p);
	free(pt.s);
	memset(&pt, 0, sizeof(pt));
}

/* Every ztunnel-emulator's sockets, sorted by inode; kept VERIFY_PROC_MS. */
static int
read_procs(void)
{
	struct dirent	*de;
	DIR		*d;

	if (pt.valid && monotonic_ms() - pt.read_ms < VERIFY_PROC_MS)
		return 0;
	verify_forget();
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    !is_ztunnel(de->d_name))
			continue;
		if (add_proc((pid_t)atol(de->d_name)) == -1 ||
		    read_fds(de->d_name) == -1) {
			closedir(d);
			verify_forget();
			errno = ENOMEM;
			return -1;
		}
	}
	closedir(d);
	if (pt.n > 0)
		qsort(pt.s, pt.n, sizeof(*pt.s), by_ino);
	pt.read_ms = monotonic_ms();
	pt.valid = 1;
	return 0;
}

static pid_t
owner_of(uint64_t ino)
{
	struct sockowner key = { ino, 0 }, *s;

	if (pt.n == 0)
		return 0;
	s = bsearch(&key, pt.s, pt.n, sizeof(*pt.s), by_ino);
	return s != NULL ? s->pid : 0;
}

/*
 * The pods of the ztunnel-emulator p, asked on its control socket: the
 * listening stream socket with a path among its own sockets, as its
 * namespace's /proc/PID/net/unix lists it (the handover socket is a
 * SOCK_SEQPACKET one; ZDS's is connected, not listening).
 */
static const char *
pods_of(struct zproc *p)
{
	char		 path[64], line[512], sockpath[256];
	unsigned long	 flags, type, state;
	unsigned long long ino;
	FILE		*f;

	if (p->asked)
		return p->json;
	p->asked = 1;
	snprintf(path, sizeof(path), "/proc/%ld/net/unix", (long)p->pid);
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	while (p->json == NULL && fgets(line, sizeof(line), f) != NULL) {
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %lx %lx %lx %llu %255s", &flags,
		    &type, &state, &ino, sockpath) != 5 ||
		    !(flags & 0x10000) || type != SOCK_STREAM ||
		    sockpath[0] != '/' || owner_of(ino) != p->pid)
			continue;
		p->json = client_fetch_json(sockpath, ASK_MS);
	}
	fclose(f);
	return p->json;
}

static struct zproc *
zproc_of(pid_t pid)
{
	size_t i;

	for (i = 0; i < pt.np; i++)
		if (pt.p[i].pid == pid)
			return &pt.p[i];
	return NULL;
}

/* The daemon's JSON names the namespace, and says it is up. */
static int
lists_up(const char *json, uint64_t netns)
{
	char pat[96];

	snprintf(pat, sizeof(pat), "\"state\": \"Up\", \"netns\": %" PRIu64
	    ",", netns);
	return strstr(json, pat) != NULL;
}

static int
lists(const char *json, uint64_t netns)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"netns\": %" PRIu64 ",", netns);
	return strstr(json, pat) != NULL;
}

/* --- the pod's own facts -------------------------------------------------- */

/* One family's listening TCP sockets on our ports, from the sock_diag
 * socket fd: their inodes added to ino.  -1 with errno set. */
static int
dump_listeners(int fd, int family, uint64_t ino[3][MAX_PER_PORT],
    int count[3])
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	} req;
	struct sockaddr_nl	 sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr		*h;
	struct inet_diag_msg	*m;
	union {
		struct nlmsghdr	h;
		char		b[16384];
	}			 buf;
	ssize_t			 n;
	int			 i;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = 1U << TCP_LISTEN_STATE;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) == -1)
		return -1;
	for (;;) {
		if ((n = recv(fd, &buf, sizeof(buf), 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		/* NLMSG_NEXT() by hand: its cast from char * upsets
		 * -Wcast-align, though every message is aligned. */
		for (h = &buf.h; n >= (ssize_t)sizeof(*h) &&
		    NLMSG_OK(h, (size_t)n);
		    n -= (ssize_t)NLMSG_ALIGN(h->nlmsg_len),
		    h = (struct nlmsghdr *)(void *)((char *)h +
		    NLMSG_ALIGN(h->nlmsg_len))) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				errno = EPROTO;
				return -1;
			}
			m = NLMSG_DATA(h);
			for (i = 0; i < 3; i++)
				if (ntohs(m->id.idiag_sport) == ports[i] &&
				    count[i] < MAX_PER_PORT)
					ino[i][count[i]++] = m->idiag_inode;
		}
	}
}

/* The inodes of the TCP sockets listening on our ports in nsfd: IPv6
 * ([::], as the daemon binds them with --proxy) and IPv4 (0.0.0.0 where
 * the kernel has no IPv6, and the seed's 127.0.0.1).  -1 with errno
 * set. */
static int
diag_listeners(int nsfd, uint64_t ino[3][MAX_PER_PORT], int count[3])
{
	int fd, err;

	memset(count, 0, 3 * sizeof(*count));
	if ((fd = netns_socket(nsfd, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return -1;
	if (dump_listeners(fd, AF_INET, ino, count) == -1 ||
	    dump_listeners(fd, AF_INET6, ino, count) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	return 0;
}

static int
loopback(int nsfd, int set_up, int *up)
{
	struct ifreq	ifr;
	int		s, err;

	if ((s = netns_socket(nsfd, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		goto fail;
	*up = (ifr.ifr_flags & IFF_UP) != 0;
	if (set_up && !*up) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1)
			goto fail;
	}
	close(s);
	return 0;
fail:
	err = errno;
	close(s);
	errno = err;
	return -1;
}

int
verify_loopback_up(int nsfd)
{
	int up;

	if (loopback(nsfd, 1, &up) == -1) {
		if (errno == ENOTRECOVERABLE)
			fatal("cannot return to our own network namespace");
		return -1;
	}
	return 0;
}

/* Each port listening, each held by a ztunnel-emulator that lists the
 * pod as up (or that has no control socket to ask). */
static void
check_listeners(const uint64_t ino[3][MAX_PER_PORT], const int count[3],
    struct verify_report *r)
{
	struct zproc	*p;
	const char	*json;
	char		*why = r->why[VERIFY_LISTENERS];
	size_t		 size = sizeof(r->why[VERIFY_LISTENERS]);
	pid_t		 pid, unlisted = 0;
	int		 i, k, good;

	r->ok[VERIFY_LISTENERS] = 0;
	for (i = 0; i < 3; i++) {
		if (count[i] == 0) {
			snprintf(why, size, "%u not listening", ports[i]);
			return;
		}
		for (good = 0, k = 0; k < count[i] && !good; k++) {
			if ((pid = owner_of(ino[i][k])) == 0 ||
			    (p = zproc_of(pid)) == NULL)
				continue;
			json = pods_of(p);
			if (json == NULL || lists_up(json, r->netns)) {
				good = 1;
				r->owner = (long)pid;
			} else
				unlisted = pid;
		}
		if (good)
			continue;
		if (unlisted != 0)
			snprintf(why, size, "%u held by ztunnel-emulator pid %ld, "
			    "which does not list the pod as up", ports[i],
			    (long)unlisted);
		else
			snprintf(why, size, "%u held by no live "
			    "ztunnel-emulator", ports[i]);
		return;
	}
	r->ok[VERIFY_LISTENERS] = 1;
}

int
verify_pod(int nsfd, int flags, struct verify_report *r, char *err,
    size_t errlen)
{
	struct redirect_check	 rc;
	struct stat		 st;
	uint64_t		 ino[3][MAX_PER_PORT];
	int			 count[3], up;

	memset(r, 0, sizeof(*r));
	if (fstat(nsfd, &st) == -1) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	r->netns = (uint64_t)st.st_ino;
	if (flags & VERIFY_NO_RULES)
		r->ok[VERIFY_RULES] = r->ok[VERIFY_ROUTING] = 1;
	else {
		if (redirect_check(nsfd, &rc, err, errlen) == -1)
			return -1;
		r->ok[VERIFY_RULES] = rc.rules;
		snprintf(r->why[VERIFY_RULES], VERIFY_WHY_MAX, "%s",
		    rc.rules_why);
		r->ok[VERIFY_ROUTING] = rc.routing;
		snprintf(r->why[VERIFY_ROUTING], VERIFY_WHY_MAX, "%s",
		    rc.routing_why);
	}
	if (read_procs() == -1 || diag_listeners(nsfd, ino, count) == -1) {
		if (errno == ENOTRECOVERABLE)
			fatal("cannot return to our own network namespace");
		snprintf(err, errlen, "listening sockets: %s", strerror(errno));
		return -1;
	}
	check_listeners((const uint64_t (*)[MAX_PER_PORT])ino, count, r);
	if (loopback(nsfd, 0, &up) == -1) {
		if (errno == ENOTRECOVERABLE)
			fatal("cannot return to our own network namespace");
		snprintf(err, errlen, "lo: %s", strerror(errno));
		return -1;
	}
	r->ok[VERIFY_LOOPBACK] = up;
	if (!up)
		snprintf(r->why[VERIFY_LOOPBACK], VERIFY_WHY_MAX, "lo is down");
	return 0;
}

int
verify_whole(const struct verify_report *r)
{
	int f;

	for (f = 0; f < VERIFY_NFACETS; f++)
		if (!r->ok[f])
			return 0;
	return 1;
}

/* --- the command ---------------------------------------------------------- */

struct run {
	int		 json;
	int		 named;		/* names given: check each */
	unsigned	 checked;
	int		 status;
	struct strbuf	 out;
};

/* Enrolled, when not named: any trace of ours in it, or a daemon of
 * ours that lists it. */
static int
enrolled(int nsfd, uint64_t netns)
{
	struct redirect_check	 rc;
	char			 err[256];
	const char		*json;
	size_t			 i;

	if (redirect_check(nsfd, &rc, err, sizeof(err)) == 0 && rc.any)
		return 1;
	for (i = 0; i < pt.np; i++)
		if ((json = pods_of(&pt.p[i])) != NULL && lists(json, netns))
			return 1;
	return 0;
}

static void
report(struct run *run, const char *name, const struct verify_report *r)
{
	char	esc[3 * 256];
	int	f, first = 1;

	if (run->json) {
		strbuf_printf(&run->out, "%s\n  {\"pod\": ", run->checked > 1 ?
		    "," : "");
		strbuf_json(&run->out, name);
		strbuf_printf(&run->out, ", \"netns\": %" PRIu64 ", \"whole\": "
		    "%s", r->netns, verify_whole(r) ? "true" : "false");
		for (f = 0; f < VERIFY_NFACETS; f++)
			strbuf_printf(&run->out, ", \"%s\": %s",
			    verify_facet_name(f), r->ok[f] ? "true" : "false");
		strbuf_printf(&run->out, ", \"reasons\": {");
		for (f = 0; f < VERIFY_NFACETS; f++) {
			if (r->ok[f])
				continue;
			strbuf_printf(&run->out, "%s\"%s\": ", first ? "" : ", ",
			    verify_facet_name(f));
			strbuf_json(&run->out, r->why[f]);
			first = 0;
		}
		strbuf_printf(&run->out, "}");
		if (r->owner != 0)
			strbuf_printf(&run->out, ", \"ztunnel\": %ld", r->owner);
		strbuf_printf(&run->out, "}");
		return;
	}
	text_escape(name, esc, sizeof(esc), TEXT_ESC_CONTROLS);
	if (verify_whole(r)) {
		printf("%s: whole (net:[%" PRIu64 "], ztunnel-emulator pid %ld)\n",
		    esc, r->netns, r->owner);
		return;
	}
	printf("%s: NOT WHOLE (net:[%" PRIu64 "]):", esc, r->netns);
	for (f = 0; f < VERIFY_NFACETS; f++) {
		if (r->ok[f])
			continue;
		printf("%s %s: %s", first ? "" : ";", verify_facet_name(f),
		    r->why[f]);
		first = 0;
	}
	printf("\n");
}

static int
one(const char *arg, void *arg_run)
{
	struct run		*run = arg_run;
	struct verify_report	 r;
	struct nsid		 id;
	char			 path[4096], err[256], esc[3 * 256];
	int			 fd;

	text_escape(arg, esc, sizeof(esc), TEXT_ESC_CONTROLS);
	if (netns_resolve(arg, path, sizeof(path)) == -1 ||
	    (fd = netns_open(path)) == -1) {
		if (run->named) {
			log_warnx("%s: %s", esc, strerror(errno));
			run->status = EXIT_LOCAL;
		}
		return 0;
	}
	if (netns_check(fd, &id) == -1) {
		if (run->named) {
			log_warnx("%s: not a network namespace", esc);
			run->status = EXIT_LOCAL;
		}
		close(fd);
		return 0;
	}
	if (!run->named && (read_procs() == -1 ||
	    !enrolled(fd, (uint64_t)id.ino))) {
		close(fd);
		return 0;
	}
	if (verify_pod(fd, 0, &r, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", esc, err);
		run->status = EXIT_LOCAL;
		close(fd);
		return 0;
	}
	close(fd);
	run->checked++;
	report(run, arg, &r);
	if (!verify_whole(&r) && run->status == 0)
		run->status = EXIT_NOT_WHOLE;
	return 0;
}

int
verify_command(char *const names[], int n, int json)
{
	struct run	run = { .json = json, .named = n > 0 };
	struct nsid	home;
	int		i;

	if (netns_home_init(&home) == -1) {
		log_warn("open /proc/thread-self/ns/net");
		return EXIT_LOCAL;
	}
	if (netns_enter_home() == -1) {
		log_warnx("setns: %s: looking inside a pod's namespace needs "
		    "CAP_SYS_ADMIN (run as root)", strerror(errno));
		netns_home_close();
		return EXIT_LOCAL;
	}
	for (i = 0; i < n; i++)
		(void)one(names[i], &run);
	if (n == 0 && netns_foreach(one, &run) == -1 && errno != ENOENT) {
		log_warn("%s", "/var/run/netns");
		run.status = EXIT_LOCAL;
	}
	if (run.out.failed) {
		log_warnx("out of memory");
		run.status = EXIT_LOCAL;
	} else if (json)
		printf("[%s%s]\n", run.out.buf != NULL ? run.out.buf : "",
		    run.checked > 0 ? "\n" : "");
	else if (run.checked == 0 && n == 0)
		printf("no enrolled pod under /var/run/netns\n");
	strbuf_free(&run.out);
	verify_forget();
	netns_home_close();
	return run.status;
}
