/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns (what needs no root), udsock, util.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "buf.h"
#include "netns.h"
#include "text.h"
#include "udsock.h"
#include "unit.h"
#include "util.h"

static void
test_netns_resolve(void)
{
	char	path[64], longname[100];

	CHECK(netns_resolve("ns2", path, sizeof(path)) == 0);
	CHECK(strcmp(path, "/var/run/netns/ns2") == 0);
	CHECK(netns_resolve("/proc/1/ns/net", path, sizeof(path)) == 0);
	CHECK(strcmp(path, "/proc/1/ns/net") == 0);
	CHECK(netns_resolve("./x", path, sizeof(path)) == 0);
	CHECK(strcmp(path, "./x") == 0);
	CHECK(netns_resolve("", path, sizeof(path)) == -1 && errno == EINVAL);
	CHECK(netns_resolve(".", path, sizeof(path)) == -1 && errno == EINVAL);
	CHECK(netns_resolve("..", path, sizeof(path)) == -1 &&
	    errno == EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(netns_resolve(longname, path, sizeof(path)) == -1 &&
	    errno == ENAMETOOLONG);
}

static void
test_netns_check_own(void)
{
	struct nsid	id;
	struct stat	st;
	int		fd;

	CHECK((fd = netns_open_self()) != -1);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(netns_check(fd, &id) == 0);
	CHECK(stat("/proc/self/ns/net", &st) == 0);
	CHECK(id.dev == st.st_dev && id.ino == st.st_ino);
}

/* The type check itself: a namespace, but not a network one. */
static void
test_netns_check_other_type(void)
{
	static const char *const others[] = {
		"/proc/self/ns/mnt", "/proc/self/ns/uts", "/proc/self/ns/ipc",
	};
	struct nsid	id;
	size_t		i;
	int		fd;

	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CHECK((fd = netns_open(others[i])) != -1);
		CHECK(netns_check(fd, &id) == -1 && errno == EINVAL);
		close(fd);
	}
}

static void
test_netns_check_not_ns(void)
{
	struct nsid	id;
	int		fd, p[2], sv[2];

	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(netns_check(fd, &id) == -1 && errno == EINVAL);
	close(fd);
	CHECK((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(netns_check(fd, &id) == -1 && errno == EINVAL);
	close(fd);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(netns_check(p[0], &id) == -1 && errno == EINVAL);
	unit_socketpair(SOCK_STREAM, sv);
	CHECK(netns_check(sv[0], &id) == -1 && errno == EINVAL);
	CHECK(netns_check(-1, &id) == -1 && errno == EBADF);
}

/* Once one nsfs file has been seen, the st_dev shortcut must still turn
 * away every other kind of file, and other namespace types. */
static void
test_netns_check_warm(void)
{
	struct nsid	id;
	int		fd, self;

	CHECK((self = netns_open_self()) != -1);
	CHECK(netns_check(self, &id) == 0);		/* warms the cache */
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(netns_check(fd, &id) == -1 && errno == EINVAL);
	close(fd);
	CHECK((fd = netns_open("/proc/self/ns/mnt")) != -1);
	CHECK(netns_check(fd, &id) == -1 && errno == EINVAL);
	close(fd);
	CHECK(netns_check(self, &id) == 0);
}

static void
temp_path(char *buf, size_t size, const char *what)
{
	snprintf(buf, size, "/tmp/zt-unit-%ld-%s", (long)getpid(), what);
	unlink(buf);
}

static void
test_udsock_create_0600(void)
{
	struct stat	st;
	char		path[108];
	ino_t		ino;
	int		fd, c;

	temp_path(path, sizeof(path), "mode");
	CHECK((fd = udsock_listen(path, SOCK_STREAM, 0600, &ino)) != -1);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(lstat(path, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK((st.st_mode & 07777) == 0600);
	CHECK(st.st_ino == ino);
	CHECK((c = udsock_connect(path, SOCK_STREAM)) != -1);
	CHECK(fcntl(c, F_GETFD) & FD_CLOEXEC);
	CHECK(udsock_unlink(path, ino) == 0);
	CHECK(lstat(path, &st) == -1 && errno == ENOENT);
}

static void
test_udsock_live_refused(void)
{
	char	path[108];
	ino_t	ino, ino2;
	int	fd;

	temp_path(path, sizeof(path), "live");
	CHECK((fd = udsock_listen(path, SOCK_STREAM, 0600, &ino)) != -1);
	CHECK(udsock_listen(path, SOCK_STREAM, 0600, &ino2) == -1);
	CHECK(errno == EADDRINUSE);
	/* A live listener of another type is just as live. */
	CHECK(udsock_listen(path, SOCK_SEQPACKET, 0600, &ino2) == -1);
	CHECK(errno == EADDRINUSE);
	close(fd);
	unlink(path);
}

static void
test_udsock_stale_replaced(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	struct stat		st;
	char			path[108];
	ino_t			ino;
	int			s, fd;

	temp_path(path, sizeof(path), "stale");
	memcpy(sun.sun_path, path, strlen(path) + 1);
	CHECK((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	CHECK(bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(s);	/* the file stays behind, nobody listens */
	CHECK((fd = udsock_listen(path, SOCK_STREAM, 0600, &ino)) != -1);
	CHECK(lstat(path, &st) == 0 && st.st_ino == ino);
	close(fd);
	unlink(path);
}

static void
test_udsock_not_a_socket_kept(void)
{
	struct stat	st;
	char		path[108];
	ino_t		ino;
	int		fd;

	temp_path(path, sizeof(path), "file");
	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) != -1);
	CHECK(write(fd, "keep", 4) == 4);
	close(fd);
	CHECK(udsock_listen(path, SOCK_STREAM, 0600, &ino) == -1);
	CHECK(errno == EEXIST);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
	unlink(path);
}

/* Only our own socket is removed, not one that replaced it. */
static void
test_udsock_unlink_only_ours(void)
{
	struct stat	st;
	char		path[108];
	ino_t		ino;
	int		fd;

	temp_path(path, sizeof(path), "ours");
	CHECK((fd = udsock_listen(path, SOCK_STREAM, 0600, &ino)) != -1);
	CHECK(udsock_unlink(path, ino + 1) == 0);
	CHECK(lstat(path, &st) == 0);
	CHECK(udsock_unlink(path, ino) == 0);
	CHECK(lstat(path, &st) == -1);
	close(fd);
}

static void
test_udsock_path_too_long(void)
{
	char	path[200];
	ino_t	ino;

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	CHECK(udsock_listen(path, SOCK_STREAM, 0600, &ino) == -1);
	CHECK(errno == ENAMETOOLONG);
	CHECK(udsock_connect(path, SOCK_STREAM) == -1);
	CHECK(errno == ENAMETOOLONG);
}

static void
test_parse_seconds(void)
{
	uint64_t ms;

	CHECK(parse_seconds_ms("5", 10000, &ms) == 0 && ms == 5000);
	CHECK(parse_seconds_ms("0.5", 10000, &ms) == 0 && ms == 500);
	CHECK(parse_seconds_ms("1.25", 10000, &ms) == 0 && ms == 1250);
	CHECK(parse_seconds_ms("2.0001", 10000, &ms) == 0 && ms == 2000);
	CHECK(parse_seconds_ms("11", 10000, &ms) == -1 && errno == ERANGE);
	CHECK(parse_seconds_ms("99999999999999999999", 10000, &ms) == -1 &&
	    errno == ERANGE);
	CHECK(parse_seconds_ms("", 10000, &ms) == -1 && errno == EINVAL);
	CHECK(parse_seconds_ms("-1", 10000, &ms) == -1 && errno == EINVAL);
	CHECK(parse_seconds_ms("1s", 10000, &ms) == -1 && errno == EINVAL);
	CHECK(parse_seconds_ms(".5", 10000, &ms) == -1 && errno == EINVAL);
}

static void
test_parse_ulong(void)
{
	unsigned long v;

	CHECK(parse_ulong("0", 10, 10, &v) == 0 && v == 0);
	CHECK(parse_ulong("65534", 10, UINT_MAX, &v) == 0 && v == 65534);
	CHECK(parse_ulong("0660", 8, 07777, &v) == 0 && v == 0660);
	CHECK(parse_ulong("11", 10, 10, &v) == -1 && errno == ERANGE);
	CHECK(parse_ulong("-1", 10, 10, &v) == -1 && errno == EINVAL);
	CHECK(parse_ulong(" 1", 10, 10, &v) == -1 && errno == EINVAL);
	CHECK(parse_ulong("1x", 10, 10, &v) == -1 && errno == EINVAL);
	CHECK(parse_ulong("", 10, 10, &v) == -1 && errno == EINVAL);
}

/* The one rule for names (text.h): printable UTF-8, no space, at most
 * 253 bytes, not cut inside a character. */
static void
test_text_names(void)
{
	char	long_ok[TEXT_NAME_MAX + 1], long_bad[TEXT_NAME_MAX + 2];
	char	utf[260];
	size_t	i;

	CHECK(text_name_ok("web-7d9f.x_2") && text_name_ok("caf\xc3\xa9"));
	CHECK(text_name_ok("\xe6\x97\xa5\xe6\x9c\xac"));	/* 日本 */
	CHECK(!text_name_ok("") && !text_name_ok("a b") &&
	    !text_name_ok("a\x7f") && !text_name_ok("x\x01") &&
	    !text_name_ok("esc\x1b[31m") && !text_name_ok("cr\r") &&
	    !text_name_ok("bad\xff") && !text_name_ok("c1\xc2\x85") &&
	    !text_name_ok("\xc0\x80") && !text_name_ok("\xed\xa0\x80") &&
	    !text_name_ok("\xf5\x80\x80\x80") && !text_name_ok("\xc3"));
	memset(long_ok, 'a', TEXT_NAME_MAX);
	long_ok[TEXT_NAME_MAX] = '\0';
	CHECK(text_name_ok(long_ok));
	memset(long_bad, 'a', TEXT_NAME_MAX + 1);
	long_bad[TEXT_NAME_MAX + 1] = '\0';
	CHECK(!text_name_ok(long_bad));
	/* 86 three-byte characters: 258 bytes of valid UTF-8, too long
	 * (never cut to 253, inside the 85th character). */
	for (i = 0; i < 86; i++)
		memcpy(utf + 3 * i, "\xe2\x82\xac", 3);	/* € */
	utf[258] = '\0';
	CHECK(text_clean(utf, 258) && !text_name_ok(utf));
}

/* --dns-domain: host-name labels, lowercased, the final dot dropped. */
static void
test_text_dns_domain(void)
{
	char	out[256], label[70];

	CHECK(text_dns_domain("Cluster.Local.", out, sizeof(out)) == 0 &&
	    strcmp(out, "cluster.local") == 0);
	CHECK(text_dns_domain("k8s-1.example", out, sizeof(out)) == 0);
	CHECK(text_dns_domain("", out, sizeof(out)) == -1);
	CHECK(text_dns_domain(".", out, sizeof(out)) == -1);
	CHECK(text_dns_domain("a..b", out, sizeof(out)) == -1);
	CHECK(text_dns_domain(".a", out, sizeof(out)) == -1);
	CHECK(text_dns_domain("a b", out, sizeof(out)) == -1);
	CHECK(text_dns_domain("a_b", out, sizeof(out)) == -1);
	CHECK(text_dns_domain("cluster.local", out, 5) == -1);
	memset(label, 'a', 64);
	label[64] = '\0';
	CHECK(text_dns_domain(label, out, sizeof(out)) == -1);
	label[63] = '\0';
	CHECK(text_dns_domain(label, out, sizeof(out)) == 0);
}

/* A workload's namespace and name; its length sizes a pod's record. */
static void
test_text_workload_split(void)
{
	const char	*name;
	char		 ns[8];

	CHECK(text_workload_split("shop/web", ns, sizeof(ns), &name) == 4 &&
	    strcmp(ns, "shop") == 0 && strcmp(name, "web") == 0);
	CHECK(text_workload_split("web", ns, sizeof(ns), &name) == 7 &&
	    strcmp(ns, TEXT_DEFAULT_NS) == 0 && strcmp(name, "web") == 0);
	CHECK(text_workload_split("a-long-one/x", NULL, 0, &name) == 10 &&
	    strcmp(name, "x") == 0);
	CHECK(text_workload_split("a-long-one/x", ns, sizeof(ns), &name) ==
	    10 && strcmp(ns, "a-long-") == 0);	/* cut, as snprintf */
}

static void
test_text_escape(void)
{
	char out[64];

	CHECK(strcmp(text_escape("caf\xc3\xa9", out, sizeof(out), 0),
	    "caf\xc3\xa9") == 0);
	CHECK(strcmp(text_escape("bad\xff", out, sizeof(out), 0),
	    "bad\\xff") == 0);
	/* Controls stay unless asked: then each byte of them escaped. */
	CHECK(strcmp(text_escape("a\x01b", out, sizeof(out), 0), "a\x01b") ==
	    0);
	CHECK(strcmp(text_escape("a\x01\x1b\xc2\x85", out, sizeof(out),
	    TEXT_ESC_CONTROLS), "a\\x01\\x1b\\xc2\\x85") == 0);
	/* Cut short at a character boundary, never inside one. */
	CHECK(strcmp(text_escape("ab\xe2\x82\xac", out, 5, 0), "ab") == 0);
	CHECK(strcmp(text_escape("ab\xff", out, 6, 0), "ab") == 0);
}

/* The byte buffer: grows to its limit and no further, keeps its bytes
 * in order across drops and moves, and sends what a socket takes. */
static void
test_buf(void)
{
	enum { BIG = 4 << 20 };		/* more than a socket buffer */
	struct buf	b = { NULL, 0, 0, 0 };
	char		*big, *got;
	size_t		sent, n = 0;
	ssize_t		r;
	int		sv[2], i;

	CHECK((big = malloc(BIG)) != NULL && (got = malloc(BIG)) != NULL);
	for (i = 0; i < BIG; i++)
		big[i] = (char)(i * 7);
	CHECK(buf_add(&b, "hello", 5, 16) == 0 && b.len == 5);
	CHECK(buf_add(&b, big, 12, 16) == -1 && b.len == 5);	/* past max */
	buf_drop(&b, 2);
	CHECK(b.len == 3 && memcmp(b.p + b.off, "llo", 3) == 0);
	buf_drop(&b, 3);
	CHECK(b.len == 0 && b.off == 0);
	buf_free(&b);
	CHECK(b.p == NULL && b.cap == 0);
	/* More than the socket takes at once: 1 (full), then the rest. */
	unit_socketpair(SOCK_STREAM, sv);
	CHECK(buf_add(&b, big, BIG, SIZE_MAX) == 0);
	CHECK(buf_send(&b, sv[0], &sent) == 1 && sent > 0 && sent < BIG &&
	    b.len == BIG - sent);
	while (n < BIG) {
		if (b.len > 0)
			(void)buf_send(&b, sv[0], NULL);
		CHECK((r = recv(sv[1], got + n, BIG - n, MSG_DONTWAIT)) > 0 ||
		    errno == EAGAIN);
		if (r > 0)
			n += (size_t)r;
	}
	CHECK(b.len == 0 && memcmp(big, got, BIG) == 0);
	close(sv[1]);
	CHECK(buf_add(&b, "x", 1, SIZE_MAX) == 0);
	CHECK(buf_send(&b, sv[0], NULL) == -1 && errno == EPIPE);
	close(sv[0]);
	buf_free(&b);
	free(big);
	free(got);
}

const struct unit_test misc_tests[] = {
	UNIT_TEST(test_buf),
	UNIT_TEST(test_text_names),
	UNIT_TEST(test_text_dns_domain),
	UNIT_TEST(test_text_workload_split),
	UNIT_TEST(test_text_escape),
	UNIT_TEST(test_netns_resolve),
	UNIT_TEST(test_netns_check_own),
	UNIT_TEST(test_netns_check_other_type),
	UNIT_TEST(test_netns_check_not_ns),
	UNIT_TEST(test_netns_check_warm),
	UNIT_TEST(test_udsock_create_0600),
	UNIT_TEST(test_udsock_live_refused),
	UNIT_TEST(test_udsock_stale_replaced),
	UNIT_TEST(test_udsock_not_a_socket_kept),
	UNIT_TEST(test_udsock_unlink_only_ours),
	UNIT_TEST(test_udsock_path_too_long),
	UNIT_TEST(test_parse_seconds),
	UNIT_TEST(test_parse_ulong),
	UNIT_END
};
