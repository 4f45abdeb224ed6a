/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns.c: DNS messages for the DNS proxy (dns.h).  RFC 1035 section 4:
 * a 12-byte header (id, flags, four counts), then the sections, each
 * record a name, type, class, TTL and length-prefixed data; names are
 * labels of at most 63 bytes, or a two-byte pointer (top bits 11) to an
 * earlier name (section 4.1.4).
 */
#include <ctype.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

#define FLAG_QR		0x8000
#define OPCODE(f)	(((f) >> 11) & 0xf)
#define FLAG_TC		0x0200
#define FLAG_RD		0x0100
#define FLAG_RA		0x0080
#define MAX_HOPS	(DNS_NAME_MAX / 2)	/* each pointer moves back */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int
dns_read_name(const uint8_t *msg, size_t len, size_t off, char *out,
    size_t outsize, size_t *next, const char **why)
{
	size_t	wire = 1, o = 0, at = off, start = off, i;
	int	hops = 0, jumped = 0;
	uint8_t	l;

	for (;;) {
		if (at >= len) {
			*why = "a name runs past the end";
			return -1;
		}
		l = msg[at];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (at + 1 >= len) {
				*why = "a pointer cut short";
				return -1;
			}
			to = (size_t)(get16(msg + at) & 0x3fff);
			/* Strictly backwards, before this name's own start:
			 * no loop can last, and MAX_HOPS bounds the walk. */
			if (to >= start || to < DNS_HEADER_LEN ||
			    ++hops > MAX_HOPS) {
				*why = "a compression pointer that does not "
				    "point back";
				return -1;
			}
			if (!jumped)
				*next = at + 2;
			jumped = 1;
			at = start = to;
			continue;
		}
		if ((l & 0xc0) != 0) {
			*why = "a label type that is not in RFC 1035";
			return -1;
		}
		if (l == 0)
			break;
		if (l > DNS_LABEL_MAX || at + 1 + l > len) {
			*why = l > DNS_LABEL_MAX ? "a label over 63 bytes" :
			    "a label runs past the end";
			return -1;
		}
		if ((wire += 1 + (size_t)l) > DNS_NAME_MAX) {
			*why = "a name over 255 bytes";
			return -1;
		}
		if (o != 0 && o + 1 < outsize)
			out[o++] = '.';
		for (i = 0; i < l; i++) {
			uint8_t c = msg[at + 1 + i];

			/* Host names, or at least printable text: a name
			 * goes into logs and comparisons. */
			if (c <= ' ' || c >= 0x7f || c == '.' || c == '\\') {
				*why = "a label with a byte that is no part of "
				    "a host name";
				return -1;
			}
			if (o + 1 < outsize)
				out[o++] = (char)tolower(c);
		}
		at += 1 + (size_t)l;
	}
	if (!jumped)
		*next = at + 1;
	if (outsize > 0)
		out[o < outsize ? o : outsize - 1] = '\0';
	if (o >= outsize) {
		*why = "a name too long for its buffer";
		return -1;
	}
	return 0;
}

/* Walk count records from *off: each name, then type, class, TTL and
 * the data its length says. */
static int
skip_records(const uint8_t *msg, size_t len, size_t *off, unsigned count,
    uint16_t *opt_size, const char **why)
{
	char	name[DNS_TEXT_MAX + 1];
	size_t	next;
	unsigned i;

	for (i = 0; i < count; i++) {
		if (dns_read_name(msg, len, *off, name, sizeof(name), &next,
		    why) == -1)
			return -1;
		if (next + 10 > len || next + 10 + get16(msg + next + 8) > len) {
			*why = "a record runs past the end (a count that "
			    "lies?)";
			return -1;
		}
		/* EDNS (RFC 6891): an OPT record's class is the size of
		 * the UDP answer the sender can take. */
		if (opt_size != NULL && get16(msg + next) == DNS_TYPE_OPT)
			*opt_size = get16(msg + next + 2);
		*off = next + 10 + get16(msg + next + 8);
	}
	return 0;
}

enum dns_parse
dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q,
    const char **why)
{
	size_t	off, next;
	unsigned qd, an, ns, ar;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HEADER_LEN) {
		*why = "shorter than a header";
		return DNS_DROP;
	}
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if (q->flags & FLAG_QR) {
		*why = "a response, not a query";
		return DNS_DROP;
	}
	qd = get16(msg + 4);
	an = get16(msg + 6);
	ns = get16(msg + 8);
	ar = get16(msg + 10);
	if (OPCODE(q->flags) != 0) {
		*why = "not a standard query";
		return DNS_NOTIMP;
	}
	if (qd != 1) {
		*why = qd == 0 ? "no question" : "more than one question";
		return DNS_FORMERR;
	}
	if (dns_read_name(msg, len, DNS_HEADER_LEN, q->name, sizeof(q->name),
	    &next, why) == -1)
		return DNS_FORMERR;
	if (next + 4 > len) {
		*why = "a question cut short";
		return DNS_FORMERR;
	}
	q->qtype = get16(msg + next);
	q->qclass = get16(msg + next + 2);
	q->qlen = next + 4;
	off = q->qlen;
	/* The rest (an EDNS OPT record, mostly) is checked, not kept. */
	if (skip_records(msg, len, &off, an + ns + ar, &q->udp_size,
	    why) == -1)
		return DNS_FORMERR;
	if (off != len) {
		*why = "bytes after the last record";
		return DNS_FORMERR;
	}
	return DNS_OK;
}

ssize_t
dns_answer(const struct dns_query *q, const uint8_t *qmsg, int rcode,
    const struct ipaddr *addrs, size_t naddrs, uint32_t ttl, uint8_t *out,
    size_t size)
{
	size_t	off, i, rdlen, n = 0;
	int	family = q->qtype == DNS_TYPE_AAAA ? AF_INET6 : AF_INET;
	uint16_t flags;

	if (q->qlen < DNS_HEADER_LEN || q->qlen > size)
		return -1;
	memcpy(out, qmsg, q->qlen);
	off = q->qlen;
	rdlen = family == AF_INET6 ? 16 : 4;
	for (i = 0; rcode == DNS_RCODE_NOERROR && i < naddrs; i++) {
		if (addrs[i].family != family || (q->qtype != DNS_TYPE_A &&
		    q->qtype != DNS_TYPE_AAAA) || q->qclass != DNS_CLASS_IN)
			continue;
		if (off + 12 + rdlen > size)
			break;		/* TC: the rest does not fit */
		put16(out + off, 0xc000 | DNS_HEADER_LEN);	/* the question */
		put16(out + off + 2, q->qtype);
		put16(out + off + 4, DNS_CLASS_IN);
		put16(out + off + 6, (uint16_t)(ttl >> 16));
		put16(out + off + 8, (uint16_t)ttl);
		put16(out + off + 10, (uint16_t)rdlen);
		memcpy(out + off + 12, addrs[i].addr, rdlen);
		off += 12 + rdlen;
		n++;
	}
	flags = (uint16_t)(FLAG_QR | (q->flags & (0x7800 | FLAG_RD)) |
	    FLAG_RA | (rcode & 0xf));
	for (; i < naddrs && rcode == DNS_RCODE_NOERROR; i++)
		if (addrs[i].family == family)
			flags |= FLAG_TC;	/* one did not fit */
	put16(out + 2, flags);
	put16(out + 4, 1);
	put16(out + 6, (uint16_t)n);
	put16(out + 8, 0);
	put16(out + 10, 0);
	return (ssize_t)off;
}

ssize_t
dns_error(const uint8_t *qmsg, size_t len, int rcode, uint8_t *out,
    size_t size)
{
	uint16_t flags;

	if (len < 4 || size < DNS_HEADER_LEN)
		return -1;
	flags = get16(qmsg + 2);
	memset(out, 0, DNS_HEADER_LEN);
	memcpy(out, qmsg, 2);
	put16(out + 2, (uint16_t)(FLAG_QR | (flags & (0x7800 | FLAG_RD)) |
	    FLAG_RA | (rcode & 0xf)));
	return DNS_HEADER_LEN;
}

int
dns_check_response(const uint8_t *r, size_t rlen, const uint8_t *qmsg,
    size_t qlen, struct dns_response *out, const char **why)
{
	size_t i;

	if (rlen < DNS_HEADER_LEN || qlen < DNS_HEADER_LEN) {
		*why = "shorter than a header";
		return -1;
	}
	if (!(get16(r + 2) & FLAG_QR) || get16(r) != get16(qmsg)) {
		*why = "not the answer to our query (id or QR)";
		return -1;
	}
	out->rcode = get16(r + 2) & 0xf;
	out->truncated = (get16(r + 2) & FLAG_TC) != 0;
	out->answers = get16(r + 6);
	/* The question comes back as asked (case aside): anything else
	 * answers a question nobody here asked. */
	if (out->rcode == DNS_RCODE_NOERROR || get16(r + 4) != 0) {
		if (rlen < qlen || get16(r + 4) != 1) {
			*why = "the question does not come back";
			return -1;
		}
		for (i = DNS_HEADER_LEN; i < qlen; i++)
			if (tolower(r[i]) != tolower(qmsg[i])) {
				*why = "a question other than ours";
				return -1;
			}
	}
	return 0;
}

ssize_t
dns_tcp_message(const uint8_t *buf, size_t len)
{
	size_t n;

	if (len < 2)
		return 0;
	if ((n = get16(buf)) == 0)
		return -1;
	return len - 2 >= n ? (ssize_t)n : 0;
}
