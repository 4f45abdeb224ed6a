/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zds.c: the ZDS messages in protobuf, by hand (see zds.h).
 *
 * A protobuf message is a sequence of fields, each a varint key
 * (field number << 3 | wire type) and a value: a varint (type 0), 8 bytes
 * (1), a varint length and that many bytes (2: strings and messages), or 4
 * bytes (5).  Types 3 and 4 (groups) are obsolete and refused.
 */
#include <errno.h>
#include <string.h>

#include "text.h"
#include "zds.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* --- writing ------------------------------------------------------------- */

/* Writes past size are counted, not made: one check at the end. */
struct pbw {
	uint8_t	*buf;
	size_t	 size, len;
};

static void
put_byte(struct pbw *w, uint8_t b)
{
	if (w->len < w->size)
		w->buf[w->len] = b;
	w->len++;
}

static void
put_varint(struct pbw *w, uint64_t v)
{
	while (v >= 0x80) {
		put_byte(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put_byte(w, (uint8_t)v);
}

/* A field's key: its number and how its value is written. */
static void
put_tag(struct pbw *w, uint32_t field, unsigned wire_type)
{
	put_varint(w, (uint64_t)field << 3 | wire_type);
}

static void
put_len(struct pbw *w, uint32_t field, const uint8_t *p, size_t n)
{
	size_t i;

	put_tag(w, field, WT_LEN);
	put_varint(w, n);
	for (i = 0; i < n; i++)
		put_byte(w, p[i]);
}

/* proto3: an empty string is the default and is not written. */
static void
put_string(struct pbw *w, uint32_t field, const char *s)
{
	if (s[0] != '\0')
		put_len(w, field, (const uint8_t *)s, strlen(s));
}

static ssize_t
finish(const struct pbw *w)
{
	if (w->len > w->size) {
		errno = ENOSPC;
		return -1;
	}
	return (ssize_t)w->len;
}

static int
too_long(const char *s)
{
	return strnlen(s, ZDS_STR_MAX + 1) > ZDS_STR_MAX;
}

ssize_t
zds_encode_hello(uint8_t *buf, size_t size, uint32_t version)
{
	struct pbw w = { buf, size, 0 };

	/* Version 0 would encode to nothing, which reads as a hang-up. */
	if (version == 0) {
		errno = EINVAL;
		return -1;
	}
	put_tag(&w, 1, WT_VARINT);
	put_varint(&w, version);
	return finish(&w);
}

ssize_t
zds_encode_request(uint8_t *buf, size_t size, const struct zds_request *req)
{
	uint8_t		inner[ZDS_MSG_MAX], info[ZDS_MSG_MAX];
	struct pbw	w = { buf, size, 0 };
	struct pbw	in = { inner, sizeof(inner), 0 };
	struct pbw	iw = { info, sizeof(info), 0 };

	if (too_long(req->uid) || too_long(req->info.name) ||
	    too_long(req->info.namespace) ||
	    too_long(req->info.service_account)) {
		errno = EINVAL;
		return -1;
	}
	switch (req->type) {
	case ZDS_ADD:
		put_string(&in, 1, req->uid);
		if (req->has_info) {
			put_string(&iw, 1, req->info.name);
			put_string(&iw, 2, req->info.namespace);
			put_string(&iw, 3, req->info.service_account);
			/* Written even when empty: its presence matters. */
			put_len(&in, 2, info, iw.len);
		}
		break;
	case ZDS_DEL:
		put_string(&in, 2, req->uid);
		break;
	case ZDS_KEEP:
		put_string(&in, 1, req->uid);
		break;
	case ZDS_SNAPSHOT_SENT:
		break;
	case ZDS_NONE:
	default:
		errno = EINVAL;
		return -1;
	}
	/* The oneof's field number is the type; the inner message is always
	 * written, so the datagram is never empty. */
	put_len(&w, (uint32_t)req->type, inner, in.len);
	return finish(&w);
}

ssize_t
zds_encode_ack(uint8_t *buf, size_t size, const char *error)
{
	uint8_t		ack[ZDS_MSG_MAX];
	struct pbw	w = { buf, size, 0 };
	struct pbw	a = { ack, sizeof(ack), 0 };

	put_string(&a, 1, error);
	if (a.len > a.size) {
		errno = ENOSPC;
		return -1;
	}
	put_len(&w, 1, ack, a.len);
	return finish(&w);
}

/* --- reading ------------------------------------------------------------- */

struct pbr {
	const uint8_t	*p, *end;
};

struct pbfield {
	uint32_t	num;
	unsigned	wt;
	uint64_t	varint;		/* WT_VARINT */
	struct pbr	sub;		/* WT_LEN */
};

static int
get_varint(struct pbr *r, uint64_t *v)
{
	uint64_t	x = 0;
	unsigned	shift;
	uint8_t		b;

	for (shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end)
			return -1;
		b = *r->p++;
		/* The tenth byte holds bit 63 only. */
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int
skip(struct pbr *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return -1;
	r->p += n;
	return 0;
}

/* Read the next field; its value is consumed (a LEN value becomes a
 * sub-reader), so an unknown field is skipped by not looking at it. */
static int
next_field(struct pbr *r, struct pbfield *f, const char **why)
{
	uint64_t key, len;

	if (get_varint(r, &key) == -1) {
		*why = "truncated or overlong field key";
		return -1;
	}
	if (key >> 3 == 0 || key >> 3 > 0x1fffffff) {
		*why = "invalid field number";
		return -1;
	}
	f->num = (uint32_t)(key >> 3);
	f->wt = (unsigned)(key & 7);
	switch (f->wt) {
	case WT_VARINT:
		if (get_varint(r, &f->varint) == -1) {
			*why = "truncated or overlong varint";
			return -1;
		}
		return 0;
	case WT_I64:
		if (skip(r, 8) == -1) {
			*why = "truncated 64-bit field";
			return -1;
		}
		return 0;
	case WT_I32:
		if (skip(r, 4) == -1) {
			*why = "truncated 32-bit field";
			return -1;
		}
		return 0;
	case WT_LEN:
		if (get_varint(r, &len) == -1) {
			*why = "truncated length";
			return -1;
		}
		if (len > (uint64_t)(r->end - r->p)) {
			*why = "length runs past the end of the message";
			return -1;
		}
		f->sub.p = r->p;
		f->sub.end = r->p + len;
		r->p += len;
		return 0;
	default:
		*why = "unsupported wire type (groups are obsolete)";
		return -1;
	}
}

static int
get_string(const struct pbfield *f, char *out, const char **why)
{
	size_t n = (size_t)(f->sub.end - f->sub.p);

	if (f->wt != WT_LEN) {
		*why = "a string field with the wrong wire type";
		return -1;
	}
	if (n > ZDS_STR_MAX) {
		*why = "string longer than 253 bytes";
		return -1;
	}
	if (!text_clean(f->sub.p, n)) {
		*why = "string is not UTF-8 text without control characters";
		return -1;
	}
	memcpy(out, f->sub.p, n);
	out[n] = '\0';
	return 0;
}

static int
bad(const char **why, const char *reason)
{
	*why = reason;
	errno = EBADMSG;
	return -1;
}

int
zds_decode_hello(const uint8_t *buf, size_t len, uint32_t *version,
    const char **why)
{
	struct pbr	r = { buf, buf + len };
	struct pbfield	f;

	*version = 0;
	while (r.p < r.end) {
		if (next_field(&r, &f, why) == -1)
			return bad(why, *why);
		if (f.num != 1)
			continue;
		if (f.wt != WT_VARINT)
			return bad(why, "version with the wrong wire type");
		/* An enum is an int32 on the wire; keep the low bits. */
		*version = (uint32_t)f.varint;
	}
	return 0;
}

static int
decode_info(struct pbr r, struct zds_workload_info *info, const char **why)
{
	struct pbfield	f;
	char		*dst;

	while (r.p < r.end) {
		if (next_field(&r, &f, why) == -1)
			return -1;
		switch (f.num) {
		case 1:
			dst = info->name;
			break;
		case 2:
			dst = info->namespace;
			break;
		case 3:
			dst = info->service_account;
			break;
		default:
			continue;
		}
		if (get_string(&f, dst, why) == -1)
			return -1;
	}
	return 0;
}

/* The inner message of one oneof case.  uid_field: where this type keeps
 * its uid (0: none). */
static int
decode_inner(struct pbr r, struct zds_request *req, uint32_t uid_field,
    const char **why)
{
	struct pbfield f;

	while (r.p < r.end) {
		if (next_field(&r, &f, why) == -1)
			return -1;
		if (uid_field != 0 && f.num == uid_field) {
			if (get_string(&f, req->uid, why) == -1)
				return -1;
		} else if (req->type == ZDS_ADD && f.num == 2) {
			if (f.wt != WT_LEN) {
				*why = "workload_info with the wrong wire type";
				return -1;
			}
			memset(&req->info, 0, sizeof(req->info));
			if (decode_info(f.sub, &req->info, why) == -1)
				return -1;
			req->has_info = 1;
		}
	}
	return 0;
}

int
zds_decode_request(const uint8_t *buf, size_t len, struct zds_request *req,
    const char **why)
{
	struct pbr	r = { buf, buf + len };
	struct pbfield	f;
	uint32_t	uid_field;

	memset(req, 0, sizeof(*req));
	while (r.p < r.end) {
		if (next_field(&r, &f, why) == -1)
			return bad(why, *why);
		switch (f.num) {
		case ZDS_ADD:
		case ZDS_KEEP:
			uid_field = 1;
			break;
		case ZDS_DEL:
			uid_field = 2;
			break;
		case ZDS_SNAPSHOT_SENT:
			uid_field = 0;
			break;
		default:
			continue;	/* unknown: skipped */
		}
		if (f.wt != WT_LEN)
			return bad(why, "request with the wrong wire type");
		/* A oneof: the last case on the wire wins, whole. */
		memset(req, 0, sizeof(*req));
		req->type = (enum zds_req_type)f.num;
		if (decode_inner(f.sub, req, uid_field, why) == -1)
			return bad(why, *why);
	}
	return 0;
}

int
zds_decode_ack(const uint8_t *buf, size_t len, char *error, size_t errsize,
    const char **why)
{
	struct pbr	r = { buf, buf + len }, a;
	struct pbfield	f;
	size_t		n, i;
	int		have_ack = 0;

	if (errsize == 0)
		return bad(why, "no room for the error");
	error[0] = '\0';
	while (r.p < r.end) {
		if (next_field(&r, &f, why) == -1)
			return bad(why, *why);
		if (f.num != 1)
			continue;
		if (f.wt != WT_LEN)
			return bad(why, "ack with the wrong wire type");
		have_ack = 1;
		error[0] = '\0';
		a = f.sub;
		while (a.p < a.end) {
			if (next_field(&a, &f, why) == -1)
				return bad(why, *why);
			if (f.num != 1)
				continue;
			if (f.wt != WT_LEN)
				return bad(why, "error with the wrong wire type");
			/* Shown to a person: cut to fit, controls masked. */
			n = (size_t)(f.sub.end - f.sub.p);
			if (n > errsize - 1)
				n = errsize - 1;
			for (i = 0; i < n; i++) {
				error[i] = (char)f.sub.p[i];
				if (f.sub.p[i] < 0x20 || f.sub.p[i] == 0x7f)
					error[i] = '?';
			}
			error[n] = '\0';
		}
	}
	if (!have_ack)
		return bad(why, "response without an ack");
	return 0;
}

const char *
zds_type_name(enum zds_req_type t)
{
	switch (t) {
	case ZDS_ADD:
		return "add";
	case ZDS_DEL:
		return "del";
	case ZDS_SNAPSHOT_SENT:
		return "snapshot_sent";
	case ZDS_KEEP:
		return "keep";
	case ZDS_NONE:
		break;
	}
	return "none";
}

int
zds_request_equal(const struct zds_request *a, const struct zds_request *b)
{
	return a->type == b->type && strcmp(a->uid, b->uid) == 0 &&
	    a->has_info == b->has_info &&
	    strcmp(a->info.name, b->info.name) == 0 &&
	    strcmp(a->info.namespace, b->info.namespace) == 0 &&
	    strcmp(a->info.service_account, b->info.service_account) == 0;
}
