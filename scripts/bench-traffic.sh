#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench-traffic (and the end of make bench): pod-to-pod traffic on a
# node of its own (scripts/topology.sh), in one run, four ways:
#   direct   pod 1 -> pod 2, no rules, no proxy
#   plain    pod 3 -> pod 4, both enrolled, each with a daemon of its own
#            that does not know the other's pod: A's 15001 passes it
#            through as plain TCP, B's 15006 takes it in (splice)
#   hbone    pod 7 -> pod 8, both enrolled with one daemon: A's 15001,
#            an HTTP/2 CONNECT stream to B's 15008 (userspace copies)
#   socat    pod 5 -> pod 6 through two socat hops, what a user would
#            otherwise pick: socat in 5 forwarding to socat in 6
# Bulk throughput with iperf3 (RUNS runs of SECONDS each, median), and
# new-connection latency (connect, one byte there and back, close) with
# zt-load tcp-rtt (N connections).  Then fairness: an echo from pod 7 to
# pod 8's app through the HBONE daemon, PROBES round trips of 64 bytes on
# one connection, alone and while pod 5 (outside the mesh) floods pod
# 8's 15008 at full speed (tests/helpers/h2peer.py flood) or pushes a
# bulk flow through the same daemon.  Nothing passes or fails on a
# number.
#
#   RUNS=3 SECONDS_EACH=5 N=2000 PROBES=2000
set -u
cd "$(dirname "$0")/.." || exit 1

RUNS=${RUNS:-3}
T=${SECONDS_EACH:-5}
N=${N:-2000}
PROBES=${PROBES:-2000}
P=ztt$$
DIR=$(mktemp -d "/tmp/$P.XXXXXX")
SOCK=$DIR/zt.sock
LOAD=$PWD/tests/bench/zt-load
PIDS=()

for tool in iperf3 socat iptables-restore; do
	if ! command -v "$tool" >/dev/null; then
		echo "# bench-traffic: skipped, $tool missing (apt-get install iperf3 socat iptables)"
		exit 0
	fi
done

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	scripts/topology.sh down "$P"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip_of() { scripts/topology.sh ip "$1"; }
in_pod() {
	local i=$1
	shift
	nsenter "--net=/var/run/netns/$P-pod$i" "$@"
}
# bg I COMMAND...: in pod I, in the background; $! is the command itself
# (nsenter execs it), so the cleanup's kill reaches it.
bg() {
	local i=$1
	shift
	nsenter "--net=/var/run/netns/$P-pod$i" "$@" >/dev/null 2>&1 &
	PIDS+=($!)
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

scripts/topology.sh up "$P" 8 || exit 1
# daemon SOCK: one in the node's namespace; its pid in ZPID.
daemon() {
	nsenter "--net=/var/run/netns/$P-node" ztunnel-emulator/ztunnel-emulator -q \
	    --proxy "$1" >/dev/null 2>>"$DIR/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	for _ in $(seq 1 250); do
		[ -S "$1" ] && break
		sleep 0.02
	done
}
daemon "$DIR/zt4.sock"
cni-emulator/cni-emulator --redirect "$DIR/zt4.sock" "$P-pod4" >/dev/null || exit 1
daemon "$SOCK"
for i in 3 7 8; do
	cni-emulator/cni-emulator --redirect "$SOCK" "$P-pod$i" >/dev/null || exit 1
done
for i in 2 4 6 8; do
	bg "$i" iperf3 -s -p 5201
	bg "$i" "$LOAD" tcp-echo 7007
done
bg 8 python3 tests/helpers/traffic.py serve 8080
bg 5 socat TCP-LISTEN:9001,fork,reuseaddr "TCP:$(ip_of 6):9002"
bg 6 socat TCP-LISTEN:9002,fork,reuseaddr TCP:127.0.0.1:5201
sleep 0.5	# the servers' own start-up; nothing here is timed yet

# gbps FROM IP PORT: one iperf3 run, Gbit/s received.
gbps() {
	in_pod "$1" iperf3 -c "$2" -p "$3" -t "$T" -J 2>/dev/null |
	    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

echo "# machine: $(uname -sr), $(nproc) CPUs; $RUNS runs of ${T} s, $N connections"
for run in $(seq 1 "$RUNS"); do
	{
		printf '%s direct %s\n' "$run" "$(gbps 1 "$(ip_of 2)" 5201)"
		printf '%s plain %s\n' "$run" "$(gbps 3 "$(ip_of 4)" 5201)"
		printf '%s hbone %s\n' "$run" "$(gbps 7 "$(ip_of 8)" 5201)"
		printf '%s socat %s\n' "$run" "$(gbps 5 127.0.0.1 9001)"
	} >>"$DIR/tput"
done
d=$(awk '$2 == "direct" { print $3 }' "$DIR/tput" | median)
m=$(awk '$2 == "plain" { print $3 }' "$DIR/tput" | median)
h=$(awk '$2 == "hbone" { print $3 }' "$DIR/tput" | median)
s=$(awk '$2 == "socat" { print $3 }' "$DIR/tput" | median)

# The HBONE daemon's own CPU per connection (both ends of the tunnel),
# from /proc/PID/stat: utime + stime, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$ZPID/stat"; }
lat_direct=$(in_pod 1 "$LOAD" tcp-rtt "$(ip_of 2)" 7007 "$N")
lat_mesh=$(in_pod 3 "$LOAD" tcp-rtt "$(ip_of 4)" 7007 "$N")
t0=$(cpu_ticks)
lat_hbone=$(in_pod 7 "$LOAD" tcp-rtt "$(ip_of 8)" 7007 "$N")
t1=$(cpu_ticks)
cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN { printf "%.0f", d * 1e6 / hz / n }')
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
dp50=$(echo "$lat_direct" | field p50)
dp99=$(echo "$lat_direct" | field p99)
mp50=$(echo "$lat_mesh" | field p50)
mp99=$(echo "$lat_mesh" | field p99)
hp50=$(echo "$lat_hbone" | field p50)
hp99=$(echo "$lat_hbone" | field p99)

echo
printf '%-34s %12s %12s\n' "pod to pod (median of $RUNS)" "Gbit/s" "vs direct"
printf '%-34s %12s %12s\n' "direct (no rules, no proxy)" "$d" "1.00x"
printf '%-34s %12s %12s\n' "plaintext (15001 -> 15006)" "$m" "$(awk -v a="$m" -v b="$d" 'BEGIN { printf "%.2fx", a / b }')"
printf '%-34s %12s %12s\n' "HBONE (15001 -> 15008, h2c)" "$h" "$(awk -v a="$h" -v b="$d" 'BEGIN { printf "%.2fx", a / b }')"
printf '%-34s %12s %12s\n' "two socat hops" "$s" "$(awk -v a="$s" -v b="$d" 'BEGIN { printf "%.2fx", a / b }')"
echo
printf '%-34s %12s %12s\n' "new connection, us" p50 p99
printf '%-34s %12s %12s\n' "direct" "$dp50" "$dp99"
printf '%-34s %12s %12s\n' "plaintext" "$mp50" "$mp99"
printf '%-34s %12s %12s\n' "HBONE (a stream, pooled conn)" "$hp50" "$hp99"
echo "# the daemon's CPU per connection over HBONE (both ends): $cpu_us us"
echo
echo "# targets (reported, not asserted):"
echo "#   plaintext / direct throughput:  $(awk -v a="$m" -v b="$d" 'BEGIN { printf "%.2fx", a / b }') (target >= 0.6x)"
echo "#   plaintext / socat throughput:   $(awk -v a="$m" -v b="$s" 'BEGIN { printf "%.2fx", a / b }') (target >= 4x)"
echo "#   plaintext added connect p50:    $(awk -v a="$mp50" -v b="$dp50" 'BEGIN { printf "%.1f us", a - b }') (target <= 100 us)"
echo "#   HBONE / direct throughput:      $(awk -v a="$h" -v b="$d" 'BEGIN { printf "%.2fx", a / b }') (target >= 0.35x)"
echo "#   HBONE / socat throughput:       $(awk -v a="$h" -v b="$s" 'BEGIN { printf "%.2fx", a / b }') (target >= 2x)"
echo "#   HBONE / plaintext connect p50:  $(awk -v a="$hp50" -v b="$mp50" 'BEGIN { printf "%.2fx", a / b }') (target <= 1x)"

# --- fairness: one loop, every pod ------------------------------------------

# probe: PROBES echo round trips pod 7 -> pod 8 (HBONE), "p50 p99 max" ms.
probe() {
	in_pod 7 timeout 120 python3 tests/helpers/traffic.py probe "$(ip_of 8)" 8080 "$PROBES" |
	    awk '$1 == "probe" { print $4, $6, $8 }'
}
# during KIND: the probe while pod 5 floods pod 8's 15008 with KIND.
during() {
	local pid r
	nsenter "--net=/var/run/netns/$P-pod5" python3 tests/helpers/h2peer.py flood \
	    "$(ip_of 8)" 15008 "$1" "$DIR/tally" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 500); do
		[ "$(cat "$DIR/tally" 2>/dev/null || echo 0)" -gt 1000000 ] && break
		sleep 0.02
	done
	r=$(probe)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$DIR/tally"
	echo "$r"
}
# during_bulk FROM TO: the probe while iperf3 runs from pod FROM to pod
# TO: 3 -> 4 is another pod's flow through the same daemon (pod 3's
# 15001); 7 -> 8 shares the probe's own HTTP/2 connection.
during_bulk() {
	local pid r
	in_pod "$1" iperf3 -c "$(ip_of "$2")" -p 5201 -t 60 >/dev/null 2>&1 &
	pid=$!
	sleep 1	# iperf3's own start-up; not a sync point of ours
	r=$(probe)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$r"
}
quiet=$(probe)
echo
printf '%-34s %12s %12s %12s\n' "echo through HBONE, 64 B, ms" p50 p99 max
# shellcheck disable=SC2086  # three fields
printf '%-34s %12s %12s %12s\n' "alone" $quiet
for kind in settings_ack ping_ack window_update hpack_400; do
	# shellcheck disable=SC2046,SC2183  # three fields
	printf '%-34s %12s %12s %12s\n' "during a ${kind} flood" $(during "$kind")
done
# shellcheck disable=SC2046,SC2183
printf '%-34s %12s %12s %12s\n' "during another pod's bulk flow" $(during_bulk 3 4)
# shellcheck disable=SC2046,SC2183
printf '%-34s %12s %12s %12s\n' "during bulk on the same connection" $(during_bulk 7 8)
echo "# target (reported, not asserted): p99 during a flood under 50 ms"
echo "# a bulk flow on the probe's own HTTP/2 connection delays it by what"
echo "# waits in the one TCP connection ahead of it (head-of-line), as in"
echo "# ztunnel, which pools the same way; another pod's flow shares only"
echo "# the loop"
