/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pods.c: a pod's life in the daemon.  pod_add() is the handoff: whoever
 * received the namespace descriptor (the control socket, ZDS) calls it and
 * sends back what it says.  The pods, the table, the pending pods and
 * their retries are this file's alone: others see a pod through a handle
 * (podref.h) or a copy (pod_view()).
 */
#define LOG_TARGET "pods"

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

#include "ambient.h"
#include "ev.h"
#include "hbone.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "podref.h"
#include "pods.h"
#include "podtab.h"
#include "relay.h"
#include "text.h"
#include "util.h"
#include "wire.h"

enum pod_state {
	POD_UP,			/* listening */
	POD_PENDING,		/* ZDS add failed: retried until it works */
};

/*
 * A pod is its listeners.  An up pod keeps no descriptor for its
 * namespace: each listening socket holds a reference to it, so the
 * namespace (and its inode number, hence our nsid) lives exactly as long
 * as the listeners do.  A pending pod has no listeners and holds the
 * namespace descriptor instead, to try again with.  With --proxy every
 * pod keeps it: its upstream connections are made inside it.
 */
struct pod {
	struct podtab_entry	 te;		/* by name and namespace */
	struct pod_ref		 ref;		/* what the traffic code sees */
	struct ev_timer		 retry;		/* pending: the next attempt */
	struct ev_deferred	 dead;		/* freed after the event batch */
	enum pod_origin		 origin;
	enum pod_state		 state;
	struct lset		*lis;		/* up: its listeners */
	unsigned		 zds_gen;	/* the ZDS session that last
						 * added or kept it */
	uint64_t		 added_ms;
	struct relay_stats	 conns;		/* --proxy: its connections */
	const char		*workload;	/* ZDS "namespace/name", in
						 * name[]; else "" */
	const char		*sa;		/* ZDS's service account, in
						 * name[]; else "default" */
	char			 name[];	/* the key: a name, or a ZDS uid;
						 * then workload, sa, ref.ns */
};

#define POD(e)	((struct pod *)(void *)((char *)(e) - offsetof(struct pod, te)))

static struct {
	struct podtab	tab;
	struct nsid	home;
	size_t		dying;		/* dropped, not freed yet */
	unsigned	freed_since_trim;
	int		draining;	/* pods_drain(): nothing new */
	int		handed_over;	/* the listeners are the next one's */
	struct relay_stats orphans;	/* held sessions whose pod went */
} pods;

static struct pod	*pod_new(const struct pod_req *, const char *name,
			    const struct nsid *);
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
static enum pod_result	 relisten(struct pod *, const struct pod_req *,
			    char *, size_t);
static const char	*derive_name(const struct nsid *, char *, size_t);

int
pods_init(const struct nsid *home, int proxy)
{
	pods.home = *home;
	listen_init(proxy);
	return podtab_init(&pods.tab);
}

static struct pod *
pod_of(struct podtab_entry *e)
{
	return e != NULL ? POD(e) : NULL;
}

static const char *
pod_label(const struct pod *pod)
{
	return pod->ref.label;
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
pods_drain(void)
{
	struct pod	*p;
	unsigned	 n = 0, unset = 0;
	int		 err = 0;

	if (pods.handed_over) {
		log_info("draining: our listeners went with the handover");
		return;
	}
	pods.draining = 1;
	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		ev_timer_stop(&p->retry);
		if (p->lis == NULL)
			continue;
		n++;
		if (listen_stop(p->lis) == -1) {
			unset++;
			err = errno;
		}
	}
	log_info("draining: %u pods' listeners closed", n);
	if (unset > 0)
		log_warnx("draining: %u pods' tcp_migrate_req not set (%s): "
		    "connections queued as their listeners closed were reset",
		    unset, strerror(err));
}

int
pods_draining(void)
{
	return pods.draining;
}

void
pods_close_connections(const char *why)
{
	struct pod *p;

	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		relay_close_all(&p->conns, why);
		hbone_pod_gone(&p->ref, why);
	}
}

/* --- handover ------------------------------------------------------------- */

int
pods_export(pod_export_fn *fn, void *arg)
{
	struct pod_export	 e;
	struct pod		*p;
	int			 i;

	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		memset(&e, 0, sizeof(e));
		e.key = p->name;
		e.workload = p->workload;
		e.service_account = p->sa;
		e.origin = p->origin;
		e.up = p->state == POD_UP && p->lis != NULL &&
		    listen_fds(p->lis, e.lfds) == 0;
		if (!e.up)
			for (i = 0; i < 3; i++)
				e.lfds[i] = -1;
		e.age_ms = monotonic_ms() - p->added_ms;
		e.served = p->lis != NULL ? listen_served(p->lis) : 0;
		/* Open ones (plain and HBONE) count where they end. */
		e.conns_total = p->conns.total - p->conns.nopen;
		e.bytes_in = p->conns.bytes_in;
		e.bytes_out = p->conns.bytes_out;
		/* An up pod without --proxy keeps no descriptor for its
		 * namespace (its listeners do): ask one of them. */
		if (p->ref.nsfd != -1)
			e.nsfd = fcntl(p->ref.nsfd, F_DUPFD_CLOEXEC, 0);
		else if (e.up)
			e.nsfd = netns_of_socket(e.lfds[0]);
		else
			e.nsfd = -1;
		if (e.nsfd == -1) {
			log_warn("handover: %s: its namespace", pod_label(p));
			return -1;
		}
		if (fn(arg, &e) == -1)
			return -1;
	}
	return 0;
}

void
pods_handed_over(void)
{
	struct pod *p;

	pods.draining = 1;
	pods.handed_over = 1;
	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		ev_timer_stop(&p->retry);
		if (p->lis != NULL)
			listen_forget(p->lis);
	}
}

enum pod_result
pod_adopt(const struct pod_export *e, char *err, size_t errlen)
{
	struct pod_req		 req = { e->origin, e->key, e->workload,
	    e->service_account, e->nsfd };
	struct listen_error	 le;
	struct nsid		 id;
	struct pod		*pod = NULL;
	int			 i, lfds[3];

	for (i = 0; i < 3; i++)
		lfds[i] = e->lfds[i];
	if (netns_check(e->nsfd, &id) == -1 || !text_name_ok(e->key) ||
	    podtab_byname(&pods.tab, e->key) != NULL ||
	    podtab_byns(&pods.tab, &id) != NULL) {
		snprintf(err, errlen, "%s: not a namespace, a bad name, or "
		    "one we have", e->key);
		goto fail;
	}
	if ((pod = pod_new(&req, e->key, &id)) == NULL ||
	    podtab_insert(&pods.tab, &pod->te) == -1) {
		snprintf(err, errlen, "out of memory");
		free(pod);
		pod = NULL;
		goto fail;
	}
	pod->added_ms = monotonic_ms() - e->age_ms;
	pod->conns.total = e->conns_total;
	pod->conns.bytes_in = e->bytes_in;
	pod->conns.bytes_out = e->bytes_out;
	/* Pending, or --proxy: it keeps its namespace (pod_listen()). */
	if (!e->up || listen_proxy())
		pod->ref.nsfd = e->nsfd;
	else
		close(e->nsfd);
	if (!e->up) {
		pod->state = POD_PENDING;
		ev_timer_at(&pod->retry, monotonic_ms());
		log_info("adopted %s net:[%ju]: pending, retrying",
		    pod_label(pod), (uintmax_t)id.ino);
		return POD_PENDING_RETRY;
	}
	if ((pod->lis = listen_adopt(lfds, e->served, &pod->ref,
	    &le)) == NULL) {
		explain(&le, pod, err, errlen);
		podtab_remove(&pods.tab, &pod->te);
		if (pod->ref.nsfd != -1)
			close(pod->ref.nsfd);
		free(pod);
		return POD_REFUSED;
	}
	log_info("adopted %s net:[%ju]: its listeners, never closed",
	    pod_label(pod), (uintmax_t)id.ino);
	return POD_LISTENING;
fail:
	close(e->nsfd);
	for (i = 0; i < 3; i++)
		if (lfds[i] != -1)
			close(lfds[i]);
	return POD_REFUSED;
}

struct hold {
	pod_relay_fn	*fn;
	void		*arg;
	const char	*key;
};

static void
hold_one(void *arg, struct relay *r, const struct relay_state *st)
{
	struct hold *h = arg;

	h->fn(h->arg, h->key, r, st);
}

void
pods_hold_relays(pod_relay_fn *fn, void *arg)
{
	struct hold	 h = { fn, arg, NULL };
	struct pod	*p;

	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		h.key = p->name;
		relay_hold(&p->conns, hold_one, &h);
	}
}

void
pods_resume_relay(const char *key, struct relay *r)
{
	struct pod *p = pod_byname(key);

	if (p != NULL) {
		relay_resume(r, &p->conns, pod_label(p));
		return;
	}
	/* Gone meanwhile: as its removal would have, end it. */
	relay_stats_init(&pods.orphans);
	relay_resume(r, &pods.orphans, key);
	relay_close_all(&pods.orphans, "pod removed");
}

int
pods_adopt_relay(const char *key, const struct relay_state *st)
{
	struct pod	*p = pod_byname(key);
	int		 i;

	if (p == NULL) {
		for (i = 0; i < RELAY_NFDS; i++)
			close(st->fds[i]);
		errno = ENOENT;
		return -1;
	}
	return relay_adopt(&p->conns, pod_label(p), st);
}

void
pod_view(const struct pod *p, struct pod_view *v, int flags)
{
	memset(v, 0, sizeof(*v));
	v->key = p->name;
	v->label = p->ref.label;
	v->ns = p->ref.ns;
	v->name = p->ref.name;
	v->service_account = p->sa;
	v->up = p->state == POD_UP;
	v->zds = p->origin == POD_ZDS;
	v->netns = (uint64_t)p->te.ns.ino;
	v->age_ms = monotonic_ms() - p->added_ms;
	v->conns_open = p->conns.nopen;
	v->conns_total = p->conns.total;
	relay_stats_bytes(&p->conns, &v->bytes_in, &v->bytes_out);
	if (flags & POD_VIEW_SOCKETS) {
		relay_sock_states(&p->conns, &v->sockets);
		hbone_sock_states(&p->ref, &v->sockets);
	}
	if (p->lis != NULL) {
		v->served = listen_served(p->lis);
		v->naddrs = listen_addrs(p->lis, v->addrs, POD_VIEW_ADDRS);
	}
}

void
pod_connections(const struct pod *p, conn_view_fn *fn, void *arg)
{
	relay_each(&p->conns, fn, arg);
	hbone_each(&p->ref, fn, arg);
}

struct pod *
pod_byname(const char *name)
{
	return pod_of(podtab_byname(&pods.tab, name));
}

enum pod_origin
pod_origin(const struct pod *pod)
{
	return pod->origin;
}

struct pod *
pod_first(void)
{
	return pod_of(TAILQ_FIRST(&pods.tab.all));
}

struct pod *
pod_next(const struct pod *pod)
{
	return pod_of(TAILQ_NEXT(&pod->te, entry));
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

	for (p = pod_first(); p != NULL; p = pod_next(p))
		n += p->state == POD_PENDING;
	return n;
}

void
pod_zds_claim(struct pod *pod, unsigned gen)
{
	if (pod->origin == POD_ZDS)
		pod->zds_gen = gen;
}

void
pods_zds_sweep(unsigned gen, size_t *kept, size_t *pending, size_t *removed)
{
	struct pod *pod, *next;

	*kept = *pending = *removed = 0;
	for (pod = pod_first(); pod != NULL; pod = next) {
		next = pod_next(pod);
		if (pod->origin != POD_ZDS)
			continue;
		if (pod->zds_gen == gen) {
			(*kept)++;
			*pending += pod->state == POD_PENDING;
			continue;
		}
		pod_del(pod, "not in the snapshot, removed");
		(*removed)++;
	}
}

const char *
pod_resolve(const union sockip *sa, int *mesh)
{
	const struct pod	*p;
	const char		*peer;
	struct ipaddr		 addrs[LISTEN_ADDRS_MAX], ip;
	unsigned		 i, n;

	sockip_ip(sa, &ip);
	*mesh = 1;
	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		if (p->lis == NULL)
			continue;
		n = listen_addrs(p->lis, addrs, LISTEN_ADDRS_MAX);
		for (i = 0; i < n; i++)
			if (ipaddr_eq(&addrs[i], &ip))
				return pod_label(p);
	}
	if ((peer = peers_lookup(&ip)) != NULL)
		return peer;
	*mesh = 0;
	return NULL;
}

int
pod_dns_lookup(const char *name, const char *ns, struct ipaddr *out,
    size_t max)
{
	const struct pod	*p;
	char			 wl[2 * TEXT_NAME_MAX + 2];
	struct ipaddr		 addrs[LISTEN_ADDRS_MAX];
	unsigned		 i, n;
	size_t			 k = 0;
	int			 known = 0;

	for (p = pod_first(); p != NULL; p = pod_next(p)) {
		if (p->lis == NULL || strcmp(p->ref.name, name) != 0 ||
		    strcmp(p->ref.ns, ns) != 0)
			continue;
		known = 1;
		n = listen_addrs(p->lis, addrs, LISTEN_ADDRS_MAX);
		for (i = 0; i < n && k < max; i++)
			out[k++] = addrs[i];
	}
	snprintf(wl, sizeof(wl), "%s/%s", ns, name);
	n = peers_find(wl, addrs, LISTEN_ADDRS_MAX);
	for (i = 0; i < n && k < max; i++)
		out[k++] = addrs[i];
	return known || n > 0 ? (int)k : -1;
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

	if (listen_loopback_up(pod->lis) != 0)
		return 1;
	explain(&e, pod, err, errlen);
	log_warnx("add %s net:[%ju]: %s", pod_label(pod),
	    (uintmax_t)pod->te.ns.ino, err);
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
	if (pods.draining)
		return refuse(err, errlen, "shutting down: draining, the "
		    "instance that replaces this one takes new pods");
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

	old = pod_of(podtab_byname(&pods.tab, key));
	other = pod_of(podtab_byns(&pods.tab, &id));
	if (old != NULL && old->origin != req->origin)
		return refuse(err, errlen, "%s is taken by a pod added over %s",
		    key, old->origin == POD_ZDS ? "ZDS" : "the control socket");
	if (old != NULL && old == other && old->state == POD_UP &&
	    old->lis != NULL && !listen_alive(old->lis)) {
		*podp = old;
		return relisten(old, req, err, errlen);
	}
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
	if ((pod = pod_new(req, key, &id)) == NULL)
		return refuse(err, errlen, "out of memory");
	/* Room in the table first: listeners we could not record would be
	 * listeners nobody can remove. */
	if (old == NULL && podtab_insert(&pods.tab, &pod->te) == -1) {
		free(pod);
		return refuse(err, errlen, "out of memory");
	}
	if ((rc = pod_listen(pod, req, err, errlen)) == POD_REFUSED) {
		if (old == NULL)
			podtab_remove(&pods.tab, &pod->te);
		free(pod);	/* and the old pod, if any, serves on */
		return POD_REFUSED;
	}
	if (old != NULL) {
		if (!nsid_equal(&old->te.ns, &id))
			log_info("add %s net:[%ju]: replaces net:[%ju]",
			    pod_label(pod), (uintmax_t)id.ino,
			    (uintmax_t)old->te.ns.ino);
		pod_drop(old);
		/* One out, one in: the table needs no more room. */
		(void)podtab_insert(&pods.tab, &pod->te);
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

	/* --proxy: its connections are made from inside it.  Kept before
	 * it listens: a connection may come at the loop's next turn. */
	if (listen_proxy() && (pod->ref.nsfd = fcntl(req->nsfd,
	    F_DUPFD_CLOEXEC, 0)) == -1) {
		e = (struct listen_error){ "keeping the netns", 0, errno };
		explain(&e, pod, err, errlen);
		log_warnx("add %s: %s", pod_label(pod), err);
		return POD_REFUSED;
	}
	if ((pod->lis = listen_open(req->nsfd, &pod->ref, &e)) != NULL) {
		log_info("add %s net:[%ju]: listening on %s:%u,%u,%u",
		    pod_label(pod), (uintmax_t)pod->te.ns.ino, listen_addr(),
		    ZT_PORT_HBONE, ZT_PORT_INBOUND, ZT_PORT_OUTBOUND);
		log_stdout(WIRE_READY);
		metrics_handoff(METRICS_HANDOFF_LISTENING);
		metrics_proxy_started();
		return POD_LISTENING;
	}
	explain(&e, pod, err, errlen);
	if (req->origin == POD_ZDS && (pod->ref.nsfd != -1 ||
	    (pod->ref.nsfd = fcntl(req->nsfd, F_DUPFD_CLOEXEC, 0)) != -1)) {
		pod->state = POD_PENDING;
		ev_timer_at(&pod->retry, monotonic_ms() + POD_RETRY_MS);
		log_warnx("add %s net:[%ju]: %s; pending, retrying every %d s",
		    pod_label(pod), (uintmax_t)pod->te.ns.ino, err,
		    POD_RETRY_MS / 1000);
		metrics_handoff(METRICS_HANDOFF_PENDING);
		return POD_PENDING_RETRY;
	}
	if (pod->ref.nsfd != -1)
		close(pod->ref.nsfd);
	pod->ref.nsfd = -1;
	log_warnx("add %s net:[%ju]: %s", pod_label(pod),
	    (uintmax_t)pod->te.ns.ino, err);
	metrics_handoff(METRICS_HANDOFF_REFUSED);
	return POD_REFUSED;
}

/* The pod, sent again, has lost a listener (closed from outside): a new
 * set of three, then the old set goes; its connections go on. */
static enum pod_result
relisten(struct pod *pod, const struct pod_req *req, char *err,
    size_t errlen)
{
	struct listen_error	 e;
	struct lset		*ls;

	if ((ls = listen_open(req->nsfd, &pod->ref, &e)) == NULL) {
		explain(&e, pod, err, errlen);
		log_warnx("add %s net:[%ju]: a listener was lost, and %s",
		    pod_label(pod), (uintmax_t)pod->te.ns.ino, err);
		return POD_REFUSED;
	}
	listen_close(pod->lis);
	pod->lis = ls;
	log_info("add %s net:[%ju]: a listener was lost; listening again on "
	    "%s:%u,%u,%u", pod_label(pod), (uintmax_t)pod->te.ns.ino,
	    listen_addr(), ZT_PORT_HBONE, ZT_PORT_INBOUND, ZT_PORT_OUTBOUND);
	return POD_LISTENING;
}

/* One attempt for a pending pod; on success it is up, and its retries
 * stop. */
static enum pod_result
pending_try(struct pod *pod, char *err, size_t errlen)
{
	struct listen_error e;

	if ((pod->lis = listen_open(pod->ref.nsfd, &pod->ref, &e)) == NULL) {
		explain(&e, pod, err, errlen);
		log_debug("retry %s net:[%ju]: %s", pod_label(pod),
		    (uintmax_t)pod->te.ns.ino, err);
		return POD_PENDING_RETRY;
	}
	if (!listen_proxy()) {
		close(pod->ref.nsfd);
		pod->ref.nsfd = -1;
	}
	pod->state = POD_UP;
	ev_timer_stop(&pod->retry);
	log_info("retry %s net:[%ju]: listening on %s:%u,%u,%u",
	    pod_label(pod), (uintmax_t)pod->te.ns.ino, listen_addr(),
	    ZT_PORT_HBONE, ZT_PORT_INBOUND, ZT_PORT_OUTBOUND);
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
pod_new(const struct pod_req *req, const char *name, const struct nsid *ns)
{
	const char	*sa = req->service_account != NULL &&
	    req->service_account[0] != '\0' ? req->service_account : "default";
	const char	*label = req->workload[0] != '\0' ? req->workload : name;
	const char	*base;
	size_t		 len = strlen(name) + 1;
	size_t		 wlen = strlen(req->workload) + 1, slen = strlen(sa) + 1;
	size_t		 nslen = text_workload_split(label, NULL, 0, &base) + 1;
	struct pod	*p;
	char		*nsname;

	/*
	 * One allocation: the struct, then its strings, each as long as it
	 * is.  A pod is the daemon's largest record per pod, and on a VM
	 * every fresh page it touches is a fault; RESULTS.md.
	 */
	if ((p = calloc(1, sizeof(*p) + len + wlen + slen + nslen)) == NULL)
		return NULL;
	memcpy(p->name, name, len);
	memcpy(p->name + len, req->workload, wlen);
	memcpy(p->name + len + wlen, sa, slen);
	p->workload = p->name + len;
	p->sa = p->workload + wlen;
	nsname = p->name + len + wlen + slen;
	p->te.name = p->name;
	p->te.ns = *ns;
	p->origin = req->origin;
	p->added_ms = monotonic_ms();
	ev_timer_init(&p->retry, retry, p);
	relay_stats_init(&p->conns);
	/* What it is called where: its workload if ZDS named one, else its
	 * own name ("ns/name" or bare), in logs and metrics; namespace and
	 * name from that ("default" for a bare name, as kubectl has it);
	 * baggage only for what ZDS told us. */
	p->ref.label = label == name ? p->name : p->workload;
	text_workload_split(p->ref.label, nsname, nslen, &p->ref.name);
	p->ref.ns = nsname;
	p->ref.baggage = strchr(p->workload, '/') != NULL;
	p->ref.nsfd = -1;
	p->ref.conns = &p->conns;
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
	else if (e->err == ENETDOWN && netns_identify(&pod->te.ns, nsname,
	    sizeof(nsname)) == 0)
		/* The pod's name need not be the netns's: look it up. */
		snprintf(err, errlen, "loopback is down in netns %s, nothing "
		    "there could connect; fix: ip -n %s link set lo up",
		    name, nsname);
	else if (e->err == ENETDOWN)
		snprintf(err, errlen, "loopback is down in netns %s "
		    "(net:[%ju]), nothing there could connect; fix: bring lo "
		    "up inside it", name, (uintmax_t)pod->te.ns.ino);
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
	    pod_label(p), (uintmax_t)p->te.ns.ino, why,
	    p->state == POD_PENDING ? " (was pending)" : "",
	    (uintmax_t)(p->lis != NULL ? listen_served(p->lis) +
	    p->conns.total : p->conns.total));
	pod_drop(p);
}

/* Out of the table, listeners closed (with them the last references we
 * held to the namespace); the memory goes once the event batch is done. */
static void
pod_drop(struct pod *p)
{
	podtab_remove(&pods.tab, &p->te);
	if (p->state == POD_UP)
		metrics_proxy_stopped();
	/* As ztunnel on DelWorkload: the pod's connections end at once. */
	relay_close_all(&p->conns, "pod removed");
	hbone_pod_gone(&p->ref, "pod removed");
	listen_close(p->lis);
	p->lis = NULL;
	ev_timer_stop(&p->retry);
	if (p->ref.nsfd != -1)
		close(p->ref.nsfd);
	p->ref.nsfd = -1;
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
