/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nswatch.c: the namespaces the node agent knows (see nswatch.h).
 *
 * With a watch we follow /var/run/netns with inotify.  `ip netns add`
 * creates the file first and mounts the namespace on it after, and the
 * mount makes no inotify event: a new name is probed every PROBE_EVERY_MS
 * until it is a network namespace, or given up on after probe_ms.  When
 * the kernel's event queue overflows, events were lost: every name is
 * looked at again.
 */
#define LOG_TARGET "watch"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include "ev.h"
#include "log.h"
#include "nswatch.h"
#include "text.h"
#include "util.h"

#define PROBE_EVERY_MS	20	/* a new name: look again this often */
#define RETRY_MS	1000	/* a name we had no descriptor for */

/* A name under which a namespace is known. */
struct nsname {
	TAILQ_ENTRY(nsname)	 entry;
	struct nspod_priv	*pod;		/* NULL while probing */
	struct ev_timer		 probe;
	uint64_t		 probe_until;
	int			 fixed;		/* from the command line */
	int			 skipped;	/* not a name we can announce */
	int			 unresolved;	/* errno of a resource failure */
	char			 path[PATH_MAX];
	char			 name[NAME_MAX + 1];
};

struct nspod_priv {
	struct nspod		 pub;		/* first: nspod * <-> priv */
	TAILQ_ENTRY(nspod_priv)	 entry;
	unsigned		 nnames;
};

TAILQ_HEAD(namelist, nsname);
TAILQ_HEAD(podlist, nspod_priv);

static struct {
	struct nswatch_opts	 o;
	nswatch_cb		*cb;
	void			*arg;
	struct ev_io		 io;		/* inotify; -1 without a watch */
	struct namelist		 names;
	struct podlist		 pods;
	unsigned		 unresolved;
	int			 last_err;
} w = { .io = { .fd = -1 } };

static void	name_probe(void *);
static void	name_forget(struct nsname *);
static void	watch_read(void *, uint32_t);
static void	rescan(void);

int
nswatch_start(const struct nswatch_opts *o, nswatch_cb *cb, void *arg)
{
	int fd;

	w.o = *o;
	w.cb = cb;
	w.arg = arg;
	TAILQ_INIT(&w.names);
	TAILQ_INIT(&w.pods);
	if (!o->watch)
		return 0;
	/* ip netns creates it too; it must exist to be watched. */
	if (mkdir(NETNS_RUN_DIR, 0755) == -1 && errno != EEXIST)
		return -1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	if (inotify_add_watch(fd, NETNS_RUN_DIR, IN_CREATE | IN_DELETE |
	    IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR) == -1 ||
	    ev_io_add(&w.io, fd, EPOLLIN, watch_read, NULL) == -1) {
		close(fd);
		return -1;
	}
	rescan();
	return 0;
}

void
nswatch_stop(void)
{
	struct nsname *n;

	ev_io_close(&w.io);
	w.cb = NULL;		/* nobody to tell any more */
	while ((n = TAILQ_FIRST(&w.names)) != NULL)
		name_forget(n);
}

struct nspod *
nswatch_first(void)
{
	struct nspod_priv *p = TAILQ_FIRST(&w.pods);

	return p != NULL ? &p->pub : NULL;
}

struct nspod *
nswatch_next(const struct nspod *pub)
{
	const struct nspod_priv	*p = (const struct nspod_priv *)pub;
	struct nspod_priv	*next = TAILQ_NEXT(p, entry);

	return next != NULL ? &next->pub : NULL;
}

unsigned
nswatch_unresolved(int *err)
{
	*err = w.last_err;
	return w.unresolved;
}

void
nspod_ref(struct nspod *pod)
{
	pod->refs++;
}

void
nspod_unref(struct nspod *pod)
{
	if (--pod->refs == 0)
		free(pod);
}

/* --- names --------------------------------------------------------------- */

static struct nsname *
name_find(const char *name)
{
	struct nsname *n;

	TAILQ_FOREACH(n, &w.names, entry)
		if (!n->fixed && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

/* Know a new name, and look at it at once (which may forget it again). */
static int
name_new(const char *name, const char *path, int fixed)
{
	struct nsname *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -1;
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->path, sizeof(n->path), "%s", path);
	n->fixed = fixed;
	n->probe_until = monotonic_ms() + w.o.probe_ms;
	ev_timer_init(&n->probe, name_probe, n);
	TAILQ_INSERT_TAIL(&w.names, n, entry);
	name_probe(n);
	return 0;
}

int
nswatch_add_fixed(const char *arg)
{
	char	path[PATH_MAX], buf[NAME_MAX + 1];

	if (netns_resolve(arg, path, sizeof(path)) == -1)
		return -1;
	return name_new(netns_pod_name(arg, path, buf, sizeof(buf)), path, 1);
}

static void
set_unresolved(struct nsname *n, int err)
{
	if (n->unresolved == 0 && err != 0)
		w.unresolved++;
	else if (n->unresolved != 0 && err == 0)
		w.unresolved--;
	n->unresolved = err;
	if (err != 0)
		w.last_err = err;
}

/* The pod a name's namespace is, made if it is new: takes fd. */
static struct nspod_priv *
pod_for(const struct nsname *n, int fd, const struct nsid *id)
{
	struct nspod_priv *p;

	TAILQ_FOREACH(p, &w.pods, entry) {
		if (nsid_equal(&p->pub.id, id)) {
			close(fd);
			log_info("%s is another name of %s (net:[%ju])",
			    n->name, p->pub.name, (uintmax_t)id->ino);
			return p;
		}
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		close(fd);
		return NULL;
	}
	p->pub.id = *id;
	p->pub.fd = fd;
	p->pub.refs = 1;
	snprintf(p->pub.uid, sizeof(p->pub.uid), "netns-%ju", (uintmax_t)id->ino);
	text_escape(n->name, p->pub.name, sizeof(p->pub.name), 0);
	TAILQ_INSERT_TAIL(&w.pods, p, entry);
	log_info("%s is netns net:[%ju], uid %s", p->pub.name,
	    (uintmax_t)id->ino, p->pub.uid);
	if (w.cb != NULL)
		w.cb(NSWATCH_APPEARED, &p->pub, w.arg);
	return p;
}

/*
 * What ztunnel would refuse must not be sent: one bad Add ends its whole
 * session (and so everyone's snapshot).  A name is announced as it is,
 * bytes that are not UTF-8 escaped (\xHH); one that is still no name
 * (a control character, past 253 bytes) is skipped, said once.
 */
static int
announceable(struct nsname *n)
{
	char shown[4 * NAME_MAX + 1];	/* room for every byte escaped */

	if (n->skipped)
		return 0;
	if (text_name_ok(text_escape(n->name, shown, sizeof(shown), 0)))
		return 1;
	n->skipped = 1;
	log_warnx("%s: not a name ztunnel takes (a control character, "
	    "or longer than %d bytes): skipped", n->path, ZDS_STR_MAX);
	return 0;
}

/* Look at a name: is it a network namespace yet? */
static void
name_probe(void *arg)
{
	struct nsname	*n = arg;
	struct nsid	 id;
	uint64_t	 now = monotonic_ms();
	int		 fd;

	if ((fd = netns_open(n->path)) == -1) {
		switch (errno) {
		case ENOENT:
			log_warnx("%s: gone before it was a namespace",
			    n->path);
			name_forget(n);
			return;
		case EMFILE:
		case ENFILE:
		case ENOMEM:
			/* Not the name's fault: keep it, and say so to
			 * whoever wants a snapshot meanwhile. */
			if (n->unresolved == 0)
				log_warn("%s: cannot look at it, retrying",
				    n->path);
			set_unresolved(n, errno);
			ev_timer_at(&n->probe, now + RETRY_MS);
			return;
		default:
			break;
		}
	} else if (netns_check(fd, &id) == 0) {
		set_unresolved(n, 0);
		if (!announceable(n)) {
			close(fd);
			return;
		}
		if ((n->pod = pod_for(n, fd, &id)) == NULL) {
			log_warn("%s", n->path);
			set_unresolved(n, ENOMEM);
			ev_timer_at(&n->probe, now + RETRY_MS);
			return;
		}
		n->pod->nnames++;
		return;
	} else {
		close(fd);
	}
	/* The file exists, the mount is not there yet (or never will). */
	set_unresolved(n, 0);
	if (now >= n->probe_until) {
		log_warnx("%s: not a network namespace; giving up",
		    n->path);
		name_forget(n);
		return;
	}
	ev_timer_at(&n->probe, now + PROBE_EVERY_MS);
}

/* A name goes; with its pod's last name, the pod goes. */
static void
name_forget(struct nsname *n)
{
	struct nspod_priv *p = n->pod;

	ev_timer_stop(&n->probe);
	set_unresolved(n, 0);
	TAILQ_REMOVE(&w.names, n, entry);
	free(n);
	if (p == NULL || --p->nnames > 0)
		return;
	TAILQ_REMOVE(&w.pods, p, entry);
	log_info("%s (uid %s) is gone", p->pub.name, p->pub.uid);
	/* Told while its descriptor is still open (its rules may need
	 * taking out); our own reference keeps it while we tell, and
	 * whoever keeps it longer takes one of their own. */
	if (w.cb != NULL)
		w.cb(NSWATCH_GONE, &p->pub, w.arg);
	close(p->pub.fd);
	p->pub.fd = -1;
	nspod_unref(&p->pub);
}

/* --- the watch ----------------------------------------------------------- */

static int
selected(const char *name)
{
	return w.o.select == NULL || fnmatch(w.o.select, name, 0) == 0;
}

static void
name_appear(const char *name)
{
	char		 path[PATH_MAX];
	struct nsname	*n;

	if (!selected(name))
		return;
	/* Created again: it may now be another namespace. */
	if ((n = name_find(name)) != NULL)
		name_forget(n);
	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	if (name_new(name, path, 0) == -1)
		log_warn("%s", path);
}

static void
name_vanish(const char *name)
{
	struct nsname *n;

	if ((n = name_find(name)) != NULL)
		name_forget(n);
}

static int
rescan_one(const char *name, void *arg)
{
	char		 path[PATH_MAX];
	struct nsname	*n;
	struct stat	 st;

	(void)arg;
	if (!selected(name))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	n = name_find(name);
	/* Known, and still the same namespace (or still probing). */
	if (n != NULL && (n->pod == NULL || (stat(path, &st) == 0 &&
	    st.st_dev == n->pod->pub.id.dev && st.st_ino == n->pod->pub.id.ino)))
		return 0;
	name_appear(name);
	return 0;
}

/* Make what we know agree with the directory, whatever events we lost. */
static void
rescan(void)
{
	struct nsname	*n, *next;
	struct stat	 st;

	for (n = TAILQ_FIRST(&w.names); n != NULL; n = next) {
		next = TAILQ_NEXT(n, entry);
		if (!n->fixed && lstat(n->path, &st) == -1 && errno == ENOENT)
			name_forget(n);
	}
	if (netns_foreach(rescan_one, NULL) == -1)
		log_warn("%s", NETNS_RUN_DIR);
}

static void
watch_read(void *arg, uint32_t events)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	ssize_t				 n, off;

	(void)arg;
	(void)events;
	/* Level-triggered: what the quantum leaves, the next turn reads. */
	while (!ev_exhausted() && (n = read(w.io.fd, buf, sizeof(buf))) > 0) {
		ev_spend((size_t)n);
		for (off = 0; off < n;
		    off += (ssize_t)sizeof(*ev) + (ssize_t)ev->len) {
			ev = (const struct inotify_event *)(void *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW) {
				log_warnx("%s: events lost, looking at "
				    "every name again", NETNS_RUN_DIR);
				rescan();
				continue;
			}
			if (ev->len == 0)
				continue;
			if (ev->mask & (IN_CREATE | IN_MOVED_TO))
				name_appear(ev->name);
			else
				name_vanish(ev->name);
		}
	}
}
