# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# What the demos share (sourced): a step's heading, a command printed as
# one would type it and then run, and polling for a condition with a
# deadline (never a fixed sleep).

step() { printf '\n# %s\n' "$*"; }

run() {
	local arg line='$'
	for arg in "$@"; do
		if [[ "$arg" =~ ^[A-Za-z0-9_./:=,@%+*-]+$ ]]; then
			line+=" $arg"
		else
			line+=" '$arg'"
		fi
	done
	printf '%s\n' "$line"
	"$@"
}

# until_ok SECONDS CMD...: CMD until it succeeds; 1 past the deadline.
until_ok() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}
