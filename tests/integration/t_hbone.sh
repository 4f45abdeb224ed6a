#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HBONE: pod-to-pod traffic as HTTP/2 CONNECT streams to the destination
# pod's 15008.  Checked by a stack that is not ours (Debian's
# python3-h2) on both sides, by raw frames no stack would send, and
# across two nodes with a daemon each.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

H2PEER=$TOP/tests/helpers/h2peer.py
# Debian's python3-h2 imports under /usr/bin/python3 only.
H2PY=/usr/bin/python3

# first_line COMMAND...: its first line of output, all of it read (a
# reader that stops early makes a writer fail on the pipe).
first_line() {
	local out
	out=$("$@")
	echo "${out%%$'\n'*}"
}

h2() {
	local i=$1
	shift
	in_pod "$i" timeout 60 "$H2PY" "$H2PEER" "$@"
}

# h2_bg I FILE ARGS...: the peer in pod I, in the background, its output
# in FILE; started by nsenter, so $! is the peer itself.
h2_bg() {
	local i=$1 out=$2
	shift 2
	: >"$out"
	nsenter "--net=/var/run/netns/$(pod_ns "$i")" "$H2PY" "$H2PEER" "$@" \
	    >>"$out" 2>&1 &
	PIDS+=($!)
}

# The pipes, and the sockets, process $1 holds.
pipes_of() { fd_count "$1" 'pipe:*'; }
pipes_are() { [ "$(pipes_of "$1")" -eq "$2" ]; }
sockets_are() { [ "$(fd_count "$1" 'socket:*')" -eq "$2" ]; }

# Established TCP connections in pod I to (or from) port 15008.
tunnels_out() { in_pod "$1" ss -Htn state established "( dport = :15008 )" | wc -l; }
tunnels_out_are() { [ "$(tunnels_out "$1")" -eq "$2" ]; }
tunnels_out_at_least() { [ "$(tunnels_out "$1")" -ge "$2" ]; }

# h2log EXPR: EXPR (python) of the first request the h2 server logged:
# r the record, h its headers as a dict, n their names in order.
h2log() {
	python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).readline())
h = dict(r["headers"])
n = [k for k, v in r["headers"]]
print(eval(sys.argv[2]))' "$WORK/h2log.out" "$1"
}

t_python_h2_client_five_streams() {
	node_up 3
	start_node_daemon
	enrol 2
	app 2
	local b out
	b=$(pod_ip 2)
	out=$(h2 3 client "$b" 15008 "$b:$APP_PORT" 5)
	expect "five streams on one connection, all echoed ($out)" \
	    test "$(echo "$out" | tail -n 1)" = "echoed 5"
	expect "each answered 200" test "$(echo "$out" | grep -c '^status 200$')" -eq 5
	expect "to the app from the client's own address" file_has "$WORK/zt.err" \
	    "connection complete.src.addr=$(pod_ip 3):[0-9]* .*dst.addr=$b:$APP_PORT dst.hbone_addr=$b:$APP_PORT dst.workload=\"$(pod_ns 2)\" .*direction=\"inbound\""
	expect "counted in B" wait_for 5 test_conns 2 0/5
}

# DATA frames of up to 1 MiB (our MAX_FRAME_SIZE, which python3-h2
# uses), arriving in pieces: their payloads move into the app's socket
# by splice, and the app's answer comes back; byte for byte, three
# streams at once.
t_python_h2_client_large_frames() {
	node_up 3
	start_node_daemon
	enrol 2
	app 2
	local b out base
	b=$(pod_ip 2)
	base=$(fd_count_quiet "$ZPID")
	out=$(h2 3 client "$b" 15008 "$b:$APP_PORT" 3 3000000)
	expect "three streams of 3 MB, echoed whole ($(echo "$out" | tail -n 1))" \
	    test "$(echo "$out" | tail -n 1)" = "echoed 3"
	expect "counted in B" wait_for 5 test_conns 2 0/3
	expect "3000005 bytes to the app, each" lines_are "$WORK/zt.err" \
	    "connection complete.*direction=\"inbound\" bytes_sent=3000005 bytes_recv=3000000 " 3
	expect "each tunnel's pipe gone with it" fds_settle_at "$ZPID" "$base"
	# A WINDOW_UPDATE once half a window (2 MiB) has gathered, as
	# ztunnel's h2 sends them, never for less: 10 MB through a 4 MiB
	# window cannot end without some (at a quarter window, the first
	# gave back 1 to 2 MiB).
	local wu least
	out=$(h2 3 client "$b" 15008 "$b:$APP_PORT" 1 10000000)
	wu=$(echo "$out" | sed -n 's/^window updates: stream \([0-9]*\) .*/\1/p')
	least=$(echo "$out" | sed -n 's/^window updates: .*(least \([0-9]*\)).*/\1/p')
	expect "10 MB echoed whole ($(echo "$out" | tail -n 1))" \
	    test "$(echo "$out" | tail -n 1)" = "echoed 1"
	expect "WINDOW_UPDATEs for the stream ($wu)" test "${wu:-0}" -ge 1
	expect "each for half a window or more (least $least)" \
	    test "${least:-0}" -ge 2097152
}

# A peer whose stream window (40,000 bytes) cuts every read the daemon
# makes of the app to less than SPLICE_MIN: the flow is still bulk, so
# its frames still go by splice (the connection's pipe, held while the
# connection lives), and arrive whole.
t_small_window_still_spliced() {
	node_up 3
	start_node_daemon
	enrol 2
	app 2
	local b base pid
	b=$(pod_ip 2)
	base=$(pipes_of "$ZPID")
	h2_bg 3 "$WORK/small" client "$b" 15008 "$b:$APP_PORT" 3 1000000 40000
	pid=$!
	expect "three streams of 1 MB through 40,000-byte windows, echoed whole" \
	    wait_for 60 file_has "$WORK/small" "^echoed 3"
	expect "the connection's pipe, its tunnels' gone ($(pipes_of "$ZPID") vs $base)" \
	    wait_for 10 pipes_are "$ZPID" $((base + 2))
	kill "$pid" && wait "$pid" 2>/dev/null
	expect "the connection's pipe gone with it" wait_for 10 pipes_are "$ZPID" "$base"
}

# ztunnel's answers (DATAPATH.md 3.3); the stream ends with no body.
t_statuses_as_ztunnel() {
	node_up 3
	start_node_daemon
	enrol 2
	app 2
	local b
	b=$(pod_ip 2)
	expect "another pod's address: 400" \
	    test "$(first_line h2 3 client "$b" 15008 "$(pod_ip 3):$APP_PORT")" = "status 400"
	expect "not IP:port: 400" \
	    test "$(first_line h2 3 client "$b" 15008 "app.example:$APP_PORT")" = "status 400"
	expect "one of ztunnel's own ports: 503" \
	    test "$(first_line h2 3 client "$b" 15008 "$b:15006")" = "status 503"
	expect "nothing listening: 503" \
	    test "$(first_line h2 3 client "$b" 15008 "$b:9")" = "status 503"
	expect "said why" wait_for 5 file_has "$WORK/zt.err" "upstream refused"
	expect "GET, not CONNECT: 400" test "$(h2 3 hostile "$b" 15008 get_request)" = "status 400"
	# As ztunnel's metrics: the early answers are only logged; the
	# refused connect to the app is counted.
	expect "one counted, none open" test_conns 2 0/1
}

# Pod 3 stands in for a pod on another node: its 15008 is python3-h2's.
# Its --peers name needs escaping in the metrics' labels.
t_outbound_to_python_h2_server() {
	node_up 3
	printf '%s remote/x"y\\z\n' "$(pod_ip 3)" >"$WORK/peers"
	start_node_daemon --peers "$WORK/peers" --metrics 127.0.0.1:15020
	enrol 1
	h2_bg 3 "$WORK/h2.out" server 15008 "$WORK/h2log.out"
	expect "h2 server up" wait_for 10 file_has "$WORK/h2.out" listening
	local out
	out=$(in_pod 1 timeout 30 "$H2PY" "$H2PEER" tcp "$(pod_ip 3)" "$APP_PORT" "hello over hbone")
	expect "echoed through the tunnel ($out)" test "$out" = "hello over hbone"
	expect "CONNECT" test "$(h2log 'h[":method"]')" = CONNECT
	expect ":authority is the original destination" \
	    test "$(h2log 'h[":authority"]')" = "$(pod_ip 3):$APP_PORT"
	expect "no :scheme, no :path (RFC 9113 8.5)" \
	    test "$(h2log '":scheme" in n or ":path" in n')" = False
	expect "forwarded names the app's address" \
	    test "$(h2log 'bool(__import__("re").fullmatch(r"for=\"'"$(pod_ip 1)"':[0-9]+\"", h["forwarded"]))')" = True
	expect "traceparent, W3C version 00" \
	    test "$(h2log 'bool(__import__("re").fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", h["traceparent"]))')" = True
	expect "no baggage: nothing true to say of a pod with no ZDS identity" \
	    test "$(h2log '"baggage" in n')" = False
	expect "ztunnel's client SETTINGS" test "$(h2log 'r["settings"]')" = \
	    "{'enable_push': 0, 'initial_window_size': 4194304, 'max_frame_size': 1048576, 'max_header_list_size': 16384}"
	expect "connection window 16 MiB" test "$(h2log 'r["conn_window"]')" = 16777216
	expect "out of A, over HBONE" file_has "$WORK/zt.err" \
	    "connection complete.src.addr=$(pod_ip 1):[0-9]* src.workload=\"$(pod_ns 1)\" .*dst.addr=$(pod_ip 3):15008 dst.hbone_addr=$(pod_ip 3):$APP_PORT .*direction=\"outbound\" bytes_sent=16 bytes_recv=16 "
	nsenter "--net=/var/run/netns/$NODE" curl -sf http://127.0.0.1:15020/metrics >"$WORK/metrics"
	expect "the peer's name in the metrics' labels, escaped" grep -qF \
	    'destination_workload="x\"y\\z",destination_workload_namespace="remote"' "$WORK/metrics"
}

# Any status but 200: the app's accepted connection just ends, no bytes.
t_non_200_ends_with_no_bytes() {
	node_up 3
	pod_ip 3 >"$WORK/peers"
	start_node_daemon --peers "$WORK/peers"
	enrol 1
	h2_bg 3 "$WORK/h2.out" server 15008 "$WORK/h2log.out" 503
	expect "h2 server up" wait_for 10 file_has "$WORK/h2.out" listening
	local out
	out=$(in_pod 1 timeout 30 "$H2PY" "$H2PEER" tcp "$(pod_ip 3)" "$APP_PORT" "anyone?")
	expect "EOF, nothing copied ($out)" test "$out" = "(nothing)"
	expect "logged" wait_for 5 file_has "$WORK/zt.err" "CONNECT answered 503"
}

# 250 at once from A to B: 100 streams a connection, so three; released
# once idle (--pool-idle 1).
t_pool_100_streams_a_connection() {
	node_up 2
	start_node_daemon --pool-idle 1 --metrics 127.0.0.1:15020
	enrol 1 2
	app 2
	: >"$WORK/hold.out"
	nsenter "--net=/var/run/netns/$(pod_ns 1)" python3 "$TRAFFIC" hold \
	    "$(pod_ip 2)" "$APP_PORT" 250 >>"$WORK/hold.out" 2>&1 &
	local holder=$!
	PIDS+=("$holder")
	expect "250 held" wait_for 30 file_has "$WORK/hold.out" "held 250"
	expect "all 250 open" wait_for 10 test_conns 1 250/250
	expect "three connections to B:15008 ($(tunnels_out 1))" tunnels_out_are 1 3
	nsenter "--net=/var/run/netns/$NODE" curl -sf http://127.0.0.1:15020/metrics >"$WORK/metrics"
	expect "metrics: three out" file_has "$WORK/metrics" \
	    '^ztunnel_emulator_hbone_connections{direction="outbound"} 3$'
	expect "metrics: three in (B's side, same daemon)" file_has "$WORK/metrics" \
	    '^ztunnel_emulator_hbone_connections{direction="inbound"} 3$'
	expect "metrics: 500 streams (both ends of 250)" file_has "$WORK/metrics" \
	    '^ztunnel_emulator_hbone_streams 500$'
	kill "$holder"
	expect "all ended" wait_for 20 test_conns 1 0/250
	expect "released once idle" wait_for 20 tunnels_out_are 1 0
	expect "said why" file_has "$WORK/zt.err" "closed: idle"
}

# The first SIGTERM drains: GOAWAY (NO_ERROR) to every peer, streams
# given HBONE_DRAIN_MS to end, then the exit.
t_sigterm_drains_with_goaway() {
	node_up 3
	start_node_daemon
	enrol 2
	app 2
	h2_bg 3 "$WORK/hold.out" hold "$(pod_ip 2)" 15008 "$(pod_ip 2):$APP_PORT"
	expect "stream open" wait_for 10 file_has "$WORK/hold.out" "^open$"
	expect "stops with 0" stop_daemon
	ZPID=
	expect "the client was told: GOAWAY NO_ERROR" file_has "$WORK/hold.out" "^goaway 0$"
	expect "logged" file_has "$WORK/zt.err" "draining 1 connections (0 plain, 1 HBONE)"
}

# Each hostile peer gets its error; a stream through the same daemon
# flows on, a well-behaved client still works, nothing leaks.
t_hostile_peers() {
	node_up 3
	start_node_daemon
	enrol 1 2
	app 2
	local b fds c want got
	b=$(pod_ip 2)
	h2_bg 2 "$WORK/sink.out" sink 9000
	expect "a target that never reads" wait_for 10 file_has "$WORK/sink.out" listening
	stream 1 2 "$WORK/s12"
	expect "a stream flowing meanwhile" wait_for 10 file_has "$WORK/s12" streaming
	# The baseline once the tunnel is up at both ends (the client says
	# "streaming" as soon as its connect returns).
	expect "open in A" wait_for 10 test_conns 1 1/1
	expect "open in B" wait_for 10 test_conns 2 1/1
	# Sockets: the stream's pipes come and stay once its reads fill up
	# (splice), whenever that is; the large-frames test checks that
	# pipes go with their tunnels.
	fds=$(fd_count_quiet "$ZPID" 'socket:*')
	while read -r c want; do
		got=$(h2 3 hostile "$b" 15008 "$c")
		expect "$c: $want ($got)" test "$got" = "$want"
	done <<-EOF
		split_preface alive
		bad_preface goaway 1
		first_frame_not_settings goaway 1
		oversized_frame goaway 6
		unknown_frame_ignored alive
		huge_header_list status 431
		table_size_over_limit goaway 9
		index_past_table goaway 9
		endless_continuation goaway 11
		even_stream_id goaway 1
		stream_id_goes_down goaway 5
		data_on_idle_stream goaway 1
		connection_window_overflow goaway 3
		zero_window_update goaway 1
		rapid_reset goaway 11
		settings_flood goaway 11
		ping_flood goaway 11
		rst_flood_closed_streams goaway 11
		too_many_streams rst 7
		stream_window_overrun rst 3
		stream_window_overrun_big rst 3
	EOF
	expect "daemon alive" daemon_alive
	expect "a good client still served" \
	    test "$(h2 3 client "$b" 15008 "$b:$APP_PORT" 3 | tail -n 1)" = "echoed 3"
	local b1
	b1=$(pod_bytes 1)
	expect "the stream still moving" wait_for 10 bytes_grew 1 "$b1"
	expect_not "and never broken" file_has "$WORK/s12" "ended after"
	expect "sockets back to where they were" wait_for 10 sockets_are "$ZPID" "$fds"
}

# A peer whose SETTINGS allow no stream (MAX_CONCURRENT_STREAMS 0):
# neither a connection per app connection left idle for --pool-idle,
# nor more than HBONE_POOL_MAX (16) at once to one destination.
t_peer_allowing_no_streams() {
	node_up 3
	echo "$(pod_ip 3) remote/zero" >"$WORK/peers"
	start_node_daemon --peers "$WORK/peers"
	enrol 1
	h2_bg 3 "$WORK/h2.out" nostreams 15008 refuse
	expect "its server up" wait_for 10 file_has "$WORK/h2.out" listening
	expect "100 app connections, each ended (refused by the peer)" \
	    in_pod 1 timeout 60 python3 "$TRAFFIC" closed_many "$(pod_ip 3)" "$APP_PORT" 100
	expect "no connection to it left idle in the pool" \
	    wait_for 10 tunnels_out_are 1 0
	kill "${PIDS[-1]}"
	h2_bg 3 "$WORK/h2.out" nostreams 15008 hold
	expect "its server up again" wait_for 10 file_has "$WORK/h2.out" listening
	# Apart, so that each finds the last one's SETTINGS in.
	pod_bg 1 "$WORK/hold.out" python3 "$TRAFFIC" hold "$(pod_ip 3)" "$APP_PORT" 100 20
	expect "100 app connections held" wait_for 20 file_has "$WORK/hold.out" "held 100"
	expect "some tunnels up" wait_for 10 tunnels_out_at_least 1 1
	expect "at most 16 connections to one destination ($(tunnels_out 1))" \
	    test "$(tunnels_out 1)" -le 16
	expect "the rest turned away, said why" file_has "$WORK/zt.err" "pool to this destination is full"
}

# Two nodes, a daemon each: A on node 1 to B on node 2 crosses the link
# as a tunnel to B:15008.
t_two_nodes() {
	two_nodes
	local a=$A b=$B
	start_node_daemon --peers "$WORK/peers1"
	expect "A enrolled on node 1" "$CNI" --redirect "$SOCK" "$P-n1pod1"
	node2_up
	expect "B's app sees A's own address" test \
	    "$(nsenter "--net=/var/run/netns/$P-n1pod1" timeout 60 python3 "$TRAFFIC" peer "$b" "$APP_PORT")" = "$a"
	: >"$WORK/s"
	nsenter "--net=/var/run/netns/$P-n1pod1" python3 "$TRAFFIC" stream "$b" \
	    "$APP_PORT" >>"$WORK/s" 2>&1 &
	PIDS+=($!)
	expect "streaming" wait_for 10 file_has "$WORK/s" streaming
	expect "A's tunnel to B:15008, in A's namespace" test \
	    "$(nsenter "--net=/var/run/netns/$P-n1pod1" ss -Htn state established "( dport = :15008 )" | awk '{ print $4 }')" = "$b:15008"
	expect "its other end in B" test \
	    "$(nsenter "--net=/var/run/netns/$P-n2pod1" ss -Htn state established "( sport = :15008 )" | wc -l)" -eq 1
	local p1
	p1=$(pipes_of "$ZPID")
	expect "64 MiB each way, byte-identical" \
	    nsenter "--net=/var/run/netns/$P-n1pod1" timeout 120 python3 "$TRAFFIC" bulk "$b" "$APP_PORT" 64
	# A's bytes went by splice: node 1 holds the connection's pipe for
	# what it sends, while the connection lives (the stream above keeps
	# it; node 2 had its own for that stream already).
	expect "node 1 spliced what it sent" test "$(pipes_of "$ZPID")" -gt "$p1"
	expect "node 2 served it" file_has "$WORK/zt2.err" \
	    "connection complete.src.addr=$a:[0-9]* .*dst.addr=$b:$APP_PORT dst.hbone_addr=$b:$APP_PORT dst.workload=\"$P-n2pod1\" .*direction=\"inbound\" bytes_sent=67108869 "
	kill -TERM "$Z2" && wait "$Z2"
	expect "node 2's daemon stops with 0" test $? -eq 0
}

# --peers is reread on SIGHUP, all or nothing.
t_peers_reread_on_sighup() {
	node_up 3
	: >"$WORK/peers"
	start_node_daemon --peers "$WORK/peers"
	enrol 1
	app 3
	expect "pod 3 not in the mesh: plain" test "$(client 1 peer 3)" = "$(pod_ip 1)"
	expect_not "no tunnel" file_has "$WORK/zt.err" "	hbone	$(pod_ns 1) -> "
	echo "$(pod_ip 3) default/c" >"$WORK/peers"
	kill -HUP "$ZPID"
	expect "reread" wait_for 5 file_has "$WORK/zt.err" "SIGHUP: 1 peers"
	echo "not-an-address" >"$WORK/peers"
	kill -HUP "$ZPID"
	expect "a bad file is refused, the old table kept" wait_for 5 \
	    file_has "$WORK/zt.err" "peers:1: not .*keeping the 1 peers"
	h2_bg 3 "$WORK/h2.out" server 15008 "$WORK/h2log.out"
	expect "h2 server up" wait_for 10 file_has "$WORK/h2.out" listening
	local out
	out=$(in_pod 1 timeout 30 "$H2PY" "$H2PEER" tcp "$(pod_ip 3)" "$APP_PORT" "now hbone")
	expect "now over HBONE ($out)" test "$out" = "now hbone"
	expect "the tunnel logged as the line above looked for it" \
	    file_has "$WORK/zt.err" "	hbone	$(pod_ns 1) -> "
}

# --peers names follow the one rule for names (printable UTF-8, no
# space, each part at most 253 bytes): a file with one that does not is
# refused whole, the table kept, and /metrics stays parseable.  A CRLF
# file is fine.
t_peer_names_checked() {
	node_up 3
	printf '%s remote/caf\xc3\xa9\r\n# a comment\r\n' "$(pod_ip 3)" >"$WORK/peers"
	start_node_daemon --peers "$WORK/peers" --metrics 127.0.0.1:15020
	expect "a CRLF file read" wait_for 5 file_has "$WORK/zt.err" "1 peers from"
	enrol 1
	local n=0 bad long
	long=$(printf '\xe2\x82\xac%.0s' $(seq 1 86))	# 258 bytes of valid UTF-8
	for bad in "remote/$long" $'remote/bad\xff' $'remote/esc\x1b[31m' \
	    $'remote/soh\x01' $'remote/del\x7f' $'remote/c\rr' "$long/c"; do
		n=$((n + 1))
		printf '%s %s\n' "$(pod_ip 3)" "$bad" >"$WORK/peers"
		kill -HUP "$ZPID"
		expect "bad name $n refused, the old table kept" wait_for 5 \
		    lines_at_least "$WORK/zt.err" "no name: .*keeping the 1 peers" "$n"
	done
	printf '%s %s\n' "$(pod_ip 3)" $'remote/soh\x01' >"$WORK/bad"
	"$ZT" --proxy --peers "$WORK/bad" "$WORK/other.sock" 2>"$WORK/start.err"
	expect "at start: refused, exit 2" test $? -eq 2
	expect "escaped in the message" file_has "$WORK/start.err" 'bad:1: the workload is no name'
	h2_bg 3 "$WORK/h2.out" server 15008 "$WORK/h2log.out"
	expect "h2 server up" wait_for 10 file_has "$WORK/h2.out" listening
	local out
	out=$(in_pod 1 timeout 30 "$H2PY" "$H2PEER" tcp "$(pod_ip 3)" "$APP_PORT" "hi")
	expect "over HBONE to the peer ($out)" test "$out" = "hi"
	nsenter "--net=/var/run/netns/$NODE" curl -sf http://127.0.0.1:15020/metrics >"$WORK/metrics"
	expect "its name in the labels" grep -qF $'destination_workload="caf\xc3\xa9"' "$WORK/metrics"
	promtool check metrics <"$WORK/metrics" >"$WORK/promtool" 2>&1
	expect_not "promtool parses the whole scrape" grep -q "error while linting" "$WORK/promtool"
}

# Pods ZDS named carry baggage: in the request (the source) and in the
# 200 (the destination), as ztunnel's; pods it did not name, none.
t_baggage_for_zds_pods() {
	node_up 3
	echo "$(pod_ip 3) remote/c" >"$WORK/peers"
	"${RUN_DAEMON[@]}" "$CNI" --zds-serve "$ZSOCK" --redirect --watch \
	    "--select=$P-pod[12]" >"$WORK/agent.out" 2>"$WORK/agent.err" &
	APID=$!
	PIDS+=("$APID")
	expect "agent starts" wait_for "$START_SECONDS" agent_listening
	start_node_daemon --zds "$ZSOCK" --peers "$WORK/peers"
	expect "both up" wait_for 20 sh -c "test \"\$('$CNI' --list '$SOCK' | grep -c ' up ')\" -eq 2"
	app 2
	h2_bg 3 "$WORK/h2.out" server 15008 "$WORK/h2log.out"
	expect "h2 server up" wait_for 10 file_has "$WORK/h2.out" listening
	local out
	out=$(in_pod 1 timeout 30 "$H2PY" "$H2PEER" tcp "$(pod_ip 3)" "$APP_PORT" "hi")
	expect "through ($out)" test "$out" = hi
	expect "the request's baggage names A" test "$(h2log 'h["baggage"]')" = \
	    "k8s.namespace.name=default,k8s.pod.name=$(pod_ns 1)"
	out=$(h2 3 client "$(pod_ip 2)" 15008 "$(pod_ip 2):$APP_PORT")
	expect "the 200's baggage names B ($out)" test "$(echo "$out" | grep '^baggage ')" = \
	    "baggage k8s.namespace.name=default,k8s.pod.name=$(pod_ns 2)"
}

run_tests t_python_h2_client_five_streams t_python_h2_client_large_frames \
    t_small_window_still_spliced t_statuses_as_ztunnel \
    t_outbound_to_python_h2_server t_non_200_ends_with_no_bytes \
    t_pool_100_streams_a_connection t_sigterm_drains_with_goaway \
    t_hostile_peers t_peer_allowing_no_streams t_two_nodes t_peers_reread_on_sighup \
    t_peer_names_checked \
    t_baggage_for_zds_pods
