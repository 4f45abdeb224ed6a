/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the DNS proxy's parser (common/dns.c), fed one query
 * message.  Properties: it never reads past the message; a query it takes
 * has a name of lowercase printable text of at most 253 bytes; the answer
 * to it, read back as a query with the answer as an additional record,
 * names the same name.  Beside it, the TCP framing, the check of an
 * upstream's answer and the error header.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 fixed_query[] = { 0x12, 0x34, 1, 0, 0, 1, 0,
	    0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1 };
	struct dns_response	 res;
	struct dns_query	 q, r;
	struct ipaddr		 ad[2] = { { AF_INET, { 10, 244, 0, 1 } },
	    { AF_INET6, { 0xfd, 0, 0, 0x10, 0x2, 0x44 } } };
	uint8_t			*msg, out[DNS_UDP_MAX];
	const char		*why;
	ssize_t			 n;
	size_t			 i;

	(void)dns_tcp_message(data, size);
	if (size > DNS_TCP_MAX)
		return 0;
	/* A copy of its own size: ASan sees any read past it. */
	if ((msg = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(msg, data, size);
	/* As an upstream's answer to a query of the same id and name: it
	 * reads neither past the answer nor past the query. */
	(void)dns_check_response(msg, size, fixed_query, sizeof(fixed_query),
	    &res, &why);
	(void)dns_error(msg, size, DNS_RCODE_FORMERR, out, sizeof(out));
	if (dns_parse_query(msg, size, &q, &why) != DNS_OK) {
		free(msg);
		return 0;
	}
	if (strlen(q.name) > DNS_TEXT_MAX)
		abort();
	for (i = 0; q.name[i] != '\0'; i++)
		if (!isprint((unsigned char)q.name[i]) ||
		    isupper((unsigned char)q.name[i]))
			abort();
	n = dns_answer(&q, msg, DNS_RCODE_NOERROR, ad, 2, 30, out, sizeof(out));
	free(msg);
	if (n == -1)
		return 0;	/* the question alone is longer than 512 */
	if (n < DNS_HEADER_LEN || out[0] != (uint8_t)(q.id >> 8) ||
	    !(out[2] & 0x80))
		abort();
	out[2] &= 0x7f;
	out[10] = out[6];
	out[11] = out[7];
	out[6] = out[7] = 0;
	if (dns_parse_query(out, (size_t)n, &r, &why) != DNS_OK ||
	    strcmp(r.name, q.name) != 0)
		abort();
	return 0;
}
