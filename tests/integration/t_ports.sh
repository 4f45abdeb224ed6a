#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The source ports of the daemon's connections to an app, from its
# client's address, never meet a client's own: they take 16384-32767,
# and clients keep their ip_local_port_range (32768-60999) to themselves.
# Before, the connection to the app bound (client, port 0), which gave
# odd ports of that range, and a client whose even ports were all in
# TIME_WAIT went on to odd ones: its SYN then met one of ours in the
# destination's conntrack, and waited out its retries (a 64 s open).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

# The kernel's count of SYNs pod I sent again (a count, not a clock),
# from the pod's own /proc/net/netstat: nstat would read a running nstat
# daemon's figures (the host's) instead, and keeps a history file.
syn_retrans() {
	# shellcheck disable=SC2016  # awk's own $fields
	in_pod "$1" awk '$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
	    $1 == "TcpExt:" { print $col["TCPSynRetrans"] }' /proc/net/netstat
}

starts_with() { [[ "$1" == "$2"* ]]; }

# ports_in I FILTER LO HI: the local ports of pod I's TCP sockets that
# FILTER (ss's) selects, each within LO-HI; and at least one.
ports_in() {
	local ports
	ports=$(in_pod "$1" ss -Htan "$2" | awk '{ n = split($4, a, ":"); print a[n] }')
	[ -n "$ports" ] && echo "$ports" | awk -v lo="$3" -v hi="$4" \
	    '$1 < lo || $1 > hi { bad = 1 } END { exit bad }'
}

# enrol_apart I: pod I on a second daemon of the node, which the first
# does not know: connections from the first's pods leave plain through
# their 15001 and come in through pod I's 15006, as between two daemons
# that share no mesh (bench-traffic's "plaintext").
enrol_apart() {
	nsenter "--net=/var/run/netns/$NODE" "${RUN_DAEMON[@]}" "$ZT" -v \
	    --proxy "$WORK/zt2.sock" >"$WORK/zt2.out" 2>"$WORK/zt2.err" &
	PIDS+=($!)
	expect "the second daemon starts" wait_for "$START_SECONDS" \
	    sh -c "'$CNI' -t 1 --list '$WORK/zt2.sock' >/dev/null 2>&1"
	expect "pod $1 enrolled on it" "$CNI" --redirect "$WORK/zt2.sock" "$(pod_ns "$1")"
}
conns_apart() {
	[ "$("$CNI" --list "$WORK/zt2.sock" | awk -v n="$(pod_ns "$1")" '$1 == n { print $3 }')" = "$2" ]
}

# A node, pods 1 and 2, the daemon, and pod 1's own range cut to 12,233
# ports: its 6,117 even ones fill with TIME_WAIT within 40 s, and it goes
# on to odd ones, as a busy client's does.
sustained_node() {
	node_up 2
	in_pod 1 sh -c 'echo "32768 45000" >/proc/sys/net/ipv4/ip_local_port_range'
	start_node_daemon
}
# 20,000 connections from pod 1 to pod 2's app, 160 a second, each held
# 5 s (800 open at once): every one opens and echoes, and pod 1 sends no
# SYN again (none met a flow of ours).
sustained_run() {
	local n=20000 rate=160 out
	# memcheck serves a few dozen connections a second.
	[ "${VALGRIND:-}" = 1 ] && n=1000 rate=20
	app 2
	out=$(in_pod 1 timeout 900 python3 "$TRAFFIC" sustain "$(pod_ip 2)" \
	    "$APP_PORT" "$n" "$rate" 5000)
	note "$out"
	expect "every one opened and echoed ($out)" starts_with "$out" "sustain $n: 0 failed,"
	expect "no SYN sent again" test "$(syn_retrans 1)" -eq 0
}

# B in the mesh, its clients' connections in through its 15006.
t_sustained_one_destination() {
	sustained_node
	enrol 2
	sustained_run
	expect "ours to the app from 16384-32767" \
	    ports_in 2 "src $(pod_ip 1) and dport = :$APP_PORT" 16384 32767
}

# A enrolled too (B on a daemon apart): A's daemon makes a plain
# connection beside each of the app's, to the same destination.  With
# the kernel's ports the two shared A's range (twice the TIME_WAITs;
# each connect's port search went through them, and 7,768 failed); ours
# come from 1024-14999, and the app's search meets only its own.
t_sustained_source_enrolled() {
	sustained_node
	enrol 1
	enrol_apart 2
	sustained_run
	expect "A's daemon's own from 1024-14999" ports_in 1 \
	    "dst $(pod_ip 2) and dport = :$APP_PORT and sport < :32768" 1024 14999
	expect "the app's from its own range" ports_in 1 \
	    "dst $(pod_ip 2) and dport = :$APP_PORT and sport >= :32768" 32768 45000
}

# Over both families: held connections from A (not in the mesh) to B's
# app come in through B's 15006, and ours to the app take our ports.
t_ours_apart_both_families() {
	node_up 2
	start_node_daemon
	enrol 2
	app 2
	pod_bg 1 "$WORK/hold4.out" python3 "$TRAFFIC" hold "$(pod_ip 2)" "$APP_PORT" 10
	pod_bg 1 "$WORK/hold6.out" python3 "$TRAFFIC" hold "$(pod_ip6 2)" "$APP_PORT" 10
	expect "20 held open through B's 15006" wait_for 20 test_conns 2 20/20
	expect "A's own from its own range" ports_in 1 \
	    "dst $(pod_ip 2) and dport = :$APP_PORT" 32768 60999
	expect "ours to the app, IPv4: 16384-32767" ports_in 2 \
	    "src $(pod_ip 1) and dport = :$APP_PORT" 16384 32767
	expect "ours to the app, IPv6: 16384-32767" ports_in 2 \
	    "src [$(pod_ip6 1)] and dport = :$APP_PORT" 16384 32767
}

# A and B on daemons apart, both families: in A, the daemon's
# connections to B take 1024-14999 beside the app's own range; B sees
# them come from there, and its own to the app take 16384-32767.
t_ours_apart_source_enrolled() {
	node_up 2
	start_node_daemon
	enrol 1
	enrol_apart 2
	app 2
	pod_bg 1 "$WORK/hold4.out" python3 "$TRAFFIC" hold "$(pod_ip 2)" "$APP_PORT" 10
	pod_bg 1 "$WORK/hold6.out" python3 "$TRAFFIC" hold "$(pod_ip6 2)" "$APP_PORT" 10
	expect "20 held open out of A's 15001" wait_for 20 test_conns 1 20/20
	expect "and through B's 15006" wait_for 20 conns_apart 2 20/20
	expect "A's daemon's own, IPv4: 1024-14999" ports_in 1 \
	    "dst $(pod_ip 2) and dport = :$APP_PORT and sport < :32768" 1024 14999
	expect "A's daemon's own, IPv6: 1024-14999" ports_in 1 \
	    "dst [$(pod_ip6 2)] and dport = :$APP_PORT and sport < :32768" 1024 14999
	expect "B's 15006 took all 20 from there" test \
	    "$(in_pod 2 ss -Htan "sport = :15006 and dport >= :1024 and dport <= :14999" | wc -l)" -eq 20
	expect "B's to the app, IPv4: 16384-32767" ports_in 2 \
	    "src $(pod_ip 1) and dport = :$APP_PORT" 16384 32767
	expect "B's to the app, IPv6: 16384-32767" ports_in 2 \
	    "src [$(pod_ip6 1)] and dport = :$APP_PORT" 16384 32767
}

run_tests t_sustained_one_destination t_sustained_source_enrolled \
    t_ours_apart_both_families t_ours_apart_source_enrolled
