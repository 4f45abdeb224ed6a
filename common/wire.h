/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_WIRE_H
#define COMMON_WIRE_H

#include <stddef.h>

/*
 * The seed protocol, on a SOCK_STREAM Unix socket, one request per
 * connection:
 *
 *   request:  0x01, with the pod's netns fd attached (SCM_RIGHTS)
 *   reply:    "listeners ready\n"  or  "error: <what failed>\n"
 *
 * The seed's own client sends the byte and hangs up without reading; the
 * reply is for clients that wait for it.
 */
#define WIRE_SEED_ADD		0x01
#define WIRE_REQ_MAX		512	/* longest request we buffer */
#define WIRE_REPLY_MAX		512	/* longest one-line reply */
#define WIRE_READY		"listeners ready"
#define WIRE_ERROR		"error: "

enum wire_op {
	WIRE_OP_ADD,		/* fd attached */
};

struct wire_req {
	enum wire_op	op;
};

enum wire_status {
	WIRE_MALFORMED = -1,
	WIRE_INCOMPLETE = 0,
	WIRE_COMPLETE = 1,
};

/* Parse the bytes a peer has sent so far.  On WIRE_MALFORMED, why holds a
 * one-line reason. */
enum wire_status wire_parse(const unsigned char *buf, size_t len,
		    struct wire_req *req, char *why, size_t whylen);

#endif
