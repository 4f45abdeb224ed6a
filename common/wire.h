/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_WIRE_H
#define COMMON_WIRE_H

#include <stddef.h>

/*
 * The control protocol of ztunnel-emulator, on a SOCK_STREAM Unix socket,
 * one request per connection.  The first byte tells the two forms apart:
 *
 *   0x01                 the seed's request: add the pod whose netns fd
 *                        is attached (SCM_RIGHTS); the daemon names it
 *   "add NAME\n"         the same, with the pod's name; fd attached
 *   "del NAME\n"         remove the pod and close its listeners
 *   "list\n"             list the pods
 *   "list-wide\n"        the same, with more columns
 *   "list-json\n"        the same, as a JSON array
 *   "info\n"             who answers: "ztunnel-emulator VERSION mode=MODE",
 *                        MODE proxy (ztunnel's listeners, traffic carried)
 *                        or listen (the seed's, answering "ok")
 *
 * Replies are text: "listeners ready\n" (add), "removed NAME\n" (del), a
 * table (list) or a JSON array and a newline (list-json), or for any
 * request "error: <what failed>\n".  The daemon
 * closes the connection after its reply, which is how a list ends.
 */
#define WIRE_SOCK_PATH		"/run/ztunnel-emulator/control.sock" /* default */
#define WIRE_SEED_ADD		0x01
#define WIRE_REQ_MAX		512	/* longest request line, newline included */
#define WIRE_REPLY_MAX		512	/* longest one-line reply */
#define WIRE_NAME_MAX		253	/* TEXT_NAME_MAX: a Kubernetes name */
#define WIRE_READY		"listeners ready"
#define WIRE_REMOVED		"removed"
#define WIRE_ERROR		"error: "

enum wire_op {
	WIRE_OP_ADD,		/* fd attached */
	WIRE_OP_DEL,
	WIRE_OP_LIST,
	WIRE_OP_LIST_WIDE,
	WIRE_OP_LIST_JSON,
	WIRE_OP_INFO,
};

struct wire_req {
	enum wire_op	op;
	char		name[WIRE_NAME_MAX + 1];	/* "": seed add, derive it */
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

/* Format a request line ("add NAME\n" ...).  Returns its length, or -1
 * (EINVAL: bad name; ENOSPC: buffer too small). */
int		wire_format(char *buf, size_t size, enum wire_op op,
		    const char *name);


#endif
