#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A node's upgrade: a second ztunnel-emulator starts beside the first,
# then the first gets SIGTERM, with traffic flowing all along.  Istio's
# way: the node agent gives the new one every pod over ZDS, it binds
# beside the old one (SO_REUSEPORT), and the old one stops listening at
# once and drains what it carries.  Beyond Istio: --handover, where the
# old one hands every live socket to the new one.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

# zt_in_node NAME ARGS...: a daemon in the node's namespace, its pid in
# $PID_NAME, its logs in $WORK/NAME.out and NAME.err.  Not run in a
# $(...): the daemon would be that subshell's child, not ours to wait for.
zt_in_node() {
	local name=$1
	shift
	nsenter "--net=/var/run/netns/$NODE" "${RUN_DAEMON[@]}" "$ZT" "$@" \
	    >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	printf -v "PID_$name" %s $!
}
PID_a='' PID_b=''	# zt_in_node's
ready_on() {
	local code
	code=$(nsenter "--net=/var/run/netns/$NODE" curl -s -o /dev/null \
	    -w '%{http_code}' "http://127.0.0.1:$1/healthz/ready")
	[ "$code" = 200 ]
}
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# churned FILE N: N hundred connections done (else the file, for expect).
churned() { [ "$(grep -c '^ok ' "$1")" -ge "$2" ] || { cat "$1"; return 1; }; }
# none_open NAME: the pod NAME (as --list names it) has no connection open.
none_open() {
	[[ "$("$CNI" --list "$SOCK" | awk -v n="$1" '$1 == n { print $3 }')" == 0/* ]]
}
# Pod 1's DNS proxy sockets are held by pid $1, none by $2.
dns_held_by() {
	in_pod 1 ss -Hulnp 'sport = :15053' | grep -q "pid=$1," &&
	    ! in_pod 1 ss -Hulnp 'sport = :15053' | grep -q "pid=$2,"
}

# The inodes of the listening sockets in pods 1 and 4, sorted (not the
# DNS proxy's: each instance binds its own, see ztunnel-emulator(8)).
listener_inodes() {
	local i
	for i in 1 4; do
		in_pod "$i" ss -Htlne 2>/dev/null | awk '$4 !~ /:15053$/' |
		    grep -o 'ino:[0-9]*'
	done | sort | tr '\n' ' '
}
# istio_tcp_connections_opened_total, summed, from the metrics port.
opened_total() {
	nsenter "--net=/var/run/netns/$NODE" curl -s "http://127.0.0.1:$1/metrics" |
	    awk '/^istio_tcp_connections_opened_total/ { n += $NF } END { print n + 0 }'
}

# (b) Istio's way, under load: new connections from pod 1 to pod 3 (a
# plain upstream, outside the mesh) as fast as they go, six long-lived
# echo connections to pod 3 and six to pod 2 (a mesh pod: HBONE), while
# B starts beside A and A gets SIGTERM.  No new connection fails; the
# long ones on A are drained (ended with a FIN at A's deadline), never
# reset, no byte different; A is gone by its deadline; B is ready first.
t_istio_way_under_load() {
	local before
	node_up 3
	app 2
	app 3
	start_agent --redirect "$(pod_ns 1)" "$(pod_ns 2)"
	zt_in_node a -v --proxy --zds "$ZSOCK" --ready 127.0.0.1:15021 --drain-deadline 3
	expect "A ready" wait_for "$START_SECONDS" ready_on 15021
	pod_bg 1 "$WORK/churn.out" python3 "$TRAFFIC" churn "$(pod_ip 3)" "$APP_PORT" "$WORK/stop"
	pod_bg 1 "$WORK/plain.out" python3 "$TRAFFIC" longs "$(pod_ip 3)" "$APP_PORT" 6 "$WORK/stop"
	pod_bg 1 "$WORK/hbone.out" python3 "$TRAFFIC" longs "$(pod_ip 2)" "$APP_PORT" 6 "$WORK/stop"
	expect "churning" wait_for 20 churned "$WORK/churn.out" 2
	expect "plain ones open" wait_for 10 file_has "$WORK/plain.out" "longs open"
	expect "HBONE ones open" wait_for 10 file_has "$WORK/hbone.out" "longs open"
	zt_in_node b -v --proxy --zds "$ZSOCK" --ready 127.0.0.1:15022 --drain-deadline 3
	expect "B ready beside A" wait_for "$START_SECONDS" ready_on 15022
	expect "both listen in pod 1" test \
	    "$(in_pod 1 ss -Htlnp "( sport = :15001 )" | grep -oF "pid=" | wc -l)" -eq 2
	expect "A still serving" alive "$PID_a"
	kill -TERM "$PID_a"
	expect "A stopped listening at once" wait_for 5 file_has "$WORK/a.err" "draining: 2 pods' listeners closed"
	expect "A gone by its deadline (3 s)" wait_for 6 gone "$PID_a"
	expect "only B listens in pod 1" test \
	    "$(in_pod 1 ss -Htlnp "( sport = :15001 )" | grep -oF "pid=" | wc -l)" -eq 1
	expect "A drained, then closed what was left" file_has "$WORK/a.err" "drained in "
	before=$(grep -c '^ok ' "$WORK/churn.out")
	expect "new connections go on through B" wait_for 20 churned "$WORK/churn.out" $((before + 2))
	touch "$WORK/stop"
	expect "churn ends" wait_for 60 file_has "$WORK/churn.out" "^churn "
	expect "no new connection failed" file_has "$WORK/churn.out" "^churn [0-9]* ok 0 failed$"
	expect "plain: done" wait_for 60 file_has "$WORK/plain.out" "^longs 6:"
	expect "plain: none reset, no byte different" \
	    file_has "$WORK/plain.out" "^longs 6: .* 0 reset, 0 different"
	expect "HBONE: done" wait_for 60 file_has "$WORK/hbone.out" "^longs 6:"
	expect "HBONE: none reset, no byte different" \
	    file_has "$WORK/hbone.out" "^longs 6: .* 0 reset, 0 different"
	expect "pod 1's tcp_migrate_req put back" test \
	    "$(in_pod 1 cat /proc/sys/net/ipv4/tcp_migrate_req)" = 0
	expect "B still up" alive "$PID_b"
	note "$(sed -n 's/^churn \([0-9]*\) ok.*/\1 new/p' "$WORK/churn.out");" \
	    "plain $(sed -n 's/^longs 6: \([0-9]*\) intact, \([0-9]*\) ended.*/\1 kept, \2 drained/p' "$WORK/plain.out");" \
	    "HBONE $(sed -n 's/^longs 6: \([0-9]*\) intact, \([0-9]*\) ended.*/\1 kept, \2 drained/p' "$WORK/hbone.out")"
}

# (a) Beyond Istio, under load: B takes every live socket from A over
# --handover.  The same listening sockets serve on (no moment without a
# listener: their inodes do not change), the plain connections move with
# the bytes in flight (all intact, none ended), the HBONE ones drain on A
# (ended cleanly, never reset), no new connection fails, A exits, and B
# answers on the control socket, the readiness port and /metrics it was
# handed, with A's counters carried over.
t_handover_under_load() {
	local before opened_a opened_b ino_before ino_after
	rm -f "$WORK/stop"	# an earlier test's, which would end ours at once
	node_up 4
	app 2
	app 3
	start_agent --redirect "$(pod_ns 1)" "$(pod_ns 2)"
	zt_in_node a -v --proxy --zds "$ZSOCK" --ready 127.0.0.1:15021 \
	    --metrics 127.0.0.1:15020 --handover "$WORK/ho.sock" \
	    --drain-deadline 3 "$SOCK"
	expect "A ready" wait_for "$START_SECONDS" ready_on 15021
	enrol 4
	pod_bg 1 "$WORK/churn.out" python3 "$TRAFFIC" churn "$(pod_ip 3)" "$APP_PORT" "$WORK/stop"
	pod_bg 1 "$WORK/plain.out" python3 "$TRAFFIC" longs "$(pod_ip 3)" "$APP_PORT" 6 "$WORK/stop"
	pod_bg 1 "$WORK/hbone.out" python3 "$TRAFFIC" longs "$(pod_ip 2)" "$APP_PORT" 6 "$WORK/stop"
	pod_bg 4 "$WORK/plain4.out" python3 "$TRAFFIC" longs "$(pod_ip 3)" "$APP_PORT" 2 "$WORK/stop"
	expect "churning" wait_for 20 churned "$WORK/churn.out" 2
	expect "plain ones open" wait_for 10 file_has "$WORK/plain.out" "longs open"
	expect "HBONE ones open" wait_for 10 file_has "$WORK/hbone.out" "longs open"
	expect "pod 4's open" wait_for 10 file_has "$WORK/plain4.out" "longs open"
	ino_before=$(listener_inodes)
	opened_a=$(opened_total 15020)
	zt_in_node b -v --proxy --zds "$ZSOCK" --ready 127.0.0.1:15021 \
	    --metrics 127.0.0.1:15020 --handover "$WORK/ho.sock" \
	    --drain-deadline 3 "$SOCK"
	expect "B took the pods" wait_for "$START_SECONDS" file_has "$WORK/b.err" "took 3 pods with their listeners"
	expect "B took the connections" wait_for 20 file_has "$WORK/b.err" "took [0-9]* connections from pid $PID_a"
	expect "A gone by its deadline" wait_for 10 gone "$PID_a"
	expect "B still up" alive "$PID_b"
	ino_after=$(listener_inodes)
	expect "the same listening sockets ($ino_before)" test "$ino_before" = "$ino_after"
	expect "only B's in pod 1" test \
	    "$(in_pod 1 ss -Htlnp "( sport = :15001 )" | grep -c "pid=$PID_b,")" -eq 1
	expect "pod 1's 15053 is B's alone" dns_held_by "$PID_b" "$PID_a"
	expect "and answers" test "$(in_pod 1 dig +time=10 +tries=1 +short @127.0.0.1 \
	    -p 15053 "$(pod_ns 4).default.svc.cluster.local")" = "$(pod_ip 4)"
	expect "B ready on the port it was handed" ready_on 15021
	opened_b=$(opened_total 15020)
	expect "A's counters carried ($opened_a, now $opened_b)" test "$opened_b" -ge "$opened_a"
	expect "the control socket is B's" test "$("$CNI" --list "$SOCK" | grep -c ' up ')" -eq 3
	before=$(grep -c '^ok ' "$WORK/churn.out")
	expect "new connections go on through B" wait_for 20 churned "$WORK/churn.out" $((before + 2))
	touch "$WORK/stop"
	expect "churn ends" wait_for 60 file_has "$WORK/churn.out" "^churn "
	expect "no new connection failed" file_has "$WORK/churn.out" "^churn [0-9]* ok 0 failed$"
	expect "plain: done" wait_for 60 file_has "$WORK/plain.out" "^longs 6:"
	expect "plain: all moved, intact" \
	    file_has "$WORK/plain.out" "^longs 6: 6 intact, 0 ended early, 0 reset, 0 different"
	expect "pod 4's: done" wait_for 60 file_has "$WORK/plain4.out" "^longs 2:"
	expect "pod 4's (control socket): all moved, intact" \
	    file_has "$WORK/plain4.out" "^longs 2: 2 intact, 0 ended early, 0 reset, 0 different"
	expect "HBONE: done" wait_for 60 file_has "$WORK/hbone.out" "^longs 6:"
	expect "HBONE: drained on A, none reset, no byte different" \
	    file_has "$WORK/hbone.out" "^longs 6: .* 0 reset, 0 different"
	expect "B has pod 1's connections back to none" wait_for 20 none_open "default/$(pod_ns 1)"
	note "$(sed -n 's/^churn \([0-9]*\) ok.*/\1 new/p' "$WORK/churn.out");" \
	    "$(sed -n 's/.*took \([0-9]*\) connections.*/\1 handed over/p' "$WORK/b.err")"
}

# (e) The handover socket is a way to every socket of the node: a
# stranger that reaches it (mode opened up on purpose) is refused and
# gets nothing; a successor in the other mode is refused too, and exits 2;
# so does one that fails halfway, after it was handed the listening
# sockets; A serves on throughout, with nothing half-moved.
t_handover_refuses_strangers() {
	node_up 1
	zt_in_node a --proxy --handover "$WORK/ho.sock" "$SOCK"
	expect "A up" wait_for "$START_SECONDS" node_daemon_up
	expect "its handover socket" wait_for "$START_SECONDS" test -S "$WORK/ho.sock"
	enrol 1
	chmod 711 "$WORK"
	chmod 666 "$WORK/ho.sock"
	setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.settimeout(10)
# Refused at once: our hello may find the socket closed already.
try:
    s.send(b"hello v=1 pid=1 mode=proxy")
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(4))
except (BrokenPipeError, ConnectionResetError):
    msg, anc = b"", []
print("got %r with %d descriptors" % (msg, len(anc)))
' "$WORK/ho.sock" >"$WORK/stranger.out" 2>&1
	chmod 700 "$WORK"
	expect "the stranger got nothing" file_has "$WORK/stranger.out" "^got b'' with 0 descriptors"
	expect "A said so" wait_for 10 file_has "$WORK/a.err" "refused a handover to pid [0-9]*: uid 65534 is neither root nor ours"
	nsenter "--net=/var/run/netns/$NODE" "$ZT" --handover "$WORK/ho.sock" \
	    "$WORK/other.sock" 2>"$WORK/other.err"
	expect "the other mode: exit 2 ($?)" test $? -eq 2
	expect "it said why" file_has "$WORK/other.err" "the running instance refused: mode"
	expect "it bound nothing" test ! -e "$WORK/other.sock"
	# Refused halfway: B has A's listening sockets, then cannot bind a
	# surface of its own (the port is taken): it gives up, and A, which
	# let go of nothing, serves on.
	nsenter "--net=/var/run/netns/$NODE" python3 -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 15099))
s.listen()
print("held", flush=True)
time.sleep(120)
' >"$WORK/held.out" 2>&1 &
	PIDS+=($!)
	expect "a port taken" wait_for 10 file_has "$WORK/held.out" held
	nsenter "--net=/var/run/netns/$NODE" "$ZT" --proxy --ready 127.0.0.1:15099 \
	    --handover "$WORK/ho.sock" "$SOCK" 2>"$WORK/half.err"
	expect "halfway: exit 2 ($?)" test $? -eq 2
	expect "it said why" file_has "$WORK/half.err" "--ready 127.0.0.1:15099: Address already in use"
	expect "A: nothing handed over" wait_for 10 file_has "$WORK/a.err" "nothing handed over, serving on"
	expect "A serves on" alive "$PID_a"
	expect "its pod still up" test "$("$CNI" --list "$SOCK" | grep -c ' up ')" -eq 1
	expect "its listeners A's" test \
	    "$(in_pod 1 ss -Htlnp "( sport = :15001 )" | grep -c "pid=$PID_a,")" -eq 1
	zt_in_node b --proxy --handover "$WORK/ho.sock" "$SOCK"
	expect "and the next one takes over all the same" \
	    wait_for "$START_SECONDS" file_has "$WORK/b.err" "took 1 pods"
}

# (a, b) HBONE across two nodes, both ways: node 1's daemon is replaced
# while pod A there streams to pod B on node 2 over HBONE and makes new
# connections to it as fast as they go.  No new connection fails; the
# long-lived tunnels end cleanly (a FIN at the old one's deadline, its
# HTTP/2 connections drained with GOAWAY), none reset, no byte different;
# node 2's daemon serves on.
two_nodes_upgrade() {
	local way=$1 b before
	rm -f "$WORK/stop"
	two_nodes
	b=$B
	start_agent --redirect "$P-n1pod1"
	zt_in_node a -v --proxy --zds "$ZSOCK" --peers "$WORK/peers1" \
	    --ready 127.0.0.1:15021 --handover "$WORK/ho.sock" --drain-deadline 3
	expect "A ready" wait_for "$START_SECONDS" ready_on 15021
	node2_up
	nsenter "--net=/var/run/netns/$P-n1pod1" python3 "$TRAFFIC" churn "$b" "$APP_PORT" "$WORK/stop" >"$WORK/churn.out" 2>&1 &
	PIDS+=($!)
	nsenter "--net=/var/run/netns/$P-n1pod1" python3 "$TRAFFIC" longs "$b" "$APP_PORT" 6 "$WORK/stop" >"$WORK/hbone.out" 2>&1 &
	PIDS+=($!)
	expect "churning" wait_for 20 churned "$WORK/churn.out" 2
	expect "HBONE ones open" wait_for 10 file_has "$WORK/hbone.out" "longs open"
	expect "over HBONE to node 2" test \
	    "$(nsenter "--net=/var/run/netns/$P-n1pod1" ss -Htn state established "( dport = :15008 )" | wc -l)" -ge 1
	if [ "$way" = handover ]; then
		zt_in_node b -v --proxy --zds "$ZSOCK" --peers "$WORK/peers1" \
		    --ready 127.0.0.1:15021 --handover "$WORK/ho.sock" --drain-deadline 3
		expect "B took the pod" wait_for "$START_SECONDS" file_has "$WORK/b.err" "took 1 pods"
	else
		zt_in_node b -v --proxy --zds "$ZSOCK" --peers "$WORK/peers1" \
		    --ready 127.0.0.1:15022 --drain-deadline 3
		expect "B ready beside A" wait_for "$START_SECONDS" ready_on 15022
		kill -TERM "$PID_a"
	fi
	expect "A gone by its deadline" wait_for 10 gone "$PID_a"
	before=$(grep -c '^ok ' "$WORK/churn.out")
	expect "new connections go on through B" wait_for 20 churned "$WORK/churn.out" $((before + 2))
	touch "$WORK/stop"
	expect "churn ends" wait_for 60 file_has "$WORK/churn.out" "^churn "
	expect "no new connection failed" file_has "$WORK/churn.out" "^churn [0-9]* ok 0 failed$"
	expect "HBONE: done" wait_for 60 file_has "$WORK/hbone.out" "^longs 6:"
	expect "HBONE across nodes: none reset, no byte different" \
	    file_has "$WORK/hbone.out" "^longs 6: .* 0 reset, 0 different"
	expect "node 2's daemon serves on" alive "$Z2"
	expect "B up" alive "$PID_b"
	note "$(sed -n 's/^churn \([0-9]*\) ok.*/\1 new/p' "$WORK/churn.out");" \
	    "HBONE $(sed -n 's/^longs 6: \([0-9]*\) intact, \([0-9]*\) ended.*/\1 kept, \2 drained/p' "$WORK/hbone.out")"
}
t_two_nodes_handover() { two_nodes_upgrade handover; }
t_two_nodes_istio_way() { two_nodes_upgrade istio; }

run_tests t_istio_way_under_load t_handover_under_load t_handover_refuses_strangers \
    t_two_nodes_handover t_two_nodes_istio_way
