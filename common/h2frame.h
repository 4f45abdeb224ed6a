/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_H2FRAME_H
#define COMMON_H2FRAME_H

#include <stddef.h>
#include <stdint.h>

/*
 * HTTP/2 framing (RFC 9113 sections 4 and 6): a pure codec for frame
 * headers and the payloads with a fixed layout.  The session (streams,
 * flow control, what a frame means now) is the caller's.
 */

#define H2_PREFACE		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN		24
#define H2_FRAME_HDR		9
#define H2_DEFAULT_FRAME_SIZE	16384
#define H2_MAX_FRAME_SIZE_LIMIT	16777215	/* 2^24 - 1 */
#define H2_MAX_WINDOW		2147483647	/* 2^31 - 1 */
#define H2_DEFAULT_WINDOW	65535

enum h2_type {
	H2_DATA = 0x0, H2_HEADERS = 0x1, H2_PRIORITY = 0x2,
	H2_RST_STREAM = 0x3, H2_SETTINGS = 0x4, H2_PUSH_PROMISE = 0x5,
	H2_PING = 0x6, H2_GOAWAY = 0x7, H2_WINDOW_UPDATE = 0x8,
	H2_CONTINUATION = 0x9,
};

#define H2_END_STREAM	0x01
#define H2_ACK		0x01
#define H2_END_HEADERS	0x04
#define H2_PADDED	0x08
#define H2_PRIORITY_F	0x20

enum h2_error {
	H2_NO_ERROR = 0x0, H2_PROTOCOL_ERROR = 0x1, H2_INTERNAL_ERROR = 0x2,
	H2_FLOW_CONTROL_ERROR = 0x3, H2_SETTINGS_TIMEOUT = 0x4,
	H2_STREAM_CLOSED = 0x5, H2_FRAME_SIZE_ERROR = 0x6,
	H2_REFUSED_STREAM = 0x7, H2_CANCEL = 0x8, H2_COMPRESSION_ERROR = 0x9,
	H2_CONNECT_ERROR = 0xa, H2_ENHANCE_YOUR_CALM = 0xb,
	H2_INADEQUATE_SECURITY = 0xc, H2_HTTP_1_1_REQUIRED = 0xd,
};

enum h2_setting_id {
	H2_SET_HEADER_TABLE_SIZE = 0x1, H2_SET_ENABLE_PUSH = 0x2,
	H2_SET_MAX_CONCURRENT_STREAMS = 0x3, H2_SET_INITIAL_WINDOW_SIZE = 0x4,
	H2_SET_MAX_FRAME_SIZE = 0x5, H2_SET_MAX_HEADER_LIST_SIZE = 0x6,
};

struct h2_frame_hdr {
	uint32_t	len;		/* 24 bits */
	uint8_t		type;
	uint8_t		flags;
	uint32_t	stream;		/* 31 bits; the reserved bit dropped */
};

/* The peer's settings (or ours), with RFC 9113's initial values. */
struct h2_settings {
	uint32_t	header_table_size;
	uint32_t	enable_push;
	uint32_t	max_concurrent_streams;	/* UINT32_MAX: unlimited */
	uint32_t	initial_window_size;
	uint32_t	max_frame_size;
	uint32_t	max_header_list_size;	/* UINT32_MAX: unlimited */
};

void	h2_settings_default(struct h2_settings *);

void	h2_hdr_decode(const uint8_t b[H2_FRAME_HDR], struct h2_frame_hdr *);
void	h2_hdr_encode(uint8_t b[H2_FRAME_HDR], const struct h2_frame_hdr *);

/*
 * The framing checks of section 6 that need no session: the payload
 * length for frames of a fixed size, the stream id for frames that must
 * (not) have one, the frame size limit.  Returns H2_NO_ERROR, or the
 * error code of the connection error the frame is.
 */
enum h2_error h2_check(const struct h2_frame_hdr *, uint32_t max_frame_size);

/* DATA or HEADERS: the block without padding (and, for HEADERS, the
 * priority fields).  H2_PROTOCOL_ERROR if the padding is longer than
 * the payload. */
enum h2_error h2_unpad(const struct h2_frame_hdr *, const uint8_t *payload,
	    const uint8_t **block, size_t *blocklen);

/* Apply a SETTINGS payload (not an ACK) to s: unknown ids ignored, bad
 * values refused with their error code (section 6.5.2). */
enum h2_error h2_settings_decode(const uint8_t *payload, size_t len,
	    struct h2_settings *s);

/* Frames we send, whole (header and payload) into buf; their length, or
 * 0 if size is too small. */
size_t	h2_put_settings(uint8_t *buf, size_t size, const uint16_t *ids,
	    const uint32_t *values, size_t n);
size_t	h2_put_settings_ack(uint8_t *buf, size_t size);
size_t	h2_put_window_update(uint8_t *buf, size_t size, uint32_t stream,
	    uint32_t increment);
size_t	h2_put_rst_stream(uint8_t *buf, size_t size, uint32_t stream,
	    enum h2_error);
size_t	h2_put_ping(uint8_t *buf, size_t size, int ack,
	    const uint8_t opaque[8]);
size_t	h2_put_goaway(uint8_t *buf, size_t size, uint32_t last_stream,
	    enum h2_error);

uint32_t h2_get32(const uint8_t *p);

#endif
