/* SPDX-License-Identifier: Apache-2.0 */
/*
 * podjson.c: a pod's facts as JSON (see podjson.h), one writer for both
 * places they appear.
 */
#include <stdint.h>

#include "ambient.h"
#include "podjson.h"

void
podjson_facts(struct strbuf *t, const struct pod_view *v)
{
	strbuf_printf(t, "\"state\": \"%s\", \"netns\": %ju, "
	    "\"ports\": [%u, %u, %u], \"served\": %ju, "
	    "\"connections\": {\"open\": %ju, \"total\": %ju}, "
	    "\"bytes\": {\"in\": %ju, \"out\": %ju}, "
	    "\"sockets\": {\"established\": %u, \"closeWait\": %u, "
	    "\"finWait\": %u, \"other\": %u}, "
	    "\"ageSeconds\": %ju, \"via\": \"%s\"",
	    v->up ? "Up" : "Pending", (uintmax_t)v->netns, ZT_PORT_HBONE,
	    ZT_PORT_INBOUND, ZT_PORT_OUTBOUND, (uintmax_t)v->served,
	    (uintmax_t)v->conns_open, (uintmax_t)v->conns_total,
	    (uintmax_t)v->bytes_in, (uintmax_t)v->bytes_out,
	    v->sockets.established, v->sockets.close_wait,
	    v->sockets.fin_wait, v->sockets.other,
	    (uintmax_t)(v->age_ms / 1000), v->zds ? "zds" : "control");
}
