#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One loop carries every pod on the node, so no peer may hold it.  Pod 3
# (outside the mesh) floods pod 2's 15008 with frames that each cost the
# daemon work, reconnecting whenever it is cut off; meanwhile pod 1, in
# the mesh, makes round trips to pod 2's app through the same daemon
# (15001, HBONE, 15008).  Every round trip must complete while the flood
# goes on.  The latencies are printed to the test's log, not asserted:
# speed is make bench's (scripts/bench-traffic.sh, "flood").
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"

H2PEER=$TOP/tests/helpers/h2peer.py
PROBES=200

tally() { cat "$WORK/tally" 2>/dev/null || echo 0; }
tally_at_least() { [ "$(tally)" -ge "$1" ]; }

# flood_probe KIND ANSWER [MAX]: pod 3 floods with KIND; each flooding
# connection must be cut off with GOAWAY ANSWER (after at most MAX
# requests answered), and pod 1's probe must get all its round trips
# meanwhile.
flood_probe() {
	local kind=$1 answer=$2 max=${3:-0} before after out n
	rm -f "$WORK/tally"
	node_up 3
	start_node_daemon
	enrol 1 2
	app 2
	nsenter "--net=/var/run/netns/$(pod_ns 3)" python3 "$H2PEER" flood \
	    "$(pod_ip 2)" 15008 "$kind" "$WORK/tally" >"$WORK/flood.out" 2>&1 &
	PIDS+=($!)
	expect "the flood is under way" wait_for 20 tally_at_least 1000000
	before=$(tally)
	# A deadline, not a threshold: a stalled loop never gets there.
	out=$(in_pod 1 timeout 60 python3 "$TRAFFIC" probe "$(pod_ip 2)" "$APP_PORT" "$PROBES")
	after=$(tally)
	note "during the ${kind/_/ } flood: ${out#probe "$PROBES" }"
	expect "$PROBES round trips through the daemon during the flood ($out)" \
	    test "${out%% p50*}" = "probe $PROBES"
	expect "the flood went on meanwhile" test "$after" -gt "$before"
	expect "the flood answered with GOAWAY $answer" wait_for 20 \
	    file_has "$WORK/flood.out" "^goaway $answer after"
	# Charged by what each costs: cut off within the budget.
	n=$(sed -n "s/^goaway $answer after \([0-9]*\) answers$/\1/p" "$WORK/flood.out" | sort -n | tail -n 1)
	expect "each flooding connection cut off after at most $max answers (most: $n)" \
	    test "$n" -le "$max"
	expect "the daemon is still up" daemon_alive
}

# A SETTINGS ACK for no SETTINGS of ours: PROTOCOL_ERROR at once.
t_settings_ack_flood() { flood_probe settings_ack 1; }
# PING ACKs for PINGs never sent: charged, ENHANCE_YOUR_CALM.
t_ping_ack_flood() { flood_probe ping_ack 11; }
# WINDOW_UPDATEs of 1 on stream 0, for nothing we sent: charged.
t_window_update_flood() { flood_probe window_update 11; }
# 27-byte requests that expand through the HPACK table to 60 KB of
# fields and are answered 400 at once: charged by what they cost.
# The budget (10,000) at 1 + 59 a request: about 170.
t_hpack_400_flood() { flood_probe hpack_400 11 200; }

# A bulk flow through the same daemon (pod 3's 64 MiB to pod 2's app,
# plain TCP through 15006) does not hold the loop either.
t_bulk_flow_shares_the_loop() {
	node_up 3
	start_node_daemon
	enrol 1 2
	app 2
	local out
	pod_bg 3 "$WORK/bulk.out" timeout 120 python3 "$TRAFFIC" bulk "$(pod_ip 2)" "$APP_PORT" 256
	expect "the bulk flow is under way" wait_for 20 bytes_grew 2 1000000
	out=$(in_pod 1 timeout 60 python3 "$TRAFFIC" probe "$(pod_ip 2)" "$APP_PORT" "$PROBES")
	note "during the bulk flow: ${out#probe "$PROBES" }"
	expect "$PROBES round trips during the bulk flow ($out)" \
	    test "${out%% p50*}" = "probe $PROBES"
}

run_tests t_settings_ack_flood t_ping_ack_flood t_window_update_flood \
    t_hpack_400_flood t_bulk_flow_shares_the_loop
