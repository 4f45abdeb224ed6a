#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench-dns (and part of make bench): the DNS proxy on 15053, on a
# node of its own (scripts/topology.sh).  Pod 1 is enrolled (its DNS is
# captured), pod 2 is enrolled (its name is the one answered locally),
# pod 3 runs the upstream (tests/helpers/dnsup.py, Python), pod 4 is
# outside the mesh and asks the upstream directly.  For each path, RUNS
# runs of: one query at a time (p50, p99: the latency) and 32 in flight
# for SECONDS (queries answered per second), from tests/bench/dnsload.py:
#   answered here    pod 1 -> captured -> 15053, a pod's name
#   forwarded        pod 1 -> captured -> 15053 -> from inside pod 1 -> upstream
#   direct           pod 4 -> upstream, the same name
# and the latency a lookup through 15053 adds over asking the same
# upstream directly.  Nothing passes or fails on a number.
set -u
cd "$(dirname "$0")/.." || exit 1

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

RUNS=${RUNS:-3}
SECONDS_QPS=${SECONDS_QPS:-3}
COUNT=${COUNT:-2000}
P=ztd$$
LOAD=tests/bench/dnsload.py
STOP_SIGNAL=KILL

bench_needs bench-dns iptables-restore:iptables python3:python3
bench_begin "$P"
SOCK=$DIR/zt.sock
TOPOS=("$P")

scripts/topology.sh up "$P" 4 || exit 1
in_pod 3 python3 tests/helpers/dnsup.py >"$DIR/up.out" 2>&1 &
PIDS+=($!)
until_ok 10 grep -q listening "$DIR/up.out" || exit 1
nsenter "--net=/var/run/netns/$P-node" ztunnel-emulator/ztunnel-emulator -q \
    --proxy --dns-upstream "$(ip_of 3)" "$SOCK" >/dev/null 2>"$DIR/zt.err" &
PIDS+=($!)
until_ok 10 test -S "$SOCK" || exit 1
for i in 1 2; do
	cni-emulator/cni-emulator --redirect "$SOCK" "$P-pod$i" >/dev/null || exit 1
done

LOCAL=$P-pod2.default.svc.cluster.local
UP=$(ip_of 3)
# measure PATH POD NAME: RUNS runs of each measure, one CSV line each.
measure() {
	local path=$1 pod=$2 name=$3 r k1 v1 k2 v2
	for r in $(seq 1 "$RUNS"); do
		read -r k1 v1 k2 v2 < <(in_pod "$pod" python3 "$LOAD" lat "$UP" 53 "$name" "$COUNT")
		echo "$path,$k1,$v1,$r"
		echo "$path,$k2,$v2,$r"
		read -r k1 v1 k2 v2 < <(in_pod "$pod" python3 "$LOAD" qps "$UP" 53 "$name" "$SECONDS_QPS")
		echo "$path,$k1,$v1,$r"
		echo "$path,$k2,$v2,$r"
	done
}
{
	measure "answered here" 1 "$LOCAL"
	measure forwarded 1 www.example.test
	measure direct 4 www.example.test
} >"$DIR/csv"

# med PATH METRIC: the median of the runs, and their range.
med() {
	grep "^$1,$2," "$DIR/csv" | cut -d, -f3 | sort -g |
	    awk '{ v[NR] = $1 } END { printf "%s (%s-%s)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
median() { grep "^$1,$2," "$DIR/csv" | cut -d, -f3 | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "# DNS through 15053: $RUNS runs each, median (min-max); client and upstream are Python"
printf '%-14s %-22s %-22s %-24s %s\n' path "p50 us" "p99 us" "queries/s (32 in flight)" lost
for path in "answered here" forwarded direct; do
	printf '%-14s %-22s %-22s %-24s %s\n' "$path" "$(med "$path" p50_us)" \
	    "$(med "$path" p99_us)" "$(med "$path" qps)" "$(med "$path" lost)"
done
echo "# a lookup through 15053 adds $(( $(median forwarded p50_us) - $(median direct p50_us) )) us (p50) over asking the upstream directly"
echo "# forwarded / direct queries per second: $(awk -v a="$(median forwarded qps)" -v b="$(median direct qps)" 'BEGIN { printf "%.2fx", a / b }')"
echo "# answered here / direct queries per second: $(awk -v a="$(median "answered here" qps)" -v b="$(median direct qps)" 'BEGIN { printf "%.2fx", a / b }')"
