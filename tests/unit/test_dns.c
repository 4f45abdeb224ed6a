/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DNS codec (common/dns.c): queries as dig sends them, answers that
 * parse back, and the hostile catalogue: compression loops, pointers
 * past the end, labels and names too long, counts that lie, TCP length
 * prefixes cut short.
 */
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "unit.h"

/* A query for name (dotted), type, with extra bytes appended. */
static size_t
query(uint8_t *m, const char *name, uint16_t type)
{
	size_t		 off = DNS_HEADER_LEN;
	const char	*p = name, *dot;

	memset(m, 0, DNS_HEADER_LEN);
	m[0] = 0x12;
	m[1] = 0x34;
	m[2] = 0x01;	/* RD */
	m[5] = 1;	/* QDCOUNT */
	while (*p != '\0') {
		dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);

		m[off++] = (uint8_t)l;
		memcpy(m + off, p, l);
		off += l;
		p += l + (dot != NULL);
	}
	m[off++] = 0;
	m[off++] = (uint8_t)(type >> 8);
	m[off++] = (uint8_t)type;
	m[off++] = 0;
	m[off++] = DNS_CLASS_IN;
	return off;
}

static void
test_dns_query_and_answer(void)
{
	uint8_t			 m[512], a[512];
	struct dns_query	 q, r;
	struct ipaddr		 ad = { AF_INET, { 10, 244, 0, 12 } };
	const char		*why;
	size_t			 len = query(m, "Pod2.Default.svc.cluster.local", DNS_TYPE_A);
	ssize_t			 n;

	CHECK(dns_parse_query(m, len, &q, &why) == DNS_OK);
	CHECK(strcmp(q.name, "pod2.default.svc.cluster.local") == 0);
	CHECK(q.id == 0x1234 && q.qtype == DNS_TYPE_A && q.qlen == len);
	n = dns_answer(&q, m, DNS_RCODE_NOERROR, &ad, 1, 30, a, sizeof(a));
	CHECK(n == (ssize_t)len + 16);
	CHECK(a[0] == 0x12 && a[1] == 0x34 && (a[2] & 0x80) && (a[2] & 0x01));
	CHECK(a[7] == 1 && (a[3] & 0xf) == 0);
	CHECK(memcmp(a + n - 4, ad.addr, 4) == 0);
	CHECK(a[len] == 0xc0 && a[len + 1] == DNS_HEADER_LEN);
	/* As a query again (QR cleared), it is well formed. */
	a[2] &= 0x7f;
	a[6] = a[7] = 0;	/* the answer counted as ... */
	a[10] = 0;
	a[11] = 1;		/* ... an additional record */
	CHECK(dns_parse_query(a, (size_t)n, &r, &why) == DNS_OK);
	CHECK(strcmp(r.name, q.name) == 0);
}

static void
test_dns_aaaa_and_errors(void)
{
	uint8_t			 m[512], a[512];
	struct dns_query	 q;
	struct ipaddr		 ad[2] = { { AF_INET, { 10, 0, 0, 1 } },
	    { AF_INET6, { 0xfd, 0, 0x10, 0, 0x2, 0x44 } } };
	const char		*why;
	size_t			 len = query(m, "a.b", DNS_TYPE_AAAA);
	ssize_t			 n;

	CHECK(dns_parse_query(m, len, &q, &why) == DNS_OK);
	n = dns_answer(&q, m, DNS_RCODE_NOERROR, ad, 2, 30, a, sizeof(a));
	CHECK(n == (ssize_t)len + 28 && a[7] == 1);	/* the AAAA only */
	n = dns_answer(&q, m, DNS_RCODE_SERVFAIL, ad, 2, 30, a, sizeof(a));
	CHECK(n == (ssize_t)len && (a[3] & 0xf) == DNS_RCODE_SERVFAIL && a[7] == 0);
	/* No room for the record: TC, and no record. */
	n = dns_answer(&q, m, DNS_RCODE_NOERROR, ad, 2, 30, a, len + 10);
	CHECK(n == (ssize_t)len && (a[2] & 0x02) && a[7] == 0);
	CHECK(dns_answer(&q, m, 0, ad, 2, 30, a, len - 1) == -1);
}

static void
test_dns_hostile(void)
{
	uint8_t			 m[600] = { 0 };
	struct dns_query	 q;
	const char		*why;
	size_t			 len, i;

	/* Shorter than a header; a response: nothing to answer. */
	CHECK(dns_parse_query(m, 11, &q, &why) == DNS_DROP);
	len = query(m, "a", DNS_TYPE_A);
	m[2] |= 0x80;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_DROP);
	/* Not a standard query. */
	len = query(m, "a", DNS_TYPE_A);
	m[2] |= 0x28;	/* opcode 5 */
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_NOTIMP);
	/* No question, two questions. */
	len = query(m, "a", DNS_TYPE_A);
	m[5] = 0;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	m[5] = 2;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	/* A pointer to itself, one forward, one past the end, one into
	 * the header. */
	len = query(m, "a", DNS_TYPE_A);
	m[12] = 0xc0;
	m[13] = 12;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	m[13] = 40;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	m[13] = 0xff;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	m[13] = 2;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	/* A loop between two names in the additional section. */
	len = query(m, "a", DNS_TYPE_A);
	m[11] = 1;	/* ARCOUNT */
	m[len] = 0xc0;
	m[len + 1] = (uint8_t)(len + 2);
	m[len + 2] = 0xc0;
	m[len + 3] = (uint8_t)len;
	CHECK(dns_parse_query(m, len + 4 + 10, &q, &why) == DNS_FORMERR);
	/* A label of 64 bytes; a name of 256. */
	len = query(m, "a", DNS_TYPE_A);
	m[12] = 64;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	for (i = 0, len = DNS_HEADER_LEN; i < 5; i++) {
		m[len++] = 63;
		memset(m + len, 'x', 63);
		len += 63;
	}
	m[len++] = 0;
	memset(m + len, 0, 4);
	m[len + 1] = 1;
	m[len + 3] = 1;
	CHECK(dns_parse_query(m, len + 4, &q, &why) == DNS_FORMERR);
	/* Counts that lie: an answer promised, none there. */
	len = query(m, "a", DNS_TYPE_A);
	m[7] = 1;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	m[6] = m[7] = 0xff;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
	/* A record whose data length runs past the end. */
	len = query(m, "a", DNS_TYPE_A);
	m[11] = 1;
	memset(m + len, 0, 11);
	m[len + 9] = 0xff;
	CHECK(dns_parse_query(m, len + 11, &q, &why) == DNS_FORMERR);
	/* Bytes after the last record; a question cut short. */
	len = query(m, "a", DNS_TYPE_A);
	CHECK(dns_parse_query(m, len + 1, &q, &why) == DNS_FORMERR);
	CHECK(dns_parse_query(m, len - 1, &q, &why) == DNS_FORMERR);
	/* A byte no host name has. */
	len = query(m, "a", DNS_TYPE_A);
	m[13] = 0x1b;
	CHECK(dns_parse_query(m, len, &q, &why) == DNS_FORMERR);
}

static void
test_dns_tcp_framing(void)
{
	uint8_t b[8] = { 0, 3, 'a', 'b', 'c', 'd' };

	CHECK(dns_tcp_message(b, 0) == 0);
	CHECK(dns_tcp_message(b, 1) == 0);	/* the prefix cut short */
	CHECK(dns_tcp_message(b, 4) == 0);
	CHECK(dns_tcp_message(b, 5) == 3);
	CHECK(dns_tcp_message(b, 6) == 3);	/* the next one's first byte */
	b[1] = 0;
	CHECK(dns_tcp_message(b, 2) == -1);
}

/* EDNS's UDP size is kept; an upstream's answer is checked against the
 * query it answers; a broken query gets a bare header back. */
static void
test_dns_edns_response_error(void)
{
	uint8_t			 m[512], r[512], e[DNS_HEADER_LEN];
	struct dns_query	 q;
	struct dns_response	 res;
	struct ipaddr		 ad = { AF_INET, { 10, 244, 0, 12 } };
	const char		*why;
	size_t			 len;
	ssize_t			 n;

	len = query(m, "www.example.test", DNS_TYPE_A);
	m[11] = 1;				/* ARCOUNT: an OPT record */
	memset(m + len, 0, 11);
	m[len + 2] = DNS_TYPE_OPT;		/* root name, then type */
	m[len + 3] = 0x04;			/* class: 1232 */
	m[len + 4] = 0xd0;
	CHECK(dns_parse_query(m, len + 11, &q, &why) == DNS_OK);
	CHECK(q.udp_size == 1232);
	n = dns_answer(&q, m, 0, &ad, 1, 30, r, sizeof(r));
	CHECK(n > 0);
	CHECK(dns_check_response(r, (size_t)n, m, q.qlen, &res, &why) == 0);
	CHECK(res.rcode == 0 && res.answers == 1 && !res.truncated);
	r[1] ^= 1;				/* another id */
	CHECK(dns_check_response(r, (size_t)n, m, q.qlen, &res, &why) == -1);
	r[1] ^= 1;
	r[17] = 'X';				/* another name */
	CHECK(dns_check_response(r, (size_t)n, m, q.qlen, &res, &why) == -1);
	r[17] = 'E';				/* the case aside: ours */
	CHECK(dns_check_response(r, (size_t)n, m, q.qlen, &res, &why) == 0);
	CHECK(dns_check_response(m, len, m, q.qlen, &res, &why) == -1);
	CHECK(dns_check_response(r, 11, m, q.qlen, &res, &why) == -1);
	CHECK(dns_error(m, 4, DNS_RCODE_FORMERR, e, sizeof(e)) == DNS_HEADER_LEN);
	CHECK(e[0] == 0x12 && e[1] == 0x34 && (e[2] & 0x80) &&
	    (e[3] & 0xf) == DNS_RCODE_FORMERR && e[5] == 0);
	CHECK(dns_error(m, 3, DNS_RCODE_FORMERR, e, sizeof(e)) == -1);
}

const struct unit_test dns_tests[] = {
	UNIT_TEST(test_dns_edns_response_error),
	UNIT_TEST(test_dns_query_and_answer),
	UNIT_TEST(test_dns_aaaa_and_errors),
	UNIT_TEST(test_dns_hostile),
	UNIT_TEST(test_dns_tcp_framing),
	UNIT_END,
};
