#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ZDS: both our programs end to end (cni-emulator --zds-serve as the node
# agent, ztunnel-emulator --zds as ztunnel), and each against a scripted
# peer that sends what they never would.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# expect_outcomes PATTERN...: the outcomes, in order, each matching.
expect_outcomes() {
	local i=0 line pats=("$@")
	while IFS= read -r line; do
		if [ "$i" -ge "${#pats[@]}" ] || ! [[ "$line" =~ ${pats[$i]} ]]; then
			echo "    FAILED: outcome $((i + 1)) was '$line', expected /${pats[$i]:-(nothing)}/" >&2
			sed 's/^/      /' "$WORK/fake.out" >&2
			exit 1
		fi
		i=$((i + 1))
	done < <(outcomes)
	expect "all ${#pats[@]} outcomes seen" test "$i" -eq "${#pats[@]}"
}


t_snapshot_end_to_end() {
	local names=() n
	for n in a b c; do
		mkns "$n"
		names+=("$NS")
	done
	start_agent "${names[@]}"
	start_daemon --zds "$ZSOCK"
	for n in "${names[@]}"; do
		expect "$n up" wait_for 10 pod_state_is "$n" up
		expect "$n listens" has_listeners "$n"
		expect "$n answers" connect_ok "$n" 15001
		expect "uid from the netns" test "$(pod_field "default/$n" 11)" = "netns-$(netns_ino "$n")"
	done
	expect "agent saw the snapshot acked" file_has "$WORK/agent.err" "snapshot acknowledged"
	expect "daemon ready" file_has "$WORK/zt.err" "snapshot done: 3 pods (0 pending), 0 removed; ready"
	expect "at home" daemon_at_home
}

# The watch sees only this run's names: the host may be creating its own
# namespaces meanwhile (another test run, a container runtime).
MINE="--select=$RUN_ID-*"

t_watch_add_and_del() {
	start_agent --watch "$MINE"
	start_daemon --zds "$ZSOCK"
	expect "connected" wait_for 10 file_has "$WORK/agent.err" "snapshot acknowledged"
	mkns w
	# The agent may beat `ip -n ... link set lo up`: then the pod is
	# pending for one retry interval.
	expect "the new netns gets listeners" wait_for 20 has_listeners "$NS"
	expect "listed up" pod_state_is "$NS" up
	local ino
	ino=$(netns_ino "$NS")
	ip netns del "$NS"
	expect "agent sends a Del" wait_for 10 file_has "$WORK/agent.err" "del $NS (uid netns-$ino): ok"
	expect "pod gone" pod_absent "$NS"
	expect_not "no fd on it" holds_netns "$ZPID" "$ino"
	expect_not "nor in the agent" holds_netns "$APID" "$ino"
}

# Names under /var/run/netns that never become a namespace: one is given
# up on after the timeout, one goes before it is mounted.  Neither is
# sent, and a real namespace afterwards is announced as usual.
t_watch_files_that_never_mount() {
	local never=/var/run/netns/$RUN_ID-$TEST_NO-never
	local brief=/var/run/netns/$RUN_ID-$TEST_NO-brief
	start_agent --watch "$MINE" -t 1
	start_daemon --zds "$ZSOCK"
	expect "connected" wait_for 10 file_has "$WORK/agent.err" "snapshot acknowledged"
	touch "$never" "$brief"
	rm -f "$brief"
	expect "given up on" wait_for 10 file_has "$WORK/agent.err" "$never: not a network namespace; giving up"
	rm -f "$never"
	expect "never sent" test "$(grep -c "add [^ ]* (uid " "$WORK/agent.err")" -eq 0
	mkns real
	expect "a real one still gets listeners" wait_for 20 has_listeners "$NS"
}

# The agent goes away and comes back knowing fewer pods: those it no
# longer sends are removed, the rest untouched.
t_agent_restart_reconciles() {
	mkns keep
	local keep=$NS
	mkns drop
	local drop=$NS
	start_agent "$keep" "$drop"
	start_daemon --zds "$ZSOCK"
	expect "both up" wait_for 10 pod_state_is "$drop" up
	expect "both up" pod_state_is "$keep" up
	local fds
	fds=$(fd_count_quiet "$ZPID")
	kill -TERM "$APID"
	wait "$APID"
	expect "daemon notices" wait_for 10 file_has "$WORK/zt.err" "node agent closed the connection"
	expect "pods keep serving meanwhile" connect_ok "$drop" 15008
	expect "pods keep serving meanwhile" connect_ok "$keep" 15008
	start_agent "$keep"
	expect "reconciled" wait_for 20 file_has "$WORK/zt.err" "snapshot done: 1 pods (0 pending), 1 removed"
	expect "dropped pod removed" pod_absent "$drop"
	expect "its listeners closed" no_listeners "$drop"
	expect "kept pod untouched" has_listeners "$keep"
	expect "kept, not re-made" file_has "$WORK/zt.err" "add default/$keep .*already listening"
	expect "3 fds fewer" fds_settle_at "$ZPID" $((fds - 3))
}

t_pending_retry_after_port_freed() {
	mkns p
	nsenter "--net=/var/run/netns/$NS" python3 "$PEER" hold-port 15006 >"$WORK/holder" &
	local holder=$!
	PIDS+=("$holder")
	expect "holder listening" wait_for 5 file_has "$WORK/holder" listening
	start_agent "$NS"
	start_daemon --zds "$ZSOCK"
	expect "pending" wait_for 10 pod_state_is "$NS" pending
	expect "the agent prints the error" \
	    file_has "$WORK/agent.err" "add $NS .*ztunnel: bind 127.0.0.1:15006 .*Address already in use"
	expect "not ready while pending" file_has "$WORK/zt.err" "snapshot done: 1 pods (1 pending)"
	expect "nothing half-open" test "$(listening_ports "$NS")" = 15006
	kill "$holder"
	expect "retried until up" wait_for 20 pod_state_is "$NS" up
	expect "listeners" has_listeners "$NS"
}

# --zds alone: no control socket at all.
t_zds_without_control_socket() {
	mkns a
	start_agent "$NS"
	"${RUN_DAEMON[@]}" "$ZT" --zds "$ZSOCK" >/dev/null 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "listeners" wait_for "$START_SECONDS" has_listeners "$NS"
	expect "no control socket" test ! -e "$SOCK"
	kill -TERM "$ZPID"
	wait "$ZPID"
	expect "exit 0" test $? -eq 0
	expect "listeners gone" no_listeners "$NS"
}

# Each malformed or misused request against ztunnel-emulator: an error
# ack; a message it cannot read also ends the connection (as ztunnel's
# does), and it reconnects.
t_malformed_and_misuse() {
	mkns a
	local a=/var/run/netns/$NS
	mkns b
	local b=/var/run/netns/$NS
	local big base
	big=$(printf '00%.0s' $(seq 1 1100))
	# The daemon first, with no agent yet: a quiet moment to count its
	# descriptors (no pods, no connection; it retries meanwhile).
	start_daemon --zds "$ZSOCK"
	expect "waiting for an agent" wait_for 10 file_has "$WORK/zt.err" "retrying"
	base=$(fd_count_quiet "$ZPID")
	fake agent accept hello \
	    send:0aff expect-close accept hello \
	    send:22020a00 \
	    add-noinfo:u1:fd="$a" \
	    snapshot snapshot keep:u1 del:nosuch \
	    add:u1:a:fd="$a" add:u1:a:fd="$a" add:u1:a:fd="$b" \
	    add:u2:x expect-close accept hello \
	    del:u1:fd="$a" expect-close accept hello \
	    add:u3:y:fd="$a":fd="$b" expect-close accept hello \
	    send:"$big" expect-close accept hello \
	    send:0a1b0a04706f6431 expect-close accept hello \
	    add:u4:z:fd=/etc/hostname \
	    snapshot
	expect "script ran" fake_done
	expect "ztunnel's hello is 08 01" file_has "$WORK/fake.out" "^hello 0801$"
	expect_outcomes \
	    "^ack error: malformed request: truncated length$" "^closed$" \
	    "^ack error: request of no known kind$" \
	    "^ack error: add u1: no workload_info$" \
	    "^ack ok$" "^ack error: a second snapshot_sent$" \
	    "^ack error: keep u1 after snapshot_sent$" "^ack ok$" \
	    "^ack ok$" "^ack ok$" "^ack ok$" \
	    "^ack error: add u2: no netns descriptor attached$" "^closed$" \
	    "^ack error: a descriptor came with del, which takes none$" "^closed$" \
	    "^ack error: receive: more than one descriptor attached$" "^closed$" \
	    "^ack error: receive: message too long$" "^closed$" \
	    "^ack error: malformed request: length runs past the end of the message$" "^closed$" \
	    "^ack error: descriptor is not a network namespace" \
	    "^ack ok$"
	expect "the replaced pod moved to b" file_has "$WORK/zt.err" "add default/a .*replaces"
	expect "u1 reconciled away at the last snapshot" \
	    file_has "$WORK/zt.err" "del default/a .*not in the snapshot"
	expect "no pods left" test "$("$CNI" --list "$SOCK" | wc -l)" -eq 1
	expect "no descriptor kept: just the connection" \
	    fds_settle_at "$ZPID" $((base + 1))
	expect "alive" daemon_alive
	expect "at home" daemon_at_home
}

# A ztunnel that misbehaves is disconnected; the agent goes on serving.
t_agent_survives_bad_ztunnels() {
	mkns a
	start_agent -t 1 "$NS"
	fake ztunnel expect-close
	expect "silent: dropped" fake_done
	expect "closed" file_has "$WORK/fake.out" "^closed$"
	fake ztunnel push:0aff expect-close
	expect "bad hello: dropped" fake_done
	expect "closed" file_has "$WORK/fake.out" "^closed$"
	fake ztunnel push:0801 recv push:ff expect-close
	expect "bad ack: dropped" fake_done
	local add
	add=$(python3 "$ZDSPY" encode-add "netns-$(netns_ino "$NS")" "$NS" default default)
	expect "got the Add, byte for byte, with its fd" \
	    file_has "$WORK/fake.out" "^recv $add fds=1$"
	expect "closed" file_has "$WORK/fake.out" "^closed$"
	fake ztunnel push:0801 recv push:0a00:fd=/etc/hostname expect-close
	expect "fd from ztunnel: dropped" fake_done
	expect "closed" file_has "$WORK/fake.out" "^closed$"
	fake ztunnel push:0801 recv expect-close
	expect "no ack: dropped" fake_done
	expect "closed" file_has "$WORK/fake.out" "^closed$"
	expect "agent alive" kill -0 "$APID"
	expect "each logged" test "$(grep -c "disconnecting" "$WORK/agent.err")" -ge 5
	start_daemon --zds "$ZSOCK"
	expect "a good ztunnel is served" wait_for 10 has_listeners "$NS"
}

# Nothing is taken that nobody named.  The installed agent unit's own
# command line, run as systemd would run it: without MESH_SELECT it
# refuses to start; with it, a namespace it does not match (a
# bystander) gets nothing.  And make demo-zds touches only its own.
t_unit_default_takes_nothing() {
	local cmd
	# The unit's ExecStart, continuation lines joined, our binary (where
	# make install puts @BINDIR@) and a socket of the test's own in place
	# of the node's.
	cmd=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$TOP/cni-emulator/cni-emulator-agent.service" |
	    sed 's/^ExecStart=//; s/\\$//' | tr -d '\n' |
	    sed "s|@BINDIR@/cni-emulator |$CNI |; s|/run/ztunnel/ztunnel.sock|$ZSOCK|")
	expect "the unit's command line found" test -n "$cmd"
	MESH_SELECT='' eval "$cmd" 2>"$WORK/agent.err"
	expect "MESH_SELECT unset: it refuses to start (exit 1)" test $? -eq 1
	expect "saying why" file_has "$WORK/agent.err" "--watch needs --select"
	mkns bystander
	local bystander=$NS
	mkns mine
	# exec: $! is the agent itself, not a shell that would leave it behind.
	MESH_SELECT="$RUN_ID-$TEST_NO-mine" eval "exec $cmd" >"$WORK/agent.out" 2>"$WORK/agent.err" &
	APID=$!
	PIDS+=("$APID")
	expect "agent starts" wait_for "$START_SECONDS" agent_listening
	start_daemon --proxy --zds "$ZSOCK"
	expect "its pod served" wait_for 20 has_listeners "$NS"
	expect "the bystander: no listeners" no_listeners "$bystander"
	expect "the bystander: no rules" test "$(ip netns exec "$bystander" iptables-save | grep -c ISTIO)" -eq 0
	expect_not "never mentioned" file_has "$WORK/agent.err" "$bystander"
	ip netns exec "$bystander" ss -Htn >/dev/null
	"$TOP/scripts/demo-zds.sh" >"$WORK/demo.out" 2>&1
	expect "make demo-zds runs" test $? -eq 0
	expect "it takes only its own (--select)" file_has "$WORK/demo.out" "--select 'zdsdemo-"
	expect_not "the bystander is in none of its lists" file_has "$WORK/demo.out" "$bystander"
}

t_agent_socket_path() {
	echo precious >"$ZSOCK"
	timeout 30 "$CNI" --zds-serve "$ZSOCK" 2>"$WORK/err"
	expect "regular file: exit 2" test $? -eq 2
	expect "file untouched" test "$(cat "$ZSOCK")" = precious
	rm "$ZSOCK"
	start_agent
	expect "socket mode 0600" test "$(stat -c %a "$ZSOCK")" = 600
	timeout 30 "$CNI" --zds-serve "$ZSOCK" 2>"$WORK/err"
	expect "live agent: exit 2" test $? -eq 2
	expect "says so" file_has "$WORK/err" "already in use"
	kill -KILL "$APID"
	wait "$APID" 2>/dev/null
	start_agent
	expect "stale socket replaced" agent_listening
	kill -TERM "$APID"
	wait "$APID"
	expect "exit 0 on SIGTERM" test $? -eq 0
	expect "socket removed" test ! -e "$ZSOCK"
}

# 600 namespaces under the soft limit most shells give (1024): the agent
# and the daemon raise it to the hard limit, and the snapshot is whole.
t_snapshot_600_at_soft_limit_1024() {
	local i n=600 hard
	hard=$(ulimit -Hn)
	expect "a hard limit that allows it (ulimit -Hn: $hard)" \
	    test "$hard" = unlimited -o "$hard" -ge 4096
	for i in $(seq 1 "$n"); do
		echo "netns add $RUN_ID-$TEST_NO-s-$i"
	done | ip -batch - || exit 1
	"$LOAD" lo-up "$RUN_ID-$TEST_NO-s" 1 "$n" >/dev/null || exit 1
	local plain=("${RUN_DAEMON[@]}")
	RUN_DAEMON=(prlimit --nofile=1024: "${plain[@]}")
	start_agent --watch "--select=$RUN_ID-$TEST_NO-s-*"
	# valgrind keeps a program's descriptor limit where it found it (it
	# reserves the top for itself): under it the daemon (3 fds a pod)
	# starts with room instead.  The agent needs 1 a pod: it fits anyway.
	[ "${VALGRIND:-}" = 1 ] && RUN_DAEMON=("${plain[@]}")
	start_daemon --zds "$ZSOCK"
	expect "snapshot of all $n" wait_for 120 \
	    file_has "$WORK/zt.err" "snapshot done: $n pods (0 pending), 0 removed; ready"
	expect "the agent sent them all" \
	    file_has "$WORK/agent.err" "sending a snapshot of $n pods"
	expect_not "no descriptor shortage" file_has "$WORK/agent.err" "Too many open files"
	expect "$n pods listed" test "$("$CNI" --list "$SOCK" | grep -c " up ")" -eq "$n"
}

# An agent restarted with too few descriptors for its namespaces (and no
# way to raise them) sends no snapshot at all: the daemon keeps every pod
# and never reconciles from a partial one.  Then a whole snapshot again.
t_snapshot_absent_not_partial() {
	local i names=() snaps
	for i in $(seq 1 20); do
		mkns "p$i"
		names+=("$NS")
	done
	start_agent "${names[@]}"
	start_daemon --zds "$ZSOCK"
	expect "20 up" wait_for 20 file_has "$WORK/zt.err" "snapshot done: 20 pods (0 pending), 0 removed"
	kill -TERM "$APID"
	wait "$APID"
	# Not under valgrind: it needs descriptors of its own.
	prlimit --nofile=24:24 "$CNI" --zds-serve "$ZSOCK" "${names[@]}" \
	    >"$WORK/agent.out" 2>"$WORK/agent.err" &
	APID=$!
	PIDS+=("$APID")
	expect "short of descriptors" wait_for 20 file_has "$WORK/agent.err" "Too many open files"
	expect "no snapshot for ztunnel" wait_for 20 grep -Eq \
	    "no snapshot: [0-9]+ namespaces cannot be opened|out of file descriptors: refused a ztunnel" \
	    "$WORK/agent.err"
	snaps=$(grep -c "snapshot done" "$WORK/zt.err")
	expect "ztunnel tried again" wait_for 20 lines_at_least "$WORK/zt.err" "connected to .*hello sent" 3
	expect "never a partial snapshot" test "$(grep -c "snapshot done" "$WORK/zt.err")" -eq "$snaps"
	expect "never an Add sent" test "$(grep -c "add [^ ]* (uid .*: ok" "$WORK/agent.err")" -eq 0
	expect "all 20 still up" test "$("$CNI" --list "$SOCK" | grep -c " up ")" -eq 20
	for i in "${names[@]}"; do
		expect "$i still listens" has_listeners "$i"
	done
	kill -TERM "$APID"
	wait "$APID"
	start_agent "${names[@]}"
	expect "whole again" wait_for 20 file_has "$WORK/zt.err" "snapshot done: 20 pods (0 pending), 0 removed; ready"
}

run_tests t_unit_default_takes_nothing t_snapshot_600_at_soft_limit_1024 t_snapshot_absent_not_partial t_snapshot_end_to_end t_watch_add_and_del t_watch_files_that_never_mount \
    t_agent_restart_reconciles \
    t_pending_retry_after_port_freed t_zds_without_control_socket \
    t_malformed_and_misuse t_agent_survives_bad_ztunnels t_agent_socket_path
