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
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <linux/nsfs.h>

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

int
netns_open(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
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

int
netns_identify(const struct nsid *id, char *name, size_t size)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	int		 dfd, found = 0;

	dfd = open(NETNS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return -1;
	dir = fdopendir(dfd);
	if (dir == NULL) {
		int saved = errno;

		close(dfd);
		errno = saved;
		return -1;
	}
	while (!found && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) == -1)
			continue;	/* deleted meanwhile, or not mounted */
		if (st.st_dev == id->dev && st.st_ino == id->ino &&
		    strlen(de->d_name) < size) {
			memcpy(name, de->d_name, strlen(de->d_name) + 1);
			found = 1;
		}
	}
	closedir(dir);
	if (!found) {
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
