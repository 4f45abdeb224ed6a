/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_PODJSON_H
#define ZT_PODJSON_H

#include "pods.h"
#include "util.h"

/*
 * A pod's facts as JSON members, the same names and types wherever they
 * are shown (cni-emulator --list --json, /config_dump's emulator part):
 * "state" (ztunnel's Up or Pending), "netns", "ports", "served",
 * "connections" {open, total}, "bytes" {in, out}, "sockets" {established,
 * closeWait, finWait, other}, "ageSeconds", "via" (control or zds).
 * No braces: the caller opens and closes the object.
 */
void	podjson_facts(struct strbuf *, const struct pod_view *);

#endif
