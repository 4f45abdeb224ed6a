/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pods.c: a pod's life in the daemon.  pod_add() is the handoff: whoever
 * received the namespace descriptor (the control socket, ZDS) calls it and
 * sends back what it says.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "ztunnel.h"

static const char	*derive_name(const struct nsid *, char *, size_t);
static enum pod_result	 refuse(char *, size_t, const char *, ...)
			    __attribute__((format(printf, 3, 4)));
static void		 explain(const struct listen_error *,
			    const struct pod *, char *, size_t);
static int		 pend(struct ztunnel *, struct pod *, int nsfd,
			    const char *err);

/*
 * Give the pod behind req->nsfd its listeners.  Returns POD_LISTENING when
 * the pod listens (now, or already did), POD_PENDING_RETRY when a ZDS pod
 * could not listen yet and will be tried again, POD_REFUSED otherwise;
 * err says why.  *podp is the pod, unless refused.  Logs the outcome.
 */
enum pod_result
pod_add(struct ztunnel *zt, const struct pod_req *req, struct pod **podp,
    char *err, size_t errlen)
{
	struct listen_error	 e;
	struct nsid		 id;
	struct pod		*pod, *other;
	const char		*key = req->key;
	char			 derived[NAME_MAX + 1];

	*podp = NULL;
	if (req->nsfd == -1)
		return refuse(err, errlen, "no netns descriptor attached");
	if (netns_check(req->nsfd, &id) == -1)
		return refuse(err, errlen, "descriptor is not a network "
		    "namespace: %s", errno == EINVAL ? "wrong kind of file" :
		    strerror(errno));
	/* Listeners there would be the node's own 127.0.0.1:15008. */
	if (nsid_equal(&id, &zt->home_id))
		return refuse(err, errlen, "that is the daemon's own network "
		    "namespace, not a pod's");
	if (key == NULL)
		key = derive_name(&id, derived, sizeof(derived));

	if ((pod = pods_byname(&zt->pods, key)) != NULL) {
		if (pod->origin != req->origin)
			return refuse(err, errlen, "%s is taken by a pod added "
			    "over %s", key, pod->origin == POD_ZDS ? "ZDS" :
			    "the control socket");
		if (nsid_equal(&pod->ns, &id) && pod->state == POD_UP) {
			log_info("add %s net:[%ju]: already listening",
			    pod_label(pod), (uintmax_t)id.ino);
			*podp = pod;
			return POD_LISTENING;
		}
		/* Same name, new namespace (the pod was recreated), or a
		 * pending pod sent again: start over. */
		if (!nsid_equal(&pod->ns, &id))
			log_info("add %s net:[%ju]: replaces net:[%ju]",
			    pod_label(pod), (uintmax_t)id.ino,
			    (uintmax_t)pod->ns.ino);
		pod_drop(zt, pod);
	}
	if ((other = pods_byns(&zt->pods, &id)) != NULL) {
		if (req->origin == POD_CONTROL && other->origin == POD_CONTROL &&
		    other->state == POD_UP) {
			log_info("add %s net:[%ju]: already listening as %s",
			    key, (uintmax_t)id.ino, other->name);
			*podp = other;
			return POD_LISTENING;
		}
		return refuse(err, errlen, "netns net:[%ju] already belongs to "
		    "pod %s", (uintmax_t)id.ino, pod_label(other));
	}

	/* Make room in the table first: listeners we could not record
	 * would be listeners nobody can remove. */
	if ((pod = pod_new(key, req->workload, &id)) == NULL ||
	    pods_insert(&zt->pods, pod) == -1) {
		free(pod);
		return refuse(err, errlen, "out of memory");
	}
	pod->origin = req->origin;
	pod->added_ms = monotonic_ms();
	if (listen_open(zt, pod, req->nsfd, &e) == -1) {
		explain(&e, pod, err, errlen);
		if (req->origin == POD_ZDS && pend(zt, pod, req->nsfd, err) == 0) {
			*podp = pod;
			return POD_PENDING_RETRY;
		}
		log_warnx("add %s net:[%ju]: %s", key, (uintmax_t)id.ino, err);
		pods_remove(&zt->pods, pod);
		free(pod);
		return POD_REFUSED;
	}
	log_info("add %s net:[%ju]: listening on 127.0.0.1:%u,%u,%u",
	    pod_label(pod), (uintmax_t)id.ino, zt_ports[0], zt_ports[1],
	    zt_ports[2]);
	printf("%s\n", WIRE_READY);
	*podp = pod;
	return POD_LISTENING;
}

/*
 * A ZDS pod that could not listen stays, without listeners, holding its own
 * copy of the namespace descriptor, and is tried again every
 * POD_RETRY_MS until it works or is deleted: what ztunnel does.
 */
static int
pend(struct ztunnel *zt, struct pod *pod, int nsfd, const char *err)
{
	if ((pod->nsfd = fcntl(nsfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("add %s: keeping the netns to retry", pod_label(pod));
		return -1;
	}
	pod->state = POD_PENDING;
	pod->retry_ms = monotonic_ms() + POD_RETRY_MS;
	TAILQ_INSERT_TAIL(&zt->pending, pod, pending_entry);
	log_warnx("add %s net:[%ju]: %s; pending, retrying every %d s",
	    pod_label(pod), (uintmax_t)pod->ns.ino, err, POD_RETRY_MS / 1000);
	return 0;
}

int
pods_retry_timeout(struct ztunnel *zt, uint64_t now)
{
	struct pod *pod = TAILQ_FIRST(&zt->pending);

	if (pod == NULL)
		return -1;
	return ms_until(pod->retry_ms, now);
}

void
pods_retry(struct ztunnel *zt, uint64_t now)
{
	struct listen_error	 e;
	struct pod		*pod;
	char			 err[WIRE_REPLY_MAX];

	/* All wait the same interval, so the list is in retry order. */
	while ((pod = TAILQ_FIRST(&zt->pending)) != NULL &&
	    pod->retry_ms <= now) {
		TAILQ_REMOVE(&zt->pending, pod, pending_entry);
		if (listen_open(zt, pod, pod->nsfd, &e) == -1) {
			explain(&e, pod, err, sizeof(err));
			log_debug("retry %s net:[%ju]: %s", pod_label(pod),
			    (uintmax_t)pod->ns.ino, err);
			pod->retry_ms = now + POD_RETRY_MS;
			TAILQ_INSERT_TAIL(&zt->pending, pod, pending_entry);
			continue;
		}
		close(pod->nsfd);
		pod->nsfd = -1;
		pod->state = POD_UP;
		log_info("retry %s net:[%ju]: listening on 127.0.0.1:%u,%u,%u",
		    pod_label(pod), (uintmax_t)pod->ns.ino, zt_ports[0],
		    zt_ports[1], zt_ports[2]);
		printf("%s\n", WIRE_READY);
	}
}

/* How logs and lists show a pod: its workload if ZDS named one. */
const char *
pod_label(const struct pod *pod)
{
	return pod->workload[0] != '\0' ? pod->workload : pod->name;
}

/* A seed request carries no name: use the namespace's name under
 * /var/run/netns if it has one (as `ip netns identify` would), else one
 * made from its inode. */
static const char *
derive_name(const struct nsid *id, char *name, size_t size)
{
	if (netns_identify(id, name, size) == -1 || !wire_name_ok(name))
		snprintf(name, size, "ns-%ju", (uintmax_t)id->ino);
	return name;
}

static enum pod_result
refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	log_warnx("add: %s", err);
	return POD_REFUSED;
}

/* The failure of a handoff as one line, with the fix when it is known. */
static void
explain(const struct listen_error *e, const struct pod *pod, char *err,
    size_t errlen)
{
	const char	*name = pod_label(pod);
	char		 nsname[NAME_MAX + 1];

	if (e->port != 0)
		snprintf(err, errlen, "%s 127.0.0.1:%u in netns %s: %s%s",
		    e->what, e->port, name, strerror(e->err),
		    e->err == EADDRINUSE ? " (a process in the pod holds "
		    "the port)" : "");
	else if (e->err == ENETDOWN && netns_identify(&pod->ns, nsname,
	    sizeof(nsname)) == 0)
		/* The pod's name need not be the netns's: look it up. */
		snprintf(err, errlen, "loopback is down in netns %s, nothing "
		    "there could connect; fix: ip -n %s link set lo up",
		    name, nsname);
	else if (e->err == ENETDOWN)
		snprintf(err, errlen, "loopback is down in netns %s "
		    "(net:[%ju]), nothing there could connect; fix: bring lo "
		    "up inside it", name, (uintmax_t)pod->ns.ino);
	else if (e->err == EPERM)
		snprintf(err, errlen, "%s into netns %s: %s (the daemon needs "
		    "CAP_SYS_ADMIN: run it as root)", e->what, name,
		    strerror(e->err));
	else
		snprintf(err, errlen, "%s in netns %s: %s", e->what, name,
		    strerror(e->err));
}

/* Remove a pod on request: its listeners close, and with them the last
 * references the daemon held to its namespace. */
void
pod_del(struct ztunnel *zt, struct pod *p, const char *why)
{
	log_info("del %s net:[%ju]: %s%s after %ju connections",
	    pod_label(p), (uintmax_t)p->ns.ino, why,
	    p->state == POD_PENDING ? " (was pending)" : "",
	    (uintmax_t)p->served);
	pod_drop(zt, p);
}

void
pod_drop(struct ztunnel *zt, struct pod *p)
{
	pods_remove(&zt->pods, p);
	listen_close(p);
	if (p->state == POD_PENDING) {
		TAILQ_REMOVE(&zt->pending, p, pending_entry);
		close(p->nsfd);
		p->nsfd = -1;
	}
	TAILQ_INSERT_TAIL(&zt->dead_pods, p, entry);
}

void
pods_reap(struct ztunnel *zt)
{
	struct pod *p;

	while ((p = TAILQ_FIRST(&zt->dead_pods)) != NULL) {
		TAILQ_REMOVE(&zt->dead_pods, p, entry);
		free(p);
		zt->freed_since_trim++;
	}
#ifdef __GLIBC__
	/*
	 * free() gives back only the top of the heap; pods freed below a
	 * live allocation keep their pages.  After a wave of removals, hand
	 * free pages back for real: once per POD_TRIM_EVERY removals, and
	 * when the last pod goes.  Amortised, removing stays as cheap as
	 * adding.
	 */
	if (zt->freed_since_trim >= POD_TRIM_EVERY ||
	    (zt->freed_since_trim > 0 && zt->pods.count == 0)) {
		malloc_trim(0);
		zt->freed_since_trim = 0;
	}
#endif
}
