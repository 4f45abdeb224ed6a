#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench-traffic (and the end of make bench): pod-to-pod traffic on
# nodes of its own (scripts/topology.sh), in one run, ten ways; each
# pair of pods is a client and a server pod, every proxy two hops (one
# in each pod's path), as in the mesh:
#   direct   pod 1 -> pod 2, no rules, no proxy
#   plain    pod 3 -> pod 4, each enrolled with a daemon of its own that
#            does not know the other's pod: A's 15001 passes it through
#            as plain TCP, B's 15006 takes it in
#   hbone    pod 5 -> pod 6, both enrolled with one daemon: A's 15001,
#            an HTTP/2 CONNECT stream to B's 15008
#   hbone2   two nodes, a daemon each with --peers: the tunnel crosses
#            the link between them
#   haproxy  haproxy in pod 7 -> haproxy in pod 8 -> the app (mode tcp,
#            splice forced both ways, one thread)
#   hacap    the same haproxy placed as ours, behind istio-cni's rules
#            in pods 14 and 15: on 15001 and 15006 where the rules send
#            the app's connections, onward to their original
#            destination, from the client's address when inbound, with
#            ztunnel's mark and, from the client's address, ports of
#            our range (tests/bench/somark.so, preloaded: haproxy 2.6
#            has no option for either): the yardstick that pays for the
#            capture as ours does
#   nginx    nginx stream in pod 9 -> nginx stream in pod 10 -> the app
#            (one worker)
#   splice   the bare splice relay (zt-load tcp-splice) in pod 11 -> in
#            pod 12 -> the app: the yardstick for ours
#   big      the same relay with 1 MiB pipes, as HBONE's, pod 16 -> 17
#   framed   the bare relay framing its bytes in HTTP/2 DATA frames
#            (zt-load tcp-splice frame, unframe), pod 18 -> 19: HBONE's
#            bytes with no flow control, no streams, no copying; framed
#            over big is what the framing itself costs the kernel
# What is measured, RUNS times, the configurations taking turns:
#   bulk     iperf3, SECONDS_EACH s, 1 stream and 4; Gbit/s received,
#            and the proxies' CPU per GB over the one-stream run
#   connect  zt-load tcp-rtt: connect, one byte there and back, close, N
#            times one after the other (p50, p99); zt-load tcp-rate: the
#            same from PROCS processes at once (connections a second),
#            and the proxies' CPU per connection over it; each client
#            pod starts these with at most a quarter of its port range
#            in TIME_WAIT (the bench waits, and says so)
#   idle     zt-load tcp-hold: IDLE connections, a byte echoed on each,
#            held; the proxies' memory per connection, the kernel's
#            (sockets, pipes) with it (to within the memory counter's
#            per-CPU batch: 256 KiB x CPUs / IDLE)
#   calls    once, after the runs: the proxies' system calls per new
#            connection (strace -c -f, N connections; if strace is here)
# CPU and memory are read from a cgroup per configuration, holding all of
# its proxy processes (both daemons, both haproxies, ...) from their
# start: cgroup v2's memory.current and cpu.stat, or v1's memory
# (usage_in_bytes + kmem.tcp) and cpuacct.  Each figure is printed as
# min, median and max over the runs, then ours as ratios to each peer.
# Then fairness: an echo from pod 5 to pod 6's app through the HBONE
# daemon, PROBES round trips of 64 bytes on one connection, alone and
# while pod 13 (outside the mesh) floods pod 6's 15008 or pushes a bulk
# flow through the same daemon.  Nothing passes or fails on a number; a
# peer that is not installed is skipped, and said so.
#
#   RUNS=3 SECONDS_EACH=5 N=2000 RATE_N=4000 PROCS=4 IDLE=1000 PROBES=2000
#   ONLY="plain haproxy" (those configurations alone, with direct)
#   STRACE_TABLES=DIR (keep each configuration's strace -c table there)
#   PROFILES=DIR (perf, if here: each configuration's processes sampled
#   over RATE_N connections from PROCS processes; DIR/perf.CONFIG is
#   where their CPU went, by function, the kernel's with it, and
#   DIR/perf.data.CONFIG the samples, for perf report -i)
set -u
cd "$(dirname "$0")/.." || exit 1

RUNS=${RUNS:-3}
T=${SECONDS_EACH:-5}
N=${N:-2000}
RATE_N=${RATE_N:-4000}
PROCS=${PROCS:-4}
IDLE=${IDLE:-1000}
PROBES=${PROBES:-2000}
P=ztt$$
LOAD=$PWD/tests/bench/zt-load
TOPO=scripts/topology.sh

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_needs bench-traffic iperf3:iperf3 iptables-restore:iptables
bench_begin "$P"
TOPOS=("$P" "${P}n")
CONFIGS="direct plain hbone hbone2"
if command -v haproxy >/dev/null; then
	CONFIGS="$CONFIGS haproxy"
	if [ -f tests/bench/somark.so ]; then
		CONFIGS="$CONFIGS hacap"
	else
		echo "# hacap: skipped, tests/bench/somark.so not built (make bench-traffic builds it)"
	fi
else
	echo "# haproxy: skipped, not installed (apt-get install haproxy)"
fi
NGINX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
if command -v nginx >/dev/null && [ -f "$NGINX_STREAM" ]; then
	CONFIGS="$CONFIGS nginx"
else
	echo "# nginx: skipped, nginx or its stream module not installed (apt-get install nginx-light libnginx-mod-stream)"
fi
CONFIGS="$CONFIGS splice big framed"
# ONLY="plain haproxy": those alone (and direct, every ratio's base)
# are measured; every installed one is set up.
STARTED=$CONFIGS
if [ -n "${ONLY:-}" ]; then
	CONFIGS=$(for c in $CONFIGS; do
		[[ $c == direct || " $ONLY " == *" $c "* ]] && echo "$c"
	done | tr '\n' ' ')
fi

# --- a cgroup per configuration ---------------------------------------------

# cg_dirs NAME: the directories that hold configuration NAME's processes.
# v2 at the hierarchy's root (where the memory and cpu controllers are
# handed down); v1 under the memory and cpuacct cgroups this shell is in.
CG=
if [ -f /sys/fs/cgroup/cgroup.subtree_control ]; then
	grep -qw memory /sys/fs/cgroup/cgroup.subtree_control &&
	    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control && CG=v2
elif [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/cpuacct ]; then
	CG=v1
	CG_MEM=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
	CG_CPU=/sys/fs/cgroup/cpuacct$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ { print $3 }' /proc/self/cgroup)
fi
[ -n "$CG" ] || echo "# CPU and memory: skipped, no cgroup with the memory and cpu controllers to make"
cg_dirs() {
	case $CG in
	v2) echo "/sys/fs/cgroup/$P-$1" ;;
	v1) echo "${CG_MEM%/}/$P-$1 ${CG_CPU%/}/$P-$1" ;;
	esac
}
cg_make() {
	local d
	for d in $(cg_dirs "$1"); do
		mkdir "$d" || exit 1
		CGS+=("$d")
	done
	# v1 counts socket buffers only once a limit is set: set one no
	# process here can reach.
	[ "$CG" != v1 ] || echo $((1 << 50)) >"${CG_MEM%/}/$P-$1/memory.kmem.tcp.limit_in_bytes" 2>/dev/null || true
}
# cg_mem NAME: bytes charged to NAME now, the kernel's with them.
cg_mem() {
	case $CG in
	v2) cat "/sys/fs/cgroup/$P-$1/memory.current" ;;
	v1) echo $(($(cat "${CG_MEM%/}/$P-$1/memory.usage_in_bytes") + \
	    $(cat "${CG_MEM%/}/$P-$1/memory.kmem.tcp.usage_in_bytes"))) ;;
	*) echo 0 ;;
	esac
}
# cg_cpu NAME: CPU time used by NAME's processes so far, microseconds.
cg_cpu() {
	case $CG in
	v2) awk '$1 == "usage_usec" { print $2 }' "/sys/fs/cgroup/$P-$1/cpu.stat" ;;
	v1) echo $(($(cat "${CG_CPU%/}/$P-$1/cpuacct.usage") / 1000)) ;;
	*) echo 0 ;;
	esac
}

# bg NETNS CG COMMAND...: in namespace NETNS, in the background, in
# configuration CG's cgroup (- for none) before it starts; $! is the
# command itself (nsenter and sh exec it), so the cleanup's kill reaches
# it.
bg() {
	local ns=$1 dirs=
	[ "$2" = - ] || dirs=$(cg_dirs "$2")
	shift 2
	# shellcheck disable=SC2016  # $$ and $@ are the inner shell's
	CGD=$dirs nsenter "--net=/var/run/netns/$ns" sh -c \
	    'for d in $CGD; do echo $$ >"$d/cgroup.procs" || exit 1; done; exec "$@"' \
	    sh "$@" >>"$DIR/bg.out" 2>>"$DIR/bg.err" &
	PIDS+=($!)
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

"$TOPO" up "$P" 19 >/dev/null || exit 1
"$TOPO" up2 "${P}n" 1 >/dev/null || exit 1
for c in $STARTED; do
	[ "$c" = direct ] || cg_make "$c"
done

# daemon NODE CG SOCK [ARGS]: a daemon in NODE's namespace.
daemon() {
	local node=$1 cg=$2 sock=$3
	shift 3
	bg "$node" "$cg" ztunnel-emulator/ztunnel-emulator -q --proxy "$@" "$sock"
	for _ in $(seq 1 250); do
		[ -S "$sock" ] && return
		sleep 0.02
	done
	echo "bench-traffic: daemon on $sock did not start: $(tail -1 "$DIR/bg.err")" >&2
	exit 1
}
enrol() { cni-emulator/cni-emulator --redirect "$1" "$2" >/dev/null || exit 1; }

daemon "$P-node" plain "$DIR/plainA.sock"
daemon "$P-node" plain "$DIR/plainB.sock"
enrol "$DIR/plainA.sock" "$P-pod3"
enrol "$DIR/plainB.sock" "$P-pod4"
daemon "$P-node" hbone "$DIR/hbone.sock"
enrol "$DIR/hbone.sock" "$P-pod5"
enrol "$DIR/hbone.sock" "$P-pod6"
A2=$("$TOPO" ip2 1 1)
B2=$("$TOPO" ip2 2 1)
echo "$B2 default/b" >"$DIR/peers1"
echo "$A2 default/a" >"$DIR/peers2"
daemon "${P}n-node1" hbone2 "$DIR/n1.sock" --peers "$DIR/peers1"
daemon "${P}n-node2" hbone2 "$DIR/n2.sock" --peers "$DIR/peers2"
enrol "$DIR/n1.sock" "${P}n-n1pod1"
enrol "$DIR/n2.sock" "${P}n-n2pod1"
# hacap's pods: istio-cni's rules put in by an enrolment, and the pods
# taken out of that daemon with the rules left (--del without
# --redirect), so that its listeners leave 15001 and 15006 to haproxy.
if [[ " $STARTED " == *" hacap "* ]]; then
	daemon "$P-node" - "$DIR/rules.sock"
	for i in 14 15; do
		enrol "$DIR/rules.sock" "$P-pod$i"
		cni-emulator/cni-emulator --del "$DIR/rules.sock" "$P-pod$i" >/dev/null || exit 1
	done
fi

# Each server pod: iperf3 on 5201, the echo app on 7007.
for ns in "$P-pod2" "$P-pod4" "$P-pod6" "$P-pod8" "$P-pod10" "$P-pod12" "$P-pod15" \
    "$P-pod17" "$P-pod19" "${P}n-n2pod1"; do
	bg "$ns" - iperf3 -s -p 5201
	bg "$ns" - "$LOAD" tcp-echo 7007
done
bg "$P-pod6" - python3 tests/helpers/traffic.py serve 8080

# The peers, two hops each: in the client pod on 127.0.0.1:PORT+0 (bulk)
# and PORT+10 (echo), to the server pod's PORT+1 and PORT+11, to the app.
haproxy_head() {
	printf 'global\n\tmaxconn 4096\n\tnbthread 1\n'
	printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 1h\n\ttimeout server 1h\n'
	printf '\toption splice-request\n\toption splice-response\n'
}
haproxy_cfg() {	# LISTEN UPSTREAM ...
	haproxy_head
	while [ $# -gt 0 ]; do
		printf 'listen l%s\n\tbind %s\n\tserver up %s\n' "${1##*:}" "$1" "$2"
		shift 2
	done
}
# haproxy_capture_cfg PORT [usesrc]: haproxy where the rules send a pod's
# connections (15001 out, 15006 in); "server 0.0.0.0" is each one's
# original destination (SO_ORIGINAL_DST), and "usesrc clientip" connects
# from the client's address (IP_TRANSPARENT), as our 15006 does.
haproxy_capture_cfg() {
	haproxy_head
	printf 'listen l%s\n\tbind :%s\n' "$1" "$1"
	[ $# -lt 2 ] || printf '\tsource 0.0.0.0 usesrc clientip\n'
	printf '\tserver up 0.0.0.0\n'
}
nginx_cfg() {	# NAME LISTEN UPSTREAM ...
	printf 'load_module %s;\ndaemon off;\nworker_processes 1;\n' "$NGINX_STREAM"
	printf 'worker_rlimit_nofile 20000;\npid %s/%s.pid;\n' "$DIR" "$1"
	printf 'events { worker_connections 20000; }\nstream {\n'
	shift
	while [ $# -gt 0 ]; do
		printf '\tserver { listen %s; proxy_pass %s; }\n' "$1" "$2"
		shift 2
	done
	printf '}\n'
}
if [[ " $STARTED " == *" haproxy "* ]]; then
	haproxy_cfg 127.0.0.1:9101 "$(ip_of 8):9102" 127.0.0.1:9111 "$(ip_of 8):9112" >"$DIR/ha7.cfg"
	haproxy_cfg "$(ip_of 8):9102" 127.0.0.1:5201 "$(ip_of 8):9112" 127.0.0.1:7007 >"$DIR/ha8.cfg"
	bg "$P-pod7" haproxy haproxy -db -f "$DIR/ha7.cfg"
	bg "$P-pod8" haproxy haproxy -db -f "$DIR/ha8.cfg"
fi
if [[ " $STARTED " == *" hacap "* ]]; then
	haproxy_capture_cfg 15001 >"$DIR/hc14.cfg"
	haproxy_capture_cfg 15006 usesrc >"$DIR/hc15.cfg"
	bg "$P-pod14" hacap env "LD_PRELOAD=$PWD/tests/bench/somark.so" haproxy -db -f "$DIR/hc14.cfg"
	bg "$P-pod15" hacap env "LD_PRELOAD=$PWD/tests/bench/somark.so" haproxy -db -f "$DIR/hc15.cfg"
fi
if [[ " $STARTED " == *" nginx "* ]]; then
	nginx_cfg ng9 127.0.0.1:9201 "$(ip_of 10):9202" 127.0.0.1:9211 "$(ip_of 10):9212" >"$DIR/ng9.conf"
	nginx_cfg ng10 "$(ip_of 10):9202" 127.0.0.1:5201 "$(ip_of 10):9212" 127.0.0.1:7007 >"$DIR/ng10.conf"
	bg "$P-pod9" nginx nginx -e "$DIR/ng9.err" -p "$DIR" -c "$DIR/ng9.conf"
	bg "$P-pod10" nginx nginx -e "$DIR/ng10.err" -p "$DIR" -c "$DIR/ng10.conf"
fi
bg "$P-pod11" splice "$LOAD" tcp-splice 9301 "$(ip_of 12)" 9302
bg "$P-pod11" splice "$LOAD" tcp-splice 9311 "$(ip_of 12)" 9312
bg "$P-pod12" splice "$LOAD" tcp-splice 9302 127.0.0.1 5201
bg "$P-pod12" splice "$LOAD" tcp-splice 9312 127.0.0.1 7007
for app in 5201 7007; do
	k=$((app == 5201 ? 0 : 10))
	bg "$P-pod16" big "$LOAD" tcp-splice $((9401 + k)) "$(ip_of 17)" $((9402 + k)) big
	bg "$P-pod17" big "$LOAD" tcp-splice $((9402 + k)) 127.0.0.1 "$app" big
	bg "$P-pod18" framed "$LOAD" tcp-splice $((9501 + k)) "$(ip_of 19)" $((9502 + k)) frame
	bg "$P-pod19" framed "$LOAD" tcp-splice $((9502 + k)) 127.0.0.1 "$app" unframe
done

# client CONFIG: the client pod's namespace; to CONFIG PORT: where that
# pod's client connects for the app on PORT (5201 or 7007).
client() {
	case $1 in
	direct) echo "$P-pod1" ;; plain) echo "$P-pod3" ;; hbone) echo "$P-pod5" ;;
	hbone2) echo "${P}n-n1pod1" ;; haproxy) echo "$P-pod7" ;;
	hacap) echo "$P-pod14" ;;
	nginx) echo "$P-pod9" ;; splice) echo "$P-pod11" ;;
	big) echo "$P-pod16" ;; framed) echo "$P-pod18" ;;
	esac
}
to() {
	local k=$(($2 == 5201 ? 0 : 10))
	case $1 in
	direct) echo "$(ip_of 2) $2" ;; plain) echo "$(ip_of 4) $2" ;;
	hbone) echo "$(ip_of 6) $2" ;; hbone2) echo "$B2 $2" ;;
	haproxy) echo "127.0.0.1 $((9101 + k))" ;;
	hacap) echo "$(ip_of 15) $2" ;;
	nginx) echo "127.0.0.1 $((9201 + k))" ;;
	splice) echo "127.0.0.1 $((9301 + k))" ;;
	big) echo "127.0.0.1 $((9401 + k))" ;;
	framed) echo "127.0.0.1 $((9501 + k))" ;;
	esac
}
in_client() {
	local c=$1
	shift
	nsenter "--net=/var/run/netns/$(client "$c")" "$@"
}
# Every path answers before anything is timed.
for c in $CONFIGS; do
	ok=
	for _ in $(seq 1 250); do
		# shellcheck disable=SC2046  # IP PORT
		if in_client "$c" "$LOAD" tcp-rtt $(to "$c" 7007) 1 >/dev/null 2>&1; then
			ok=1
			break
		fi
		sleep 0.02
	done
	[ -n "$ok" ] || { echo "bench-traffic: $c does not answer: $(tail -1 "$DIR/bg.err")" >&2; exit 1; }
done

# rec METRIC CONFIG VALUE: one sample.
rec() { echo "$1 $2 $3" >>"$DIR/res"; }
# bulk CONFIG STREAMS: Gbit/s received (and bytes, for CPU per GB).
bulk() {
	local ip port
	read -r ip port < <(to "$1" 5201)
	in_client "$1" iperf3 -c "$ip" -p "$port" -P "$2" -t "$T" -J 2>/dev/null |
	    python3 -c 'import json,sys; r = json.load(sys.stdin)["end"]["sum_received"]; print("%.3f %d" % (r["bits_per_second"] / 1e9, r["bytes"]))'
}
# established CONFIG: the client pod's connections to its echo app (or
# its proxy) still up.
established() {
	local port
	port=$(to "$1" 7007 | awk '{ print $2 }')
	in_client "$1" ss -Htn state established "( dport = :$port )" | wc -l
}
idle() {
	local c=$1 m0 m1 pid
	m0=$(cg_mem "$c")
	: >"$DIR/hold"
	# $! is the holder itself (nsenter execs it), so the kill reaches it.
	# shellcheck disable=SC2046  # IP PORT
	nsenter "--net=/var/run/netns/$(client "$c")" "$LOAD" tcp-hold \
	    $(to "$c" 7007) "$IDLE" >"$DIR/hold" 2>&1 &
	pid=$!
	for _ in $(seq 1 3000); do
		grep -q held "$DIR/hold" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	grep -q held "$DIR/hold" || {
		echo "bench-traffic: $c: $IDLE held connections: $(cat "$DIR/hold")" >&2
		tail -3 "$DIR/bg.err" >&2
		exit 1
	}
	m1=$(cg_mem "$c")
	kill "$pid"
	wait "$pid" 2>/dev/null
	for _ in $(seq 1 1500); do
		[ "$(established "$c")" -eq 0 ] && break
		sleep 0.02
	done
	awk -v a="$m0" -v b="$m1" -v n="$IDLE" 'BEGIN { printf "%.2f", (b - a) / 1024 / n }'
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
# settle CONFIG: its client pod starts the connection tests with the
# last run's TIME_WAITs in its port range mostly gone (at most a quarter
# of it): every configuration's connects search that range, and runs
# closer than a minute apart would otherwise find it fuller each time.
settle() {
	local lo hi tw i
	read -r lo hi < <(in_client "$1" cat /proc/sys/net/ipv4/ip_local_port_range)
	for i in $(seq 1 700); do
		tw=$(in_client "$1" ss -Htan state time-wait "sport >= :$lo and sport <= :$hi" | wc -l)
		[ "$tw" -le $(((hi - lo + 1) / 4)) ] && return 0
		[ "$i" -gt 1 ] || echo "# $1: waiting for $tw TIME_WAITs to expire"
		sleep 0.1
	done
}

echo "# machine: $(uname -sr), $(nproc) CPUs; cgroup ${CG:-none}; $RUNS runs: bulk ${T} s, $N connections one after the other, $RATE_N from $PROCS processes, $IDLE idle"
for _ in $(seq 1 "$RUNS"); do
	for c in $CONFIGS; do
		u0=$(cg_cpu "$c" 2>/dev/null || echo 0)
		read -r g bytes < <(bulk "$c" 1)
		u1=$(cg_cpu "$c" 2>/dev/null || echo 0)
		rec bulk1 "$c" "$g"
		[ "$c" = direct ] || [ -z "$CG" ] ||
		    rec cpugb "$c" "$(awk -v u=$((u1 - u0)) -v b="$bytes" 'BEGIN { printf "%.3f", u / 1e6 / (b / 1e9) }')"
		read -r g _ < <(bulk "$c" 4)
		rec bulk4 "$c" "$g"
		settle "$c"
		# shellcheck disable=SC2046  # IP PORT
		r=$(in_client "$c" "$LOAD" tcp-rtt $(to "$c" 7007) "$N")
		rec p50 "$c" "$(echo "$r" | field p50)"
		rec p99 "$c" "$(echo "$r" | field p99)"
		u0=$(cg_cpu "$c" 2>/dev/null || echo 0)
		# shellcheck disable=SC2046  # IP PORT
		r=$(in_client "$c" "$LOAD" tcp-rate $(to "$c" 7007) "$RATE_N" "$PROCS")
		u1=$(cg_cpu "$c" 2>/dev/null || echo 0)
		rec cps "$c" "$(echo "$r" | field per_s)"
		[ "$c" = direct ] || [ -z "$CG" ] ||
		    rec cpu "$c" "$(awk -v u=$((u1 - u0)) -v n="$(echo "$r" | field n)" 'BEGIN { printf "%.1f", u / n }')"
		if [ "$c" != direct ] && [ -n "$CG" ]; then
			m=$(idle "$c") || exit 1
			rec mem "$c" "$m"
		fi
	done
done

# syscalls CONFIG: system calls per new connection by all of CONFIG's
# processes, counted with strace -c -f over N connections one after the
# other (slow under strace: counted, not timed).
syscalls() {
	local c=$1 p spid procs args=()
	mapfile -t procs <"$(cg_dirs "$c" | awk '{ print $1 }')/cgroup.procs"
	for p in "${procs[@]}"; do
		args+=(-p "$p")
	done
	strace -c -f -qq -o "$DIR/strace" "${args[@]}" &
	spid=$!
	for p in "${procs[@]}"; do
		for _ in $(seq 1 250); do
			[ "$(awk '$1 == "TracerPid:" { print $2 }' "/proc/$p/status")" != 0 ] && break
			sleep 0.02
		done
	done
	# shellcheck disable=SC2046  # IP PORT
	in_client "$c" "$LOAD" tcp-rtt $(to "$c" 7007) "$N" >/dev/null
	kill -INT "$spid"
	wait "$spid"
	[ -z "${STRACE_TABLES:-}" ] || cp "$DIR/strace" "$STRACE_TABLES/strace.$c"
	awk -v n="$N" '$NF == "total" { printf "%.1f", $4 / n }' "$DIR/strace"
}
if [ -n "$CG" ] && command -v strace >/dev/null; then
	for c in $CONFIGS; do
		[ "$c" = direct ] || rec calls "$c" "$(syscalls "$c")"
	done
fi

# profile CONFIG: perf samples of CONFIG's processes over RATE_N new
# connections; the packets they send are processed as they send them,
# so the capture's rules and conntrack show up in their samples.
profile() {
	local c=$1 procs
	procs=$(paste -sd, "$(cg_dirs "$c" | awk '{ print $1 }')/cgroup.procs")
	settle "$c" >/dev/null
	# With a command, perf samples the processes while it runs, and
	# starts it once the sampling is in place; a program, so in_client's
	# nsenter is spelt out.
	# shellcheck disable=SC2046  # IP PORT
	if ! perf record -q -F 2000 -g -o "$DIR/perf.data" -p "$procs" -- \
	    nsenter "--net=/var/run/netns/$(client "$c")" \
	    "$LOAD" tcp-rate $(to "$c" 7007) "$RATE_N" "$PROCS" \
	    >/dev/null 2>>"$DIR/bg.err"; then
		echo "# PROFILES: perf record failed for $c: $(tail -1 "$DIR/bg.err")"
		return
	fi
	{
		echo "# $c: with what each calls (--children)"
		perf report -q -i "$DIR/perf.data" --stdio --children -g none \
		    --sort sym --percent-limit 2
		echo "# $c: in each itself (--no-children)"
		perf report -q -i "$DIR/perf.data" --stdio --no-children \
		    -g none --sort sym --percent-limit 0.5
	} >"$PROFILES/perf.$c" 2>/dev/null
	mv "$DIR/perf.data" "$PROFILES/perf.data.$c"
}
if [ -n "${PROFILES:-}" ]; then
	if [ -z "$CG" ]; then
		echo "# PROFILES: skipped, no cgroup to find each configuration's processes in"
	elif command -v perf >/dev/null; then
		mkdir -p "$PROFILES" || exit 1
		for c in $CONFIGS; do
			[ "$c" = direct ] || profile "$c"
		done
	else
		echo "# PROFILES: skipped, perf not installed (apt-get install linux-perf)"
	fi
fi

# stat METRIC CONFIG: "min median max" of its samples ("- - -" if none).
stat() {
	local v
	v=$(awk -v m="$1" -v c="$2" '$1 == m && $2 == c { print $3 }' "$DIR/res" | sort -g)
	if [ -z "$v" ]; then echo "- - -"; return; fi
	echo "$(echo "$v" | head -1) $(echo "$v" | median) $(echo "$v" | tail -1)"
}
med() { stat "$1" "$2" | awk '{ print $2 }'; }
label() {
	case $1 in
	direct) echo "direct (no rules, no proxy)" ;;
	plain) echo "ours, plaintext (15001 -> 15006)" ;;
	hbone) echo "ours, HBONE, one node" ;;
	hbone2) echo "ours, HBONE, two nodes" ;;
	haproxy) echo "haproxy, two hops, splice" ;;
	hacap) echo "haproxy, behind the capture" ;;
	nginx) echo "nginx stream, two hops" ;;
	splice) echo "bare splice relay, two hops" ;;
	big) echo "bare splice relay, 1 MiB pipes" ;;
	framed) echo "bare DATA-frame relay, 1 MiB pipes" ;;
	esac
}
table() {	# METRIC TITLE
	local c
	echo
	printf '%-36s %10s %10s %10s\n' "$2" min median max
	for c in $CONFIGS; do
		# shellcheck disable=SC2046,SC2183  # three fields
		printf '%-36s %10s %10s %10s\n' "$(label "$c")" $(stat "$1" "$c")
	done
}
table bulk1 "bulk, 1 stream, Gbit/s"
table bulk4 "bulk, 4 streams, Gbit/s"
table cpugb "CPU s per GB (1 stream), proxies"
table cps "new connections a second ($PROCS at once)"
table p50 "new connection p50, us"
table p99 "new connection p99, us"
table cpu "CPU per connection, us, proxies"
table mem "idle memory per connection, KiB"
table calls "system calls per connection, proxies"

# ratio OURS PEER METRIC: medians, ours / peer.
ratio() {
	local a b
	a=$(med "$3" "$1")
	b=$(med "$3" "$2")
	awk -v a="$a" -v b="$b" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx", a / b }'
}
added() { awk -v a="$(med p50 "$1")" -v d="$(med p50 direct)" 'BEGIN { if (a == "-") print "-"; else printf "%.0f", a - d }'; }
PEERS=
for c in direct haproxy hacap nginx splice big framed; do
	[[ " $CONFIGS " == *" $c "* ]] && PEERS="$PEERS $c"
done
for ours in plain hbone hbone2; do
	[[ " $CONFIGS " == *" $ours "* ]] || continue
	echo
	printf '%-36s' "$(label "$ours") / peer"
	for c in $PEERS; do printf ' %10s' "$c"; done
	echo
	for m in bulk1 bulk4 cps p50 p99 cpu cpugb mem calls; do
		printf '%-36s' "  $m"
		for c in $PEERS; do printf ' %10s' "$(ratio "$ours" "$c" "$m")"; done
		echo
	done
done
echo "# bulk, cps: higher is better; p50, p99, cpu, cpugb, mem, calls: lower is better"

echo
echo "# targets (medians; reported, not asserted):"
if [[ " $CONFIGS " == *" haproxy "* ]]; then
	echo "#   plaintext added p50 <= haproxy's:    $(added plain) us vs $(added haproxy) us"
	echo "#   plaintext CPU per connection <= haproxy's: $(med cpu plain) us vs $(med cpu haproxy) us"
	echo "#   plaintext connections/s >= haproxy's: $(ratio plain haproxy cps)"
	echo "#   HBONE new stream added p50 <= haproxy's: $(added hbone) us vs $(added haproxy) us"
fi
echo "#   plaintext idle memory <= 12 KiB:     $(med mem plain) KiB"
echo "#   plaintext bulk >= 0.9x the splice yardstick: 1 stream $(ratio plain splice bulk1), 4 streams $(ratio plain splice bulk4)"
echo "#   HBONE bulk >= 0.8x plaintext, 1 stream: $(ratio hbone plain bulk1) (two nodes $(ratio hbone2 plain bulk1))"
echo "#   HBONE CPU per GB <= 1.1x plaintext's: $(ratio hbone plain cpugb)"
echo "#     the framing's own cost, bare relays with 1 MiB pipes: $(ratio framed big cpugb)"
if [[ " $CONFIGS " == *" hacap "* ]]; then
	echo "# and against haproxy behind the same rules as ours (the capture's cost on both):"
	echo "#   plaintext added p50: $(added plain) us vs $(added hacap) us"
	echo "#   plaintext CPU per connection: $(med cpu plain) us vs $(med cpu hacap) us"
	echo "#   plaintext connections/s: $(ratio plain hacap cps)"
fi

# --- fairness: one loop, every pod ------------------------------------------

# probe: PROBES echo round trips pod 5 -> pod 6 (HBONE), "p50 p99 max" ms.
probe() {
	nsenter "--net=/var/run/netns/$P-pod5" timeout 120 python3 tests/helpers/traffic.py probe "$(ip_of 6)" 8080 "$PROBES" |
	    awk '$1 == "probe" { print $4, $6, $8 }'
}
# during KIND: the probe while pod 13 floods pod 6's 15008 with KIND.
during() {
	local pid r
	nsenter "--net=/var/run/netns/$P-pod13" python3 tests/helpers/h2peer.py flood \
	    "$(ip_of 6)" 15008 "$1" "$DIR/tally" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 500); do
		[ "$(cat "$DIR/tally" 2>/dev/null || echo 0)" -gt 1000000 ] && break
		sleep 0.02
	done
	r=$(probe)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$DIR/tally"
	echo "$r"
}
# during_bulk FROM: the probe while iperf3 runs from pod FROM to pod 6:
# 13 (outside the mesh) is another pod's flow through the same daemon
# (6's 15006); 5 shares the probe's own HTTP/2 connection.
during_bulk() {
	local pid r
	nsenter "--net=/var/run/netns/$P-pod$1" iperf3 -c "$(ip_of 6)" -p 5201 -t 60 >/dev/null 2>&1 &
	pid=$!
	sleep 1	# iperf3's own start-up; not a sync point of ours
	r=$(probe)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$r"
}
quiet=$(probe)
echo
printf '%-36s %10s %10s %10s\n' "echo through HBONE, 64 B, ms" p50 p99 max
# shellcheck disable=SC2086  # three fields
printf '%-36s %10s %10s %10s\n' "alone" $quiet
for kind in settings_ack ping_ack window_update hpack_400; do
	# shellcheck disable=SC2046,SC2183  # three fields
	printf '%-36s %10s %10s %10s\n' "during a ${kind} flood" $(during "$kind")
done
# shellcheck disable=SC2046,SC2183
printf '%-36s %10s %10s %10s\n' "during another pod's bulk flow" $(during_bulk 13)
# shellcheck disable=SC2046,SC2183
printf '%-36s %10s %10s %10s\n' "during bulk on the same connection" $(during_bulk 5)
echo "# target (reported, not asserted): p99 during a flood under 50 ms"
echo "# a bulk flow on the probe's own HTTP/2 connection delays it by what"
echo "# waits in the one TCP connection ahead of it (head-of-line), as in"
echo "# ztunnel, which pools the same way; another pod's flow shares only"
echo "# the loop"
