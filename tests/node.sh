# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Nodes and pods for the traffic tests (sourced after lib.sh): the
# topology of scripts/topology.sh, the daemon in the node's namespace,
# pods enrolled with their in-pod rules, apps and clients inside them.

# shellcheck disable=SC2153  # TOP: lib.sh's
TRAFFIC=$TOP/tests/helpers/traffic.py
TOPO=$TOP/scripts/topology.sh
APP_PORT=8080

# node_up N: the node and pods 1..N; names in $NODE and pod_ns I.
node_up() {
	P=$RUN_ID-$TEST_NO
	NODE=$P-node
	"$TOPO" up "$P" "$1" || exit 1
}
pod_ns() { echo "$P-pod$1"; }

# Two nodes ("$TOPO" up2): A is pod 1 of node 1, B pod 1 of node 2.
# two_nodes: both up, NODE node 1, A's and B's IPv4 addresses in $A and
# $B, and each node's --peers file ($WORK/peers1 and 2) naming the
# other node's pod.
two_nodes() {
	P=$RUN_ID-$TEST_NO
	NODE=$P-node1
	"$TOPO" up2 "$P" 1 || exit 1
	A=$("$TOPO" ip2 1 1)
	B=$("$TOPO" ip2 2 1)
	echo "$B default/b" >"$WORK/peers1"
	echo "$A default/a" >"$WORK/peers2"
}
# node2_up: node 2's daemon (pid in $Z2) with its peers, B enrolled
# there, and B's app listening.
node2_up() {
	nsenter "--net=/var/run/netns/$P-node2" "${RUN_DAEMON[@]}" "$ZT" -v \
	    --proxy --peers "$WORK/peers2" "$WORK/zt2.sock" >"$WORK/zt2.out" 2>"$WORK/zt2.err" &
	Z2=$!
	PIDS+=("$Z2")
	expect "node 2's daemon starts" wait_for "$START_SECONDS" \
	    sh -c "'$CNI' -t 1 --list '$WORK/zt2.sock' >/dev/null 2>&1"
	expect "B enrolled on node 2" "$CNI" --redirect "$WORK/zt2.sock" "$P-n2pod1"
	nsenter "--net=/var/run/netns/$P-n2pod1" python3 "$TRAFFIC" serve \
	    "$APP_PORT" >"$WORK/app.out" 2>&1 &
	PIDS+=($!)
	expect "B's app" wait_for 10 file_has "$WORK/app.out" listening
}
pod_ip() { "$TOPO" ip "$1"; }
pod_ip6() { "$TOPO" ip6 "$1"; }
in_pod() {
	local i=$1
	shift
	nsenter "--net=/var/run/netns/$(pod_ns "$i")" "$@"
}

node_daemon_up() { "$CNI" -t 1 --list "$SOCK" >/dev/null 2>&1; }

# The daemon inside the node namespace, as the real one runs in its pod.
start_node_daemon() {
	nsenter "--net=/var/run/netns/$NODE" "${RUN_DAEMON[@]}" "$ZT" -v \
	    --proxy "$@" "$SOCK" >"$WORK/zt.out" 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "daemon starts" wait_for "$START_SECONDS" node_daemon_up
}

# pod_bg I OUT COMMAND...: in pod I, in the background, its output in
# OUT.  nsenter execs the command, so $! (kept for the cleanup, which
# kills it) is the command itself, not a shell around it.
pod_bg() {
	local i=$1 out=$2
	shift 2
	nsenter "--net=/var/run/netns/$(pod_ns "$i")" "$@" >"$out" 2>&1 &
	PIDS+=($!)
}

# enrol I...: rules in, then the pod handed over.
enrol() {
	local i
	for i in "$@"; do
		expect "pod $i enrolled" "$CNI" --redirect "$SOCK" "$(pod_ns "$i")"
	done
}

# app I: the app of pod I on APP_PORT.
app() {
	# nsenter execs python: $! is the app itself, so the cleanup's
	# kill reaches it (a backgrounded shell function would not).
	nsenter "--net=/var/run/netns/$(pod_ns "$1")" python3 "$TRAFFIC" serve \
	    "$APP_PORT" >"$WORK/app$1.out" 2>&1 &
	PIDS+=($!)
	expect "app $1 listening" wait_for 10 file_has "$WORK/app$1.out" listening
}

# client I VERB TARGET [ARG]: from pod I to pod TARGET's app; client6
# the same over IPv6.
client() { client_to pod_ip "$@"; }
client6() { client_to pod_ip6 "$@"; }
client_to() {
	local addr=$1 i=$2 verb=$3 target=$4
	shift 4
	in_pod "$i" timeout 120 python3 "$TRAFFIC" "$verb" "$("$addr" "$target")" \
	    "$APP_PORT" "$@"
}

# Pod I's connections, open/total, as --list shows them.
conns_of() {
	"$CNI" --list "$SOCK" | awk -v n="$(pod_ns "$1")" '$1 == n { print $3 }'
}
test_conns() { [ "$(conns_of "$1")" = "$2" ]; }
# Bytes out of pod I (upstream to client) so far.
pod_bytes() { pod_json "$(pod_ns "$1")" '["bytes"]["out"]'; }
bytes_grew() { [ "$(pod_bytes "$1")" -gt "$2" ]; }

# stream I TARGET FILE: from pod I, read TARGET's endless stream, in the
# background, its lines in FILE; $! is the client itself.
stream() {
	: >"$3"
	nsenter "--net=/var/run/netns/$(pod_ns "$1")" python3 "$TRAFFIC" stream \
	    "$(pod_ip "$2")" "$APP_PORT" >>"$3" 2>&1 &
	PIDS+=($!)
}
