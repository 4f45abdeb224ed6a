/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pods.c: a pod's life in the daemon.  pod_add() is the handoff: whoever
 * received the namespace descriptor (the control socket, ZDS) calls it and
 * sends back what it says.  The table, the pending pods and their retries
 * are this file's alone.
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

#include "hbone.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "pods.h"
#include "text.h"
#include "util.h"
#include "wire.h"

static struct {
	struct podtab	tab;
	struct nsid	home;
	int		proxy;		/* keep each pod's namespace */
	size_t		dying;		/* dropped, not freed yet */
	unsigned	freed_since_trim;
} pods;

static struct pod	*pod_new(const char *name, const char *workload,
			    const struct nsid *, enum pod_origin);
static void		 pod_free(void *);
static void		 pod_drop(struct pod *);
static enum pod_result	 pod_listen(struct pod *, const struct pod_req *,
			    char *, size_t);
static enum pod_result	 refuse(char *, size_t, const char *, ...)
			    __attribute__((format(printf, 3, 4)));
static int		 reachable(const struct pod *, char *, size_t);
static void		 explain(const struct listen_error *,
			    const struct pod *, char *, size_t);
static void		 retry(void *);
static enum pod_result	 pending_try(struct pod *, char *, size_t);
static const char	*derive_name(const struct nsid *, char *, size_t);

int
pods_init(const struct nsid *home, int proxy)
{
	pods.home = *home;
	pods.proxy = proxy;
	listen_init(proxy);
	return podtab_init(&pods.tab);
}

void
pods_done(void)
{
	struct pod *pod;

	while ((pod = pod_first()) != NULL)
		pod_drop(pod);
	podtab_free(&pods.tab);
}

void
pod_view(const struct pod *p, struct pod_view *v)
{
	memset(v, 0, sizeof(*v));
	v->key = p->name;
	v->label = pod_label(p);
	pod_workload_parts(p, v->ns, sizeof(v->ns), &v->name);
	v->up = p->state == POD_UP;
	v->zds = p->origin == POD_ZDS;
	v->netns = (uint64_t)p->ns.ino;
	v->age_ms = monotonic_ms() - p->added_ms;
	v->served = p->served;
	v->conns_open = p->conns.nopen;
	v->conns_total = p->conns.total;
	relay_stats_bytes(&p->conns, &v->bytes_in, &v->bytes_out);
	relay_sock_states(&p->conns, &v->sockets);
	hbone_sock_states(p, &v->sockets);
	v->naddrs = p->naddrs;
	memcpy(v->addrs, p->addrs, sizeof(v->addrs));
}

struct pod *
pod_byname(const char *name)
{
	return podtab_byname(&pods.tab, name);
}

struct pod *
pod_first(void)
{
	return TAILQ_FIRST(&pods.tab.all);
}

struct pod *
pod_next(const struct pod *pod)
{
	return TAILQ_NEXT(pod, entry);
}

size_t
pod_count(void)
{
	return pods.tab.count;
}

size_t
pod_pending(void)
{
	const struct pod	*p;
	size_t			 n = 0;

	TAILQ_FOREACH(p, &pods.tab.all, entry)
		n += p->state == POD_PENDING;
	return n;
}

const char *
pod_resolve(uint32_t addr, int *mesh)
{
	const struct pod	*p;
	const char		*peer;
	unsigned		 i;

	*mesh = 1;
	TAILQ_FOREACH(p, &pods.tab.all, entry)
		for (i = 0; i < p->naddrs; i++)
			if (p->addrs[i] == addr)
				return pod_label(p);
	if ((peer = peers_lookup(addr)) != NULL)
		return peer;
	*mesh = 0;
	return NULL;
}

/* A seed request carries no name: use the namespace's name under
 * /var/run/netns if it has one (as `ip netns identify` would), else one
 * made from its inode. */
static const char *
derive_name(const struct nsid *id, char *name, size_t size)
{
	if (netns_identify(id, name, size) == -1 || !text_name_ok(name))
		snprintf(name, size, "ns-%ju", (uintmax_t)id->ino);
	return name;
}

/* An up pod asked for again: listeners nobody in the pod can reach (its
 * loopback went down since) are no success. */
static int
reachable(const struct pod *pod, char *err, size_t errlen)
{
	struct listen_error e = { "loopback", 0, ENETDOWN };

	if (listen_loopback_up(pod) != 0)
		return 1;
	explain(&e, pod, err, errlen);
	log_warnx("add %s net:[%ju]: %s", pod_label(pod),
	    (uintmax_t)pod->ns.ino, err);
	return 0;
}

/*
 * Check first, then change: every refusal below leaves the table as it
 * was, and a pod being replaced keeps serving until its successor
 * listens.
 */
enum pod_result
pod_add(const struct pod_req *req, struct pod **podp, char *err,
    size_t errlen)
{
	enum pod_result	 rc;
	struct nsid	 id;
	struct pod	*pod, *old, *other;
	const char	*key = req->key;
	char		 derived[NAME_MAX + 1];

	*podp = NULL;
	if (req->nsfd == -1)
		return refuse(err, errlen, "no netns descriptor attached");
	if (netns_check(req->nsfd, &id) == -1)
		return refuse(err, errlen, "descriptor is not a network "
		    "namespace: %s", errno == EINVAL ? "wrong kind of file" :
		    strerror(errno));
	/* Listeners there would be the node's own 127.0.0.1:15008. */
	if (nsid_equal(&id, &pods.home))
		return refuse(err, errlen, "that is the daemon's own network "
		    "namespace, not a pod's");
	if (key == NULL)
		key = derive_name(&id, derived, sizeof(derived));

	old = podtab_byname(&pods.tab, key);
	other = podtab_byns(&pods.tab, &id);
	if (old != NULL && old->origin != req->origin)
		return refuse(err, errlen, "%s is taken by a pod added over %s",
		    key, old->origin == POD_ZDS ? "ZDS" : "the control socket");
	if (old != NULL && old == other && old->state == POD_UP) {
		if (!reachable(old, err, errlen))
			return POD_REFUSED;
		log_info("add %s net:[%ju]: already listening", pod_label(old),
		    (uintmax_t)id.ino);
		*podp = old;
		return POD_LISTENING;
	}
	if (old != NULL && old == other) {
		/* Pending and sent again (say, in a reconnected agent's
		 * snapshot): try now, but leave its retries on their own
		 * clock. */
		*podp = old;
		return pending_try(old, err, errlen);
	}
	if (other != NULL && other != old) {
		/* The seed's nameless request sent twice: the same pod. */
		if (old == NULL && req->origin == POD_CONTROL &&
		    other->origin == POD_CONTROL && other->state == POD_UP) {
			if (!reachable(other, err, errlen))
				return POD_REFUSED;
			log_info("add %s net:[%ju]: already listening as %s",
			    key, (uintmax_t)id.ino, other->name);
			*podp = other;
			return POD_LISTENING;
		}
		return refuse(err, errlen, "netns net:[%ju] already belongs to "
		    "pod %s", (uintmax_t)id.ino, pod_label(other));
	}
	if ((pod = pod_new(key, req->workload, &id, req->origin)) == NULL)
		return refuse(err, errlen, "out of memory");
	/* Room in the table first: listeners we could not record would be
	 * listeners nobody can remove. */
	if (old == NULL && podtab_insert(&pods.tab, pod) == -1) {
		free(pod);
		return refuse(err, errlen, "out of memory");
	}
	if ((rc = pod_listen(pod, req, err, errlen)) == POD_REFUSED) {
		if (old == NULL)
			podtab_remove(&pods.tab, pod);
		free(pod);	/* and the old pod, if any, serves on */
		return POD_REFUSED;
	}
	if (old != NULL) {
		if (!nsid_equal(&old->ns, &id))
			log_info("add %s net:[%ju]: replaces net:[%ju]",
			    pod_label(pod), (uintmax_t)id.ino,
			    (uintmax_t)old->ns.ino);
		pod_drop(old);
		/* One out, one in: the table needs no more room. */
		(void)podtab_insert(&pods.tab, pod);
	}
	*podp = pod;
	return rc;
}

/* Open the new pod's listeners; a ZDS pod that cannot listen yet stays
 * pending, holding its own copy of the namespace descriptor, and is tried
 * again every POD_RETRY_MS until it works or is deleted, as ztunnel does. */
static enum pod_result
pod_listen(struct pod *pod, const struct pod_req *req, char *err,
    size_t errlen)
{
	struct listen_error e;

	if (listen_open(pod, req->nsfd, &e) == 0) {
		/* --proxy: its connections are made from inside it. */
		if (pods.proxy && (pod->nsfd = fcntl(req->nsfd,
		    F_DUPFD_CLOEXEC, 0)) == -1) {
			e = (struct listen_error){ "keeping the netns", 0,
			    errno };
			listen_close(pod);
			explain(&e, pod, err, errlen);
			log_warnx("add %s: %s", pod_label(pod), err);
			return POD_REFUSED;
		}
		log_info("add %s net:[%ju]: listening on %s:%u,%u,%u",
		    pod_label(pod), (uintmax_t)pod->ns.ino, listen_addr(),
		    zt_ports[0], zt_ports[1], zt_ports[2]);
		log_stdout(WIRE_READY);
		metrics_handoff(METRICS_HANDOFF_LISTENING);
		metrics_proxy_started();
		return POD_LISTENING;
	}
	explain(&e, pod, err, errlen);
	if (req->origin == POD_ZDS &&
	    (pod->nsfd = fcntl(req->nsfd, F_DUPFD_CLOEXEC, 0)) != -1) {
		pod->state = POD_PENDING;
		ev_timer_at(&pod->retry, monotonic_ms() + POD_RETRY_MS);
		log_warnx("add %s net:[%ju]: %s; pending, retrying every %d s",
		    pod_label(pod), (uintmax_t)pod->ns.ino, err,
		    POD_RETRY_MS / 1000);
		metrics_handoff(METRICS_HANDOFF_PENDING);
		return POD_PENDING_RETRY;
	}
	log_warnx("add %s net:[%ju]: %s", pod_label(pod), (uintmax_t)pod->ns.ino,
	    err);
	metrics_handoff(METRICS_HANDOFF_REFUSED);
	return POD_REFUSED;
}

/* One attempt for a pending pod; on success it is up, and its retries
 * stop. */
static enum pod_result
pending_try(struct pod *pod, char *err, size_t errlen)
{
	struct listen_error e;

	if (listen_open(pod, pod->nsfd, &e) == -1) {
		explain(&e, pod, err, errlen);
		log_debug("retry %s net:[%ju]: %s", pod_label(pod),
		    (uintmax_t)pod->ns.ino, err);
		return POD_PENDING_RETRY;
	}
	if (!pods.proxy) {
		close(pod->nsfd);
		pod->nsfd = -1;
	}
	pod->state = POD_UP;
	ev_timer_stop(&pod->retry);
	log_info("retry %s net:[%ju]: listening on %s:%u,%u,%u",
	    pod_label(pod), (uintmax_t)pod->ns.ino, listen_addr(),
	    zt_ports[0], zt_ports[1], zt_ports[2]);
	metrics_proxy_started();
	log_stdout(WIRE_READY);
	return POD_LISTENING;
}

static void
retry(void *arg)
{
	struct pod	*pod = arg;
	char		 err[POD_ERR_MAX];

	if (pending_try(pod, err, sizeof(err)) == POD_PENDING_RETRY)
		ev_timer_at(&pod->retry, monotonic_ms() + POD_RETRY_MS);
}

static struct pod *
pod_new(const char *name, const char *workload, const struct nsid *ns,
    enum pod_origin origin)
{
	size_t		 len = strlen(name) + 1, wlen = strlen(workload) + 1;
	struct pod	*p;
	int		 i;

	/* One allocation: the struct, then its two strings. */
	if ((p = calloc(1, sizeof(*p) + len + wlen)) == NULL)
		return NULL;
	memcpy(p->name, name, len);
	memcpy(p->name + len, workload, wlen);
	p->workload = p->name + len;
	p->ns = *ns;
	p->origin = origin;
	p->nsfd = -1;
	p->added_ms = monotonic_ms();
	ev_timer_init(&p->retry, retry, p);
	relay_stats_init(&p->conns);
	for (i = 0; i < ZT_NPORTS; i++)
		p->lis[i].io.fd = -1;
	return p;
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
		snprintf(err, errlen, "%s %s:%u in netns %s: %s%s",
		    e->what, listen_addr(), e->port, name, strerror(e->err),
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

void
pod_del(struct pod *p, const char *why)
{
	log_info("del %s net:[%ju]: %s%s after %ju connections",
	    pod_label(p), (uintmax_t)p->ns.ino, why,
	    p->state == POD_PENDING ? " (was pending)" : "",
	    (uintmax_t)p->served);
	pod_drop(p);
}

/* Out of the table, listeners closed (with them the last references we
 * held to the namespace); the memory goes once the event batch is done. */
static void
pod_drop(struct pod *p)
{
	podtab_remove(&pods.tab, p);
	if (p->state == POD_UP)
		metrics_proxy_stopped();
	/* As ztunnel on DelWorkload: the pod's connections end at once. */
	relay_close_all(&p->conns, "pod removed");
	hbone_pod_gone(p);
	listen_close(p);
	ev_timer_stop(&p->retry);
	if (p->nsfd != -1)
		close(p->nsfd);
	p->nsfd = -1;
	pods.dying++;
	ev_defer_free(&p->dead, pod_free, p);
}

static void
pod_free(void *arg)
{
	free(arg);
	pods.dying--;
	pods.freed_since_trim++;
#ifdef __GLIBC__
	/*
	 * free() gives back only the top of the heap; pods freed below a
	 * live allocation keep their pages.  After a wave of removals, hand
	 * free pages back for real: once per POD_TRIM_EVERY removals, and
	 * when the last pod goes.  Amortised, removing stays as cheap as
	 * adding.
	 */
	if (pods.freed_since_trim >= POD_TRIM_EVERY ||
	    (pods.tab.count == 0 && pods.dying == 0)) {
		malloc_trim(0);
		pods.freed_since_trim = 0;
	}
#endif
}
