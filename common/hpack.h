/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_HPACK_H
#define COMMON_HPACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * HPACK (RFC 7541), for HTTP/2 header blocks: a pure codec, no sockets.
 *
 * The decoder is complete: the static table, Huffman-coded strings,
 * the dynamic table with eviction and size updates.  Everything about it
 * is bounded: the dynamic table by HPACK_TABLE_MAX (what we advertise as
 * SETTINGS_HEADER_TABLE_SIZE), each decoded name or value by
 * HPACK_STR_MAX, the whole list by the caller's limit.
 *
 * The encoder is the minimum RFC 7541 allows and every decoder reads:
 * an indexed field for an exact static-table match, else a literal
 * without indexing (the name indexed if the static table has it), with
 * raw strings.  It never touches the peer's dynamic table.
 */

#define HPACK_TABLE_MAX	4096	/* bytes, as RFC 7541 counts them */
#define HPACK_STR_MAX	16384	/* one decoded name or value */

/* An entry costs its name, its value and 32 bytes (section 4.1). */
#define HPACK_ENTRY_OVERHEAD	32

enum hpack_result {
	HPACK_OK = 0,
	HPACK_ERR_COMPRESSION = -1,	/* malformed: a connection error */
	HPACK_ERR_TOO_BIG = -2,		/* over the list limit: the block was
					 * still read, the table is in step */
};

struct hpack_entry {
	uint16_t	off;		/* name at data[off], value after it */
	uint16_t	namelen;
	uint16_t	valuelen;
};

struct hpack_dec {
	size_t			 limit;	/* the most a size update may set */
	size_t			 max;	/* the table's current maximum size */
	size_t			 size;	/* what its entries cost */
	unsigned		 n;	/* entries, oldest first */
	struct hpack_entry	 ent[HPACK_TABLE_MAX / HPACK_ENTRY_OVERHEAD];
	size_t			 used;	/* bytes of data[] in use */
	uint8_t			 data[HPACK_TABLE_MAX];
	char			 name[HPACK_STR_MAX];	/* scratch */
	char			 value[HPACK_STR_MAX];
};

/* One decoded field; the strings live until the callback returns. */
struct hpack_field {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
};

/* Return non-zero to stop decoding; hpack_decode returns that value. */
typedef int	hpack_field_fn(void *arg, const struct hpack_field *);

void	hpack_dec_init(struct hpack_dec *);

/*
 * Decode one whole header block (HEADERS and its CONTINUATIONs joined).
 * Calls fn for each field in order, while the list's size (RFC 9113:
 * names, values and 32 per field) stays within max_list.  Returns
 * HPACK_OK, an hpack_result, or what fn returned; *why says what was
 * wrong.
 */
int	hpack_decode(struct hpack_dec *, const uint8_t *block, size_t len,
	    size_t max_list, hpack_field_fn *fn, void *arg, const char **why);

/* The dynamic table's size in RFC 7541's accounting, and an entry (1 is
 * the newest), for tests. */
size_t	hpack_dec_table_size(const struct hpack_dec *);
int	hpack_dec_entry(const struct hpack_dec *, unsigned i,
	    struct hpack_field *);

/* Append one field at buf[*len]; -1 if it does not fit in size. */
int	hpack_encode(uint8_t *buf, size_t size, size_t *len, const char *name,
	    const char *value);

/* Huffman-decode in[0..inlen) into out (at most outsize bytes).  The
 * length decoded, or -1: a bad code, EOS, bad padding, or no room. */
ssize_t	hpack_huffman_decode(const uint8_t *in, size_t inlen, char *out,
	    size_t outsize);

#endif
