/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_AMBIENT_H
#define COMMON_AMBIENT_H

/*
 * Istio ambient's fixed numbers, the one place they are written: the
 * ports ztunnel listens on inside each pod, the marks istio-cni's rules
 * and ztunnel's sockets agree on, and the route they use (DATAPATH.md
 * 1.1, istio-cni's cni/pkg/config/config.go).  Both programs use them;
 * the in-pod rules are built from them.
 */

#define ZT_PORT_HBONE		15008	/* inbound HBONE, not redirected */
#define ZT_PORT_INBOUND		15006	/* inbound plaintext (REDIRECT) */
#define ZT_PORT_OUTBOUND	15001	/* what the pod sends (REDIRECT) */
#define ZT_PORT_DNS		15053	/* the DNS proxy, UDP and TCP */
#define ZT_NPORTS		3
/* The listeners, in the order they are made (the seed's order). */
#define ZT_PORTS		{ ZT_PORT_HBONE, ZT_PORT_INBOUND, ZT_PORT_OUTBOUND }

#define ZT_MARK			0x539	/* 1337: on every socket of ztunnel's */
#define ZT_CONNMARK		0x111	/* a connection ztunnel made into the pod */
#define ZT_MARK_MASK		0xfff
#define ZT_ROUTE_TABLE		100	/* local default route for 0x111 */
#define ZT_RULE_PREF		32764
#define ZT_PROBE_SNAT		"169.254.7.127"	/* kubelet's probes, SNATed */
#define ZT_PROBE_SNAT6		"fd16:9254:7127:1337:ffff:ffff:ffff:ffff"

/* For building rule text and command lines from the numbers above. */
#define ZT_STR(x)		ZT_STR1(x)
#define ZT_STR1(x)		#x

#endif
