/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns.c: find, validate and enter network namespaces.  The only code that
 * calls setns(2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>

#include "netns.h"

int
netns_resolve(const char *arg, char *path, size_t size)
{
	int n;

	if (arg[0] == '\0' || strcmp(arg, ".") == 0 || strcmp(arg, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	if (strchr(arg, '/') != NULL)
		n = snprintf(path, size, "%s", arg);
	else
		n = snprintf(path, size, "%s/%s", NETNS_RUN_DIR, arg);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int	home_fd = -1;

int
netns_open(const char *path)
{
	/* O_NONBLOCK: open() of a FIFO would wait for a writer forever. */
	return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

const char *
netns_pod_name(const char *arg, const char *path, char *buf, size_t size)
{
	const char	*base;
	unsigned long	 pid;
	char		 digits[24], *end;

	if (strchr(arg, '/') == NULL)
		return arg;		/* an `ip netns` name */
	/* /proc/PID/ns/net: the pod is the process. */
	if (sscanf(path, "/proc/%23[0-9]", digits) == 1 &&
	    strcmp(path + strlen("/proc/") + strlen(digits), "/ns/net") == 0) {
		errno = 0;
		pid = strtoul(digits, &end, 10);
		if (errno == 0 && *end == '\0' && pid <= INT_MAX) {
			snprintf(buf, size, "pid-%lu", pid);
			return buf;
		}
	}
	base = strrchr(path, '/') + 1;
	return *base != '\0' ? base : path;
}

int
netns_foreach(netns_foreach_fn *fn, void *arg)
{
	struct dirent	*de;
	DIR		*dir;
	int		 dfd, saved;

	dfd = open(NETNS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return -1;
	if ((dir = fdopendir(dfd)) == NULL) {
		saved = errno;
		close(dfd);
		errno = saved;
		return -1;
	}
	/* Any other name is a namespace `ip netns add` can make, ".x" too. */
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 && fn(de->d_name, arg) != 0)
			break;
	closedir(dir);
	return 0;
}

int
netns_open_self(void)
{
	int fd;

	/* The thread's own namespace is what setns() changes; /proc/self
	 * is the same thing in a single-threaded process and on kernels
	 * older than 3.17, which lack thread-self. */
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return fd;
}

int
netns_home_init(struct nsid *id)
{
	if ((home_fd = netns_open_self()) == -1)
		return -1;
	return netns_check(home_fd, id);
}

int
netns_enter_home(void)
{
	return netns_enter(home_fd);
}

int
netns_go_home(void)
{
	return setns(home_fd, CLONE_NEWNET);
}

int
netns_socket(int nsfd, int domain, int type, int protocol)
{
	int fd, err;

	if (setns(nsfd, CLONE_NEWNET) == -1)
		return -1;
	fd = socket(domain, type, protocol);
	err = errno;
	if (netns_go_home() == -1) {
		if (fd != -1)
			close(fd);
		errno = ENOTRECOVERABLE;
		return -1;
	}
	errno = err;
	return fd;
}

/*
 * One of the namespace's sysctls (a path under /proc/sys/net, which
 * shows the namespace of whoever opens it): its value before into old
 * (NUL-terminated, newline dropped), then value written, unless value
 * is NULL.  From home: enter, open, go home, then read and write.  -1
 * with errno set; ENOTRECOVERABLE if going home failed.
 */
int
netns_sysctl(int nsfd, const char *path, const char *value, char *old,
    size_t oldsize)
{
	ssize_t	n;
	int	fd, err;

	if (setns(nsfd, CLONE_NEWNET) == -1)
		return -1;
	fd = open(path, (value != NULL ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	err = errno;
	if (netns_go_home() == -1) {
		if (fd != -1)
			close(fd);
		errno = ENOTRECOVERABLE;
		return -1;
	}
	if (fd == -1) {
		errno = err;
		return -1;
	}
	if ((n = pread(fd, old, oldsize - 1, 0)) == -1)
		goto fail;
	old[n] = '\0';
	old[strcspn(old, "\n")] = '\0';
	if (value != NULL &&
	    pwrite(fd, value, strlen(value), 0) != (ssize_t)strlen(value))
		goto fail;
	close(fd);
	return 0;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int
netns_of_socket(int sock)
{
	/* The kernel opens it for us: no setns, no path. */
	return ioctl(sock, SIOCGSKNS);
}

void
netns_home_close(void)
{
	if (home_fd != -1)
		close(home_fd);
	home_fd = -1;
}

int
netns_check(int fd, struct nsid *id)
{
	static dev_t	nsfs_dev;	/* 0 until the first nsfs file */
	struct statfs	sfs;
	struct stat	st;
	int		type;

	if (fstat(fd, &st) == -1)
		return -1;
	/*
	 * Only ask nsfs files for their type: an ioctl number means
	 * something else to a device driver, and the fd came from a peer.
	 * Every namespace file lives on the one nsfs superblock, so once
	 * fstatfs has vouched for one, its st_dev vouches for the rest and
	 * a daemon makes one syscall fewer per pod.
	 */
	if (nsfs_dev == 0 || st.st_dev != nsfs_dev) {
		if (fstatfs(fd, &sfs) == -1)
			return -1;
		if (sfs.f_type != NSFS_MAGIC) {
			errno = EINVAL;
			return -1;
		}
		nsfs_dev = st.st_dev;
	}
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type == -1 && errno != ENOTTY)
		return -1;
	/* ENOTTY: a kernel before 4.11; setns(CLONE_NEWNET) still
	 * refuses other namespace types. */
	if (type != -1 && type != CLONE_NEWNET) {
		errno = EINVAL;
		return -1;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

int
netns_enter(int fd)
{
	/* Name the type: setns(fd, 0) would join whatever fd is. */
	return setns(fd, CLONE_NEWNET);
}

struct identify {
	const struct nsid	*id;
	char			*name;
	size_t			 size;
	int			 found;
};

static int
identify_one(const char *name, void *arg)
{
	struct identify	*q = arg;
	char		 path[PATH_MAX];
	struct stat	 st;

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	if (stat(path, &st) == -1)
		return 0;	/* deleted meanwhile, or not mounted */
	if (st.st_dev != q->id->dev || st.st_ino != q->id->ino ||
	    strlen(name) >= q->size)
		return 0;
	memcpy(q->name, name, strlen(name) + 1);
	q->found = 1;
	return 1;
}

int
netns_identify(const struct nsid *id, char *name, size_t size)
{
	struct identify q = { id, name, size, 0 };

	if (netns_foreach(identify_one, &q) == -1)
		return -1;
	if (!q.found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int
nsid_equal(const struct nsid *a, const struct nsid *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}
