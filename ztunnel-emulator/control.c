/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control.c: the control socket.  Each peer is one connection and one
 * request: read it (with the descriptor it carries), act, write the reply,
 * close.  Nothing here blocks: a peer that is slow or silent only runs out
 * its own deadline.
 */
#define LOG_TARGET "control"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ambient.h"
#include "buf.h"
#include "control.h"
#include "listen.h"
#include "ev.h"
#include "fdpass.h"
#include "log.h"
#include "podjson.h"
#include "pods.h"
#include "udsock.h"
#include "util.h"
#include "version.h"
#include "wire.h"

#define CONTROL_DEADLINE_MS	2000	/* a peer's time to send its request, or read our reply */
#define CONTROL_MAX_PEERS	512	/* peers in flight; the oldest is dropped for a new one */
#define ACCEPT_BATCH		32	/* accepts per wake-up: no socket starves the others */

/* A client on the control socket, from accept to close. */
struct peer {
	struct ev_io		 io;		/* io.fd: -1 once closed */
	struct ev_timer		 deadline;
	struct ev_deferred	 dead;
	TAILQ_ENTRY(peer)	 entry;		/* control.peers, oldest first */
	int			 passfd;	/* the descriptor it sent, or -1 */
	uid_t			 uid;
	pid_t			 pid;
	size_t			 inlen;
	unsigned char		 in[WIRE_REQ_MAX];
	int			 answering;	/* 0 while reading */
	struct buf		 out;		/* the reply */
};

TAILQ_HEAD(peerlist, peer);

static struct {
	struct control_opts	 o;
	struct ev_io		 io;
	ino_t			 ino;
	struct peerlist		 peers;
	unsigned		 npeers;
} ctl = { .io = { .fd = -1 } };

static void	accept_peers(void *, uint32_t);
static void	peer_event(void *, uint32_t);
static void	peer_expire(void *);
static void	peer_read(struct peer *);
static void	peer_write(struct peer *);
static void	peer_close(struct peer *);
static void	peer_send(struct peer *, char *, size_t);
static void	peer_reply(struct peer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	handle(struct peer *, const struct wire_req *);
static void	handle_list(struct peer *, int wide);
static void	handle_list_json(struct peer *);
static void	list_send(struct peer *, struct strbuf *);

int
control_start(const struct control_opts *o)
{
	int fd;

	ctl.o = *o;
	TAILQ_INIT(&ctl.peers);
	if (o->fd != -1) {
		/* Handed over: the same socket, the same file. */
		fd = o->fd;
		if (udsock_adopt(fd, o->path, &ctl.ino) == -1)
			return -1;
	} else if ((o->make_dir && udsock_mkdir(o->path) == -1) ||
	    (fd = udsock_listen(o->path, SOCK_STREAM, o->mode, &ctl.ino)) == -1)
		return -1;
	if (ev_io_add(&ctl.io, fd, EPOLLIN, accept_peers, NULL) == -1) {
		close(fd);
		(void)udsock_unlink(o->path, ctl.ino);
		return -1;
	}
	return 0;
}

void
control_stop_listening(void)
{
	if (ctl.io.fd == -1)
		return;
	ev_io_close(&ctl.io);
	/* Only our own socket file: a successor's is left alone. */
	if (udsock_unlink(ctl.o.path, ctl.ino) == -1)
		log_warn("unlink %s", ctl.o.path);
}

int
control_listener(const char **path, int *fd)
{
	if (ctl.io.fd == -1)
		return -1;
	*path = ctl.o.path;
	*fd = ctl.io.fd;
	return 0;
}

void
control_forget(void)
{
	ev_io_close(&ctl.io);
}

void
control_stop(void)
{
	struct peer *p;

	while ((p = TAILQ_FIRST(&ctl.peers)) != NULL)
		peer_close(p);
	control_stop_listening();
}

static struct peer *
peer_new(int fd, const struct ucred *cred)
{
	struct peer *p;

	/* A bound, not a queue: make room by dropping the oldest peer,
	 * which is the one nearest its deadline anyway. */
	if (ctl.npeers >= CONTROL_MAX_PEERS) {
		p = TAILQ_FIRST(&ctl.peers);
		log_warnx("%d peers in flight, dropping pid %ld",
		    CONTROL_MAX_PEERS, (long)p->pid);
		peer_reply(p, WIRE_ERROR "daemon busy, try again");
		peer_close(p);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->passfd = -1;
	p->uid = cred->uid;
	p->pid = cred->pid;
	if (ev_io_add(&p->io, fd, EPOLLIN, peer_event, p) == -1) {
		free(p);
		return NULL;
	}
	ev_timer_init(&p->deadline, peer_expire, p);
	ev_timer_at(&p->deadline, monotonic_ms() + CONTROL_DEADLINE_MS);
	TAILQ_INSERT_TAIL(&ctl.peers, p, entry);
	ctl.npeers++;
	return p;
}

static void
accept_peers(void *arg, uint32_t events)
{
	struct peer	*p;
	struct ucred	 cred;
	int		 fd, n, allowed;

	(void)arg;
	(void)events;
	for (n = 0; n < ACCEPT_BATCH && !ev_exhausted(); n++) {
		fd = ev_accept(ctl.io.fd,
		    WIRE_ERROR "daemon is out of file descriptors\n");
		if (fd == -1) {
			if (errno == EMFILE)
				log_warnx("out of file descriptors: "
				    "refused a connection");
			else if (errno != EAGAIN)
				log_warn("accept");
			return;
		}
		if ((allowed = udsock_peer_allowed(fd, &ctl.o.allow,
		    &cred)) == -1) {
			log_warn("SO_PEERCRED");
			close(fd);
			continue;
		}
		if ((p = peer_new(fd, &cred)) == NULL) {
			log_warn("new peer");
			close(fd);
			continue;
		}
		log_debug("pid %ld uid %ld connected", (long)p->pid,
		    (long)p->uid);
		if (!allowed) {
			log_warnx("refused pid %ld: uid %ld is not "
			    "allowed", (long)p->pid, (long)p->uid);
			peer_reply(p, WIRE_ERROR "uid %ld is not allowed "
			    "here (the daemon's --allow-uid option admits it)",
			    (long)p->uid);
			continue;
		}
		/* Clients send right after connecting: read now rather than
		 * after another trip through epoll_wait. */
		peer_read(p);
	}
}

static void
peer_event(void *arg, uint32_t events)
{
	struct peer *p = arg;

	(void)events;
	if (!p->answering)
		peer_read(p);
	else
		peer_write(p);
}

static void
peer_read(struct peer *p)
{
	struct wire_req	req;
	char		why[WIRE_REPLY_MAX];
	ssize_t		n;
	int		fd;

	for (;;) {
		n = fdpass_recv(p->io.fd, p->in + p->inlen,
		    sizeof(p->in) - p->inlen, &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			log_warnx("pid %ld: receive: %s",
			    (long)p->pid, fdpass_strerror(errno));
			peer_reply(p, WIRE_ERROR "receive: %s",
			    fdpass_strerror(errno));
			return;
		}
		if (fd != -1 && p->passfd != -1) {
			close(fd);
			peer_reply(p, WIRE_ERROR "more than one "
			    "descriptor attached");
			return;
		}
		if (fd != -1)
			p->passfd = fd;
		if (n == 0) {
			/* A connect-and-close (like a liveness probe) is
			 * not worth a line; half a request is. */
			if (p->inlen > 0 || p->passfd != -1)
				log_warnx("pid %ld hung up in the "
				    "middle of a request", (long)p->pid);
			peer_close(p);
			return;
		}
		p->inlen += (size_t)n;
		switch (wire_parse(p->in, p->inlen, &req, why, sizeof(why))) {
		case WIRE_INCOMPLETE:
			continue;	/* wire_parse bounds the line */
		case WIRE_MALFORMED:
			log_warnx("pid %ld: %s", (long)p->pid, why);
			peer_reply(p, WIRE_ERROR "%s", why);
			return;
		case WIRE_COMPLETE:
			handle(p, &req);
			return;
		}
	}
}

static void
handle(struct peer *p, const struct wire_req *req)
{
	struct pod_req	 add = { POD_CONTROL, NULL, "", "", -1 };
	char		 err[WIRE_REPLY_MAX];
	struct pod	*pod;

	log_debug("pid %ld uid %ld: %s %s", (long)p->pid,
	    (long)p->uid, req->op == WIRE_OP_ADD ? "add" :
	    req->op == WIRE_OP_DEL ? "del" : req->op == WIRE_OP_LIST ? "list" :
	    req->op == WIRE_OP_LIST_WIDE ? "list-wide" :
	    req->op == WIRE_OP_LIST_JSON ? "list-json" : "info", req->name);
	if (req->op != WIRE_OP_ADD && p->passfd != -1) {
		peer_reply(p, WIRE_ERROR "a descriptor came with a "
		    "request that takes none");
		return;
	}
	switch (req->op) {
	case WIRE_OP_ADD:
		add.key = req->name[0] != '\0' ? req->name : NULL;
		add.nsfd = p->passfd;
		if (pod_add(&add, &pod, err, sizeof(err)) == POD_REFUSED)
			peer_reply(p, WIRE_ERROR "%s", err);
		else
			peer_reply(p, WIRE_READY);
		break;
	case WIRE_OP_DEL:
		if ((pod = pod_byname(req->name)) == NULL) {
			log_warnx("del %s: no such pod", req->name);
			peer_reply(p, WIRE_ERROR "no pod named %s",
			    req->name);
			break;
		}
		/* The node agent owns its pods: a removal behind its back
		 * would come back at the next snapshot anyway. */
		if (pod_origin(pod) == POD_ZDS) {
			peer_reply(p, WIRE_ERROR "%s is managed over ZDS by "
			    "the node agent; remove it there", req->name);
			break;
		}
		pod_del(pod, "listeners closed");
		peer_reply(p, WIRE_REMOVED " %s", req->name);
		break;
	case WIRE_OP_LIST:
	case WIRE_OP_LIST_WIDE:
		handle_list(p, req->op == WIRE_OP_LIST_WIDE);
		break;
	case WIRE_OP_LIST_JSON:
		handle_list_json(p);
		break;
	case WIRE_OP_INFO:
		peer_reply(p, "ztunnel-emulator %s mode=%s", VERSION,
		    listen_proxy() ? "proxy" : "listen");
		break;
	}
}

/* "45s", "12m", "5h", "3d": as kubectl shows ages. */
static void
format_age(uint64_t ms, char *buf, size_t size)
{
	uint64_t s = ms / 1000;

	if (s < 120)
		snprintf(buf, size, "%jus", (uintmax_t)s);
	else if (s < 7200)		/* 2 h */
		snprintf(buf, size, "%jum", (uintmax_t)(s / 60));
	else if (s < 172800)		/* 2 d */
		snprintf(buf, size, "%juh", (uintmax_t)(s / 3600));
	else
		snprintf(buf, size, "%jud", (uintmax_t)(s / 86400));
}

/* A byte count as people read it: "512", "1.5K", "64.0M", "2.3G"
 * (binary units, as ls -h). */
static void
format_bytes(uint64_t n, char *buf, size_t size)
{
	static const char	units[] = "KMGTPE";
	double			v = (double)n / 1024;
	size_t			u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%ju", (uintmax_t)n);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f%c", v, units[u]);
}

/*
 * The whole table at once, in add order: one pass to size the name
 * column, one to write.  The peer then drains it at its own pace.  The
 * default fits 80 columns with names of 25 (100 with 45); wide
 * (kubectl's -o wide)
 * has the namespace, the ports, the connections answered "ok", the
 * sockets by state and the uid too.
 */
static void
handle_list(struct peer *p, int wide)
{
	struct strbuf		 t = { NULL, 0, 0, 0 };
	struct pod_view		 v;
	struct pod		*pod;
	size_t			 width = 4;
	char			 age[16], conns[48], bytes[48], in[16], out[16];
	char			 netns[32], socks[64];

	for (pod = pod_first(); pod != NULL; pod = pod_next(pod)) {
		pod_view(pod, &v, 0);
		if (strlen(v.label) > width)
			width = strlen(v.label);
	}
	strbuf_printf(&t, "%-*s  %-7s  %11s  %15s  %5s  %-*s", (int)width,
	    "NAME", "STATE", "CONNS", "BYTES", "AGE", wide ? 7 : 0, "VIA");
	if (wide)
		strbuf_printf(&t, "  %-16s  %-17s  %6s  %-11s  %s", "NETNS",
		    "PORTS", "SERVED", "SOCKETS", "UID");
	strbuf_printf(&t, "\n");
	for (pod = pod_first(); pod != NULL; pod = pod_next(pod)) {
		pod_view(pod, &v, wide ? POD_VIEW_SOCKETS : 0);
		format_age(v.age_ms, age, sizeof(age));
		/* --proxy: open/total connections, bytes in/out (the pod's
		 * clients to upstream / back), open sessions included. */
		snprintf(conns, sizeof(conns), "%ju/%ju",
		    (uintmax_t)v.conns_open, (uintmax_t)v.conns_total);
		format_bytes(v.bytes_in, in, sizeof(in));
		format_bytes(v.bytes_out, out, sizeof(out));
		snprintf(bytes, sizeof(bytes), "%s/%s", in, out);
		strbuf_printf(&t, "%-*s  %-7s  %11s  %15s  %5s  %-*s",
		    (int)width, v.label, v.up ? "up" : "pending", conns, bytes,
		    age, wide ? 7 : 0, v.zds ? "zds" : "control");
		if (wide) {
			snprintf(netns, sizeof(netns), "net:[%ju]",
			    (uintmax_t)v.netns);
			snprintf(socks, sizeof(socks), "%u/%u/%u",
			    v.sockets.established, v.sockets.close_wait,
			    v.sockets.fin_wait);
			strbuf_printf(&t, "  %-16s  %u,%u,%u  %6ju  %-11s  %s",
			    netns, ZT_PORT_HBONE, ZT_PORT_INBOUND,
			    ZT_PORT_OUTBOUND, (uintmax_t)v.served, socks, v.key);
		}
		strbuf_printf(&t, "\n");
	}
	list_send(p, &t);
}

/* The same as JSON, for scripts: numbers as numbers, the pod's sockets
 * by TCP state (a leak of half-open ones shows here first). */
static void
handle_list_json(struct peer *p)
{
	struct strbuf		 t = { NULL, 0, 0, 0 };
	struct pod_view		 v;
	struct pod		*pod;

	strbuf_printf(&t, "[");
	for (pod = pod_first(); pod != NULL; pod = pod_next(pod)) {
		pod_view(pod, &v, POD_VIEW_SOCKETS);
		strbuf_printf(&t, "%s\n  {\"name\": ", pod == pod_first() ? "" :
		    ",");
		strbuf_json(&t, v.label);
		strbuf_printf(&t, ", \"uid\": ");
		strbuf_json(&t, v.key);
		strbuf_printf(&t, ", ");
		podjson_facts(&t, &v);
		strbuf_printf(&t, "}");
	}
	strbuf_printf(&t, "%s]\n", pod_first() != NULL ? "\n" : "");
	list_send(p, &t);
}

/* A list, whole, to the peer (it drains it at its own pace). */
static void
list_send(struct peer *p, struct strbuf *t)
{
	if (t->failed) {
		free(t->buf);
		peer_reply(p, WIRE_ERROR "out of memory");
		return;
	}
	log_debug("pid %ld: listed %zu pods", (long)p->pid,
	    pod_count());
	peer_send(p, t->buf, t->len);
}

/* Queue one line (see peer_send). */
static void
peer_reply(struct peer *p, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0) {
		peer_close(p);
		return;
	}
	/* vasprintf leaves room for the NUL; the newline takes it. */
	line[n++] = '\n';
	peer_send(p, line, (size_t)n);
}

/*
 * Start writing the reply buf (ours now); the peer is closed once it is
 * written.  Only the first reply to a peer counts.  The peer gets a fresh
 * deadline to read it, and moves to the end of the list, which stays
 * sorted by deadline.
 */
static void
peer_send(struct peer *p, char *buf, size_t len)
{
	if (p->answering || p->io.fd == -1) {
		free(buf);
		return;
	}
	/* The buffer is the reply's now: no copy of a long list. */
	p->answering = 1;
	p->out = (struct buf){ (uint8_t *)buf, 0, len, len };
	/* The descriptor has done its job (or failed to). */
	if (p->passfd != -1) {
		close(p->passfd);
		p->passfd = -1;
	}
	ev_timer_at(&p->deadline, monotonic_ms() + CONTROL_DEADLINE_MS);
	TAILQ_REMOVE(&ctl.peers, p, entry);
	TAILQ_INSERT_TAIL(&ctl.peers, p, entry);
	peer_write(p);
	if (p->io.fd != -1 && ev_io_mod(&p->io, EPOLLOUT) == -1)
		peer_close(p);
}

static void
peer_write(struct peer *p)
{
	switch (buf_send(&p->out, p->io.fd, NULL)) {
	case 1:
		return;		/* the rest at the next writable edge */
	case -1:
		/* EPIPE, ECONNRESET: the seed's client never reads and is
		 * usually gone by now. */
		log_debug("pid %ld: reply: %s", (long)p->pid,
		    strerror(errno));
		break;
	default:
		break;
	}
	peer_close(p);
}

static void
peer_free(void *arg)
{
	struct peer *p = arg;

	buf_free(&p->out);
	free(p);
}

static void
peer_close(struct peer *p)
{
	if (p->io.fd == -1)
		return;
	ev_io_close(&p->io);
	ev_timer_stop(&p->deadline);
	if (p->passfd != -1)
		close(p->passfd);
	p->passfd = -1;
	TAILQ_REMOVE(&ctl.peers, p, entry);
	ctl.npeers--;
	ev_defer_free(&p->dead, peer_free, p);
}

/*
 * A deadline passed.  A request that arrived whole while we were not
 * looking (the daemon was stopped, or busy) is served all the same: only
 * a peer that really sent too little, or reads too slowly, is cut off.
 */
static void
peer_expire(void *arg)
{
	struct peer *p = arg;

	if (!p->answering) {
		peer_read(p);
		if (p->io.fd == -1 || p->answering)
			return;
		log_warnx("pid %ld: no complete request within %d ms",
		    (long)p->pid, CONTROL_DEADLINE_MS);
		peer_reply(p, WIRE_ERROR "timed out waiting for the request");
	} else {
		log_warnx("pid %ld: did not read its reply within "
		    "%d ms", (long)p->pid, CONTROL_DEADLINE_MS);
	}
	peer_close(p);
}
