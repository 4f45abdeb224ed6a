/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zds.c: ztunnel's side of ZDS.  We connect to the node agent (it
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
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "fdpass.h"
#include "log.h"
#include "udsock.h"
#include "util.h"
#include "zds.h"
#include "ztunnel.h"

#define ZDS_BACKOFF_MIN_MS	20
#define ZDS_BACKOFF_MAX_MS	15000

/* What the connection does after answering a request. */
enum after {
	STAY,
	DROP,
};

static void	zds_connect(struct ztunnel *);
static void	zds_drop(struct ztunnel *, const char *why);
static enum after handle(struct ztunnel *, const struct zds_request *,
		    int nsfd, char *err, size_t errlen);

void
zds_start(struct ztunnel *zt, const char *path)
{
	zt->zds_path = path;
	zt->zds_fd = -1;
	zt->zds_src.kind = SRC_ZDS;
	zt->zds_backoff_ms = ZDS_BACKOFF_MIN_MS;
	zds_connect(zt);
}

int
zds_timeout(struct ztunnel *zt, uint64_t now)
{
	if (zt->zds_path == NULL || zt->zds_fd != -1)
		return -1;
	return ms_until(zt->zds_retry_ms, now);
}

void
zds_tick(struct ztunnel *zt, uint64_t now)
{
	if (zt->zds_path != NULL && zt->zds_fd == -1 && zt->zds_retry_ms <= now)
		zds_connect(zt);
}

static void
zds_connect(struct ztunnel *zt)
{
	uint8_t	hello[8];
	ssize_t	n;
	int	fd;

	fd = udsock_connect(zt->zds_path, SOCK_SEQPACKET | SOCK_NONBLOCK);
	if (fd == -1) {
		/* A missing agent is normal while it starts: say so once. */
		if (!zt->zds_quiet)
			log_info("zds: connect %s: %s; retrying", zt->zds_path,
			    strerror(errno));
		zt->zds_quiet = 1;
		zt->zds_retry_ms = monotonic_ms() + zt->zds_backoff_ms;
		zt->zds_backoff_ms *= 2;
		if (zt->zds_backoff_ms > ZDS_BACKOFF_MAX_MS)
			zt->zds_backoff_ms = ZDS_BACKOFF_MAX_MS;
		return;
	}
	n = zds_encode_hello(hello, sizeof(hello), ZDS_VERSION_V1);
	if (n == -1 || send(fd, hello, (size_t)n, MSG_NOSIGNAL) != n ||
	    ev_watch(zt, fd, EPOLLIN, &zt->zds_src) == -1) {
		log_warn("zds: hello to %s", zt->zds_path);
		close(fd);
		zt->zds_retry_ms = monotonic_ms() + zt->zds_backoff_ms;
		return;
	}
	zt->zds_fd = fd;
	zt->zds_gen++;
	zt->zds_snapshot_done = 0;
	zt->zds_quiet = 0;
	zt->zds_backoff_ms = ZDS_BACKOFF_MIN_MS;
	log_info("zds: connected to %s, hello sent", zt->zds_path);
}

static void
zds_drop(struct ztunnel *zt, const char *why)
{
	if (zt->zds_fd == -1)
		return;
	log_warnx("zds: %s; pods keep serving, reconnecting", why);
	close(zt->zds_fd);
	zt->zds_fd = -1;
	zt->zds_retry_ms = monotonic_ms() + zt->zds_backoff_ms;
}

void
zds_stop(struct ztunnel *zt)
{
	if (zt->zds_fd != -1)
		close(zt->zds_fd);
	zt->zds_fd = -1;
	zt->zds_path = NULL;
}

static int
send_ack(struct ztunnel *zt, const char *error)
{
	uint8_t	buf[ZDS_MSG_MAX];
	ssize_t	n;

	if ((n = zds_encode_ack(buf, sizeof(buf), error)) == -1)
		n = zds_encode_ack(buf, sizeof(buf), "error too long to send");
	/* The agent waits for each ack before its next request, so the
	 * socket always has room; if not, it is not reading at all. */
	if (send(zt->zds_fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		zds_drop(zt, "cannot send an ack");
		return -1;
	}
	return 0;
}

/*
 * One request per wake-up: the agent sends the next only after our ack, so
 * a second read would only ever say EAGAIN.  (Should an agent pipeline,
 * the socket stays readable and epoll brings us back at once.)
 */
void
zds_event(struct ztunnel *zt, uint32_t events)
{
	struct zds_request	 req;
	uint8_t			 buf[ZDS_MSG_MAX];
	char			 err[WIRE_REPLY_MAX];
	const char		*what;
	enum after		 after;
	ssize_t			 n;
	int			 nsfd;

	(void)events;
	if (zt->zds_fd == -1)
		return;
	n = fdpass_recv(zt->zds_fd, buf, sizeof(buf), &nsfd);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1) {
		/* Truncated datagram or control data, several fds: the
		 * descriptors are closed already. */
		snprintf(err, sizeof(err), "receive: %s",
		    fdpass_strerror(errno));
		if (send_ack(zt, err) == 0)
			zds_drop(zt, err);
		return;
	}
	if (n == 0) {
		zds_drop(zt, "the node agent closed the connection");
		return;
	}
	if (zds_decode_request(buf, (size_t)n, &req, &what) == -1) {
		snprintf(err, sizeof(err), "malformed request: %s", what);
		after = DROP;
	} else {
		after = handle(zt, &req, nsfd, err, sizeof(err));
	}
	if (nsfd != -1)
		close(nsfd);
	if (send_ack(zt, err) == 0 && after == DROP)
		zds_drop(zt, err);
}

/* Remove every ZDS pod this connection neither added nor kept. */
static void
reconcile(struct ztunnel *zt)
{
	struct pod	*pod, *next;
	size_t		 kept = 0, removed = 0, pending = 0;

	for (pod = TAILQ_FIRST(&zt->pods.all); pod != NULL; pod = next) {
		next = TAILQ_NEXT(pod, entry);
		if (pod->origin != POD_ZDS)
			continue;
		if (pod->zds_gen == zt->zds_gen) {
			kept++;
			pending += pod->state == POD_PENDING;
			continue;
		}
		pod_del(zt, pod, "not in the snapshot, removed");
		removed++;
	}
	log_info("zds: snapshot done: %zu pods (%zu pending), %zu removed%s",
	    kept, pending, removed, pending == 0 ? "; ready" : "");
}

/* Validate and act on one decoded request; err gets the ack's text. */
static enum after
handle(struct ztunnel *zt, const struct zds_request *req, int nsfd,
    char *err, size_t errlen)
{
	struct pod_req	 add = { POD_ZDS, req->uid, "", nsfd };
	struct pod	*pod;
	char		 workload[2 * ZDS_STR_MAX + 2];

	err[0] = '\0';
	log_debug("zds: %s %s%s", zds_type_name(req->type), req->uid,
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
		if (!wire_name_ok(req->uid)) {
			snprintf(err, errlen, "add: uid must be 1 to %d "
			    "printable characters, no spaces", WIRE_NAME_MAX);
			break;
		}
		snprintf(workload, sizeof(workload), "%s%s%s",
		    req->info.namespace, req->info.namespace[0] ? "/" : "",
		    req->info.name);
		add.workload = workload;
		/* pod_add logs for itself.  A pending pod is acked with its
		 * error, and keeps trying. */
		if (pod_add(zt, &add, &pod, err, errlen) != POD_REFUSED) {
			pod->zds_gen = zt->zds_gen;
			if (pod->state == POD_UP)
				err[0] = '\0';
		}
		return STAY;
	case ZDS_KEEP:
		if (zt->zds_snapshot_done) {
			snprintf(err, errlen, "keep %s after snapshot_sent",
			    req->uid);
			break;
		}
		if ((pod = pods_byname(&zt->pods, req->uid)) != NULL &&
		    pod->origin == POD_ZDS)
			pod->zds_gen = zt->zds_gen;
		break;
	case ZDS_DEL:
		/* Deleting what we do not have is already done. */
		if ((pod = pods_byname(&zt->pods, req->uid)) != NULL &&
		    pod->origin == POD_ZDS)
			pod_del(zt, pod, "deleted by the node agent");
		break;
	case ZDS_SNAPSHOT_SENT:
		if (zt->zds_snapshot_done) {
			snprintf(err, errlen, "a second snapshot_sent");
			break;
		}
		zt->zds_snapshot_done = 1;
		reconcile(zt);
		break;
	case ZDS_NONE:
	default:
		snprintf(err, errlen, "request of no known kind");
		break;
	}
	if (err[0] != '\0')
		log_warnx("zds: %s %s: %s", zds_type_name(req->type), req->uid,
		    err);
	return STAY;
}
