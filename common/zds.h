/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_ZDS_H
#define COMMON_ZDS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * ZDS, the protocol between Istio's node agent and ztunnel: one protobuf
 * message per SOCK_SEQPACKET datagram, no framing.  The node agent
 * listens; ztunnel connects, says hello, and acknowledges every request.
 * Field numbers (proto3):
 *
 *   ZdsHello         1: enum version (V1 = 1)
 *   WorkloadRequest  oneof: 1 add, 2 del, 3 snapshot_sent, 5 keep
 *   AddWorkload      1: uid, 2: WorkloadInfo workload_info
 *   WorkloadInfo     1: name, 2: namespace, 3: service_account
 *   KeepWorkload     1: uid
 *   DelWorkload      2: uid            (field 2, not 1)
 *   SnapshotSent     (empty)
 *   WorkloadResponse oneof: 1 ack
 *   Ack              1: error          (empty: success)
 *
 * Only this subset is understood.  Decoding is strict about what it reads
 * (bounds, varint length, wire types of known fields, strings as UTF-8
 * without control characters) and skips unknown fields, as protobuf does.
 * Encoders never produce an empty datagram: a peer would read it as the
 * end of the connection.
 */

#define ZDS_MSG_MAX	1024	/* both sides read into a buffer this big */
#define ZDS_STR_MAX	253	/* longest uid, name, namespace, account */
#define ZDS_VERSION_V1	1
#define ZDS_SOCK_PATH	"/var/run/ztunnel/ztunnel.sock"

enum zds_req_type {
	ZDS_NONE = 0,
	ZDS_ADD = 1,
	ZDS_DEL = 2,
	ZDS_SNAPSHOT_SENT = 3,
	ZDS_KEEP = 5,
};

struct zds_workload_info {
	char	name[ZDS_STR_MAX + 1];
	char	namespace[ZDS_STR_MAX + 1];
	char	service_account[ZDS_STR_MAX + 1];
};

struct zds_request {
	enum zds_req_type		type;
	char				uid[ZDS_STR_MAX + 1];	/* add, del, keep */
	int				has_info;		/* add */
	struct zds_workload_info	info;
};

/* Encoders return the length written, or -1/ENOSPC (or EINVAL for a value
 * that cannot be encoded: a string too long, an unknown type). */
ssize_t	zds_encode_hello(uint8_t *buf, size_t size, uint32_t version);
ssize_t	zds_encode_request(uint8_t *buf, size_t size,
	    const struct zds_request *req);
ssize_t	zds_encode_ack(uint8_t *buf, size_t size, const char *error);

/*
 * Decoders return 0, or -1 with errno EBADMSG and a one-line reason in why
 * (a static string).  A request with no known oneof set decodes with type
 * ZDS_NONE: the caller refuses it.  An ack's error text longer than
 * errsize is cut.
 */
int	zds_decode_hello(const uint8_t *buf, size_t len, uint32_t *version,
	    const char **why);
int	zds_decode_request(const uint8_t *buf, size_t len,
	    struct zds_request *req, const char **why);
int	zds_decode_ack(const uint8_t *buf, size_t len, char *error,
	    size_t errsize, const char **why);

const char *zds_type_name(enum zds_req_type);

/* Equal as values (what follows a string's NUL does not count). */
int	zds_request_equal(const struct zds_request *,
	    const struct zds_request *);

#endif
