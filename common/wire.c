/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire.c: requests of the control protocol (see wire.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "text.h"
#include "wire.h"

static const struct {
	const char	*verb;
	enum wire_op	 op;
	int		 has_name;
} verbs[] = {
	{ "add",	WIRE_OP_ADD,	1 },
	{ "del",	WIRE_OP_DEL,	1 },
	{ "list",	WIRE_OP_LIST,	0 },
	{ "list-wide",	WIRE_OP_LIST_WIDE, 0 },
	{ "list-json",	WIRE_OP_LIST_JSON, 0 },
	{ "info",	WIRE_OP_INFO,	0 },
};

/* A whole request line, without its newline. */
static enum wire_status
parse_line(const unsigned char *line, size_t len, struct wire_req *req,
    char *why, size_t whylen)
{
	const unsigned char	*sp = memchr(line, ' ', len);
	size_t			 vlen = sp != NULL ? (size_t)(sp - line) : len;
	size_t			 i, nlen;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].verb) != vlen ||
		    memcmp(verbs[i].verb, line, vlen) != 0)
			continue;
		req->op = verbs[i].op;
		req->name[0] = '\0';
		if (!verbs[i].has_name) {
			if (sp == NULL)
				return WIRE_COMPLETE;
			snprintf(why, whylen, "'%s' takes no argument",
			    verbs[i].verb);
			return WIRE_MALFORMED;
		}
		nlen = sp != NULL ? len - vlen - 1 : 0;
		if (sp == NULL || !text_name_ok_len(sp + 1, nlen)) {
			snprintf(why, whylen, "'%s' needs a pod name: 1 to %d "
			    "bytes of printable UTF-8, no spaces", verbs[i].verb,
			    WIRE_NAME_MAX);
			return WIRE_MALFORMED;
		}
		memcpy(req->name, sp + 1, nlen);
		req->name[nlen] = '\0';
		return WIRE_COMPLETE;
	}
	snprintf(why, whylen, "unknown request '%.*s' (add, del, list, list-wide, list-json, info)",
	    (int)(vlen > 32 ? 32 : vlen), (const char *)line);
	return WIRE_MALFORMED;
}

enum wire_status
wire_parse(const unsigned char *buf, size_t len, struct wire_req *req,
    char *why, size_t whylen)
{
	const unsigned char *nl;

	if (len == 0)
		return WIRE_INCOMPLETE;
	if (buf[0] == WIRE_SEED_ADD) {
		if (len > 1) {
			snprintf(why, whylen, "request byte 0x%02x must come "
			    "alone, %zu more followed", WIRE_SEED_ADD, len - 1);
			return WIRE_MALFORMED;
		}
		req->op = WIRE_OP_ADD;
		req->name[0] = '\0';
		return WIRE_COMPLETE;
	}
	/* Request lines start with a lower-case verb; anything else is
	 * neither form, and no amount of waiting will make it one. */
	if (buf[0] < 'a' || buf[0] > 'z') {
		snprintf(why, whylen, "unknown request byte 0x%02x (expected "
		    "0x%02x or a request line)", buf[0], WIRE_SEED_ADD);
		return WIRE_MALFORMED;
	}
	if ((nl = memchr(buf, '\n', len)) == NULL) {
		if (len < WIRE_REQ_MAX)
			return WIRE_INCOMPLETE;
		snprintf(why, whylen, "request line longer than %d bytes",
		    WIRE_REQ_MAX);
		return WIRE_MALFORMED;
	}
	if ((size_t)(nl - buf) + 1 != len) {
		snprintf(why, whylen, "%zu bytes after the request line",
		    len - (size_t)(nl - buf) - 1);
		return WIRE_MALFORMED;
	}
	return parse_line(buf, (size_t)(nl - buf), req, why, whylen);
}

int
wire_format(char *buf, size_t size, enum wire_op op, const char *name)
{
	size_t	i;
	int	n;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].op == op)
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0]) ||
	    (verbs[i].has_name && !text_name_ok(name))) {
		errno = EINVAL;
		return -1;
	}
	if (verbs[i].has_name)
		n = snprintf(buf, size, "%s %s\n", verbs[i].verb, name);
	else
		n = snprintf(buf, size, "%s\n", verbs[i].verb);
	if (n < 0 || (size_t)n >= size) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}
