#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Enrolment, measured in the pod: cni-emulator --verify names each thing
# that drifted; the node agent's reconcile puts each back and counts it;
# an agent restart and a simulated reboot end with every pod whole again,
# untouched by hand.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# verify_line NETNS: --verify's one line for it (its status in $WORK/rc).
verify_line() {
	"$CNI" --verify "$1" >"$WORK/verify.out" 2>&1
	echo $? >"$WORK/rc"
	cat "$WORK/verify.out"
}
whole() { "$CNI" --verify "$@" >/dev/null 2>&1; }
# says PATTERN: --verify on $NS exits 5 with PATTERN in its line.
says() {
	local line
	line=$(verify_line "$NS")
	if [ "$(cat "$WORK/rc")" = 5 ] && [[ "$line" == *"$1"* ]]; then
		return 0
	fi
	echo "$line"
	return 1
}
# The agent's metrics port, from its log.
agent_port() {
	sed -n "s/.*listener established.address=127.0.0.1:\\([0-9]*\\) component=\"$1\".*/\\1/p" "$WORK/agent.err"
}
metric() {
	curl -s "http://127.0.0.1:$(agent_port stats)/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
metric_at_least() { [ "$(metric "$1")" -ge "$2" ] 2>/dev/null; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
readyz_is() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(agent_port health)/readyz")" = "$1" ]
}

# (c) Each drift by hand, each named by --verify in one line; --json says
# the same per facet.
t_verify_names_each_drift() {
	local line
	mkns a
	start_daemon --proxy
	expect "enrolled" "$CNI" --redirect "$SOCK" "$NS"
	line=$(verify_line "$NS")
	expect "whole: exit 0 ($line)" test "$(cat "$WORK/rc")" = 0
	expect "its line" test "$line" = "$NS: whole (net:[$(netns_ino "$NS")], ztunnel-emulator pid $ZPID)"
	ip netns exec "$NS" iptables -t nat -D OUTPUT -j ISTIO_OUTPUT || exit 1
	expect "a jump deleted" says "rules: nat: OUTPUT -j ISTIO_OUTPUT missing"
	ip -n "$NS" route flush table 100 || exit 1
	expect "table 100 emptied" says "routing: no route local default dev lo in table 100"
	ip -n "$NS" link set lo down || exit 1
	expect "lo down" says "loopback: lo is down"
	"$CNI" --verify --json "$NS" >"$WORK/v.json"
	expect "--json: exit 5" test $? -eq 5
	expect "--json: a boolean per facet, a reason per false one" /usr/bin/python3 -c '
import json, sys
[p] = json.load(open(sys.argv[1]))
assert p["pod"] == sys.argv[2] and p["whole"] is False, p
assert (p["rules"], p["routing"], p["listeners"], p["loopback"]) == (False, False, True, False), p
assert sorted(p["reasons"]) == ["loopback", "routing", "rules"], p
assert p["reasons"]["loopback"] == "lo is down", p
' "$WORK/v.json" "$NS"
	# Put back by hand: lo up, and the install is whole again.
	ip -n "$NS" link set lo up || exit 1
	expect "reinstalled" "$CNI" --redirect "$SOCK" "$NS"
	expect "whole again" whole "$NS"
	ip netns exec "$NS" ss -K -tl "sport = :15001" >/dev/null || exit 1
	expect "a listener killed (ss -K)" says "listeners: 15001 not listening"
	expect "the daemon saw it" wait_for 10 file_has "$WORK/zt.err" "15001 is no longer listening"
	expect "and lives on" daemon_alive
	stop_daemon
	expect "no daemon" says "listeners: 15008 not listening"
	mkns b
	expect "not enrolled: every facet missing" \
	    says "rules: mangle: no ISTIO_PRERT, ISTIO_OUTPUT; routing: no rule fwmark"
	"$CNI" --verify >"$WORK/all.out" 2>&1
	expect "with no names: ours listed" file_has "$WORK/all.out" "^$RUN_ID-$TEST_NO-a: NOT WHOLE"
	expect_not "an unenrolled namespace is not" file_has "$WORK/all.out" "^$NS:"
	"$CNI" --verify nosuch-$RUN_ID 2>"$WORK/err"
	expect "a name that is no namespace: exit 2" test $? -eq 2
}

# (c) The agent's reconcile: each drift repaired within a period, logged,
# counted in its metrics; readiness, ztunnel_connected and the pod's
# enrolment state on its own surfaces.
t_reconcile_repairs_drift() {
	mkns a
	start_agent --redirect --reconcile-period 1 --metrics 127.0.0.1:0 \
	    --health 127.0.0.1:0 "$NS"
	start_daemon --proxy --zds "$ZSOCK"
	expect "whole" wait_for 20 whole "$NS"
	expect "readyz 200" wait_for 10 readyz_is 200
	expect "ztunnel_connected 1" wait_for 10 metric_is ztunnel_connected 1
	expect "the pod enabled" wait_for 10 file_has <(curl -s "http://127.0.0.1:$(agent_port stats)/metrics") \
	    "^nodeagent_pod_enrolment{pod=\"$NS\",uid=\"netns-$(netns_ino "$NS")\",state=\"enabled\"} 1$"
	ip netns exec "$NS" iptables -t nat -D OUTPUT -j ISTIO_OUTPUT || exit 1
	expect "rules repaired" wait_for 20 whole "$NS"
	expect "counted" wait_for 10 metric_at_least 'nodeagent_reconcile_events_total{type="rules"}' 1
	expect "logged" file_has "$WORK/agent.err" "$NS: repaired rules (nat: OUTPUT -j ISTIO_OUTPUT missing)"
	ip -n "$NS" route flush table 100 || exit 1
	expect "routing repaired" wait_for 20 whole "$NS"
	expect "counted" wait_for 10 metric_at_least 'nodeagent_reconcile_events_total{type="routing"}' 1
	ip -n "$NS" link set lo down || exit 1
	expect "lo repaired" wait_for 20 whole "$NS"
	expect "counted" wait_for 10 metric_at_least 'nodeagent_reconcile_events_total{type="loopback"}' 1
	ip netns exec "$NS" ss -K -tl "sport = :15006" >/dev/null || exit 1
	expect "a listener repaired" wait_for 20 whole "$NS"
	expect "counted" wait_for 10 metric_at_least 'nodeagent_reconcile_events_total{type="listeners"}' 1
	expect "ztunnel bound it again" file_has "$WORK/zt.err" "a listener was lost; listening again"
	expect "the daemon alive, at home" daemon_alive
	expect "metrics parse (promtool)" bash -c "command -v promtool >/dev/null || exit 0;
	    curl -s http://127.0.0.1:$(agent_port stats)/metrics | promtool check metrics"
	"$CNI" --zds-serve "$WORK/x.sock" --reconcile-period 0 2>"$WORK/err"
	expect "--reconcile-period 0: usage, exit 1" test $? -eq 1
	expect "said so" file_has "$WORK/err" "bad --reconcile-period 0"
}

# (d) An agent restart, then a simulated reboot (every rule flushed, lo
# down, both programs killed and started again): every pod whole again
# with nobody touching it.
t_restart_and_reboot_whole_again() {
	local a b ns
	mkns a
	a=$NS
	mkns b
	b=$NS
	start_agent --redirect --reconcile-period 1 "$a" "$b"
	start_daemon --proxy --zds "$ZSOCK"
	expect "both whole" wait_for 20 whole "$a" "$b"
	kill -TERM "$APID"
	wait "$APID"
	expect "agent stopped: exit 0" test $? -eq 0
	expect "pods still whole without it" whole "$a" "$b"
	start_agent --redirect --reconcile-period 1 "$a" "$b"
	expect "whole after the agent's restart" wait_for 20 whole "$a" "$b"
	# The reboot: nothing of ours survives in the pods.
	kill -KILL "$APID" "$ZPID"
	wait "$APID" "$ZPID" 2>/dev/null
	for ns in "$a" "$b"; do
		ip netns exec "$ns" iptables -t nat -F || exit 1
		ip netns exec "$ns" iptables -t nat -X || exit 1
		ip netns exec "$ns" iptables -t mangle -F || exit 1
		ip netns exec "$ns" iptables -t mangle -X || exit 1
		ip -n "$ns" rule del pref 32764 || exit 1
		ip -n "$ns" route flush table 100 || exit 1
		ip -n "$ns" link set lo down || exit 1
	done
	expect "nothing left" says "rules: mangle: no ISTIO_PRERT"
	rm -f "$ZSOCK" "$SOCK"
	start_agent --redirect --reconcile-period 1 "$a" "$b"
	start_daemon --proxy --zds "$ZSOCK"
	expect "both whole again, untouched" wait_for 30 whole "$a" "$b"
	expect "the agent said what it put back" file_has "$WORK/agent.err" "repaired loopback"
}

run_tests t_verify_names_each_drift t_reconcile_repairs_drift \
    t_restart_and_reboot_whole_again
