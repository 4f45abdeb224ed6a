#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon's socket path, and how the daemon stops.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# zt_status args...: exit status of a daemon expected to refuse to start.
zt_status() {
	timeout 30 "$ZT" "$@" >/dev/null 2>"$WORK/zt2.err"
	echo $?
}

t_socket_mode_0600() {
	start_daemon
	expect "a socket" test -S "$SOCK"
	expect "mode 0600" test "$(stat -c %a "$SOCK")" = 600
}

t_stale_socket_replaced() {
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
	expect "stale socket exists" test -S "$SOCK"
	start_daemon
	expect "the daemon listens at the path" \
	    grep -q "$SOCK .*pid=$ZPID," <(ss -Hxlp)
	mkns pod
	expect "and it works" "$CNI" "$SOCK" "$NS"
}

t_live_daemon_refused() {
	start_daemon
	local ino
	ino=$(stat -c %i "$SOCK")
	expect "second daemon exits 2" test "$(zt_status "$SOCK")" -eq 2
	expect "says already in use" file_has "$WORK/zt2.err" "Address already in use (by a running daemon"
	expect "first daemon's socket untouched" test "$(stat -c %i "$SOCK")" = "$ino"
	mkns pod
	expect "first daemon still serves" "$CNI" "$SOCK" "$NS"
}

t_regular_file_refused() {
	echo "precious" >"$SOCK"
	expect "exits 2" test "$(zt_status "$SOCK")" -eq 2
	expect "says not a socket" file_has "$WORK/zt2.err" "not a socket"
	expect "file untouched" test "$(cat "$SOCK")" = precious
	mkdir "$WORK/adir"
	expect "a directory too" test "$(zt_status "$WORK/adir")" -eq 2
	expect "directory untouched" test -d "$WORK/adir"
}

t_path_too_long() {
	local long
	long=$WORK/$(printf 'x%.0s' $(seq 1 120))
	expect "exits 2" test "$(zt_status "$long")" -eq 2
	expect "says too long" file_has "$WORK/zt2.err" "too long"
}

# stop SIGNAL: the daemon closes everything, removes its socket, exits 0.
stop_cleanly() {
	mkns pod
	start_daemon
	expect "add" "$CNI" "$SOCK" "$NS"
	expect "listeners" has_listeners "$NS"
	kill "-$1" "$ZPID"
	wait "$ZPID"
	local rc=$?
	expect "exit 0 on $1" test "$rc" -eq 0
	expect "socket removed" test ! -e "$SOCK"
	expect "listeners gone" no_listeners "$NS"
}

t_sigterm_cleanup() { stop_cleanly TERM; }
t_sigint_cleanup() { stop_cleanly INT; }

# A daemon that died hard leaves its socket: the next one takes over.
t_restart_after_sigkill() {
	mkns pod
	start_daemon
	expect "add" "$CNI" "$SOCK" "$NS"
	kill -KILL "$ZPID"
	wait "$ZPID" 2>/dev/null
	expect "socket left behind" test -S "$SOCK"
	expect "listeners died with it" wait_for 5 no_listeners "$NS"
	start_daemon
	expect "new daemon serves the same pod" "$CNI" "$SOCK" "$NS"
	expect "listeners" has_listeners "$NS"
}

run_tests t_socket_mode_0600 t_stale_socket_replaced t_live_daemon_refused \
    t_regular_file_refused t_path_too_long t_sigterm_cleanup t_sigint_cleanup \
    t_restart_after_sigkill
