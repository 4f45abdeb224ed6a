#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make fuzz [FUZZ_SECONDS=60]: run each libFuzzer target for that long,
# starting from its committed seed corpus (tests/fuzz/corpus/NAME, which
# is only read: new inputs go to a scratch directory).  A crash leaves its
# input as tests/fuzz/crash-* and fails the run.
set -u
cd "$(dirname "$0")/.." || exit 1

seconds=${1:-60}
failed=0
scratch=$(mktemp -d /tmp/zt-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

for name in zds wire cmsg hpack h2conn dns; do
	mkdir -p "$scratch/$name"
	printf '# fuzz-%s: %s s\n' "$name" "$seconds"
	if tests/fuzz/fuzz-"$name" -max_total_time="$seconds" \
	    -artifact_prefix=tests/fuzz/ -print_final_stats=1 \
	    "$scratch/$name" "tests/fuzz/corpus/$name" \
	    >"$scratch/$name.log" 2>&1; then
		grep -E "^stat::number_of_executed_units|^Done" "$scratch/$name.log" | tail -2
		echo "ok fuzz/$name"
	else
		tail -n 30 "$scratch/$name.log"
		echo "not ok fuzz/$name"
		failed=1
	fi
done
exit "$failed"
