/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the control socket's request intake, fed the way the
 * daemon feeds it (the bytes so far, growing).  Properties: a complete
 * request stays complete as the same bytes are parsed again, names are
 * always valid, and a complete request line formats back to itself.
 * Beside it, text.c: whatever the bytes, their escape is clean text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_req		req;
	enum wire_status	st = WIRE_INCOMPLETE;
	char			why[WIRE_REPLY_MAX], line[WIRE_REQ_MAX + 1];
	char			raw[WIRE_REQ_MAX + 1], esc[4 * WIRE_REQ_MAX + 1];
	size_t			len;
	int			n;

	len = size < WIRE_REQ_MAX ? size : WIRE_REQ_MAX;
	memcpy(raw, data, len);
	raw[len] = '\0';
	text_escape(raw, esc, sizeof(esc), TEXT_ESC_CONTROLS);
	if (!text_clean(esc, strlen(esc)) ||
	    (text_clean(raw, strlen(raw)) && strcmp(raw, esc) != 0))
		abort();
	if (size > WIRE_REQ_MAX)
		size = WIRE_REQ_MAX;	/* the daemon's buffer */
	/* Arrival in pieces: stop where the daemon would. */
	for (len = 1; len <= size && st == WIRE_INCOMPLETE; len++)
		st = wire_parse(data, len, &req, why, sizeof(why));
	if (st != WIRE_COMPLETE)
		return 0;
	len--;
	if (req.name[0] != '\0' && !text_name_ok(req.name))
		abort();
	if (data[0] == WIRE_SEED_ADD)
		return 0;
	n = wire_format(line, sizeof(line), req.op, req.name);
	if (n < 0 || (size_t)n != len || memcmp(line, data, len) != 0)
		abort();
	return 0;
}
