/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the ZDS decoders, on any bytes a peer could send in
 * one datagram.  Beyond "no crash, no read out of bounds" (ASan, UBSan):
 * whatever decodes, encodes again and decodes to the same request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zds.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zds_request	req, again;
	uint8_t			buf[2 * ZDS_MSG_MAX];
	char			err[256];
	const char		*why;
	uint32_t		version;
	ssize_t			n;

	/* Longer datagrams are refused on receipt (MSG_TRUNC). */
	if (size > ZDS_MSG_MAX)
		return 0;
	(void)zds_decode_hello(data, size, &version, &why);
	(void)zds_decode_ack(data, size, err, sizeof(err), &why);
	if (zds_decode_request(data, size, &req, &why) == -1 ||
	    req.type == ZDS_NONE)
		return 0;
	n = zds_encode_request(buf, sizeof(buf), &req);
	if (n <= 0)
		abort();
	if (zds_decode_request(buf, (size_t)n, &again, &why) == -1 ||
	    !zds_request_equal(&req, &again))
		abort();
	return 0;
}
