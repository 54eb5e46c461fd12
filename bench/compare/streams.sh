#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# streams.sh: viaduct and Kamailio side by side as load balancers for clients over TCP and TLS
# (the issue-10 figures in bench/RESULTS.md). Clients: streamgen (bench/streamgen) keeping
# CONNS connections with WINDOW MESSAGE requests outstanding each; the pool: the UDP responder
# (bench/loadgen) on two ports. Both proxies get PROXY_CPUS with one worker per cpu (viaduct:
# workers; Kamailio: children = tcp_children = the cpus, -x tlsf), pinned; the load harness
# LOAD_CPUS.
#
# usage: bench/compare/streams.sh [--build DIR] [--out DIR] [--quick]
# environment: PROXY_CPUS (1), LOAD_CPUS (0), REPS (3), SECS (5), CONNS (50), WINDOW (8),
#              EQUAL_RATE (20000: the fixed rate at which CPU per request is compared),
#              IDLE ("10000 100000": idle connection counts)
#
# Per transport (tcp, tls) and repetition, A B order: closed-loop maximum (requests/s with
# responses back, latency p50/p99) and CPU per request at EQUAL_RATE (utime+stime of all the
# proxy's processes over the run / responses). The harness ceiling: streamgen against
# `streamgen respond` directly, no proxy. Then TLS handshakes per second (connect, handshake,
# close) and viaduct's memory per idle connection (VmRSS and kernel TCP memory before and with
# N idle connections from 8 source addresses). Output: OUT/streams.md, OUT/streams.csv.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TEST_NAME=streams
# shellcheck source=../../tests/integration/lib.sh
source "$SRC/tests/integration/lib.sh"
# shellcheck source=proclib.sh
source "$HERE/proclib.sh"

run_bounded 1800 "$@"
BUILD=$SRC/build-rel OUT=$SRC/bench/compare/out QUICK=0
while (($#)); do
	case $1 in
	--build) BUILD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--quick) QUICK=1 ;;
	*) echo "usage: $0 [--build DIR] [--out DIR] [--quick]" >&2; exit 2 ;;
	esac
	shift
done
PROXY_CPUS=${PROXY_CPUS:-1} LOAD_CPUS=${LOAD_CPUS:-0} REPS=${REPS:-3} SECS=${SECS:-5}
CONNS=${CONNS:-50} WINDOW=${WINDOW:-8} EQUAL_RATE=${EQUAL_RATE:-20000}
IDLE=${IDLE:-"10000 100000"} IDLE_TLS=${IDLE_TLS:-10000} PARTS=${PARTS:-"load handshakes idle"}
if ((QUICK)); then REPS=1 SECS=1 IDLE=1000 IDLE_TLS=1000; fi
WORKERS=$(($(tr ',' '\n' <<<"$PROXY_CPUS" | wc -l)))
[[ -d $BUILD ]] || meson setup "$BUILD" --buildtype=release "$SRC" >/dev/null
ninja -C "$BUILD" viaduct bench/streamgen/streamgen bench/loadgen/responder >/dev/null
VIADUCT=$BUILD/viaduct SG=$BUILD/bench/streamgen/streamgen RESPONDER=$BUILD/bench/loadgen/responder
command -v kamailio >/dev/null || { log "SKIP: kamailio not installed"; exit 77; }
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E
mkdir -p "$OUT"
ADDR=127.0.0.1 TCP_PORT=5160 TLS_PORT=5161 UDP_PORT=5160 P1=5170 P2=5171 DIRECT=5180 ADMIN=5190

# a certificate for the TLS listeners (self-signed: the benchmark client does not verify)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj "/CN=bench" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
printf '1 sip:%s:%s\n1 sip:%s:%s\n' $ADDR $P1 $ADDR $P2 >"$T/dispatcher.list"
cat >"$T/viaduct.yaml" <<EOF
overload: { shed: off }   # throughput, as Kamailio is measured (bench/edge/overload.sh: shedding)
workers: $WORKERS
listeners:
  - { address: $ADDR, port: $UDP_PORT }
  - { address: $ADDR, port: $TCP_PORT, transport: tcp }
  - address: $ADDR
    port: $TLS_PORT
    transport: tls
    tls: { certificate: $T/cert.pem, key: $T/key.pem }
pool: { name: pool, hash: call-id, dispatcher_list: $T/dispatcher.list, setid: 1 }
tcp: { max_connections: 200000, max_connections_per_ip: 200000 }
admin: { address: $ADDR, port: $ADMIN }
EOF
"$VIADUCT" --check-config "$T/viaduct.yaml" >/dev/null

HZ=$(getconf CLK_TCK)

start_bg responder taskset -c "$LOAD_CPUS" "$RESPONDER" --listen $ADDR --ports "$P1,$P2"
wait_for_udp_port $ADDR $P1 10 "${BG_PID[responder]}" || die "responder did not start"

start_proxy() { # start_proxy NAME: PROXY_PID, PROXY_PIDS (pinned)
	: >"$T/$1.log"
	case $1 in
	viaduct)
		start_bg_merged "$1" taskset -c "$PROXY_CPUS" "$VIADUCT" -c "$T/viaduct.yaml"
		wait_for_log "$T/$1.log" 'viaduct: ready' 10 "${BG_PID[$1]}" || die "viaduct did not start"
		;;
	kamailio)
		mkdir -p "$T/kam"
		start_bg_merged "$1" taskset -c "$PROXY_CPUS" kamailio -x tlsf -DD -E \
			-f "$HERE/kamailio-streams.cfg" -n "$WORKERS" -m 512 -M 32 \
			-A "DS_LIST=\"$T/dispatcher.list\"" -A "TCP_CHILDREN=$WORKERS" \
			-A "UDP_LISTEN=udp:$ADDR:$UDP_PORT" -A "TCP_LISTEN=tcp:$ADDR:$TCP_PORT" \
			-A "TLS_LISTEN=tls:$ADDR:$TLS_PORT" -A "TLS_CERT=\"$T/cert.pem\"" \
			-A "TLS_KEY=\"$T/key.pem\"" -w "$T/kam" -Y "$T/kam" -P "$T/kam/pid"
		local d=$((SECONDS + 15))
		until [[ -s $T/kam/pid ]]; do
			((SECONDS < d)) || die "kamailio did not start"
			sleep 0.05
		done
		;;
	esac
	PROXY_PID=${BG_PID[$1]}
	sleep 0.5 # settle: the forked processes exist before they are pinned (not a sync)
	read -r -a PROXY_PIDS <<<"$(proc_tree "$PROXY_PID")"
	local p
	for p in "${PROXY_PIDS[@]}"; do taskset -a -p -c "$PROXY_CPUS" "$p" >/dev/null 2>&1 || true; done
}
stop_proxy() { stop_pid "$PROXY_PID" TERM 10 || true; }

# load PROXY TRANSPORT RATE: one streamgen run; LINE = its output, CPU_US = proxy cpu / ok
load() {
	local port=$TCP_PORT tls=()
	[[ $2 == tls ]] && port=$TLS_PORT tls=(--tls)
	local t0 t1 rate=()
	(($3 > 0)) && rate=(--rate "$3")
	t0=$(cpu_ticks "${PROXY_PIDS[@]}")
	LINE=$(taskset -c "$LOAD_CPUS" "$SG" load --target "$ADDR:$port" "${tls[@]}" --conns "$CONNS" \
		--window "$WINDOW" --duration "$SECS" "${rate[@]}")
	t1=$(cpu_ticks "${PROXY_PIDS[@]}")
	local ok
	ok=$(field ok "$LINE")
	CPU_US=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v ok="$ok" 'BEGIN { printf "%.2f", ok ? d / hz * 1e6 / ok : 0 }')
	log "$1 $2 rate=$3: $LINE cpu_us_per_req=$CPU_US"
}
CSV=$OUT/streams.csv
echo "rep,proxy,transport,mode,rate,ok,bad,errors,p50_us,p99_us,cpu_us_per_req" >"$CSV"
row() { echo "$1,$2,$3,$4,$(field rate "$LINE"),$(field ok "$LINE"),$(field bad "$LINE"),$(field errors "$LINE"),$(field p50_us "$LINE"),$(field p99_us "$LINE"),$CPU_US" >>"$CSV"; }

# the harness ceiling: streamgen against its own responder, no proxy
for tp in tcp tls; do
	[[ $PARTS == *load* ]] || break
	tls=()
	[[ $tp == tls ]] && tls=(--tls --cert "$T/cert.pem" --key "$T/key.pem")
	start_bg direct taskset -c "$LOAD_CPUS" "$SG" respond --listen "$ADDR:$DIRECT" "${tls[@]}"
	wait_for_log "$T/direct.out" 'ready' 10 "${BG_PID[direct]}" || die "streamgen respond did not start"
	ctls=()
	[[ $tp == tls ]] && ctls=(--tls)
	LINE=$(taskset -c "$LOAD_CPUS" "$SG" load --target "$ADDR:$DIRECT" "${ctls[@]}" --conns "$CONNS" \
		--window "$WINDOW" --duration "$SECS")
	CPU_US=0
	log "direct $tp: $LINE"
	row 0 direct "$tp" max
	stop_pid "${BG_PID[direct]}" TERM 5 || true
done

[[ $PARTS == *load* ]] || REPS=0
for ((rep = 1; rep <= REPS; rep++)); do
	for proxy in viaduct kamailio; do
		start_proxy $proxy
		for tp in tcp tls; do
			load $proxy $tp 0
			row "$rep" $proxy $tp max
			load $proxy $tp "$EQUAL_RATE"
			row "$rep" $proxy $tp equal
		done
		stop_proxy
	done
done

# TLS handshakes per second (a new connection each: connect, handshake, close)
HS=$OUT/streams-handshakes.txt
: >"$HS"
for proxy in viaduct kamailio; do
	[[ $PARTS == *handshakes* ]] || break
	start_proxy $proxy
	t0=$(cpu_ticks "${PROXY_PIDS[@]}")
	LINE=$(taskset -c "$LOAD_CPUS" "$SG" handshakes --target "$ADDR:$TLS_PORT" --tls --duration "$SECS")
	t1=$(cpu_ticks "${PROXY_PIDS[@]}")
	echo "$proxy $LINE proxy_cpu_s=$(awk -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", d / hz }')" | tee -a "$HS" >&2
	stop_proxy
done

# viaduct's memory per idle connection
MEM=$OUT/streams-idle.txt
: >"$MEM"
SRCS=$(for i in 1 2 3 4 5 6 7 8; do printf '127.0.0.%s,' $((100 + i)); done)
[[ $PARTS == *idle* ]] || IDLE="" IDLE_TLS=""
for run in $(for n in $IDLE; do echo "tcp:$n"; done; for n in $IDLE_TLS; do echo "tls:$n"; done); do
	tp=${run%:*} n=${run#*:}
	if (($(ulimit -Hn) < n + 1000)); then
		# each connection is a file descriptor in viaduct and in streamgen
		echo "viaduct $tp idle=$n not measured: the hard open-files limit here is $(ulimit -Hn)" | tee -a "$MEM" >&2
		continue
	fi
	{
		start_proxy viaduct
		port=$TCP_PORT tls=()
		[[ $tp == tls ]] && port=$TLS_PORT tls=(--tls)
		rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$PROXY_PID/status")
		kmem0=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
		start_bg idle taskset -c "$LOAD_CPUS" "$SG" idle --target "$ADDR:$port" "${tls[@]}" \
			--conns "$n" --hold 30 --src "${SRCS%,}"
		wait_for_log "$T/idle.out" 'streamgen idle open=' 120 "${BG_PID[idle]}" || die "idle connections did not open"
		sleep 1 # the last accepts and handshakes land in viaduct (a measurement pause)
		rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$PROXY_PID/status")
		kmem1=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
		accepted=$(curl -s "http://$ADDR:$ADMIN/metrics" | awk '$1 ~ /^viaduct_tcp_connections[{]/ { s += $2 } END { print s + 0 }')
		open=$(grep -o 'open=[0-9]*' "$T/idle.out" | head -n 1)
		# the kernel's slab holds both ends of each loopback connection: halved
		echo "viaduct $tp idle=$n client_$open viaduct_holds=$accepted rss_kb=$rss0->$rss1 user_bytes_per_conn=$(( (rss1 - rss0) * 1024 / n )) kernel_slab_kb=$kmem0->$kmem1 kernel_bytes_per_conn_end=$(( (kmem1 - kmem0) * 1024 / n / 2 ))" | tee -a "$MEM" >&2
		stop_pid "${BG_PID[idle]}" TERM 10 || true
		stop_proxy
	}
done

python3 - "$CSV" "$OUT/streams.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = open(sys.argv[2], "w")
out.write("| transport | proxy | max requests/s (median) | p50/p99 us at max | CPU us per request at equal rate |\n|---|---|---|---|---|\n")
for tp in ("tcp", "tls"):
    d = [r for r in rows if r["proxy"] == "direct" and r["transport"] == tp]
    if d:
        out.write(f"| {tp} | harness ceiling (no proxy) | {float(d[0]['rate']):,.0f} | {d[0]['p50_us']}/{d[0]['p99_us']} | - |\n")
    for p in ("viaduct", "kamailio"):
        mx = [r for r in rows if r["proxy"] == p and r["transport"] == tp and r["mode"] == "max"]
        eq = [r for r in rows if r["proxy"] == p and r["transport"] == tp and r["mode"] == "equal"]
        if not mx:
            continue
        rate = statistics.median(float(r["rate"]) for r in mx)
        lat = sorted(mx, key=lambda r: float(r["rate"]))[len(mx) // 2]
        cpu = statistics.median(float(r["cpu_us_per_req"]) for r in eq) if eq else 0
        out.write(f"| {tp} | {p} | {rate:,.0f} | {lat['p50_us']}/{lat['p99_us']} | {cpu:.2f} |\n")
EOF
cat "$OUT/streams.md" >&2
checks_exit
