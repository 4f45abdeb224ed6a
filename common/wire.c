/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire.c: requests of the seed protocol.
 */
#include <stdio.h>

#include "wire.h"

enum wire_status
wire_parse(const unsigned char *buf, size_t len, struct wire_req *req,
    char *why, size_t whylen)
{
	if (len == 0)
		return WIRE_INCOMPLETE;
	if (buf[0] != WIRE_SEED_ADD) {
		snprintf(why, whylen, "unknown request byte 0x%02x "
		    "(expected 0x%02x)", buf[0], WIRE_SEED_ADD);
		return WIRE_MALFORMED;
	}
	if (len > 1) {
		snprintf(why, whylen, "request byte 0x%02x must come "
		    "alone, %zu more followed", WIRE_SEED_ADD, len - 1);
		return WIRE_MALFORMED;
	}
	req->op = WIRE_OP_ADD;
	return WIRE_COMPLETE;
}
