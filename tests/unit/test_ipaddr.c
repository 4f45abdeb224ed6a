/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipaddr: parsing and writing addresses of either family, the canonical
 * IPv4 of a mapped address, and a namespace's own addresses by netlink.
 */
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "ipaddr.h"
#include "unit.h"

/* s parsed (defport as given) and written back as want. */
static int
round_trip(const char *s, uint16_t defport, const char *want)
{
	union sockip	sa;
	char		buf[SOCKIP_STRLEN];

	if (sockip_parse(s, defport, &sa) == -1)
		return 0;
	sockip_str(&sa, buf, sizeof(buf));
	return strcmp(buf, want) == 0;
}

static void
test_sockip_parse_both_families(void)
{
	CHECK(round_trip("10.244.0.11:8080", 0, "10.244.0.11:8080"));
	CHECK(round_trip("[fd00:10:244::11]:8080", 0, "[fd00:10:244::11]:8080"));
	CHECK(round_trip("[FD00:10:244:0::11]:1", 0, "[fd00:10:244::11]:1"));
	CHECK(round_trip("10.0.0.1", 53, "10.0.0.1:53"));
	CHECK(round_trip("fd00::53", 53, "[fd00::53]:53"));
	CHECK(round_trip("[fd00::53]", 53, "[fd00::53]:53"));
	CHECK(round_trip("[fd00::53]:5353", 53, "[fd00::53]:5353"));
}

static void
test_sockip_parse_refuses(void)
{
	static const char *const bad[] = { "", ":80", "10.0.0.1:", "10.0.0.1:0",
	    "10.0.0.1:65536", "10.0.0.1:+80", "10.0.0.1:80x", "[10.0.0.1]:80",
	    "fd00::1:80x", "[fd00::1", "[fd00::1]80", "[fd00::1]:", "[]:80",
	    "host:80", "10.0.0.256:80", "[fd00::1%eth0]:80", "fe80::1%eth0" };
	union sockip	sa;
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(sockip_parse(bad[i], 0, &sa) == -1);
	/* A port is needed without a default, and a bare IPv6 address
	 * then reads as one. */
	CHECK(sockip_parse("10.0.0.1", 0, &sa) == -1);
	CHECK(sockip_parse("fd00::1", 0, &sa) == -1);
}

static void
test_sockip_canon(void)
{
	union sockip	sa;
	char		buf[SOCKIP_STRLEN];

	CHECK(sockip_parse("[::ffff:10.244.0.11]:4000", 0, &sa) == 0);
	CHECK(sa.sa.sa_family == AF_INET6);
	sockip_canon(&sa);
	CHECK(sa.sa.sa_family == AF_INET && sockip_len(&sa) == sizeof(sa.v4));
	sockip_str(&sa, buf, sizeof(buf));
	CHECK(strcmp(buf, "10.244.0.11:4000") == 0);
	/* Anything else stays as it is. */
	CHECK(sockip_parse("[fd00::1]:4000", 0, &sa) == 0);
	sockip_canon(&sa);
	CHECK(sa.sa.sa_family == AF_INET6);
}

static void
test_sockip_compare(void)
{
	union sockip	a, b, c;

	CHECK(sockip_parse("10.0.0.1:1", 0, &a) == 0);
	CHECK(sockip_parse("10.0.0.1:2", 0, &b) == 0);
	CHECK(sockip_parse("[::ffff:10.0.0.1]:1", 0, &c) == 0);
	CHECK(sockip_same_ip(&a, &b));
	CHECK(!sockip_same_ip(&a, &c));		/* not canonical: another */
	sockip_canon(&c);
	CHECK(sockip_same_ip(&a, &c));
	CHECK(sockip_parse("127.1.2.3:1", 0, &a) == 0 && sockip_loopback(&a));
	CHECK(sockip_parse("[::1]:1", 0, &a) == 0 && sockip_loopback(&a));
	CHECK(sockip_parse("[fd00::1]:1", 0, &a) == 0 && !sockip_loopback(&a));
	sockip_set_port(&a, 15008);
	CHECK(sockip_port(&a) == 15008);
}

static void
test_ipaddr_order(void)
{
	struct ipaddr	a, b, c;
	char		buf[INET6_ADDRSTRLEN];

	CHECK(ipaddr_parse("10.0.0.2", &a) == 0);
	CHECK(ipaddr_parse("10.0.0.10", &b) == 0);
	CHECK(ipaddr_parse("fd00::1", &c) == 0);
	CHECK(ipaddr_cmp(&a, &b) < 0 && ipaddr_cmp(&b, &a) > 0);
	CHECK(ipaddr_cmp(&a, &c) != 0 && ipaddr_eq(&c, &c));
	CHECK(strcmp(ipaddr_str(&c, buf, sizeof(buf)), "fd00::1") == 0);
	CHECK(ipaddr_parse("[fd00::1]", &a) == -1);
	CHECK(ipaddr_parse("10.0.0.1:80", &a) == -1);
}

/* Our own namespace's addresses: whatever they are, none is loopback. */
static void
test_ipaddr_list_no_loopback(void)
{
	struct ipaddr	 a[64];
	union sockip	 sa;
	int		 nl, n, i;

	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHECK(nl != -1);
	n = ipaddr_list(nl, a, 64);
	CHECK(n >= 0);
	for (i = 0; i < n; i++) {
		ipaddr_sockip(&a[i], 1, &sa);
		CHECK(!sockip_loopback(&sa));
		CHECK(a[i].family == AF_INET || a[i].family == AF_INET6);
	}
	/* At most max. */
	CHECK(ipaddr_list(nl, a, 0) == 0);
	close(nl);
}

const struct unit_test ipaddr_tests[] = {
	UNIT_TEST(test_sockip_parse_both_families),
	UNIT_TEST(test_sockip_parse_refuses),
	UNIT_TEST(test_sockip_canon),
	UNIT_TEST(test_sockip_compare),
	UNIT_TEST(test_ipaddr_order),
	UNIT_TEST(test_ipaddr_list_no_loopback),
	UNIT_END
};
