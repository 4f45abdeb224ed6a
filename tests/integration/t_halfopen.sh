#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Half-open connections and keepalive: what ztunnel's users hit (19,059
# CLOSE-WAIT sockets in one pod, a FIN conntrack lost).  Every proxied
# socket has ztunnel's keepalive and user timeout; a connection one way
# done and idle is closed after the half-close timeout; each pod's
# sockets by TCP state are in /metrics and --list --json.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

# The daemon's established sockets in pod I with a keepalive timer.
keepalive_socks() {
	in_pod "$1" ss -Htnop state established | grep -F "\"$ZT_COMM\"" |
	    grep -c "timer:(keepalive,$2"
}
daemon_socks() {
	in_pod "$1" ss -Htnp state established | grep -cF "\"$ZT_COMM\""
}
daemon_socks_are() { [ "$(daemon_socks "$1")" -eq "$2" ]; }

# ztunnel's SocketConfig: keepalive after 180 s idle, on both sockets
# of a proxied connection (the one accepted, the one made upstream).
t_keepalive_as_ztunnel() {
	node_up 2
	start_node_daemon
	enrol 1
	app 2
	pod_bg 1 "$WORK/idle.out" python3 "$TRAFFIC" idle "$(pod_ip 2)" "$APP_PORT" 60
	expect "connection open" wait_for 10 daemon_socks_are 1 2
	expect "both sockets probe after 3 minutes (ss -o)" \
	    test "$(keepalive_socks 1 '2min')" -eq 2
	stop_daemon
	start_node_daemon --no-keepalive
	enrol 1
	pod_bg 1 "$WORK/idle.out" python3 "$TRAFFIC" idle "$(pod_ip 2)" "$APP_PORT" 60
	expect "connection open" wait_for 10 daemon_socks_are 1 2
	expect "--no-keepalive: none" test "$(keepalive_socks 1 '')" -eq 0
}

# The app's pod goes silent (drops everything): the daemon's upstream
# socket finds out by keepalive (1 s, then 2 probes 1 s apart) and the
# client's connection ends, instead of staying open for ever.
t_vanished_peer_found_by_keepalive() {
	node_up 2
	start_node_daemon --keepalive 1,1,2
	enrol 1
	app 2
	pod_bg 1 "$WORK/idle.out" python3 "$TRAFFIC" idle "$(pod_ip 2)" "$APP_PORT" 60
	expect "connection open" wait_for 10 daemon_socks_are 1 2
	in_pod 2 iptables -I INPUT -j DROP || exit 1
	expect "the client saw the end" wait_for 30 file_has "$WORK/idle.out" "ended after"
	expect "said why" file_has "$WORK/zt.err" \
	    "connection complete.src.addr=$(pod_ip 1):[0-9]* src.workload=\"$(pod_ns 1)\" .*dst.addr=$(pod_ip 2):$APP_PORT .*direction=\"outbound\" .* error=\"upstream: Connection timed out\"$"
	expect "no connection left" wait_for 10 test_conns 1 0/1
}

# One way done, nothing moving: closed both ways after the half-close
# timeout, plain (pod 1 to pod 3, outside the mesh) and HBONE (pod 1 to
# pod 2).
t_half_close_timeout() {
	node_up 3
	start_node_daemon --half-close-timeout 1
	enrol 1 2
	app 2
	app 3
	expect "plain: closed" test "$(client 1 halfopen 3 30 | tail -n 1 | cut -d' ' -f1)" = ended
	expect "said why" wait_for 5 file_has "$WORK/zt.err" "half-closed, idle for 1 s"
	expect "HBONE: closed" test "$(client 1 halfopen 2 30 | tail -n 1 | cut -d' ' -f1)" = ended
	expect "said why" wait_for 5 file_has "$WORK/zt.err" "half-closed and idle"
	expect "nothing open in pod 1" wait_for 10 test_conns 1 0/2
	expect "nothing open in pod 2" wait_for 10 test_conns 2 0/1
}

# The leak in sight: a half-open connection held (no timeout), and the
# pod's sockets by state in /metrics and --list --json agree.
t_socket_states_shown() {
	node_up 2
	start_node_daemon --half-close-timeout 0 --metrics 127.0.0.1:15020
	enrol 1
	app 2
	pod_bg 1 "$WORK/ho.out" python3 "$TRAFFIC" halfopen "$(pod_ip 2)" "$APP_PORT" 60
	expect "half-open" wait_for 10 file_has "$WORK/ho.out" open
	local name
	name=$(pod_ns 1)
	expect "list-json: one close-wait (the client's FIN in), one fin-wait (ours out)" \
	    wait_for 10 sh -c "'$CNI' --list --json '$SOCK' | python3 -c '
import json, sys
p = [x for x in json.load(sys.stdin) if x[\"name\"] == \"$name\"][0][\"sockets\"]
sys.exit(not (p[\"closeWait\"] == 1 and p[\"finWait\"] == 1 and p[\"established\"] == 0))'"
	nsenter "--net=/var/run/netns/$NODE" curl -sf http://127.0.0.1:15020/metrics >"$WORK/metrics"
	expect "metrics: close_wait 1" grep -q "^ztunnel_emulator_pod_sockets{workload=\"$name\",workload_namespace=\"default\",state=\"close_wait\"} 1$" "$WORK/metrics"
	expect "metrics: fin_wait 1" grep -q "^ztunnel_emulator_pod_sockets{workload=\"$name\",workload_namespace=\"default\",state=\"fin_wait\"} 1$" "$WORK/metrics"
	expect "still held: no timeout" test_conns 1 1/1
}

run_tests t_keepalive_as_ztunnel t_vanished_peer_found_by_keepalive \
    t_half_close_timeout t_socket_states_shown
