/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire: parsing of seed-protocol requests.
 */
#include <string.h>

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
}

static void
test_wire_seed_add_comes_alone(void)
{
	struct wire_req	req;
	char		why[128];

	CHECK(parse("\001\001", 2, &req, why) == WIRE_MALFORMED);
	CHECK(strstr(why, "must come alone") != NULL);
}

const struct unit_test wire_tests[] = {
	UNIT_TEST(test_wire_seed_add),
	UNIT_TEST(test_wire_empty_is_incomplete),
	UNIT_TEST(test_wire_wrong_first_byte),
	UNIT_TEST(test_wire_seed_add_comes_alone),
	UNIT_END
};
