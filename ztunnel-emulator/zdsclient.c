/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zdsclient.c: ztunnel's side of ZDS.  We connect to the node agent (it
 * listens), say hello, and answer each request with exactly one ack:
 *
 *   connect ─► hello ─► Add/Keep ... ─► SnapshotSent ─► Add/Del ...
 *                        (snapshot)      (reconcile)     (incremental)
 *
 * Every pod added or kept on this connection survives SnapshotSent; every
 * other ZDS pod is removed then.  When the agent goes away we reconnect
 * with backoff, and the pods keep serving meanwhile.
 *
 * Like ztunnel, a message we cannot read (bad protobuf, truncated,
 * descriptors where none belong or missing) is answered with an error and
 * ends the connection: the next snapshot puts both sides in step again.
 * Unlike ztunnel, misuse it would die on (Keep after SnapshotSent, a second
 * SnapshotSent, Add without workload_info) is answered with an error and
 * nothing else.
 */
#define LOG_TARGET "zds"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ev.h"
#include "fdpass.h"
#include "log.h"
#include "metrics.h"
#include "pods.h"
#include "udsock.h"
#include "text.h"
#include "util.h"
#include "wire.h"
#include "zds.h"
#include "zdsclient.h"

#define ZDS_BACKOFF_MIN_MS	20
#define ZDS_BACKOFF_MAX_MS	15000

static struct {
	const char	*path;		/* NULL: off */
	struct udsock_allow allow;
	struct ev_io	 io;		/* io.fd -1: not connected */
	struct ev_timer	 reconnect;
	int		 snapshot_done;
	unsigned	 gen;		/* counts connections */
	uint64_t	 backoff_ms;
	int		 quiet;		/* connect failures logged once */
} zc = { .io = { .fd = -1 } };

/* What the connection does after answering a request. */
enum after {
	STAY,
	DROP,
};

static void	zds_connect(void *);
static void	zds_drop(const char *why);
static void	zds_event(void *, uint32_t);
static enum after handle(const struct zds_request *, int nsfd, char *err,
		    size_t errlen);

void
zdsclient_start(const char *path, const struct udsock_allow *allow)
{
	zc.path = path;
	zc.allow = *allow;
	zc.backoff_ms = ZDS_BACKOFF_MIN_MS;
	ev_timer_init(&zc.reconnect, zds_connect, NULL);
	zds_connect(NULL);
}

/* Try again later, and later still each time in a row that it fails. */
static void
backoff(void)
{
	ev_timer_at(&zc.reconnect, monotonic_ms() + zc.backoff_ms);
	zc.backoff_ms *= 2;
	if (zc.backoff_ms > ZDS_BACKOFF_MAX_MS)
		zc.backoff_ms = ZDS_BACKOFF_MAX_MS;
}

static void
zds_connect(void *arg)
{
	struct ucred	cred;
	uint8_t		hello[8];
	ssize_t		n;
	int		fd, allowed;

	(void)arg;
	fd = udsock_connect(zc.path, SOCK_SEQPACKET | SOCK_NONBLOCK);
	if (fd == -1) {
		/* A missing agent is normal while it starts: say so once. */
		if (!zc.quiet)
			log_info("connect %s: %s; retrying", zc.path,
			    strerror(errno));
		zc.quiet = 1;
		backoff();
		return;
	}
	if ((allowed = udsock_peer_allowed(fd, &zc.allow, &cred)) != 1) {
		if (allowed == -1)
			log_warn("%s: SO_PEERCRED", zc.path);
		else
			log_warnx("%s: refusing the agent there, pid %ld "
			    "uid %ld: not root, not us, not --allow-uid",
			    zc.path, (long)cred.pid, (long)cred.uid);
		close(fd);
		backoff();
		return;
	}
	n = zds_encode_hello(hello, sizeof(hello), ZDS_VERSION_V1);
	if (n == -1 || send(fd, hello, (size_t)n, MSG_NOSIGNAL) != n ||
	    ev_io_add(&zc.io, fd, EPOLLIN, zds_event, NULL) == -1) {
		log_warn("hello to %s", zc.path);
		close(fd);
		backoff();
		return;
	}
	zc.gen++;
	zc.snapshot_done = 0;
	zc.quiet = 0;
	log_info("connected to %s, hello sent", zc.path);
}

/* The session ends; pods stay.  The backoff grows until a session gets
 * as far as a whole snapshot: an agent that accepts and hangs up at once
 * is not hammered. */
static void
zds_drop(const char *why)
{
	if (zc.io.fd == -1)
		return;
	log_warnx("%s; pods keep serving, reconnecting", why);
	ev_io_close(&zc.io);
	backoff();
}

void
zdsclient_status(int *on, int *connected, int *snapshot)
{
	*on = zc.path != NULL;
	*connected = zc.io.fd != -1;
	*snapshot = zc.snapshot_done;
}

void
zdsclient_stop(void)
{
	ev_io_close(&zc.io);
	ev_timer_stop(&zc.reconnect);
	zc.path = NULL;
}

static int
send_ack(const char *error)
{
	uint8_t	buf[ZDS_MSG_MAX];
	ssize_t	n;

	if ((n = zds_encode_ack(buf, sizeof(buf), error)) == -1)
		n = zds_encode_ack(buf, sizeof(buf), "error too long to send");
	/* The agent waits for each ack before its next request, so the
	 * socket always has room; if not, it is not reading at all. */
	if (send(zc.io.fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		zds_drop("cannot send an ack");
		return -1;
	}
	return 0;
}

/*
 * One request per wake-up: the agent sends the next only after our ack, so
 * a second read would only ever say EAGAIN.  (Should an agent pipeline,
 * the socket stays readable and epoll brings us back at once.)
 */
static void
zds_event(void *arg, uint32_t events)
{
	struct zds_request	 req;
	uint8_t			 buf[ZDS_MSG_MAX];
	char			 err[WIRE_REPLY_MAX];
	const char		*what;
	enum after		 after;
	ssize_t			 n;
	int			 nsfd;

	(void)arg;
	(void)events;
	n = fdpass_recv(zc.io.fd, buf, sizeof(buf), &nsfd);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1) {
		/* Truncated datagram or control data, several fds: the
		 * descriptors are closed already. */
		snprintf(err, sizeof(err), "receive: %s",
		    fdpass_strerror(errno));
		if (send_ack(err) == 0)
			zds_drop(err);
		return;
	}
	if (n == 0 && nsfd != -1) {
		/* An empty datagram, but with a descriptor: not a hang-up. */
		close(nsfd);
		if (send_ack("malformed request: empty, with a descriptor") == 0)
			zds_drop("an empty request with a descriptor");
		return;
	}
	if (n == 0) {
		zds_drop("the node agent closed the connection");
		return;
	}
	if (zds_decode_request(buf, (size_t)n, &req, &what) == -1) {
		snprintf(err, sizeof(err), "malformed request: %s", what);
		after = DROP;
	} else {
		after = handle(&req, nsfd, err, sizeof(err));
	}
	if (nsfd != -1)
		close(nsfd);
	if (send_ack(err) == 0 && after == DROP)
		zds_drop(err);
}

/* Remove every ZDS pod this connection neither added nor kept. */
static void
reconcile(void)
{
	size_t kept, removed, pending;

	pods_zds_sweep(zc.gen, &kept, &pending, &removed);
	log_info("snapshot done: %zu pods (%zu pending), %zu removed%s",
	    kept, pending, removed, pending == 0 ? "; ready" : "");
}

/* Validate and act on one decoded request; err gets the ack's text. */
static enum after
handle(const struct zds_request *req, int nsfd, char *err, size_t errlen)
{
	struct pod_req	 add = { POD_ZDS, req->uid, "", "", nsfd };
	struct pod	*pod;
	char		 workload[2 * ZDS_STR_MAX + 2];

	err[0] = '\0';
	metrics_zds_message((int)req->type);
	log_debug("%s %s%s", zds_type_name(req->type), req->uid,
	    nsfd != -1 ? " + fd" : "");
	/* Exactly one descriptor with Add, none with anything else: like
	 * ztunnel, a wrong count ends the connection. */
	if (req->type == ZDS_ADD && nsfd == -1) {
		snprintf(err, errlen, "add %s: no netns descriptor attached",
		    req->uid);
		return DROP;
	}
	if (req->type != ZDS_ADD && nsfd != -1) {
		snprintf(err, errlen, "a descriptor came with %s, which takes "
		    "none", zds_type_name(req->type));
		return DROP;
	}
	switch (req->type) {
	case ZDS_ADD:
		if (!req->has_info) {
			snprintf(err, errlen, "add %s: no workload_info",
			    req->uid);
			break;
		}
		/* The same rule for names everywhere (text.h). */
		if (!text_name_ok(req->uid) || !text_name_ok(req->info.name) ||
		    (req->info.namespace[0] != '\0' &&
		    !text_name_ok(req->info.namespace)) ||
		    (req->info.service_account[0] != '\0' &&
		    !text_name_ok(req->info.service_account))) {
			snprintf(err, errlen, "add: uid, name, namespace and "
			    "service account must each be 1 to %d bytes of "
			    "printable UTF-8, no spaces", WIRE_NAME_MAX);
			break;
		}
		add.service_account = req->info.service_account;
		snprintf(workload, sizeof(workload), "%s%s%s",
		    req->info.namespace, req->info.namespace[0] ? "/" : "",
		    req->info.name);
		add.workload = workload;
		/* pod_add logs for itself.  A pending pod is acked with its
		 * error, and keeps trying. */
		switch (pod_add(&add, &pod, err, errlen)) {
		case POD_LISTENING:
			err[0] = '\0';
			pod_zds_claim(pod, zc.gen);
			break;
		case POD_PENDING_RETRY:
			pod_zds_claim(pod, zc.gen);
			break;
		case POD_REFUSED:
		default:
			break;
		}
		return STAY;
	case ZDS_KEEP:
		if (zc.snapshot_done) {
			snprintf(err, errlen, "keep %s after snapshot_sent",
			    req->uid);
			break;
		}
		if ((pod = pod_byname(req->uid)) != NULL)
			pod_zds_claim(pod, zc.gen);
		break;
	case ZDS_DEL:
		/* Deleting what we do not have is already done. */
		if ((pod = pod_byname(req->uid)) != NULL &&
		    pod_origin(pod) == POD_ZDS)
			pod_del(pod, "deleted by the node agent");
		break;
	case ZDS_SNAPSHOT_SENT:
		if (zc.snapshot_done) {
			snprintf(err, errlen, "a second snapshot_sent");
			break;
		}
		zc.snapshot_done = 1;
		/* A healthy session: the next reconnect may be quick. */
		zc.backoff_ms = ZDS_BACKOFF_MIN_MS;
		reconcile();
		break;
	case ZDS_NONE:
	default:
		snprintf(err, errlen, "request of no known kind");
		break;
	}
	if (err[0] != '\0')
		log_warnx("%s %s: %s", zds_type_name(req->type), req->uid,
		    err);
	return STAY;
}
