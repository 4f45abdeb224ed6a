/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handover.c: the running instance hands its live sockets to the next
 * one (handover.h).  Both sides are here, with the exchange between
 * them.  SOCK_SEQPACKET: one datagram is one line of text, a verb and
 * key=value fields (values are names, addresses and numbers: no
 * spaces), with at most one descriptor attached (fdpass.h):
 *
 *   new -> old   hello v=1 pid=N mode=proxy|plain
 *   old -> new   hello v=1 pid=N mode=proxy|plain
 *   old -> new   listener kind=handover|control|admin ... + fd   (each)
 *   old -> new   listeners         (that was all of them)
 *   new -> old   next              (it bound what it was not handed)
 *   old -> new   pod key=... up=0|1 ... + netns fd, then, if up,
 *                podfd port=15008|15006|15001 + fd                (each)
 *   old -> new   pods n=N
 *   new -> old   taken pods n=N    commit: our listener copies close,
 *                                  and we take no new pod
 *   old -> new   series ..., totals ...      (the counters)
 *   old -> new   relay key=... dir=... ..., then relayfd + fd    (x6)
 *   old -> new   relays n=M
 *   new -> old   taken relays n=M  commit: our copies close
 *   old -> new   done              the new one starts moving bytes
 *
 * Either side may send "refused why=..." and hang up.  The old side runs
 * in the loop like any peer: what it sends waits in a queue, written as
 * the socket takes it, a quantum at a time; it keeps serving until each
 * commit.  The new side, still starting, waits for each answer in turn
 * (HANDOVER_STEP_MS each).
 */
#define LOG_TARGET "handover"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "admin.h"
#include "ambient.h"
#include "control.h"
#include "drain.h"
#include "ev.h"
#include "fdpass.h"
#include "handover.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "pods.h"
#include "relay.h"
#include "udsock.h"
#include "util.h"

#define HANDOVER_VERSION	1
#define LINE_MAX_LEN		2048
#define MAX_FIELDS		32

/* --- lines ---------------------------------------------------------------- */

struct line {
	char		 buf[LINE_MAX_LEN];
	const char	*verb;
	const char	*key[MAX_FIELDS];
	const char	*val[MAX_FIELDS];
	int		 n;
};

/* Split "verb k=v k=v" in place; -1 if it is not that shape. */
static int
line_parse(struct line *l, size_t len)
{
	char *p, *save = NULL, *eq;

	if (len >= sizeof(l->buf) || memchr(l->buf, '\0', len) != NULL)
		return -1;
	l->buf[len] = '\0';
	l->n = 0;
	if ((l->verb = strtok_r(l->buf, " ", &save)) == NULL)
		return -1;
	while ((p = strtok_r(NULL, " ", &save)) != NULL) {
		if (l->n == MAX_FIELDS || (eq = strchr(p, '=')) == NULL)
			return -1;
		*eq = '\0';
		l->key[l->n] = p;
		l->val[l->n++] = eq + 1;
	}
	return 0;
}

static const char *
get(const struct line *l, const char *key)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->key[i], key) == 0)
			return l->val[i];
	return NULL;
}

/* A number field; -1 if missing or not a number. */
static int
get_u64(const struct line *l, const char *key, uint64_t *v)
{
	const char	*s = get(l, key);
	char		*end;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end != '\0' || errno != 0 ? -1 : 0;
}

static int
get_int(const struct line *l, const char *key, int *v)
{
	uint64_t u;

	if (get_u64(l, key, &u) == -1 || u > 0x7fffffff)
		return -1;
	*v = (int)u;
	return 0;
}

/* "a.b.c.d:port" or "[v6]:port". */
static int
get_addr(const struct line *l, const char *key, union sockip *sa)
{
	const char *s = get(l, key);

	return s == NULL ? -1 : sockip_parse(s, 0, sa);
}

/* --- the old side: handing over ------------------------------------------ */

struct out {
	char	*line;
	int	 fd;		/* ours: closed once sent */
};

struct held {
	char		*key;
	struct relay	*r;
};

enum state {
	S_IDLE,			/* nobody connected */
	S_HELLO,		/* waiting for its hello */
	S_NEXT,			/* listeners sent, waiting for "next" */
	S_PODS,			/* pods sent, waiting for "taken pods" */
	S_RELAYS,		/* relays sent, waiting for "taken relays" */
	S_DONE,			/* "done" queued; then we drain */
};

static struct {
	char		 path[108];
	struct ev_io	 lio;		/* the listening socket */
	ino_t		 ino;
	uint64_t	 deadline_ms;	/* the drain's */
	void		(*done)(void);
	/* The one successor being served. */
	struct ev_io	 io;
	struct ev_timer	 step;		/* its next answer is due */
	enum state	 state;
	pid_t		 pid;
	struct out	*q;
	size_t		 qhead, qlen, qcap;
	int		 failed;	/* a line could not be queued */
	size_t		 npods, nrelays;
	struct held	*held;
	size_t		 nheld;
	/* The new side: the old instance's socket while starting. */
	int		 fd;
	pid_t		 old_pid;
} hs = { .lio = { .fd = -1 }, .io = { .fd = -1 }, .fd = -1 };

static void	on_accept(void *, uint32_t);
static void	on_succ(void *, uint32_t);
static void	on_step(void *);
static void	succ_close(const char *why);

static void	queue_line(int fd, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* Queue a line, with a copy of fd attached (-1: none). */
static void
queue_line(int fd, const char *fmt, ...)
{
	struct out	*q;
	va_list		 ap;
	char		*line;
	int		 n, dup = -1;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= LINE_MAX_LEN) {
		if (n >= 0)
			free(line);
		hs.failed = 1;
		return;
	}
	if (fd != -1 && (dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		free(line);
		hs.failed = 1;
		return;
	}
	if (hs.qlen == hs.qcap) {
		size_t cap = hs.qcap != 0 ? hs.qcap * 2 : 256;

		if ((q = reallocarray(hs.q, cap, sizeof(*q))) == NULL) {
			free(line);
			if (dup != -1)
				close(dup);
			hs.failed = 1;
			return;
		}
		hs.q = q;
		hs.qcap = cap;
	}
	hs.q[hs.qlen++] = (struct out){ line, dup };
}

static void
queue_free(void)
{
	size_t i;

	for (i = hs.qhead; i < hs.qlen; i++) {
		free(hs.q[i].line);
		if (hs.q[i].fd != -1)
			close(hs.q[i].fd);
	}
	free(hs.q);
	hs.q = NULL;
	hs.qhead = hs.qlen = hs.qcap = 0;
}

/* Send what the socket takes, within the quantum; then wait for room
 * or for the answer. */
static void
queue_pump(void)
{
	struct out	*o;
	ssize_t		 n;

	while (hs.qhead < hs.qlen && !ev_exhausted()) {
		o = &hs.q[hs.qhead];
		n = fdpass_send(hs.io.fd, o->line, strlen(o->line), o->fd);
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1) {
			succ_close(strerror(errno));
			return;
		}
		ev_spend((size_t)n + 1024);
		free(o->line);
		if (o->fd != -1)
			close(o->fd);
		hs.qhead++;
	}
	if (hs.qhead == hs.qlen) {
		hs.qhead = hs.qlen = 0;
		(void)ev_io_mod(&hs.io, EPOLLIN);
		if (hs.state == S_DONE)
			succ_close(NULL);
		return;
	}
	(void)ev_io_mod(&hs.io, EPOLLIN | EPOLLOUT);
}

int
handover_serve(const char *path, int fd, uint64_t deadline_ms,
    void (*done)(void))
{
	snprintf(hs.path, sizeof(hs.path), "%s", path);
	hs.deadline_ms = deadline_ms;
	hs.done = done;
	ev_timer_init(&hs.step, on_step, NULL);
	if (fd != -1) {
		if (udsock_adopt(fd, path, &hs.ino) == -1) {
			close(fd);
			return -1;
		}
	} else if ((fd = udsock_listen(path, SOCK_SEQPACKET, 0600,
	    &hs.ino)) == -1)
		return -1;
	if (ev_io_add(&hs.lio, fd, EPOLLIN, on_accept, NULL) == -1) {
		close(fd);
		return -1;
	}
	return 0;
}

void
handover_stop(void)
{
	succ_close(NULL);
	if (hs.lio.fd == -1)
		return;
	ev_io_close(&hs.lio);
	if (udsock_unlink(hs.path, hs.ino) == -1)
		log_warn("unlink %s", hs.path);
}

static void
on_accept(void *arg, uint32_t events)
{
	static const struct udsock_allow nobody_else;
	struct ucred	cred;
	int		fd, ok;

	(void)arg;
	(void)events;
	if ((fd = ev_accept(hs.lio.fd, NULL)) == -1) {
		if (errno != EAGAIN)
			log_warn("accept");
		return;
	}
	/* It is about to be handed every socket we have. */
	if ((ok = udsock_peer_allowed(fd, &nobody_else, &cred)) != 1) {
		if (ok == -1)
			log_warn("SO_PEERCRED");
		else
			log_warnx("refused a handover to pid %ld: uid %ld is "
			    "neither root nor ours", (long)cred.pid,
			    (long)cred.uid);
		close(fd);
		return;
	}
	if (hs.state != S_IDLE || draining()) {
		log_warnx("refused a handover to pid %ld: %s", (long)cred.pid,
		    hs.state != S_IDLE ? "one is under way" : "draining");
		(void)fdpass_send(fd, "refused why=busy", 16, -1);
		close(fd);
		return;
	}
	if (ev_io_add(&hs.io, fd, EPOLLIN, on_succ, NULL) == -1) {
		log_warn("epoll_ctl");
		close(fd);
		return;
	}
	hs.pid = cred.pid;
	hs.state = S_HELLO;
	hs.failed = 0;
	ev_timer_at(&hs.step, monotonic_ms() + HANDOVER_STEP_MS);
	log_info("pid %ld connected: handing over to it", (long)hs.pid);
}

/* Give back what was held and not taken; forget the successor. */
static void
succ_close(const char *why)
{
	size_t i;

	if (hs.io.fd == -1)
		return;
	if (why != NULL)
		log_warnx("pid %ld: %s; %s", (long)hs.pid, why,
		    hs.state <= S_PODS ? "nothing handed over, serving on" :
		    hs.state == S_RELAYS ? "our connections resumed, draining "
		    "them" : "done");
	ev_io_close(&hs.io);
	ev_timer_stop(&hs.step);
	queue_free();
	for (i = 0; i < hs.nheld; i++) {
		pods_resume_relay(hs.held[i].key, hs.held[i].r);
		free(hs.held[i].key);
	}
	free(hs.held);
	hs.held = NULL;
	hs.nheld = 0;
	/* Past the pods' commit the listeners are the successor's: what
	 * is left of ours drains. */
	if (hs.state >= S_RELAYS)
		drain_start(hs.deadline_ms, hs.done);
	hs.state = S_IDLE;
}

static void
on_step(void *arg)
{
	(void)arg;
	succ_close("no answer in time");
}

static int
queue_admin(void *arg, const char *flag, const char *given, int fd)
{
	(void)arg;
	queue_line(fd, "listener kind=admin flag=%s given=%s", flag, given);
	return 0;
}

/* The listening sockets, ours kept until the pods' commit. */
static void
send_listeners(void)
{
	const char	*path;
	int		 fd;

	queue_line(hs.lio.fd, "listener kind=handover");
	if (control_listener(&path, &fd) == 0)
		queue_line(fd, "listener kind=control path=%s", path);
	(void)admin_listeners(queue_admin, NULL);
	queue_line(-1, "listeners");
}

static int
queue_pod(void *arg, const struct pod_export *e)
{
	static const uint16_t	ports[3] = { ZT_PORT_HBONE, ZT_PORT_INBOUND,
	    ZT_PORT_OUTBOUND };
	int			i;

	(void)arg;
	queue_line(e->nsfd, "pod key=%s origin=%s workload=%s sa=%s up=%d "
	    "age=%ju served=%ju total=%ju in=%ju out=%ju", e->key,
	    e->origin == POD_ZDS ? "zds" : "control", e->workload,
	    e->service_account, e->up, (uintmax_t)e->age_ms,
	    (uintmax_t)e->served, (uintmax_t)e->conns_total,
	    (uintmax_t)e->bytes_in, (uintmax_t)e->bytes_out);
	close(e->nsfd);		/* the queue has its own copy */
	for (i = 0; e->up && i < 3; i++)
		queue_line(e->lfds[i], "podfd port=%u", ports[i]);
	hs.npods++;
	return hs.failed ? -1 : 0;
}

static void
queue_series(void *arg, const struct metrics_series_state *s)
{
	(void)arg;
	queue_line(-1, "series rep=%d src=%s dst=%s opened=%ju closed=%ju,%ju "
	    "received=%ju,%ju sent=%ju,%ju", s->source_reporter, s->src,
	    s->dst, (uintmax_t)s->opened, (uintmax_t)s->closed[0],
	    (uintmax_t)s->closed[1], (uintmax_t)s->received[0],
	    (uintmax_t)s->received[1], (uintmax_t)s->sent[0],
	    (uintmax_t)s->sent[1]);
}

static void
queue_relay(void *arg, const char *key, struct relay *r,
    const struct relay_state *st)
{
	struct held	*h;
	char		 src[SOCKIP_STRLEN], dst[SOCKIP_STRLEN], ssrc[METRICS_WL_MAX];
	char		 sdst[METRICS_WL_MAX];
	int		 i, rep;

	(void)arg;
	/* Held first: whatever happens next, it is given back. */
	if ((h = reallocarray(hs.held, hs.nheld + 1, sizeof(*h))) == NULL) {
		hs.failed = 1;
		pods_resume_relay(key, r);
		return;
	}
	hs.held = h;
	if ((hs.held[hs.nheld].key = strdup(key)) == NULL) {
		hs.failed = 1;
		pods_resume_relay(key, r);
		return;
	}
	hs.held[hs.nheld++].r = r;
	sockip_str(&st->src, src, sizeof(src));
	sockip_str(&st->dst, dst, sizeof(dst));
	metrics_series_id(st->series, &rep, ssrc, sizeof(ssrc), sdst,
	    sizeof(sdst));
	queue_line(-1, "relay key=%s dir=%s src=%s dst=%s connecting=%d "
	    "age=%ju up=%ju,%d,%d,%d,%ju down=%ju,%d,%d,%d,%ju rep=%d ssrc=%s "
	    "sdst=%s", key, st->dir == RELAY_INBOUND ? "in" : "out", src, dst,
	    st->connecting, (uintmax_t)st->age_ms, (uintmax_t)st->up.held,
	    st->up.eof, st->up.err, st->up.shut, (uintmax_t)st->up.bytes,
	    (uintmax_t)st->down.held, st->down.eof, st->down.err,
	    st->down.shut, (uintmax_t)st->down.bytes, rep, ssrc, sdst);
	for (i = 0; i < RELAY_NFDS; i++)
		queue_line(st->fds[i], "relayfd i=%d", i);
	hs.nrelays++;
}

/* The pods' commit: the listeners are the successor's now. */
static void
commit_pods(void)
{
	struct metrics_totals t;

	pods_handed_over();
	admin_stop_listening();
	control_forget();
	ev_io_close(&hs.lio);	/* the file is the successor's now */
	log_info("pid %ld took %zu pods and the listeners; handing over "
	    "the connections", (long)hs.pid, hs.npods);
	/* The connections, and the counters as they stand. */
	hs.nrelays = 0;
	pods_hold_relays(queue_relay, NULL);
	metrics_each_series(queue_series, NULL);
	metrics_get_totals(&t);
	queue_line(-1, "totals handoffs=%ju,%ju,%ju zds=%ju,%ju,%ju,%ju,%ju,%ju "
	    "started=%ju stopped=%ju", (uintmax_t)t.handoffs[0],
	    (uintmax_t)t.handoffs[1], (uintmax_t)t.handoffs[2],
	    (uintmax_t)t.zds[0], (uintmax_t)t.zds[1], (uintmax_t)t.zds[2],
	    (uintmax_t)t.zds[3], (uintmax_t)t.zds[4], (uintmax_t)t.zds[5],
	    (uintmax_t)t.started, (uintmax_t)t.stopped);
	queue_line(-1, "relays n=%zu", hs.nrelays);
	hs.state = S_RELAYS;
}

/* The connections' commit: ours close, theirs move. */
static void
commit_relays(void)
{
	size_t i;

	for (i = 0; i < hs.nheld; i++) {
		relay_forget(hs.held[i].r);
		free(hs.held[i].key);
	}
	free(hs.held);
	hs.held = NULL;
	hs.nheld = 0;
	log_info("pid %ld took %zu connections; draining what is left",
	    (long)hs.pid, hs.nrelays);
	queue_line(-1, "done");
	hs.state = S_DONE;
}

static void
on_succ(void *arg, uint32_t events)
{
	struct line	 l;
	ssize_t		 n;
	uint64_t	 count;
	int		 fd;

	(void)arg;
	if (events & EPOLLOUT) {
		queue_pump();
		if (hs.io.fd == -1 || !(events & EPOLLIN))
			return;
	}
	n = fdpass_recv(hs.io.fd, l.buf, sizeof(l.buf) - 1, &fd);
	if (n == -1 && errno == EAGAIN)
		return;
	if (fd != -1) {
		close(fd);
		succ_close("it sent a descriptor");
		return;
	}
	if (n <= 0) {
		succ_close(n == 0 ? "it hung up" : fdpass_strerror(errno));
		return;
	}
	if (line_parse(&l, (size_t)n) == -1) {
		succ_close("a malformed line");
		return;
	}
	ev_timer_at(&hs.step, monotonic_ms() + HANDOVER_STEP_MS);
	if (strcmp(l.verb, "refused") == 0) {
		succ_close(get(&l, "why") != NULL ? get(&l, "why") : "refused");
		return;
	}
	switch (hs.state) {
	case S_HELLO:
		if (strcmp(l.verb, "hello") != 0 ||
		    get_u64(&l, "v", &count) == -1 || count != HANDOVER_VERSION) {
			succ_close("no hello of our version");
			return;
		}
		if (strcmp(get(&l, "mode") != NULL ? get(&l, "mode") : "",
		    listen_proxy() ? "proxy" : "plain") != 0) {
			(void)fdpass_send(hs.io.fd, "refused why=mode", 16, -1);
			succ_close(listen_proxy() ? "it runs without --proxy, we "
			    "with it" : "it runs with --proxy, we without it");
			return;
		}
		queue_line(-1, "hello v=%d pid=%ld mode=%s", HANDOVER_VERSION,
		    (long)getpid(), listen_proxy() ? "proxy" : "plain");
		send_listeners();
		hs.state = S_NEXT;
		break;
	case S_NEXT:
		if (strcmp(l.verb, "next") != 0) {
			succ_close("expected next");
			return;
		}
		hs.npods = 0;
		if (pods_export(queue_pod, NULL) == -1 || hs.failed) {
			succ_close("cannot send our pods");
			return;
		}
		queue_line(-1, "pods n=%zu", hs.npods);
		hs.state = S_PODS;
		break;
	case S_PODS:
		if (strcmp(l.verb, "taken") != 0 ||
		    strcmp(get(&l, "what") != NULL ? get(&l, "what") : "",
		    "pods") != 0 || get_u64(&l, "n", &count) == -1 ||
		    count != hs.npods) {
			succ_close("no commit for our pods");
			return;
		}
		commit_pods();
		break;
	case S_RELAYS:
		if (strcmp(l.verb, "taken") != 0 ||
		    strcmp(get(&l, "what") != NULL ? get(&l, "what") : "",
		    "relays") != 0 || get_u64(&l, "n", &count) == -1 ||
		    count != hs.nrelays) {
			succ_close("no commit for our connections");
			return;
		}
		commit_relays();
		break;
	case S_IDLE:
	case S_DONE:
		succ_close("a line out of turn");
		return;
	}
	if (hs.failed) {
		succ_close("out of memory");
		return;
	}
	queue_pump();
}

/* --- the new side: taking over -------------------------------------------- */

/* One line from the old instance within HANDOVER_STEP_MS; *fdp the
 * descriptor that came with it (ours), or -1.  -1 if none came. */
static int
recv_line(struct line *l, int *fdp)
{
	struct pollfd	 pfd = { .fd = hs.fd, .events = POLLIN };
	ssize_t		 n;

	*fdp = -1;
	if (poll(&pfd, 1, HANDOVER_STEP_MS) != 1) {
		log_warnx("no answer from the running instance in %d ms",
		    HANDOVER_STEP_MS);
		return -1;
	}
	n = fdpass_recv(hs.fd, l->buf, sizeof(l->buf) - 1, fdp);
	if (n <= 0) {
		log_warnx("the running instance %s", n == 0 ? "hung up" :
		    fdpass_strerror(errno));
		return -1;
	}
	if (line_parse(l, (size_t)n) == -1) {
		log_warnx("a malformed line from the running instance");
		if (*fdp != -1)
			close(*fdp);
		*fdp = -1;
		return -1;
	}
	if (strcmp(l->verb, "refused") == 0) {
		log_warnx("the running instance refused: %s",
		    get(l, "why") != NULL ? get(l, "why") : "no reason");
		if (*fdp != -1)
			close(*fdp);
		*fdp = -1;
		return -1;
	}
	return 0;
}

static void	send_line(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

static void
send_line(const char *fmt, ...)
{
	char	buf[LINE_MAX_LEN];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)fdpass_send(hs.fd, buf, (size_t)n, -1);
}

static void
taken_init(struct handover_taken *t)
{
	int i;

	memset(t, 0, sizeof(*t));
	t->handover_fd = t->control_fd = -1;
	for (i = 0; i < ADMIN_N; i++)
		t->admin_fd[i] = -1;
}

static void
taken_close(struct handover_taken *t)
{
	int i;

	if (t->handover_fd != -1)
		close(t->handover_fd);
	if (t->control_fd != -1)
		close(t->control_fd);
	for (i = 0; i < ADMIN_N; i++)
		if (t->admin_fd[i] != -1)
			close(t->admin_fd[i]);
	taken_init(t);
}

static int
take_listener(const struct line *l, int fd, struct handover_taken *t)
{
	const char	*kind = get(l, "kind");
	int		 i;

	if (kind == NULL || fd == -1)
		return -1;
	if (strcmp(kind, "handover") == 0 && t->handover_fd == -1) {
		t->handover_fd = fd;
		return 0;
	}
	if (strcmp(kind, "control") == 0 && t->control_fd == -1 &&
	    get(l, "path") != NULL) {
		snprintf(t->control_path, sizeof(t->control_path), "%s",
		    get(l, "path"));
		t->control_fd = fd;
		return 0;
	}
	if (strcmp(kind, "admin") == 0 && get(l, "flag") != NULL &&
	    get(l, "given") != NULL)
		for (i = 0; i < ADMIN_N; i++)
			if (t->admin_fd[i] == -1) {
				snprintf(t->admin_flag[i], sizeof(t->admin_flag[i]),
				    "%s", get(l, "flag"));
				snprintf(t->admin_given[i],
				    sizeof(t->admin_given[i]), "%s",
				    get(l, "given"));
				t->admin_fd[i] = fd;
				return 0;
			}
	return -1;
}

int
handover_connect(const char *path, int proxy, struct handover_taken *t)
{
	static const struct udsock_allow nobody_else;
	struct ucred	 cred;
	struct line	 l;
	uint64_t	 v;
	int		 fd, ok;

	taken_init(t);
	if ((hs.fd = udsock_connect_timeout(path, SOCK_SEQPACKET,
	    HANDOVER_STEP_MS)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return 0;	/* nobody there: a fresh start */
		log_warn("%s", path);
		return -1;
	}
	if ((ok = udsock_peer_allowed(hs.fd, &nobody_else, &cred)) != 1) {
		if (ok == -1)
			log_warn("%s: SO_PEERCRED", path);
		else
			log_warnx("%s is held by pid %ld, uid %ld, neither "
			    "root nor ours: not taking anything from it", path,
			    (long)cred.pid, (long)cred.uid);
		goto fail;
	}
	hs.old_pid = cred.pid;
	send_line("hello v=%d pid=%ld mode=%s", HANDOVER_VERSION,
	    (long)getpid(), proxy ? "proxy" : "plain");
	if (recv_line(&l, &fd) == -1)
		goto fail;
	if (fd != -1)
		close(fd);
	if (strcmp(l.verb, "hello") != 0 || get_u64(&l, "v", &v) == -1 ||
	    v != HANDOVER_VERSION) {
		log_warnx("%s: pid %ld speaks another handover", path,
		    (long)hs.old_pid);
		goto fail;
	}
	for (;;) {
		if (recv_line(&l, &fd) == -1)
			goto fail;
		if (strcmp(l.verb, "listeners") == 0) {
			if (fd != -1)
				close(fd);
			break;
		}
		if (strcmp(l.verb, "listener") != 0 ||
		    take_listener(&l, fd, t) == -1) {
			if (fd != -1)
				close(fd);
			log_warnx("%s: an unexpected %s", path, l.verb);
			goto fail;
		}
	}
	t->connected = 1;
	log_info("taking over from pid %ld at %s", (long)hs.old_pid, path);
	return 0;
fail:
	taken_close(t);
	close(hs.fd);
	hs.fd = -1;
	return -1;
}

void
handover_match(struct handover_taken *t, struct control_opts *ctl,
    struct admin_opts *admin)
{
	int i, j;

	if (t->control_fd != -1 && ctl->path != NULL &&
	    strcmp(ctl->path, t->control_path) == 0) {
		ctl->fd = t->control_fd;
		t->control_fd = -1;
	}
	for (i = 0; i < ADMIN_N; i++)
		for (j = 0; j < ADMIN_N; j++)
			if (t->admin_fd[j] != -1 && admin->s[i].given != NULL &&
			    strcmp(admin->s[i].flag, t->admin_flag[j]) == 0 &&
			    strcmp(admin->s[i].given, t->admin_given[j]) == 0) {
				admin->s[i].fd = t->admin_fd[j];
				t->admin_fd[j] = -1;
			}
	/* What nothing asked for any more: the options changed. */
	if (t->control_fd != -1)
		close(t->control_fd);
	t->control_fd = -1;
	for (j = 0; j < ADMIN_N; j++) {
		if (t->admin_fd[j] != -1)
			close(t->admin_fd[j]);
		t->admin_fd[j] = -1;
	}
}

void
handover_abort(const char *why)
{
	char buf[LINE_MAX_LEN];

	if (hs.fd == -1)
		return;
	/* A value has no spaces. */
	snprintf(buf, sizeof(buf), "refused why=%s", why);
	for (char *p = buf + 7; *p != '\0'; p++)
		if (*p == ' ')
			*p = '_';
	(void)fdpass_send(hs.fd, buf, strlen(buf), -1);
	close(hs.fd);
	hs.fd = -1;
}

/* A pod record and, if up, its three listeners. */
static int
take_pod(const struct line *l, int nsfd, uint64_t *adopted)
{
	struct pod_export	 e;
	struct line		 f;
	char			 err[POD_ERR_MAX];
	uint64_t		 up;
	const char		*origin = get(l, "origin");
	int			 i, fd;

	memset(&e, 0, sizeof(e));
	e.nsfd = nsfd;
	e.lfds[0] = e.lfds[1] = e.lfds[2] = -1;
	e.key = get(l, "key");
	e.workload = get(l, "workload");
	e.service_account = get(l, "sa");
	e.origin = origin != NULL && strcmp(origin, "zds") == 0 ? POD_ZDS :
	    POD_CONTROL;
	if (e.key == NULL || e.workload == NULL || e.service_account == NULL ||
	    origin == NULL || get_u64(l, "up", &up) == -1 ||
	    get_u64(l, "age", &e.age_ms) == -1 ||
	    get_u64(l, "served", &e.served) == -1 ||
	    get_u64(l, "total", &e.conns_total) == -1 ||
	    get_u64(l, "in", &e.bytes_in) == -1 ||
	    get_u64(l, "out", &e.bytes_out) == -1 || nsfd == -1) {
		log_warnx("a malformed pod");
		goto fail;
	}
	e.up = up != 0;
	for (i = 0; e.up && i < 3; i++) {
		if (recv_line(&f, &fd) == -1)
			goto fail;
		if (strcmp(f.verb, "podfd") != 0 || fd == -1) {
			if (fd != -1)
				close(fd);
			log_warnx("%s: a listener missing", e.key);
			goto fail;
		}
		e.lfds[i] = fd;
	}
	if (pod_adopt(&e, err, sizeof(err)) == POD_REFUSED) {
		log_warnx("%s: %s", e.key, err);
		return -1;	/* pod_adopt() closed them */
	}
	(*adopted)++;
	return 0;
fail:
	if (nsfd != -1)
		close(nsfd);
	for (i = 0; i < 3; i++)
		if (e.lfds[i] != -1)
			close(e.lfds[i]);
	return -1;
}

static int
get_half(const struct line *l, const char *key, struct relay_half_state *h)
{
	const char		*s = get(l, key);
	uintmax_t		 held, bytes;

	return s == NULL || sscanf(s, "%ju,%d,%d,%d,%ju", &held, &h->eof,
	    &h->err, &h->shut, &bytes) != 5 ? -1 :
	    ((h->held = held), (h->bytes = bytes), 0);
}

/* A connection: its state, then its six descriptors. */
struct taken_relay {
	char			*key;
	struct relay_state	 st;
};

static int
take_relay(const struct line *l, struct taken_relay *tr)
{
	struct line	 f;
	const char	*dir = get(l, "dir"), *key = get(l, "key");
	int		 i, fd, rep;

	memset(tr, 0, sizeof(*tr));
	for (i = 0; i < RELAY_NFDS; i++)
		tr->st.fds[i] = -1;
	if (key == NULL || dir == NULL || get_addr(l, "src", &tr->st.src) == -1 ||
	    get_addr(l, "dst", &tr->st.dst) == -1 ||
	    get_int(l, "connecting", &tr->st.connecting) == -1 ||
	    get_u64(l, "age", &tr->st.age_ms) == -1 ||
	    get_half(l, "up", &tr->st.up) == -1 ||
	    get_half(l, "down", &tr->st.down) == -1 ||
	    get_int(l, "rep", &rep) == -1 || get(l, "ssrc") == NULL ||
	    get(l, "sdst") == NULL || (tr->key = strdup(key)) == NULL) {
		log_warnx("a malformed connection");
		return -1;
	}
	tr->st.dir = strcmp(dir, "in") == 0 ? RELAY_INBOUND : RELAY_OUTBOUND;
	tr->st.series = metrics_tcp_series(rep, get(l, "ssrc"), get(l, "sdst"));
	for (i = 0; i < RELAY_NFDS; i++) {
		if (recv_line(&f, &fd) == -1)
			return -1;
		/* A pipe comes only if its half holds bytes (relay.h). */
		if (strcmp(f.verb, "relayfd") != 0 || (fd == -1 && (i < 2 ||
		    (i < 4 ? tr->st.up.held : tr->st.down.held) != 0))) {
			if (fd != -1)
				close(fd);
			log_warnx("%s: a connection's descriptor missing", key);
			return -1;
		}
		tr->st.fds[i] = fd;
	}
	return 0;
}

static void
taken_relay_free(struct taken_relay *tr)
{
	int i;

	for (i = 0; i < RELAY_NFDS; i++)
		if (tr->st.fds[i] != -1)
			close(tr->st.fds[i]);
	free(tr->key);
}

static int
take_series(const struct line *l)
{
	struct metrics_series_state	 s;
	uintmax_t			 v[7];

	memset(&s, 0, sizeof(s));
	if (get_int(l, "rep", &s.source_reporter) == -1 ||
	    get(l, "src") == NULL || get(l, "dst") == NULL ||
	    get_u64(l, "opened", &s.opened) == -1 ||
	    sscanf(get(l, "closed") != NULL ? get(l, "closed") : "", "%ju,%ju",
	    &v[0], &v[1]) != 2 ||
	    sscanf(get(l, "received") != NULL ? get(l, "received") : "",
	    "%ju,%ju", &v[2], &v[3]) != 2 ||
	    sscanf(get(l, "sent") != NULL ? get(l, "sent") : "", "%ju,%ju",
	    &v[4], &v[5]) != 2)
		return -1;
	snprintf(s.src, sizeof(s.src), "%s", get(l, "src"));
	snprintf(s.dst, sizeof(s.dst), "%s", get(l, "dst"));
	s.closed[0] = v[0];
	s.closed[1] = v[1];
	s.received[0] = v[2];
	s.received[1] = v[3];
	s.sent[0] = v[4];
	s.sent[1] = v[5];
	metrics_add_series(&s);
	return 0;
}

static int
take_totals(const struct line *l)
{
	struct metrics_totals	t;
	uintmax_t		h[3], z[6];

	memset(&t, 0, sizeof(t));
	if (sscanf(get(l, "handoffs") != NULL ? get(l, "handoffs") : "",
	    "%ju,%ju,%ju", &h[0], &h[1], &h[2]) != 3 ||
	    sscanf(get(l, "zds") != NULL ? get(l, "zds") : "",
	    "%ju,%ju,%ju,%ju,%ju,%ju", &z[0], &z[1], &z[2], &z[3], &z[4],
	    &z[5]) != 6 || get_u64(l, "started", &t.started) == -1 ||
	    get_u64(l, "stopped", &t.stopped) == -1)
		return -1;
	for (int i = 0; i < 3; i++)
		t.handoffs[i] = h[i];
	for (int i = 0; i < 6; i++)
		t.zds[i] = z[i];
	metrics_add_totals(&t);
	return 0;
}

int
handover_take(int *have_pods)
{
	struct taken_relay	*relays = NULL, *tr;
	struct line		 l;
	uint64_t		 n, npods = 0;
	size_t			 nrelays = 0, i;
	int			 fd, rc = -1;

	*have_pods = 0;
	send_line("next");
	/* The pods, each with its namespace and listeners. */
	for (;;) {
		if (recv_line(&l, &fd) == -1)
			goto out;
		if (strcmp(l.verb, "pods") == 0)
			break;
		if (strcmp(l.verb, "pod") != 0) {
			if (fd != -1)
				close(fd);
			log_warnx("an unexpected %s among the pods", l.verb);
			goto out;
		}
		if (take_pod(&l, fd, &npods) == -1)
			goto out;
	}
	if (fd != -1)
		close(fd);
	if (get_u64(&l, "n", &n) == -1 || n != npods) {
		log_warnx("%ju pods taken of %s", (uintmax_t)npods,
		    get(&l, "n") != NULL ? get(&l, "n") : "?");
		goto out;
	}
	send_line("taken what=pods n=%ju", (uintmax_t)npods);
	*have_pods = 1;
	log_info("took %ju pods with their listeners", (uintmax_t)npods);

	/* The counters, then the connections, held until the old instance
	 * says it let go of them: bytes move on one side only. */
	for (;;) {
		if (recv_line(&l, &fd) == -1)
			goto out;
		if (fd != -1 && strcmp(l.verb, "relayfd") != 0) {
			close(fd);
			log_warnx("a descriptor with %s", l.verb);
			goto out;
		}
		if (strcmp(l.verb, "relays") == 0)
			break;
		if (strcmp(l.verb, "series") == 0 && take_series(&l) == 0)
			continue;
		if (strcmp(l.verb, "totals") == 0 && take_totals(&l) == 0)
			continue;
		if (strcmp(l.verb, "relay") != 0) {
			log_warnx("an unexpected or malformed %s", l.verb);
			goto out;
		}
		if ((tr = reallocarray(relays, nrelays + 1,
		    sizeof(*relays))) == NULL) {
			log_warn("taking a connection");
			goto out;
		}
		relays = tr;
		if (take_relay(&l, &relays[nrelays++]) == -1)
			goto out;
	}
	if (get_u64(&l, "n", &n) == -1 || n != nrelays) {
		log_warnx("%zu connections taken of %s", nrelays,
		    get(&l, "n") != NULL ? get(&l, "n") : "?");
		goto out;
	}
	send_line("taken what=relays n=%zu", nrelays);
	if (recv_line(&l, &fd) == -1 || strcmp(l.verb, "done") != 0) {
		if (fd != -1)
			close(fd);
		log_warnx("pid %ld never let go of the connections: leaving "
		    "them to it", (long)hs.old_pid);
		goto out;
	}
	for (i = 0; i < nrelays; i++) {
		if (pods_adopt_relay(relays[i].key, &relays[i].st) == -1)
			log_warn("%s: a connection", relays[i].key);
		/* pods_adopt_relay() owns the descriptors now. */
		memset(relays[i].st.fds, -1, sizeof(relays[i].st.fds));
	}
	log_info("took %zu connections from pid %ld", nrelays,
	    (long)hs.old_pid);
	rc = 0;
out:
	for (i = 0; i < nrelays; i++)
		taken_relay_free(&relays[i]);
	free(relays);
	close(hs.fd);
	hs.fd = -1;
	return rc;
}
