#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The native nftables backend (Istio 1.28): the three inet tables exactly
# as the golden text has them, nothing of the pod's own touched, one
# backend per pod, auto decided once and said, and --verify and the
# reconcile on these tables as on iptables'.  (The pod traffic runs under
# both backends: tests/run.sh runs t_traffic.sh again as traffic-nftables.)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

nft_table() {
	in_pod "$1" nft list table inet "istio-ambient-$2" |
	    sed 's/packets [0-9]* bytes [0-9]*/packets N bytes N/'
}
# What of the pod's own and ours is there: nft tables (iptables-nft's
# empty family-ip ones aside) with their rules, iptables rules, ip rules.
podstate() {
	local t
	in_pod "$1" nft list tables | grep -v -e '^table ip ' -e '^table ip6 '
	for t in $(in_pod "$1" nft list tables | awk '$2 == "inet" { print $3 }'); do
		in_pod "$1" nft list table inet "$t" | sed 's/packets [0-9]* bytes [0-9]*//'
	done
	in_pod "$1" iptables-save | grep -E '^(-A|:[A-Z_]+ -)'
	in_pod "$1" ip6tables-save | grep -E '^(-A|:[A-Z_]+ -)'
	in_pod "$1" ip rule show
	in_pod "$1" ip -6 rule show
}

# The three tables, as the golden text, and their counters move.
t_golden_tables() {
	local t
	node_up 2
	start_node_daemon
	app 2
	expect "enrolled" "$CNI" --redirect --redirect-backend nftables "$SOCK" "$(pod_ns 1)"
	for t in nat mangle raw; do
		nft_table 1 "$t" >"$WORK/$t"
		if ! cmp -s "$TOP/tests/golden/nft-istio-ambient-$t.txt" "$WORK/$t"; then
			diff "$TOP/tests/golden/nft-istio-ambient-$t.txt" "$WORK/$t" >&2
		fi
		expect "inet istio-ambient-$t as the golden text" \
		    cmp -s "$TOP/tests/golden/nft-istio-ambient-$t.txt" "$WORK/$t"
	done
	expect "no iptables rule of ours" test "$(in_pod 1 iptables-save | grep -c ISTIO)" -eq 0
	expect "the fwmark rule" in_pod 1 sh -c "ip rule show | grep -q 'fwmark 0x111/0xfff lookup 100'"
	expect "A calls B through 15001" test "$(client 1 peer 2)" = "$(pod_ip 1)"
	expect "the redirect's counter moved" in_pod 1 sh -c \
	    "nft list table inet istio-ambient-nat | grep -q 'counter packets [1-9][0-9]* bytes [0-9]* redirect to :15001'"
	expect "whole by --verify" "$CNI" --verify "$(pod_ns 1)"
}

# The pod's own nft table and iptables rule survive our add and remove;
# removal leaves the pod exactly as before.
t_pods_own_rules_untouched() {
	local ns
	node_up 1
	ns=$(pod_ns 1)
	printf 'add table inet mine\nadd chain inet mine out { type filter hook output priority 0 ; }\nadd rule inet mine out tcp dport 9 counter accept\n' |
	    in_pod 1 nft -f - || exit 1
	in_pod 1 iptables -A OUTPUT -p udp --dport 9 -j ACCEPT || exit 1
	podstate 1 >"$WORK/before"
	start_node_daemon
	expect "enrolled" "$CNI" --redirect --redirect-backend nftables "$SOCK" "$ns"
	expect "again: idempotent" "$CNI" --redirect --redirect-backend nftables "$SOCK" "$ns"
	expect "three tables of ours, once" test "$(in_pod 1 nft list tables | grep -c 'inet istio-ambient-')" -eq 3
	expect "the pod's own table still there" in_pod 1 nft list table inet mine
	expect "removed" "$CNI" --del --redirect "$SOCK" "$ns"
	podstate 1 >"$WORK/after"
	if ! cmp -s "$WORK/before" "$WORK/after"; then
		diff "$WORK/before" "$WORK/after" >&2
	fi
	expect "exactly as before" cmp -s "$WORK/before" "$WORK/after"
}

# One backend per pod: a pod with iptables rules of ours is not written
# over in nftables (and the other way round); auto says what it chose.
t_one_backend_per_pod() {
	local ns
	node_up 2
	ns=$(pod_ns 1)
	start_node_daemon
	expect "in iptables" "$CNI" --redirect "$SOCK" "$ns"
	podstate 1 >"$WORK/before"
	"$CNI" --redirect --redirect-backend nftables "$SOCK" "$ns" 2>"$WORK/err"
	expect "nftables over it: exit 2" test $? -eq 2
	expect "says why" file_has "$WORK/err" "the pod has iptables rules of ours: not mixing backends"
	podstate 1 >"$WORK/after"
	expect "nothing written" cmp -s "$WORK/before" "$WORK/after"
	expect "still whole" "$CNI" --verify "$ns"
	expect "pod 2 in nftables" "$CNI" --redirect --redirect-backend nftables "$SOCK" "$(pod_ns 2)"
	"$CNI" --redirect "$SOCK" "$(pod_ns 2)" 2>"$WORK/err"
	expect "iptables over it: exit 2" test $? -eq 2
	expect "says why" file_has "$WORK/err" "the pod has nftables rules of ours"
	"$CNI" --redirect --redirect-backend auto "$SOCK" "$(pod_ns 2)" 2>"$WORK/auto.err"
	expect "auto says what it chose, and why" file_has "$WORK/auto.err" \
	    "in-pod rules: \(iptables\|nftables\) (.*host.*)"
	"$CNI" --redirect --redirect-backend nft "$SOCK" "$(pod_ns 2)" 2>"$WORK/err"
	expect "a bad backend: usage, exit 1" test $? -eq 1
	"$CNI" --redirect-backend nftables "$SOCK" "$(pod_ns 2)" 2>"$WORK/err"
	expect "a backend without --redirect: usage, exit 1" test $? -eq 1
	expect "says so" file_has "$WORK/err" "^cni-emulator: --redirect-backend goes with --redirect$"
}

# --verify and the agent's reconcile on nftables: a rule deleted from our
# table is named, and put back.
t_verify_and_reconcile() {
	local ns handle
	node_up 1
	ns=$(pod_ns 1)
	start_agent --redirect --redirect-backend nftables --reconcile-period 1 "$ns"
	expect "the agent says its backend" file_has "$WORK/agent.err" "in-pod rules: nftables (given)"
	start_node_daemon --zds "$ZSOCK"
	expect "whole" wait_for 20 "$CNI" --verify "$ns"
	kill -STOP "$APID"	# no repair while we look
	# The IPv4 one (its ip6 twin follows it).
	handle=$(in_pod 1 nft -a list chain inet istio-ambient-nat istio-output |
	    sed -n 's/.* ip daddr .*redirect to :15001 # handle \([0-9]*\)/\1/p')
	expect "the 15001 redirect's handle ($handle)" test -n "$handle"
	in_pod 1 nft delete rule inet istio-ambient-nat istio-output handle "$handle" || exit 1
	"$CNI" --verify "$ns" >"$WORK/v.out"
	expect "named: exit 5" test $? -eq 5
	expect "which table and chain" file_has "$WORK/v.out" \
	    "rules: nft: istio-ambient-nat istio-output: 9 rules, 10 installed"
	kill -CONT "$APID"
	expect "repaired" wait_for 20 "$CNI" --verify "$ns"
	expect "logged" file_has "$WORK/agent.err" "$ns: repaired rules (nft: istio-ambient-nat istio-output"
	expect "still one backend" test "$(in_pod 1 iptables-save | grep -c ISTIO)" -eq 0
}

run_tests t_golden_tables t_pods_own_rules_untouched t_one_backend_per_pod \
    t_verify_and_reconcile
