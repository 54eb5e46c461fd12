#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# kamailio-tls.sh: SIP over TLS through viaduct with Kamailio's tls module at both ends and a
# test CA made by the test (openssl):
#
#   sipp (UDP) -> Kamailio edge (TLS client, kamailio-tls-edge.cfg) ==TLS==> viaduct
#     ==TLS==> two Kamailio registrars (kamailio-registrar.cfg with WITH_TLS)
#
# Mutual TLS on both hops: viaduct's listener has verify_client: true (the edge presents its
# certificate), the registrars require viaduct's client certificate (tls_client:), and viaduct
# checks theirs against the CA and their IP addresses.
#
# usage: kamailio-tls.sh VIADUCT_BIN [CALLS]
#
# Checks:
#   1. CALLS REGISTERs with digest auth and re-REGISTERs (bench/sipp/register_rport_last.xml)
#      through both TLS hops: all succeed; the members saw viaduct's Via as SIP/2.0/TLS with
#      the client's (the edge's) Via below; viaduct counted TLS handshakes, no drop.
#   2. A client without a certificate, and one whose certificate another CA signed
#      (openssl s_client), get no TLS session: counted tls_failed.
#   3. Certificate reload under load: while sipp registers through the edge, viaduct's
#      certificate is reissued (new key and serial) and viaduct reloads (SIGHUP): no call
#      fails, the edge's connection stays up (no TLS close), and a new connection is served
#      the new certificate. A broken certificate file then is refused like a bad config; new
#      connections keep getting the last good one.
#   4. Toward TLS members (OpenSSL s_server as the member, a certificate for "localhost"): a
#      member configured by name gets it as SNI and its certificate checked against it; a
#      member configured by IP whose certificate lacks that IP is refused.
# exit: 0 all passed, 1 a check failed, 2 usage, 77 sipp/kamailio/tls module/openssl missing.

# shellcheck source-path=SCRIPTDIR disable=SC2016 # check() evals its single-quoted EXPR later
set -euo pipefail
TEST_NAME=kamailio-tls
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ilib.sh
source "$HERE/ilib.sh"

(($# >= 1 && $# <= 2)) || { echo "usage: $0 VIADUCT_BIN [CALLS]" >&2; exit 2; }
in_private_netns "$@"
run_bounded 110 "$@"
VIADUCT_BIN=$1 CALLS=${2:-20}
SCN_DIR=$(cd "$HERE/../../bench/sipp" && pwd)

il_need sipp sip-tester
il_need kamailio kamailio
il_need openssl openssl
[[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so || -n $(find /usr/lib -name tls.so -path '*kamailio*' 2>/dev/null | head -n 1) ]] ||
	{ log "SKIP: Kamailio's tls module missing (Debian package kamailio-tls-modules)"; exit 77; }
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E

# stop_s_servers: the OpenSSL s_server members of phase 4 (each a `sleep | s_server` pipeline
# under a bash whose PID is recorded: its children are stopped first, or they outlive it)
stop_s_servers() {
	local port pid
	for port in ${P_NAME:-} ${P_IP:-}; do
		pid=${BG_PID[s_server-$port]:-}
		[[ -n $pid ]] || continue
		pkill -TERM -P "$pid" 2>/dev/null || true
		stop_pid "$pid" TERM 5 || true
	done
}

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	stop_s_servers
	(($1 == 0)) && return 0
	il_dump_logs
	tail_log edge "$T/edge.log" 30
	local f
	for f in "$T"/sipp-*.errors; do tail_log "${f##*/}" "$f" 20 3000; done
}

VD_ADDR4=127.0.0.20 K1_ADDR=127.0.0.21 K2_ADDR=127.0.0.22 EDGE=127.0.0.13 CLIENT=127.0.0.11
# the namespace is the test's own: fixed ports
VD_PORT4=5060 VD_TLS=5061 K_UDP=5070 K_TLS=5071 EDGE_PORT=5080

il_make_certs
C=$IL_CERTS
for k in k1:$K1_ADDR k2:$K2_ADDR; do
	IL_KAM_EXTRA=(-A WITH_TLS -A "TLS_CERT=\"$C/member.pem\"" -A "TLS_KEY=\"$C/member.key\""
		-A "TLS_CA=\"$C/ca.pem\"" -A "VD_ALIAS6=$VD_ADDR4:$VD_TLS"
		-A "LISTEN_TLS4=tls:${k#*:}:$K_TLS")
	il_start_kamailio "${k%%:*}" "${k#*:}" $K_UDP
done

cat >"$T/viaduct.yaml" <<EOF
workers: 2
listeners:
  - { address: $VD_ADDR4, port: $VD_PORT4 }
  - address: $VD_ADDR4
    port: $VD_TLS
    transport: tls
    tls: { certificate: $C/viaduct.pem, key: $C/viaduct.key, ca: $C/ca.pem, verify_client: true }
pool:
  name: kamailio
  transport: tls
  members:
    - { host: $K1_ADDR, port: $K_TLS }
    - { host: $K2_ADDR, port: $K_TLS }
tls_client: { certificate: $C/viaduct.pem, key: $C/viaduct.key, ca: $C/ca.pem }
admin: { address: 127.0.0.1, port: 8080 }
EOF
start_viaduct_checked "$T/viaduct.yaml"
VD_PID=$VIADUCT_PID

mkdir -p "$T/edge"
start_bg_merged edge kamailio -DD -E -m 32 -M 4 -f "$HERE/kamailio-tls-edge.cfg" -Y "$T/edge" \
	-P "$T/edge/pid" -w "$T/edge" -A "LISTEN=udp:$EDGE:$EDGE_PORT" -A "LISTEN_TLS=tls:$EDGE:$((EDGE_PORT + 1))" \
	-A "VIADUCT=\"sip:$VD_ADDR4:$VD_TLS;transport=tls\"" -A "TLS_CERT=\"$C/edge.pem\"" \
	-A "TLS_KEY=\"$C/edge.key\"" -A "TLS_CA=\"$C/ca.pem\""
wait_for_udp_port $EDGE $EDGE_PORT 15 "${BG_PID[edge]}" || die "the Kamailio edge did not start"

# register NAME CALLS RATE: sipp through the edge, in the background
register() {
	start_bg "sipp-$1" sipp -sf "$SCN_DIR/register_rport_last.xml" "$EDGE:$EDGE_PORT" \
		-i $CLIENT -p 0 -s alice -au alice -ap "${PW[alice]}" -m "$2" -r "$3" -l 20 -nostdin \
		-default_behaviors abortunexp -recv_timeout 5000 -timeout 40s -timeout_error \
		-trace_stat -stf "$T/sipp-$1.csv" -fd 1 -trace_err -error_file "$T/sipp-$1.errors"
}
metric_sum() { # metric_sum NAME: a family of viaduct's /metrics, summed over its samples
	curl -s "http://127.0.0.1:8080/metrics" |
		awk -v n="viaduct_$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'
}

# --- 1. registrations through both TLS hops ----------------------------------------------------
register first "$CALLS" 20
wait_pid "${BG_PID[sipp-first]}" 45 || die "sipp still running"
ok=$(sipp_ok sipp-first) failed=$(sipp_failed sipp-first)
check "1: $CALLS registrations + re-registrations over TLS (ok=$ok failed=$failed, exit $WAIT_RC)" \
	'[[ $ok == "$CALLS" && $failed == 0 && $WAIT_RC == 0 ]]'
vias=$(grep -h 'VDI member=.* req=REGISTER ' "$T/k1.log" "$T/k2.log" | head -n 1 || true)
check "1: a member saw viaduct's Via as TLS with a connection token, the edge's below it" \
	'grep -qE "via1=<SIP/2.0/TLS [^;>]*(;[^;>]+)*;branch=z9hG4bKvd[0-9a-f]{48}" <<<"$vias" && grep -q "via2=<SIP/2.0/TLS $EDGE" <<<"$vias"'
hs=$(metric_sum tls_handshakes_total)
check "1: viaduct made TLS handshakes with the edge and the members ($hs)" '(( hs >= 3 ))'

# --- 2. clients the listener must refuse ------------------------------------------------------
failed_before=$(metric_sum tls_failures_total)
s_client() {
	timeout 10 openssl s_client -connect "$VD_ADDR4:$VD_TLS" -CAfile "$C/ca.pem" "$@" \
		</dev/null >"$T/s_client.out" 2>&1
}
s_client || true
cp "$T/s_client.out" "$T/s_client-nocert.out"
s_client -cert "$C/rogue.pem" -key "$C/rogue.key" || true
cp "$T/s_client.out" "$T/s_client-rogue.out"
failed_after=$(metric_sum tls_failures_total)
check "2: a client without a certificate and one from another CA were refused (tls_failures_total $failed_before -> $failed_after)" \
	'(( failed_after >= failed_before + 2 ))'

# --- 3. certificate reload under load ------------------------------------------------------------
serial() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
old_serial=$(serial "$C/viaduct.pem")
closed_before=$(metric_sum tcp_closed_total)
hs_before=$(metric_sum tls_handshakes_total)
register reload $((CALLS * 5)) 20
# the first registrations are under way before the certificate changes
for ((i = 0; i < 100; i++)); do
	[[ -s $T/sipp-reload.csv ]] && (($(tail -n 1 "$T/sipp-reload.csv" | awk -F';' '{print $16}' || echo 0) > 0)) && break
	sleep 0.1
done
il_issue_cert viaduct "IP:::1,IP:127.0.0.11,IP:127.0.0.12,IP:127.0.0.13,IP:127.0.0.20,IP:127.0.0.21,IP:127.0.0.22"
new_serial=$(serial "$C/viaduct.pem")
n=$(grep -c 'snapshot .* published' "$T/viaduct.log" || true)
kill -HUP "$VD_PID"
for ((i = 0; i < 100; i++)); do
	(($(grep -c 'snapshot .* published' "$T/viaduct.log" || true) > n)) && break
	sleep 0.1
done
check "3: viaduct reloaded" '(( $(grep -c "snapshot .* published" "$T/viaduct.log" || true) > n ))'
s_client -cert "$C/edge.pem" -key "$C/edge.key" || true
served=$(openssl x509 -noout -serial -in "$T/s_client.out" 2>/dev/null | cut -d= -f2 || true)
check "3: a new connection gets the new certificate (serial $served; old $old_serial, new $new_serial)" \
	'[[ -n $served && $served == "$new_serial" && $served != "$old_serial" ]]'
wait_pid "${BG_PID[sipp-reload]}" 45 || die "sipp (reload) still running"
ok=$(sipp_ok sipp-reload) failed=$(sipp_failed sipp-reload)
check "3: $((CALLS * 5)) registrations across the reload (ok=$ok failed=$failed)" \
	'[[ $ok == $((CALLS * 5)) && $failed == 0 ]]'
closed_after=$(metric_sum tcp_closed_total)
hs_after=$(metric_sum tls_handshakes_total)
# the s_client connection is the only one opened and closed meanwhile
check "3: established connections survived the reload (closed $closed_before -> $closed_after, handshakes $hs_before -> $hs_after)" \
	'(( closed_after - closed_before <= 1 && hs_after - hs_before <= 1 ))'

# --- 3b. a bad certificate is refused like any bad config -----------------------------------------
cp "$C/viaduct.pem" "$T/viaduct.pem.good"
refused=$(grep -c 'refused, the running config keeps serving' "$T/viaduct.log" || true)
printf 'not a certificate\n' >"$C/viaduct.pem.bad"
mv "$C/viaduct.pem.bad" "$C/viaduct.pem" # the watch may reload too: refused as well
kill -HUP "$VD_PID"
for ((i = 0; i < 100; i++)); do
	(($(grep -c 'refused, the running config keeps serving' "$T/viaduct.log" || true) > refused)) && break
	sleep 0.1
done
check "3b: a reload with a broken certificate file is refused" \
	'(( $(grep -c "refused, the running config keeps serving" "$T/viaduct.log" || true) > refused ))'
s_client -cert "$C/edge.pem" -key "$C/edge.key" || true
served=$(openssl x509 -noout -serial -in "$T/s_client.out" 2>/dev/null | cut -d= -f2 || true)
check "3b: new connections still get the last good certificate (serial $served)" \
	'[[ $served == "$new_serial" ]]'
cp "$T/viaduct.pem.good" "$C/viaduct.pem"

il_stop_viaduct
log "$(grep -E '^stats tcp' "$T/viaduct.log" | tail -n 1 || true)"

# --- 4. toward TLS members: SNI and the member's identity (OpenSSL's s_server as the member) ------
# a certificate for the name "localhost" only; one member configured by that name (SNI sent,
# name checked), one by its IP literal (no SNI; the certificate does not carry the IP: refused)
il_issue_cert sni "DNS:localhost"
P_NAME=5091 P_IP=5092
for port in $P_NAME $P_IP; do
	start_bg "s_server-$port" bash -c "sleep 60 | exec openssl s_server -accept 127.0.0.1:$port \
		-cert '$C/sni.pem' -key '$C/sni.key' -servername localhost -cert2 '$C/sni.pem' \
		-key2 '$C/sni.key' -servername_fatal"
done
for port in $P_NAME $P_IP; do
	for ((i = 0; i < 100; i++)); do
		grep -q ACCEPT "$T/s_server-$port.out" 2>/dev/null && break
		sleep 0.05
	done
done
cat >"$T/viaduct-sni.yaml" <<EOF
workers: 1
listeners: [{ address: $VD_ADDR4, port: 5062 }]
pools:
  - { name: byname, transport: tls, members: [{ host: localhost, port: $P_NAME }] }
  - { name: byip, transport: tls, members: [{ host: 127.0.0.1, port: $P_IP }] }
rules:
  - { name: byname, ruri: '^sip:byname@', route: byname }
  - { name: byip, ruri: '^sip:byip@', route: byip }
tls_client: { ca: $C/ca.pem }
admin: { address: 127.0.0.1, port: 8081 }
EOF
start_viaduct_checked "$T/viaduct-sni.yaml"
for who in byname byip; do # one datagram each (a shell redirect writes a line at a time)
	python3 -c 'import socket, sys
w, c, vd = sys.argv[1:4]
m = (f"MESSAGE sip:{w}@interop.test SIP/2.0\r\nVia: SIP/2.0/UDP {c}:5999;branch=z9hG4bK-sni-{w};rport\r\n"
     f"Max-Forwards: 70\r\nFrom: <sip:alice@interop.test>;tag=1\r\nTo: <sip:{w}@interop.test>\r\n"
     f"Call-ID: sni-{w}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n")
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(m.encode(), (vd, 5062))' "$who" $CLIENT $VD_ADDR4
done
metric() { curl -s "http://127.0.0.1:8081/metrics" | awk -v n="viaduct_$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'; }
for ((i = 0; i < 100; i++)); do
	(($(metric tls_handshakes_total) >= 1 && $(metric tls_failures_total) >= 1)) && break
	sleep 0.1
done
hs=$(metric tls_handshakes_total) fails=$(metric tls_failures_total)
check "4: the member named localhost got SNI \"localhost\" (s_server saw it)" \
	'grep -q "Hostname in TLS extension: \"localhost\"" "$T/s_server-$P_NAME.out"'
check "4: its handshake completed, its certificate checked against the name ($hs handshakes)" '(( hs == 1 ))'
check "4: the member configured by IP, whose certificate lacks the IP, was refused ($fails TLS failures)" \
	'(( fails >= 1 ))'
stop_pid "$VIADUCT_PID" TERM 10 || true
stop_s_servers
checks_exit
