#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make demo-hbone: two nodes, a daemon on each (as a DaemonSet runs
# one), pod A on node 1 and pod B on node 2.  A calls B's address; A's
# ztunnel-emulator carries it across the nodes' link as an HTTP/2 CONNECT
# stream to B's port 15008, where B's daemon hands it to B's app.  Prints
# every command before running it; cleans up on exit, error or ^C.
# Needs root and iptables.
set -u
cd "$(dirname "$0")/.." || exit 1

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
need demo-hbone ip:iproute2 ss:iproute2 iptables-restore:iptables \
    python3:python3

P=hb$$
DIR=$(mktemp -d /tmp/zt-demo.XXXXXX)
PIDS=()

cleanup() {
	echo
	echo "# cleaning up"
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	scripts/topology.sh down "$P"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1. two nodes, linked, each with its pod CIDR and one pod"
run scripts/topology.sh up2 "$P" 1 || exit 1
A=$P-n1pod1 B=$P-n2pod1
AIP=$(scripts/topology.sh ip2 1 1) BIP=$(scripts/topology.sh ip2 2 1)
run ip -n "$A" -brief addr show eth0
run ip -n "$B" -brief addr show eth0
run ip -n "$P-node1" route show

step "2. each daemon is told the other node's mesh pods (--peers; ztunnel learns them from istiod)"
echo "$BIP default/b" >"$DIR/peers1"
echo "$AIP default/a" >"$DIR/peers2"
run cat "$DIR/peers1"

step "3. one ztunnel-emulator per node, in the node's namespace"
for k in 1 2; do
	printf '$ ip netns exec %s ./ztunnel-emulator/ztunnel-emulator -v --proxy --peers %s %s &\n' \
	    "$P-node$k" "$DIR/peers$k" "$DIR/zt$k.sock"
	ip netns exec "$P-node$k" ./ztunnel-emulator/ztunnel-emulator -v --proxy \
	    --peers "$DIR/peers$k" "$DIR/zt$k.sock" 2>"$DIR/zt$k.err" &
	PIDS+=($!)
	until_ok 5 test -S "$DIR/zt$k.sock" || exit 1
done

step "4. enrol A on node 1, B on node 2: in-pod rules, then the handoff"
run ./cni-emulator/cni-emulator --redirect "$DIR/zt1.sock" "$A" || exit 1
run ./cni-emulator/cni-emulator --redirect "$DIR/zt2.sock" "$B" || exit 1

step "5. B's app on 8080"
ip netns exec "$B" python3 tests/helpers/traffic.py serve 8080 >"$DIR/app.out" 2>&1 &
PIDS+=($!)
until_ok 5 grep -q listening "$DIR/app.out" || exit 1
echo "(pod B: traffic.py serve 8080)"

step "6. A calls B: B's app sees A's own address, across two nodes"
run ip netns exec "$A" python3 tests/helpers/traffic.py peer "$BIP" 8080

step "7. a transfer from B to A, and its tunnel: A's socket to B:15008, made in A's namespace"
ip netns exec "$A" python3 tests/helpers/traffic.py stream "$BIP" 8080 >"$DIR/stream.out" 2>&1 &
PIDS+=($!)
until_ok 10 grep -q streaming "$DIR/stream.out" || exit 1
run ip netns exec "$A" ss -tn state established "( dport = :15008 )"
echo "(and in B, the server's end of it:)"
run ip netns exec "$B" ss -tn state established "( sport = :15008 )"
echo "(and A's app's own socket: it believes it talks to B:8080, but the nat rule"
echo " took it to ztunnel's 15001 inside A; only the tunnel to 15008 crosses the link)"
run ip netns exec "$A" ss -tn state established "( dport = :8080 )"

step "8. what each daemon logged of it"
grep -E "hbone|CONNECT" "$DIR/zt1.err" "$DIR/zt2.err" | sed 's/^/  /' | head -8

step "9. both pods' connections, as their daemons count them"
run ./cni-emulator/cni-emulator --list "$DIR/zt1.sock"
run ./cni-emulator/cni-emulator --list "$DIR/zt2.sock"
