#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A self-contained node, as a kind cluster's: a node namespace with a
# bridge, and pods on veth pairs with addresses from 10.244.0.0/24.
# Nothing is added to the host's own namespace: no address, no route, no
# rule, and no traffic leaves the node namespace's bridge.
#
#   scripts/topology.sh up PREFIX N    node PREFIX-node (bridge br0,
#                                      10.244.0.1), pods PREFIX-pod1..N
#                                      (10.244.0.11.. on eth0, lo up,
#                                      default route via 10.244.0.1)
#   scripts/topology.sh down PREFIX    delete them all
#   scripts/topology.sh ip I           pod I's address
#
# The daemon runs inside the node namespace, as the real ztunnel runs in
# its own pod: ip netns exec PREFIX-node ztunnel-emulator --proxy ...
set -eu

pod_ip() { echo "10.244.0.$((10 + $1))"; }

up() {
	local p=$1 n=$2 i node=$1-node pod
	ip netns add "$node"
	ip -n "$node" link set lo up
	ip -n "$node" link add br0 type bridge
	ip -n "$node" addr add 10.244.0.1/24 dev br0
	ip -n "$node" link set br0 up
	for i in $(seq 1 "$n"); do
		pod=$p-pod$i
		ip netns add "$pod"
		ip -n "$pod" link set lo up
		ip -n "$node" link add "vpod$i" type veth peer name eth0 netns "$pod"
		ip -n "$node" link set "vpod$i" master br0 up
		ip -n "$pod" addr add "$(pod_ip "$i")/24" dev eth0
		ip -n "$pod" link set eth0 up
		ip -n "$pod" route add default via 10.244.0.1
	done
}

down() {
	local ns
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E "^$1-(node|pod[0-9]+)$"); do
		ip netns del "$ns" 2>/dev/null || true
	done
}

case "${1:-}" in
up)	[ $# -eq 3 ] || { echo "usage: $0 up PREFIX N" >&2; exit 1; }
	up "$2" "$3" ;;
down)	[ $# -eq 2 ] || { echo "usage: $0 down PREFIX" >&2; exit 1; }
	down "$2" ;;
ip)	[ $# -eq 2 ] || { echo "usage: $0 ip I" >&2; exit 1; }
	pod_ip "$2" ;;
*)	echo "usage: $0 up PREFIX N | down PREFIX | ip I" >&2
	exit 1 ;;
esac
