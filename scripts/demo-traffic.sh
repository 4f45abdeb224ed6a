#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make demo-traffic: a request from pod A to pod B's address, carried by
# ztunnel-emulator --proxy through both pods' in-pod listeners, on a node
# of its own (scripts/topology.sh), and a DNS lookup through 15053.
# Prints every command before running it; cleans up on exit, error or
# ^C.  Needs root and iptables.
set -u
cd "$(dirname "$0")/.." || exit 1

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
need demo-traffic ip:iproute2 ss:iproute2 iptables-restore:iptables \
    python3:python3

P=demo$$
DIR=$(mktemp -d /tmp/zt-demo.XXXXXX)
SOCK=$DIR/zt.sock
ZPID=
APID=

cleanup() {
	echo
	echo "# cleaning up"
	for pid in $APID $ZPID; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid"
	done
	scripts/topology.sh down "$P"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1. a node (its own namespace, a bridge) and two pods on it, A and B"
run scripts/topology.sh up "$P" 2 || exit 1
A=$P-pod1 B=$P-pod2
run ip -n "$A" -brief addr show eth0
run ip -n "$B" -brief addr show eth0

step "2. ztunnel-emulator --proxy, inside the node's namespace (as ztunnel runs in its pod)"
printf '$ ip netns exec %s ./ztunnel-emulator/ztunnel-emulator -v --log-format short --proxy %s &\n' "$P-node" "$SOCK"
# Its log as it goes, less the control socket's chatter; $! is the daemon
# itself (ip netns exec execs it), so cleanup stops it whatever happens.
ip netns exec "$P-node" ./ztunnel-emulator/ztunnel-emulator -v --log-format short \
    --proxy "$SOCK" 2> >(grep --line-buffered -v ": control: " >&2) &
ZPID=$!
for _ in $(seq 1 100); do
	[ -S "$SOCK" ] && break
	sleep 0.02
done

step "3. enrol both pods: in-pod rules (as istio-cni), then the handoff"
run ./cni-emulator/cni-emulator --redirect "$SOCK" "$A" || exit 1
run ./cni-emulator/cni-emulator --redirect "$SOCK" "$B" || exit 1

step "4. what istio-cni's rules look like inside pod A"
run ip netns exec "$A" iptables-save -t nat
run ip -n "$A" rule show
run ip -n "$A" route show table 100

step "5. the listeners inside pod A: ztunnel's, though nothing runs in the pod"
run ip netns exec "$A" ss -ntlp

step "6. B's app: it answers with the address it sees the caller from"
ip netns exec "$B" python3 tests/helpers/traffic.py serve 8080 >"$DIR/app.out" 2>&1 &
APID=$!
for _ in $(seq 1 100); do
	grep -q listening "$DIR/app.out" 2>/dev/null && break
	sleep 0.02
done
echo "(pod B: traffic.py serve 8080)"

step "7. A calls B's address: out through A's 15001, over HBONE into B's 15008"
run ip netns exec "$A" python3 tests/helpers/traffic.py peer "$(scripts/topology.sh ip 2)" 8080
echo "(that is A's own address: B's app sees the real client)"
sleep 0.2

step "8. both pods' connections, as the daemon counts them"
run ./cni-emulator/cni-emulator --list "$SOCK"

# Istio 1.28's native backend, where nft is installed: the same pod,
# its rules moved from iptables to nftables.
if command -v nft >/dev/null; then
	step "9. the same rules in nftables (Istio 1.28's backend): A out, and in again"
	run ./cni-emulator/cni-emulator --del --redirect "$SOCK" "$A" || exit 1
	run ./cni-emulator/cni-emulator --redirect --redirect-backend nftables "$SOCK" "$A" || exit 1
	run ip netns exec "$A" python3 tests/helpers/traffic.py peer "$(scripts/topology.sh ip 2)" 8080
	echo "(each rule's counter: the call went out through 15001)"
	run ip netns exec "$A" nft list table inet istio-ambient-nat
fi

# ztunnel's DNS proxy (on by default since Istio 1.25): A's lookups are
# captured to its 15053 whatever server they ask (here the node's bridge
# address, where nothing serves DNS) and B's name answered by the daemon.
if command -v dig >/dev/null; then
	step "10. A looks B up by name: captured to A's 15053, answered by the daemon"
	run ip netns exec "$A" ss -nulp 'sport = :15053'
	run ip netns exec "$A" dig +noall +answer +comments @10.244.0.1 "$B.default.svc.cluster.local"
	run ip netns exec "$A" dig +short @10.244.0.1 "$B"
	echo "(a short name: expanded with A's search domains, as ztunnel does)"
fi

# Dual-stack: the pods have an IPv6 address too, and the same paths
# carry it (the rules for both families, one [::] listener a port).
step "11. A calls B over IPv6: the same path, the app sees A's IPv6 address"
run ip netns exec "$A" python3 tests/helpers/traffic.py peer "$(scripts/topology.sh ip6 2)" 8080
run ip netns exec "$A" ip -6 rule show
if command -v dig >/dev/null; then
	run ip netns exec "$A" dig +short @fd00:10:244::1 "$B.default.svc.cluster.local" AAAA
fi
