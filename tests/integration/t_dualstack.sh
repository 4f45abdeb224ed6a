#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Dual-stack pods: every pod of scripts/topology.sh has an IPv6 address
# (fd00:10:244::/48, only inside the namespaces the test makes) beside
# its IPv4 one.  The rules capture both families (ip6tables, or the ip6
# twins of the inet tables), the listeners on [::] take both, and
# traffic over IPv6 goes through 15001, 15006 and 15008 as IPv4 does:
# byte-identical, with half-close, the app seeing the client's own IPv6
# address, HBONE with "[addr]:port" across two nodes.  A pod whose lo has
# no IPv6 still enrols, IPv4 only, and says so.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

H2PEER=$TOP/tests/helpers/h2peer.py
H2PY=/usr/bin/python3	# Debian's python3-h2 imports under it only

# The packets ip6tables counted on pod I's rule matching TEXT.
ip6t_count() {
	in_pod "$1" ip6tables-save -c | grep -F -- "$2" | head -n 1 |
	    sed 's/^\[\([0-9]*\):.*/\1/'
}
# Pod I's IPv6 regex as logs write it with a port: [addr]:
re6() { echo "\\[$(pod_ip6 "$1")\\]"; }

# One node: A and B in the mesh, C not.  Each path over IPv6, and IPv4
# beside it in the same pods.
t_one_node_both_families() {
	local before
	node_up 3
	start_node_daemon --admin 127.0.0.1:15000
	enrol 1 2
	app 2
	app 3
	expect "IPv6 rules in A" in_pod 1 sh -c "ip6tables-save -t nat | grep -q -- '-A ISTIO_OUTPUT ! -d ::1/128 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001'"
	expect "the IPv6 fwmark rule" in_pod 1 sh -c "ip -6 rule show | grep -q 'fwmark 0x111/0xfff lookup 100'"
	expect "the IPv6 local route" in_pod 1 sh -c "ip -6 route show table 100 | grep -q 'local default dev lo'"
	expect "listeners on [::]" in_pod 1 sh -c "ss -Htln 'sport = :15001' | grep -q '\\*:15001'"
	before=$(ip6t_count 1 "-j REDIRECT --to-ports 15001")
	expect "B's app sees A's IPv6 address" test "$(client6 1 peer 2)" = "$(pod_ip6 1)"
	expect "  through A's IPv6 15001 rule" test "$(ip6t_count 1 "-j REDIRECT --to-ports 15001")" -gt "$before"
	expect "and A's IPv4 address over IPv4" test "$(client 1 peer 2)" = "$(pod_ip 1)"
	expect "logged out of A, in brackets" file_has "$WORK/zt.err" \
	    "connection complete.src.addr=$(re6 1):[0-9]* src.workload=\"$(pod_ns 1)\" .*dst.addr=$(re6 2):15008 dst.hbone_addr=$(re6 2):$APP_PORT .*direction=\"outbound\""
	expect "CONNECT [B]:port" file_has "$WORK/zt.err" "CONNECT $(re6 2):$APP_PORT forwarded=for=\"$(re6 1):[0-9]*\""
	expect "64 MiB each way over IPv6, byte-identical" client6 1 bulk 2 64
	expect "half-close over IPv6" client6 1 halfclose 2
	# Not in the mesh: C's connection to B comes in through 15006, and
	# B's app sees C's address (the spoofed IPv6 source).
	expect "B's app sees C's IPv6 address" test "$(client6 3 peer 2)" = "$(pod_ip6 3)"
	expect "  logged inbound" file_has "$WORK/zt.err" \
	    "connection complete.src.addr=$(re6 3):[0-9]* dst.addr=$(re6 2):$APP_PORT .*direction=\"inbound\""
	# A to C (no mesh pod there): plain through 15001.
	expect "C's app sees A's IPv6 address" test "$(client6 1 peer 3)" = "$(pod_ip6 1)"
	nsenter "--net=/var/run/netns/$NODE" curl -s -m 5 \
	    http://127.0.0.1:15000/config_dump >"$WORK/dump"
	expect "workloadIps: both of A's" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ips = [w["workloadIps"] for w in d["workloads"] if w["name"] == sys.argv[2]]
sys.exit(0 if ips and sorted(ips[0]) == sorted(sys.argv[3:]) else 1)' \
	    "$WORK/dump" "$(pod_ns 1)" "$(pod_ip 1)" "$(pod_ip6 1)"
	expect "AAAA of B through A's capture" test \
	    "$(in_pod 1 dig +time=5 +tries=2 +short @"$(pod_ip6 3)" "$(pod_ns 2).default.svc.cluster.local" AAAA)" = "$(pod_ip6 2)"
}

# h2_status I HOST AUTHORITY: the status python3-h2's CONNECT from pod I
# to HOST:15008 got (its first line, all of its output read).
h2_status() {
	local out
	out=$(in_pod "$1" timeout 60 "$H2PY" "$H2PEER" client "$2" 15008 "$3")
	echo "${out%%$'\n'*}"
}

# HBONE from a client that is not ours, with an IPv6 authority.
t_ipv6_authority() {
	local b
	node_up 3
	start_node_daemon
	enrol 2
	app 2
	b=$(pod_ip6 2)
	expect "CONNECT [B]:port: 200" test "$(h2_status 3 "$b" "[$b]:$APP_PORT")" = "status 200"
	expect "  logged" file_has "$WORK/zt.err" "CONNECT $(re6 2):$APP_PORT forwarded="
	expect "CONNECT to another pod's [addr]: 400" test \
	    "$(h2_status 3 "$b" "[$(pod_ip6 3)]:$APP_PORT")" = "status 400"
	expect "a bracketed IPv4: 400" test "$(h2_status 3 "$b" "[$(pod_ip 2)]:$APP_PORT")" = "status 400"
	expect "B's IPv4 address through a tunnel over IPv6: 200" test \
	    "$(h2_status 3 "$b" "$(pod_ip 2):$APP_PORT")" = "status 200"
}

# Two nodes, a daemon each, --peers with both addresses of each pod: A
# reaches B over IPv6 as a tunnel to [B]:15008 across the link.
t_two_nodes_ipv6() {
	two_nodes
	local a b
	a=$("$TOPO" ip62 1 1)
	b=$("$TOPO" ip62 2 1)
	echo "$b default/b" >>"$WORK/peers1"
	echo "$a default/a" >>"$WORK/peers2"
	start_node_daemon --peers "$WORK/peers1"
	expect "A enrolled on node 1" "$CNI" --redirect "$SOCK" "$P-n1pod1"
	node2_up
	expect "B's app sees A's IPv6 address" test \
	    "$(nsenter "--net=/var/run/netns/$P-n1pod1" timeout 60 python3 "$TRAFFIC" peer "$b" "$APP_PORT")" = "$a"
	expect "A's tunnel to [B]:15008" test \
	    "$(nsenter "--net=/var/run/netns/$P-n1pod1" ss -Htn state established "( dport = :15008 )" | awk '{ print $4 }')" = "[$b]:15008"
	expect "64 MiB each way, byte-identical" \
	    nsenter "--net=/var/run/netns/$P-n1pod1" timeout 120 python3 "$TRAFFIC" bulk "$b" "$APP_PORT" 64
	expect "half-close across the nodes" \
	    nsenter "--net=/var/run/netns/$P-n1pod1" timeout 120 python3 "$TRAFFIC" halfclose "$b" "$APP_PORT"
	expect "node 2 served it, naming A" file_has "$WORK/zt2.err" \
	    "connection complete.src.addr=\\[$a\\]:[0-9]* src.workload=\"a\" .*dst.addr=\\[$b\\]:$APP_PORT .*direction=\"inbound\" bytes_sent=67108869 "
	expect "and IPv4 still, in its own pool" test \
	    "$(nsenter "--net=/var/run/netns/$P-n1pod1" timeout 60 python3 "$TRAFFIC" peer "$B" "$APP_PORT")" = "$A"
}

# A pod whose lo has no IPv6 (and no IPv6 at all) enrols with IPv4 rules
# alone, says so, and its IPv4 traffic flows; its name has no AAAA.
t_no_ipv6_on_lo_enrols() {
	node_up 2
	in_pod 1 sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
	    echo 1 >/proc/sys/net/ipv6/conf/lo/disable_ipv6 &&
	    echo 1 >/proc/sys/net/ipv6/conf/eth0/disable_ipv6'
	start_node_daemon
	app 2
	"$CNI" -v --redirect "$SOCK" "$(pod_ns 1)" >"$WORK/cni.out" 2>"$WORK/cni.err"
	expect "enrolled" test $? -eq 0
	expect "said so, once" test "$(grep -c "no IPv6 on the pod's lo: IPv4 rules only" "$WORK/cni.err")" -eq 1
	expect "no IPv6 rules of ours" test "$(in_pod 1 ip6tables-save | grep -c ISTIO)" -eq 0
	expect "IPv4 rules" in_pod 1 sh -c "iptables-save | grep -q ISTIO_OUTPUT"
	expect "the daemon said so" wait_for 5 file_has "$WORK/zt.err" "$(pod_ns 1): no IPv6 on lo"
	expect "DNS on 127.0.0.1 alone" test "$(in_pod 1 ss -Hulnp 'sport = :15053' | wc -l)" -eq 1
	enrol 2
	expect "A to B over IPv4" test "$(client 1 peer 2)" = "$(pod_ip 1)"
	expect "AAAA of A: no records" test -z \
	    "$(in_pod 2 dig +time=5 +tries=2 +short @127.0.0.1 -p 15053 "$(pod_ns 1).default.svc.cluster.local" AAAA)"
	expect "removed" "$CNI" --del --redirect "$SOCK" "$(pod_ns 1)"
	expect "nothing of ours left" test "$(in_pod 1 iptables-save | grep -c ISTIO)" -eq 0
}

# Removal takes both families' rules away, and nothing else.
t_removal_both_families() {
	node_up 1
	start_node_daemon
	in_pod 1 ip6tables -t nat -A OUTPUT -p tcp --dport 9 -j ACCEPT
	in_pod 1 ip6tables-save | grep -E '^(-A|:[A-Z_]+ -)' >"$WORK/before6"
	enrol 1
	expect "IPv6 chains in" test "$(in_pod 1 ip6tables-save | grep -c ISTIO)" -gt 0
	expect "removed" "$CNI" --del --redirect "$SOCK" "$(pod_ns 1)"
	expect "ip6tables as before (the pod's own rule kept)" test \
	    "$(in_pod 1 ip6tables-save | grep -E '^(-A|:[A-Z_]+ -)')" = "$(cat "$WORK/before6")"
	expect "no IPv6 fwmark rule" test "$(in_pod 1 ip -6 rule show | grep -c 'lookup 100')" -eq 0
	expect "no IPv6 table 100" test -z "$(in_pod 1 ip -6 route show table 100 2>/dev/null)"
}

# The nftables backend: the ip6 twins, and IPv6 traffic through them.
t_nftables_ip6_twins() {
	node_up 2
	start_node_daemon
	app 2
	expect "A enrolled (nftables)" "$CNI" --redirect --redirect-backend nftables "$SOCK" "$(pod_ns 1)"
	expect "B enrolled (nftables)" "$CNI" --redirect --redirect-backend nftables "$SOCK" "$(pod_ns 2)"
	expect "the ip6 twin of the 15001 rule" in_pod 1 sh -c \
	    "nft list table inet istio-ambient-nat | grep -q 'ip6 daddr != ::1 .*redirect to :15001'"
	expect "B's app sees A's IPv6 address" test "$(client6 1 peer 2)" = "$(pod_ip6 1)"
	expect "  counted by the ip6 rule" in_pod 1 sh -c \
	    "nft list table inet istio-ambient-nat | grep 'ip6 daddr != ::1 .*redirect to :15001' | grep -vq 'packets 0 '"
	expect "no iptables rules of ours" test "$(in_pod 1 ip6tables-save | grep -c ISTIO)" -eq 0
}

run_tests t_one_node_both_families t_ipv6_authority t_two_nodes_ipv6 \
    t_no_ipv6_on_lo_enrols t_removal_both_families t_nftables_ip6_twins
