#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# hep.sh VIADUCT_BIN VIADUCTCTL_BIN: HEP v3 capture end to end, in a network namespace of its
# own (loopback only), every process started and stopped by PID, every wait bounded.
#
# sipp UAC -> viaduct -> two sipp UAS, viaduct sending HEP copies to a collector on loopback
# (hep_collector.py). dumpcap captures loopback: the SIP traffic as it really was on the wire
# and the HEP datagrams. sngrep (-I -E: a real HEP3 decoder, not ours) decodes the datagrams
# into a pcap that tshark reads; hep_check.py compares that with the wire:
#   1. UDP, IPv4, 2 workers, sample 100, capture id 42, a password: the datagrams are exactly
#      viaduct's hep_sent; sngrep decodes each to the addresses, ports, time and bytes of a
#      message on the wire, and every message on the wire (client -> viaduct, viaduct ->
#      member, member -> viaduct, viaduct -> client) has its copy: the copies sent to a member
#      are byte for byte what the member received, the copies received from the client what
#      it sent; capture id, password and correlation id (the Call-ID) on every copy; the
#      counters add up (hep_sent = received + forwarded + replied) and /metrics says the same.
#   2. TCP client, UDP members (the TCP legs reassembled from the wire): the same, protocol 6
#      on the TCP legs. The TCP listener has a port of its own (not listener 0's): responses
#      that a member's datagram brings to the other worker are handed to the connection's
#      owner, and their copies must still show the TCP listener's port.
#   3. Reload to sample: 50 and id: 43: every captured Call-ID has all its messages, about
#      half the calls are captured, the new id is on every copy.
#   4. IPv6: traffic and collector on ::1 (sngrep's writer keeps IPv4 addresses only: ports,
#      bytes and times from sngrep, IPv6 addresses from the chunks).
#   5. No collector (nothing listens): every call succeeds, hep_dropped{refused} counts.
#   6. A collector that never reads: every call succeeds, its socket drops what it cannot take,
#      viaduct's counters still add up.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
in_private_netns "$@"
run_bounded 280 "$@"
install_cleanup_trap
make_tmpdir

VIADUCT=$1
VIADUCTCTL=$2
for tool in sipp tshark dumpcap sngrep; do
	command -v $tool >/dev/null || { log "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done
T=$TMPDIR_E2E
A=127.0.0.1
PROXY=5060 PROXY_TCP=5062 UAS1=5070 UAS2=5080 HEP=9060 ADMIN=8080

uas() { # uas NAME ADDR PORT
	start_bg "$1" sipp -sn uas -i "$2" -p "$3" -nostdin -nd
	wait_for_udp_port "$2" "$3" 10 "${BG_PID[$1]}" || die "$1 did not bind"
}
# marked NAME: send datagrams to the discard port (9; hep_check.py leaves them out) with a
# fresh token until the token is in $T/NAME.pcap: then everything sent before it is there
# too (the kernel hands dumpcap its buffer in order, in blocks, a while later)
MARK=0
marked() {
	local cap=$1 deadline=$((SECONDS + 10)) token
	MARK=$((MARK + 1))
	token="hep-marker-$$-$MARK"
	until [[ -s $T/$cap.pcap ]] && grep -aq "$token" "$T/$cap.pcap"; do
		((SECONDS < deadline)) || die "$cap: dumpcap did not write $token within 10 s"
		python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[1].encode(), ("127.0.0.1", 9))' "$token"
		sleep "$POLL_INTERVAL"
	done
}
capture_start() { # capture_start NAME: dumpcap on lo into $T/NAME.pcap, capturing
	local cap=$1
	start_bg_merged "dumpcap-$cap" dumpcap -P -q -B 32 -i lo -w "$T/$cap.pcap"
	wait_for_log "$T/dumpcap-$cap.log" "Capturing on" 10 "${BG_PID[dumpcap-$cap]}" ||
		die "dumpcap did not start"
	marked "$cap"
}
capture_stop() { # capture_stop NAME: everything so far written, stop dumpcap, nothing lost
	local cap=$1
	marked "$cap"
	stop_pid "${BG_PID[dumpcap-$cap]}" TERM 10
	check "$cap: dumpcap dropped no packet" \
		'grep -Eq "received/dropped on interface .*: [0-9]+/0 " "$T/dumpcap-$cap.log"'
}
# calls NAME TARGET ADDR N RATE [sipp options]: N INVITE calls through viaduct, waited for
calls() {
	local name=$1 target=$2 addr=$3 n=$4 rate=$5
	shift 5
	pick_udp_port "$addr"
	start_bg "$name" sipp -sn uac "$target" -i "$addr" -p "$PICKED_PORT" -m "$n" -r "$rate" \
		-nostdin -recv_timeout 10000 -trace_stat -stf "$T/$name.csv" -fd 1 "$@"
	wait_pid "${BG_PID[$name]}" 60 || die "$name did not finish"
	check "$name: $n calls, $(sipp_ok "$name") ok, $(sipp_failed "$name") failed" \
		'[[ $(sipp_ok "$name") == "$n" && $(sipp_failed "$name") == 0 ]]'
}
# metrics NAME: /metrics into $T/NAME.prom; sets RX TX REPLIES DROPS SENT DROPPED REFUSED
metrics() {
	"$VIADUCTCTL" -a "$A:$ADMIN" metrics >"$T/$1.prom" || die "no /metrics"
	val() { awk -v n="$1" '$1 == n { print $2 }' "$T/$2.prom"; }
	RX=$(val viaduct_received_messages_total "$1")
	TX=$(val viaduct_forwarded_messages_total "$1")
	REPLIES=$(val viaduct_replied_messages_total "$1")
	DROPS=$(awk '$1 ~ /^viaduct_drops_total\{/ { s += $2 } END { print s + 0 }' "$T/$1.prom")
	SENT=$(val viaduct_hep_sent_total "$1")
	DROPPED=$(awk '$1 ~ /^viaduct_hep_dropped_total\{/ { s += $2 } END { print s + 0 }' "$T/$1.prom")
	REFUSED=$(metric "$T/$1.prom" viaduct_hep_dropped_total 'reason="refused"')
}
# settle NAME: /metrics until every message has its copies (received + sent = copies sent
# or dropped): the workers flush at the end of each batch, a moment after sipp saw the last
settle() {
	local deadline=$((SECONDS + 5))
	while :; do
		metrics "$1"
		((SENT + DROPPED == RX + TX + REPLIES)) && return 0
		((SECONDS >= deadline)) && return 1
		sleep "$POLL_INTERVAL"
	done
}
# collected N: the collector has read N datagrams (bounded)
collected() {
	local deadline=$((SECONDS + 10))
	until [[ -s $T/count && $(cat "$T/count") -ge $1 ]]; do
		((SECONDS >= deadline)) && return 1
		sleep "$POLL_INTERVAL"
	done
}
# decode NAME: the HEP datagrams of $T/NAME.pcap through sngrep into $T/NAME.dec.pcap
decode() {
	tshark -r "$T/$1.pcap" -Y "udp.dstport==$HEP" -w "$T/$1.hep.pcap" 2>/dev/null
	timeout 60 sngrep -I "$T/$1.hep.pcap" -E -N -q -O "$T/$1.dec.pcap" </dev/null \
		>"$T/sngrep-$1.log" 2>&1 || die "sngrep failed on $1"
}
hep_check() { # hep_check NAME key=value...
	local name=$1
	shift
	local -a keys=("$@")
	check "$name: hep_check.py ${keys[*]}" \
		'python3 "$HERE/hep_check.py" "$T/$name.pcap" $HEP "$T/$name.dec.pcap" "${keys[@]}" >"$T/check-$name.log" 2>&1'
	sed "s/^/$name: /" "$T/check-$name.log" >&2
}
viaduct_up() { # viaduct_up NAME CONFIG
	start_bg_merged "$1" "$VIADUCT" -c "$2"
	VD=${BG_PID[$1]}
	VLOG=$T/$1.log
	wait_for_log "$VLOG" 'viaduct: ready' 10 "$VD" || die "$1 did not start"
}

uas uas1 $A $UAS1
uas uas2 $A $UAS2
start_bg collector python3 "$HERE/hep_collector.py" $A $HEP "$T/count"
wait_for_log "$T/collector.out" listening 10 "${BG_PID[collector]}" || die "no collector"

hep_yaml() { # hep_yaml SAMPLE ID: written aside, then renamed (a reload never reads half)
	cat >"$T/vd.yaml.new" <<YAML
workers: 2
listeners:
  - {address: $A, port: $PROXY}
  - {address: $A, port: $PROXY_TCP, transport: tcp}
pool: {name: p, members: [{host: $A, port: $UAS1}, {host: $A, port: $UAS2}]}
admin: {address: $A, port: $ADMIN}
hep: {address: $A, port: $HEP, id: $2, sample: $1, password: s3cret}
YAML
	mv "$T/vd.yaml.new" "$T/vd.yaml"
}
hep_yaml 100 42
"$VIADUCT" --check-config "$T/vd.yaml" >"$T/check-config.log" 2>&1 ||
	die "--check-config: $(cat "$T/check-config.log")"
viaduct_up vd1 "$T/vd.yaml"

# ---- 1. UDP, IPv4, everything captured ----
capture_start udp
calls uac1 "$A:$PROXY" $A 200 400
check "udp: every message has its copies" 'settle udp'
log "udp: rx=$RX tx=$TX replies=$REPLIES drops=$DROPS hep_sent=$SENT hep_dropped=$DROPPED"
check "udp: hep_sent = received + forwarded + replied ($SENT = $RX + $TX + $REPLIES), none dropped" \
	'(( SENT == RX + TX + REPLIES && DROPPED == 0 && DROPS == 0 ))'
check "udp: the collector read them all" 'collected "$SENT"'
capture_stop udp
decode udp
hep_check udp sent="$SENT" id=42 auth=s3cret v4=1 family=2
check "/metrics is valid Prometheus text" 'prom_valid "$T/udp.prom" viaduct_hep_sent_total'
base_sent=$SENT base_rx=$RX base_tx=$TX base_replies=$REPLIES

# ---- 2. a TCP client ----
capture_start tcp
calls uac2 "$A:$PROXY_TCP" $A 100 200 -t t1
check "tcp: every message has its copies" 'settle tcp'
check "tcp: copies = messages ($((SENT - base_sent)) = $((RX - base_rx)) + $((TX - base_tx)) + $((REPLIES - base_replies)))" \
	'(( SENT - base_sent == RX - base_rx + TX - base_tx + REPLIES - base_replies ))'
check "tcp: the collector read them all" 'collected "$SENT"'
capture_stop tcp
decode tcp
hep_check tcp sent=$((SENT - base_sent)) id=42 auth=s3cret
check "tcp: the client's legs are captured as TCP (6), the members' as UDP (17)" \
	'grep -Eq "copies by protocol: \{(6: [1-9][0-9]*, 17: [1-9][0-9]*|17: [1-9][0-9]*, 6: [1-9][0-9]*)\}" "$T/check-tcp.log"'
base_sent=$SENT

# ---- 3. reload: half the calls, another capture id ----
hep_yaml 50 43
kill -HUP "$VD"
wait_for_log "$VLOG" 'reload \(.*\): snapshot [0-9]+ published' 10 "$VD" || true
check "reload applied (sample 50, id 43), none refused" \
	'grep -Eq "reload \(.*\): snapshot [0-9]+ published" "$VLOG" && ! grep -q "refused" "$VLOG"'
capture_start sample
calls uac3 "$A:$PROXY" $A 400 400
metrics sample
collected "$SENT" || true
metrics sample
check "sample: the collector read every copy sent ($SENT in all)" 'collected "$SENT"'
capture_stop sample
decode sample
hep_check sample sent=$((SENT - base_sent)) id=43 auth=s3cret sample=50 calls=400 v4=1
stop_pid "$VD" TERM 10
check "viaduct exited 0" '[[ $WAIT_RC == 0 ]]'
tot=$(grep '^stats total' "$VLOG" | tail -1)
check "the stats line at exit: hep_sent=$(field hep_sent "$tot")" '[[ $(field hep_sent "$tot") == "$SENT" ]]'

# ---- 4. IPv6 ----
if ip -6 addr show dev lo | grep -q '::1'; then
	B=::1
	uas uas6 $B $UAS1
	stop_pid "${BG_PID[collector]}" TERM 5
	rm -f "$T/count"
	start_bg collector6 python3 "$HERE/hep_collector.py" $B $HEP "$T/count"
	wait_for_log "$T/collector6.out" listening 10 "${BG_PID[collector6]}" || die "no collector"
	cat >"$T/vd6.yaml" <<YAML
workers: 1
listeners: [{address: "$B", port: $PROXY}]
pool: {name: p, members: [{host: "$B", port: $UAS1}]}
admin: {address: $A, port: $ADMIN}
hep: {address: "$B", id: 6}
YAML
	viaduct_up vd6 "$T/vd6.yaml"
	capture_start ipv6
	calls uac6 "[$B]:$PROXY" $B 50 50
	check "ipv6: every message has its copies" 'settle ipv6'
	check "ipv6: the collector read them all" 'collected "$SENT"'
	capture_stop ipv6
	decode ipv6
	hep_check ipv6 sent="$SENT" id=6 family=10
	stop_pid "$VD" TERM 10
	stop_pid "${BG_PID[uas6]}" TERM 5
else
	log "no ::1 on lo: IPv6 part skipped"
fi

# ---- 5. no collector: nothing listens on its port ----
cat >"$T/absent.yaml" <<YAML
workers: 2
listeners: [{address: $A, port: $PROXY}]
pool: {name: p, members: [{host: $A, port: $UAS1}, {host: $A, port: $UAS2}]}
admin: {address: $A, port: $ADMIN}
hep: {address: $A, port: 9999}
YAML
viaduct_up vd-absent "$T/absent.yaml"
calls uac5 "$A:$PROXY" $A 200 400
check "absent: every message counted, sent or dropped" 'settle absent'
log "absent: hep_sent=$SENT hep_dropped=$DROPPED (refused $REFUSED)"
check "absent: hep_dropped{reason=refused} counts ($REFUSED)" '(( ${REFUSED:-0} > 0 ))'
stop_pid "$VD" TERM 10

# ---- 6. a collector that never reads ----
start_bg stalled python3 "$HERE/hep_collector.py" $A 9998 "$T/count-stalled" --stall
wait_for_log "$T/stalled.out" listening 10 "${BG_PID[stalled]}" || die "no stalled collector"
sed 's/port: 9999}/port: 9998}/' "$T/absent.yaml" >"$T/stalled.yaml"
viaduct_up vd-stalled "$T/stalled.yaml"
calls uac6b "$A:$PROXY" $A 600 600
check "stalled: every message counted, sent or dropped" 'settle stalled'
sk_drops=$(ss -uamn "sport = :9998" | sed -n 's/.*,d\([0-9]*\)).*/\1/p' | head -1)
log "stalled: hep_sent=$SENT hep_dropped=$DROPPED; the collector's socket dropped ${sk_drops:-?}"
check "stalled: the collector could not keep up (its socket dropped ${sk_drops:-0})" '(( ${sk_drops:-0} > 0 ))'
stop_pid "$VD" TERM 10
check "viaduct exited 0" '[[ $WAIT_RC == 0 ]]'

if ((CHECK_FAILED)); then
	tail_log vd1 "$T/vd1.log" 20
fi
checks_exit
