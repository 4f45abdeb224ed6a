/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fdpass: descriptors over a socketpair, and every way a message can carry
 * the wrong thing.  The property behind most tests: whatever arrives, the
 * process holds exactly the descriptors it held before, plus at most the
 * one it was given.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fdpass.h"
#include "unit.h"

/* Send n descriptors (copies of /dev/null) in one SCM_RIGHTS message, the
 * way a misbehaving peer would; fdpass_send() only ever sends one.  The
 * local copies are closed again. */
static void
send_n_fds(int sock, int n)
{
	char		 buf[CMSG_SPACE(64 * sizeof(int))];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	char		 byte = '\001';
	struct iovec	 iov = { .iov_base = &byte, .iov_len = 1 };
	int		 fds[64], i;

	CHECK(n <= 64);
	for (i = 0; i < n; i++)
		CHECK((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	memset(&msg, 0, sizeof(msg));
	memset(buf, 0, sizeof(buf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = buf;
	msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, (size_t)n * sizeof(int));
	CHECK(sendmsg(sock, &msg, 0) == 1);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void
test_fdpass_one_fd(void)
{
	struct stat	a, b;
	char		c;
	int		sv[2], fd, got;

	unit_socketpair(SOCK_STREAM, sv);
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(fdpass_send(sv[0], "\001", 1, fd) == 1);
	CHECK(fdpass_recv(sv[1], &c, 1, &got) == 1);
	CHECK(c == '\001');
	CHECK(got != -1 && got != fd);
	/* The same open file, and close-on-exec on arrival. */
	CHECK(fstat(fd, &a) == 0 && fstat(got, &b) == 0);
	CHECK(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	CHECK(fcntl(got, F_GETFD) & FD_CLOEXEC);
}

static void
test_fdpass_no_fd(void)
{
	char	buf[8];
	int	sv[2], got = 123;

	unit_socketpair(SOCK_STREAM, sv);
	CHECK(fdpass_send(sv[0], "abc", 3, -1) == 3);
	CHECK(fdpass_recv(sv[1], buf, sizeof(buf), &got) == 3);
	CHECK(got == -1);
	CHECK(memcmp(buf, "abc", 3) == 0);
}

/* Two fit in the padding of a one-int control buffer: counted, refused. */
static void
test_fdpass_two_fds_refused(void)
{
	char	c;
	int	sv[2], got, base;

	unit_socketpair(SOCK_STREAM, sv);
	base = unit_count_fds();
	send_n_fds(sv[0], 2);
	CHECK(fdpass_recv(sv[1], &c, 1, &got) == -1);
	CHECK(errno == E2BIG);
	CHECK(got == -1);
	CHECK(unit_count_fds() == base);
}

/* Three or more do not fit: MSG_CTRUNC, and what did arrive is closed. */
static void
test_fdpass_many_fds_refused(void)
{
	static const int counts[] = { 3, 4, 10, 64 };
	size_t	i;
	char	c;
	int	sv[2], got, base;

	unit_socketpair(SOCK_STREAM, sv);
	base = unit_count_fds();
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		send_n_fds(sv[0], counts[i]);
		CHECK(fdpass_recv(sv[1], &c, 1, &got) == -1);
		CHECK(errno == EBADMSG);
		CHECK(got == -1);
		CHECK(unit_count_fds() == base);
	}
}

static void
test_fdpass_eof(void)
{
	char	c;
	int	sv[2], got;

	unit_socketpair(SOCK_STREAM, sv);
	close(sv[0]);
	CHECK(fdpass_recv(sv[1], &c, 1, &got) == 0);
	CHECK(got == -1);
}

/* A datagram longer than the buffer is an error, and its fd is closed. */
static void
test_fdpass_seqpacket_truncated(void)
{
	char	big[100], small[10];
	int	sv[2], fd, got, base;

	memset(big, 'x', sizeof(big));
	unit_socketpair(SOCK_SEQPACKET, sv);
	base = unit_count_fds();
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(fdpass_send(sv[0], big, sizeof(big), fd) == sizeof(big));
	close(fd);
	CHECK(fdpass_recv(sv[1], small, sizeof(small), &got) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(got == -1);
	CHECK(unit_count_fds() == base);
}

/* Writing to a peer that left must fail with EPIPE, not kill us. */
static void
test_fdpass_send_no_sigpipe(void)
{
	int sv[2];

	signal(SIGPIPE, SIG_DFL);
	unit_socketpair(SOCK_STREAM, sv);
	close(sv[1]);
	CHECK(fdpass_send(sv[0], "\001", 1, -1) == -1);
	CHECK(errno == EPIPE);
}

/* Build a control buffer by hand: the intake rule must hold for any
 * msghdr, not only those the kernel hands out today. */
struct fake_cmsg {
	struct msghdr	msg;
	size_t		used;
	union {				/* last: cmsghdr ends in a flexible array */
		struct cmsghdr	hdr;
		char		buf[256];
	} u;
};

static void
fake_init(struct fake_cmsg *f)
{
	memset(f, 0, sizeof(*f));
	f->msg.msg_control = f->u.buf;
	f->msg.msg_controllen = sizeof(f->u.buf);
}

static void
fake_add(struct fake_cmsg *f, int level, int type, const int *fds, int n)
{
	struct cmsghdr *c = (struct cmsghdr *)(void *)(f->u.buf + f->used);

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	f->used += CMSG_SPACE((size_t)n * sizeof(int));
	f->msg.msg_controllen = f->used;
}

static int
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void
test_fdpass_collect_wrong_type(void)
{
	struct fake_cmsg	f;
	int			creds[3] = { 1, 0, 0 }, fd, got;

	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	fake_init(&f);
	fake_add(&f, SOL_SOCKET, SCM_CREDENTIALS, creds, 3);
	fake_add(&f, SOL_SOCKET, SCM_RIGHTS, &fd, 1);
	CHECK(fdpass_collect(&f.msg, &got) == -1);
	CHECK(errno == EPROTO);
	CHECK(got == -1);
	CHECK(!is_open(fd));
}

static void
test_fdpass_collect_two_headers(void)
{
	struct fake_cmsg	f;
	int			a, b, got;

	CHECK((a = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK((b = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	fake_init(&f);
	fake_add(&f, SOL_SOCKET, SCM_RIGHTS, &a, 1);
	fake_add(&f, SOL_SOCKET, SCM_RIGHTS, &b, 1);
	CHECK(fdpass_collect(&f.msg, &got) == -1);
	CHECK(errno == E2BIG);
	CHECK(!is_open(a) && !is_open(b));
}

static void
test_fdpass_collect_ctrunc(void)
{
	struct fake_cmsg	f;
	int			fd, got;

	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	fake_init(&f);
	fake_add(&f, SOL_SOCKET, SCM_RIGHTS, &fd, 1);
	f.msg.msg_flags = MSG_CTRUNC;
	CHECK(fdpass_collect(&f.msg, &got) == -1);
	CHECK(errno == EBADMSG);
	CHECK(!is_open(fd));
}

/* A header claiming more than the buffer holds is not the kernel's: it is
 * refused without reading past the end, and nothing in it is closed. */
static void
test_fdpass_collect_overlong_header(void)
{
	struct fake_cmsg	f;
	int			fd, got;

	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	fake_init(&f);
	fake_add(&f, SOL_SOCKET, SCM_RIGHTS, &fd, 1);
	f.u.hdr.cmsg_len = 4096;
	CHECK(fdpass_collect(&f.msg, &got) == -1);
	CHECK(errno == EBADMSG);
	CHECK(got == -1);
	CHECK(is_open(fd));
}

static void
test_fdpass_collect_empty(void)
{
	struct fake_cmsg	f;
	int			got;

	fake_init(&f);
	f.msg.msg_controllen = 0;
	CHECK(fdpass_collect(&f.msg, &got) == 0);
	CHECK(got == -1);
	f.msg.msg_control = NULL;
	CHECK(fdpass_collect(&f.msg, &got) == 0);
	CHECK(got == -1);
}

static void
test_fdpass_strerror(void)
{
	CHECK(strstr(fdpass_strerror(E2BIG), "more than one") != NULL);
	CHECK(strstr(fdpass_strerror(EBADMSG), "truncated") != NULL);
	CHECK(strstr(fdpass_strerror(EPROTO), "SCM_RIGHTS") != NULL);
	CHECK(strcmp(fdpass_strerror(ENOENT), strerror(ENOENT)) == 0);
}

const struct unit_test fdpass_tests[] = {
	UNIT_TEST(test_fdpass_one_fd),
	UNIT_TEST(test_fdpass_no_fd),
	UNIT_TEST(test_fdpass_two_fds_refused),
	UNIT_TEST(test_fdpass_many_fds_refused),
	UNIT_TEST(test_fdpass_eof),
	UNIT_TEST(test_fdpass_seqpacket_truncated),
	UNIT_TEST(test_fdpass_send_no_sigpipe),
	UNIT_TEST(test_fdpass_collect_wrong_type),
	UNIT_TEST(test_fdpass_collect_two_headers),
	UNIT_TEST(test_fdpass_collect_ctrunc),
	UNIT_TEST(test_fdpass_collect_overlong_header),
	UNIT_TEST(test_fdpass_collect_empty),
	UNIT_TEST(test_fdpass_strerror),
	UNIT_END
};
