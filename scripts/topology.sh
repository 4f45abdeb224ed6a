#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Self-contained nodes, as a kind cluster's: a node namespace with a
# bridge, and pods on veth pairs with addresses from the node's pod CIDR.
# Nothing is added to the host's own namespace: no address, no route, no
# rule, and no traffic leaves the nodes' namespaces.
#
#   scripts/topology.sh up PREFIX N    node PREFIX-node (bridge br0,
#                                      10.244.0.1), pods PREFIX-pod1..N
#                                      (10.244.0.11.. on eth0, lo up,
#                                      default route via 10.244.0.1)
#   scripts/topology.sh up2 PREFIX N   two nodes, PREFIX-node1 and -node2,
#                                      pod CIDRs 10.244.1.0/24 and
#                                      10.244.2.0/24, N pods each
#                                      (PREFIX-n1pod1.., PREFIX-n2pod1..),
#                                      linked by a veth (10.244.255.1 and
#                                      .2/30) with a route to each other's
#                                      pods, forwarding on: the path
#                                      between two nodes of a cluster
#   scripts/topology.sh down PREFIX    delete them all
#   scripts/topology.sh ip I           pod I's address (one node)
#   scripts/topology.sh ip2 K I        pod I's address on node K
#
# The daemon runs inside the node namespace, as the real ztunnel runs in
# its own pod: ip netns exec PREFIX-node ztunnel-emulator --proxy ...
set -eu

pod_ip() { echo "10.244.0.$((10 + $1))"; }
pod_ip2() { echo "10.244.$1.$((10 + $2))"; }

# node NODE SUBNET POD_PREFIX N: a node namespace, bridge at
# 10.244.SUBNET.1/24, pods POD_PREFIX1..N at 10.244.SUBNET.11..
node() {
	local node=$1 net=$2 pp=$3 n=$4 i pod
	ip netns add "$node"
	ip -n "$node" link set lo up
	ip -n "$node" link add br0 type bridge
	ip -n "$node" addr add "10.244.$net.1/24" dev br0
	ip -n "$node" link set br0 up
	for i in $(seq 1 "$n"); do
		pod=$pp$i
		ip netns add "$pod"
		ip -n "$pod" link set lo up
		ip -n "$node" link add "vpod$i" type veth peer name eth0 netns "$pod"
		ip -n "$node" link set "vpod$i" master br0 up
		ip -n "$pod" addr add "10.244.$net.$((10 + i))/24" dev eth0
		ip -n "$pod" link set eth0 up
		ip -n "$pod" route add default via "10.244.$net.1"
	done
}

up() {
	node "$1-node" 0 "$1-pod" "$2"
}

up2() {
	local p=$1 n=$2
	node "$p-node1" 1 "$p-n1pod" "$n"
	node "$p-node2" 2 "$p-n2pod" "$n"
	ip -n "$p-node1" link add link0 type veth peer name link0 netns "$p-node2"
	ip -n "$p-node1" addr add 10.244.255.1/30 dev link0
	ip -n "$p-node2" addr add 10.244.255.2/30 dev link0
	ip -n "$p-node1" link set link0 up
	ip -n "$p-node2" link set link0 up
	ip -n "$p-node1" route add 10.244.2.0/24 via 10.244.255.2
	ip -n "$p-node2" route add 10.244.1.0/24 via 10.244.255.1
	# Per namespace: the host's own setting is not touched.
	# /proc/sys/net is the reader's namespace's: no sysctl(8) needed.
	ip netns exec "$p-node1" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
	ip netns exec "$p-node2" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
}

down() {
	local ns
	# The names, not `ip netns list`: that opens each entry, and a FIFO
	# there (a test of the agent puts one) would hang it.
	for ns in /var/run/netns/"$1"-*; do
		ns=${ns##*/}
		[[ "$ns" =~ ^$1-(node[12]?|pod[0-9]+|n[12]pod[0-9]+)$ ]] || continue
		ip netns del "$ns" 2>/dev/null || true
	done
}

case "${1:-}" in
up)	[ $# -eq 3 ] || { echo "usage: $0 up PREFIX N" >&2; exit 1; }
	up "$2" "$3" ;;
up2)	[ $# -eq 3 ] || { echo "usage: $0 up2 PREFIX N" >&2; exit 1; }
	up2 "$2" "$3" ;;
ip2)	[ $# -eq 3 ] || { echo "usage: $0 ip2 K I" >&2; exit 1; }
	pod_ip2 "$2" "$3" ;;
down)	[ $# -eq 2 ] || { echo "usage: $0 down PREFIX" >&2; exit 1; }
	down "$2" ;;
ip)	[ $# -eq 2 ] || { echo "usage: $0 ip I" >&2; exit 1; }
	pod_ip "$2" ;;
*)	echo "usage: $0 up|up2 PREFIX N | down PREFIX | ip I | ip2 K I" >&2
	exit 1 ;;
esac
