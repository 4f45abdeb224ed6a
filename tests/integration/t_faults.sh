#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults: the daemon killed mid-handoff, a namespace deleted under a
# handoff, running out of descriptors over ZDS, the node agent dying
# mid-snapshot, a flood of connections.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"


pod_state() {
	"$CNI" --list "$SOCK" | awk -v n="$1" '$1 == n { print $2 }'
}

# start_daemon_killed_at SYSCALL N: the daemon under strace, which kills it
# with SIGKILL on entering the N-th call of SYSCALL.
start_daemon_killed_at() {
	# In a subshell that outlives it: strace ends by re-raising its
	# tracee's SIGKILL, and the shell would announce a killed job.
	(strace -f -qq -o /dev/null -e trace="$1" \
	    -e inject="$1":signal=SIGKILL:when="$2" \
	    "$ZT" "$SOCK" >"$WORK/zt.out" 2>"$WORK/zt.err" || true) 2>/dev/null &
	PIDS+=($!)
	expect "daemon under strace starts" wait_for 10 test -S "$SOCK"
	expect "and listens" wait_for 10 grep -q "listening on" "$WORK/zt.err"
}

# Killed inside the pod's netns with one listener of three made: the
# kernel closes it with the process, and a new daemon on the stale
# socket serves the same pod from scratch.
t_sigkill_mid_handoff() {
	mkns pod
	start_daemon_killed_at bind 2
	"$CNI" "$SOCK" "$NS" 2>"$WORK/cni.err"
	expect "client: no acknowledgement (exit 4)" test $? -eq 4
	expect "says the daemon hung up" file_has "$WORK/cni.err" "closed the connection without an acknowledgement"
	expect "socket left behind" test -S "$SOCK"
	expect "nothing left listening in the pod" wait_for 5 no_listeners "$NS"
	start_daemon
	expect "a fresh add works" "$CNI" "$SOCK" "$NS"
	expect "all three listeners" has_listeners "$NS"
}

# Killed on entering the pod's netns (third setns: in and out for the
# first pod, in for the second): the first pod's listeners go with it.
t_sigkill_entering_netns() {
	mkns a
	local a=$NS
	mkns b
	# setns 1 is the daemon's check at start, 2 and 3 the first pod's
	# way in and out: 4 enters the second pod.
	start_daemon_killed_at setns 4
	expect "first add" "$CNI" "$SOCK" "$a"
	"$CNI" "$SOCK" "$NS" 2>/dev/null
	expect "second: no acknowledgement" test $? -eq 4
	expect "first pod's listeners gone with the daemon" wait_for 5 no_listeners "$a"
	start_daemon
	expect "both add again" "$CNI" "$SOCK" "$a"
	expect "both add again" "$CNI" "$SOCK" "$NS"
	expect "listeners" has_listeners "$a"
	expect "listeners" has_listeners "$NS"
}

# The client has the netns open; `ip netns del` runs before the daemon
# gets the fd.  The descriptor keeps the namespace alive: the handoff
# works, and removing the pod frees it.
t_netns_deleted_during_handoff() {
	mkns gone
	start_daemon
	python3 - "$SOCK" "$NS" >"$WORK/reply" <<'EOF' || exit 1
import os, socket, subprocess, sys
sock, ns = sys.argv[1], sys.argv[2]
fd = os.open("/var/run/netns/" + ns, os.O_RDONLY)
subprocess.run(["ip", "netns", "del", ns], check=True)   # gone by name
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
socket.send_fds(s, [("add " + ns + "\n").encode()], [fd])
os.close(fd)
print(s.recv(512).decode(), end="")
EOF
	expect "the file is gone" test ! -e "/var/run/netns/$NS"
	expect "the handoff still works" file_has "$WORK/reply" "^listeners ready$"
	expect "listed" test "$(pod_state "$NS")" = up
	local ino
	ino=$(pod_field "$NS" 7 | tr -dc 0-9)
	expect "listed with its inode" test -n "$ino"
	expect "remove by name" "$CNI" --del "$SOCK" "$NS"
	expect_not "nothing of it held" holds_netns "$ZPID" "$ino"
	expect "at home" daemon_at_home
}

# Out of descriptors over ZDS: the adds are refused or left pending, the
# daemon serves on, and pods come up once descriptors are free again.
t_out_of_fds_over_zds() {
	local i steps=()
	for i in $(seq 1 12); do
		mkns "z$i"
		steps+=("add:u$i:z$i:fd=/var/run/netns/$NS")
	done
	# The daemon first, limited before any agent is there.
	local base up pending
	start_daemon --zds "$ZSOCK"
	base=$(fd_count "$ZPID")
	# Room for the loop's own descriptors and a few pods, not all 12.
	prlimit --pid "$ZPID" --nofile=31: || exit 1
	python3 "$ZDSPY" agent "$ZSOCK" accept hello snapshot "${steps[@]}" \
	    >"$WORK/fake.out" 2>&1 &
	PIDS+=($!)
	expect "script ran" wait_for 60 file_has "$WORK/fake.out" "^done$"
	expect "some refused for want of descriptors" \
	    grep -q "^ack error: .*Too many open files" "$WORK/fake.out"
	expect "some made it" grep -q "^ack ok$" "$WORK/fake.out"
	expect "alive" daemon_alive
	up=$("$CNI" --list "$SOCK" | grep -c " up ")
	pending=$("$CNI" --list "$SOCK" | grep -c " pending ")
	# 3 per pod up, 1 (its netns) per pod pending, 1 for the agent.
	expect "no descriptor leaked by the failures" \
	    fds_settle_at "$ZPID" $((base + 3 * up + pending + 1))
	prlimit --pid "$ZPID" --nofile=4096: || exit 1
	# Pending pods retry on their own every 5 s.
	if [ "$pending" -gt 0 ]; then
		expect "pending pods come up once fds are free" \
		    wait_for 20 sh -c "! '$CNI' --list '$SOCK' | grep -q ' pending '"
	fi
	expect "at home" daemon_at_home
}

# The agent dies between Adds and SnapshotSent: nothing is reconciled
# then (there was no snapshot); the next agent's snapshot decides.
t_agent_dies_mid_snapshot() {
	mkns a
	local a=$NS
	mkns b
	local b=$NS
	python3 "$ZDSPY" agent "$ZSOCK" accept hello \
	    add:ua:a:fd="/var/run/netns/$a" add:ub:b:fd="/var/run/netns/$b" \
	    >"$WORK/fake.out" 2>&1 &
	local first=$!
	PIDS+=("$first")
	expect "fake agent up" wait_for 10 file_has "$WORK/fake.out" "^listening$"
	start_daemon --zds "$ZSOCK"
	expect "two adds acked" wait_for 10 file_has "$WORK/fake.out" "^done$"
	{ kill -KILL "$first" && wait "$first"; } 2>/dev/null
	expect "daemon sees it go" wait_for 10 file_has "$WORK/zt.err" "closed the connection"
	expect "both still serving: no snapshot was completed" has_listeners "$a"
	expect "both still serving" has_listeners "$b"
	python3 "$ZDSPY" agent "$ZSOCK" accept hello \
	    add:ua:a:fd="/var/run/netns/$a" snapshot >"$WORK/fake2.out" 2>&1 &
	PIDS+=($!)
	expect "second agent's snapshot done" wait_for 30 file_has "$WORK/fake2.out" "^done$"
	expect "a kept, not re-made" file_has "$WORK/zt.err" "add default/a .*already listening"
	expect "b reconciled away" wait_for 5 no_listeners "$b"
	expect "a still serving" has_listeners "$a"
	expect "one pod" test "$("$CNI" --list "$SOCK" | wc -l)" -eq 2
}

# Thousands of connections in a burst, held open: a good client is still
# served, and once the flood is gone the daemon is back to its baseline.
t_connection_flood() {
	mkns good
	start_daemon
	local base
	base=$(fd_count "$ZPID")
	coproc FLOOD { python3 "$PEER" flood "$SOCK" --count 3000; }
	PIDS+=("$FLOOD_PID")
	local line
	read -r -t 60 line <&"${FLOOD[0]}"
	expect "flood connected ($line)" test -n "$line"
	expect "a good client is served meanwhile" "$CNI" "$SOCK" "$NS"
	expect "its listeners" has_listeners "$NS"
	expect "logged the shedding" grep -q "peers in flight, dropping" "$WORK/zt.err"
	kill "$FLOOD_PID"
	expect "back to baseline + 3 for the pod" \
	    fds_settle_at "$ZPID" $((base + 3))
	expect "alive" daemon_alive
}

# The leftover check itself: it must see a namespace a process holds, and
# only that one.
t_leftover_check_catches_a_holder() {
	mkns held
	local ino other
	ino=$(stat -L -c %i "/var/run/netns/$NS")
	mkns free
	other=$(stat -L -c %i "/var/run/netns/$NS")
	bash -c 'exec 3<"$1"; exec sleep 60' _ "/var/run/netns/$RUN_ID-$TEST_NO-held" &
	local holder=$!
	PIDS+=("$holder")
	expect "the planted leftover is found" wait_for 5 holds_netns "$holder" "$ino"
	expect_not "another namespace is not" holds_netns "$holder" "$other"
	expect_not "nor a prefix of the inode" holds_netns "$holder" "${ino%?}"
	bash -c 'exec 3<"$1"; exec sleep 60' _ "/proc/$holder/ns/net" &
	PIDS+=($!)
	expect "nor whether it was opened by path or through /proc" \
	    wait_for 5 holds_netns $! "$(stat -L -c %i /proc/self/ns/net)"
}

run_tests t_leftover_check_catches_a_holder t_sigkill_mid_handoff t_sigkill_entering_netns \
    t_netns_deleted_during_handoff t_out_of_fds_over_zds \
    t_agent_dies_mid_snapshot t_connection_flood
