# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# What the node benches share (sourced): each runs on topologies of its
# own (scripts/topology.sh), named in TOPOS, with its files in DIR, its
# background processes in PIDS and its cgroups in CGS; bench_begin makes
# DIR and sees that all of it goes when the bench ends, however it ends.

PIDS=()
CGS=()
TOPOS=()
# The signal that stops a bench's processes: TERM lets an nginx master
# take its workers with it; a bench of daemons that drain on TERM stops
# them with KILL.
STOP_SIGNAL=TERM

# bench_needs BENCH TOOL:PACKAGE...: every tool, or say which one to
# install and end the bench as skipped (exit 0: make bench goes on).
bench_needs() {
	local bench=$1 t
	shift
	for t in "$@"; do
		if ! command -v "${t%%:*}" >/dev/null; then
			echo "# $bench: skipped, ${t%%:*} missing (apt-get install ${t#*:})"
			exit 0
		fi
	done
}

bench_cleanup() {
	local pid t d
	for pid in "${PIDS[@]}"; do
		kill "-$STOP_SIGNAL" "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for t in "${TOPOS[@]}"; do
		scripts/topology.sh down "$t"
	done
	for d in "${CGS[@]}"; do
		rmdir "$d" 2>/dev/null
	done
	rm -rf "$DIR"
}

# bench_begin PREFIX: DIR made, and the cleanup set to run at the end.
bench_begin() {
	DIR=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

ip_of() { scripts/topology.sh ip "$1"; }
# in_pod I COMMAND...: in pod I of topology P.
in_pod() {
	local i=$1
	shift
	nsenter "--net=/var/run/netns/$P-pod$i" "$@"
}
