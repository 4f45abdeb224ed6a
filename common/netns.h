/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_NETNS_H
#define COMMON_NETNS_H

#include <stddef.h>
#include <sys/types.h>

/* Where `ip netns add NAME` mounts a namespace. */
#define NETNS_RUN_DIR "/var/run/netns"

/*
 * A namespace is named by the (device, inode) of its nsfs file: the same
 * pair `stat -L /var/run/netns/NAME` and `readlink /proc/PID/ns/net` show.
 * The inode can be reused once the namespace is freed, so an identity is
 * only meaningful while something holds the namespace alive.
 */
struct nsid {
	dev_t	dev;
	ino_t	ino;
};

/* Turn a netns argument into a path like `ip netns` does: anything with a
 * '/' is a path, anything else a name under NETNS_RUN_DIR.  -1/EINVAL for
 * an impossible name, -1/ENAMETOOLONG if it does not fit. */
int	netns_resolve(const char *arg, char *path, size_t size);

/* open(2) a namespace file read-only and close-on-exec, never blocking:
 * whatever sits at path (a FIFO, a device) is only to be identified. */
int	netns_open(const char *path);

/* The pod name a netns argument stands for: the name itself for an `ip
 * netns` name (ns2), pid-1234 for /proc/1234/ns/net, else the path's last
 * component.  path is arg resolved by netns_resolve(). */
const char *netns_pod_name(const char *arg, const char *path, char *buf,
	    size_t size);

/* Call fn for every name under NETNS_RUN_DIR ("." and ".." aside) until
 * it returns non-zero.  -1 with errno set if the directory cannot be read
 * (ENOENT: no namespace was ever added). */
typedef int	netns_foreach_fn(const char *name, void *arg);
int	netns_foreach(netns_foreach_fn *fn, void *arg);

/* A new descriptor for the calling thread's own network namespace. */
int	netns_open_self(void);

/*
 * Home: the namespace the program started in.  netns_home_init() opens it
 * once, before any netns_enter(); netns_go_home() is the one way back.
 * A caller that cannot go home must not go on (it would serve from a
 * pod's namespace): it exits.
 */
int	netns_home_init(struct nsid *id);
int	netns_go_home(void);
/* setns() into our own namespace: whether we may enter one at all
 * (CAP_SYS_ADMIN).  -1 with errno set (EPERM). */
int	netns_enter_home(void);
void	netns_home_close(void);

/* socket(2) inside the namespace nsfd, from home: enter, create, go home.
 * -1 with errno set; errno ENOTRECOVERABLE if going home failed, and
 * then the caller must exit. */
int	netns_socket(int nsfd, int domain, int type, int protocol);

/* A namespace's sysctl under /proc/sys/net: read into old, and write
 * value unless NULL (see netns.c).  -1 with errno set; ENOTRECOVERABLE
 * if going home failed, and then the caller must exit. */
int	netns_sysctl(int nsfd, const char *path, const char *value,
	    char *old, size_t oldsize);

/* A new descriptor (close-on-exec) for the namespace a socket lives in
 * (SIOCGSKNS; needs CAP_NET_ADMIN).  -1 with errno set. */
int	netns_of_socket(int sock);

/* Succeed only for a network namespace; fill *id.  -1/EINVAL: some other
 * kind of file or namespace. */
int	netns_check(int fd, struct nsid *id);

/* setns(fd, CLONE_NEWNET) for the calling thread. */
int	netns_enter(int fd);

/* Find the name under NETNS_RUN_DIR that is mounted on this namespace, as
 * `ip netns identify` does.  -1/ENOENT if none is. */
int	netns_identify(const struct nsid *id, char *name, size_t size);

int	nsid_equal(const struct nsid *a, const struct nsid *b);

#endif
