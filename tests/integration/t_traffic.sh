#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pod traffic through the listeners: a node namespace with a bridge and
# pods on veths (scripts/topology.sh), istio-cni's in-pod rules put in by
# cni-emulator --redirect, and ztunnel-emulator --proxy in the node
# namespace carrying what they capture: 15001 out of A, 15006 into B.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

# Pod I's rules of ours, either backend's: a count.
ours_in() {
	{ in_pod "$1" iptables-save; in_pod "$1" nft list tables; } | grep -c 'ISTIO\|istio-ambient'
}

# The rules and routes of pod I, as a text to compare (the empty nat and
# mangle tables iptables-nft leaves behind aside: no rule in them).
netstate() {
	local t
	in_pod "$1" iptables-save | grep -E '^(-A|:[A-Z_]+ -)'
	in_pod "$1" ip6tables-save | grep -E '^(-A|:[A-Z_]+ -)'
	# nft's tables, but iptables-nft's and ip6tables-nft's own (family
	# ip and ip6), which they leave behind empty: ours, and the pod's own.
	in_pod "$1" nft list tables | grep -v -e '^table ip ' -e '^table ip6 '
	for t in nat mangle raw; do
		in_pod "$1" nft list table inet "istio-ambient-$t" 2>/dev/null |
		    sed 's/packets [0-9]* bytes [0-9]*//'
	done
	in_pod "$1" ip rule show
	in_pod "$1" ip -6 rule show
	# Not the link-local and multicast routes IPv6 adds on its own
	# clock, whenever the veth's address comes up.
	in_pod "$1" ip route show table all | grep -v -e 'fe80::' -e 'ff00::'
	in_pod "$1" ip -6 route show table 100 2>/dev/null
}

# Established connections to the app of pod I, as its kernel sees them.
app_conns() {
	in_pod "$1" ss -Htn state established "( sport = :$APP_PORT )" | wc -l
}
# app_conns_are I N: for wait_for, which must ask again each time.
app_conns_are() { [ "$(app_conns "$1")" -eq "$2" ]; }

# Bytes the app in pod I has received on its connection to pod J's app,
# as the kernel counts them (ss -ti).
app_received() {
	in_pod "$1" ss -Htin state established dst "$(pod_ip "$2")" dport = :"$APP_PORT" |
	    grep -o 'bytes_received:[0-9]*' | head -n 1 | cut -d: -f2
}
app_received_grew() { [ "$(app_received "$1" "$2")" -gt "$3" ]; }

lowest_free_fd() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n |
	    awk 'BEGIN { want = 0 } $1 == want { want++ } END { print want }'
}

t_a_to_b_through_both_hops() {
	node_up 2
	start_node_daemon
	enrol 1 2
	app 2
	expect "B's app sees A's own address" test "$(client 1 peer 2)" = "$(pod_ip 1)"
	expect "out through A's 15001" test "$(conns_of 1)" = 0/1
	expect "in through B's 15008" test "$(conns_of 2)" = 0/1
	# Both are mesh pods: A's ztunnel carries it to B's 15008 (HBONE).
	expect "logged out of A" file_has "$WORK/zt.err" \
	    "connection complete.src.addr=$(pod_ip 1):[0-9]* src.workload=\"$(pod_ns 1)\" src.namespace=\"default\" dst.addr=$(pod_ip 2):15008 dst.hbone_addr=$(pod_ip 2):$APP_PORT .*direction=\"outbound\" bytes_sent=5 bytes_recv=12 duration=\"[0-9]*ms\"$"
	expect "logged into B" file_has "$WORK/zt.err" \
	    "connection complete.src.addr=$(pod_ip 1):[0-9]* .*dst.addr=$(pod_ip 2):$APP_PORT dst.hbone_addr=$(pod_ip 2):$APP_PORT dst.workload=\"$(pod_ns 2)\" dst.namespace=\"default\" direction=\"inbound\" bytes_sent=5 bytes_recv=12 "
	# The daemon's own connection from A is marked: not captured again.
	expect "never recaptured" test "$(conns_of 1)" = 0/1
}

t_bulk_64mib_each_way() {
	node_up 2
	start_node_daemon
	enrol 1 2
	app 2
	expect "64 MiB each way, byte-identical" client 1 bulk 2 64
	expect "counted" "$CNI" --list "$SOCK"
	expect "bytes seen by A's session, in" test "$(pod_json "$(pod_ns 1)" '["bytes"]["in"]')" = 67108869
	expect "and out" test "$(pod_json "$(pod_ns 1)" '["bytes"]["out"]')" = 67108864
	expect "and with units in the table" \
	    sh -c "'$CNI' --list '$SOCK' | grep -q '^$(pod_ns 1) .* 64.0M/64.0M '"
}

t_half_close() {
	node_up 2
	start_node_daemon
	enrol 1 2
	app 2
	expect "the echo comes after our FIN" client 1 halfclose 2
}

t_closed_port_ends_connection() {
	node_up 2
	start_node_daemon
	enrol 1 2
	# Nothing listens on B:8080: A's connection is accepted by A's
	# 15001 and must end, not hang.
	local out
	out=$(client 1 closed 2)
	expect "ended cleanly ($out)" test "${out%% *}" = eof
	expect "said so" wait_for 5 file_has "$WORK/zt.err" "upstream refused"
}

t_passthrough_to_pod_not_in_mesh() {
	node_up 3
	start_node_daemon
	enrol 1
	app 3
	expect "C's app sees A's address" test "$(client 1 peer 3)" = "$(pod_ip 1)"
	expect "out through A's 15001" test "$(conns_of 1)" = 0/1
}

t_1000_concurrent() {
	node_up 2
	start_node_daemon
	enrol 1 2
	app 2
	expect "1000 at once, all echoed" client 1 many 2 1000
	expect "all ended" wait_for 20 sh -c "test \"\$('$CNI' --list '$SOCK' | awk '\$1 == \"$(pod_ns 1)\" { print \$3 }')\" = 0/1000"
}

t_pod_removed_mid_transfer() {
	node_up 4
	start_node_daemon
	enrol 1 2 3 4
	app 2
	app 4
	stream 1 2 "$WORK/s12"
	stream 3 4 "$WORK/s34"
	expect "streaming" wait_for 10 file_has "$WORK/s12" streaming
	expect "streaming" wait_for 10 file_has "$WORK/s34" streaming
	expect "both open" wait_for 10 sh -c "test \"\$('$CNI' --list '$SOCK' | grep -c ' 1/1 ')\" -eq 4"
	expect "B removed" "$CNI" --del "$SOCK" "$(pod_ns 2)"
	expect "A's stream to B ended" wait_for 10 file_has "$WORK/s12" "ended after"
	expect "logged" file_has "$WORK/zt.err" "connection complete.*dst.workload=\"$(pod_ns 2)\" .*direction=\"inbound\" .* error=\".*pod removed.*\"$"
	expect_not "C's stream to D goes on" file_has "$WORK/s34" "ended after"
	expect "still open" test "$(conns_of 3)" = 1/1
}

# conns_are NETNS OPEN/TOTAL: the pod's connection counts in --list.
conns_are() {
	[ "$("$CNI" --list "$SOCK" | awk -v ns="$1" '$1 == ns { print $3 }')" = "$2" ]
}

t_10000_sequential_back_to_baseline() {
	local n=10000 fds rss rss2
	[ "${VALGRIND:-}" = 1 ] && n=2000	# memcheck is slow; leaks it finds itself
	node_up 2
	start_node_daemon
	enrol 1 2
	app 2
	expect "warm-up" client 1 seq 2 100
	expect "warm-up ended" wait_for 20 conns_are "$(pod_ns 1)" 0/100
	fds=$(fd_count_quiet "$ZPID")
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$ZPID/status")
	expect "$n one after the other" client 1 seq 2 "$n"
	expect "all ended" wait_for 20 conns_are "$(pod_ns 1)" 0/$((n + 100))
	expect "descriptors at baseline" fds_settle_at "$ZPID" "$fds"
	rss2=$(awk '/^VmRSS/ { print $2 }' "/proc/$ZPID/status")
	# memcheck and AddressSanitizer hold freed blocks back on purpose
	# (and find leaks themselves): their RSS says nothing about ours.
	[ "${VALGRIND:-}" = 1 ] || [ "${SANITIZE:-}" = 1 ] && return 0
	expect "memory at baseline ($rss -> $rss2 KiB)" test "$rss2" -le $((rss + 256))
}

t_removal_leaves_rules_as_before() {
	node_up 1
	local ns
	ns=$(pod_ns 1)
	# Something of the pod's own, which must survive us.
	in_pod 1 iptables -t nat -A OUTPUT -p udp --dport 9 -j ACCEPT || exit 1
	in_pod 1 ip rule add fwmark 0x7 lookup 7 pref 1000 || exit 1
	netstate 1 >"$WORK/before"
	start_node_daemon
	enrol 1
	netstate 1 >"$WORK/during"
	expect "rules installed ($BACKEND)" grep -qi "REDIRECT \(--\)\?to.*15001" "$WORK/during"
	expect "fwmark rule" grep -q "fwmark 0x111/0xfff lookup 100" "$WORK/during"
	expect "local route" grep -q "local default dev lo table 100" "$WORK/during"
	expect "again: idempotent" "$CNI" --redirect "$SOCK" "$ns"
	netstate 1 >"$WORK/again"
	expect "nothing doubled" cmp -s "$WORK/during" "$WORK/again"
	expect "removed" "$CNI" --del --redirect "$SOCK" "$ns"
	netstate 1 >"$WORK/after"
	if ! cmp -s "$WORK/before" "$WORK/after"; then
		diff "$WORK/before" "$WORK/after" >&2
	fi
	expect "exactly as before" cmp -s "$WORK/before" "$WORK/after"
	"$CNI" --del --redirect "$SOCK" "$ns" 2>"$WORK/err"
	expect "again: nothing of ours left to remove, no such pod (exit 3)" test $? -eq 3
	netstate 1 >"$WORK/after2"
	expect "still as before" cmp -s "$WORK/before" "$WORK/after2"
}

# A pod with a firewall of its own (400 filter rules, iptables-save's
# output far past 16 KiB): the same exactness, and the pod can still
# reach its neighbour once we are gone.
t_big_firewall_rules_exact() {
	node_up 2
	local ns i
	ns=$(pod_ns 1)
	{
		echo "*filter"
		for i in $(seq 1 400); do
			echo "-A INPUT -s 10.99.$((i / 250)).$((i % 250))/32 -p tcp --dport $((1000 + i)) -j ACCEPT"
		done
		echo COMMIT
	} | in_pod 1 iptables-restore --noflush || exit 1
	netstate 1 >"$WORK/before"
	start_node_daemon
	app 2
	enrol 1
	expect "enrolled twice" "$CNI" --redirect "$SOCK" "$ns"
	if [ "$BACKEND" = nftables ]; then
		expect "our three tables, once" \
		    test "$(in_pod 1 nft list tables | grep -c 'inet istio-ambient-')" -eq 3
	else
		expect "one jump of each, not two" \
		    test "$(in_pod 1 iptables-save -t nat | grep -c -- '-j ISTIO_')" -eq 2
	fi
	expect "removed" "$CNI" --del --redirect "$SOCK" "$ns"
	netstate 1 >"$WORK/after"
	expect "exactly as before (nat rules too)" cmp -s "$WORK/before" "$WORK/after"
	stop_daemon
	expect "the pod reaches its neighbour without us" \
	    test "$(client 1 peer 2)" = "$(pod_ip 1)"
}

# Removing a pod with its rules: the daemon lets it go first (closing
# its connections while the rules still carry their last packets), then
# the rules come out.  Both the plain connection into it (pod 3, outside
# the mesh) and the HBONE one (pod 1) end, at both ends: nothing is left
# ESTABLISHED at the app.
t_del_redirect_ends_connections() {
	node_up 3
	start_node_daemon
	enrol 1 2
	app 2
	stream 3 2 "$WORK/plain"
	stream 1 2 "$WORK/hbone"
	expect "both streaming" wait_for 10 sh -c "grep -q streaming '$WORK/plain' && grep -q streaming '$WORK/hbone'"
	expect "two open at the app" wait_for 30 app_conns_are 2 2
	expect "pod 2 removed, with its rules" "$CNI" --del --redirect "$SOCK" "$(pod_ns 2)"
	expect "the plain client saw the end" wait_for 20 file_has "$WORK/plain" "ended after"
	expect "the HBONE client saw the end" wait_for 20 file_has "$WORK/hbone" "ended after"
	expect "nothing left established at the app" wait_for 20 app_conns_are 2 0
	expect "the rules are gone" test "$(ours_in 2)" -eq 0
}

# --redirect against a daemon without --proxy would send every
# connection the pod makes to the seed's "ok" listeners: refused, before
# anything is installed.
t_redirect_needs_proxy() {
	node_up 1
	netstate 1 >"$WORK/before"
	nsenter "--net=/var/run/netns/$NODE" "${RUN_DAEMON[@]}" "$ZT" "$SOCK" \
	    >"$WORK/zt.out" 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "daemon starts" wait_for "$START_SECONDS" node_daemon_up
	"$CNI" --redirect "$SOCK" "$(pod_ns 1)" 2>"$WORK/cni.err"
	expect "refused: exit 3" test $? -eq 3
	expect "saying why" file_has "$WORK/cni.err" "runs without --proxy"
	netstate 1 >"$WORK/after"
	expect "nothing installed" cmp -s "$WORK/before" "$WORK/after"
	expect "nothing handed over" test "$("$CNI" --list "$SOCK" | wc -l)" -eq 1
}

t_no_iptables_nothing_installed() {
	node_up 1
	local ns
	ns=$(pod_ns 1)
	netstate 1 >"$WORK/before"
	start_node_daemon
	PATH=/nonexistent "$CNI" --redirect "$SOCK" "$ns" 2>"$WORK/err"
	expect "exit 2" test $? -eq 2
	expect "one clear line" test "$(wc -l <"$WORK/err")" -eq 1
	# The first tool each backend runs that PATH lacks: iptables-save,
	# or (nftables needs no iptables) ip.
	expect "says what to install" file_has "$WORK/err" \
	    "not found (apt-get install $([ "$BACKEND" = nftables ] && echo iproute2 || echo iptables))"
	netstate 1 >"$WORK/after"
	expect "nothing installed" cmp -s "$WORK/before" "$WORK/after"
	expect "nor handed over" test "$("$CNI" --list "$SOCK" | wc -l)" -eq 1
}

t_daemon_stopped_fails_closed() {
	node_up 2
	start_node_daemon
	enrol 1 2
	app 2
	expect "works while it runs" test "$(client 1 peer 2)" = "$(pod_ip 1)"
	stop_daemon || exit 1
	ZPID=
	local out
	out=$(client 1 closed 2)
	expect "A cannot reach B around it ($out)" test "${out%% *}" = refused
}

# The node agent does the same for every pod it announces.
t_zds_agent_redirects() {
	node_up 2
	local p1 p2
	p1=$(pod_ns 1)
	p2=$(pod_ns 2)
	"${RUN_DAEMON[@]}" "$CNI" --zds-serve "$ZSOCK" --redirect --watch \
	    "--select=$P-pod*" >"$WORK/agent.out" 2>"$WORK/agent.err" &
	APID=$!
	PIDS+=("$APID")
	expect "agent starts" wait_for "$START_SECONDS" agent_listening
	start_node_daemon --zds "$ZSOCK"
	expect "rules in A" wait_for 20 file_has "$WORK/agent.err" "$p1: in-pod rules installed"
	expect "rules in B" wait_for 20 file_has "$WORK/agent.err" "$p2: in-pod rules installed"
	expect "both up" wait_for 20 sh -c "test \"\$('$CNI' --list '$SOCK' | grep -c ' up ')\" -eq 2"
	app 2
	expect "A to B through both" test "$(client 1 peer 2)" = "$(pod_ip 1)"
	# The pod's name goes while a process keeps its namespace: its
	# rules go with the name.
	bg nsenter "--net=/var/run/netns/$p1" sleep 60
	local holder=$BGPID
	expect "holder inside" wait_for 5 sh -c "test \"\$(stat -L -c %i /proc/$holder/ns/net)\" = \"\$(stat -L -c %i /var/run/netns/$p1)\""
	ip netns del "$p1" || exit 1
	expect "rules out of A" wait_for 20 sh -c "! { nsenter -t $holder -n iptables-save; nsenter -t $holder -n nft list tables; } | grep -q 'ISTIO\\|istio-ambient'"
	expect "no Del error" test "$(grep -c "removing in-pod rules" "$WORK/agent.err")" -eq 0
}

# The agent's way out of the mesh is in the same order: the Del to
# ztunnel (acknowledged), then the rules.  Pod 2's name goes while its
# app keeps the namespace; its connections end at both ends.
t_zds_del_ends_connections() {
	node_up 3
	local p2 apppid
	p2=$(pod_ns 2)
	"${RUN_DAEMON[@]}" "$CNI" --zds-serve "$ZSOCK" --redirect --watch \
	    "--select=$P-pod[12]" >"$WORK/agent.out" 2>"$WORK/agent.err" &
	APID=$!
	PIDS+=("$APID")
	expect "agent starts" wait_for "$START_SECONDS" agent_listening
	start_node_daemon --zds "$ZSOCK"
	expect "both up" wait_for 20 sh -c "test \"\$('$CNI' --list '$SOCK' | grep -c ' up ')\" -eq 2"
	app 2
	apppid=${PIDS[-1]}
	stream 3 2 "$WORK/plain"
	stream 1 2 "$WORK/hbone"
	expect "both streaming" wait_for 10 sh -c "grep -q streaming '$WORK/plain' && grep -q streaming '$WORK/hbone'"
	expect "two open at the app" wait_for 30 app_conns_are 2 2
	ip netns del "$p2" || exit 1
	expect "the plain client saw the end" wait_for 20 file_has "$WORK/plain" "ended after"
	expect "the HBONE client saw the end" wait_for 20 file_has "$WORK/hbone" "ended after"
	expect "nothing left established at the app" wait_for 20 \
	    test "$(nsenter -t "$apppid" -n ss -Htn state established "( sport = :$APP_PORT )" | wc -l)" -eq 0
	expect "then the rules went" wait_for 20 sh -c "! { nsenter -t $apppid -n iptables-save; nsenter -t $apppid -n nft list tables; } | grep -q 'ISTIO\\|istio-ambient'"
	# The log line comes once the last ip command is done.
	expect "said so" wait_for 20 file_has "$WORK/agent.err" "$p2: in-pod rules removed"
	expect "in that order" awk '/del .*'"$p2"'.*: ok/ { d = NR } /'"$p2"': in-pod rules removed/ { r = NR } END { exit !(d && r && d < r) }' "$WORK/agent.err"
}

# Inbound, ztunnel's own ports are never a destination; 15008 (HBONE)
# is not redirected, and speaks only HTTP/2: plain TCP is refused at the
# preface.
t_own_ports_refused() {
	node_up 3
	start_node_daemon
	enrol 2
	local out b
	b=$(pod_ip 2)
	out=$(in_pod 3 timeout 60 python3 "$TRAFFIC" closed "$b" 15001)
	expect "B:15001 from outside: ended ($out)" test "${out%% *}" = eof
	expect "said why" wait_for 5 file_has "$WORK/zt.err" "destination is one of ztunnel's own ports"
	out=$(in_pod 3 timeout 60 python3 "$TRAFFIC" closed "$b" 15008)
	expect "B:15008: answered with SETTINGS, then closed ($out)" \
	    test "${out%% *}" = data
	expect "said why" wait_for 5 file_has "$WORK/zt.err" "connection error 1: bad preface"
}

# Out of descriptors: new connections are turned away, flowing ones go on.
t_out_of_fds_flows_go_on() {
	node_up 2
	start_node_daemon
	enrol 1 2
	app 2
	stream 1 2 "$WORK/s12"
	expect "streaming" wait_for 10 file_has "$WORK/s12" streaming
	expect "open in A" wait_for 10 test_conns 1 1/1
	expect "open in B" wait_for 10 test_conns 2 1/1
	# No room for another session: not even the accept on 15001 (a
	# session over the pooled HBONE connection needs only 2).  A new
	# descriptor takes the lowest free number, and must be below the
	# limit: the lowest free number is the limit that allows none.
	# (Not the count: valgrind's own descriptors sit near 20000.)
	prlimit --pid "$ZPID" --nofile="$(lowest_free_fd "$ZPID"):" || exit 1
	local out
	out=$(client 1 closed 2)
	# Turned away at accept: with a FIN, or a reset if its bytes came
	# after the close; never left hanging.
	expect "a new one is turned away ($out)" test "${out%% *}" = eof -o "${out%% *}" = reset
	# The daemon cannot take a --list now either: ask the kernel what
	# the streaming app has received.
	local b1
	b1=$(app_received 1 2)
	expect "the stream still moving ($b1 bytes)" wait_for 10 app_received_grew 1 2 "$b1"
	prlimit --pid "$ZPID" --nofile=20000: || exit 1
	expect "the stream still open" test "$(conns_of 1 | cut -d/ -f1)" -eq 1
	expect "new ones work again" test "$(client 1 peer 2)" = "$(pod_ip 1)"
	expect_not "the stream never ended" file_has "$WORK/s12" "ended after"
}

run_tests t_a_to_b_through_both_hops t_bulk_64mib_each_way t_half_close \
    t_closed_port_ends_connection t_passthrough_to_pod_not_in_mesh \
    t_1000_concurrent t_pod_removed_mid_transfer \
    t_10000_sequential_back_to_baseline t_removal_leaves_rules_as_before \
    t_big_firewall_rules_exact t_del_redirect_ends_connections \
    t_redirect_needs_proxy \
    t_no_iptables_nothing_installed t_daemon_stopped_fails_closed \
    t_zds_agent_redirects t_zds_del_ends_connections t_own_ports_refused \
    t_out_of_fds_flows_go_on
