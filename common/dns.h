/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_DNS_H
#define COMMON_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ipaddr.h"

/*
 * The DNS messages ztunnel's DNS proxy (15053) reads and writes (RFC 1035,
 * RFC 3596 for AAAA): a pure codec, no sockets.  The parser refuses what
 * it does not understand rather than guess: a compression pointer that
 * does not point strictly backwards (loops), past the end, a label over
 * 63 bytes or a name over 255, a count that promises records the message
 * does not hold, a TCP length prefix cut short.  Names come out in
 * lowercase dotted text, printable ASCII only.
 */

#define DNS_HEADER_LEN	12
#define DNS_UDP_MAX	512	/* without EDNS: longer answers are truncated */
#define DNS_TCP_MAX	65535
#define DNS_NAME_MAX	255	/* on the wire, length bytes and root included */
#define DNS_TEXT_MAX	253	/* as dotted text, without the final dot */
#define DNS_LABEL_MAX	63

#define DNS_TYPE_A	1
#define DNS_TYPE_AAAA	28
#define DNS_TYPE_OPT	41	/* EDNS, RFC 6891 */
#define DNS_CLASS_IN	1

#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_FORMERR	1
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3
#define DNS_RCODE_NOTIMP	4

/* A query, as the proxy needs it. */
struct dns_query {
	uint16_t	id;
	uint16_t	flags;		/* as received (RD is echoed) */
	char		name[DNS_TEXT_MAX + 1];	/* lowercase, no final dot */
	uint16_t	qtype;
	uint16_t	qclass;
	size_t		qlen;		/* header + question: what is echoed */
	uint16_t	udp_size;	/* EDNS: the UDP answer it takes; 0:
					 * no OPT record (512) */
};

enum dns_parse {
	DNS_OK,
	DNS_DROP,	/* not even a header, or a response: no answer */
	DNS_FORMERR,	/* malformed: answer FORMERR (why says what) */
	DNS_NOTIMP,	/* not a standard query: answer NOTIMP */
};

/* A query message (one, whole).  Every section is walked and checked;
 * only the question is kept. */
enum dns_parse	dns_parse_query(const uint8_t *msg, size_t len,
		    struct dns_query *q, const char **why);

/*
 * The name at off in msg, followed through compression pointers, into
 * out (dotted, lowercase); *next is the offset just after it where it
 * started.  -1 with *why if it is malformed.
 */
int		dns_read_name(const uint8_t *msg, size_t len, size_t off,
		    char *out, size_t outsize, size_t *next, const char **why);

/*
 * The answer to q (whose message was qmsg): the header with QR, RA and
 * rcode, the question echoed, then one record per address of q's type
 * (A or AAAA, class IN, ttl seconds).  What does not fit in size sets
 * TC and is left out (a UDP client retries over TCP).  Returns the
 * length; -1 if not even the header and question fit.
 */
ssize_t		dns_answer(const struct dns_query *q, const uint8_t *qmsg,
		    int rcode, const struct ipaddr *addrs, size_t naddrs,
		    uint32_t ttl, uint8_t *out, size_t size);

/* A header alone with rcode, for a query too broken to echo (len: what
 * was received, at least 4 bytes).  Returns its length, or -1. */
ssize_t		dns_error(const uint8_t *qmsg, size_t len, int rcode,
		    uint8_t *out, size_t size);

/* What the proxy needs of an upstream's answer. */
struct dns_response {
	unsigned	rcode;
	unsigned	answers;	/* its answer count */
	int		truncated;	/* TC: ask again over TCP */
};
/* r is the answer to the query qmsg (whose header and question are qlen
 * bytes): a response, same id, the same question back.  -1 with *why
 * if not. */
int		dns_check_response(const uint8_t *r, size_t rlen,
		    const uint8_t *qmsg, size_t qlen, struct dns_response *,
		    const char **why);

/*
 * DNS over TCP: a two-byte length, then the message.  With buf holding
 * len bytes so far: 0 if the message is not whole yet, else the length
 * of the message (which starts at buf + 2); -1 for a length of zero.
 */
ssize_t		dns_tcp_message(const uint8_t *buf, size_t len);

#endif
