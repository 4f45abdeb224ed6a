#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ztunnel's DNS proxy on 15053: istio-cni's DNS capture sends a pod's
# queries there; names of pods are answered by the daemon, others are
# forwarded from inside the pod (marked, conntrack zone 1) to an upstream
# the test runs in a pod of its own (tests/helpers/dnsup.py), over UDP
# and again over TCP when the answer is truncated.  dig asks, as a user
# would; tests/helpers/dnsprobe.py brings the hostile messages.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

PROBE=$TOP/tests/helpers/dnsprobe.py
# How long dig and the probe wait for an answer: longer under valgrind,
# where the daemon is some thirty times slower.
DIG_TIME=3
if [ "${VALGRIND:-}" = 1 ]; then
	DIG_TIME=15
	export DNSPROBE_TIMEOUT=15
fi

# The node with pods 1..N; pod N+1 runs the upstream server, not enrolled.
dns_node() {
	local n=$1
	shift
	node_up "$((n + 1))"
	UP=$((n + 1))
	pod_bg "$UP" "$WORK/up.out" python3 "$TOP/tests/helpers/dnsup.py"
	expect "the upstream listens" wait_for 10 file_has "$WORK/up.out" listening
	start_node_daemon --dns-upstream "$(pod_ip "$UP")" \
	    --metrics 127.0.0.1:15020 "$@"
}

# dig_in I ARGS...: dig from pod I, quick to give up.
dig_in() {
	local i=$1
	shift
	in_pod "$i" dig +time="$DIG_TIME" +tries=2 "$@"
}
status_of() { grep -o 'status: [A-Z]*' | cut -d' ' -f2; }
# The name of pod J as the proxy answers it, fully qualified.
fqdn() { echo "$(pod_ns "$1").default.svc.cluster.local"; }

metric() {
	nsenter "--net=/var/run/netns/$NODE" curl -s -m 5 \
	    http://127.0.0.1:15020/metrics | awk -v k="$1" '$1 == k { print $2 }'
}

# The packet count of pod I's iptables rule matching PATTERN.
ipt_count() {
	in_pod "$1" iptables-save -c | grep -F -- "$2" | head -n 1 |
	    sed 's/^\[\([0-9]*\):.*/\1/'
}

# A's queries to any server on port 53 are captured: its pod's names
# answered by the daemon (short names, with the search domains, fully
# qualified; UDP and TCP), authoritatively, with TTL 30.
t_pod_names_answered_here() {
	local before
	dns_node 2
	enrol 1 2
	expect "UDP and TCP on 127.0.0.1:15053 in the pod, ours" in_pod 1 sh -c \
	    "ss -Hulnp 'sport = :15053' | grep -q '127.0.0.1:15053.*pid=$ZPID,' &&
	     ss -Htlnp 'sport = :15053' | grep -q '127.0.0.1:15053.*pid=$ZPID,'"
	before=$(ipt_count 1 "-p udp -m mark ! --mark 0x539/0xfff -m udp --dport 53 -j REDIRECT --to-ports 15053")
	expect "a short name" test "$(dig_in 1 +short @"$(pod_ip "$UP")" "$(pod_ns 2)")" = "$(pod_ip 2)"
	expect "name.namespace" test "$(dig_in 1 +short @"$(pod_ip "$UP")" "$(pod_ns 2).default")" = "$(pod_ip 2)"
	expect "fully qualified" test "$(dig_in 1 +short @"$(pod_ip "$UP")" "$(fqdn 2)")" = "$(pod_ip 2)"
	expect "with a search domain a resolver added" test \
	    "$(dig_in 1 +short @"$(pod_ip "$UP")" "$(pod_ns 2).default.default.svc.cluster.local")" = "$(pod_ip 2)"
	expect "over TCP" test "$(dig_in 1 +tcp +short @"$(pod_ip "$UP")" "$(fqdn 2)")" = "$(pod_ip 2)"
	expect "the UDP/53 capture rule counted them" test \
	    "$(ipt_count 1 "-p udp -m mark ! --mark 0x539/0xfff -m udp --dport 53 -j REDIRECT --to-ports 15053")" -ge $((before + 4))
	expect "the TCP/53 capture rule counted one" test \
	    "$(ipt_count 1 "-p tcp -m tcp --dport 53 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15053")" -ge 1
	dig_in 1 @127.0.0.1 -p 15053 "$(fqdn 2)" >"$WORK/dig"
	expect "authoritative" grep -q 'flags: qr aa' "$WORK/dig"
	expect "TTL 30" grep -q "^$(fqdn 2)\.[[:space:]]*30[[:space:]]*IN[[:space:]]*A[[:space:]]*$(pod_ip 2)\$" "$WORK/dig"
	expect "AAAA of a dual-stack pod: its IPv6 address" test \
	    "$(dig_in 1 +short @127.0.0.1 -p 15053 "$(fqdn 2)" AAAA)" = "$(pod_ip6 2)"
	expect "nothing reached the upstream" test "$(grep -c default.svc "$WORK/up.out")" -eq 0
	expect "access log: success" file_has "$WORK/zt.err" \
	    "dns request.*src.workload=$(pod_ns 1) src.namespace=default query=A domain=$(fqdn 2)\. result=\"success\" endpoints=1"
	expect "access log: the AAAA" file_has "$WORK/zt.err" \
	    "query=AAAA domain=$(fqdn 2)\. result=\"success\" endpoints=1"
	expect "metrics: answered here" test "$(metric 'ztunnel_emulator_dns_queries_total{result="success"}')" -ge 6
	expect "metrics: all requests" test "$(metric istio_dns_requests_total)" -ge 7
	expect "nothing upstream yet" test "$(metric istio_dns_upstream_requests_total)" = 0
}

# Other names and types go upstream from inside the pod, marked (the
# rules let them out in conntrack zone 1): the upstream sees the pod's
# own address.  NXDOMAIN comes back as the upstream says it.
t_unknown_names_forwarded_from_the_pod() {
	local fds
	dns_node 2
	enrol 1 2
	fds=$(fd_count "$ZPID")
	expect "an unknown name, forwarded" test "$(dig_in 1 +short @"$(pod_ip "$UP")" www.example.test)" = 192.0.2.7
	expect "the upstream saw the pod's address" file_has "$WORK/up.out" "^udp $(pod_ip 1) www.example.test 1\$"
	expect "NXDOMAIN passed on" test "$(dig_in 1 @"$(pod_ip "$UP")" nothing.invalid | status_of)" = NXDOMAIN
	expect "a type it does not answer (MX of a pod), forwarded" test \
	    "$(dig_in 1 @127.0.0.1 -p 15053 "$(fqdn 2)" MX | status_of)" = NXDOMAIN
	expect "  as the upstream saw" file_has "$WORK/up.out" "^udp $(pod_ip 1) $(fqdn 2) 15\$"
	expect "over TCP from the client too" test "$(dig_in 1 +tcp +short @"$(pod_ip "$UP")" tcp.example.test)" = 192.0.2.7
	expect "our query in conntrack zone 1 (raw rule counted)" test \
	    "$(ipt_count 1 "-p udp -m mark --mark 0x539/0xfff -m udp --dport 53 -j CT --zone 1")" -ge 1
	expect "the answer too" test \
	    "$(ipt_count 1 "-p udp -m mark ! --mark 0x539/0xfff -m udp --sport 53 -j CT --zone 1")" -ge 1
	expect "access log: forwarded" file_has "$WORK/zt.err" \
	    "query=A domain=www.example.test\. result=\"forwarded\" endpoints=1"
	expect "metrics: upstream requests" test "$(metric istio_dns_upstream_requests_total)" -ge 4
	expect "metrics: forwarded" test "$(metric 'ztunnel_emulator_dns_queries_total{result="forwarded"}')" -ge 4
	expect "no upstream socket left behind" wait_for 10 sh -c "test \$(ls /proc/$ZPID/fd | wc -l) -le $fds"
}

# An answer too big for UDP comes back truncated: the daemon asks again
# over TCP; dig (EDNS 1232) is then told TC, and asks over TCP itself.
t_truncated_answer_retried_over_tcp() {
	dns_node 1
	enrol 1
	dig_in 1 @"$(pod_ip "$UP")" big.example.test TXT >"$WORK/dig"
	expect "all 40 records" test "$(grep -c '"record [0-9]' "$WORK/dig")" -eq 40
	expect "the upstream was asked over UDP, then over TCP" sh -c \
	    "grep -q '^udp $(pod_ip 1) big.example.test 16\$' '$WORK/up.out' &&
	     grep -q '^tcp $(pod_ip 1) big.example.test 16\$' '$WORK/up.out'"
	dig_in 1 +ignore +bufsize=4096 @127.0.0.1 -p 15053 big.example.test TXT >"$WORK/dig"
	expect "a client taking 4096 bytes over UDP gets it whole" test "$(grep -c '"record [0-9]' "$WORK/dig")" -eq 40
	expect_not "  without TC" grep -q 'flags:[a-z ]* tc' "$WORK/dig"
}

# An upstream that never answers: SERVFAIL after ztunnel's 5 s, and
# the daemon serves the other pods meanwhile.
t_silent_upstream_servfail() {
	dns_node 2
	enrol 1 2
	pod_bg 1 "$WORK/slow" dig +time=10 +tries=1 @127.0.0.1 -p 15053 slow.example.test
	expect "the query is upstream" wait_for 5 file_has "$WORK/up.out" "slow.example.test"
	expect "meanwhile another pod is answered" test "$(dig_in 2 +short @127.0.0.1 -p 15053 "$(fqdn 1)")" = "$(pod_ip 1)"
	expect "SERVFAIL after the timeout" wait_for 15 file_has "$WORK/slow" "status: SERVFAIL"
	expect "access log: timed out" file_has "$WORK/zt.err" \
	    "domain=slow.example.test\. result=\"forwarding failed (timed out)\""
	expect "metrics: a failure" test "$(metric istio_dns_upstream_failures_total)" = 1
}

# A query from an address the pod did not have when it was enrolled
# cannot be placed: SERVFAIL, as ztunnel's for an unknown source.
t_unknown_source_servfail() {
	dns_node 2
	enrol 1 2
	in_pod 1 ip addr add 10.244.0.200/32 dev lo || exit 1
	expect "SERVFAIL" test "$(dig_in 1 -b 10.244.0.200 @127.0.0.1 -p 15053 "$(fqdn 2)" | status_of)" = SERVFAIL
	expect "logged" file_has "$WORK/zt.err" "result=\"unknown source\""
	expect "the pod's own address still answered" test \
	    "$(dig_in 1 +short -b "$(pod_ip 1)" @127.0.0.1 -p 15053 "$(fqdn 2)")" = "$(pod_ip 2)"
}

# The malformed catalogue, over UDP and TCP, direct and through the
# capture: each refused as it should be, nothing leaks, the daemon
# answers on.
t_hostile_catalogue() {
	local fds server
	dns_node 2
	enrol 1 2
	expect "warmed" test "$(dig_in 1 +short @127.0.0.1 -p 15053 "$(fqdn 2)")" = "$(pod_ip 2)"
	fds=$(fd_count "$ZPID")
	for server in "127.0.0.1 15053" "$(pod_ip "$UP") 53"; do
		# shellcheck disable=SC2086  # two words: address and port
		in_pod 1 python3 "$PROBE" $server "$(fqdn 2)" >"$WORK/probe"
		cat >"$WORK/want" <<-EOF
		udp_ok NOERROR $(pod_ip 2)
		udp_loop FORMERR
		udp_past_end FORMERR
		udp_forward_ptr FORMERR
		udp_label64 FORMERR
		udp_name256 FORMERR
		udp_counts_lie FORMERR
		udp_trailing FORMERR
		udp_two_questions FORMERR
		udp_question_cut FORMERR
		udp_notimp NOTIMP
		udp_response none
		udp_short none
		udp_after_random NOERROR $(pod_ip 2)
		tcp_ok NOERROR $(pod_ip 2)
		tcp_two_in_one NOERROR $(pod_ip 2)
		tcp_prefix_cut closed
		tcp_length_lies closed
		tcp_zero_length closed
		tcp_too_long closed
		tcp_loop FORMERR
		EOF
		diff "$WORK/want" "$WORK/probe" >&2 || true
		expect "every case as it should be ($server)" cmp -s "$WORK/want" "$WORK/probe"
	done
	expect "still answering" test "$(dig_in 2 +short @127.0.0.1 -p 15053 "$(fqdn 1)")" = "$(pod_ip 1)"
	expect "metrics: malformed counted" test "$(metric 'ztunnel_emulator_dns_queries_total{result="malformed"}')" -ge 20
	expect "no descriptor left behind" wait_for 10 sh -c "test \$(ls /proc/$ZPID/fd | wc -l) -le $fds"
	expect "daemon alive" daemon_alive
}

# A pod floods its 15053 with queries that go upstream and are never
# answered: it gets 64 upstream at once and SERVFAIL for the rest, and
# another pod's lookups, local and forwarded, are all answered
# meanwhile (their latency noted, not asserted).  Afterwards the
# daemon holds no more descriptors than before.
t_flood_other_pod_answered() {
	local fds i ms=() n
	dns_node 2
	enrol 1 2
	expect "warmed" test "$(dig_in 2 +short @127.0.0.1 -p 15053 "$(fqdn 1)")" = "$(pod_ip 1)"
	fds=$(fd_count "$ZPID")
	pod_bg 1 "$WORK/flood" python3 "$PROBE" flood 127.0.0.1 15053 slow.example.test 4
	expect "the flood is on" wait_for 10 sh -c "test \$(grep -c slow.example.test '$WORK/up.out') -ge 64"
	for i in $(seq 1 20); do
		dig_in 2 @127.0.0.1 -p 15053 "$(fqdn 1)" >"$WORK/dig" || true
		expect "pod 2's lookup $i answered" grep -q "^$(fqdn 1)\..*$(pod_ip 1)\$" "$WORK/dig"
		ms+=("$(sed -n 's/^;; Query time: \([0-9]*\) msec/\1/p' "$WORK/dig")")
	done
	expect "pod 2's forwarded lookup answered" test "$(dig_in 2 +short @127.0.0.1 -p 15053 flood.example.test)" = 192.0.2.7
	expect "the flood ended" wait_for 15 file_has "$WORK/flood" "^sent "
	n=$(grep -c slow.example.test "$WORK/up.out")
	expect "queries past the 64 upstream got SERVFAIL at once" test "$(metric 'ztunnel_emulator_dns_queries_total{result="forwarding_failed"}')" -gt 0
	expect "their sockets closed by the deadline" wait_for 15 sh -c "test \$(ls /proc/$ZPID/fd | wc -l) -le $fds"
	note "$(grep -o '[0-9]*' "$WORK/flood" | head -n 1) queries flooded, $n upstream; pod 2's lookups: median $(printf '%s\n' "${ms[@]}" | sort -n | sed -n 10p) ms, max $(printf '%s\n' "${ms[@]}" | sort -n | tail -n 1) ms"
}

# The nftables backend captures DNS the same way (its counter moves);
# the tables are those of the golden text with DNS (t_nftables.sh).
t_nftables_capture() {
	dns_node 2
	expect "enrolled, nftables" "$CNI" --redirect --redirect-backend nftables "$SOCK" "$(pod_ns 1)"
	expect "enrolled 2" "$CNI" "$SOCK" "$(pod_ns 2)"
	expect "answered" test "$(dig_in 1 +short @"$(pod_ip "$UP")" "$(fqdn 2)")" = "$(pod_ip 2)"
	expect "forwarded" test "$(dig_in 1 +tcp +short @"$(pod_ip "$UP")" nft.example.test)" = 192.0.2.7
	expect "the UDP redirect to 15053 counted" in_pod 1 sh -c \
	    "nft list table inet istio-ambient-nat | grep -q 'udp dport 53 counter packets [1-9][0-9]* bytes [0-9]* redirect to :15053'"
	expect "the TCP one too" in_pod 1 sh -c \
	    "nft list table inet istio-ambient-nat | grep -q 'tcp dport 53 .*counter packets [1-9][0-9]* bytes [0-9]* redirect to :15053'"
	expect "conntrack zone 1 for ours" in_pod 1 sh -c \
	    "nft list table inet istio-ambient-raw | grep -q 'udp dport 53 .*counter packets [1-9][0-9]* bytes [0-9]* ct zone set 1'"
	expect "whole by --verify" "$CNI" --verify "$(pod_ns 1)"
}

# Without DNS capture the pod's DNS is left alone (no 15053 rule, no raw
# chains), and --no-dns binds no 15053: nothing answers there.
t_off() {
	dns_node 1 --no-dns
	expect "enrolled without capture" "$CNI" --redirect --no-dns-capture "$SOCK" "$(pod_ns 1)"
	expect "no 15053 rule" test "$(in_pod 1 iptables-save | grep -c 15053)" -eq 0
	expect "no raw chain of ours" test "$(in_pod 1 iptables-save -t raw | grep -c ISTIO)" -eq 0
	expect "the upstream answers the pod itself" test "$(dig_in 1 +short @"$(pod_ip "$UP")" off.example.test)" = 192.0.2.7
	expect "nothing on 15053" test "$(in_pod 1 ss -Hluntp 'sport = :15053' | wc -l)" -eq 0
	expect "whole by --verify --no-dns-capture" "$CNI" --verify --no-dns-capture "$(pod_ns 1)"
	expect_not "not whole as a DNS-capture pod" "$CNI" --verify "$(pod_ns 1)"
	expect "--dns without --proxy: a usage error" sh -c \
	    "'$ZT' --dns '$WORK/none.sock' 2>&1; test \$? -eq 1"
}

run_tests t_pod_names_answered_here t_unknown_names_forwarded_from_the_pod \
    t_truncated_answer_retried_over_tcp t_silent_upstream_servfail \
    t_unknown_source_servfail t_hostile_catalogue t_flood_other_pod_answered \
    t_nftables_capture t_off
