/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: HPACK header blocks and HTTP/2 frame payloads, as a
 * hostile peer sends them.  Beyond "no crash, no read out of bounds, no
 * unbounded work" (ASan, UBSan, libFuzzer's own limits): a block that
 * decodes is encoded again with our encoder, and that decodes, with a
 * fresh table, to the same fields.  The input is fed as two blocks to
 * one decoder, so the dynamic table carries state between them.  The
 * first block's fields also go through h2fields' rules, as a request
 * and as a response: a verdict always comes with a reason, and what a
 * request keeps is always a terminated string within its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2fields.h"
#include "h2frame.h"
#include "hpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define OUT_MAX	65536

struct reenc {
	uint8_t	buf[OUT_MAX];
	size_t	len;
	int	n, fits;
};

struct check {
	const struct reenc	*want;
	const uint8_t		*fields[512];
	int			 n;
};

static struct hpack_dec	dec, dec2;
static struct reenc	re;

/* Encode each field again; strings with a NUL cannot be (C strings). */
static int
encode_again(void *arg, const struct hpack_field *f)
{
	struct reenc	*r = arg;
	char		 name[HPACK_STR_MAX + 1], value[HPACK_STR_MAX + 1];

	r->n++;
	if (memchr(f->name, '\0', f->namelen) != NULL ||
	    memchr(f->value, '\0', f->valuelen) != NULL) {
		r->fits = 0;
		return 0;
	}
	memcpy(name, f->name, f->namelen);
	name[f->namelen] = '\0';
	memcpy(value, f->value, f->valuelen);
	value[f->valuelen] = '\0';
	if (hpack_encode(r->buf, sizeof(r->buf), &r->len, name, value) == -1)
		r->fits = 0;
	return 0;
}

static int
count(void *arg, const struct hpack_field *f)
{
	(void)f;
	(*(int *)arg)++;
	return 0;
}

/* Both readings of one field list. */
struct both {
	struct h2_fields	req, resp;
};

static int
both_rules(void *arg, const struct hpack_field *f)
{
	struct both *b = arg;

	if (h2_fields_add(&b->req, f) != 0 || h2_fields_add(&b->resp, f) != 0)
		abort();		/* the rules never stop the decoder */
	return 0;
}

static void
check_fields(const struct h2_fields *fs)
{
	const struct h2_request *r = fs->req;

	if (fs->bad && fs->why == NULL)
		abort();
	if (r != NULL && (memchr(r->method, '\0', sizeof(r->method)) == NULL ||
	    memchr(r->authority, '\0', sizeof(r->authority)) == NULL ||
	    memchr(r->baggage, '\0', sizeof(r->baggage)) == NULL))
		abort();
	if (r == NULL && !fs->bad && fs->status != 0 &&
	    (fs->status < 100 || fs->status > 999))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h2_settings	s;
	struct h2_frame_hdr	h;
	struct h2_request	req;
	struct both		b;
	const uint8_t		*blk;
	const char		*why;
	size_t			 half = size / 2, blen;
	int			 rc, n;

	/* Frames: the header and the fixed layouts never misread. */
	if (size >= H2_FRAME_HDR) {
		h2_hdr_decode(data, &h);
		(void)h2_check(&h, H2_MAX_FRAME_SIZE_LIMIT);
		h.len = (uint32_t)(size - H2_FRAME_HDR);
		if (h.type == H2_DATA || h.type == H2_HEADERS)
			(void)h2_unpad(&h, data + H2_FRAME_HDR, &blk, &blen);
		h2_settings_default(&s);
		(void)h2_settings_decode(data + H2_FRAME_HDR,
		    size - H2_FRAME_HDR, &s);
	}

	hpack_dec_init(&dec);
	h2_fields_init(&b.req, &req);
	h2_fields_init(&b.resp, NULL);
	(void)hpack_decode(&dec, data, half, 1 << 20, both_rules, &b, &why);
	check_fields(&b.req);
	check_fields(&b.resp);
	memset(&re, 0, sizeof(re));
	re.fits = 1;
	rc = hpack_decode(&dec, data + half, size - half, 1 << 20,
	    encode_again, &re, &why);
	if (hpack_dec_table_size(&dec) > HPACK_TABLE_MAX)
		abort();
	if (rc != HPACK_OK || !re.fits)
		return 0;
	hpack_dec_init(&dec2);
	n = 0;
	if (hpack_decode(&dec2, re.buf, re.len, 1 << 20, count, &n,
	    &why) != HPACK_OK || n != re.n)
		abort();
	return 0;
}
