#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# sipvicious.sh: Debian's SIPVicious 0.3.3 (svmap, svwar, svcrack) against viaduct in front of a
# Kamailio registrar (kamailio-registrar.cfg with UNKNOWN_404 and AUTH_QOP: users alice, bob and
# carol get a 401 challenge with qop=auth, any other user a 404), IPv4 on loopback in a private
# namespace.
#
# usage: sipvicious.sh VIADUCT_BIN
# exit: 0 all checks passed, 1 a check failed, 2 usage, 77 sipvicious/kamailio missing.
#
# A. No protection (one pool, no rules, default limits). This proves the test can see a scan
#    succeed: svmap finds a SIP device; svwar enumerates exactly alice, bob and carol out of a
#    dictionary of 40 names; svcrack finds alice's password in a list of 20; svcrack's OPTIONS
#    to viaduct itself (--requesturi sip:VIADUCT, no user part) gets viaduct's own 200.
# B. rules/edge.yaml's protection: its acl:, rate_limit:, replies: and overload: sections as
#    shipped, and rules/scanners.yaml included (listeners, pool and admin are this test's).
#    svmap (also in compact mode, no User-Agent: the From rule) finds nothing, svwar enumerates
#    nothing, svcrack cracks nothing and its OPTIONS to viaduct gets no 200; the registrar never
#    saw a request of theirs; viaduct_drops_total{reason="rule"} counts them.
# C. The same config, a fresh viaduct; svwar with its User-Agent changed (the tool has no option
#    for it: a small wrapper changes makeRequest()'s default) and 300 names to try, the known
#    ones last: the rules no longer see it, rate_limit does. At its default speed (about 190
#    requests/s once nothing answers it) it is banned (viaduct_edge_events_total{event=
#    "banned"} > 0, drops banned and rate-limited: edge.yaml bans above (ban_after + 1) x rate
#    = 110/s), at most burst + rate of its REGISTERs reach the registrar, and it finds nothing.
# Every tool run is bounded (its own timeouts, --maximumtime, and timeout(1)); each phase's
# viaduct exits 0 on SIGTERM with rx = tx + replies + drops.
#
# svwar and svcrack 0.3.3 ignore -b (main() does not pass it on): they send from 127.0.0.1 on
# any address, so each phase has a viaduct of its own (fresh per-source state), and -x puts the
# phase's scanner address (127.0.0.31/.32/.33) in their Via, which the registrar's log shows.
# svmap honours -b.

# shellcheck source-path=SCRIPTDIR disable=SC2016 # check() evals its single-quoted EXPR later
set -euo pipefail
TEST_NAME=interop-sipvicious
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ilib.sh
source "$HERE/ilib.sh"

(($# == 1)) || { echo "usage: $0 VIADUCT_BIN" >&2; exit 2; }
in_private_netns "$@" # loopback only, whatever viaduct follows
run_bounded 110 "$@"
VIADUCT_BIN=$1
ROOT=$(cd "$HERE/../.." && pwd)
EDGE=$ROOT/rules/edge.yaml
SCANNERS=$ROOT/rules/scanners.yaml

il_need svmap sipvicious
il_need svwar sipvicious
il_need svcrack sipvicious
il_need kamailio kamailio
# The tools run with Debian's python3 (their #! line); the wrapper of phase C needs the same one
# and their module directory (/usr/share/sipvicious).
SV_PY=$(sed -n '1s/^#! *//p' "$(readlink -f "$(command -v svwar)")")
SV_DIR=$(dirname "$(readlink -f "$(command -v svwar)")")
[[ -x $SV_PY && -d $SV_DIR/sipvicious ]] || { log "SKIP: sipvicious modules not found"; exit 77; }
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	(($1 == 0)) && return 0
	il_dump_logs
	local f
	for f in "$T"/sv-*.out; do [[ -e $f ]] && tail_log "${f##*/}" "$f" 20 3000; done
}

VD_ADDR4=127.0.0.20 K1_ADDR=127.0.0.21
pick_udp_port "$VD_ADDR4"
VD_PORT4=$PICKED_PORT
pick_udp_port "$K1_ADDR"
K1_PORT=$PICKED_PORT
VD=$VD_ADDR4:$VD_PORT4
IL_KAM_EXTRA=(-A UNKNOWN_404 -A AUTH_QOP)
il_start_kamailio k1 "$K1_ADDR" "$K1_PORT"

# The dictionaries: svwar's extension names (40 in A, the known users among them; 300 in C,
# the known users last) and svcrack's passwords (alice's the 15th of 20).
for i in $(seq 1 37); do printf 'guest%02d\n' "$i"; done >"$T/names40.txt"
printf '%s\n' alice bob carol >>"$T/names40.txt"
for i in $(seq 1 297); do printf 'user%03d\n' "$i"; done >"$T/names300.txt"
printf '%s\n' alice bob carol >>"$T/names300.txt"
{
	for i in $(seq 1 14); do printf 'secret%02d\n' "$i"; done
	printf '%s\n' "${PW[alice]}"
	for i in $(seq 15 19); do printf 'secret%02d\n' "$i"; done
} >"$T/passwords.txt"

# vd_start NAME [EXTRA_FILE]: viaduct on VD with the pool {k1}, an admin API, and the YAML of
# EXTRA_FILE appended; log $T/viaduct.log (the previous phase's is kept as viaduct-NAME.log).
vd_start() {
	local name=$1 extra=${2:-} cfg=$T/viaduct-$1.yaml
	pick_udp_port "$VD_ADDR4"
	ADMIN_PORT=$PICKED_PORT
	{
		printf '# viaduct for %s, phase %s\nworkers: 2\n' "$TEST_NAME" "$name"
		printf 'listeners:\n  - { address: "%s", port: %s }\n' "$VD_ADDR4" "$VD_PORT4"
		printf 'pool:\n  name: kamailio\n  hash: source-ip\n'
		printf '  members:\n    - { host: "%s", port: %s }\n' "$K1_ADDR" "$K1_PORT"
		printf 'admin: { address: "%s", port: %s }\n' "$VD_ADDR4" "$ADMIN_PORT"
		[[ -n $extra ]] && cat "$extra"
	} >"$cfg"
	start_viaduct_checked "$cfg"
	VD_PID=$VIADUCT_PID
	wait_for_udp_port "$VD_ADDR4" "$VD_PORT4" 5 "$VD_PID" || die "viaduct: no udp $VD"
}

# vd_metrics FILE: GET /metrics from the admin API (python3: no curl needed).
vd_metrics() {
	python3 - "$VD_ADDR4" "$ADMIN_PORT" >"$1" <<'PY'
import sys, urllib.request
print(urllib.request.urlopen('http://%s:%s/metrics' % (sys.argv[1], sys.argv[2]), timeout=5)
      .read().decode(), end='')
PY
}
m() { local v; v=$(metric "$1" "$2" "$3"); printf '%s\n' "${v:-0}"; }
# m1 FILE NAME: the value of the sample NAME without labels (0 if absent)
m1() { awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }' "$1"; }
# msum FILE NAME: the sum of every sample of family NAME (all label values)
msum() { awk -v n="$2{" 'index($0, n) == 1 { s += $2 } END { print s + 0 }' "$1"; }

# vd_stop NAME: SIGTERM; viaduct must exit 0 with counters that add up (the "stats total"
# line it prints at exit).
vd_stop() {
	local name=$1 log=$T/viaduct.log st
	stop_pid "$VD_PID" TERM 10 || true
	VD_RC=$WAIT_RC
	st=$(grep -E 'stats total' "$log" | tail -n 1 || true)
	log "viaduct ($name): ${st:-no stats line}"
	check "$name: viaduct exited 0 on SIGTERM (got $VD_RC)" '[[ $VD_RC == 0 ]]'
	check "$name: viaduct rx = tx + replies + drops ($(field rx "$st") = $(field tx "$st") + $(field replies "$st") + $(field drops "$st"))" \
		'[[ -n $st ]] && (( $(field rx "$st") == $(field tx "$st") + $(field replies "$st") + $(field drops "$st") ))'
	mv "$log" "$T/viaduct-$name.log"
}

# sv NAME TOOL ARGS...: one bounded run of a SIPVicious tool (or of the UA wrapper, TOOL=svwar-ua)
# with stdin closed; output in $T/sv-NAME.out, exit status in SV_RC[NAME]. Sessions go to a
# private $HOME (the tools save them under ~/.sipvicious).
declare -A SV_RC=()
sv() {
	local name=$1 tool=$2
	shift 2
	SV_RC[$name]=0
	if [[ $tool == svwar-ua ]]; then
		HOME=$T PYTHONPATH=$SV_DIR timeout -k 2 25 "$SV_PY" - "$@" <"$T/svwar_ua.py" \
			>"$T/sv-$name.out" 2>&1 || SV_RC[$name]=$?
	else
		HOME=$T timeout -k 2 25 "$tool" "$@" </dev/null >"$T/sv-$name.out" 2>&1 ||
			SV_RC[$name]=$?
	fi
	log "$tool $name: exit ${SV_RC[$name]}, $(wc -l <"$T/sv-$name.out") lines of output"
}

# What the tools report, from their result tables ("| 127.0.0.20:PORT | viaduct |",
# "| alice | reqauth |", "| alice | alice-secret |"): svmap's devices, svwar's extensions,
# svcrack's cracked passwords.
found_devices() { grep -oE "^\| *$VD_ADDR4:$VD_PORT4 " "$T/sv-$1.out" | wc -l; }
found_extensions() {
	awk -F'|' 'NF >= 3 { e = $2; a = $3; gsub(/ /, "", e); gsub(/ /, "", a)
		if (a == "reqauth" || a == "noauth" || a == "weird") print e }' "$T/sv-$1.out" |
		LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
found_password() {
	awk -F'|' -v u="$2" 'NF >= 3 { e = $2; p = $3; gsub(/ /, "", e)
		sub(/^ +/, "", p); sub(/ +$/, "", p); if (e == u) print p }' "$T/sv-$1.out" | head -n 1
}
# requests the registrar logged whose client Via (the 2nd, below viaduct's) names ADDR
k1_requests_from() {
	grep -cE "VDI member=k1 req=[A-Z]+ .* via2=<SIP/2.0/UDP $1:" "$T/k1.log" || true
}

# scan PHASE ADDR: the four runs of phases A and B from scanner address ADDR.
scan() {
	local p=$1 a=$2
	pick_udp_port "$a"
	sv "map-$p" svmap -b "$a" -P "$PICKED_PORT" -p "$VD_PORT4" -t 0.05 "$VD_ADDR4"
	pick_udp_port "$a"
	sv "war-$p" svwar -x "$a" -P "$PICKED_PORT" -p "$VD_PORT4" -d "$T/names40.txt" \
		--maximumtime 3 "$VD_ADDR4"
	pick_udp_port "$a"
	sv "crack-$p" svcrack -u alice -x "$a" -P "$PICKED_PORT" -p "$VD_PORT4" \
		-d "$T/passwords.txt" --maximumtime 3 "$VD_ADDR4"
	pick_udp_port "$a"
	sv "ping-$p" svcrack -u alice -m OPTIONS --requesturi "sip:$VD" -x "$a" -P "$PICKED_PORT" \
		-p "$VD_PORT4" -d "$T/passwords.txt" --maximumtime 3 "$VD_ADDR4"
}

# ---- A: no protection ---------------------------------------------------------------------
S=127.0.0.31
vd_start open
scan open "$S"
vd_metrics "$T/metrics-open.txt"
vd_stop open
check "A: svmap finds a SIP device at $VD ($(found_devices map-open) row)" \
	'(( $(found_devices map-open) == 1 ))'
ext=$(found_extensions war-open)
check "A: svwar through viaduct enumerates exactly alice, bob and carol (got: ${ext:-nothing})" \
	'[[ $ext == "alice bob carol" ]]'
pw=$(found_password crack-open alice)
check "A: svcrack finds alice's password (got: ${pw:-nothing})" '[[ $pw == "${PW[alice]}" ]]'
pw=$(found_password ping-open alice)
ok=$(m "$T/metrics-open.txt" viaduct_replies_total 'code="200"')
check "A: svcrack's OPTIONS sip:$VD got viaduct's own 200 (svcrack: ${pw:-nothing}; replies 200: $ok)" \
	'[[ $pw == "[no password]" ]] && (( ok >= 1 ))'
n=$(k1_requests_from "$S")
check "A: the registrar answered the scans ($n requests from $S)" '(( n > 40 ))'

# ---- B: rules/edge.yaml's protection, rules/scanners.yaml --------------------------------
# The shipped sections, not copies of their values: whatever edge.yaml says is what is tested.
awk '/^[A-Za-z_]+:/ { keep = ($0 ~ /^(acl|rate_limit|replies|overload):/) } keep' "$EDGE" \
	>"$T/edge-guard.yaml"
printf 'include: ["%s"]\n' "$SCANNERS" >>"$T/edge-guard.yaml"
check "B: rules/edge.yaml includes scanners.yaml and sets every protection section" \
	'grep -q "^include: \[scanners.yaml\]" "$EDGE" && for k in acl rate_limit replies overload; do grep -q "^$k:" "$T/edge-guard.yaml" || exit 1; done'
S=127.0.0.32
vd_start edge "$T/edge-guard.yaml"
scan edge "$S"
pick_udp_port "$S"
sv mapc-edge svmap -c -b "$S" -P "$PICKED_PORT" -p "$VD_PORT4" -t 0.05 "$VD_ADDR4"
vd_metrics "$T/metrics-edge.txt"
vd_stop edge
check "B: svmap finds nothing at $VD ($(found_devices map-edge) rows)" '(( $(found_devices map-edge) == 0 ))'
check "B: svmap -c (compact, no User-Agent) finds nothing ($(found_devices mapc-edge) rows)" \
	'(( $(found_devices mapc-edge) == 0 ))'
ext=$(found_extensions war-edge)
check "B: svwar enumerates nothing (got: ${ext:-nothing})" '[[ -z $ext ]]'
check "B: svwar heard nothing back" 'grep -q "timed out" "$T/sv-war-edge.out"'
pw=$(found_password crack-edge alice)
check "B: svcrack cracks nothing (got: ${pw:-nothing})" '[[ -z $pw ]]'
pw=$(found_password ping-edge alice)
check "B: svcrack's OPTIONS sip:$VD gets no answer (got: ${pw:-nothing})" \
	'[[ -z $pw ]] && grep -q "no server response" "$T/sv-ping-edge.out"'
n=$(k1_requests_from "$S")
check "B: the registrar never saw the scanner ($n requests from $S)" '(( n == 0 ))'
rule=$(m "$T/metrics-edge.txt" viaduct_drops_total 'reason="rule"')
check "B: /metrics counts the scanners' requests as drops_total{reason=\"rule\"} ($rule, want >= 5)" \
	'(( rule >= 5 ))'
replied=$(m1 "$T/metrics-edge.txt" viaduct_replied_messages_total)
received=$(m1 "$T/metrics-edge.txt" viaduct_received_messages_total)
check "B: viaduct answered nothing itself ($replied replies to $received messages)" \
	'(( received >= 5 && replied == 0 ))'

# ---- C: svwar with a User-Agent the rules do not know: rate_limit -------------------------
UA="Linphone/5.2.0 (belle-sip/5.2.0)"
cat >"$T/svwar_ua.py" <<PY
# svwar with another User-Agent: the same tool, makeRequest()'s useragent default changed.
import functools, sys
import sipvicious.svwar as svwar
svwar.makeRequest = functools.partial(svwar.makeRequest, useragent="$UA")
sys.argv = ["svwar"] + sys.argv[1:]
svwar.main()
PY
S=127.0.0.33
vd_start ua "$T/edge-guard.yaml"
pick_udp_port "$S"
sv war-ua svwar-ua -x "$S" -P "$PICKED_PORT" -p "$VD_PORT4" -d "$T/names300.txt" \
	--maximumtime 3 "$VD_ADDR4"
vd_metrics "$T/metrics-ua.txt"
vd_stop ua
# rate_limit's first rate: and burst: (the per-source ones; the REGISTER limit comes after)
rate=$(sed -n 's/^ *rate: *\([0-9]*\).*/\1/p' "$T/edge-guard.yaml" | head -n 1)
burst=$(sed -n 's/^ *burst: *\([0-9]*\).*/\1/p' "$T/edge-guard.yaml" | head -n 1)
n=$(k1_requests_from "$S")
check "C: with another User-Agent svwar gets past the scanner rules ($n REGISTERs reached the registrar; with its own, in B: 0)" \
	'(( n > 0 ))'
# what svwar sent: every datagram viaduct received but the registrar's responses (a message
# dropped before it is read is counted in received_messages_total, not by method)
rx=$(($(m1 "$T/metrics-ua.txt" viaduct_received_messages_total) -
	$(msum "$T/metrics-ua.txt" viaduct_received_responses_total)))
check "C: at most burst + 1 s of refill = $((burst + rate)) of svwar's REGISTERs reached the registrar ($n of the $rx it sent)" \
	'(( n > 0 && n <= burst + rate && rx > 250 ))'
ev=$(m "$T/metrics-ua.txt" viaduct_edge_events_total 'event="banned"')
check "C: rate_limit banned the scanner (edge_events_total{event=\"banned\"} = $ev)" '(( ev >= 1 ))'
lim=$(m "$T/metrics-ua.txt" viaduct_edge_events_total 'event="source-limited"')
dban=$(m "$T/metrics-ua.txt" viaduct_drops_total 'reason="banned"')
drl=$(m "$T/metrics-ua.txt" viaduct_drops_total 'reason="rate-limited"')
check "C: its messages over the limit were dropped (source-limited $lim, drops rate-limited $drl, banned $dban)" \
	'(( lim >= 1 && drl >= 1 && dban >= 1 ))'
ext=$(found_extensions war-ua)
check "C: svwar enumerates nothing: the known names come after the ban (got: ${ext:-nothing})" \
	'[[ -z $ext ]]'
il_check_members_parsed
checks_exit
