/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pods.c: a pod's life in the daemon.  pod_add() is the handoff: whoever
 * received the namespace descriptor (the seed socket, ZDS) calls it and
 * sends back what it says.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "ztunnel.h"

static int	refuse(char *err, size_t errlen, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static void	explain(const struct listen_error *, const char *name,
		    char *err, size_t errlen);

/*
 * Give the pod behind nsfd its listeners.  nsfd stays the caller's.  name
 * NULL: derive it from the namespace.  Returns 0 when the pod listens (now
 * or already), -1 with the reason in err.  Logs the outcome either way.
 */
int
pod_add(struct ztunnel *zt, const char *name, int nsfd, char *err,
    size_t errlen)
{
	struct listen_error	 e;
	struct nsid		 id;
	struct pod		*pod;
	char			 derived[NAME_MAX + 1];

	if (nsfd == -1)
		return refuse(err, errlen, "no netns descriptor attached");
	if (netns_check(nsfd, &id) == -1)
		return refuse(err, errlen, "descriptor is not a network "
		    "namespace: %s", errno == EINVAL ? "wrong kind of file" :
		    strerror(errno));
	/* Listeners there would be the node's own 127.0.0.1:15008. */
	if (nsid_equal(&id, &zt->home_id))
		return refuse(err, errlen, "that is the daemon's own network "
		    "namespace, not a pod's");
	if (name == NULL)
		name = pod_derive_name(&id, derived, sizeof(derived));

	if ((pod = pods_byns(&zt->pods, &id)) != NULL) {
		log_info("add %s net:[%ju]: already listening%s%s", name,
		    (uintmax_t)id.ino, strcmp(name, pod->name) == 0 ? "" :
		    " as ", strcmp(name, pod->name) == 0 ? "" : pod->name);
		return 0;
	}
	if ((pod = pods_byname(&zt->pods, name)) != NULL) {
		/* Same name, new namespace: the pod was recreated. */
		log_info("add %s net:[%ju]: replaces net:[%ju]", name,
		    (uintmax_t)id.ino, (uintmax_t)pod->ns.ino);
		pod_drop(zt, pod);
	}
	/* Make room in the table first: listeners we could not record
	 * would be listeners nobody can remove. */
	if ((pod = pod_new(name, &id)) == NULL ||
	    pods_insert(&zt->pods, pod) == -1) {
		free(pod);
		return refuse(err, errlen, "out of memory");
	}
	if (listen_open(zt, pod, nsfd, &e) == -1) {
		pods_remove(&zt->pods, pod);
		free(pod);
		explain(&e, name, err, errlen);
		log_warnx("add %s net:[%ju]: %s", name, (uintmax_t)id.ino, err);
		return -1;
	}
	pod->added_ms = monotonic_ms();
	log_info("add %s net:[%ju]: listening on 127.0.0.1:%u,%u,%u", name,
	    (uintmax_t)id.ino, zt_ports[0], zt_ports[1], zt_ports[2]);
	printf("%s\n", WIRE_READY);
	return 0;
}

/* A seed request carries no name: use the namespace's name under
 * /var/run/netns if it has one (as `ip netns identify` would), else one
 * made from its inode. */
const char *
pod_derive_name(const struct nsid *id, char *name, size_t size)
{
	if (netns_identify(id, name, size) == -1 || !wire_name_ok(name))
		snprintf(name, size, "ns-%ju", (uintmax_t)id->ino);
	return name;
}

static int
refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	log_warnx("add: %s", err);
	return -1;
}

/* The failure of a handoff as one line, with the fix when it is known. */
static void
explain(const struct listen_error *e, const char *name, char *err,
    size_t errlen)
{
	if (e->port != 0)
		snprintf(err, errlen, "%s 127.0.0.1:%u in netns %s: %s%s",
		    e->what, e->port, name, strerror(e->err),
		    e->err == EADDRINUSE ? " (a process in the pod holds "
		    "the port)" : "");
	else if (e->err == ENETDOWN)
		snprintf(err, errlen, "loopback is down in netns %s, nothing "
		    "there could connect; fix: ip -n %s link set lo up",
		    name, name);
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
pod_del(struct ztunnel *zt, struct pod *p)
{
	log_info("del %s net:[%ju]: listeners closed after %ju connections",
	    p->name, (uintmax_t)p->ns.ino, (uintmax_t)p->served);
	pod_drop(zt, p);
}

void
pod_drop(struct ztunnel *zt, struct pod *p)
{
	pods_remove(&zt->pods, p);
	listen_close(p);
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
