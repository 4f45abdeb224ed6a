/* SPDX-License-Identifier: Apache-2.0 */
/*
 * h2frame.c: HTTP/2 frames (see h2frame.h).
 */
#include <string.h>

#include "h2frame.h"

uint32_t
h2_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
h2_settings_default(struct h2_settings *s)
{
	s->header_table_size = 4096;
	s->enable_push = 1;
	s->max_concurrent_streams = UINT32_MAX;
	s->initial_window_size = H2_DEFAULT_WINDOW;
	s->max_frame_size = H2_DEFAULT_FRAME_SIZE;
	s->max_header_list_size = UINT32_MAX;
}

void
h2_hdr_decode(const uint8_t b[H2_FRAME_HDR], struct h2_frame_hdr *h)
{
	h->len = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
	h->type = b[3];
	h->flags = b[4];
	h->stream = h2_get32(b + 5) & 0x7fffffffu;
}

void
h2_hdr_encode(uint8_t b[H2_FRAME_HDR], const struct h2_frame_hdr *h)
{
	b[0] = (uint8_t)(h->len >> 16);
	b[1] = (uint8_t)(h->len >> 8);
	b[2] = (uint8_t)h->len;
	b[3] = h->type;
	b[4] = h->flags;
	put32(b + 5, h->stream & 0x7fffffffu);
}

enum h2_error
h2_check(const struct h2_frame_hdr *h, uint32_t max_frame_size)
{
	if (h->len > max_frame_size)
		return H2_FRAME_SIZE_ERROR;		/* 4.2 */
	switch (h->type) {
	case H2_DATA:
	case H2_HEADERS:
	case H2_CONTINUATION:
		return h->stream == 0 ? H2_PROTOCOL_ERROR : H2_NO_ERROR;
	case H2_PRIORITY:
		if (h->stream == 0)
			return H2_PROTOCOL_ERROR;
		return h->len != 5 ? H2_FRAME_SIZE_ERROR : H2_NO_ERROR;
	case H2_RST_STREAM:
		if (h->stream == 0)
			return H2_PROTOCOL_ERROR;
		return h->len != 4 ? H2_FRAME_SIZE_ERROR : H2_NO_ERROR;
	case H2_SETTINGS:
		if (h->stream != 0)
			return H2_PROTOCOL_ERROR;
		if ((h->flags & H2_ACK) && h->len != 0)
			return H2_FRAME_SIZE_ERROR;
		return h->len % 6 != 0 ? H2_FRAME_SIZE_ERROR : H2_NO_ERROR;
	case H2_PING:
		if (h->stream != 0)
			return H2_PROTOCOL_ERROR;
		return h->len != 8 ? H2_FRAME_SIZE_ERROR : H2_NO_ERROR;
	case H2_GOAWAY:
		if (h->stream != 0)
			return H2_PROTOCOL_ERROR;
		return h->len < 8 ? H2_FRAME_SIZE_ERROR : H2_NO_ERROR;
	case H2_WINDOW_UPDATE:
		return h->len != 4 ? H2_FRAME_SIZE_ERROR : H2_NO_ERROR;
	case H2_PUSH_PROMISE:
		/* We never enable push: a PUSH_PROMISE is a
		 * connection error (8.4). */
		return H2_PROTOCOL_ERROR;
	default:
		return H2_NO_ERROR;	/* unknown types are ignored (4.1) */
	}
}

enum h2_error
h2_unpad(const struct h2_frame_hdr *h, const uint8_t *p,
    const uint8_t **block, size_t *blocklen)
{
	size_t	len = h->len, pad = 0;

	if (h->flags & H2_PADDED) {
		if (len < 1)
			return H2_FRAME_SIZE_ERROR;
		pad = *p++;
		len--;
	}
	if (h->type == H2_HEADERS && (h->flags & H2_PRIORITY_F)) {
		if (len < 5)
			return H2_FRAME_SIZE_ERROR;
		p += 5;		/* stream dependency and weight: ignored */
		len -= 5;
	}
	if (pad > len)
		return H2_PROTOCOL_ERROR;	/* 6.1, 6.2 */
	*block = p;
	*blocklen = len - pad;
	return H2_NO_ERROR;
}

enum h2_error
h2_settings_decode(const uint8_t *p, size_t len, struct h2_settings *s)
{
	uint32_t	v;
	uint16_t	id;
	size_t		i;

	for (i = 0; i + 6 <= len; i += 6) {
		id = (uint16_t)(p[i] << 8 | p[i + 1]);
		v = h2_get32(p + i + 2);
		switch (id) {
		case H2_SET_HEADER_TABLE_SIZE:
			s->header_table_size = v;
			break;
		case H2_SET_ENABLE_PUSH:
			if (v > 1)
				return H2_PROTOCOL_ERROR;
			s->enable_push = v;
			break;
		case H2_SET_MAX_CONCURRENT_STREAMS:
			s->max_concurrent_streams = v;
			break;
		case H2_SET_INITIAL_WINDOW_SIZE:
			if (v > H2_MAX_WINDOW)
				return H2_FLOW_CONTROL_ERROR;
			s->initial_window_size = v;
			break;
		case H2_SET_MAX_FRAME_SIZE:
			if (v < H2_DEFAULT_FRAME_SIZE ||
			    v > H2_MAX_FRAME_SIZE_LIMIT)
				return H2_PROTOCOL_ERROR;
			s->max_frame_size = v;
			break;
		case H2_SET_MAX_HEADER_LIST_SIZE:
			s->max_header_list_size = v;
			break;
		default:
			break;		/* unknown: ignored (6.5.2) */
		}
	}
	return H2_NO_ERROR;
}

static size_t
put_frame(uint8_t *buf, size_t size, uint8_t type, uint8_t flags,
    uint32_t stream, const uint8_t *payload, size_t len)
{
	struct h2_frame_hdr h = { (uint32_t)len, type, flags, stream };

	if (size < H2_FRAME_HDR + len)
		return 0;
	h2_hdr_encode(buf, &h);
	if (len > 0)
		memcpy(buf + H2_FRAME_HDR, payload, len);
	return H2_FRAME_HDR + len;
}

size_t
h2_put_settings(uint8_t *buf, size_t size, const uint16_t *ids,
    const uint32_t *values, size_t n)
{
	uint8_t	p[6 * 8];
	size_t	i;

	if (n > 8)
		return 0;
	for (i = 0; i < n; i++) {
		p[i * 6] = (uint8_t)(ids[i] >> 8);
		p[i * 6 + 1] = (uint8_t)ids[i];
		put32(p + i * 6 + 2, values[i]);
	}
	return put_frame(buf, size, H2_SETTINGS, 0, 0, p, n * 6);
}

size_t
h2_put_settings_ack(uint8_t *buf, size_t size)
{
	return put_frame(buf, size, H2_SETTINGS, H2_ACK, 0, NULL, 0);
}

size_t
h2_put_window_update(uint8_t *buf, size_t size, uint32_t stream,
    uint32_t increment)
{
	uint8_t p[4];

	put32(p, increment & 0x7fffffffu);
	return put_frame(buf, size, H2_WINDOW_UPDATE, 0, stream, p, 4);
}

size_t
h2_put_rst_stream(uint8_t *buf, size_t size, uint32_t stream,
    enum h2_error err)
{
	uint8_t p[4];

	put32(p, (uint32_t)err);
	return put_frame(buf, size, H2_RST_STREAM, 0, stream, p, 4);
}

size_t
h2_put_ping(uint8_t *buf, size_t size, int ack, const uint8_t opaque[8])
{
	return put_frame(buf, size, H2_PING, ack ? H2_ACK : 0, 0, opaque, 8);
}

size_t
h2_put_goaway(uint8_t *buf, size_t size, uint32_t last_stream,
    enum h2_error err)
{
	uint8_t p[8];

	put32(p, last_stream & 0x7fffffffu);
	put32(p + 4, (uint32_t)err);
	return put_frame(buf, size, H2_GOAWAY, 0, 0, p, 8);
}
