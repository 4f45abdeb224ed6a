#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench-upgrade (and the end of make bench): what an upgrade costs,
# on a node of its own (scripts/topology.sh).  For each count of open
# plain connections (COUNTS), from pod 1 (enrolled) to pod 2's app
# (outside the mesh), a new ztunnel-emulator takes over with --handover:
#   handover ms      from the new one's start to its "took N connections"
#   listeners        whether pod 1's listening sockets are the same ones
#                    after (the time without a listener is then nil)
#   moved / ended    connections carried on by the new one / ended
# and, while it happens, four connections echo 4 KiB every 10 ms and
# check every byte (bytes lost, resets).  Then Istio's way on the same
# load for comparison: the new one beside the old, SIGTERM to the old,
# whose long connections end at its deadline.  Nothing passes or fails
# on a number.
#
#   COUNTS="10 1000"
set -u
cd "$(dirname "$0")/.." || exit 1

# until_ok: polling with a deadline, as the demos do.
# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

COUNTS=${COUNTS:-10 1000}
P=zth$$
STOP_SIGNAL=KILL

bench_needs bench-upgrade iptables-restore:iptables
bench_begin "$P"
SOCK=$DIR/zt.sock
TOPOS=("$P")

# daemon NAME SOCK ARGS...: in the node's namespace, pid in ZPID_NAME.
daemon() {
	local name=$1 sock=$2
	shift 2
	nsenter "--net=/var/run/netns/$P-node" ztunnel-emulator/ztunnel-emulator \
	    --proxy "$@" "$sock" >/dev/null 2>"$DIR/$name.err" &
	PIDS+=($!)
	printf -v "ZPID_$name" %s $!
}
ZPID_old=''
gone() { ! kill -0 "$1" 2>/dev/null; }
# open_conns SOCK: pod 1's open connections in that daemon.
open_conns() { cni-emulator/cni-emulator --list "$1" | awk -v n="$P-pod1" '$1 == n { print $3 }'; }
# Pod 1's listening sockets (not the DNS proxy's: each instance binds
# its own, see ztunnel-emulator(8)).
inodes() { in_pod 1 ss -Htlne 2>/dev/null | awk '$4 !~ /:15053$/' | grep -o 'ino:[0-9]*' | sort | tr '\n' ' '; }
# A log line's time (RFC 3339, UTC) as ms since the epoch.
log_ms() { date -u -d "$(grep -m1 -- "$2" "$1" | cut -f1)" +%s%3N; }

scripts/topology.sh up "$P" 2 || exit 1
in_pod 2 python3 tests/helpers/traffic.py serve 8080 >"$DIR/app.out" 2>&1 &
PIDS+=($!)
until_ok 10 grep -q listening "$DIR/app.out" || exit 1

echo "# machine: $(uname -sr), $(nproc) CPUs"
printf '%-10s %-11s %10s %-12s %6s %6s %12s %7s\n' way conns "upgrade ms" \
    listeners moved ended "bytes lost" resets
for n in $COUNTS; do
	for way in handover istio; do
		rm -f "$DIR"/stop "$DIR"/*.out "$DIR"/*.err
		daemon old "$SOCK" --drain-deadline 2 --handover "$DIR/ho.sock"
		until_ok 10 cni-emulator/cni-emulator --list "$SOCK" || exit 1
		cni-emulator/cni-emulator --redirect "$SOCK" "$P-pod1" >/dev/null || exit 1
		# Held connections: 1000 need more than python's 1024 fds.
		in_pod 1 bash -c 'ulimit -n 8192; exec python3 tests/helpers/traffic.py hold "$@"' _ \
		    "$(ip_of 2)" 8080 "$n" >"$DIR/hold.out" 2>&1 &
		PIDS+=($!)
		in_pod 1 python3 tests/helpers/traffic.py longs "$(ip_of 2)" 8080 4 "$DIR/stop" \
		    >"$DIR/longs.out" 2>&1 &
		PIDS+=($!)
		until_ok 60 grep -q "held $n" "$DIR/hold.out" || exit 1
		until_ok 10 grep -q "longs open" "$DIR/longs.out" || exit 1
		before=$(inodes)
		t0=$(date -u +%s%3N)
		if [ "$way" = handover ]; then
			daemon new "$SOCK" --drain-deadline 2 --handover "$DIR/ho.sock"
			until_ok 60 grep -q "took [0-9]* connections from" "$DIR/new.err" || exit 1
			ms=$(($(log_ms "$DIR/new.err" "took [0-9]* connections from") - t0))
			until_ok 10 gone "$ZPID_old"
			sock=$SOCK
		else
			# Beside the old one, as the node agent would give it
			# the pod: its own listeners, SO_REUSEPORT.
			sock=$DIR/zt2.sock
			daemon new "$sock" --drain-deadline 2
			until_ok 10 cni-emulator/cni-emulator --list "$sock" || exit 1
			cni-emulator/cni-emulator "$sock" "$P-pod1" >/dev/null || exit 1
			kill -TERM "$ZPID_old"
			until_ok 10 gone "$ZPID_old"
			ms=$(($(date -u +%s%3N) - t0))
		fi
		after=$(inodes)
		same=$([ "$before" = "$after" ] && echo same || echo new)
		moved=$(grep -o 'took [0-9]* connections from' "$DIR/new.err" | grep -o '[0-9]*' | head -1)
		open=$(open_conns "$sock")
		ended=$((n + 4 - ${open%%/*}))
		touch "$DIR/stop"
		until_ok 30 grep -q "^longs 4:" "$DIR/longs.out"
		lost=$(sed -n 's/.* \([0-9]*\) different.*/\1/p' "$DIR/longs.out")
		resets=$(sed -n 's/.* \([0-9]*\) reset,.*/\1/p' "$DIR/longs.out")
		printf '%-10s %-11s %10s %-12s %6s %6s %12s %7s\n' "$way" "$n" "$ms" \
		    "$same" "${moved:-0}" "$ended" "${lost:-?}" "${resets:-?}"
		for pid in "${PIDS[@]:1}"; do
			kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
		done
		PIDS=("${PIDS[0]}")
		rm -f "$DIR"/*.sock
	done
done
echo "# istio: the new one binds beside the old (SO_REUSEPORT) and the old one"
echo "# drains; its long connections end at its deadline (2 s here)."
