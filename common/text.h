/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_TEXT_H
#define COMMON_TEXT_H

#include <stddef.h>

/*
 * Text that comes from outside (namespace names, ZDS strings, --peers,
 * control-socket requests) and goes into log lines, metric labels, JSON
 * and listings.  One rule for each, used everywhere.
 */

/* A Kubernetes object name's limit: a pod, a namespace, a workload. */
#define TEXT_NAME_MAX	253

/* len bytes of s are well-formed UTF-8 (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF) with no control character (C0, DEL,
 * C1). */
int	text_clean(const void *s, size_t len);

/* A name: 1 to TEXT_NAME_MAX bytes of clean text and no space (it is a
 * word of a request line and a column of a listing).  The rule for pod
 * names, workload namespaces and names, on the control socket, over ZDS
 * and in --peers. */
int	text_name_ok(const char *s);
int	text_name_ok_len(const void *s, size_t len);

/* A workload, "namespace/name" or a bare name, into its parts: the
 * namespace into ns ("default" for a bare name, as kubectl assumes), and
 * *name pointing into wl.  Returns the namespace's length, as snprintf:
 * with ns NULL and nssize 0, what to allocate for it (plus the NUL). */
#define TEXT_DEFAULT_NS	"default"
/* A DNS domain ("cluster.local"): host-name labels of 1..63 bytes,
 * lowercased into out, without a final dot.  -1 if it is not one. */
int	text_dns_domain(const char *s, char *out, size_t size);
size_t	text_workload_split(const char *wl, char *ns, size_t nssize,
	    const char **name);

/* s into out as well-formed UTF-8: each byte that is not part of a
 * well-formed sequence becomes \xHH, and so does each control character
 * if TEXT_ESC_CONTROLS is given; cut short at a character boundary to
 * fit.  Returns out. */
#define TEXT_ESC_CONTROLS	1
char   *text_escape(const char *s, char *out, size_t size, int flags);

#endif
