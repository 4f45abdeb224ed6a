#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pods have names: add, list, remove, re-add, replace.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# list_names: the NAME column of --list, sorted.
list_names() {
	"$CNI" --list "$SOCK" | awk 'NR > 1 { print $1 }' | sort
}

# list_field NAME COLUMN: one column of one pod's line, -o wide
# (NAME STATE CONNS BYTES AGE VIA NETNS PORTS SERVED SOCKETS UID).
list_field() { pod_field "$@"; }

netns_ino() { stat -L -c %i "/var/run/netns/$1"; }

pid_in_netns() { [ "$(readlink "/proc/$1/ns/net")" = "net:[$(netns_ino "$2")]" ]; }

# No descriptor of the daemon points at namespace inode $1.
no_fd_on_netns() {
	! find "/proc/$ZPID/fd" -lname "net:\[$1\]" | grep -q .
}

t_default_names() {
	start_daemon
	mkns a
	local a=$NS
	expect "bare name" "$CNI" "$SOCK" "$a"
	mkns b
	local b=$NS
	expect "path" "$CNI" "$SOCK" "/var/run/netns/$b"
	# A process's namespace, by /proc path: named after the process.
	mkns c
	ip netns exec "$NS" sleep 60 &
	PIDS+=($!)
	local sleeper=$!
	expect "sleeper in netns c" wait_for 5 pid_in_netns "$sleeper" "$NS"
	expect "/proc/PID/ns/net" "$CNI" "$SOCK" "/proc/$sleeper/ns/net"
	expect "three pods, named as expected" \
	    test "$(list_names | tr '\n' ' ')" = "$(printf '%s\n' "$a" "$b" "pid-$sleeper" | sort | tr '\n' ' ')"
}

t_name_option() {
	start_daemon
	mkns a
	expect "add --name" "$CNI" --name web-7d9f-x2 "$SOCK" "$NS"
	expect "listed by that name" test "$(list_names)" = web-7d9f-x2
	expect "with the netns inode" test "$(list_field web-7d9f-x2 7)" = "net:[$(netns_ino "$NS")]"
	expect "bad name refused locally" test "$("$CNI" --name 'a b' "$SOCK" "$NS" 2>/dev/null; echo $?)" -eq 1
}

t_list_columns() {
	start_daemon
	expect "an empty daemon lists the header only" \
	    test "$("$CNI" --list "$SOCK" | wc -l)" -eq 1
	mkns a
	expect "add" "$CNI" "$SOCK" "$NS"
	expect "connect 1" connect_ok "$NS" 15008
	expect "connect 2" connect_ok "$NS" 15001
	"$CNI" --list "$SOCK" >"$WORK/list"
	expect "header" grep -q "^NAME *STATE *CONNS *BYTES *AGE *VIA$" "$WORK/list"
	expect "one pod line" test "$(wc -l <"$WORK/list")" -eq 2
	expect "fits 100 columns" test "$(awk '{ if (length > m) m = length } END { print m }' "$WORK/list")" -le 100
	"$CNI" --list -o wide "$SOCK" >"$WORK/wide"
	expect "wide: more columns" grep -q "^NAME *STATE *CONNS *BYTES *AGE *VIA *NETNS *PORTS *SERVED *SOCKETS *UID$" "$WORK/wide"
	expect "up" test "$(list_field "$NS" 2)" = up
	expect "no proxied connections" test "$(list_field "$NS" 3)" = 0/0
	expect "no proxied bytes" test "$(list_field "$NS" 4)" = 0/0
	expect "age in seconds" grep -Eq "^[0-9]+s$" <<<"$(list_field "$NS" 5)"
	expect "via the control socket" test "$(list_field "$NS" 6)" = control
	expect "ports" test "$(list_field "$NS" 8)" = 15008,15006,15001
	expect "served counts connections" test "$(list_field "$NS" 9)" -eq 2
}

t_del_closes_and_releases() {
	start_daemon
	mkns a
	local base ino
	base=$(fd_count "$ZPID")
	ino=$(netns_ino "$NS")
	expect "add" "$CNI" "$SOCK" "$NS"
	expect "listening" has_listeners "$NS"
	expect "del" "$CNI" --del "$SOCK" "$NS"
	expect "listeners closed" no_listeners "$NS"
	expect "fd count back" fds_settle_at "$ZPID" "$base"
	expect "no fd on the netns" no_fd_on_netns "$ino"
	expect "not listed" test -z "$(list_names)"
	expect "log line" file_has "$WORK/zt.err" "del $NS net:\[$ino\]: listeners closed"
}

# The node agent removes a pod after its namespace is gone.
t_del_after_netns_deleted() {
	start_daemon
	mkns a
	local ino
	ino=$(netns_ino "$NS")
	expect "add" "$CNI" "$SOCK" "$NS"
	ip netns del "$NS"
	expect "still listed: our sockets keep it alive" test "$(list_names)" = "$NS"
	expect "del by name" "$CNI" --del "$SOCK" "$NS"
	expect "nothing listed" test -z "$(list_names)"
	expect "no fd on the netns" no_fd_on_netns "$ino"
}

t_del_unknown_is_exit_3() {
	start_daemon
	"$CNI" --del "$SOCK" nosuchpod 2>"$WORK/err"
	expect "exit 3" test $? -eq 3
	expect "says so" file_has "$WORK/err" "no pod named nosuchpod"
}

t_same_name_new_netns_replaces() {
	start_daemon
	mkns old
	local old=$NS
	expect "add old" "$CNI" --name web "$SOCK" "$old"
	mkns new
	expect "add new under the same name" "$CNI" --name web "$SOCK" "$NS"
	expect "old listeners closed" no_listeners "$old"
	expect "new listeners" has_listeners "$NS"
	expect "one pod, the new netns" test "$(list_field web 7)" = "net:[$(netns_ino "$NS")]"
	expect "one line" test "$(list_names)" = web
}

t_add_del_cycles_fd_baseline() {
	local base
	start_daemon
	mkns a
	base=$(fd_count "$ZPID")
	for _ in $(seq 1 50); do
		"$CNI" "$SOCK" "$NS" || exit 1
		"$CNI" --del "$SOCK" "$NS" || exit 1
	done
	expect "fd count back to baseline" fds_settle_at "$ZPID" "$base"
	expect "at home" daemon_at_home
}

t_request_errors() {
	start_daemon
	mkns a
	peer send "$SOCK" --hex "$(printf 'del x\n' | od -An -tx1 | tr -d ' \n')" --fd "/var/run/netns/$NS" >"$WORK/r1"
	expect "fd with del refused" file_has "$WORK/r1" "^error: a descriptor came with a request that takes none"
	peer send "$SOCK" --hex "$(printf 'frob x\n' | od -An -tx1 | tr -d ' \n')" >"$WORK/r2"
	expect "unknown verb" file_has "$WORK/r2" "^error: unknown request 'frob'"
	peer send "$SOCK" --hex "$(printf 'add\n' | od -An -tx1 | tr -d ' \n')" --fd "/var/run/netns/$NS" >"$WORK/r3"
	expect "add without a name" file_has "$WORK/r3" "^error: 'add' needs a pod name"
	expect "no listeners" no_listeners "$NS"
	peer send "$SOCK" --hex "$(printf 'add raw\n' | od -An -tx1 | tr -d ' \n')" --fd "/var/run/netns/$NS" >"$WORK/r4"
	expect "named add over the raw protocol" file_has "$WORK/r4" "^listeners ready$"
	expect "listed" test "$(list_names)" = raw
}

run_tests t_default_names t_name_option t_list_columns t_del_closes_and_releases \
    t_del_after_netns_deleted t_del_unknown_is_exit_3 t_same_name_new_netns_replaces \
    t_add_del_cycles_fd_baseline t_request_errors
