#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make demo: the seed's walkthrough in a throwaway network namespace.
# Prints every command before running it; cleans up on exit, error or ^C.
# Needs root (network namespaces).  Uses nc for the connection test when it
# is installed, bash's /dev/tcp otherwise.
set -u
cd "$(dirname "$0")/.." || exit 1

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
need demo ip:iproute2 ss:iproute2

NS=demo-$$
DIR=$(mktemp -d /tmp/zt-demo.XXXXXX)
SOCK=$DIR/zt.sock
ZPID=

cleanup() {
	echo
	echo "# cleaning up"
	if [ -n "$ZPID" ] && kill -0 "$ZPID" 2>/dev/null; then
		kill -TERM "$ZPID"
		wait "$ZPID"
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1. a pod's network namespace, with loopback up"
run ip netns add "$NS" || exit 1
run ip -n "$NS" link set lo up || exit 1
run ip -n "$NS" link show || exit 1

step "2. ztunnel-emulator: one daemon, in the node's namespace"
printf '$ %s &\n' "./ztunnel-emulator/ztunnel-emulator $SOCK"
./ztunnel-emulator/ztunnel-emulator "$SOCK" &
ZPID=$!
for _ in $(seq 1 250); do
	ss -Hxl | grep -q "$SOCK" && break
	sleep 0.02
done

step "3. nothing listens in the pod yet"
run ip netns exec "$NS" ss -ntlp

step "4. cni-emulator hands the pod's netns fd to the daemon (SCM_RIGHTS)"
run ./cni-emulator/cni-emulator "$SOCK" "/var/run/netns/$NS" || exit 1
echo "(exit status $?: the daemon acknowledged)"

step "5. the daemon's listeners, inside the pod's namespace"
run ip netns exec "$NS" ss -ntlp

step "6. they answer from inside the pod; 15002 is nobody's"
for port in 15008 15006 15001 15002; do
	if command -v nc >/dev/null; then
		run ip netns exec "$NS" nc -v -z -w 2 localhost "$port"
	else
		run ip netns exec "$NS" bash -c \
		    "exec 3<>/dev/tcp/127.0.0.1/$port && cat <&3"
	fi
done

step "7. and not in the node's namespace, where the daemon runs"
run readlink "/proc/$ZPID/ns/net" /proc/self/ns/net
printf '$ ss -ntlp | grep pid=%s\n' "$ZPID"
ss -ntlp | grep "pid=$ZPID," || echo "(none)"
