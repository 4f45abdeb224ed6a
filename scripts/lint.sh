#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make lint: static analysis with zero findings allowed.
#   cppcheck     warning, style, performance, portability; two checks off:
#                variableScope (we declare at the top of a function, as
#                OpenBSD style does, on purpose) and unusedStructMember
#                (it cannot see through the sys/queue.h macros)
#   clang-tidy   the checks in .clang-tidy, warnings as errors
#   gcc          -fanalyzer, warnings as errors
#   ShellCheck   every shell script
#   mandoc       -Tlint on the man pages, warnings and up (style notes,
#                such as a NAME line over 80 bytes, are not findings)
#   man-width    every man page fits 80 columns, without man's warnings
#   version      the man pages' footers say common/version.h's version
#   layout       README's "who calls whom" is what the #includes say
set -u
cd "$(dirname "$0")/.." || exit 1

SRCS=(common/*.c cni-emulator/*.c ztunnel-emulator/*.c)
TEST_SRCS=(tests/unit/*.c tests/bench/*.c tests/fuzz/*.c)
INC=(-D_GNU_SOURCE -Icommon -Iztunnel-emulator)
MANS=(cni-emulator/*.8 ztunnel-emulator/*.8 common/*.7)
failed=0

check() {
	local name=$1
	shift
	if "$@" >"/tmp/lint.$$" 2>&1; then
		echo "ok lint/$name"
	else
		sed 's/^/    /' "/tmp/lint.$$" | tail -n 40
		echo "not ok lint/$name"
		failed=1
	fi
	rm -f "/tmp/lint.$$"
}

# shellcheck disable=SC2317  # called through check()
analyzer() {
	local f
	for f in "${SRCS[@]}"; do
		gcc -std=c11 "${INC[@]}" -O1 -fanalyzer -Werror -c -o /dev/null "$f" || return 1
	done
}

check cppcheck cppcheck -q --std=c11 --enable=warning,style,performance,portability \
    --suppress=variableScope --suppress=unusedStructMember --inline-suppr \
    -D__GLIBC__ "${INC[@]}" --include=/usr/include/x86_64-linux-gnu/sys/queue.h \
    --error-exitcode=1 "${SRCS[@]}" "${TEST_SRCS[@]}"
check clang-tidy clang-tidy --quiet "${SRCS[@]}" -- -std=c11 "${INC[@]}"
check gcc-fanalyzer analyzer
check shellcheck shellcheck -x scripts/*.sh tests/*.sh tests/integration/*.sh .ci/run
check mandoc mandoc -Tlint -W warning "${MANS[@]}"

# shellcheck disable=SC2317  # called through check()
man_width() {
	local f out w
	for f in "${MANS[@]}"; do
		out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$f" 2>&1 >/dev/null) || return 1
		[ -z "$out" ] || { echo "$f: $out"; return 1; }
		w=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$f" 2>/dev/null | LC_ALL=C.UTF-8 wc -L)
		[ "$w" -le 80 ] || { echo "$f: a line of $w columns"; return 1; }
	done
}

# shellcheck disable=SC2317  # called through check()
versions() {
	local v f
	v=$(sed -n 's/^#define VERSION "\(.*\)"$/\1/p' common/version.h)
	[ -n "$v" ] || { echo "common/version.h: no VERSION"; return 1; }
	for f in "${MANS[@]}"; do
		grep -q "^\.TH .* \"ztunnel-emulator $v\" " "$f" ||
		    { echo "$f: the footer is not \"ztunnel-emulator $v\""; return 1; }
	done
}

check man-width man_width
check version versions
check layout scripts/layout.sh --check
exit "$failed"
