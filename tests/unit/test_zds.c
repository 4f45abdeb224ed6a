/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zds: encoding and decoding against golden vectors made by protoc
 * (tests/zds/vectors, `make golden`), and decoding of what protoc would
 * never make.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "zds.h"

#define VECTORS "tests/zds/vectors/"

static size_t
load(const char *name, uint8_t *buf, size_t size)
{
	char	path[256];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), VECTORS "%s.bin", name);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECK((n = read(fd, buf, size)) > 0);
	close(fd);
	return (size_t)n;
}

static struct zds_request
make_req(enum zds_req_type type, const char *uid, const char *name,
    const char *ns, const char *sa, int has_info)
{
	struct zds_request r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	snprintf(r.uid, sizeof(r.uid), "%s", uid);
	r.has_info = has_info;
	snprintf(r.info.name, sizeof(r.info.name), "%s", name);
	snprintf(r.info.namespace, sizeof(r.info.namespace), "%s", ns);
	snprintf(r.info.service_account, sizeof(r.info.service_account), "%s",
	    sa);
	return r;
}

/* Decode the vector to `want`, and encode `want` to the vector's bytes. */
static void
golden_request(const char *name, const struct zds_request *want)
{
	uint8_t			gold[ZDS_MSG_MAX], out[ZDS_MSG_MAX];
	struct zds_request	got;
	const char		*why;
	size_t			n = load(name, gold, sizeof(gold));
	ssize_t			m;

	CHECK(zds_decode_request(gold, n, &got, &why) == 0);
	CHECK(zds_request_equal(&got, want));
	CHECK((m = zds_encode_request(out, sizeof(out), want)) > 0);
	CHECK((size_t)m == n && memcmp(out, gold, n) == 0);
}

static void
test_zds_golden_requests(void)
{
	struct zds_request r;

	r = make_req(ZDS_ADD, "pod1", "pod1", "default", "sa", 1);
	golden_request("add_pod1", &r);
	r = make_req(ZDS_ADD, "pod2", "", "", "", 0);
	golden_request("add_no_info", &r);
	r = make_req(ZDS_ADD, "pod3", "", "", "", 1);
	golden_request("add_empty_info", &r);
	r = make_req(ZDS_ADD, "7f3c9a52-1e4b-4d0a-9c8e-2b6f0d1a3e57",
	    "reviews-v2-5b6c7d8f9-x2x7q", "bookinfo", "bookinfo-reviews", 1);
	golden_request("add_k8s", &r);
	r = make_req(ZDS_ADD, "pod-\xc3\xbc", "caf\xc3\xa9",
	    "\xe6\x97\xa5\xe6\x9c\xac", "", 1);
	golden_request("add_utf8", &r);
	r = make_req(ZDS_DEL, "pod1", "", "", "", 0);
	golden_request("del_pod1", &r);
	r = make_req(ZDS_KEEP, "pod1", "", "", "", 0);
	golden_request("keep_pod1", &r);
	r = make_req(ZDS_SNAPSHOT_SENT, "", "", "", "", 0);
	golden_request("snapshot_sent", &r);
}

static void
test_zds_golden_hello(void)
{
	uint8_t		gold[16], out[16];
	const char     *why;
	uint32_t	v;
	size_t		n = load("hello_v1", gold, sizeof(gold));

	CHECK(zds_decode_hello(gold, n, &v, &why) == 0 && v == ZDS_VERSION_V1);
	CHECK(zds_encode_hello(out, sizeof(out), ZDS_VERSION_V1) == (ssize_t)n);
	CHECK(memcmp(out, gold, n) == 0);
	/* Version 0 would be an empty datagram: a hang-up to the peer. */
	CHECK(zds_encode_hello(out, sizeof(out), 0) == -1 && errno == EINVAL);
}

static void
test_zds_golden_acks(void)
{
	uint8_t		gold[64], out[64];
	char		err[64];
	const char     *why;
	size_t		n;

	n = load("ack_ok", gold, sizeof(gold));
	CHECK(zds_decode_ack(gold, n, err, sizeof(err), &why) == 0);
	CHECK(err[0] == '\0');
	CHECK(zds_encode_ack(out, sizeof(out), "") == (ssize_t)n);
	CHECK(memcmp(out, gold, n) == 0);
	n = load("ack_boom", gold, sizeof(gold));
	CHECK(zds_decode_ack(gold, n, err, sizeof(err), &why) == 0);
	CHECK(strcmp(err, "boom") == 0);
	CHECK(zds_encode_ack(out, sizeof(out), "boom") == (ssize_t)n);
	CHECK(memcmp(out, gold, n) == 0);
}

static void
expect_bad(const uint8_t *buf, size_t len, const char *reason)
{
	struct zds_request	req;
	const char		*why = NULL;

	CHECK(zds_decode_request(buf, len, &req, &why) == -1);
	CHECK(errno == EBADMSG);
	CHECK(why != NULL && strstr(why, reason) != NULL);
}

/* Every proper prefix of a message is refused, never over-read. */
static void
test_zds_truncated(void)
{
	uint8_t			gold[ZDS_MSG_MAX], part[ZDS_MSG_MAX];
	struct zds_request	req;
	const char		*why;
	size_t			n = load("add_k8s", gold, sizeof(gold)), i;

	for (i = 1; i < n; i++) {
		/* A copy of exactly i bytes: ASan sees any read past it. */
		memcpy(part, gold, i);
		CHECK(zds_decode_request(part, i, &req, &why) == -1);
	}
	CHECK(zds_decode_request(gold, 0, &req, &why) == 0);
	CHECK(req.type == ZDS_NONE);
}

static void
test_zds_bad_varints(void)
{
	static const uint8_t overlong[] = {	/* 11-byte key */
		0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
	};
	static const uint8_t bit64[] = {	/* 10th byte > 1 */
		0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
	};
	static const uint8_t field0[] = { 0x02, 0x00 };
	static const uint8_t group[] = { 0x0b, 0x0c };
	static const uint8_t longlen[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
	uint32_t	v;
	const char     *why;

	expect_bad(overlong, sizeof(overlong), "overlong");
	CHECK(zds_decode_hello(bit64, sizeof(bit64), &v, &why) == -1);
	expect_bad(field0, sizeof(field0), "field number");
	expect_bad(group, sizeof(group), "groups");
	expect_bad(longlen, sizeof(longlen), "past the end");
}

/* Unknown fields of every wire type, outside and inside, are skipped. */
static void
test_zds_unknown_fields_skipped(void)
{
	static const uint8_t msg[] = {
		0x78, 0x05,					/* 15: varint */
		0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8,		/* 16: fixed64 */
		0x0a, 0x1e,					/* 1: add */
		0x0a, 0x04, 'p', 'o', 'd', '1',			/*   uid */
		0x1d, 1, 2, 3, 4,				/*   3: fixed32 */
		0x12, 0x11,					/*   info */
		0x0a, 0x04, 'p', 'o', 'd', '1',			/*     name */
		0x22, 0x03, 'x', 'y', 'z',			/*     4: reserved */
		0x1a, 0x02, 's', 'a',				/*     sa */
		0x20, 0x07,					/*     4: varint */
		0x92, 0x01, 0x00,				/* 18: empty LEN */
	};
	struct zds_request	req, want;
	const char		*why;

	CHECK(zds_decode_request(msg, sizeof(msg), &req, &why) == 0);
	want = make_req(ZDS_ADD, "pod1", "pod1", "", "sa", 1);
	CHECK(zds_request_equal(&req, &want));
}

static void
test_zds_unknown_oneof(void)
{
	static const uint8_t four[] = { 0x22, 0x02, 0x0a, 0x00 };	/* 4 */
	struct zds_request	req;
	const char		*why;

	CHECK(zds_decode_request(four, sizeof(four), &req, &why) == 0);
	CHECK(req.type == ZDS_NONE);
}

static void
test_zds_wrong_wire_types(void)
{
	static const uint8_t add_varint[] = { 0x08, 0x01 };
	static const uint8_t uid_varint[] = { 0x0a, 0x02, 0x08, 0x01 };
	static const uint8_t info_varint[] = { 0x0a, 0x02, 0x10, 0x01 };

	expect_bad(add_varint, sizeof(add_varint), "wrong wire type");
	expect_bad(uid_varint, sizeof(uid_varint), "wrong wire type");
	expect_bad(info_varint, sizeof(info_varint), "wrong wire type");
}

static void
test_zds_strings(void)
{
	static const char *const bad[] = {
		"a\001b", "nul\0x", "tab\tx", "del\x7f", "\xc0\x80",
		"\xed\xa0\x80", "\xf5\x80\x80\x80", "\xc3", "\xc2\x85",
	};
	static const size_t badlen[] = { 3, 5, 5, 4, 2, 3, 4, 1, 2 };
	struct zds_request	req;
	uint8_t			msg[600];
	const char		*why;
	size_t			i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = badlen[i];
		msg[0] = 0x12;				/* del */
		msg[1] = (uint8_t)(n + 2);
		msg[2] = 0x12;				/* uid */
		msg[3] = (uint8_t)n;
		memcpy(msg + 4, bad[i], n);
		expect_bad(msg, n + 4, "not UTF-8 text");
	}
	/* 253 bytes fit, 254 do not. */
	for (n = 253; n <= 254; n++) {
		msg[0] = 0x12;
		msg[1] = 0x80 | (uint8_t)((n + 3) & 0x7f);
		msg[2] = (uint8_t)((n + 3) >> 7);
		msg[3] = 0x12;
		msg[4] = 0x80 | (uint8_t)(n & 0x7f);
		msg[5] = (uint8_t)(n >> 7);
		memset(msg + 6, 'u', n);
		if (n == 253) {
			CHECK(zds_decode_request(msg, n + 6, &req, &why) == 0);
			CHECK(strlen(req.uid) == 253);
		} else {
			expect_bad(msg, n + 6, "longer than 253");
		}
	}
}

/* A oneof set twice: the last one counts, whole. */
static void
test_zds_oneof_last_wins(void)
{
	uint8_t			buf[ZDS_MSG_MAX];
	struct zds_request	req, want;
	const char		*why;
	size_t			n = load("add_pod1", buf, sizeof(buf));

	n += load("del_pod1", buf + n, sizeof(buf) - n);
	CHECK(zds_decode_request(buf, n, &req, &why) == 0);
	want = make_req(ZDS_DEL, "pod1", "", "", "", 0);
	CHECK(zds_request_equal(&req, &want));
}

/* A string field given twice: the last counts (found by fuzz-zds, where
 * the first value's bytes lingered after the second's NUL). */
static void
test_zds_repeated_field(void)
{
	static const uint8_t msg[] = {
		0x0a, 0x08, 0x0a, 0x04, 'p', 'o', 'd', '3', 0x0a, 0x00,
	};
	struct zds_request	req, want;
	const char		*why;

	CHECK(zds_decode_request(msg, sizeof(msg), &req, &why) == 0);
	want = make_req(ZDS_ADD, "", "", "", "", 0);
	CHECK(zds_request_equal(&req, &want));
}

static void
test_zds_encode_limits(void)
{
	struct zds_request	r;
	uint8_t			buf[ZDS_MSG_MAX];

	r = make_req(ZDS_ADD, "pod1", "pod1", "default", "sa", 1);
	CHECK(zds_encode_request(buf, 10, &r) == -1 && errno == ENOSPC);
	r.type = ZDS_NONE;
	CHECK(zds_encode_request(buf, sizeof(buf), &r) == -1 && errno == EINVAL);
	r = make_req(ZDS_ADD, "u", "", "", "", 0);
	memset(r.info.name, 'n', ZDS_STR_MAX);
	r.info.name[ZDS_STR_MAX] = 'n';		/* unterminated at the limit */
	CHECK(zds_encode_request(buf, sizeof(buf), &r) == -1 && errno == EINVAL);
	CHECK(zds_encode_ack(buf, 4, "a long error") == -1 && errno == ENOSPC);
}

static void
test_zds_ack_decoding(void)
{
	static const uint8_t ctl[] = { 0x0a, 0x05, 0x0a, 0x03, 'a', '\n', 'b' };
	static const uint8_t none[] = { 0x12, 0x00 };
	char		err[3];
	const char     *why;

	CHECK(zds_decode_ack(ctl, sizeof(ctl), err, sizeof(err), &why) == 0);
	CHECK(strcmp(err, "a?") == 0);		/* masked, and cut to fit */
	CHECK(zds_decode_ack(none, sizeof(none), err, sizeof(err), &why) == -1);
	CHECK(strstr(why, "without an ack") != NULL);
}

const struct unit_test zds_tests[] = {
	UNIT_TEST(test_zds_golden_requests),
	UNIT_TEST(test_zds_golden_hello),
	UNIT_TEST(test_zds_golden_acks),
	UNIT_TEST(test_zds_truncated),
	UNIT_TEST(test_zds_bad_varints),
	UNIT_TEST(test_zds_unknown_fields_skipped),
	UNIT_TEST(test_zds_unknown_oneof),
	UNIT_TEST(test_zds_wrong_wire_types),
	UNIT_TEST(test_zds_strings),
	UNIT_TEST(test_zds_oneof_last_wins),
	UNIT_TEST(test_zds_repeated_field),
	UNIT_TEST(test_zds_encode_limits),
	UNIT_TEST(test_zds_ack_decoding),
	UNIT_END
};
