#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cni-emulator: acknowledgements, exit codes, and the seed's daemon.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# run_cni EXPECTED_STATUS args...: output in $WORK/cni.out / cni.err.
run_cni() {
	local want=$1 rc
	shift
	# timeout: a client that hangs fails the test instead of the run.
	timeout 60 "$CNI" "$@" >"$WORK/cni.out" 2>"$WORK/cni.err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "    cni-emulator $* exited $rc, expected $want" >&2
		sed 's/^/      /' "$WORK/cni.err" >&2
		return 1
	fi
}

t_success_is_silent_and_zero() {
	mkns pod
	start_daemon
	expect "exit 0" run_cni 0 "$SOCK" "$NS"
	expect "nothing on stdout" test ! -s "$WORK/cni.out"
	expect "nothing on stderr" test ! -s "$WORK/cni.err"
}

t_verbose_prints_the_ack() {
	mkns pod
	start_daemon
	expect "exit 0" run_cni 0 -v "$SOCK" "$NS"
	expect "ack printed" file_has "$WORK/cni.out" "listeners ready"
}

t_refusal_is_exit_3_on_stderr() {
	mkns pod down
	start_daemon
	expect "exit 3" run_cni 3 "$SOCK" "$NS"
	expect "one line" test "$(wc -l <"$WORK/cni.err")" -eq 1
	expect "program: what failed: why" \
	    file_has "$WORK/cni.err" "^cni-emulator: daemon: loopback is down"
}

# The seed's daemon reads the fd and never answers nor closes.
t_against_seed_daemon_times_out() {
	mkns pod
	bg python3 "$PEER" seed-daemon "$SOCK" >/dev/null
	expect "fake seed daemon up" wait_for 5 test -S "$SOCK"
	expect "ends by itself with exit 4" run_cni 4 -t 1 "$SOCK" "$NS"
	expect "says no acknowledgement" file_has "$WORK/cni.err" "no acknowledgement"
}

t_against_seed_daemon_no_wait() {
	mkns pod
	bg python3 "$PEER" seed-daemon "$SOCK" >"$WORK/seed.out"
	expect "fake seed daemon up" wait_for 5 test -S "$SOCK"
	expect "exit 0" run_cni 0 --no-wait "$SOCK" "$NS"
	expect "the seed daemon got the fd" \
	    wait_for 5 file_has "$WORK/seed.out" "received .* with 1 fd"
}

# --seed: the seed's request byte for byte, to either daemon.
t_seed_request_option() {
	mkns pod
	bg python3 "$PEER" seed-daemon "$SOCK" >"$WORK/seed.out"
	expect "fake seed daemon up" wait_for 5 test -S "$SOCK"
	expect "exit 0" run_cni 0 --seed --no-wait "$SOCK" "$NS"
	expect "the seed daemon got 0x01 and one fd" \
	    wait_for 5 file_has "$WORK/seed.out" "received 01 with 1 fd"
	kill "$BGPID"
	rm -f "$SOCK"
	start_daemon
	expect "our daemon acknowledges it" run_cni 0 --seed "$SOCK" "$NS"
	expect "and names the pod after the netns" \
	    grep -q "^$NS " <("$CNI" --list "$SOCK")
	expect "--seed with --name is a usage error" run_cni 1 --seed --name x "$SOCK" "$NS"
}

t_missing_netns_is_exit_2() {
	start_daemon
	expect "exit 2" run_cni 2 "$SOCK" "$RUN_ID-nonexistent"
	expect "names the path and the fix" \
	    file_has "$WORK/cni.err" "open /var/run/netns/$RUN_ID-nonexistent.*ip netns list"
}

t_not_a_netns_is_exit_2() {
	start_daemon
	expect "exit 2" run_cni 2 "$SOCK" /etc/hostname
	expect "says why" file_has "$WORK/cni.err" "not a network namespace"
	expect "exit 2 for another namespace type" run_cni 2 "$SOCK" /proc/self/ns/mnt
}

t_no_daemon_is_exit_2() {
	mkns pod
	expect "exit 2" run_cni 2 "$SOCK" "$NS"
	expect "hint" file_has "$WORK/cni.err" "is ztunnel-emulator running"
}

t_usage_is_exit_1() {
	expect "no args" run_cni 1
	expect "three args" run_cni 1 "$SOCK" a b
	expect "--list, two args" run_cni 1 --list "$SOCK" a
	expect "an option of another mode" run_cni 1 --list --name x
	expect "said which it goes with" file_has "$WORK/cni.err" "--name goes with adding a pod"
	expect "--watch without --select" run_cni 1 --zds-serve "$WORK/a.sock" --watch
	expect "said why" file_has "$WORK/cni.err" "--watch needs --select GLOB"
	expect "bad option" run_cni 1 --bogus "$SOCK" a
	expect "bad timeout" run_cni 1 -t zero "$SOCK" a
	expect "usage line" file_has "$WORK/cni.err" "^usage: cni-emulator"
	expect "daemon: bad option" test "$("$ZT" --bogus 2>/dev/null; echo $?)" -eq 1
	expect "daemon: two args" test "$("$ZT" a b 2>/dev/null; echo $?)" -eq 1
	expect "daemon: a bad --admin address" \
	    test "$("$ZT" --admin nonsense "$SOCK" 2>"$WORK/zt.err"; echo $?)" -eq 1
	expect "naming ztunnel's" file_has "$WORK/zt.err" "bad --admin nonsense: .*ztunnel's is 127.0.0.1:15000"
	expect "daemon: a bad --ready address" \
	    test "$("$ZT" --ready 1.2.3:99 "$SOCK" 2>"$WORK/zt.err"; echo $?)" -eq 1
	expect "naming ztunnel's" file_has "$WORK/zt.err" "bad --ready 1.2.3:99: .*ztunnel's is \\[::\\]:15021"
	expect "no socket file left" test ! -e "$SOCK"
}

# One argument is a namespace, sent to the daemon's default socket
# (/run/ztunnel-emulator/control.sock), where a daemon started without
# one listens.  In a mount namespace of the test's own, with a tmpfs of
# its own there: the machine's /run is not touched.
t_default_socket() {
	mkns a
	# shellcheck disable=SC2016  # the inner shell expands them
	unshare --mount --propagation private bash -c '
		mkdir -p /run/ztunnel-emulator &&
		mount -t tmpfs none /run/ztunnel-emulator || exit 1
		"$1" >"$2/zt.out" 2>"$2/zt.err" & z=$!
		for i in $(seq 250); do
			[ -S /run/ztunnel-emulator/control.sock ] && break
			sleep 0.02
		done
		"$3" "$4" >"$2/add.out" 2>&1; echo "add $?" >"$2/rc"
		"$3" --list >"$2/list.out" 2>&1; echo "list $?" >>"$2/rc"
		"$3" --del "$4" >/dev/null 2>&1; echo "del $?" >>"$2/rc"
		kill $z; wait $z
	' _ "$ZT" "$WORK" "$CNI" "$NS"
	expect "the daemon's default" file_has "$WORK/zt.err" "listening on /run/ztunnel-emulator/control.sock"
	expect "add, list, del through it" test "$(tr '\n' ' ' <"$WORK/rc")" = "add 0 list 0 del 0 "
	expect "listed" file_has "$WORK/list.out" "^$NS "
}

t_help_and_version() {
	expect "cni --help" run_cni 0 --help
	expect "help on stdout" file_has "$WORK/cni.out" "Exit status"
	expect "cni --version" run_cni 0 --version
	expect "version" file_has "$WORK/cni.out" "^cni-emulator [0-9]"
	expect "zt --help" "$ZT" --help >/dev/null
	expect "zt --version" "$ZT" --version >/dev/null
}

run_tests t_success_is_silent_and_zero t_verbose_prints_the_ack \
    t_refusal_is_exit_3_on_stderr t_against_seed_daemon_times_out \
    t_against_seed_daemon_no_wait t_seed_request_option t_missing_netns_is_exit_2 \
    t_not_a_netns_is_exit_2 t_no_daemon_is_exit_2 t_usage_is_exit_1 \
    t_default_socket t_help_and_version
