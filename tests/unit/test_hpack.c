/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hpack, h2frame: RFC 7541 Appendix C's examples byte for byte (checked
 * against python3-hpack, an independent decoder, before they were written
 * down here), the errors a hostile peer can make, and the frame codec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2fields.h"
#include "h2frame.h"
#include "hpack.h"
#include "unit.h"

#define MAXF	16

struct got {
	int	n;
	char	name[MAXF][128];
	char	value[MAXF][128];
};

static int
collect(void *arg, const struct hpack_field *f)
{
	struct got *g = arg;

	CHECK(g->n < MAXF);
	CHECK(f->namelen < 128 && f->valuelen < 128);
	memcpy(g->name[g->n], f->name, f->namelen);
	g->name[g->n][f->namelen] = '\0';
	memcpy(g->value[g->n], f->value, f->valuelen);
	g->value[g->n][f->valuelen] = '\0';
	g->n++;
	return 0;
}

static size_t
unhex(const char *hex, uint8_t *out, size_t size)
{
	size_t	n = strlen(hex) / 2, i;
	unsigned v;

	CHECK(n <= size);
	for (i = 0; i < n; i++) {
		CHECK(sscanf(hex + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* Decode hex with d; the fields must be pairs[0..], "name", "value", ... */
static void
expect_block(struct hpack_dec *d, const char *hex, const char *const *pairs,
    size_t table_size)
{
	static uint8_t	 buf[4096];
	static struct got g;
	const char	*why = NULL;
	size_t		 len = unhex(hex, buf, sizeof(buf));
	int		 i;

	memset(&g, 0, sizeof(g));
	CHECK(hpack_decode(d, buf, len, 65536, collect, &g, &why) == HPACK_OK);
	for (i = 0; pairs[2 * i] != NULL; i++) {
		CHECK(i < g.n);
		CHECK(strcmp(g.name[i], pairs[2 * i]) == 0);
		CHECK(strcmp(g.value[i], pairs[2 * i + 1]) == 0);
	}
	CHECK(i == g.n);
	CHECK(hpack_dec_table_size(d) == table_size);
}

static const char *const req1[] = { ":method", "GET", ":scheme", "http",
    ":path", "/", ":authority", "www.example.com", NULL };
static const char *const req2[] = { ":method", "GET", ":scheme", "http",
    ":path", "/", ":authority", "www.example.com", "cache-control",
    "no-cache", NULL };
static const char *const req3[] = { ":method", "GET", ":scheme", "https",
    ":path", "/index.html", ":authority", "www.example.com", "custom-key",
    "custom-value", NULL };
static const char *const resp1[] = { ":status", "302", "cache-control",
    "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location",
    "https://www.example.com", NULL };
static const char *const resp2[] = { ":status", "307", "cache-control",
    "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location",
    "https://www.example.com", NULL };
static const char *const resp3[] = { ":status", "200", "cache-control",
    "private", "date", "Mon, 21 Oct 2013 20:13:22 GMT", "location",
    "https://www.example.com", "content-encoding", "gzip", "set-cookie",
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", NULL };

static void
test_hpack_c2_single_fields(void)
{
	static struct hpack_dec d;
	static const char *const c21[] = { "custom-key", "custom-header", NULL };
	static const char *const c22[] = { ":path", "/sample/path", NULL };
	static const char *const c23[] = { "password", "secret", NULL };
	static const char *const c24[] = { ":method", "GET", NULL };

	hpack_dec_init(&d);
	expect_block(&d, "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
	    c21, 55);
	hpack_dec_init(&d);
	expect_block(&d, "040c2f73616d706c652f70617468", c22, 0);
	hpack_dec_init(&d);
	expect_block(&d, "100870617373776f726406736563726574", c23, 0);
	hpack_dec_init(&d);
	expect_block(&d, "82", c24, 0);
}

static void
test_hpack_c3_requests(void)
{
	static struct hpack_dec d;
	struct hpack_field	f;

	hpack_dec_init(&d);
	expect_block(&d, "828684410f7777772e6578616d706c652e636f6d", req1, 57);
	expect_block(&d, "828684be58086e6f2d6361636865", req2, 110);
	expect_block(&d, "828785bf400a637573746f6d2d6b65790c637573746f6d2d"
	    "76616c7565", req3, 164);
	CHECK(hpack_dec_entry(&d, 1, &f) == 0);
	CHECK(f.namelen == 10 && memcmp(f.name, "custom-key", 10) == 0);
	CHECK(hpack_dec_entry(&d, 3, &f) == 0);
	CHECK(f.valuelen == 15 && memcmp(f.value, "www.example.com", 15) == 0);
	CHECK(hpack_dec_entry(&d, 4, &f) == -1);
}

static void
test_hpack_c4_requests_huffman(void)
{
	static struct hpack_dec d;

	hpack_dec_init(&d);
	expect_block(&d, "828684418cf1e3c2e5f23a6ba0ab90f4ff", req1, 57);
	expect_block(&d, "828684be5886a8eb10649cbf", req2, 110);
	expect_block(&d, "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
	    req3, 164);
}

static void
test_hpack_c5_responses_eviction(void)
{
	static struct hpack_dec d;
	struct hpack_field	f;

	hpack_dec_init(&d);
	d.limit = d.max = 256;
	expect_block(&d,
	    "4803333032580770726976617465611d4d6f6e2c203231204f6374203230"
	    "31332032303a31333a323120474d546e1768747470733a2f2f7777772e65"
	    "78616d706c652e636f6d", resp1, 222);
	expect_block(&d, "4803333037c1c0bf", resp2, 222);
	expect_block(&d,
	    "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220"
	    "474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157"
	    "454f50495541585157454f49553b206d61782d6167653d333630303b2076"
	    "657273696f6e3d31", resp3, 215);
	/* Three entries left: set-cookie, content-encoding, date. */
	CHECK(hpack_dec_entry(&d, 1, &f) == 0 && f.namelen == 10);
	CHECK(hpack_dec_entry(&d, 3, &f) == 0 && f.namelen == 4);
	CHECK(hpack_dec_entry(&d, 4, &f) == -1);
}

static void
test_hpack_c6_responses_huffman(void)
{
	static struct hpack_dec d;

	hpack_dec_init(&d);
	d.limit = d.max = 256;
	expect_block(&d,
	    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e0"
	    "82a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3", resp1, 222);
	expect_block(&d, "4883640effc1c0bf", resp2, 222);
	expect_block(&d,
	    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839b"
	    "d9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab27"
	    "0fb5291f9587316065c003ed4ee5b1063d5007", resp3, 215);
}

/* A block that must be refused as a compression error. */
static void
expect_bad(const char *hex)
{
	static struct hpack_dec	 d;
	static struct got	 g;
	uint8_t			 buf[256];
	const char		*why = NULL;
	size_t			 len = unhex(hex, buf, sizeof(buf));

	hpack_dec_init(&d);
	memset(&g, 0, sizeof(g));
	CHECK(hpack_decode(&d, buf, len, 65536, collect, &g, &why) ==
	    HPACK_ERR_COMPRESSION);
	CHECK(why != NULL);
}

static void
test_hpack_hostile_blocks(void)
{
	expect_bad("80");			/* index 0 */
	expect_bad("be");			/* dynamic index, empty table */
	expect_bad("ff80808080808001");		/* integer too large */
	expect_bad("ff");			/* truncated integer */
	expect_bad("823f");			/* size update after a field */
	expect_bad("3fe21f");			/* size update 4097 > 4096 */
	expect_bad("4005616263");		/* string runs past the end */
	expect_bad("0084fffffffc0161");	/* Huffman: EOS inside */
	expect_bad("008100");			/* Huffman: padding not ones */
	expect_bad("0082ffff0161");		/* Huffman: padding >= 8 bits */
	expect_bad("00");			/* literal with nothing after */
}

static void
test_hpack_size_update_evicts(void)
{
	static struct hpack_dec	d;
	static struct got	g;
	uint8_t			buf[64];
	const char		*why;
	size_t			len;

	hpack_dec_init(&d);
	expect_block(&d, "828684410f7777772e6578616d706c652e636f6d", req1, 57);
	/* A size update to 0 empties the table; the field after it is
	 * then an index out of range. */
	len = unhex("20be", buf, sizeof(buf));
	memset(&g, 0, sizeof(g));
	CHECK(hpack_decode(&d, buf, len, 65536, collect, &g, &why) ==
	    HPACK_ERR_COMPRESSION);
	CHECK(hpack_dec_table_size(&d) == 0);
}

static void
test_hpack_list_limit_keeps_table(void)
{
	static struct hpack_dec	d;
	static struct got	g;
	uint8_t			buf[64];
	const char		*why = NULL;
	size_t			len;

	hpack_dec_init(&d);
	len = unhex("828684410f7777772e6578616d706c652e636f6d", buf,
	    sizeof(buf));
	memset(&g, 0, sizeof(g));
	/* Room for two fields of this list, not four. */
	CHECK(hpack_decode(&d, buf, len, 90, collect, &g, &why) ==
	    HPACK_ERR_TOO_BIG);
	CHECK(g.n == 2);
	/* The table is in step with the encoder all the same. */
	CHECK(hpack_dec_table_size(&d) == 57);
}

static void
test_hpack_encode_roundtrip(void)
{
	static struct hpack_dec	d;
	static struct got	g;
	uint8_t			buf[512];
	size_t			len = 0;
	const char		*why;

	CHECK(hpack_encode(buf, sizeof(buf), &len, ":status", "200") == 0);
	CHECK(len == 1 && buf[0] == 0x88);	/* static index 8 */
	CHECK(hpack_encode(buf, sizeof(buf), &len, ":method", "CONNECT") == 0);
	CHECK(hpack_encode(buf, sizeof(buf), &len, ":authority",
	    "10.244.0.12:8080") == 0);
	CHECK(hpack_encode(buf, sizeof(buf), &len, "forwarded",
	    "for=\"10.244.0.11:40000\"") == 0);
	hpack_dec_init(&d);
	memset(&g, 0, sizeof(g));
	CHECK(hpack_decode(&d, buf, len, 65536, collect, &g, &why) == HPACK_OK);
	CHECK(g.n == 4);
	CHECK(strcmp(g.name[1], ":method") == 0 &&
	    strcmp(g.value[1], "CONNECT") == 0);
	CHECK(strcmp(g.value[2], "10.244.0.12:8080") == 0);
	CHECK(strcmp(g.name[3], "forwarded") == 0);
	/* Never indexed into the peer's table. */
	CHECK(hpack_dec_table_size(&d) == 0);
	/* No room: nothing half-written. */
	len = 0;
	CHECK(hpack_encode(buf, 3, &len, "forwarded", "x") == -1 && len == 0);
}

static void
test_hpack_huffman_every_byte(void)
{
	/* "www.example.com", Appendix C.4.1. */
	static const uint8_t www[] = { 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a,
	    0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff };
	char out[32];

	CHECK(hpack_huffman_decode(www, sizeof(www), out, sizeof(out)) == 15);
	CHECK(memcmp(out, "www.example.com", 15) == 0);
	CHECK(hpack_huffman_decode(www, sizeof(www), out, 14) == -1);
	CHECK(hpack_huffman_decode(www, 0, out, sizeof(out)) == 0);
}

static void
test_h2_frame_header_and_checks(void)
{
	struct h2_frame_hdr	h = { 0x123456, H2_HEADERS, 0x25, 0x80000007 }, h2;
	uint8_t			b[H2_FRAME_HDR];

	h2_hdr_encode(b, &h);
	h2_hdr_decode(b, &h2);
	CHECK(h2.len == 0x123456 && h2.type == H2_HEADERS && h2.flags == 0x25);
	CHECK(h2.stream == 7);		/* the reserved bit dropped */
	h = (struct h2_frame_hdr){ 16385, H2_DATA, 0, 1 };
	CHECK(h2_check(&h, 16384) == H2_FRAME_SIZE_ERROR);
	h = (struct h2_frame_hdr){ 4, H2_DATA, 0, 0 };
	CHECK(h2_check(&h, 16384) == H2_PROTOCOL_ERROR);
	h = (struct h2_frame_hdr){ 7, H2_PING, 0, 0 };
	CHECK(h2_check(&h, 16384) == H2_FRAME_SIZE_ERROR);
	h = (struct h2_frame_hdr){ 6, H2_SETTINGS, H2_ACK, 0 };
	CHECK(h2_check(&h, 16384) == H2_FRAME_SIZE_ERROR);
	h = (struct h2_frame_hdr){ 8, H2_SETTINGS, 0, 1 };
	CHECK(h2_check(&h, 16384) == H2_PROTOCOL_ERROR);
	h = (struct h2_frame_hdr){ 4, H2_PUSH_PROMISE, 0, 1 };
	CHECK(h2_check(&h, 16384) == H2_PROTOCOL_ERROR);
	h = (struct h2_frame_hdr){ 3, 0xfa, 0, 0 };	/* unknown: ignored */
	CHECK(h2_check(&h, 16384) == H2_NO_ERROR);
}

static void
test_h2_unpad_and_settings(void)
{
	static const uint8_t padded[] = { 3, 'a', 'b', 0, 0, 0 };
	static const uint8_t bad[] = { 6, 'a', 'b', 0, 0, 0 };
	static const uint8_t prio[] = { 1, 0, 0, 0, 3, 16, 'x', 0 };
	static const uint8_t set[] = { 0, 4, 0, 0x40, 0, 0, 0, 9, 0, 0, 0, 1 };
	static const uint8_t big_window[] = { 0, 4, 0x80, 0, 0, 0 };
	static const uint8_t small_frame[] = { 0, 5, 0, 0, 0x3f, 0xff };
	static const uint8_t push[] = { 0, 2, 0, 0, 0, 2 };
	struct h2_frame_hdr	 h = { sizeof(padded), H2_DATA, H2_PADDED, 1 };
	struct h2_settings	 s;
	const uint8_t		*blk;
	size_t			 n;

	CHECK(h2_unpad(&h, padded, &blk, &n) == H2_NO_ERROR);
	CHECK(n == 2 && blk[0] == 'a');
	h.len = sizeof(bad);
	CHECK(h2_unpad(&h, bad, &blk, &n) == H2_PROTOCOL_ERROR);
	h = (struct h2_frame_hdr){ sizeof(prio), H2_HEADERS,
	    H2_PADDED | H2_PRIORITY_F, 1 };
	CHECK(h2_unpad(&h, prio, &blk, &n) == H2_NO_ERROR);
	CHECK(n == 1 && blk[0] == 'x');
	h2_settings_default(&s);
	CHECK(h2_settings_decode(set, sizeof(set), &s) == H2_NO_ERROR);
	CHECK(s.initial_window_size == 0x400000);	/* unknown id 9 ignored */
	CHECK(h2_settings_decode(big_window, 6, &s) == H2_FLOW_CONTROL_ERROR);
	CHECK(h2_settings_decode(small_frame, 6, &s) == H2_PROTOCOL_ERROR);
	CHECK(h2_settings_decode(push, 6, &s) == H2_PROTOCOL_ERROR);
}

/* Feed a list of name/value pairs (NULL-terminated) to h2fields: the
 * reason it was malformed, or NULL. */
static const char *
fields_verdict(struct h2_request *req, int *status, const char *const *kv)
{
	struct h2_fields	fs;
	struct hpack_field	f;

	h2_fields_init(&fs, req);
	for (; kv[0] != NULL; kv += 2) {
		f.name = kv[0];
		f.namelen = strlen(kv[0]);
		f.value = kv[1];
		f.valuelen = strlen(kv[1]);
		CHECK(h2_fields_add(&fs, &f) == 0);	/* never stops decoding */
	}
	CHECK(fs.decoded > 0);
	if (status != NULL)
		*status = fs.status;
	return fs.bad ? fs.why : NULL;
}

/* RFC 9113 8.2-8.3, as the server reads a CONNECT and a client reads
 * the answer. */
static void
test_h2_fields_rules(void)
{
	static const char *const ok[] = { ":method", "CONNECT", ":authority",
	    "10.0.0.1:80", "forwarded", "for=\"1.2.3.4:5\"", "traceparent",
	    "00-x", "te", "trailers", NULL };
	static const char *const upper[] = { ":method", "CONNECT", "X-A", "1",
	    NULL };
	static const char *const late[] = { "a", "1", ":method", "CONNECT",
	    NULL };
	static const char *const twice[] = { ":method", "CONNECT", ":method",
	    "GET", NULL };
	static const char *const unknown[] = { ":protocol", "x", NULL };
	static const char *const conn[] = { ":method", "GET", "connection",
	    "close", NULL };
	static const char *const te[] = { ":method", "GET", "te", "gzip",
	    NULL };
	static const char *const crlf[] = { ":method", "GET", "a", "b\r\nc",
	    NULL };
	static const char *const status[] = { ":status", "200", "baggage",
	    "x=y", NULL };
	static const char *const badstatus[] = { ":status", "2x0", NULL };
	static const char *const lowstatus[] = { ":status", "099", NULL };
	static const char *const reqinresp[] = { ":method", "GET", NULL };
	struct h2_request	 req;
	int			 st;

	CHECK(fields_verdict(&req, NULL, ok) == NULL);
	CHECK(strcmp(req.method, "CONNECT") == 0 &&
	    strcmp(req.authority, "10.0.0.1:80") == 0 &&
	    strcmp(req.forwarded, "for=\"1.2.3.4:5\"") == 0 &&
	    !req.has_scheme && !req.has_path);
	CHECK(strcmp(fields_verdict(&req, NULL, upper),
	    "upper-case field name") == 0);
	CHECK(strcmp(fields_verdict(&req, NULL, late),
	    "pseudo-header after a field") == 0);
	CHECK(strcmp(fields_verdict(&req, NULL, twice),
	    "unknown or repeated pseudo-header") == 0);
	CHECK(fields_verdict(&req, NULL, unknown) != NULL);
	CHECK(strcmp(fields_verdict(&req, NULL, conn),
	    "connection-specific field") == 0);
	CHECK(strcmp(fields_verdict(&req, NULL, te),
	    "te other than trailers") == 0);
	CHECK(strcmp(fields_verdict(&req, NULL, crlf),
	    "NUL, CR or LF in a value") == 0);
	CHECK(fields_verdict(NULL, &st, status) == NULL && st == 200);
	CHECK(fields_verdict(NULL, &st, badstatus) != NULL);
	CHECK(fields_verdict(NULL, &st, lowstatus) != NULL);
	CHECK(strcmp(fields_verdict(NULL, &st, reqinresp), "bad :status") ==
	    0);
}

const struct unit_test hpack_tests[] = {
	UNIT_TEST(test_h2_fields_rules),
	UNIT_TEST(test_hpack_c2_single_fields),
	UNIT_TEST(test_hpack_c3_requests),
	UNIT_TEST(test_hpack_c4_requests_huffman),
	UNIT_TEST(test_hpack_c5_responses_eviction),
	UNIT_TEST(test_hpack_c6_responses_huffman),
	UNIT_TEST(test_hpack_hostile_blocks),
	UNIT_TEST(test_hpack_size_update_evicts),
	UNIT_TEST(test_hpack_list_limit_keeps_table),
	UNIT_TEST(test_hpack_encode_roundtrip),
	UNIT_TEST(test_hpack_huffman_every_byte),
	UNIT_TEST(test_h2_frame_header_and_checks),
	UNIT_TEST(test_h2_unpad_and_settings),
	UNIT_END
};
