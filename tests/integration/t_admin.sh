#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What an operator looks at: admin (/config_dump, /quitquitquit,
# /logging), Prometheus metrics, readiness, --list --json, and the
# service manager's notify messages.  The HTTP servers listen on
# loopback ports inside a namespace of the test's own, where the daemon
# runs, so nothing on the host is in the way.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/node.sh
. "$TOP/tests/node.sh"


# The daemon in a namespace of its own (lo up), with its HTTP servers
# on its loopback; $HOME_NS is that namespace.
start_admin_daemon() {
	mkns home
	HOME_NS=$NS
	nsenter "--net=/var/run/netns/$HOME_NS" "${RUN_DAEMON[@]}" "$ZT" \
	    --admin 127.0.0.1:15000 --metrics 127.0.0.1:15020 \
	    --ready 127.0.0.1:15021 "$@" "$SOCK" >"$WORK/zt.out" 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "daemon up" wait_for "$START_SECONDS" http_up 15021 /healthz/ready
}

# http PORT PATH [curl args...]: the body; the status in $WORK/status.
http() {
	local port=$1 path=$2
	shift 2
	nsenter "--net=/var/run/netns/$HOME_NS" curl -s -m 10 -o "$WORK/body" \
	    -w '%{http_code}' "$@" "http://127.0.0.1:$port$path" >"$WORK/status"
	cat "$WORK/body"
}
status_is() { [ "$(cat "$WORK/status")" = "$1" ]; }
http_up() { http "$1" "$2" >/dev/null 2>&1; [ -s "$WORK/status" ] && ! status_is 000; }
ready_is() { http 15021 /healthz/ready >/dev/null; status_is "$1"; }
in_home() { nsenter "--net=/var/run/netns/$HOME_NS" "$@"; }

# One raw request to PORT; what came back.
raw() {
	in_home python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(data.split(b"\r\n")[0].decode())
EOF
}

t_every_endpoint() {
	start_admin_daemon
	mkns a
	expect "a pod" "$CNI" "$SOCK" "$NS"
	http 15000 /config_dump >"$WORK/dump"
	expect "config_dump 200" status_is 200
	expect "valid JSON with the pod" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
w = d["workloads"][0]
assert w["name"] == sys.argv[2] and w["protocol"] == "TCP", w
s = d["workloadState"][sys.argv[2]]
assert s["state"] == "Up" and s["emulator"]["via"] == "control", s
assert d["zds"]["enabled"] is False
' "$WORK/dump" "$NS"
	expect "metrics 200" test -n "$(http 15020 /metrics)"
	expect "metrics 200" status_is 200
	expect "stats/prometheus too" test -n "$(http 15020 /stats/prometheus)"
	expect "ready" test "$(http 15021 /healthz/ready)" = ready
	expect "200" status_is 200
	http 15000 /nope >/dev/null
	expect "unknown path: 404" status_is 404
	http 15021 /healthz/ready -X POST >/dev/null
	expect "readiness POST: 405" status_is 405
	http 15020 /metrics -X POST >/dev/null
	expect "metrics POST: 405" status_is 405
	http 15000 /quitquitquit >/dev/null
	expect "quitquitquit GET: 405" status_is 405
	http 15000 /logging >/dev/null
	expect "logging GET: 405" status_is 405
	expect "/ lists the endpoints" test "$(http 15000 / | grep -c '^/')" -eq 3
	expect "logging level set" test "$(http 15000 '/logging?level=debug' -X POST)" = "current log level is debug"
	http 15000 '/logging?level=loud' -X POST >/dev/null
	expect "bad level: 400" status_is 400
	expect "malformed: 400" test "$(raw 15000 'GARBAGE\r\n\r\n')" = "HTTP/1.1 400 Bad Request"
	expect "oversized: 431" test "$(raw 15000 "GET / HTTP/1.1\\r\\nX: $(head -c 9000 /dev/zero | tr '\0' a)\\r\\n\\r\\n")" = "HTTP/1.1 431 Request Header Fields Too Large"
	expect "POST /quitquitquit: shutdown now" test "$(http 15000 /quitquitquit -X POST)" = "shutdown now"
	wait "$ZPID"
	expect "clean exit" test $? -eq 0
	ZPID=
}

# A client that sends nothing is closed after the deadline; others are
# served meanwhile.
t_silent_client_closed() {
	start_admin_daemon
	nsenter "--net=/var/run/netns/$HOME_NS" python3 - >"$WORK/silent" <<'EOF' &
import socket, time
s = socket.create_connection(("127.0.0.1", 15000), timeout=30)
print("connected", flush=True)
t = time.monotonic()
closed = s.recv(1) == b""
print("closed" if closed else "data", flush=True)
EOF
	PIDS+=($!)
	expect "silent client connected" wait_for 10 file_has "$WORK/silent" connected
	expect "others served meanwhile" test "$(http 15021 /healthz/ready)" = ready
	expect "silent one closed by the daemon" wait_for 20 file_has "$WORK/silent" "^closed$"
	expect "alive" daemon_alive
}

# /config_dump in the shape istioctl ztunnel-config reads (its api.go,
# DATAPATH.md 8.3): every workload field it prints, the pod's namespace
# (default for a bare name; ns for ns/name), and the live connections,
# plain and HBONE, both ways, as {src, originalDst, actualDst,
# protocol}.  With ZC set to ../shared/zc's build (istioctl's own
# writer), its tables too.
t_config_dump_as_istioctl_reads_it() {
	node_up 3
	HOME_NS=$NODE
	start_node_daemon --admin 127.0.0.1:15000
	enrol 1
	expect "pod 2 as ns/name" "$CNI" --redirect --name shop/web "$SOCK" "$(pod_ns 2)"
	app 2
	app 3
	stream 1 2 "$WORK/hbone"
	stream 1 3 "$WORK/plain"
	expect "both open" wait_for 10 test_conns 1 2/2
	expect "and in" wait_for 10 sh -c "'$CNI' --list '$SOCK' | grep -q '^shop/web .* 1/1 '"
	http 15000 /config_dump >"$WORK/dump.json"
	expect "the shape istioctl reads" python3 - "$WORK/dump.json" "$(pod_ns 1)" \
	    "$(pod_ip 1)" "$(pod_ip 2)" "$(pod_ip 3)" "$(pod_ip6 1)" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p1, a, b, c, a6 = sys.argv[2:7]
for k in ("services", "policies", "certificates"):
    assert d[k] == [], k
w = {x["uid"]: x for x in d["workloads"]}
for x in w.values():
    for k, t in (("uid", str), ("workloadIps", list), ("protocol", str),
                 ("name", str), ("namespace", str), ("serviceAccount", str),
                 ("workloadName", str), ("workloadType", str),
                 ("canonicalName", str), ("canonicalRevision", str),
                 ("clusterId", str), ("node", str), ("status", str),
                 ("hostname", str), ("capacity", int)):
        assert isinstance(x[k], t), (k, x)
    assert x["protocol"] == "HBONE" and x["status"] == "Healthy", x
    assert x["serviceAccount"] == "default" and x["node"], x
assert w[p1]["namespace"] == "default" and w[p1]["name"] == p1, w[p1]
assert w[p1]["workloadIps"] == [a, a6], w[p1]   # dual-stack: both
assert w["shop/web"]["namespace"] == "shop" and w["shop/web"]["name"] == "web"
s = d["workloadState"]
def conns(uid, way):
    return [(x["src"].split(":")[0], x["originalDst"], x["actualDst"],
             x["protocol"]) for x in s[uid]["connections"][way]]
out = sorted(conns(p1, "outbound"))
assert out == sorted([(a, c + ":8080", c + ":8080", "TCP"),
                      (a, b + ":8080", b + ":15008", "HBONE")]), out
inb = conns("shop/web", "inbound")
assert inb == [(a, None, b + ":8080", "HBONE")], inb
assert s[p1]["info"] == {"name": p1, "namespace": "default",
                         "trustDomain": "cluster.local",
                         "serviceAccount": "default"}, s[p1]["info"]
assert s[p1]["state"] == "Up" and s[p1]["emulator"]["connections"] == \
    {"open": 2, "total": 2}, s[p1]
EOF
	if [ -n "${ZC:-}" ] && [ -x "$ZC" ]; then
		"$ZC" connections "$WORK/dump.json" >"$WORK/zc.out" 2>&1
		expect "istioctl's writer reads it" test $? -eq 0
		expect "its connections table: 2 out of pod 1" \
		    test "$(grep -c "^$(pod_ns 1).default *Outbound" "$WORK/zc.out")" -eq 2
		expect "1 into web.shop" test "$(grep -c "^web.shop *Inbound" "$WORK/zc.out")" -eq 1
		note "istioctl's writer: $(wc -l <"$WORK/zc.out") lines"
	fi
}

# Idle connections, more than the server's 32, must not keep kubelet's
# probe out: the oldest of them make room, and every probe is answered.
t_idle_clients_do_not_block_readiness() {
	start_admin_daemon
	nsenter "--net=/var/run/netns/$HOME_NS" python3 - >"$WORK/idle" <<'EOF' &
import socket, time
held = [socket.create_connection(("127.0.0.1", 15021), timeout=30)
        for _ in range(40)]
print("holding", flush=True)
time.sleep(60)
EOF
	PIDS+=($!)
	expect "40 idle connections held" wait_for 10 file_has "$WORK/idle" holding
	local i
	for i in 1 2 3 4 5; do
		expect "probe $i answered ready" test "$(http 15021 /healthz/ready)" = ready
		expect "with 200" status_is 200
	done
	expect "alive" daemon_alive
}

# Every listener of the daemon's own is bound before its control socket:
# a busy --metrics port is exit 2, naming the flag and the address, and
# leaves no socket file.  IPv6 and localhost addresses, and port 0 (the
# port chosen said in the log).
t_listeners_first() {
	mkns home
	HOME_NS=$NS
	nsenter "--net=/var/run/netns/$HOME_NS" python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 15020)); s.listen()
print("holding", flush=True); time.sleep(60)' >"$WORK/holder" 2>&1 &
	PIDS+=($!)
	expect "port 15020 held" wait_for 10 file_has "$WORK/holder" holding
	in_home "$ZT" --metrics 127.0.0.1:15020 "$SOCK" 2>"$WORK/zt.err"
	expect "exit 2" test $? -eq 2
	expect "the flag, the address, why" file_has "$WORK/zt.err" \
	    "	error	ztunnel-emulator	--metrics 127.0.0.1:15020: Address already in use"
	expect "no socket file left behind" test ! -e "$SOCK"
	nsenter "--net=/var/run/netns/$HOME_NS" "${RUN_DAEMON[@]}" "$ZT" \
	    --admin localhost:0 --metrics '[::1]:0' --ready 127.0.0.1:0 \
	    "$SOCK" >"$WORK/zt.out" 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "up" wait_for "$START_SECONDS" file_has "$WORK/zt.err" "listening on"
	expect "admin on localhost, its port said" \
	    file_has "$WORK/zt.err" "listener established.address=127.0.0.1:[1-9][0-9]* component=\"admin\""
	expect "metrics on [::1]" \
	    file_has "$WORK/zt.err" "listener established.address=\\[::1\\]:[1-9][0-9]* component=\"stats\""
	local port
	port=$(sed -n 's/.*address=\[::1\]:\([0-9]*\) component="stats".*/\1/p' "$WORK/zt.err")
	expect "and serving there" in_home curl -sf -o /dev/null "http://[::1]:$port/metrics"
}

# A daemon without the privileges it needs says so at start and exits,
# as ztunnel checks its syscalls at start, instead of failing at the
# first pod.
t_unprivileged_start_refused() {
	chmod 0711 "$WORK" || exit 1
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$ZT" "$WORK/zt.sock" 2>"$WORK/zt.err"
	expect "without CAP_SYS_ADMIN: exit 2" test $? -eq 2
	expect "says which" file_has "$WORK/zt.err" "needs CAP_SYS_ADMIN"
	expect "no socket file" test ! -e "$WORK/zt.sock"
	setpriv --bounding-set -net_admin,-net_raw "$ZT" --proxy "$WORK/zt.sock" 2>"$WORK/zt.err"
	expect "--proxy without CAP_NET_ADMIN: exit 2" test $? -eq 2
	expect "says which" file_has "$WORK/zt.err" "need CAP_NET_ADMIN"
	expect "no socket file" test ! -e "$WORK/zt.sock"
}

# promtool's verdict: the only remarks are on ztunnel's own gauge names.
t_promtool_clean() {
	start_admin_daemon
	http 15020 /metrics >"$WORK/metrics"
	promtool check metrics <"$WORK/metrics" >"$WORK/promtool" 2>&1
	local remarks
	remarks=$(grep -v "^workload_manager_\(active\|pending\)_proxy_count non-histogram and non-summary metrics should not have \"_count\" suffix$" "$WORK/promtool" || true)
	if [ -n "$remarks" ]; then
		sed 's/^/      /' "$WORK/promtool" >&2
	fi
	expect "nothing else to remark" test -z "$remarks"
	expect "build info" file_has "$WORK/metrics" '^istio_build{component="ztunnel-emulator"'
	expect "process metrics" file_has "$WORK/metrics" "^process_open_fds [0-9]"
}

# Counters agree with --list after adds, a remove and proxied traffic.
t_counters_agree_with_list() {
	local P=$RUN_ID-$TEST_NO
	"$TOP/scripts/topology.sh" up "$P" 2 || exit 1
	HOME_NS=$P-node
	nsenter "--net=/var/run/netns/$HOME_NS" "${RUN_DAEMON[@]}" "$ZT" --proxy \
	    --metrics 127.0.0.1:15020 "$SOCK" >"$WORK/zt.out" 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "daemon up" wait_for "$START_SECONDS" http_up 15020 /metrics
	expect "pod 1" "$CNI" --redirect "$SOCK" "$P-pod1"
	expect "pod 2" "$CNI" --redirect "$SOCK" "$P-pod2"
	nsenter "--net=/var/run/netns/$P-pod2" python3 "$TRAFFIC" serve 8080 >"$WORK/app" 2>&1 &
	PIDS+=($!)
	expect "app" wait_for 10 file_has "$WORK/app" listening
	local i
	for i in 1 2 3; do
		expect "connection $i" nsenter "--net=/var/run/netns/$P-pod1" \
		    python3 "$TRAFFIC" peer 10.244.0.12 8080
	done
	expect "list says 3" wait_for 10 sh -c "'$CNI' --list '$SOCK' | grep -q '^$P-pod1 .* 0/3 '"
	http 15020 /metrics >"$WORK/m"
	local sel="reporter=\"source\",source_workload=\"$P-pod1\",source_workload_namespace=\"default\",destination_workload=\"$P-pod2\""
	expect "3 opened, as the source saw them" file_has "$WORK/m" "^istio_tcp_connections_opened_total{$sel.* 3$"
	expect "3 closed" file_has "$WORK/m" "^istio_tcp_connections_closed_total{$sel.* 3$"
	local in out
	in=$(pod_json "$P-pod1" '["bytes"]["in"]')
	out=$(pod_json "$P-pod1" '["bytes"]["out"]')
	expect "received bytes = --list's in ($in)" file_has "$WORK/m" "^istio_tcp_received_bytes_total{$sel.* $in$"
	expect "sent bytes = --list's out ($out)" file_has "$WORK/m" "^istio_tcp_sent_bytes_total{$sel.* $out$"
	expect "and as the destination saw them" file_has "$WORK/m" "^istio_tcp_connections_opened_total{reporter=\"destination\",source_workload=\"$P-pod1\".*destination_workload=\"$P-pod2\".* 3$"
	expect "remove pod 2" "$CNI" --del "$SOCK" "$P-pod2"
	http 15020 /metrics >"$WORK/m"
	expect "2 started" file_has "$WORK/m" "^workload_manager_proxies_started_total 2$"
	expect "1 stopped" file_has "$WORK/m" "^workload_manager_proxies_stopped_total 1$"
	expect "1 active" file_has "$WORK/m" "^workload_manager_active_proxy_count 1$"
	expect "2 handoffs" file_has "$WORK/m" '^ztunnel_emulator_handoffs_total{result="listening"} 2$'
}

# Readiness across a ZDS snapshot, a pod left pending, and its retry.
t_readiness_follows_zds() {
	mkns p
	local p=$NS
	# nsenter execs python: $! is the holder itself.
	nsenter "--net=/var/run/netns/$p" python3 "$PEER" hold-port 15006 >"$WORK/holder" &
	local holder=$!
	PIDS+=("$holder")
	expect "holder" wait_for 5 file_has "$WORK/holder" listening
	mkns a
	local a=$NS
	start_admin_daemon --zds "$ZSOCK"
	expect "500 before any snapshot" ready_is 500
	expect "says why" test "$(http 15021 /healthz/ready)" = "not ready, pending: zds snapshot"
	fake agent accept hello add:ua:a:fd="/var/run/netns/$a" snapshot \
	    sleep:1 add:up:p:fd="/var/run/netns/$p"
	expect "200 once the snapshot is in" wait_for 10 ready_is 200
	expect "script ran" fake_done
	expect "500 while a pod is pending" ready_is 500
	expect "naming it" test "$(http 15021 /healthz/ready)" = "not ready, pending: default/p"
	kill "$holder"
	expect "200 after its retry" wait_for 20 ready_is 200
}

# --list --json, for scripts.
t_list_json() {
	start_daemon
	mkns a
	expect "a pod" "$CNI" "$SOCK" "$NS"
	"$CNI" --list --json "$SOCK" >"$WORK/json"
	expect "valid JSON" python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l) == 1 and l[0]["name"] == sys.argv[2], l
assert l[0]["state"] == "Up" and l[0]["ports"] == [15008, 15006, 15001], l
assert l[0]["connections"] == {"open": 0, "total": 0}, l
assert l[0]["via"] == "control"
' "$WORK/json" "$NS"
	expect "the inode" grep -q "\"netns\": $(netns_ino "$NS")" "$WORK/json"
}

# Type=notify: READY=1 once serving, STOPPING=1 on the way out, in order,
# from both programs, over a socket of the test's own.
t_notify_messages() {
	local n=$WORK/notify.sock
	python3 - "$n" >"$WORK/notify" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode(), flush=True)
EOF
	PIDS+=($!)
	expect "listener" wait_for 5 file_has "$WORK/notify" bound
	NOTIFY_SOCKET=$n "${RUN_DAEMON[@]}" "$ZT" "$SOCK" >"$WORK/zt.out" 2>"$WORK/zt.err" &
	ZPID=$!
	PIDS+=("$ZPID")
	expect "READY=1" wait_for "$START_SECONDS" file_has "$WORK/notify" "^READY=1$"
	expect "and it serves" "$CNI" --list "$SOCK"
	stop_daemon || exit 1
	ZPID=
	expect "STOPPING=1 after it" test "$(grep -v bound "$WORK/notify" | tr '\n' ' ')" = "READY=1 STOPPING=1 "
	NOTIFY_SOCKET=$n "${RUN_DAEMON[@]}" "$CNI" --zds-serve "$ZSOCK" >/dev/null 2>"$WORK/agent.err" &
	APID=$!
	PIDS+=("$APID")
	expect "agent READY=1" wait_for "$START_SECONDS" lines_at_least "$WORK/notify" "^READY=1$" 2
	kill -TERM "$APID"
	wait "$APID"
	expect "agent STOPPING=1" test "$(grep -v bound "$WORK/notify" | tr '\n' ' ')" = "READY=1 STOPPING=1 READY=1 STOPPING=1 "
}

run_tests t_every_endpoint t_config_dump_as_istioctl_reads_it t_silent_client_closed \
    t_idle_clients_do_not_block_readiness t_listeners_first \
    t_unprivileged_start_refused t_promtool_clean \
    t_counters_agree_with_list t_readiness_follows_zds t_list_json \
    t_notify_messages
