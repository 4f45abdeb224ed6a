#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad requests and bad pods: each is refused with a reason, costs the daemon
# no descriptor, and never leaves it in a pod's namespace.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# send_expect_error WHAT-THE-ERROR-SAYS peer-send-args...
send_expect_error() {
	local want=$1
	shift
	peer send "$SOCK" "$@" >"$WORK/reply" || return 1
	if ! grep -q "^error: .*$want" "$WORK/reply"; then
		echo "    reply was: $(cat "$WORK/reply")" >&2
		return 1
	fi
}

# Every refusal leaves the daemon as it was.
daemon_unchanged() {
	daemon_alive && daemon_at_home && fds_settle_at "$ZPID" "$BASE_FDS"
}

setup_daemon() {
	start_daemon
	BASE_FDS=$(fd_count "$ZPID")
}

t_fd_not_a_netns() {
	setup_daemon
	expect "regular file refused" send_expect_error "not a network namespace" --fd /etc/hostname
	expect "mount namespace refused" send_expect_error "not a network namespace" --fd /proc/self/ns/mnt
	expect "unchanged" daemon_unchanged
}

t_no_fd() {
	setup_daemon
	expect "refused" send_expect_error "no netns descriptor" --hex 01
	expect "unchanged" daemon_unchanged
}

t_two_fds() {
	mkns pod
	setup_daemon
	expect "refused" send_expect_error "more than one descriptor" \
	    --fd "/var/run/netns/$NS" --fd "/var/run/netns/$NS"
	expect "no listeners made" no_listeners "$NS"
	expect "unchanged" daemon_unchanged
}

t_many_fds() {
	mkns pod
	setup_daemon
	local args=() i
	for i in 1 2 3 4 5 6 7 8; do args+=(--fd "/var/run/netns/$NS"); done
	expect "refused" send_expect_error "truncated" "${args[@]}"
	expect "no listeners made" no_listeners "$NS"
	expect "unchanged" daemon_unchanged
}

t_wrong_first_byte() {
	mkns pod
	setup_daemon
	expect "0x02 refused" send_expect_error "unknown request byte 0x02" --hex 02 --fd "/var/run/netns/$NS"
	expect "0x00 refused" send_expect_error "unknown request byte 0x00" --hex 00
	expect "0x01 plus more refused" send_expect_error "must come alone" --hex 0101 --fd "/var/run/netns/$NS"
	expect "no listeners made" no_listeners "$NS"
	expect "unchanged" daemon_unchanged
}

# The seed's client hangs up before any reply: the handoff still happens,
# and our write to the gone peer must not kill us (SIGPIPE).
t_hangup_before_reply() {
	local i
	setup_daemon
	for i in 1 2 3 4 5; do
		mkns "h$i"
		expect "send and hang up" peer send "$SOCK" --fd "/var/run/netns/$NS" --hangup
		expect "listeners anyway" wait_for 5 has_listeners "$NS"
	done
	# Errors to gone peers too.
	for i in 1 2 3 4 5; do
		expect "bad byte and hang up" peer send "$SOCK" --hex 07 --hangup
	done
	expect "alive" daemon_alive
	expect "at home" daemon_at_home
}

# A process in the pod holds 15006: nothing of ours stays open there.
t_port_taken_all_or_nothing() {
	mkns pod
	setup_daemon
	nsenter "--net=/var/run/netns/$NS" python3 "$PEER" hold-port 15006 >"$WORK/holder" &
	PIDS+=($!)
	expect "holder listening" wait_for 5 file_has "$WORK/holder" listening
	expect "refused, naming the port" send_expect_error "bind 127.0.0.1:15006 .*Address already in use" --fd "/var/run/netns/$NS"
	expect "only the holder's port" test "$(listening_ports "$NS")" = 15006
	expect "unchanged" daemon_unchanged
	kill "${PIDS[-1]}"
	expect "holder gone" wait_for 5 no_listeners "$NS"
	expect "works once the port is free" "$CNI" "$SOCK" "$NS"
	expect "listeners" has_listeners "$NS"
}

t_loopback_down_refused_with_hint() {
	mkns pod down
	setup_daemon
	expect "refused with the fix" send_expect_error "loopback is down.*ip -n $NS link set lo up" --fd "/var/run/netns/$NS"
	expect "no useless listeners" no_listeners "$NS"
	expect "unchanged" daemon_unchanged
	ip -n "$NS" link set lo up
	expect "works with lo up" "$CNI" "$SOCK" "$NS"
}

t_own_netns_refused() {
	setup_daemon
	expect "refused" send_expect_error "daemon's own network namespace" --fd /proc/self/ns/net
	expect_not "nothing listens in the host" grep -q "pid=$ZPID," <(ss -Hntlp)
	expect "unchanged" daemon_unchanged
}

# Many handoffs, good and bad: the daemon ends with 3 descriptors per pod
# on top of what it started with, and in its own namespace.
t_fd_count_after_many_handoffs() {
	local i
	mkns pod
	setup_daemon
	expect "first add" "$CNI" "$SOCK" "$NS"
	local after_one=$(( BASE_FDS + 3 ))
	expect "3 fds per pod" fds_settle_at "$ZPID" "$after_one"
	for i in $(seq 1 100); do
		"$CNI" "$SOCK" "$NS" || exit 1
		peer send "$SOCK" --fd /etc/hostname >/dev/null || exit 1
		peer send "$SOCK" --hex 01 --fd "/var/run/netns/$NS" --fd "/var/run/netns/$NS" >/dev/null || exit 1
		peer send "$SOCK" --hex 01 --hangup || exit 1
	done
	expect "fd count unchanged after 400 handoffs" fds_settle_at "$ZPID" "$after_one"
	expect "no netns fd kept" test -z "$(find /proc/"$ZPID"/fd -lname 'net:*' -printf '%l\n' | grep -vF "$(readlink /proc/self/ns/net)")"
	expect "at home" daemon_at_home
}

run_tests t_fd_not_a_netns t_no_fd t_two_fds t_many_fds t_wrong_first_byte \
    t_hangup_before_reply t_port_taken_all_or_nothing \
    t_loopback_down_refused_with_hint t_own_netns_refused \
    t_fd_count_after_many_handoffs
