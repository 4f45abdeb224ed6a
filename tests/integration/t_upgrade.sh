#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A node's upgrade: a second ztunnel-emulator starts beside the first,
# then the first gets SIGTERM, with traffic flowing all along.  Istio's
# way: the node agent gives the new one every pod over ZDS, it binds
# beside the old one (SO_REUSEPORT), and the old one stops listening at
# once and drains what it carries.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

# zt_in_node NAME ARGS...: a daemon in the node's namespace, its pid in
# $ZPID_NAME... (printed), its logs in $WORK/NAME.err.
zt_in_node() {
	local name=$1
	shift
	nsenter "--net=/var/run/netns/$NODE" "${RUN_DAEMON[@]}" "$ZT" "$@" \
	    >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	echo $!
}
ready_on() {
	local code
	code=$(nsenter "--net=/var/run/netns/$NODE" curl -s -o /dev/null \
	    -w '%{http_code}' "http://127.0.0.1:$1/healthz/ready")
	[ "$code" = 200 ]
}
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
churned() { [ "$(grep -c '^ok ' "$1")" -ge "$2" ]; }

# (b) Istio's way, under load: new connections from pod 1 to pod 3 (a
# plain upstream, outside the mesh) as fast as they go, six long-lived
# echo connections to pod 3 and six to pod 2 (a mesh pod: HBONE), while
# B starts beside A and A gets SIGTERM.  No new connection fails; the
# long ones on A are drained (ended with a FIN at A's deadline), never
# reset, no byte different; A is gone by its deadline; B is ready first.
t_istio_way_under_load() {
	local a b before
	node_up 3
	app 2
	app 3
	start_agent --redirect "$(pod_ns 1)" "$(pod_ns 2)"
	a=$(zt_in_node a -v --proxy --zds "$ZSOCK" --ready 127.0.0.1:15021 --drain-deadline 3)
	expect "A ready" wait_for "$START_SECONDS" ready_on 15021
	pod_bg 1 "$WORK/churn.out" python3 "$TRAFFIC" churn "$(pod_ip 3)" "$APP_PORT" "$WORK/stop"
	pod_bg 1 "$WORK/plain.out" python3 "$TRAFFIC" longs "$(pod_ip 3)" "$APP_PORT" 6 "$WORK/stop"
	pod_bg 1 "$WORK/hbone.out" python3 "$TRAFFIC" longs "$(pod_ip 2)" "$APP_PORT" 6 "$WORK/stop"
	expect "churning" wait_for 20 churned "$WORK/churn.out" 2
	expect "plain ones open" wait_for 10 file_has "$WORK/plain.out" "longs open"
	expect "HBONE ones open" wait_for 10 file_has "$WORK/hbone.out" "longs open"
	b=$(zt_in_node b -v --proxy --zds "$ZSOCK" --ready 127.0.0.1:15022 --drain-deadline 3)
	expect "B ready beside A" wait_for "$START_SECONDS" ready_on 15022
	expect "both listen in pod 1" test \
	    "$(in_pod 1 ss -Htlnp "( sport = :15001 )" | grep -oF "pid=" | wc -l)" -eq 2
	expect "A still serving" alive "$a"
	kill -TERM "$a"
	expect "A stopped listening at once" wait_for 5 file_has "$WORK/a.err" "draining: 2 pods' listeners closed"
	expect "A gone by its deadline (3 s)" wait_for 6 gone "$a"
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
	expect "B still up" alive "$b"
	note "$(sed -n 's/^churn \([0-9]*\) ok.*/\1 new/p' "$WORK/churn.out");" \
	    "plain $(sed -n 's/^longs 6: \([0-9]*\) intact, \([0-9]*\) ended.*/\1 kept, \2 drained/p' "$WORK/plain.out");" \
	    "HBONE $(sed -n 's/^longs 6: \([0-9]*\) intact, \([0-9]*\) ended.*/\1 kept, \2 drained/p' "$WORK/hbone.out")"
}

run_tests t_istio_way_under_load
