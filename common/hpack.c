/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hpack.c: RFC 7541 (see hpack.h).
 */
#include <errno.h>
#include <string.h>

#include "hpack.h"

/* Appendix A: the static table, index 1 to 61. */
static const struct {
	const char *name, *value;
} static_table[] = {
	{ ":authority", "" }, { ":method", "GET" }, { ":method", "POST" },
	{ ":path", "/" }, { ":path", "/index.html" }, { ":scheme", "http" },
	{ ":scheme", "https" }, { ":status", "200" }, { ":status", "204" },
	{ ":status", "206" }, { ":status", "304" }, { ":status", "400" },
	{ ":status", "404" }, { ":status", "500" }, { "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" }, { "accept-language", "" },
	{ "accept-ranges", "" }, { "accept", "" },
	{ "access-control-allow-origin", "" }, { "age", "" }, { "allow", "" },
	{ "authorization", "" }, { "cache-control", "" },
	{ "content-disposition", "" }, { "content-encoding", "" },
	{ "content-language", "" }, { "content-length", "" },
	{ "content-location", "" }, { "content-range", "" },
	{ "content-type", "" }, { "cookie", "" }, { "date", "" },
	{ "etag", "" }, { "expect", "" }, { "expires", "" }, { "from", "" },
	{ "host", "" }, { "if-match", "" }, { "if-modified-since", "" },
	{ "if-none-match", "" }, { "if-range", "" },
	{ "if-unmodified-since", "" }, { "last-modified", "" },
	{ "link", "" }, { "location", "" }, { "max-forwards", "" },
	{ "proxy-authenticate", "" }, { "proxy-authorization", "" },
	{ "range", "" }, { "referer", "" }, { "refresh", "" },
	{ "retry-after", "" }, { "server", "" }, { "set-cookie", "" },
	{ "strict-transport-security", "" }, { "transfer-encoding", "" },
	{ "user-agent", "" }, { "vary", "" }, { "via", "" },
	{ "www-authenticate", "" },
};

#define STATIC_N	(sizeof(static_table) / sizeof(static_table[0]))

/*
 * Appendix B: the length of each symbol's Huffman code (256 is EOS).
 * The code is canonical (by length, then by symbol), so the codes
 * themselves follow from the lengths: huff_init() derives them.
 */
static const uint8_t huff_len[257] = {
	13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
	28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
	 6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6,
	 5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10,
	13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
	 7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6,
	15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,
	 6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28,
	20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
	24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
	22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
	21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
	26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
	19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
	20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
	26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
	30,
};

#define HUFF_MAXLEN	30
#define HUFF_EOS	256

/* Per code length: how many codes, the first code, and where its
 * symbols start in huff_sym[] (all symbols sorted by length). */
static struct {
	int		ready;
	uint32_t	count[HUFF_MAXLEN + 1];
	uint32_t	first[HUFF_MAXLEN + 1];
	uint32_t	start[HUFF_MAXLEN + 1];
	uint16_t	sym[257];
} huff;

static void
huff_init(void)
{
	uint32_t	code = 0, n = 0;
	int		len, s;

	for (len = 1; len <= HUFF_MAXLEN; len++) {
		code <<= 1;
		huff.first[len] = code;
		huff.start[len] = n;
		for (s = 0; s <= HUFF_EOS; s++)
			if (huff_len[s] == len)
				huff.sym[n++] = (uint16_t)s;
		huff.count[len] = n - huff.start[len];
		code += huff.count[len];
	}
	huff.ready = 1;
}

ssize_t
hpack_huffman_decode(const uint8_t *in, size_t inlen, char *out,
    size_t outsize)
{
	uint32_t	code = 0;
	size_t		i, o = 0;
	int		len = 0, bit, s;

	if (!huff.ready)
		huff_init();
	for (i = 0; i < inlen; i++) {
		for (bit = 7; bit >= 0; bit--) {
			code = code << 1 | ((in[i] >> bit) & 1);
			len++;
			if (code - huff.first[len] < huff.count[len]) {
				s = huff.sym[huff.start[len] + code -
				    huff.first[len]];
				/* EOS in a string is an error (5.2). */
				if (s == HUFF_EOS || o == outsize)
					return -1;
				out[o++] = (char)s;
				code = 0;
				len = 0;
			} else if (len == HUFF_MAXLEN) {
				return -1;
			}
		}
	}
	/* Padding: fewer than 8 bits, all ones (a prefix of EOS). */
	if (len > 7 || code != (UINT32_C(1) << len) - 1)
		return -1;
	return (ssize_t)o;
}

/* --- the dynamic table ------------------------------------------------ */

void
hpack_dec_init(struct hpack_dec *d)
{
	d->limit = d->max = HPACK_TABLE_MAX;
	d->size = 0;
	d->n = 0;
	d->used = 0;
}

static size_t
entry_size(const struct hpack_entry *e)
{
	return (size_t)e->namelen + e->valuelen + HPACK_ENTRY_OVERHEAD;
}

/* Drop the oldest entries until the table costs at most max. */
static void
evict(struct hpack_dec *d, size_t max)
{
	unsigned	k = 0, i;
	size_t		drop = 0;

	while (k < d->n && d->size > max) {
		d->size -= entry_size(&d->ent[k]);
		drop += (size_t)d->ent[k].namelen + d->ent[k].valuelen;
		k++;
	}
	if (k == 0)
		return;
	memmove(d->data, d->data + drop, d->used - drop);
	d->used -= drop;
	for (i = k; i < d->n; i++) {
		d->ent[i - k] = d->ent[i];
		d->ent[i - k].off = (uint16_t)(d->ent[i - k].off - drop);
	}
	d->n -= k;
}

/* Section 4.4: evict first; an entry larger than the table empties it
 * and is not added. */
static void
insert(struct hpack_dec *d, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	size_t need = namelen + valuelen + HPACK_ENTRY_OVERHEAD;

	if (need > d->max) {
		evict(d, 0);
		return;
	}
	evict(d, d->max - need);
	memcpy(d->data + d->used, name, namelen);
	memcpy(d->data + d->used + namelen, value, valuelen);
	d->ent[d->n].off = (uint16_t)d->used;
	d->ent[d->n].namelen = (uint16_t)namelen;
	d->ent[d->n].valuelen = (uint16_t)valuelen;
	d->n++;
	d->used += namelen + valuelen;
	d->size += need;
}

size_t
hpack_dec_table_size(const struct hpack_dec *d)
{
	return d->size;
}

int
hpack_dec_entry(const struct hpack_dec *d, unsigned i, struct hpack_field *f)
{
	const struct hpack_entry *e;

	if (i == 0 || i > d->n)
		return -1;
	e = &d->ent[d->n - i];
	f->name = (const char *)d->data + e->off;
	f->namelen = e->namelen;
	f->value = f->name + e->namelen;
	f->valuelen = e->valuelen;
	return 0;
}

/* Index 1..61 static, 62.. dynamic (62 the newest). */
static int
lookup(const struct hpack_dec *d, uint64_t index, struct hpack_field *f)
{
	if (index == 0)
		return -1;
	if (index <= STATIC_N) {
		f->name = static_table[index - 1].name;
		f->namelen = strlen(f->name);
		f->value = static_table[index - 1].value;
		f->valuelen = strlen(f->value);
		return 0;
	}
	if (index - STATIC_N > d->n)
		return -1;
	return hpack_dec_entry(d, (unsigned)(index - STATIC_N), f);
}

/* --- reading a block ---------------------------------------------------- */

struct reader {
	const uint8_t	*p, *end;
	const char	*why;
};

/* Section 5.1: an integer with an n-bit prefix. */
static int
read_int(struct reader *r, int n, uint64_t *out)
{
	uint64_t	v, mask = (UINT64_C(1) << n) - 1;
	int		shift = 0;

	if (r->p == r->end) {
		r->why = "truncated integer";
		return -1;
	}
	v = *r->p++ & mask;
	if (v < mask) {
		*out = v;
		return 0;
	}
	for (;;) {
		if (r->p == r->end) {
			r->why = "truncated integer";
			return -1;
		}
		/* Nothing we accept needs more than 28 bits. */
		if (shift > 21) {
			r->why = "integer too large";
			return -1;
		}
		v += (uint64_t)(*r->p & 0x7f) << shift;
		shift += 7;
		if (!(*r->p++ & 0x80))
			break;
	}
	*out = v;
	return 0;
}

/* Section 5.2: a string, raw or Huffman-coded, into buf. */
static int
read_str(struct reader *r, char *buf, size_t size, size_t *len)
{
	uint64_t	n;
	int		huffman;
	ssize_t		got;

	if (r->p == r->end) {
		r->why = "truncated string";
		return -1;
	}
	huffman = *r->p & 0x80;
	if (read_int(r, 7, &n) == -1)
		return -1;
	if (n > (uint64_t)(r->end - r->p)) {
		r->why = "string runs past the block";
		return -1;
	}
	if (!huffman) {
		if (n > size) {
			r->why = "string too long";
			return -1;
		}
		memcpy(buf, r->p, (size_t)n);
		*len = (size_t)n;
	} else {
		if ((got = hpack_huffman_decode(r->p, (size_t)n, buf,
		    size)) == -1) {
			r->why = "bad Huffman string, or too long";
			return -1;
		}
		*len = (size_t)got;
	}
	r->p += n;
	return 0;
}

int
hpack_decode(struct hpack_dec *d, const uint8_t *block, size_t len,
    size_t max_list, hpack_field_fn *fn, void *arg, const char **why)
{
	struct reader		r = { block, block + len, NULL };
	struct hpack_field	f;
	uint64_t		index;
	size_t			list = 0, nl, vl;
	int			fields = 0, over = 0, rc, incremental, prefix;
	uint8_t			b;

	while (r.p < r.end) {
		b = *r.p;
		if (b & 0x80) {				/* 6.1 indexed */
			if (read_int(&r, 7, &index) == -1)
				goto bad;
			if (lookup(d, index, &f) == -1) {
				r.why = "index out of range";
				goto bad;
			}
		} else if ((b & 0xe0) == 0x20) {	/* 6.3 size update */
			/* Only before the first field (4.2). */
			if (fields > 0) {
				r.why = "table size update after a field";
				goto bad;
			}
			if (read_int(&r, 5, &index) == -1)
				goto bad;
			if (index > d->limit) {
				r.why = "table size update over our limit";
				goto bad;
			}
			d->max = (size_t)index;
			evict(d, d->max);
			continue;
		} else {				/* 6.2 literals */
			incremental = (b & 0xc0) == 0x40;
			prefix = incremental ? 6 : 4;
			if (read_int(&r, prefix, &index) == -1)
				goto bad;
			if (index != 0) {
				if (lookup(d, index, &f) == -1) {
					r.why = "index out of range";
					goto bad;
				}
				/* The name may live in the table we are
				 * about to change: copy it first. */
				if (f.namelen > sizeof(d->name)) {
					r.why = "name too long";
					goto bad;
				}
				memmove(d->name, f.name, f.namelen);
				nl = f.namelen;
			} else if (read_str(&r, d->name, sizeof(d->name),
			    &nl) == -1) {
				goto bad;
			}
			if (read_str(&r, d->value, sizeof(d->value),
			    &vl) == -1)
				goto bad;
			f.name = d->name;
			f.namelen = nl;
			f.value = d->value;
			f.valuelen = vl;
			if (incremental)
				insert(d, d->name, nl, d->value, vl);
		}
		fields++;
		list += f.namelen + f.valuelen + HPACK_ENTRY_OVERHEAD;
		if (list > max_list)
			over = 1;	/* read on: the table must stay in step */
		if (!over && (rc = fn(arg, &f)) != 0)
			return rc;
	}
	if (over) {
		*why = "header list too large";
		return HPACK_ERR_TOO_BIG;
	}
	return HPACK_OK;
bad:
	*why = r.why;
	return HPACK_ERR_COMPRESSION;
}

/* --- encoding --------------------------------------------------------- */

static int
put_int(uint8_t *buf, size_t size, size_t *len, uint8_t first, int n,
    uint64_t v)
{
	uint64_t mask = (UINT64_C(1) << n) - 1;

	if (*len == size)
		return -1;
	if (v < mask) {
		buf[(*len)++] = (uint8_t)(first | v);
		return 0;
	}
	buf[(*len)++] = (uint8_t)(first | mask);
	v -= mask;
	while (v >= 0x80) {
		if (*len == size)
			return -1;
		buf[(*len)++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	if (*len == size)
		return -1;
	buf[(*len)++] = (uint8_t)v;
	return 0;
}

static int
put_str(uint8_t *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (put_int(buf, size, len, 0x00, 7, n) == -1 || size - *len < n)
		return -1;
	/* Length-prefixed on the wire: no NUL follows. */
	memcpy(buf + *len, s, n);	/* NOLINT(bugprone-not-null-terminated-result) */
	*len += n;
	return 0;
}

int
hpack_encode(uint8_t *buf, size_t size, size_t *len, const char *name,
    const char *value)
{
	size_t	i, name_index = 0, start = *len;

	for (i = 0; i < STATIC_N; i++) {
		if (strcmp(static_table[i].name, name) != 0)
			continue;
		if (strcmp(static_table[i].value, value) == 0)
			return put_int(buf, size, len, 0x80, 7, i + 1);
		if (name_index == 0)
			name_index = i + 1;
	}
	/* 6.2.2: literal without indexing. */
	if (put_int(buf, size, len, 0x00, 4, name_index) == -1 ||
	    (name_index == 0 && put_str(buf, size, len, name) == -1) ||
	    put_str(buf, size, len, value) == -1) {
		*len = start;
		return -1;
	}
	return 0;
}
