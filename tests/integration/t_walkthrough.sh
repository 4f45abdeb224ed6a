#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The seed's walkthrough, step by step, with our binaries.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

t_walkthrough() {
	mkns pod
	cd "$TOP" || exit 1
	# sudo ./ztunnel-emulator/ztunnel-emulator /tmp/zt.sock &
	start_daemon
	expect "no listeners before the handoff" no_listeners "$NS"
	# sudo ./cni-emulator/cni-emulator /tmp/zt.sock /var/run/netns/ns2
	expect "cni-emulator exits 0" ./cni-emulator/cni-emulator "$SOCK" "/var/run/netns/$NS"
	expect "the daemon prints 'listeners ready'" \
	    wait_for 5 file_has "$WORK/zt.out" "^listeners ready$"
	# sudo ip netns exec ns2 ss -ntlp
	ip netns exec "$NS" ss -Hntlp >"$WORK/ss"
	for port in 15008 15006 15001; do
		expect "LISTEN 127.0.0.1:$port owned by the daemon" grep -q \
		    "^LISTEN .* 127.0.0.1:$port .*(\"$ZT_COMM\",pid=$ZPID," "$WORK/ss"
	done
	expect "exactly three listeners" has_listeners "$NS"
	# nc -v -z localhost 15008 / 15006 / 15001 succeed, 15002 is refused
	for port in 15008 15006 15001; do
		expect "connect to $port answers ok" connect_ok "$NS" "$port"
	done
	expect "15002 is refused" connect_refused "$NS" 15002
}

# The sockets live in the pod's namespace only, not in the daemon's.
t_nothing_in_host_netns() {
	mkns pod
	start_daemon
	expect "add" "$CNI" "$SOCK" "$NS"
	expect_not "no listener of the daemon in its own netns" \
	    grep -q "pid=$ZPID," <(ss -Hntlp)
	expect "daemon still in its own netns" daemon_at_home
}

# stdout is a file here: the line must arrive without the daemon exiting.
t_ready_line_per_pod_on_stdout() {
	start_daemon
	for i in 1 2 3; do
		mkns "p$i"
		expect "add $i" "$CNI" "$SOCK" "$NS"
		expect "line $i flushed at once" \
		    wait_for 5 lines_are "$WORK/zt.out" '^listeners ready$' "$i"
	done
	expect "stdout has nothing else" test "$(wc -l <"$WORK/zt.out")" -eq 3
}

t_many_namespaces_one_daemon() {
	local i names=()
	start_daemon
	for i in 1 2 3 4 5 6 7 8; do
		mkns "m$i"
		names+=("$NS")
		expect "add $NS" "$CNI" "$SOCK" "/var/run/netns/$NS"
	done
	for NS in "${names[@]}"; do
		expect "$NS has its listeners" has_listeners "$NS"
		expect "$NS answers" connect_ok "$NS" 15008
	done
	expect "daemon alive" daemon_alive
}

# `ip netns` style: a bare name means /var/run/netns/NAME.
t_bare_netns_name() {
	mkns pod
	start_daemon
	expect "add by name" "$CNI" "$SOCK" "$NS"
	expect "listeners" has_listeners "$NS"
	expect "log names the pod" file_has "$WORK/zt.err" "add $NS net:\["
}

# The same namespace twice: success, but no second set of listeners.
t_readd_same_netns() {
	mkns pod
	start_daemon
	local base
	base=$(fd_count "$ZPID")
	expect "first add" "$CNI" "$SOCK" "$NS"
	expect "three descriptors" fds_settle_at "$ZPID" $((base + 3))
	expect "second add succeeds" "$CNI" "$SOCK" "$NS"
	expect "still three listeners" has_listeners "$NS"
	expect "no new descriptors" fds_settle_at "$ZPID" $((base + 3))
}

# The seed's own client: one byte, one fd, hang up without reading.
t_seed_client_against_our_daemon() {
	mkns pod
	start_daemon
	expect "seed-style send" peer send "$SOCK" --hex 01 --fd "/var/run/netns/$NS" --hangup
	expect "listeners appear" wait_for 5 has_listeners "$NS"
	expect "connect ok" connect_ok "$NS" 15006
	expect "daemon alive" daemon_alive
}

# A demo missing a tool says which package has it, before it starts
# anything: nothing is left running or behind.
t_demos_check_tools_first() {
	local t d
	mkdir "$WORK/bin" || exit 1
	for t in bash dirname id ip ss iptables-restore; do
		ln -s "$(command -v "$t")" "$WORK/bin/$t" || exit 1
	done
	for d in demo-traffic demo-hbone demo-upgrade; do
		env PATH="$WORK/bin" "$(command -v bash)" "$TOP/scripts/$d.sh" \
		    >"$WORK/$d.out" 2>"$WORK/$d.err"
		expect "$d: exit 1 ($?)" test $? -eq 1
		expect "$d: names python3 and its package" \
		    file_has "$WORK/$d.err" "^$d: needs python3: apt-get install python3$"
		expect "$d: started nothing" test ! -s "$WORK/$d.out"
	done
}

run_tests t_walkthrough t_nothing_in_host_netns t_ready_line_per_pod_on_stdout \
    t_many_namespaces_one_daemon t_bare_netns_name t_readd_same_netns \
    t_seed_client_against_our_daemon t_demos_check_tools_first
