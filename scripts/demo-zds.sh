#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make demo-zds: Istio's real handoff protocol, ZDS, with both roles played
# by our programs, in throwaway namespaces.  Prints every command before
# running it; cleans up on exit, error or ^C.  Needs root.
set -u
cd "$(dirname "$0")/.." || exit 1

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
need demo-zds ip:iproute2 ss:iproute2

P=zdsdemo-$$
DIR=$(mktemp -d /tmp/zt-demo.XXXXXX)
AGENT=$DIR/zds.sock
SOCK=$DIR/zt.sock
PIDS=()

cleanup() {
	local i
	echo
	echo "# cleaning up"
	# ztunnel first, then the agent: last started, first stopped.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null && wait "${PIDS[i]}"
	done
	for ns in /var/run/netns/"$P"-*; do
		[ -e "$ns" ] || continue
		ns=${ns##*/}
		ip netns del "$ns"
	done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

agent_up() { ss -Hxl | grep -qF " $AGENT "; }
listed_up() { ./cni-emulator/cni-emulator --list "$SOCK" | grep -q "default/$1 *up"; }
gone() { ! ./cni-emulator/cni-emulator --list "$SOCK" | grep -q "default/$1 "; }

step "1. two pods already exist when the node agent starts"
for n in a b; do
	run ip netns add "$P-$n" || exit 1
	run ip -n "$P-$n" link set lo up || exit 1
done

step "2. the node agent listens (SOCK_SEQPACKET) and watches /var/run/netns,"
echo "#    taking only this demo's namespaces (--select): nothing else is touched"
printf '$ %s &\n' "./cni-emulator/cni-emulator --zds-serve $AGENT --watch --select '$P-*'"
./cni-emulator/cni-emulator --zds-serve "$AGENT" --watch --select "$P-*" &
PIDS+=($!)
until_ok 10 agent_up

step "3. ztunnel connects to it, says hello, and gets a snapshot of both pods"
printf '$ %s &\n' "./ztunnel-emulator/ztunnel-emulator --zds $AGENT $SOCK"
./ztunnel-emulator/ztunnel-emulator --zds "$AGENT" "$SOCK" >/dev/null &
PIDS+=($!)
until_ok 10 listed_up "$P-b"
run ./cni-emulator/cni-emulator --list "$SOCK"

step "4. a pod appears: the agent sends an Add (lo may come up a moment late:"
echo "#    then the pod is pending until ztunnel's retry, 5 s later)"
run ip netns add "$P-c" && run ip -n "$P-c" link set lo up
until_ok 20 listed_up "$P-c"
run ./cni-emulator/cni-emulator --list "$SOCK"
run ip netns exec "$P-c" ss -ntlp

step "5. a pod goes: the agent sends a Del"
run ip netns del "$P-a"
until_ok 10 gone "$P-a"
run ./cni-emulator/cni-emulator --list "$SOCK"
