#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make demo-upgrade: replace a running ztunnel-emulator with a new one
# (--handover) while a pod has connections open, and show that nothing
# noticed: the same listening sockets, the same connections, every byte.
# On a node of its own (scripts/topology.sh).  Prints every command
# before running it; cleans up on exit, error or ^C.  Needs root and
# iptables.
set -u
cd "$(dirname "$0")/.." || exit 1

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
need demo-upgrade ip:iproute2 ss:iproute2 iptables-restore:iptables \
    python3:python3

P=demo$$
DIR=$(mktemp -d /tmp/zt-demo.XXXXXX)
SOCK=$DIR/zt.sock
HO=$DIR/handover.sock
ZPID1='' ZPID2='' APID='' LPID=''

cleanup() {
	echo
	echo "# cleaning up"
	for pid in $LPID $APID $ZPID1 $ZPID2; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid"
	done
	scripts/topology.sh down "$P"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# daemon N: ztunnel-emulator in the node's namespace, its log on our
# stderr prefixed "vN", its pid in ZPIDN.  ip netns exec execs it.
daemon() {
	printf '$ ip netns exec %s ./ztunnel-emulator/ztunnel-emulator --log-format short --proxy --handover %s %s &\n' \
	    "$P-node" "$HO" "$SOCK"
	ip netns exec "$P-node" ./ztunnel-emulator/ztunnel-emulator \
	    --log-format short --proxy --drain-deadline 3 --handover "$HO" "$SOCK" \
	    2> >(sed -u "s/^/  [v$1] /" | grep --line-buffered -v ": control: " >&2) &
	printf -v "ZPID$1" %s $!
}
inodes() { ip netns exec "$A" ss -Htlne 2>/dev/null | grep -o 'ino:[0-9]*' | sort | tr '\n' ' '; }

step "1. a node and three pods: A and B in the mesh, C outside it"
run scripts/topology.sh up "$P" 3 || exit 1
A=$P-pod1 B=$P-pod2 C=$P-pod3

step "2. the running ztunnel-emulator (v1), serving $HO for its successor"
daemon 1
until_ok 5 test -S "$HO" || exit 1
run ./cni-emulator/cni-emulator --redirect "$SOCK" "$A" || exit 1
run ./cni-emulator/cni-emulator --redirect "$SOCK" "$B" || exit 1

step "3. C's app, and three long connections from A to it, sending all along"
ip netns exec "$C" python3 tests/helpers/traffic.py serve 8080 >"$DIR/app.out" 2>&1 &
APID=$!
until_ok 5 grep -q listening "$DIR/app.out" || exit 1
printf '$ ip netns exec %s python3 tests/helpers/traffic.py longs %s 8080 3 %s &\n' \
    "$A" "$(scripts/topology.sh ip 3)" "$DIR/stop"
ip netns exec "$A" python3 tests/helpers/traffic.py longs "$(scripts/topology.sh ip 3)" \
    8080 3 "$DIR/stop" >"$DIR/longs.out" 2>&1 &
LPID=$!
until_ok 10 grep -q "longs open" "$DIR/longs.out" || exit 1
run ./cni-emulator/cni-emulator --list "$SOCK"
before=$(inodes)
echo "(A's listening sockets: $before)"

step "4. the new ztunnel-emulator (v2), same options: it takes everything from v1"
daemon 2
until_ok 10 sh -c "! kill -0 $ZPID1 2>/dev/null" || exit 1
wait "$ZPID1"
echo "(v1 exited $?)"
ZPID1=
run ./cni-emulator/cni-emulator --list "$SOCK"
run ip netns exec "$A" ss -Htlnp
after=$(inodes)
echo "(A's listening sockets: $after: $([ "$before" = "$after" ] && echo the same ones, never closed || echo CHANGED))"

step "5. the connections end: each one checked every byte it got back"
touch "$DIR/stop"
until_ok 20 grep -q "^longs 3:" "$DIR/longs.out" || exit 1
run cat "$DIR/longs.out"
LPID=
