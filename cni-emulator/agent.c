/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.c: the node agent's side of ZDS (cni-emulator --zds-serve).  We
 * listen; each ztunnel that connects says hello, gets a snapshot (an Add
 * with a netns descriptor per pod, then SnapshotSent), and from then on a
 * Del whenever a pod goes; an Add, when one appears, goes to the newest
 * ztunnel only, as istio-cni's does (two run side by side during an
 * upgrade, and the old one is leaving).  One request is in flight
 * per ztunnel, each answered by an ack within the timeout, or that ztunnel
 * is disconnected.
 *
 * A snapshot is all or nothing: ztunnel removes every pod a snapshot
 * leaves out.  SnapshotSent follows only once every known pod's Add was
 * sent and acknowledged; if one cannot be (a namespace we have no
 * descriptor for, no memory), that ztunnel is disconnected without it,
 * keeps its pods as they are, and comes back later.
 *
 * Queued requests name their pod (by reference), not a copy of its
 * descriptor: one descriptor per pod, however many ztunnels wait.
 *
 * --redirect: a pod's rules go in before any ztunnel hears of it, and
 * come out only once every ztunnel has acknowledged its Del (or gone):
 * ztunnel closes the pod's connections while the rules still carry
 * their last packets, so the apps see each FIN.
 */
#define LOG_TARGET "zds"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "agent.h"
#include "ev.h"
#include "fdpass.h"
#include "log.h"
#include "redirect.h"
#include "udsock.h"
#include "util.h"
#include "zds.h"

#define MAX_CONNS	64

/*
 * gcc 12's -fanalyzer loses track of a request once TAILQ_INSERT_TAIL has
 * linked it into a connection's queue through tqh_last, and then calls
 * every later step leaked; none is (conn_pump or conn_close frees each
 * request exactly once).  clang's analyzer, which follows the lists,
 * stays on for this file.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

/* A pod leaving the mesh with --redirect: its rules wait for the Dels. */
struct unenrol {
	int		 fd;		/* the pod's namespace, our own copy */
	unsigned	 waiting;	/* Dels not acknowledged yet */
	char		 name[ZDS_STR_MAX + 1];
};

/* A request waiting to go to one ztunnel. */
struct req {
	TAILQ_ENTRY(req)	 entry;
	enum zds_req_type	 type;
	struct nspod		*pod;	/* referenced; NULL for SnapshotSent */
	struct unenrol		*un;	/* a Del's rules to remove after it */
};

TAILQ_HEAD(reqlist, req);

struct conn {
	struct ev_io		 io;		/* io.fd -1: closed */
	struct ev_timer		 deadline;	/* hello or ack due */
	struct ev_deferred	 dead;
	TAILQ_ENTRY(conn)	 entry;
	pid_t			 pid;
	int			 hello;		/* received */
	int			 synced;	/* its snapshot acknowledged */
	struct req		*inflight;
	struct reqlist		 queue;
};

TAILQ_HEAD(connlist, conn);

static struct {
	struct agent_opts	 o;
	struct ev_io		 io;
	ino_t			 ino;
	struct connlist		 conns;
	int			 nconns;
} ag = { .io = { .fd = -1 } };

static void	accept_conn(void *, uint32_t);
static void	conn_event(void *, uint32_t);
static void	conn_expire(void *);
static void	conn_close(struct conn *, const char *why);
static void	conn_pump(struct conn *);

int
agent_start(const struct agent_opts *o)
{
	int fd;

	ag.o = *o;
	TAILQ_INIT(&ag.conns);
	if ((fd = udsock_listen(o->path, SOCK_SEQPACKET, 0600, &ag.ino)) == -1)
		return -1;
	if (ev_io_add(&ag.io, fd, EPOLLIN, accept_conn, NULL) == -1) {
		close(fd);
		(void)udsock_unlink(o->path, ag.ino);
		return -1;
	}
	return 0;
}

void
agent_stop(void)
{
	while (!TAILQ_EMPTY(&ag.conns))
		conn_close(TAILQ_FIRST(&ag.conns), NULL);
	if (ag.io.fd == -1)
		return;
	ev_io_close(&ag.io);
	if (udsock_unlink(ag.o.path, ag.ino) == -1)
		log_warn("unlink %s", ag.o.path);
}

/* --- requests ------------------------------------------------------------ */

static int
queue(struct conn *c, enum zds_req_type type, struct nspod *pod,
    struct unenrol *un)
{
	struct req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->type = type;
	if ((r->pod = pod) != NULL)
		nspod_ref(pod);
	if ((r->un = un) != NULL)
		un->waiting++;
	TAILQ_INSERT_TAIL(&c->queue, r, entry);
	return 0;
}

/* Every ztunnel has let the pod go: now its rules. */
static void
unenrol_done(struct unenrol *un)
{
	char err[512];

	if (redirect_remove(un->fd, err, sizeof(err)) == -1)
		log_warnx("%s: removing in-pod rules: %s", un->name, err);
	else
		log_info("%s: in-pod rules removed", un->name);
	close(un->fd);
	free(un);
}

/* Acknowledged, or its ztunnel gone: either way, done with. */
static void
req_free(struct req *r)
{
	if (r->pod != NULL)
		nspod_unref(r->pod);
	if (r->un != NULL && --r->un->waiting == 0)
		unenrol_done(r->un);
	free(r);
}

static void
make_request(const struct req *r, struct zds_request *m)
{
	memset(m, 0, sizeof(*m));
	m->type = r->type;
	if (r->pod == NULL)
		return;
	snprintf(m->uid, sizeof(m->uid), "%s", r->pod->uid);
	if (r->type != ZDS_ADD)
		return;
	m->has_info = 1;
	snprintf(m->info.name, sizeof(m->info.name), "%s", r->pod->name);
	snprintf(m->info.namespace, sizeof(m->info.namespace), "%s",
	    ag.o.k8s_namespace);
	snprintf(m->info.service_account, sizeof(m->info.service_account),
	    "default");
}

/* Send the next request if none is waiting for its ack. */
static void
conn_pump(struct conn *c)
{
	struct zds_request	 m;
	uint8_t			 buf[ZDS_MSG_MAX];
	struct req		*r;
	ssize_t			 n;

	while (c->inflight == NULL && (r = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, r, entry);
		/* Gone before its turn: not in the snapshot, since it is
		 * not there; the Del queued behind it says the rest. */
		if (r->type == ZDS_ADD && r->pod->fd == -1) {
			req_free(r);
			continue;
		}
		c->inflight = r;
		make_request(r, &m);
		if ((n = zds_encode_request(buf, sizeof(buf), &m)) == -1) {
			conn_close(c, "cannot encode a request");
			return;
		}
		if (fdpass_send(c->io.fd, buf, (size_t)n,
		    r->type == ZDS_ADD ? r->pod->fd : -1) != n) {
			conn_close(c, "send failed");
			return;
		}
		ev_timer_at(&c->deadline, monotonic_ms() + ag.o.timeout_ms);
		log_debug("ztunnel pid %ld: sent %s %s", (long)c->pid,
		    zds_type_name(m.type), m.uid);
	}
}

/*
 * Queue the whole snapshot, or nothing: a partial one would make ztunnel
 * remove the pods it leaves out.
 */
static void
snapshot(struct conn *c)
{
	struct nspod	*pod;
	unsigned	 unresolved;
	size_t		 n = 0;
	int		 err;

	if ((unresolved = nswatch_unresolved(&err)) > 0) {
		log_warnx("ztunnel pid %ld: no snapshot: %u namespaces "
		    "cannot be opened now (%s); disconnecting, it will come "
		    "back", (long)c->pid, unresolved, strerror(err));
		conn_close(c, NULL);
		return;
	}
	for (pod = nswatch_first(); pod != NULL; pod = nswatch_next(pod), n++)
		if (queue(c, ZDS_ADD, pod, NULL) == -1)
			break;
	if (pod != NULL || queue(c, ZDS_SNAPSHOT_SENT, NULL, NULL) == -1) {
		log_warnx("ztunnel pid %ld: no snapshot: out of memory; "
		    "disconnecting, it will come back", (long)c->pid);
		conn_close(c, NULL);
		return;
	}
	log_info("ztunnel pid %ld: hello; sending a snapshot of %zu pods",
	    (long)c->pid, n);
	conn_pump(c);
}

/*
 * --redirect: the pod's in-pod rules in before ztunnel hears of it.  A
 * pod whose rules failed is announced all the same: it is served, but
 * its traffic is not captured, and the log says why.
 */
static void
redirect_in(const struct nspod *pod)
{
	char	err[512];
	int	v6;

	if ((v6 = redirect_install(pod->fd, err, sizeof(err))) == -1)
		log_warnx("%s: in-pod rules: %s; nothing installed",
		    pod->name, err);
	else
		log_info("%s: in-pod rules installed (%s)", pod->name, v6 ?
		    "IPv4 and IPv6" : "IPv4 only: no IPv6 on the pod's lo");
}

/* --redirect: the rules come out after the Dels (see the top); our own
 * copy of the namespace keeps it for them.  NULL: at once, or never. */
static struct unenrol *
redirect_out(const struct nspod *pod)
{
	struct unenrol *un;

	if ((un = calloc(1, sizeof(*un))) == NULL ||
	    (un->fd = fcntl(pod->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: keeping the namespace to remove its rules "
		    "after the Del; removing them now", pod->name);
		free(un);
		un = NULL;
	} else {
		snprintf(un->name, sizeof(un->name), "%s", pod->name);
		un->waiting = 1;	/* ours, while the Dels are queued */
	}
	return un;
}

void
agent_ns_changed(enum nswatch_change change, struct nspod *pod, void *arg)
{
	enum zds_req_type	 type;
	struct unenrol		*un = NULL;
	struct conn		*c, *next;
	char			 err[512];

	(void)arg;
	type = change == NSWATCH_APPEARED ? ZDS_ADD : ZDS_DEL;
	if (ag.o.redirect && change == NSWATCH_APPEARED)
		redirect_in(pod);
	if (ag.o.redirect && change == NSWATCH_GONE &&
	    (un = redirect_out(pod)) == NULL &&
	    redirect_remove(pod->fd, err, sizeof(err)) == -1)
		log_warnx("%s: removing in-pod rules: %s", pod->name, err);
	/*
	 * As istio-cni's connection manager: an Add goes to the newest
	 * ztunnel only (during an upgrade the older one is on its way out;
	 * if the newest has not said hello yet, its snapshot carries the
	 * pod), a Del to every one of them.  conn_pump() may close c: take
	 * the next one first.
	 */
	for (c = TAILQ_FIRST(&ag.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!c->hello)
			continue;	/* its snapshot will include it */
		if (type == ZDS_ADD && c != TAILQ_LAST(&ag.conns, connlist))
			continue;	/* not the newest */
		/* A ztunnel we cannot keep up to date is one that would go
		 * wrong quietly: better it reconnects. */
		if (queue(c, type, pod, un) == -1) {
			conn_close(c, "out of memory queueing a request");
			continue;
		}
		conn_pump(c);
	}
	/* No ztunnel to wait for (or none left): the rules go now. */
	if (un != NULL && --un->waiting == 0)
		unenrol_done(un);
}

/* --- connections --------------------------------------------------------- */

static void
accept_conn(void *arg, uint32_t events)
{
	struct ucred	 cred;
	struct conn	*c;
	int		 fd, allowed;

	(void)arg;
	(void)events;
	if ((fd = ev_accept(ag.io.fd, NULL)) == -1) {
		if (errno == EMFILE)
			log_warnx("out of file descriptors: refused a "
			    "ztunnel");
		else if (errno != EAGAIN)
			log_warn("accept");
		return;
	}
	/* It is about to be handed every pod's namespace. */
	if ((allowed = udsock_peer_allowed(fd, &ag.o.allow, &cred)) != 1) {
		if (allowed == -1)
			log_warn("SO_PEERCRED");
		else
			log_warnx("refused ztunnel pid %ld: uid %ld is not "
			    "root, us, or --allow-uid", (long)cred.pid,
			    (long)cred.uid);
		close(fd);
		return;
	}
	if (ag.nconns >= MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("too many ztunnels connected, refusing one");
		close(fd);
		return;
	}
	c->pid = cred.pid;
	TAILQ_INIT(&c->queue);
	if (ev_io_add(&c->io, fd, EPOLLIN, conn_event, c) == -1) {
		log_warn("epoll_ctl");
		close(fd);
		free(c);
		return;
	}
	ev_timer_init(&c->deadline, conn_expire, c);
	ev_timer_at(&c->deadline, monotonic_ms() + ag.o.timeout_ms);
	TAILQ_INSERT_TAIL(&ag.conns, c, entry);
	ag.nconns++;
	log_info("ztunnel pid %ld connected, waiting for its hello",
	    (long)c->pid);
}

static void
conn_free(void *arg)
{
	free(arg);
}

static void
conn_close(struct conn *c, const char *why)
{
	struct req *r;

	if (c->io.fd == -1)
		return;
	if (why != NULL)
		log_warnx("ztunnel pid %ld: %s; disconnecting",
		    (long)c->pid, why);
	ev_io_close(&c->io);
	ev_timer_stop(&c->deadline);
	if (c->inflight != NULL)
		req_free(c->inflight);
	c->inflight = NULL;
	while ((r = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, r, entry);
		req_free(r);
	}
	TAILQ_REMOVE(&ag.conns, c, entry);
	ag.nconns--;
	ev_defer_free(&c->dead, conn_free, c);
}

static void
conn_expire(void *arg)
{
	struct conn *c = arg;

	conn_close(c, !c->hello ? "no hello in time" : "no ack in time");
}

static void
got_hello(struct conn *c, const uint8_t *buf, size_t len)
{
	const char	*why;
	uint32_t	 version;

	if (zds_decode_hello(buf, len, &version, &why) == -1) {
		conn_close(c, why);
		return;
	}
	if (version != ZDS_VERSION_V1)
		log_warnx("ztunnel pid %ld: hello version %u, expected %u",
		    (long)c->pid, version, ZDS_VERSION_V1);
	c->hello = 1;
	ev_timer_stop(&c->deadline);
	snapshot(c);
}

static void
got_ack(struct conn *c, const uint8_t *buf, size_t len)
{
	struct zds_request	 m;
	char			 error[512];
	const char		*why;
	struct req		*r;

	if ((r = c->inflight) == NULL) {
		conn_close(c, "an ack for no request");
		return;
	}
	if (zds_decode_ack(buf, len, error, sizeof(error), &why) == -1) {
		conn_close(c, why);
		return;
	}
	make_request(r, &m);
	/* Every error is printed: it is what the user came to see. */
	if (error[0] != '\0')
		log_warnx("%s %s (uid %s): ztunnel: %s",
		    zds_type_name(r->type), r->pod->name, m.uid, error);
	else if (r->type == ZDS_SNAPSHOT_SENT) {
		log_info("ztunnel pid %ld: snapshot acknowledged",
		    (long)c->pid);
		c->synced = 1;
	}
	else
		log_info("%s %s (uid %s): ok", zds_type_name(r->type),
		    r->pod->name, m.uid);
	c->inflight = NULL;
	ev_timer_stop(&c->deadline);
	req_free(r);
	conn_pump(c);
}

static void
conn_event(void *arg, uint32_t events)
{
	struct conn	*c = arg;
	uint8_t		 buf[ZDS_MSG_MAX];
	ssize_t		 n;
	int		 fd;

	(void)events;
	n = fdpass_recv(c->io.fd, buf, sizeof(buf), &fd);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1) {
		conn_close(c, fdpass_strerror(errno));
		return;
	}
	/* Whatever came with it, ztunnel never sends us a descriptor;
	 * an empty datagram with one is no hang-up either. */
	if (fd != -1) {
		close(fd);
		conn_close(c, "it sent a descriptor");
		return;
	}
	if (n == 0) {
		log_info("ztunnel pid %ld disconnected", (long)c->pid);
		conn_close(c, NULL);
		return;
	}
	if (!c->hello)
		got_hello(c, buf, (size_t)n);
	else
		got_ack(c, buf, (size_t)n);
}

/* --- for the reconcile ---------------------------------------------------- */

unsigned
agent_connected(void)
{
	struct conn	*c;
	unsigned	 n = 0;

	TAILQ_FOREACH(c, &ag.conns, entry)
		n += c->hello;
	return n;
}

int
agent_synced(void)
{
	struct conn *c;

	/* The newest one, which new pods go to, has every pod we know,
	 * and no request of ours waits for its answer. */
	for (c = TAILQ_LAST(&ag.conns, connlist); c != NULL;
	    c = TAILQ_PREV(c, connlist, entry))
		if (c->hello)
			return c->synced && c->inflight == NULL &&
			    TAILQ_EMPTY(&c->queue);
	return 0;
}

int
agent_resend(struct nspod *pod)
{
	struct conn *c;

	/* As a new pod's Add: to the newest ztunnel that said hello. */
	for (c = TAILQ_LAST(&ag.conns, connlist); c != NULL;
	    c = TAILQ_PREV(c, connlist, entry))
		if (c->hello)
			break;
	if (c == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if (queue(c, ZDS_ADD, pod, NULL) == -1) {
		conn_close(c, "out of memory queueing a request");
		return -1;
	}
	conn_pump(c);
	return 0;
}
