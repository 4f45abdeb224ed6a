/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.c: the node agent's side of ZDS (cni-emulator --zds-serve).  We
 * listen; each ztunnel that connects says hello, gets a snapshot (an Add
 * with a netns descriptor per pod, then SnapshotSent), and from then on an
 * Add or a Del whenever a namespace appears or goes (--watch).  One request
 * is in flight per ztunnel, each answered by an ack within the timeout, or
 * that ztunnel is disconnected.
 *
 * With --watch we follow /var/run/netns with inotify.  `ip netns add`
 * creates the file first and mounts the namespace on it after, and the
 * mount makes no inotify event: a new name is probed until it is a network
 * namespace (or given up on after the timeout), and only then sent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include "agent.h"
#include "fdpass.h"
#include "log.h"
#include "netns.h"
#include "udsock.h"
#include "util.h"
#include "zds.h"

#define PROBE_EVERY_MS	20	/* a new netns file: look again this often */
#define MAX_CONNS	64

enum src_kind { SRC_LISTEN, SRC_CONN, SRC_WATCH };

struct src {
	enum src_kind	kind;
};

/* A pod the agent knows: a network namespace, by name. */
struct pod {
	TAILQ_ENTRY(pod)	entry;
	char			name[ZDS_STR_MAX + 1];
	char			path[PATH_MAX];
	char			uid[ZDS_STR_MAX + 1];
	struct nsid		id;
	int			fd;		/* -1: still probing */
	uint64_t		probe_until;
	uint64_t		probe_next;
};

/* A request waiting to go to one ztunnel, with its own descriptor. */
struct req {
	TAILQ_ENTRY(req)	entry;
	struct zds_request	msg;
	char			label[ZDS_STR_MAX + 1];
	int			fd;
};

struct conn {
	struct src		src;
	TAILQ_ENTRY(conn)	entry;
	int			fd;
	pid_t			pid;
	int			hello;		/* received */
	uint64_t		deadline;	/* hello or ack due; 0: none */
	struct req	       *inflight;
	TAILQ_HEAD(reqlist, req) queue;
};

struct agent {
	const struct agent_opts	*o;
	int			 epfd;
	int			 lfd;
	ino_t			 lino;
	struct src		 lsrc;
	int			 wfd;		/* inotify, -1 without --watch */
	struct src		 wsrc;
	TAILQ_HEAD(podlist, pod) pods;
	TAILQ_HEAD(connlist, conn) conns;
	int			 nconns;
	/* Closed, but maybe named by an event later in this epoll batch:
	 * freed once the batch is done. */
	struct connlist		 dead;
	size_t			 nprobing;	/* pods waiting for their mount */
};

static volatile sig_atomic_t quit;

static void	conn_close(struct agent *, struct conn *, const char *);
static void	conn_pump(struct agent *, struct conn *);

static void
on_signal(int sig)
{
	quit = sig;
}

static int
watch_ptr(struct agent *a, int fd, struct src *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* --- the pods ------------------------------------------------------------ */

static struct pod *
pod_find(struct agent *a, const char *name)
{
	struct pod *p;

	/*
	 * The clang analyzer does not follow TAILQ_REMOVE's update of the
	 * list through tqe_prev, and so believes a pod freed by pod_gone()
	 * is still listed here.  pod_gone() unlinks before it frees.
	 */
	/* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
	TAILQ_FOREACH(p, &a->pods, entry)
		if (strcmp(p->name, name) == 0)
			return p;
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
	return NULL;
}

/* Open the namespace if it is one yet.  1: ready, 0: not yet, -1: never. */
static int
pod_probe(struct pod *p)
{
	int fd;

	if ((fd = netns_open(p->path)) == -1)
		return errno == ENOENT ? -1 : 0;
	if (netns_check(fd, &p->id) == -1) {
		close(fd);
		return 0;	/* the file exists, the mount is not there yet */
	}
	p->fd = fd;
	/* Stable for the namespace's life, unique among the living. */
	snprintf(p->uid, sizeof(p->uid), "netns-%ju", (uintmax_t)p->id.ino);
	return 1;
}

static struct req *
req_new(enum zds_req_type type, const struct pod *p, const char *k8s_ns)
{
	struct req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fd = -1;
	r->msg.type = type;
	if (p == NULL)
		return r;
	snprintf(r->label, sizeof(r->label), "%s", p->name);
	snprintf(r->msg.uid, sizeof(r->msg.uid), "%s", p->uid);
	if (type == ZDS_ADD) {
		r->msg.has_info = 1;
		snprintf(r->msg.info.name, sizeof(r->msg.info.name), "%s",
		    p->name);
		snprintf(r->msg.info.namespace, sizeof(r->msg.info.namespace),
		    "%s", k8s_ns);
		snprintf(r->msg.info.service_account,
		    sizeof(r->msg.info.service_account), "default");
		/* Our own copy: the pod may go before this is sent. */
		if ((r->fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			free(r);
			return NULL;
		}
	}
	return r;
}

static void
req_free(struct req *r)
{
	if (r->fd != -1)
		close(r->fd);
	free(r);
}

static void
queue(struct agent *a, struct conn *c, enum zds_req_type type,
    const struct pod *p)
{
	struct req *r;

	if ((r = req_new(type, p, a->o->k8s_namespace)) == NULL) {
		log_warn("zds: %s %s", zds_type_name(type),
		    p != NULL ? p->name : "");
		return;
	}
	TAILQ_INSERT_TAIL(&c->queue, r, entry);
}

/*
 * gcc 12's -fanalyzer loses track of a request once TAILQ_INSERT_TAIL has
 * linked it into c->queue through tqh_last, and calls it leaked; it is
 * not (conn_pump or conn_close takes it from there).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

/* Tell every ztunnel that has had its snapshot. */
static void
announce(struct agent *a, enum zds_req_type type, const struct pod *p)
{
	struct conn *c, *next;

	/* conn_pump() may close c, which moves it to the dead list: take
	 * the next one first (found by gcc -fanalyzer). */
	for (c = TAILQ_FIRST(&a->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!c->hello)
			continue;	/* its snapshot will include it */
		queue(a, c, type, p);
		conn_pump(a, c);
	}
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void
pod_appear(struct agent *a, const char *name, const char *path)
{
	struct pod	*p;
	uint64_t	 now = monotonic_ms();

	if (pod_find(a, name) != NULL)
		return;
	if (strlen(name) > ZDS_STR_MAX) {
		log_warnx("zds: %s: name longer than %d bytes, skipped", path,
		    ZDS_STR_MAX);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("zds: %s", name);
		return;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->fd = -1;
	p->probe_until = now + a->o->timeout_ms;
	p->probe_next = now;
	TAILQ_INSERT_TAIL(&a->pods, p, entry);
	a->nprobing++;
}

static void
pod_gone(struct agent *a, struct pod *p)
{
	if (p->fd != -1) {
		log_info("zds: %s (uid %s) is gone", p->name, p->uid);
		announce(a, ZDS_DEL, p);
		close(p->fd);
	} else {
		a->nprobing--;	/* gone before it was ever a netns */
	}
	TAILQ_REMOVE(&a->pods, p, entry);
	free(p);
}

/* Probe the namespaces still waiting for their mount. */
static void
pods_probe(struct agent *a, uint64_t now)
{
	struct pod	*p, *next;
	int		 rc;

	/* Nearly always nothing waits: then there is nothing to scan. */
	for (p = TAILQ_FIRST(&a->pods); p != NULL && a->nprobing > 0; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->fd != -1 || p->probe_next > now)
			continue;
		if ((rc = pod_probe(p)) == 1) {
			a->nprobing--;
			log_info("zds: %s is netns net:[%ju], uid %s", p->name,
			    (uintmax_t)p->id.ino, p->uid);
			announce(a, ZDS_ADD, p);
		} else if (rc == -1 || now >= p->probe_until) {
			a->nprobing--;
			log_warnx("zds: %s: not a network namespace%s",
			    p->path, rc == -1 ? " (gone)" : "; giving up");
			TAILQ_REMOVE(&a->pods, p, entry);
			free(p);
		} else {
			p->probe_next = now + PROBE_EVERY_MS;
		}
	}
}

/* Add what is in the directory and missing; forget what is gone. */
static void
scan_dir(struct agent *a)
{
	char		 path[PATH_MAX];
	struct dirent	*de;
	struct pod	*p, *next;
	struct stat	 st;
	DIR		*d;
	int		 fd;

	fd = open(NETNS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("zds: %s", NETNS_RUN_DIR);
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, de->d_name);
		pod_appear(a, de->d_name, path);
	}
	closedir(d);
	for (p = TAILQ_FIRST(&a->pods); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (strncmp(p->path, NETNS_RUN_DIR "/",
		    sizeof(NETNS_RUN_DIR)) == 0 && lstat(p->path, &st) == -1)
			pod_gone(a, p);
	}
}

static void
watch_event(struct agent *a)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	char				 path[PATH_MAX];
	struct pod			*p;
	ssize_t				 n, off;

	while ((n = read(a->wfd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n;
		    off += (ssize_t)sizeof(*ev) + (ssize_t)ev->len) {
			ev = (const struct inotify_event *)(void *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW) {
				scan_dir(a);	/* events lost: look again */
				continue;
			}
			if (ev->len == 0 || ev->name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR,
			    ev->name);
			if (ev->mask & (IN_CREATE | IN_MOVED_TO))
				pod_appear(a, ev->name, path);
			else if ((p = pod_find(a, ev->name)) != NULL)
				pod_gone(a, p);
		}
	}
	pods_probe(a, monotonic_ms());
}

/* --- connections --------------------------------------------------------- */

static void
conn_accept(struct agent *a)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	struct conn	*c;
	int		 fd;

	fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != ECONNABORTED)
			log_warn("zds: accept");
		return;
	}
	if (a->nconns >= MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("zds: too many ztunnels connected, refusing one");
		close(fd);
		return;
	}
	c->src.kind = SRC_CONN;
	c->fd = fd;
	c->pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ?
	    cred.pid : 0;
	c->deadline = monotonic_ms() + a->o->timeout_ms;
	TAILQ_INIT(&c->queue);
	if (watch_ptr(a, fd, &c->src) == -1) {
		log_warn("zds: epoll_ctl");
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&a->conns, c, entry);
	a->nconns++;
	log_info("zds: ztunnel pid %ld connected, waiting for its hello",
	    (long)c->pid);
}

static void
conn_close(struct agent *a, struct conn *c, const char *why)
{
	struct req *r;

	if (c->fd == -1)
		return;
	if (why != NULL)
		log_warnx("zds: ztunnel pid %ld: %s; disconnecting",
		    (long)c->pid, why);
	close(c->fd);
	c->fd = -1;
	if (c->inflight != NULL)
		req_free(c->inflight);
	c->inflight = NULL;
	while ((r = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, r, entry);
		req_free(r);
	}
	TAILQ_REMOVE(&a->conns, c, entry);
	a->nconns--;
	TAILQ_INSERT_TAIL(&a->dead, c, entry);
}

/* Send the next request if none is waiting for its ack. */
static void
conn_pump(struct agent *a, struct conn *c)
{
	uint8_t		 buf[ZDS_MSG_MAX];
	struct req	*r;
	ssize_t		 n;

	if (c->inflight != NULL || (r = TAILQ_FIRST(&c->queue)) == NULL)
		return;
	TAILQ_REMOVE(&c->queue, r, entry);
	c->inflight = r;
	if ((n = zds_encode_request(buf, sizeof(buf), &r->msg)) == -1) {
		conn_close(a, c, "cannot encode a request");
		return;
	}
	if (fdpass_send(c->fd, buf, (size_t)n, r->fd) != n) {
		conn_close(a, c, "send failed");
		return;
	}
	c->deadline = monotonic_ms() + a->o->timeout_ms;
	log_debug("zds: ztunnel pid %ld: sent %s %s", (long)c->pid,
	    zds_type_name(r->msg.type), r->msg.uid);
}

static void
snapshot(struct agent *a, struct conn *c)
{
	struct pod	*p;
	size_t		 n = 0;

	TAILQ_FOREACH(p, &a->pods, entry) {
		if (p->fd == -1)
			continue;
		queue(a, c, ZDS_ADD, p);
		n++;
	}
	queue(a, c, ZDS_SNAPSHOT_SENT, NULL);
	log_info("zds: ztunnel pid %ld: hello; sending a snapshot of %zu pods",
	    (long)c->pid, n);
	conn_pump(a, c);
}

static void
conn_event(struct agent *a, struct conn *c)
{
	uint8_t		 buf[ZDS_MSG_MAX];
	char		 error[512];
	const char	*why;
	struct req	*r;
	uint32_t	 version;
	ssize_t		 n;
	int		 fd;

	if (c->fd == -1)
		return;		/* closed earlier in this batch */
	n = fdpass_recv(c->fd, buf, sizeof(buf), &fd);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1) {
		conn_close(a, c, fdpass_strerror(errno));
		return;
	}
	if (n == 0) {
		log_info("zds: ztunnel pid %ld disconnected", (long)c->pid);
		conn_close(a, c, NULL);
		return;
	}
	if (fd != -1) {
		close(fd);
		conn_close(a, c, "it sent a descriptor");
		return;
	}
	if (!c->hello) {
		if (zds_decode_hello(buf, (size_t)n, &version, &why) == -1) {
			conn_close(a, c, why);
			return;
		}
		if (version != ZDS_VERSION_V1)
			log_warnx("zds: ztunnel pid %ld: hello version %u, "
			    "expected %u", (long)c->pid, version,
			    ZDS_VERSION_V1);
		c->hello = 1;
		c->deadline = 0;
		snapshot(a, c);
		return;
	}
	if ((r = c->inflight) == NULL) {
		conn_close(a, c, "an ack for no request");
		return;
	}
	if (zds_decode_ack(buf, (size_t)n, error, sizeof(error), &why) == -1) {
		conn_close(a, c, why);
		return;
	}
	/* Every error is printed: it is what the user came to see. */
	if (error[0] != '\0')
		log_warnx("zds: %s %s (uid %s): ztunnel: %s",
		    zds_type_name(r->msg.type), r->label, r->msg.uid, error);
	else if (r->msg.type == ZDS_SNAPSHOT_SENT)
		log_info("zds: ztunnel pid %ld: snapshot acknowledged",
		    (long)c->pid);
	else
		log_info("zds: %s %s (uid %s): ok", zds_type_name(r->msg.type),
		    r->label, r->msg.uid);
	c->inflight = NULL;
	c->deadline = 0;
	req_free(r);
	conn_pump(a, c);
}

/* --- the loop ------------------------------------------------------------ */

static int
next_timeout(struct agent *a)
{
	uint64_t	 now = monotonic_ms(), t = UINT64_MAX;
	struct conn	*c;
	struct pod	*p;

	TAILQ_FOREACH(c, &a->conns, entry)
		if ((c->hello == 0 || c->inflight != NULL) && c->deadline < t)
			t = c->deadline;
	if (a->nprobing > 0)
		TAILQ_FOREACH(p, &a->pods, entry)
			if (p->fd == -1 && p->probe_next < t)
				t = p->probe_next;
	if (t == UINT64_MAX)
		return -1;
	return ms_until(t, now);
}

static void
expire(struct agent *a, uint64_t now)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&a->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if ((!c->hello || c->inflight != NULL) && c->deadline <= now)
			conn_close(a, c, !c->hello ? "no hello in time" :
			    "no ack in time");
	}
	pods_probe(a, now);
}

static void
setup(struct agent *a, int nargs, char **args)
{
	char	path[PATH_MAX], name[NAME_MAX + 1];
	int	i;

	if ((a->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	for (i = 0; i < nargs; i++) {
		if (netns_resolve(args[i], path, sizeof(path)) == -1)
			fatalx("bad netns %s", args[i]);
		pod_appear(a, cni_default_name(args[i], path, name,
		    sizeof(name)), path);
	}
	if (a->o->watch) {
		/* ip netns creates it too; it must exist to be watched. */
		if (mkdir(NETNS_RUN_DIR, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", NETNS_RUN_DIR);
		a->wfd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (a->wfd == -1 || inotify_add_watch(a->wfd, NETNS_RUN_DIR,
		    IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
		    IN_ONLYDIR) == -1)
			fatal("inotify %s", NETNS_RUN_DIR);
		a->wsrc.kind = SRC_WATCH;
		if (watch_ptr(a, a->wfd, &a->wsrc) == -1)
			fatal("epoll_ctl");
		scan_dir(a);
	}
	/* Probe now: the snapshot should not wait for a timer. */
	pods_probe(a, monotonic_ms());

	a->lfd = udsock_listen(a->o->path, SOCK_SEQPACKET, 0600, &a->lino);
	if (a->lfd == -1) {
		if (errno == EADDRINUSE)
			fatalx("%s: already in use by a running agent",
			    a->o->path);
		if (errno == EEXIST)
			fatalx("%s: exists and is not a socket; refusing to "
			    "replace it", a->o->path);
		fatal("listen on %s", a->o->path);
	}
	a->lsrc.kind = SRC_LISTEN;
	if (watch_ptr(a, a->lfd, &a->lsrc) == -1)
		fatal("epoll_ctl");
	log_info("zds: serving on %s (SOCK_SEQPACKET), %s", a->o->path,
	    a->o->watch ? "watching " NETNS_RUN_DIR : "a fixed set of pods");
}

int
agent_run(const struct agent_opts *o, int nargs, char **args)
{
	struct epoll_event	 evs[32];
	struct sigaction	 sa;
	struct agent		 a;
	struct conn		*c;
	struct pod		*next;
	struct src		*src;
	sigset_t		 block, waitmask;
	struct pod		*p;
	int			 i, n;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.wfd = -1;
	TAILQ_INIT(&a.pods);
	TAILQ_INIT(&a.conns);
	TAILQ_INIT(&a.dead);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction");
	sa.sa_handler = on_signal;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigprocmask(SIG_BLOCK, &block, &waitmask) == -1)
		fatal("signals");
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);

	setup(&a, nargs, args);
	while (!quit) {
		n = epoll_pwait(a.epfd, evs, 32, next_timeout(&a), &waitmask);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			src = evs[i].data.ptr;
			if (src->kind == SRC_LISTEN)
				conn_accept(&a);
			else if (src->kind == SRC_WATCH)
				watch_event(&a);
			else	/* src is the first member of its conn */
				conn_event(&a, (struct conn *)(void *)src);
		}
		expire(&a, monotonic_ms());
		while ((c = TAILQ_FIRST(&a.dead)) != NULL) {
			TAILQ_REMOVE(&a.dead, c, entry);
			free(c);
		}
	}

	log_info("zds: %s: shutting down", strsignal(quit));
	while (!TAILQ_EMPTY(&a.conns))
		conn_close(&a, TAILQ_FIRST(&a.conns), NULL);
	while ((c = TAILQ_FIRST(&a.dead)) != NULL) {
		TAILQ_REMOVE(&a.dead, c, entry);
		free(c);
	}
	/* Everything goes: no need to unlink one by one. */
	for (p = TAILQ_FIRST(&a.pods); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->fd != -1)
			close(p->fd);
		free(p);
	}
	close(a.lfd);
	if (udsock_unlink(o->path, a.lino) == -1)
		log_warn("unlink %s", o->path);
	if (a.wfd != -1)
		close(a.wfd);
	close(a.epfd);
	return 0;
}
