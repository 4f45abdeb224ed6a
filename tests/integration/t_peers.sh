#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Many peers at once, slow and silent peers, who may talk to the daemon,
# running out of descriptors, log levels.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

all_holding() { grep -q "holding 50" "$WORK/h1" && grep -q "holding 50" "$WORK/h2"; }

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# The socket's directory must be reachable for another user.
open_workdir() { chmod 0711 "$WORK"; }

t_concurrent_adds_200() {
	local i pids=() failed=0 base
	start_daemon
	base=$(fd_count "$ZPID")
	for i in $(seq 1 200); do
		echo "netns add $RUN_ID-$TEST_NO-c$i"
	done | ip -batch - || exit 1
	for i in $(seq 1 200); do
		ip -n "$RUN_ID-$TEST_NO-c$i" link set lo up || exit 1
	done
	for i in $(seq 1 200); do
		"$CNI" "$SOCK" "$RUN_ID-$TEST_NO-c$i" 2>>"$WORK/cni.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || failed=$((failed + 1))
	done
	[ "$failed" -eq 0 ] || sed 's/^/      /' "$WORK/cni.err" | sort | uniq -c | head >&2
	expect "all 200 adds succeed" test "$failed" -eq 0
	expect "--list shows 200" test "$("$CNI" --list "$SOCK" | tail -n +2 | wc -l)" -eq 200
	expect "3 listeners per pod, nothing else kept" \
	    fds_settle_at "$ZPID" $((base + 600))
	expect "at home" daemon_at_home
}

# 100 peers that send nothing or half a request: if they were served one
# after the other, their 2 s deadlines would add up to minutes and the
# good client (5 s timeout) would fail.
t_silent_peers_do_not_delay_others() {
	start_daemon
	bg python3 "$PEER" hold "$SOCK" --count 50 --seconds 60 >"$WORK/h1"
	bg python3 "$PEER" hold "$SOCK" --count 50 --hex 61646420 --seconds 60 >"$WORK/h2" # "add "
	expect "100 slow peers connected" wait_for 30 all_holding
	mkns good
	expect "good add succeeds meanwhile" "$CNI" "$SOCK" "$NS"
	expect "good list too" "$CNI" --list "$SOCK" >/dev/null
	expect "the slow ones are timed out" \
	    wait_for 10 grep -q "no complete request within" "$WORK/zt.err"
	expect "alive" daemon_alive
}

t_refused_uid() {
	open_workdir
	start_daemon --socket-mode 0666
	expect "socket mode 0666" test "$(stat -c %a "$SOCK")" = 666
	as_nobody "$CNI" --list "$SOCK" >/dev/null 2>"$WORK/err"
	expect "nobody is refused: exit 3" test $? -eq 3
	expect "clear error" file_has "$WORK/err" "daemon: uid 65534 is not allowed"
	expect "logged" file_has "$WORK/zt.err" "refused pid [0-9]*: uid 65534 is not allowed"
	expect "root may" "$CNI" --list "$SOCK" >/dev/null
}

t_allow_uid_widens() {
	open_workdir
	start_daemon --socket-mode 0666 --allow-uid nobody
	expect "nobody may list" as_nobody "$CNI" --list "$SOCK" >/dev/null
	stop_daemon
	start_daemon --socket-mode 0666 --allow-uid 65534
	expect "by number too" as_nobody "$CNI" --list "$SOCK" >/dev/null
}

t_default_mode_keeps_others_out() {
	open_workdir
	start_daemon
	as_nobody "$CNI" --list "$SOCK" >/dev/null 2>"$WORK/err"
	expect "exit 2" test $? -eq 2
	expect "hint about the mode" file_has "$WORK/err" "Permission denied (.*--socket-mode)"
}

# Out of descriptors: an error, not a crash or a spin; fine again once
# descriptors are free.  Fill the daemon's table with pods until adds fail.
t_out_of_fds_then_recovers() {
	local i added=0 refused=0 rc base
	start_daemon
	base=$(fd_count "$ZPID")
	# The soft limit only: lowering the hard one could not be undone.
	prlimit --pid "$ZPID" --nofile=40: || exit 1
	for i in $(seq 1 20); do
		mkns "p$i"
		"$CNI" "$SOCK" "$NS" 2>"$WORK/err"
		rc=$?
		if [ "$rc" -eq 0 ]; then
			added=$((added + 1))
			continue
		fi
		refused=$((refused + 1))
		expect "refused with exit 3" test "$rc" -eq 3
		expect "says why" grep -Eq "Too many open files|out of file descriptors|descriptor table is full" "$WORK/err"
		expect "nothing half-made" no_listeners "$NS"
	done
	expect "some pods fit" test "$added" -ge 5
	expect "the rest were refused" test "$refused" -ge 5
	expect "no descriptor leaked by the failures: 3 per pod added" \
	    fds_settle_at "$ZPID" $((base + 3 * added))
	expect "alive" daemon_alive
	expect "still lists" "$CNI" --list "$SOCK" >/dev/null
	expect "remove one" "$CNI" --del "$SOCK" "$RUN_ID-$TEST_NO-p1"
	expect "room for one more" "$CNI" "$SOCK" "$NS"
	prlimit --pid "$ZPID" --nofile=4096: || exit 1
	mkns more
	expect "all good with a higher limit" "$CNI" "$SOCK" "$NS"
}

t_log_levels() {
	mkns a
	start_daemon -q
	expect "add" "$CNI" "$SOCK" "$NS"
	expect "-q: no info line" test "$(count_lines "$WORK/zt.err" "add ")" -eq 0
	"$CNI" --del "$SOCK" nosuch 2>/dev/null
	expect "-q: errors still" file_has "$WORK/zt.err" "no such pod"
	expect "stdout still has the ready line" file_has "$WORK/zt.out" "^listeners ready$"
	stop_daemon
	start_daemon -v
	expect "add" "$CNI" --name other "$SOCK" "$NS"
	expect "-v: debug lines" file_has "$WORK/zt.err" "pid [0-9]* uid 0 connected"
}

# Each line as ztunnel writes it: an RFC 3339 time in UTC to the
# microsecond, the level, the target, the message, then key=value fields,
# tab-separated; the node agent the same way.  --log-format short is
# "program: target: message" for people.
t_log_format() {
	local t='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z'
	local tab=$'\t' first now
	mkns a
	start_daemon --admin 127.0.0.1:0
	expect "add" "$CNI" "$SOCK" "$NS"
	"$CNI" --del "$SOCK" nosuch 2>/dev/null
	expect "the add, target pods" grep -Eq \
	    "^$t${tab}info${tab}pods${tab}add $NS net:\\[[0-9]+\\]: listening on " "$WORK/zt.err"
	expect "a listener, with its fields" grep -Eq \
	    "^$t${tab}info${tab}admin${tab}listener established${tab}address=127[.]0[.]0[.]1:[0-9]+ component=\"admin\"$" "$WORK/zt.err"
	expect "a warning" grep -Eq "^$t${tab}warn${tab}[a-z]+${tab}.*no such pod" "$WORK/zt.err"
	# Every line but valgrind's own notes (==PID==) under VALGRIND=1.
	grep -v '^==[0-9]*==' "$WORK/zt.err" | grep -Ev \
	    "^$t${tab}(error|warn|info|debug)${tab}[a-z-]+${tab}[^${tab}]+(${tab}[^${tab}]+)?$" >"$WORK/odd"
	expect "every line so: $(head -n 1 "$WORK/odd")" test ! -s "$WORK/odd"
	first=$(date -u -d "$(grep -v '^==' "$WORK/zt.err" | head -n 1 | cut -f1)" +%s) || exit 1
	now=$(date -u +%s)
	expect "in UTC, now ($first vs $now)" test $((now - first)) -ge 0 -a $((now - first)) -lt 600
	stop_daemon
	start_daemon --log-format short
	expect "add again" "$CNI" "$SOCK" "$NS"
	expect "short: program, target, message" \
	    file_has "$WORK/zt.err" "^ztunnel-emulator: pods: add $NS net:\\[[0-9]*\\]: listening on "
	"$ZT" --log-format json "$WORK/none.sock" 2>"$WORK/bad.err"
	expect "a bad format: usage, exit 1 ($?)" test $? -eq 1
	expect "said so" file_has "$WORK/bad.err" "^ztunnel-emulator: bad --log-format json: ztunnel or short$"
	start_agent "$NS"
	expect "the agent's lines too" wait_for 10 grep -Eq \
	    "^$t${tab}info${tab}cni-emulator${tab}serving on $ZSOCK " "$WORK/agent.err"
}

run_tests t_concurrent_adds_200 t_silent_peers_do_not_delay_others \
    t_refused_uid t_allow_uid_widens t_default_mode_keeps_others_out \
    t_out_of_fds_then_recovers t_log_levels t_log_format
