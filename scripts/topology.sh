#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Self-contained nodes, as a kind cluster's: a node namespace with a
# bridge, and pods on veth pairs with addresses from the node's pod CIDR.
# Nothing is added to the host's own namespace: no address, no route, no
# rule, and no traffic leaves the nodes' namespaces.
#
#   scripts/topology.sh up PREFIX N    node PREFIX-node (bridge br0,
#                                      10.244.0.1, fd00:10:244::1), pods
#                                      PREFIX-pod1..N (10.244.0.11.. and
#                                      fd00:10:244::11.. on eth0, lo up,
#                                      default routes via the bridge)
#   scripts/topology.sh up2 PREFIX N   two nodes, PREFIX-node1 and -node2,
#                                      pod CIDRs 10.244.1.0/24 and
#                                      10.244.2.0/24 (fd00:10:244:1::/64
#                                      and fd00:10:244:2::/64), N pods
#                                      each (PREFIX-n1pod1..,
#                                      PREFIX-n2pod1..), linked by a veth
#                                      (10.244.255.1 and .2/30,
#                                      fd00:10:244:ff::1 and ::2) with
#                                      routes to each other's pods,
#                                      forwarding on: the path between
#                                      two nodes of a cluster
#   scripts/topology.sh down PREFIX    delete them all
#   scripts/topology.sh ip I           pod I's address (one node)
#   scripts/topology.sh ip2 K I        pod I's address on node K
#   scripts/topology.sh ip6 I          the same, IPv6 (dual-stack pods:
#   scripts/topology.sh ip62 K I       ULA, inside these namespaces only)
#
# The daemon runs inside the node namespace, as the real ztunnel runs in
# its own pod: ip netns exec PREFIX-node ztunnel-emulator --proxy ...
set -eu

pod_ip() { echo "10.244.0.$((10 + $1))"; }
pod_ip2() { echo "10.244.$1.$((10 + $2))"; }
pod_ip6() { echo "fd00:10:244::$((10 + $1))"; }
pod_ip62() { echo "fd00:10:244:$1::$((10 + $2))"; }

# node NODE SUBNET POD_PREFIX N: a node namespace, bridge at
# 10.244.SUBNET.1/24 and fd00:10:244:SUBNET::1/64, pods POD_PREFIX1..N at
# 10.244.SUBNET.11.. and fd00:10:244:SUBNET::11..  IPv6 addresses skip
# duplicate address detection (nodad): usable at once, and these
# namespaces hold nobody else to clash with.
node() {
	local node=$1 net=$2 pp=$3 n=$4 i pod
	ip netns add "$node"
	ip -n "$node" link set lo up
	ip -n "$node" link add br0 type bridge
	ip -n "$node" addr add "10.244.$net.1/24" dev br0
	ip -n "$node" addr add "fd00:10:244:$net::1/64" dev br0 nodad
	ip -n "$node" link set br0 up
	for i in $(seq 1 "$n"); do
		pod=$pp$i
		ip netns add "$pod"
		ip -n "$pod" link set lo up
		ip -n "$node" link add "vpod$i" type veth peer name eth0 netns "$pod"
		ip -n "$node" link set "vpod$i" master br0 up
		ip -n "$pod" addr add "10.244.$net.$((10 + i))/24" dev eth0
		ip -n "$pod" addr add "fd00:10:244:$net::$((10 + i))/64" \
		    dev eth0 nodad
		ip -n "$pod" link set eth0 up
		ip -n "$pod" route add default via "10.244.$net.1"
		ip -n "$pod" -6 route add default via "fd00:10:244:$net::1"
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
	ip -n "$p-node1" addr add fd00:10:244:ff::1/64 dev link0 nodad
	ip -n "$p-node2" addr add fd00:10:244:ff::2/64 dev link0 nodad
	ip -n "$p-node1" link set link0 up
	ip -n "$p-node2" link set link0 up
	ip -n "$p-node1" route add 10.244.2.0/24 via 10.244.255.2
	ip -n "$p-node2" route add 10.244.1.0/24 via 10.244.255.1
	ip -n "$p-node1" -6 route add fd00:10:244:2::/64 via fd00:10:244:ff::2
	ip -n "$p-node2" -6 route add fd00:10:244:1::/64 via fd00:10:244:ff::1
	# Per namespace: the host's own setting is not touched.
	# /proc/sys/net is the reader's namespace's: no sysctl(8) needed.
	local nd
	for nd in "$p-node1" "$p-node2"; do
		ip netns exec "$nd" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward &&
		    echo 1 >/proc/sys/net/ipv6/conf/all/forwarding'
	done
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
ip6)	[ $# -eq 2 ] || { echo "usage: $0 ip6 I" >&2; exit 1; }
	pod_ip6 "$2" ;;
ip62)	[ $# -eq 3 ] || { echo "usage: $0 ip62 K I" >&2; exit 1; }
	pod_ip62 "$2" "$3" ;;
down)	[ $# -eq 2 ] || { echo "usage: $0 down PREFIX" >&2; exit 1; }
	down "$2" ;;
ip)	[ $# -eq 2 ] || { echo "usage: $0 ip I" >&2; exit 1; }
	pod_ip "$2" ;;
*)	echo "usage: $0 up|up2 PREFIX N | down PREFIX | ip|ip6 I | ip2|ip62 K I" >&2
	exit 1 ;;
esac
