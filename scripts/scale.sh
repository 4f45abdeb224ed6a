#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make test-scale: one daemon, thousands of pods.  Asserts what must hold
# at any size (every add succeeds, 3 descriptors per pod, all back to the
# start after removal) and reports what is measured against the targets
# (add latency flat as pods accumulate, RSS).  Timings never fail the run.
#
#   PODS=4000 make test-scale      (default 1000)
#   SAMPLES=200                    add/del cycles measured at each level
set -u
cd "$(dirname "$0")/.." || exit 1

PODS=${PODS:-1000}
SAMPLES=${SAMPLES:-200}
LOAD=tests/bench/zt-load
ZT=ztunnel-emulator/ztunnel-emulator
P=zts$$
WORK=$(mktemp -d "/tmp/$P.XXXXXX")
SOCK=$WORK/zt.sock
ZPID=
failed=0

if [ "$(id -u)" -ne 0 ]; then
	echo "test-scale: needs root (network namespaces)" >&2
	exit 1
fi

cleanup() {
	[ -n "$ZPID" ] && kill "$ZPID" 2>/dev/null && wait "$ZPID"
	{ seq 1 "$PODS" | sed "s/^/netns del $P-/"
	  seq 1 "$SAMPLES" | sed "s/^/netns del ${P}s-/"; } | ip -force -batch - 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check() {
	if "${@:2}"; then
		echo "ok scale/$1"
	else
		echo "not ok scale/$1"
		failed=$((failed + 1))
	fi
}

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$ZPID/status"; }
# The daemon's own memory: RSS without the shared, file-backed pages of
# its code and libc.
anon_kib() { awk '/^RssAnon/ { print $2 }' "/proc/$ZPID/status"; }
fds() { find "/proc/$ZPID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }

echo "# creating $PODS + $SAMPLES namespaces"
{ seq 1 "$PODS" | sed "s/^/netns add $P-/"
  seq 1 "$SAMPLES" | sed "s/^/netns add ${P}s-/"; } | ip -batch - || exit 1
"$LOAD" lo-up "$P" 1 "$PODS" && "$LOAD" lo-up "${P}s" 1 "$SAMPLES" || exit 1

# Daemon and driver on CPUs of their own, where there are two: the
# numbers then vary less from run to run.
PIN_ZT=() PIN_LOAD=()
if [ "$(nproc)" -ge 2 ]; then
	PIN_ZT=(taskset -c 1) PIN_LOAD=(taskset -c 0)
fi
load() { "${PIN_LOAD[@]}" "$LOAD" "$@"; }
"${PIN_ZT[@]}" "$ZT" -q "$SOCK" >/dev/null 2>"$WORK/zt.err" &
ZPID=$!
for _ in $(seq 1 250); do
	ss -Hxl | grep -qF " $SOCK " && break
	sleep 0.02
done
# Warm up first: the first add and del fault in code pages (file-backed,
# shared with every libc user) that no later pod adds to.
load cycle "$SOCK" "${P}s" 1 10 >/dev/null || exit 1
base_fds=$(fds)
base_rss=$(rss_kib)
base_anon=$(anon_kib)

levels=()
for l in 10 100 1000 2000 4000 8000; do
	[ "$l" -le "$PODS" ] && levels+=("$l")
done
[ "${levels[-1]}" -eq "$PODS" ] || levels+=("$PODS")

# The kernel's floor for the same work (setns, 3 listeners, setns back)
# is measured at each level too: growth there is the kernel's, not ours.
row() { printf '%8s  %11s  %11s  %11s  %11s  %8s  %9s  %7s %s\n' "$@"; }
echo
row pods "add p50 us" "add p90 us" "del p50 us" "floor p50" "RSS KiB" "anon KiB" fds ""
row 0 - - - - "$base_rss" "$base_anon" "$base_fds" ""
have=0 fds_ok=1 adds_ok=1
declare -A add_at floor_at rss_at
for l in "${levels[@]}"; do
	load add "$SOCK" "$P" $((have + 1)) $((l - have)) >/dev/null || adds_ok=0
	have=$l
	rss=$(rss_kib)
	anon=$(anon_kib)
	n=$(fds)
	[ "$n" -eq $((base_fds + 3 * l)) ] || fds_ok=0
	out=$(load cycle "$SOCK" "${P}s" 1 "$SAMPLES") || adds_ok=0
	a50=$(echo "$out" | grep '^add' | field p50)
	a90=$(echo "$out" | grep '^add' | field p90)
	d50=$(echo "$out" | grep '^del' | field p50)
	f50=$(load floor "${P}s" 1 "$SAMPLES" | field p50)
	row "$l" "$a50" "$a90" "$d50" "$f50" "$rss" "$anon" "$n" ""
	add_at[$l]=$a50 floor_at[$l]=$f50 rss_at[$l]=$rss
done

load del "$SOCK" "$P" 1 "$PODS" >/dev/null || adds_ok=0
end_fds=$(fds)
end_rss=$(rss_kib)
end_anon=$(anon_kib)
row 0 - - - - "$end_rss" "$end_anon" "$end_fds" "(after removing all)"

echo
check "all_${PODS}_adds_and_removes_succeed" test "$adds_ok" -eq 1
check "exactly_3_fds_per_pod_at_every_level" test "$fds_ok" -eq 1
check "fds_back_to_start_after_removal" test "$end_fds" -eq "$base_fds"
check "daemon_alive" kill -0 "$ZPID"

first=${add_at[${levels[0]}]} last=${add_at[${levels[-1]}]}
ffirst=${floor_at[${levels[0]}]} flast=${floor_at[${levels[-1]}]}
echo
echo "# targets (measured, not asserted):"
awk -v a="$first" -v b="$last" -v fa="$ffirst" -v fb="$flast" -v n="$PODS" -v l0="${levels[0]}" \
    'BEGIN { printf "#   add latency at %d pods / at %d pods: %.2fx (target <= 1.2x); kernel floor: %.2fx\n", n, l0, b / a, fb / fa }'
if [ -n "${rss_at[1000]:-}" ]; then
	echo "#   RSS at 1000 pods: ${rss_at[1000]} KiB (target < 2048 KiB)"
fi
if [ -n "${rss_at[4000]:-}" ]; then
	echo "#   RSS at 4000 pods: ${rss_at[4000]} KiB (target < 4096 KiB)"
fi
echo "#   RSS after removing all: ${end_rss} KiB, anon ${end_anon} KiB (start: ${base_rss} KiB, anon ${base_anon} KiB)"
echo "#   fds per pod: 3 (target <= 3)"
[ "$failed" -eq 0 ]
