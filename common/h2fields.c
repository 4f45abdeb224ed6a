/* SPDX-License-Identifier: Apache-2.0 */
/*
 * h2fields.c: HTTP/2's field rules (see h2fields.h).
 */
#include <string.h>

#include "h2fields.h"

void
h2_fields_init(struct h2_fields *fs, struct h2_request *req)
{
	memset(fs, 0, sizeof(*fs));
	fs->req = req;
	if (req != NULL)
		memset(req, 0, sizeof(*req));
}

static void
copy_field(char *dst, size_t size, const struct hpack_field *f)
{
	size_t n = f->valuelen < size - 1 ? f->valuelen : size - 1;

	memcpy(dst, f->value, n);
	dst[n] = '\0';
}

static int
name_is(const struct hpack_field *f, const char *name)
{
	return f->namelen == strlen(name) &&
	    memcmp(f->name, name, f->namelen) == 0;
}

static int
malformed(struct h2_fields *fs, const char *why)
{
	if (!fs->bad) {
		fs->bad = 1;
		fs->why = why;
	}
	return 0;
}

/* A response's one pseudo-header: :status, three digits, once. */
static int
response_pseudo(struct h2_fields *fs, const struct hpack_field *f)
{
	size_t i;

	if (!name_is(f, ":status") || fs->status != 0 || f->valuelen != 3)
		return malformed(fs, "bad :status");
	for (i = 0; i < 3; i++)
		if (f->value[i] < '0' || f->value[i] > '9')
			return malformed(fs, "bad :status");
	fs->status = (f->value[0] - '0') * 100 + (f->value[1] - '0') * 10 +
	    (f->value[2] - '0');
	if (fs->status < 100)
		return malformed(fs, "bad :status");
	return 0;
}

/* A request's pseudo-headers, each at most once. */
static int
request_pseudo(struct h2_fields *fs, const struct hpack_field *f)
{
	struct h2_request *r = fs->req;

	if (name_is(f, ":method") && !fs->has_method) {
		fs->has_method = 1;
		copy_field(r->method, sizeof(r->method), f);
	} else if (name_is(f, ":authority") && !fs->has_authority) {
		fs->has_authority = 1;
		copy_field(r->authority, sizeof(r->authority), f);
	} else if (name_is(f, ":scheme") && !r->has_scheme)
		r->has_scheme = 1;
	else if (name_is(f, ":path") && !r->has_path)
		r->has_path = 1;
	else
		return malformed(fs, "unknown or repeated pseudo-header");
	return 0;
}

int
h2_fields_add(void *arg, const struct hpack_field *f)
{
	struct h2_fields	*fs = arg;
	size_t			 i;

	fs->decoded += f->namelen + f->valuelen;
	for (i = 0; i < f->namelen; i++)
		if (f->name[i] >= 'A' && f->name[i] <= 'Z')
			return malformed(fs, "upper-case field name");
	for (i = 0; i < f->valuelen; i++)
		if (f->value[i] == '\0' || f->value[i] == '\r' ||
		    f->value[i] == '\n')
			return malformed(fs, "NUL, CR or LF in a value");
	if (f->namelen > 0 && f->name[0] == ':') {
		if (fs->regular_seen)
			return malformed(fs, "pseudo-header after a field");
		return fs->req == NULL ? response_pseudo(fs, f) :
		    request_pseudo(fs, f);
	}
	fs->regular_seen = 1;
	if (name_is(f, "connection") || name_is(f, "keep-alive") ||
	    name_is(f, "proxy-connection") || name_is(f, "transfer-encoding") ||
	    name_is(f, "upgrade"))
		return malformed(fs, "connection-specific field");
	if (name_is(f, "te") && !(f->valuelen == 8 &&
	    memcmp(f->value, "trailers", 8) == 0))
		return malformed(fs, "te other than trailers");
	if (fs->req == NULL)
		return 0;
	if (name_is(f, "forwarded"))
		copy_field(fs->req->forwarded, sizeof(fs->req->forwarded), f);
	else if (name_is(f, "traceparent"))
		copy_field(fs->req->traceparent,
		    sizeof(fs->req->traceparent), f);
	else if (name_is(f, "baggage"))
		copy_field(fs->req->baggage, sizeof(fs->req->baggage), f);
	return 0;
}
