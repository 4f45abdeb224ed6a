# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# What the demos share (sourced): a step's heading, a command printed as
# one would type it and then run, and polling for a condition with a
# deadline (never a fixed sleep).  need() runs first, before anything is
# started: a demo that cannot finish does not begin.

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

# need DEMO TOOL:PACKAGE...: root, and every tool, or say what to
# install and exit 1.
need() {
	local demo=$1 t missing=() pkgs=()
	shift
	if [ "$(id -u)" -ne 0 ]; then
		echo "$demo: network namespaces need root: sudo make $demo" >&2
		exit 1
	fi
	for t in "$@"; do
		if ! command -v "${t%%:*}" >/dev/null; then
			missing+=("${t%%:*}")
			pkgs+=("${t#*:}")
		fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "$demo: needs ${missing[*]}: apt-get install ${pkgs[*]}" >&2
		exit 1
	fi
}
