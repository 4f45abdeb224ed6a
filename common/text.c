/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text.c: what outside text may be, and how to show it when it is not
 * (see text.h).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if
 * none starts there; its code point in *cp.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t		len, i;
	uint32_t	c, min;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, beyond Unicode. */
	if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

static int
control(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f);
}

int
text_clean(const void *p, size_t n)
{
	const unsigned char	*s = p;
	size_t			 i = 0, len;
	uint32_t		 c;

	while (i < n) {
		if ((len = utf8_seq(s + i, n - i, &c)) == 0 || control(c))
			return 0;
		i += len;
	}
	return 1;
}

int
text_name_ok_len(const void *s, size_t len)
{
	return len > 0 && len <= TEXT_NAME_MAX && memchr(s, ' ', len) == NULL &&
	    text_clean(s, len);
}

int
text_name_ok(const char *s)
{
	return text_name_ok_len(s, strlen(s));
}

char *
text_escape(const char *s, char *out, size_t size, int flags)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0, len, left = strlen(s);
	uint32_t		 c;

	if (size == 0)
		return out;
	while (left > 0) {
		len = utf8_seq(p, left, &c);
		if (len == 0 || ((flags & TEXT_ESC_CONTROLS) && control(c))) {
			/* Each byte of a control's sequence on its own. */
			if (len == 0)
				len = 1;
			if (o + 4 * len >= size)
				break;
			for (; len > 0; len--, left--, p++, o += 4)
				snprintf(out + o, size - o, "\\x%02x", *p);
			continue;
		}
		if (o + len >= size)
			break;
		memcpy(out + o, p, len);
		o += len;
		p += len;
		left -= len;
	}
	out[o] = '\0';
	return out;
}

size_t
text_workload_split(const char *wl, char *ns, size_t nssize,
    const char **name)
{
	const char	*slash = strchr(wl, '/');
	int		 n;

	if (slash == NULL) {
		n = snprintf(ns, nssize, "%s", TEXT_DEFAULT_NS);
		*name = wl;
	} else {
		n = snprintf(ns, nssize, "%.*s", (int)(slash - wl), wl);
		*name = slash + 1;
	}
	return n > 0 ? (size_t)n : 0;
}

int
text_dns_domain(const char *s, char *out, size_t size)
{
	size_t	n = strlen(s), i, label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= size || n > 200)
		return -1;
	for (i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)s[i]);

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-') {
			if (++label > 63)
				return -1;
		} else
			return -1;
		out[i] = c;
	}
	if (label == 0)
		return -1;
	out[n] = '\0';
	return 0;
}
