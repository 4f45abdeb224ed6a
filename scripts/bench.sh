#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench: how fast, against the kernel's own floor, measured in the
# same run.  Prints tables and writes every number to a CSV.  Nothing here
# passes or fails on a timing: targets are reported against.
#
#   RUNS=5        repetitions of each measurement (the spread is reported)
#   PODS=4000     the largest level of the scaling run
#   N=1000        pods per ZDS / floor measurement; CLI=500 handoffs
#
# Everything runs on CPU 0 (taskset): a wake-up then switches tasks instead
# of interrupting another CPU, which in a VM costs a VM exit each way and
# says more about the hypervisor than about us.  The daemon runs with -q.
set -u
cd "$(dirname "$0")/.." || exit 1

RUNS=${RUNS:-5}
PODS=${PODS:-4000}
N=${N:-1000}
CLI=${CLI:-500}
LOAD=tests/bench/zt-load
ZT=ztunnel-emulator/ztunnel-emulator
CNI=cni-emulator/cni-emulator
P=ztb$$
WORK=$(mktemp -d "/tmp/$P.XXXXXX")
OUTDIR=bench-results
CSV=$OUTDIR/bench-$(date -u +%Y%m%d-%H%M%S).csv
ZPID=

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (network namespaces)" >&2
	exit 1
fi

cleanup() {
	[ -n "$ZPID" ] && kill "$ZPID" 2>/dev/null && wait "$ZPID"
	seq 1 "$N" | sed "s/^/netns del $P-/" | ip -force -batch - 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN=(taskset -c 0)	# taskset execs the command: $! is the command
pin() { "${PIN[@]}" "$@"; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
# record RUN METRIC VALUE
record() { echo "$1,$2,$3" >>"$CSV"; }

start_zt() {
	"${PIN[@]}" "$ZT" -q "$@" >/dev/null 2>"$WORK/zt.err" &
	ZPID=$!
}
stop_zt() {
	kill "$ZPID" && wait "$ZPID"
	ZPID=
}
wait_sock() {
	local _
	for _ in $(seq 1 250); do
		ss -Hxl | grep -qF " $1 " && return 0
		sleep 0.02
	done
	return 1
}

mkdir -p "$OUTDIR"
echo "run,metric,value" >"$CSV"

echo "# machine: $(uname -sr), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem/ { print $2 }') GiB"
echo "# $RUNS runs; $N pods per ZDS and floor run, $CLI CLI handoffs"
seq 1 "$N" | sed "s/^/netns add $P-/" | ip -batch - || exit 1
"$LOAD" lo-up "$P" 1 "$N" || exit 1

for run in $(seq 1 "$RUNS"); do
	# The kernel floor: setns, 3 x socket/bind/listen, setns back, close.
	out=$(pin "$LOAD" floor "$P" 1 "$N") || exit 1
	record "$run" floor_p50_us "$(echo "$out" | grep '^floor ' | field p50)"
	record "$run" floor_cpu_us "$(echo "$out" | grep '^floor-cpu' | field us_per_pod)"

	out=$(pin "$LOAD" spawn "$CLI" tests/bench/true) || exit 1
	record "$run" spawn_p50_us "$(echo "$out" | field p50)"

	# End to end through the CLI: one cni-emulator process per handoff.
	start_zt "$WORK/zt.sock"
	wait_sock "$WORK/zt.sock" || exit 1
	out=$(pin "$LOAD" cli "$CNI" "$WORK/zt.sock" "$P" 1 "$CLI") || exit 1
	for q in p50 p90 p99; do
		record "$run" "cli_${q}_us" "$(echo "$out" | field "$q")"
	done
	"$LOAD" del "$WORK/zt.sock" "$P" 1 "$CLI" >/dev/null || exit 1
	stop_zt

	# One ZDS connection, the driver playing the node agent.
	"${PIN[@]}" "$LOAD" zds "$WORK/zds.sock" "$P" 1 "$N" >"$WORK/zds.out" &
	drv=$!
	wait_sock "$WORK/zds.sock" || exit 1
	start_zt --zds "$WORK/zds.sock"
	wait "$drv" || exit 1
	stop_zt
	out=$(cat "$WORK/zds.out")
	record "$run" zds_add_cpu_us "$(echo "$out" | grep '^zds-add-cpu' | field us_per_pod)"
	record "$run" zds_del_cpu_us "$(echo "$out" | grep '^zds-del-cpu' | field us_per_pod)"
	record "$run" zds_add_rate_per_s "$(echo "$out" | grep '^zds-add-rate' | field per_s)"
	record "$run" zds_add_p50_us "$(echo "$out" | grep '^zds-add ' | field p50)"
	record "$run" zds_del_p50_us "$(echo "$out" | grep '^zds-del ' | field p50)"

	# The same driver against a bare ztunnel that does only the
	# handoff (zt-load zds-bare), and one that also has the checks and
	# options the daemon must: the yardsticks for the daemon's CPU.
	for bare in "" checks; do
		"${PIN[@]}" "$LOAD" zds "$WORK/zds.sock" "$P" 1 "$N" >"$WORK/zds.out" &
		drv=$!
		wait_sock "$WORK/zds.sock" || exit 1
		# shellcheck disable=SC2086  # "": no argument
		"${PIN[@]}" "$LOAD" zds-bare "$WORK/zds.sock" $bare &
		bpid=$!
		wait "$drv" || exit 1
		wait "$bpid"
		record "$run" "zds_bare${bare:+_$bare}_add_cpu_us" \
		    "$(grep '^zds-add-cpu' "$WORK/zds.out" | field us_per_pod)"
	done

	if [ "$run" -eq 1 ]; then
		pin "$LOAD" ledger "$P" 1 "$N" >"$WORK/ledger" || exit 1
	fi
	printf '# run %d done\n' "$run"
done

# median / min / max of one metric over the runs
stat() {
	grep ",$1," "$CSV" | cut -d, -f3 | sort -g | awk '
	    { v[NR] = $1 }
	    END { printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
read -r add_cpu _ <<<"$(stat zds_add_cpu_us)"

echo
printf '%-44s %10s %10s %10s\n' "per pod, microseconds (median of $RUNS)" median min max
for m in floor_p50_us floor_cpu_us zds_add_cpu_us zds_bare_add_cpu_us \
    zds_bare_checks_add_cpu_us zds_del_cpu_us zds_add_p50_us \
    zds_del_p50_us zds_add_rate_per_s spawn_p50_us cli_p50_us cli_p90_us cli_p99_us; do
	read -r med lo hi <<<"$(stat "$m")"
	printf '%-44s %10s %10s %10s\n' "$m" "$med" "$lo" "$hi"
done
# Each run's own ratio, then their spread: the machine drifts between runs.
spread() {
	paste -d, <(grep ",$1," "$CSV" | cut -d, -f3) <(grep ",$2," "$CSV" | cut -d, -f3) |
	    awk -F, '{ printf "%.4f\n", $1 / $2 }' | sort -g |
	    awk '{ r[NR] = $1 } END {
	        printf "%.2fx (runs: %.2f to %.2f)", r[int((NR + 1) / 2)], r[1], r[NR] }'
}
echo
echo "# targets (reported, not asserted):"
echo "#   daemon CPU per pod over ZDS / kernel floor: $(spread zds_add_cpu_us floor_cpu_us) (target <= 1.25x)"
echo "#   daemon CPU per ZDS Add / a bare handoff:    $(spread zds_add_cpu_us zds_bare_add_cpu_us) (target <= 1.1x)"
echo "#     / a bare handoff with the daemon's checks: $(spread zds_add_cpu_us zds_bare_checks_add_cpu_us)"
echo "#   removing / adding, daemon CPU per pod:      $(spread zds_del_cpu_us zds_add_cpu_us) (target <= 1x)"
echo "#   CLI p50 / spawn floor p50:                  $(spread cli_p50_us spawn_p50_us) (target <= 1.25x)"
echo
echo "# where a handoff's CPU time goes (run 1; each line adds one step to the floor):"
sed 's/^ledger step=[0-9]* us_per_pod=/#   /' "$WORK/ledger"
echo "#   daemon, measured:                  $add_cpu us per pod"

echo
echo "# scaling: one daemon, 10 to $PODS pods (scripts/scale.sh)"
PODS=$PODS scripts/scale.sh | tee "$WORK/scale" | grep -v "^ok scale\|^# creating"
awk '/^ *[0-9]+ / && NF >= 8 && $2 != "-" {
	printf "%s,scale_add_p50_us_at_%s,%s\n%s,scale_rss_kib_at_%s,%s\n%s,scale_fds_at_%s,%s\n",
	    1, $1, $2, 1, $1, $6, 1, $1, $8 }' "$WORK/scale" >>"$CSV"
echo
echo "# all numbers: $CSV"

echo
echo "# pod traffic (scripts/bench-traffic.sh)"
scripts/bench-traffic.sh
echo
echo "# upgrades (scripts/bench-upgrade.sh)"
scripts/bench-upgrade.sh
echo
echo "# DNS (scripts/bench-dns.sh)"
scripts/bench-dns.sh
