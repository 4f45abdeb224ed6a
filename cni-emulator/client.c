/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c: cni-emulator's one-shot client (see client.h).  One request
 * per connection: open the namespace, connect, send the request with the
 * descriptor, read the one answer within the deadline, and say what
 * happened as an exit status.
 */
#define LOG_TARGET NULL	/* the program's name */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "client.h"
#include "fdpass.h"
#include "log.h"
#include "netns.h"
#include "redirect.h"
#include "text.h"
#include "udsock.h"
#include "util.h"
#include "wire.h"

#define MAX_REPLY		(64 << 20)	/* a list of ~500k pods */

/* Open and check the namespace; one line and -1 on failure. */
static int
open_netns(const char *arg)
{
	char		path[PATH_MAX];
	struct nsid	id;
	int		fd;

	if (netns_resolve(arg, path, sizeof(path)) == -1) {
		log_warn("bad netns %s", arg);
		return -1;
	}
	if ((fd = netns_open(path)) == -1) {
		log_warnx("open %s: %s%s", path, strerror(errno),
		    errno == ENOENT ? " (list them: ip netns list)" :
		    errno == EACCES ? " (run as root)" : "");
		return -1;
	}
	if (netns_check(fd, &id) == -1) {
		if (errno == EINVAL)
			log_warnx("%s: not a network namespace", path);
		else
			log_warn("%s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* The connection, or -1 and what to exit with in *status. */
static int
connect_daemon(const char *path, uint64_t timeout_ms,
    enum client_status *status)
{
	const char	*hint = "";
	int		 fd;

	if ((fd = udsock_connect_timeout(path, SOCK_STREAM,
	    (int)timeout_ms)) != -1)
		return fd;
	switch (errno) {
	case ETIMEDOUT:
		log_warnx("connect %s: no room in its queue within %ju ms (the "
		    "daemon is stopped or overloaded)", path,
		    (uintmax_t)timeout_ms);
		*status = CLIENT_NOACK;
		return -1;
	case ENOENT:
		hint = " (is ztunnel-emulator running?)";
		break;
	case ECONNREFUSED:
		hint = " (a stale socket: no daemon behind it)";
		break;
	case EACCES:
		hint = " (the socket's mode keeps you out: run as its owner or "
		    "root, or see the daemon's --socket-mode)";
		break;
	default:
		break;
	}
	log_warnx("connect %s: %s%s", path, strerror(errno), hint);
	*status = CLIENT_LOCAL;
	return -1;
}

/*
 * Read the reply within the deadline: up to the first newline into line
 * (WIRE_REPLY_MAX + 1 bytes), or, whole, to the end of the stream into a
 * buffer that grows (a list).  Returns the reply, NUL-terminated, with
 * *lenp its length (0: the daemon hung up without a word); NULL with errno
 * ETIMEDOUT or another error.  A one-line reply needs no heap at all,
 * which spares a short-lived client the cost of setting one up.
 */
static char *
read_reply(int fd, char *line, int whole, uint64_t timeout_ms, size_t *lenp)
{
	uint64_t	 deadline = monotonic_ms() + timeout_ms, now;
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	size_t		 len = 0, size = WIRE_REPLY_MAX;
	char		*buf = line, *nbuf;
	ssize_t		 n;

	for (;;) {
		if ((now = monotonic_ms()) >= deadline) {
			errno = ETIMEDOUT;
			goto fail;
		}
		n = poll(&pfd, 1, ms_until(deadline, now));
		if (n == -1 && errno != EINTR)
			goto fail;
		if (n <= 0)
			continue;
		if (len == size) {
			if (!whole || size >= MAX_REPLY) {
				errno = EMSGSIZE;
				goto fail;
			}
			nbuf = realloc(buf == line ? NULL : buf, size * 2 + 1);
			if (nbuf == NULL)
				goto fail;
			if (buf == line)
				memcpy(nbuf, line, len);
			buf = nbuf;
			size *= 2;
		}
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		/* A daemon that answers before reading our request (it
		 * refused us at the door) resets the connection when it
		 * closes; its answer comes first and is whole. */
		if (n == -1 && errno == ECONNRESET && len > 0)
			break;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
		if (!whole && memchr(buf, '\n', len) != NULL)
			break;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	if (buf != line)
		free(buf);
	return NULL;
}

/*
 * Send one request (with fd, or -1: closed here whatever happens), wait
 * for the reply, and turn it into an exit status; a good reply goes to
 * stdout when show is set (a list whole).
 */
static enum client_status
exchange(const struct client_opts *o, const char *req, size_t reqlen, int fd,
    int list, int show)
{
	enum client_status status = CLIENT_OK;
	size_t	 len;
	char	 line[WIRE_REPLY_MAX + 1], *reply, *nl;
	uint64_t start = monotonic_ms(), spent;
	int	 sock, send_err = 0;

	/* One deadline for the whole exchange: -t bounds every wait. */
	if ((sock = connect_daemon(o->sock_path, o->timeout_ms,
	    &status)) == -1) {
		if (fd != -1)
			close(fd);
		return status;
	}
	if (fdpass_send(sock, req, reqlen, fd) == -1) {
		send_err = errno;
		/* Closed on us: it may have said why before it did. */
		if (send_err != EPIPE && send_err != ECONNRESET) {
			log_warnx("send to %s: %s", o->sock_path,
			    fdpass_strerror(send_err));
			if (fd != -1)
				close(fd);
			close(sock);
			return CLIENT_LOCAL;
		}
	}
	/* The daemon has its own reference now; ours has done its job. */
	if (fd != -1)
		close(fd);
	if (!o->wait && send_err == 0) {
		close(sock);
		return CLIENT_OK;
	}
	spent = monotonic_ms() - start;
	reply = read_reply(sock, line, list,
	    spent < o->timeout_ms ? o->timeout_ms - spent : 0, &len);
	close(sock);
	if ((reply == NULL || len == 0) && send_err != 0) {
		log_warnx("send to %s: %s", o->sock_path, strerror(send_err));
		if (reply != NULL && reply != line)
			free(reply);
		return CLIENT_LOCAL;
	}
	if (reply == NULL) {
		if (errno == ETIMEDOUT)
			log_warnx("no acknowledgement from %s within %ju ms "
			    "(the request was delivered; a daemon that never "
			    "answers, like the seed's, needs --no-wait)",
			    o->sock_path, (uintmax_t)o->timeout_ms);
		else
			log_warn("read from %s", o->sock_path);
		return CLIENT_NOACK;
	}
	if (len == 0) {
		log_warnx("%s closed the connection without an "
		    "acknowledgement", o->sock_path);
		status = CLIENT_NOACK;
	} else if (strncmp(reply, WIRE_ERROR, strlen(WIRE_ERROR)) == 0) {
		if ((nl = strchr(reply, '\n')) != NULL)
			*nl = '\0';
		log_warnx("daemon: %s", reply + strlen(WIRE_ERROR));
		status = CLIENT_REFUSED;
	} else if (reply[len - 1] != '\n') {
		log_warnx("%s: reply cut short", o->sock_path);
		status = CLIENT_NOACK;
	} else if (show) {
		fputs(reply, stdout);
	}
	if (reply != line)
		free(reply);
	return status;
}

/*
 * --redirect sends the pod's traffic to ztunnel's listeners, and only a
 * daemon running --proxy carries it; the seed's listeners would answer
 * every connection the pod makes with "ok".  Ask before touching the
 * pod.  CLIENT_OK if it proxies.
 */
static enum client_status
daemon_proxies(const struct client_opts *o)
{
	enum client_status status = CLIENT_OK;
	char		 req[WIRE_REQ_MAX], line[WIRE_REPLY_MAX + 1], *reply;
	size_t		 len;
	int		 sock, n;

	if ((n = wire_format(req, sizeof(req), WIRE_OP_INFO, NULL)) == -1)
		return CLIENT_USAGE;
	if ((sock = connect_daemon(o->sock_path, o->timeout_ms,
	    &status)) == -1)
		return status;
	if (fdpass_send(sock, req, (size_t)n, -1) == -1) {
		log_warnx("send to %s: %s", o->sock_path,
		    fdpass_strerror(errno));
		close(sock);
		return CLIENT_LOCAL;
	}
	reply = read_reply(sock, line, 0, o->timeout_ms, &len);
	close(sock);
	if (reply == NULL || len == 0) {
		log_warnx("%s: no answer to info", o->sock_path);
		return CLIENT_NOACK;
	}
	if (strstr(line, " mode=proxy\n") != NULL)
		return CLIENT_OK;
	log_warnx("%s runs without --proxy: the pod's traffic would reach the "
	    "seed's \"ok\" listeners; start it with --proxy, or leave out "
	    "--redirect", o->sock_path);
	return CLIENT_REFUSED;
}

/* The pod's name for netns: --name, or the namespace's own. */
static const char *
pod_name(const struct client_opts *o, const char *netns, char *buf,
    size_t size)
{
	char		 path[PATH_MAX];
	const char	*name;

	if (o->name != NULL)
		return o->name;
	if (netns_resolve(netns, path, sizeof(path)) == -1 ||
	    (name = netns_pod_name(netns, path, buf, size)) == NULL)
		return NULL;
	/* It may point into path, which is ours: a copy in buf (a name
	 * that does not fit is no name). */
	if (name != buf && (size_t)snprintf(buf, size, "%s", name) >= size)
		return NULL;
	return buf;
}

/*
 * --redirect: the pod's rules go in before the daemon hears of it, and
 * come out again if it refuses the pod (no answer at all may still mean
 * a pod that listens: its rules stay).
 */
enum client_status
client_add(const struct client_opts *o, const char *netns)
{
	enum client_status status;
	char		 req[WIRE_REQ_MAX], err[512], buf[WIRE_NAME_MAX + 1];
	const char	*name;
	int		 len, fd, keep = -1, v6;

	if ((fd = open_netns(netns)) == -1)
		return CLIENT_LOCAL;
	name = pod_name(o, netns, buf, sizeof(buf));
	if (o->seed) {
		req[0] = WIRE_SEED_ADD;
		len = 1;
	} else if (name == NULL || !text_name_ok(name) ||
	    (len = wire_format(req, sizeof(req), WIRE_OP_ADD, name)) == -1) {
		log_warnx("cannot name the pod after %s: use --name", netns);
		close(fd);
		return CLIENT_USAGE;
	}
	if (o->redirect) {
		if ((status = daemon_proxies(o)) != CLIENT_OK) {
			close(fd);
			return status;
		}
		if ((keep = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("dup");
			close(fd);
			return CLIENT_LOCAL;
		}
		if ((v6 = redirect_install(fd, err, sizeof(err))) == -1) {
			log_warnx("redirect %s: %s; nothing installed", netns,
			    err);
			close(keep);
			close(fd);
			return CLIENT_LOCAL;
		}
		if (!v6)
			log_info("redirect %s: no IPv6 on the pod's lo: IPv4 "
			    "rules only", netns);
	}
	status = exchange(o, req, (size_t)len, fd, 0, o->verbose);
	if (keep == -1)
		return status;
	if ((status == CLIENT_REFUSED || status == CLIENT_LOCAL) &&
	    redirect_remove(keep, err, sizeof(err)) == -1)
		log_warnx("redirect %s: removing the rules again: %s", netns,
		    err);
	close(keep);
	return status;
}

/*
 * --del --redirect NETNS: the pod (named after the namespace, as for an
 * add) out of the daemon first, then the rules out of the namespace.
 * The daemon closes the pod's connections as it lets the pod go, and
 * their last packets (the FINs, the app's answers to them) still need
 * the rules: the mark and table 100 bring the app's side back to the
 * daemon.  The rules come out whatever the daemon said (it may be down,
 * or never have had the pod).
 */
enum client_status
client_del(const struct client_opts *o, const char *arg)
{
	enum client_status status;
	char		 req[WIRE_REQ_MAX], err[512], buf[WIRE_NAME_MAX + 1];
	const char	*name = arg;
	int		 len, fd = -1;

	if (arg == NULL)
		return CLIENT_USAGE;
	if (o->redirect) {
		if ((fd = open_netns(arg)) == -1)
			return CLIENT_LOCAL;
		name = pod_name(o, arg, buf, sizeof(buf));
	}
	if (name == NULL ||
	    (len = wire_format(req, sizeof(req), WIRE_OP_DEL, name)) == -1) {
		log_warnx("bad pod name: %s", arg);
		if (fd != -1)
			close(fd);
		return CLIENT_USAGE;
	}
	status = exchange(o, req, (size_t)len, -1, 0, o->verbose);
	if (fd == -1)
		return status;
	if (redirect_remove(fd, err, sizeof(err)) == -1) {
		log_warnx("redirect %s: %s", arg, err);
		status = CLIENT_LOCAL;
	}
	close(fd);
	return status;
}

enum client_status
client_list(const struct client_opts *o)
{
	char	req[WIRE_REQ_MAX];
	int	len;

	/* JSON comes from the daemon, from the same view as the table. */
	if ((len = wire_format(req, sizeof(req), o->output == LIST_JSON ?
	    WIRE_OP_LIST_JSON : o->output == LIST_WIDE ? WIRE_OP_LIST_WIDE :
	    WIRE_OP_LIST, NULL)) == -1)
		return CLIENT_USAGE;
	return exchange(o, req, (size_t)len, -1, 1, 1);
}

char *
client_fetch_json(const char *path, uint64_t timeout_ms)
{
	char	 req[WIRE_REQ_MAX], line[WIRE_REPLY_MAX + 1], *reply, *copy;
	size_t	 len;
	int	 sock, n;

	if ((n = wire_format(req, sizeof(req), WIRE_OP_LIST_JSON, NULL)) == -1 ||
	    (sock = udsock_connect_timeout(path, SOCK_STREAM,
	    (int)timeout_ms)) == -1)
		return NULL;
	if (fdpass_send(sock, req, (size_t)n, -1) == -1) {
		close(sock);
		return NULL;
	}
	reply = read_reply(sock, line, 1, timeout_ms, &len);
	close(sock);
	if (reply == NULL || len == 0 || strncmp(reply, WIRE_ERROR,
	    strlen(WIRE_ERROR)) == 0) {
		if (reply != NULL && reply != line)
			free(reply);
		return NULL;
	}
	/* A short list came back in line: the caller frees what it gets. */
	if (reply == line && (copy = strdup(line)) != NULL)
		return copy;
	return reply == line ? NULL : reply;
}
