/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire: parsing of seed-protocol requests.
 */
#include <stdio.h>
#include <string.h>

#include "text.h"
#include "unit.h"
#include "wire.h"

static enum wire_status
parse(const char *bytes, size_t len, struct wire_req *req, char *why)
{
	return wire_parse((const unsigned char *)bytes, len, req, why, 128);
}

static void
test_wire_seed_add(void)
{
	struct wire_req	req;
	char		why[128];

	CHECK(parse("\001", 1, &req, why) == WIRE_COMPLETE);
	CHECK(req.op == WIRE_OP_ADD);
}

static void
test_wire_empty_is_incomplete(void)
{
	struct wire_req	req;
	char		why[128];

	CHECK(parse("", 0, &req, why) == WIRE_INCOMPLETE);
}

static void
test_wire_wrong_first_byte(void)
{
	static const unsigned char bad[] = { 0x00, 0x02, 0x7f, 0xff };
	struct wire_req	req;
	char		why[128];
	size_t		i;

	for (i = 0; i < sizeof(bad); i++) {
		CHECK(wire_parse(&bad[i], 1, &req, why, sizeof(why)) ==
		    WIRE_MALFORMED);
		CHECK(strstr(why, "unknown request byte") != NULL);
	}
	CHECK(parse("\002", 1, &req, why) == WIRE_MALFORMED);
	CHECK(strstr(why, "0x02") != NULL);
	CHECK(parse("ADD x\n", 6, &req, why) == WIRE_MALFORMED);
}

static void
test_wire_seed_add_comes_alone(void)
{
	struct wire_req	req;
	char		why[128];

	CHECK(parse("\001\001", 2, &req, why) == WIRE_MALFORMED);
	CHECK(strstr(why, "must come alone") != NULL);
}

static void
test_wire_request_lines(void)
{
	struct wire_req	req;
	char		why[128];

	CHECK(parse("add ns2\n", 8, &req, why) == WIRE_COMPLETE);
	CHECK(req.op == WIRE_OP_ADD && strcmp(req.name, "ns2") == 0);
	CHECK(parse("del web-1\n", 10, &req, why) == WIRE_COMPLETE);
	CHECK(req.op == WIRE_OP_DEL && strcmp(req.name, "web-1") == 0);
	CHECK(parse("list\n", 5, &req, why) == WIRE_COMPLETE);
	CHECK(req.op == WIRE_OP_LIST && req.name[0] == '\0');
}

/* A line arrives in pieces: every prefix is incomplete, not malformed. */
static void
test_wire_line_in_pieces(void)
{
	static const char	line[] = "add some-pod-name\n";
	struct wire_req		req;
	char			why[128];
	size_t			i;

	for (i = 1; i < sizeof(line) - 1; i++)
		CHECK(parse(line, i, &req, why) == WIRE_INCOMPLETE);
	CHECK(parse(line, sizeof(line) - 1, &req, why) == WIRE_COMPLETE);
}

static void
test_wire_bad_lines(void)
{
	struct wire_req	req;
	char		why[128];

	CHECK(parse("frob x\n", 7, &req, why) == WIRE_MALFORMED);
	CHECK(strstr(why, "unknown request 'frob'") != NULL);
	CHECK(parse("add\n", 4, &req, why) == WIRE_MALFORMED);
	CHECK(strstr(why, "needs a pod name") != NULL);
	CHECK(parse("add \n", 5, &req, why) == WIRE_MALFORMED);
	CHECK(parse("add a b\n", 8, &req, why) == WIRE_MALFORMED);
	CHECK(parse("add a\tb\n", 8, &req, why) == WIRE_MALFORMED);
	CHECK(parse("add a\r\n", 7, &req, why) == WIRE_MALFORMED);
	CHECK(parse("list x\n", 7, &req, why) == WIRE_MALFORMED);
	CHECK(strstr(why, "takes no argument") != NULL);
	CHECK(parse("list\nlist\n", 10, &req, why) == WIRE_MALFORMED);
	CHECK(strstr(why, "after the request line") != NULL);
	CHECK(parse("List\n", 5, &req, why) == WIRE_MALFORMED);
	CHECK(parse("addd x\n", 7, &req, why) == WIRE_MALFORMED);
}

static void
test_wire_name_limits(void)
{
	char		line[WIRE_REQ_MAX + 8], name[WIRE_NAME_MAX + 2];
	struct wire_req	req;
	char		why[128];
	int		n;

	memset(name, 'n', sizeof(name));
	name[WIRE_NAME_MAX] = '\0';		/* the longest name */
	n = snprintf(line, sizeof(line), "add %s\n", name);
	CHECK(parse(line, (size_t)n, &req, why) == WIRE_COMPLETE);
	CHECK(strlen(req.name) == WIRE_NAME_MAX);
	name[WIRE_NAME_MAX] = 'n';		/* one too long */
	name[WIRE_NAME_MAX + 1] = '\0';
	n = snprintf(line, sizeof(line), "add %s\n", name);
	CHECK(parse(line, (size_t)n, &req, why) == WIRE_MALFORMED);
}

static void
test_wire_line_too_long(void)
{
	char		line[WIRE_REQ_MAX];
	struct wire_req	req;
	char		why[128];

	memset(line, 'a', sizeof(line));
	CHECK(wire_parse((unsigned char *)line, sizeof(line) - 1, &req, why,
	    sizeof(why)) == WIRE_INCOMPLETE);
	CHECK(wire_parse((unsigned char *)line, sizeof(line), &req, why,
	    sizeof(why)) == WIRE_MALFORMED);
	CHECK(strstr(why, "longer than") != NULL);
}

static void
test_wire_format_round_trip(void)
{
	static const enum wire_op ops[] = {
		WIRE_OP_ADD, WIRE_OP_DEL, WIRE_OP_LIST,
	};
	struct wire_req	req;
	char		buf[WIRE_REQ_MAX], why[128];
	size_t		i;
	int		n;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = wire_format(buf, sizeof(buf), ops[i], "pod-1");
		CHECK(n > 0);
		CHECK(parse(buf, (size_t)n, &req, why) == WIRE_COMPLETE);
		CHECK(req.op == ops[i]);
	}
	CHECK(wire_format(buf, sizeof(buf), WIRE_OP_ADD, "a b") == -1);
	CHECK(wire_format(buf, sizeof(buf), WIRE_OP_ADD, "") == -1);
	CHECK(wire_format(buf, 4, WIRE_OP_ADD, "pod") == -1);
	CHECK(text_name_ok("web-7d9f.x_2") && !text_name_ok("a\x7f"));
}

const struct unit_test wire_tests[] = {
	UNIT_TEST(test_wire_request_lines),
	UNIT_TEST(test_wire_line_in_pieces),
	UNIT_TEST(test_wire_bad_lines),
	UNIT_TEST(test_wire_name_limits),
	UNIT_TEST(test_wire_line_too_long),
	UNIT_TEST(test_wire_format_round_trip),
	UNIT_TEST(test_wire_seed_add),
	UNIT_TEST(test_wire_empty_is_incomplete),
	UNIT_TEST(test_wire_wrong_first_byte),
	UNIT_TEST(test_wire_seed_add_comes_alone),
	UNIT_END
};
