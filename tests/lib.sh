# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Sourced by tests/integration/t_*.sh.  Each test is a function run in its
# own subshell: `expect` ends it at the first broken assertion, and its
# daemons and namespaces are cleaned up when it ends, pass or fail.
#
# Everything a run creates carries a per-run prefix ($RUN_ID): namespace
# names, socket paths, the work directory.  Nothing else is touched.

set -u

# Used by the scripts that source this file.
# shellcheck disable=SC2034
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZT=$TOP/ztunnel-emulator/ztunnel-emulator
# shellcheck disable=SC2034
CNI=$TOP/cni-emulator/cni-emulator
PEER=$TOP/tests/helpers/peer.py
# shellcheck disable=SC2034
LOAD=$TOP/tests/bench/zt-load
# VALGRIND=1: the long-lived processes (ztunnel-emulator, the node agent)
# run under memcheck, which makes them exit 99 on any leak or memory error;
# every test stops its daemon and requires exit 0.
# shellcheck disable=SC2034,SC2054  # used by the tests; commas are valgrind's
if [ "${VALGRIND:-}" = 1 ]; then
	RUN_DAEMON=(valgrind -q --leak-check=full --show-leak-kinds=all
	    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)
	ZT_COMM=memcheck-amd64-		# what ss shows as the process name
	START_SECONDS=60
else
	RUN_DAEMON=()
	ZT_COMM=ztunnel-emulato		# comm is cut to 15 characters
	START_SECONDS=5
fi
GROUP=$(basename "$0" .sh)
GROUP=${GROUP#t_}
# REDIRECT_BACKEND=nftables: the same tests with the in-pod rules in
# nftables (tests/run.sh runs the traffic tests both ways): cni-emulator
# is given --redirect-backend wherever it installs rules.
BACKEND=${REDIRECT_BACKEND:-iptables}
if [ "$BACKEND" != iptables ]; then
	GROUP=$GROUP-$BACKEND
	CNI=$TOP/tests/helpers/cni-backend.sh
fi
export REDIRECT_BACKEND=$BACKEND
RUN_ID=zt$$$RANDOM
WORK=$(mktemp -d "/tmp/$RUN_ID.XXXXXX")
SOCK=$WORK/zt.sock
ZSOCK=$WORK/agent.sock
ZDSPY=$TOP/tests/helpers/zds.py

# Delete every namespace of this run (or of one test: $1 is a prefix).
delete_netns() {
	local ns
	# A name may start with a dot, or hold bytes that are not UTF-8.
	# The names, never `ip netns list`: it opens every entry, and a FIFO
	# there (hardening/fifo_does_not_hang_agent, maybe another run's)
	# blocks an open until a writer comes.
	for ns in /var/run/netns/"${1:-$RUN_ID}"-* /var/run/netns/."${1:-$RUN_ID}"-*; do
		[ -e "$ns" ] || continue
		ns=${ns##*/}
		ip netns del "$ns" 2>/dev/null
	done
}

cleanup_run() {
	# Daemons started by tests that died before their own cleanup.
	pkill -KILL -f "$WORK/" 2>/dev/null
	delete_netns
	rm -rf "$WORK"
}
trap cleanup_run EXIT
trap 'exit 130' INT TERM

# --- inside a test ---------------------------------------------------------

PIDS=()

# expect "what should hold" command args...  What the command prints is
# shown only if it fails: a green run prints its "ok" lines and nothing
# else.
expect() {
	local what=$1
	shift
	if ! "$@" >"$WORK/expect.out" 2>&1; then
		echo "    FAILED: $what" >&2
		echo "    (command: $*)" >&2
		tail -n 20 "$WORK/expect.out" | sed 's/^/      | /' >&2
		exit 1
	fi
}

# expect_not "what should not hold" command args...
expect_not() {
	local what=$1
	shift
	if "$@" >"$WORK/expect.out" 2>&1; then
		echo "    FAILED: $what" >&2
		echo "    (command succeeded: $*)" >&2
		tail -n 20 "$WORK/expect.out" | sed 's/^/      | /' >&2
		exit 1
	fi
}

# wait_for SECONDS command args...: poll until the command succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.02
	done
}

# mkns SUFFIX [down]: create namespace $RUN_ID-$TEST-SUFFIX, lo up unless
# told otherwise; its name is in $NS.
mkns() {
	NS=$RUN_ID-$TEST_NO-$1
	ip netns add "$NS" || exit 1
	[ "${2:-}" = down ] || ip -n "$NS" link set lo up || exit 1
}

# The daemon ZPID listens on SOCK (as ss sees it: no log line needed).
daemon_listening() {
	ss -Hxlp | grep -qF " $SOCK " && ss -Hxlp | grep -F " $SOCK " | grep -q "pid=$ZPID,"
}

# start_daemon [args...]: ztunnel-emulator on $SOCK; pid in $ZPID, output
# in $WORK/zt.out and $WORK/zt.err.
start_daemon() {
	"${RUN_DAEMON[@]}" "$ZT" "$@" "$SOCK" >"$WORK/zt.out" 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "daemon starts" wait_for "$START_SECONDS" daemon_listening
}

# bg command args...: run in the background, pid in $BGPID.  The command
# must be a program, not a shell function: then $BGPID is the program
# itself, and killing it leaves nothing behind.
bg() {
	"$@" &
	BGPID=$!
	PIDS+=("$BGPID")
}

daemon_alive() { kill -0 "$ZPID" 2>/dev/null; }

# The pod's namespace answers "ok" on PORT (bash's /dev/tcp: no nc needed).
connect_ok() {
	ip netns exec "$1" timeout 5 bash -c \
	    "exec 3<>/dev/tcp/127.0.0.1/$2 && read -r line <&3 && [ \"\$line\" = ok ]" \
	    2>/dev/null
}

connect_refused() {
	! ip netns exec "$1" timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2" \
	    2>/dev/null
}

# Listening TCP ports in a namespace, one per line, sorted.
listening_ports() {
	ip netns exec "$1" ss -Hntl | awk '{ n = split($4, a, ":"); print a[n] }' | sort -n
}

# The three listeners, and nothing else, in namespace $1 (the DNS
# proxy's TCP 15053 aside: --proxy has it too).
has_listeners() {
	[ "$(listening_ports "$1" | grep -vx 15053 | tr '\n' ' ')" = "15001 15006 15008 " ]
}

no_listeners() {
	[ -z "$(listening_ports "$1")" ]
}

# Process $1 holds a descriptor on the namespace with inode $2.  By
# identity (device, inode), as the kernel sees it: readlink shows
# "net:[N]" for /proc/PID/ns/net but the path for a file under
# /var/run/netns, so a match on either text misses the other.
holds_netns() {
	local nsdev
	nsdev=$(stat -L -c %d /proc/self/ns/net)
	stat -L -c '%d %i' /proc/"$1"/fd/* 2>/dev/null | grep -qFx "$nsdev $2"
}

# fd_count PID [WHAT]: its descriptors, or those on WHAT only (as
# /proc/PID/fd links name it: 'socket:*', 'pipe:*').
fd_count() {
	local n
	n=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname "${2:-*}" \
	    2>/dev/null | wc -l)
	echo "$n"
}

# fds_settle_at PID N: the descriptor count comes to N.  A peer that has
# its reply may close before the daemon reads the hangup and closes its
# end, so a count taken at once can be one high for a while (longer under
# valgrind); a leak stays high, and fails here after 10 s.
fds_settle_at() {
	wait_for 10 fds_are "$1" "$2" && return 0
	echo "    $(fd_count "$1") descriptors, want $2" >&2
	return 1
}
fds_are() { [ "$(fd_count "$1")" -eq "$2" ]; }

# The count with nothing in flight, for a baseline taken while the daemon
# retries something (a ZDS connect holds its socket for microseconds) or
# just after a peer (a --list) hung up: a transient descriptor only ever
# adds, so the least of readings over half a second.  fd_count_quiet PID
# [WHAT], as fd_count.
fd_count_quiet() {
	local n least=
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		n=$(fd_count "$1" "${2:-*}")
		if [ -z "$least" ] || [ "$n" -lt "$least" ]; then
			least=$n
		fi
		sleep 0.05
	done
	echo "$least"
}

# The daemon is in the namespace it started in (all its threads).  A
# handoff or a pending pod's retry takes it into a pod for microseconds:
# look again a few times before calling it stranded.
daemon_at_home() {
	local home t try
	home=$(readlink /proc/self/ns/net)
	for try in 1 2 3 4 5; do
		for t in /proc/"$ZPID"/task/*; do
			[ "$(readlink "$t/ns/net")" = "$home" ] || continue 2
		done
		return 0
	done
	echo "    daemon in $(readlink /proc/"$ZPID"/ns/net) after $try looks" >&2
	return 1
}

peer() { python3 "$PEER" "$@"; }

# A file that is not there yet has nothing (wait_for asks again).
file_has() { grep -q -- "$2" "$1" 2>/dev/null; }

count_lines() { grep -c -- "$2" "$1" 2>/dev/null; }

# lines_at_least FILE PATTERN N: for wait_for, which re-runs it.
lines_at_least() { [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; }
lines_are() { [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -eq "$3" ]; }

# Stop the daemon as an operator would.  It must exit 0: under the
# sanitizers that also means no leak and no error at exit.
stop_daemon() {
	local rc
	daemon_alive || return 0
	kill -TERM "$ZPID"
	wait "$ZPID"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "    FAILED: daemon exited $rc on SIGTERM" >&2
		return 1
	fi
}

# No process with this run's directory in its command line.  A function:
# a "sh -c" would have it in its own.
none_of_ours_left() { ! pgrep -f "$WORK/" >/dev/null; }

end_test() {
	local rc=$? pid log
	if [ -n "${ZPID:-}" ] && ! stop_daemon; then
		rc=1
	fi
	for pid in "${PIDS[@]}"; do
		{ kill -KILL "$pid" && wait "$pid"; } 2>/dev/null
	done
	# And what they started (a daemon under nsenter or eval): nothing of
	# this test may outlive it and answer on the next one's paths.
	pkill -KILL -f "$WORK/" 2>/dev/null
	wait_for 10 none_of_ours_left
	# This test's own logs: run_tests clears them before each test.
	if [ "$rc" -ne 0 ]; then
		for log in "$WORK/zt.err" "$WORK/agent.err"; do
			[ -s "$log" ] || continue
			# valgrind's report starts with what went wrong: show
			# that, not the last lines of its summary.
			if grep -v 'Warning: noted\|This could\|See README_MISSING' "$log" |
			    grep -q "^==[0-9]*== [A-Z0-9]"; then
				echo "    $(basename "$log") (valgrind):" >&2
				grep '^==[0-9]*==' "$log" | grep -v 'Warning: noted\|This could\|See README_MISSING' |
				    head -n 40 | sed 's/^/      /' >&2
				continue
			fi
			echo "    $(basename "$log") (last lines):" >&2
			tail -n 8 "$log" | sed 's/^/      /' >&2
		done
	fi
	delete_netns "$RUN_ID-$TEST_NO"
	rm -f "$WORK"/*.sock
	exit "$rc"
}

# --- ZDS: the node agent and scripted peers ------------------------------


# The agent APID listens on ZSOCK: its pid, not just the path, or an agent
# of an earlier test that has not quite gone would pass for it.
agent_listening() { ss -Hxlp | grep -F " $ZSOCK " | grep -q "pid=$APID,"; }

# start_agent args...: our node agent on $ZSOCK; pid in $APID.
start_agent() {
	"${RUN_DAEMON[@]}" "$CNI" --zds-serve "$ZSOCK" "$@" \
	    >"$WORK/agent.out" 2>"$WORK/agent.err" &
	APID=$!
	PIDS+=("$APID")
	expect "agent starts" wait_for "$START_SECONDS" agent_listening
}

# fake ROLE steps...: the scripted peer, its lines in $WORK/fake.out.
fake() {
	local role=$1
	shift
	# Emptied here, not by the background job's own redirection: that
	# runs later, and a check in between would read the last peer's lines.
	: >"$WORK/fake.out"
	python3 "$ZDSPY" "$role" "$ZSOCK" "$@" >>"$WORK/fake.out" 2>&1 &
	PIDS+=($!)
	if [ "$role" = agent ]; then
		expect "fake agent listens" wait_for 10 file_has "$WORK/fake.out" "^listening$"
	fi
}

fake_done() { wait_for 60 file_has "$WORK/fake.out" "^done$"; }

# The outcomes the fake peer printed, one per line, without the
# connection bookkeeping.
outcomes() { grep -v -e '^listening$' -e '^accepted$' -e '^hello ' -e '^done$' "$WORK/fake.out"; }

# pod_field LABEL COLUMN: from --list -o wide on the control socket
# (NAME STATE CONNS BYTES AGE VIA NETNS PORTS SERVED SOCKETS UID).
pod_field() {
	"$CNI" --list -o wide "$SOCK" | awk -v n="$1" -v c="$2" '$1 == n { print $c }'
}

# pod_json LABEL KEY: a number or a word of --list --json's entry for the
# pod (KEY: a python subscript, e.g. '["bytes"]["out"]').
pod_json() {
	"$CNI" --list --json "$SOCK" | /usr/bin/python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["name"] == sys.argv[1]:
        print(eval("p" + sys.argv[2]))' "$1" "$2"
}
pod_state_is() { [ "$(pod_field "default/$1" 2)" = "$2" ]; }
pod_absent() { [ -z "$(pod_field "default/$1" 1)" ]; }
netns_ino() { stat -L -c %i "/var/run/netns/$1"; }

# note TEXT: said after the test's name on its "ok" line (a figure it
# measured, not one it asserts).
note() { echo "$*" >"$WORK/note"; }

# run_tests name...: each in a subshell, one "ok"/"not ok" line each.
# TESTS=regex (from the environment) runs only the matching ones.
run_tests() {
	local t n=0 extra ticker
	for t in "$@"; do
		n=$((n + 1))
		[[ "$GROUP/${t#t_}" =~ ${TESTS:-.} ]] || continue
		TEST_NO=$n
		rm -f "$WORK"/*.out "$WORK"/*.err "$WORK/note"
		# A long test says so now and then: a run is never silent for
		# long, and which test is slow is plain.
		(
			trap 'kill $! 2>/dev/null; exit 0' TERM
			while sleep 15 & wait $!; do
				echo "# $GROUP/${t#t_}: still running"
			done
		) &
		ticker=$!
		if (trap end_test EXIT; "$t"); then
			extra=""
			[ -s "$WORK/note" ] && extra=" ($(cat "$WORK/note"))"
			echo "ok $GROUP/${t#t_}$extra"
		else
			echo "not ok $GROUP/${t#t_}"
		fi
		kill "$ticker" 2>/dev/null
		wait "$ticker" 2>/dev/null
	done
}
