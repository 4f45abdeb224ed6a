/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_H2FIELDS_H
#define COMMON_H2FIELDS_H

#include <stddef.h>

#include "hpack.h"

/*
 * HTTP/2's rules for the fields of a request or a response (RFC 9113
 * sections 8.2 and 8.3), applied to each field as HPACK decodes it: a
 * pure module, no sockets, no state beyond one header list.  What is
 * malformed is said once (the first reason) and the rest of the list is
 * still consumed (the decoder's table must stay in step).
 */

/* A CONNECT request as a server saw it (NUL-terminated, truncated to
 * the buffers for the optional ones). */
struct h2_request {
	char	method[16];
	char	authority[64];
	char	forwarded[128];
	char	traceparent[64];
	char	baggage[256];
	int	has_scheme, has_path;
};

struct h2_fields {
	struct h2_request	*req;	/* a request's fields go here; NULL:
					 * they are a response's */
	int			 bad;	/* malformed: why says how */
	const char		*why;
	int			 regular_seen;
	int			 has_method, has_authority;
	int			 status;	/* a response's, 0 if none */
	size_t			 decoded;	/* names and values, in bytes */
};

/* Ready for one header list: a request's into req, or (req NULL) a
 * response's. */
void	h2_fields_init(struct h2_fields *, struct h2_request *req);
/* One field (an hpack_field_fn; arg is the h2_fields).  Always 0: a
 * malformed field marks the list, it does not stop the decoder. */
int	h2_fields_add(void *arg, const struct hpack_field *);

#endif
