#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# e2e.sh: end-to-end test of viaduct with sipp (UAC -> viaduct -> 2 x UAS).
#
# usage: e2e.sh VIADUCT_BIN SCENARIO FAMILY [CALLS]
#   SCENARIO  invite   sipp built-in uac/uas (INVITE, 180, 200, ACK, BYE, 200)
#             register sipp/register_{uac,uas}.xml (REGISTER, 401, REGISTER
#                      with Digest Authorization, 200 OK + Contact + Expires)
#   FAMILY    ipv4 (127.0.0.1) or ipv6 (::1)
#   CALLS     number of calls (default 1000)
# environment:
#   E2E_DIRECT=1   no viaduct: the UAC talks straight to UAS 1 (VIADUCT_BIN is
#                  ignored; checks b and d are skipped).  Proves that the
#                  scenarios, the trace parsing and the checks work on their own.
#   E2E_RATE (200 calls/s), E2E_LIMIT (100 simultaneous calls),
#   E2E_TIMEOUT (170 s for the whole script), E2E_KEEP=1 keeps the temp dir.
# exit: 0 all checks passed, 1 a check failed, 2 usage, 77 skipped (no sipp,
#       or no ::1 for ipv6).
#
# Steps, and what each check proves:
#   1. Pick free UDP ports on the family's loopback (below the ephemeral
#      range, so no port-0 socket takes them meanwhile).
#   2. Start two sipp UAS in the background (PIDs recorded, bound by timeout),
#      each tracing every message (-trace_msg) to its own file; wait until
#      their ports are bound (ss), not a fixed sleep.
#   3. Write a viaduct config (2 workers, one listener, pool = the 2 UAS,
#      hash call-id); it must pass --check-config; start viaduct and wait for
#      "viaduct: ready" and its bound listener.
#   4. Run the sipp UAC against the viaduct listener (-m CALLS -r RATE -l
#      LIMIT), bounded by timeout and by sipp's own -timeout, failing calls
#      fast (abortunexp, -recv_timeout) instead of retransmitting for 32 s.
#   5. Stop viaduct with SIGTERM (its PID), then the UAS, so logs are flushed.
#   Checks (each prints PASS/FAIL with the numbers):
#   a. the UAC exited 0 (sipp's "all calls succeeded") AND its final
#      statistics, both the -trace_stat CSV and the -trace_screen dump, show
#      CALLS successful and 0 failed calls: the proxy carried every request
#      and every response of every call, in both directions.
#   b. each UAS saw >= 10% of the Call-IDs: the pool balances, it does not
#      send everything to one member.
#   c. the Call-ID sets of the two UAS are disjoint, together hold all CALLS
#      calls, and each Call-ID is complete where it landed (INVITE, ACK and BYE;
#      or both REGISTERs): the hash is per call, in-dialog requests (ACK, BYE,
#      the second REGISTER with a new branch and CSeq) follow the INVITE or
#      first REGISTER.  Also every request a UAS got has viaduct's own Via on
#      top (SIP/2.0/UDP <listener>;branch=z9hG4bK...) above the UAC's Via.
#   d. viaduct exits 0 on SIGTERM and its "stats total" line shows rx>0,
#      tx>0 and drops=0: clean shutdown, and nothing was dropped (which the
#      UAC's retransmissions could otherwise hide).
#   e. exit 0 only if all of the above passed; a one-line summary
#      "e2e SCENARIO FAMILY: CALLS calls, N failed, uas1=X uas2=Y calls".
#   On failure the tails of the logs (viaduct, UAC errors and statistics,
#   UAS errors) are printed.

# shellcheck source-path=SCRIPTDIR
set -euo pipefail

TEST_NAME=e2e
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
	echo "usage: $0 VIADUCT_BIN {invite|register} {ipv4|ipv6} [CALLS]" >&2
	exit 2
}

(($# >= 3 && $# <= 4)) || usage
run_bounded "${E2E_TIMEOUT:-170}" "$@"

VIADUCT_BIN=$1
SCENARIO=$2
FAMILY=$3
CALLS=${4:-1000}
RATE=${E2E_RATE:-200}
LIMIT=${E2E_LIMIT:-100}
DIRECT=${E2E_DIRECT:-0}
[[ $DIRECT == 0 || $DIRECT == 1 ]] || DIRECT=1
# shellcheck disable=SC2034 # used by lib.sh's log
TEST_NAME="e2e $SCENARIO $FAMILY"

[[ $CALLS =~ ^[1-9][0-9]*$ ]] || usage
[[ $RATE =~ ^[1-9][0-9]*$ && $LIMIT =~ ^[1-9][0-9]*$ ]] ||
	die "E2E_RATE and E2E_LIMIT must be positive integers"

case $SCENARIO in
invite)
	UAS_SCN=(-sn uas)
	UAC_SCN=(-sn uac)
	;;
register)
	UAS_SCN=(-sf "$HERE/sipp/register_uas.xml")
	UAC_SCN=(-sf "$HERE/sipp/register_uac.xml")
	;;
*) usage ;;
esac

case $FAMILY in
ipv4)
	ADDR=127.0.0.1
	;;
ipv6)
	ADDR=::1
	if ! grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
		log "SKIP: no IPv6 loopback (::1) on this machine"
		exit 77
	fi
	;;
*) usage ;;
esac

if ! command -v sipp >/dev/null; then
	log "SKIP: sipp not installed (Debian package sip-tester)"
	exit 77
fi
if ((DIRECT == 0)); then
	[[ -x $VIADUCT_BIN ]] || die "viaduct binary '$VIADUCT_BIN' not found or not executable"
fi

install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E
FAILURES=0
SUMMARY_FAILED="?"
X=0
Y=0

pass() { log "PASS: $*"; }
fail() {
	log "FAIL: $*"
	FAILURES=$((FAILURES + 1))
}

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	local rc=$1 f
	((rc == 0)) && return 0
	log "failed (exit $rc)${E2E_KEEP:+; logs kept in $T}${E2E_KEEP:-; E2E_KEEP=1 keeps the logs}"
	tail_log "viaduct output" "$T/viaduct.log" 60
	tail_log "sipp UAC errors" "$T/uac.errors" 40 3000
	if [[ -s $T/uac.screen ]]; then
		printf '%s\n' "----- sipp UAC final statistics -----" >&2
		grep -E 'Successful call|Failed call|Retrans|Timeout|Unexpected|<-----|----->' \
			"$T/uac.screen" | tail -n 24 >&2 || true
	fi
	tail_log "sipp UAC stderr" "$T/uac.err" 20
	tail_log "sipp UAC message trace" "$T/uac.msg" 30 3000
	for f in uas1 uas2; do
		tail_log "sipp $f errors" "$T/$f.errors" 20 2000
		tail_log "sipp $f stderr" "$T/$f.err" 20
	done
}

# --- 1. ports --------------------------------------------------------------
pick_udp_port "$ADDR"
UAS1_PORT=$PICKED_PORT
pick_udp_port "$ADDR"
UAS2_PORT=$PICKED_PORT
pick_udp_port "$ADDR"
PROXY_PORT=$PICKED_PORT
pick_udp_port "$ADDR"
UAC_PORT=$PICKED_PORT

# Time budget, all inside E2E_TIMEOUT: the UAC needs CALLS/RATE seconds plus
# the call duration; 60 s of slack covers a slow machine.
UAC_SECS=$((CALLS / RATE + 60))
UAS_SECS=$((UAC_SECS + 30))

# --- 2. the two UAS ----------------------------------------------------------
# -nd: no default behaviour, so a UAS never sends BYE/CANCEL on its own.
for n in 1 2; do
	port_var=UAS${n}_PORT
	start_bg "uas$n" timeout -k 5 "$UAS_SECS" \
		sipp "${UAS_SCN[@]}" -i "$ADDR" -p "${!port_var}" -nd \
		-trace_msg -message_file "$T/uas$n.msg" \
		-trace_err -error_file "$T/uas$n.errors"
done
wait_for_udp_port "$ADDR" "$UAS1_PORT" 10 "${BG_PID[uas1]}" || die "UAS 1 did not start"
wait_for_udp_port "$ADDR" "$UAS2_PORT" 10 "${BG_PID[uas2]}" || die "UAS 2 did not start"

# --- 3. viaduct --------------------------------------------------------------
if ((DIRECT == 0)); then
	cat >"$T/viaduct.yaml" <<EOF
# viaduct configuration written by $0
workers: 2
listeners:
  - address: "$ADDR"
    port: $PROXY_PORT
pool:
  name: e2e
  hash: call-id
  members:
    - host: "$ADDR"
      port: $UAS1_PORT
      weight: 1
    - host: "$ADDR"
      port: $UAS2_PORT
      weight: 1
EOF
	start_viaduct_checked "$T/viaduct.yaml"
	wait_for_udp_port "$ADDR" "$PROXY_PORT" 5 "$VIADUCT_PID" ||
		die "viaduct says ready but does not listen on udp $(hostport "$ADDR" "$PROXY_PORT")"
	TARGET=$(hostport "$ADDR" "$PROXY_PORT")
else
	log "E2E_DIRECT=1: no viaduct, the UAC calls UAS 1 directly"
	TARGET=$(hostport "$ADDR" "$UAS1_PORT")
fi

# --- 4. the UAC --------------------------------------------------------------
# -default_behaviors abortunexp: an unexpected message fails the call at once
# (plain -nd would keep the call and retransmit for 32 s), without sending a
# BYE/CANCEL of its own.  -recv_timeout: a lost message fails the call after
# 10 s.  -timeout/-timeout_error: sipp stops by itself, statistics written,
# before the outer timeout has to kill it.
UAC_CMD=(sipp "${UAC_SCN[@]}" "$TARGET" -i "$ADDR" -p "$UAC_PORT"
	-m "$CALLS" -r "$RATE" -l "$LIMIT"
	-default_behaviors abortunexp -recv_timeout 10000
	-timeout "${UAC_SECS}s" -timeout_error
	-trace_screen -screen_file "$T/uac.screen"
	-trace_stat -stf "$T/uac.csv" -fd 1
	-trace_err -error_file "$T/uac.errors"
	-trace_msg -message_file "$T/uac.msg")
start_bg uac timeout -k 5 $((UAC_SECS + 10)) "${UAC_CMD[@]}"
wait_pid "${BG_PID[uac]}" $((UAC_SECS + 20)) || die "sipp UAC still running after $((UAC_SECS + 20)) s"
UAC_RC=$WAIT_RC
log "sipp UAC exited with status $UAC_RC"

# --- 5. stop viaduct, then the UAS -------------------------------------------
if ((DIRECT == 0)); then
	VIADUCT_KILLED=0
	stop_pid "$VIADUCT_PID" TERM 10 || VIADUCT_KILLED=1
	VIADUCT_RC=$WAIT_RC
fi
for n in 1 2; do
	stop_pid "${BG_PID[uas$n]}" TERM 5 || log "UAS $n needed SIGKILL"
done

# --- a. UAC result -----------------------------------------------------------
# csv_last FILE COLUMN: value of COLUMN in the last row of sipp's stat CSV.
csv_last() {
	awk -F';' -v col="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		{ last = $0 }
		END { if (!c || last == "") exit 1; split(last, f, ";"); print f[c] }' "$1"
}
# screen_cumul FILE LABEL: cumulative column of the last "LABEL | ... | N" row.
screen_cumul() {
	awk -F'|' -v label="$2" '
		{ l = $1; gsub(/^[ \t]+|[ \t]+$/, "", l) }
		l == label { v = $3; gsub(/[ \t]/, "", v) }
		END { if (v == "") exit 1; print v }' "$1"
}

CSV_OK=$(csv_last "$T/uac.csv" 'SuccessfulCall(C)' 2>/dev/null) || CSV_OK=missing
CSV_FAILED=$(csv_last "$T/uac.csv" 'FailedCall(C)' 2>/dev/null) || CSV_FAILED=missing
CSV_RETRANS=$(csv_last "$T/uac.csv" 'Retransmissions(C)' 2>/dev/null) || CSV_RETRANS='?'
SCR_OK=$(screen_cumul "$T/uac.screen" 'Successful call' 2>/dev/null) || SCR_OK=missing
SCR_FAILED=$(screen_cumul "$T/uac.screen" 'Failed call' 2>/dev/null) || SCR_FAILED=missing
if [[ $CSV_FAILED =~ ^[0-9]+$ ]]; then
	SUMMARY_FAILED=$CSV_FAILED
elif [[ $SCR_FAILED =~ ^[0-9]+$ ]]; then
	SUMMARY_FAILED=$SCR_FAILED
fi

if [[ $UAC_RC == 0 ]]; then
	pass "a. sipp UAC exit status 0"
else
	case $UAC_RC in
	1) why="at least one call failed" ;;
	124) why="killed by timeout" ;;
	97) why="exit on internal command" ;;
	99) why="no call processed" ;;
	255 | 254) why="fatal error, see sipp stderr" ;;
	*) why="unexpected" ;;
	esac
	fail "a. sipp UAC exit status $UAC_RC ($why)"
fi
if [[ $CSV_OK == "$CALLS" && $CSV_FAILED == 0 ]]; then
	pass "a. stat CSV: $CSV_OK successful, $CSV_FAILED failed, $CSV_RETRANS retransmissions"
else
	fail "a. stat CSV: $CSV_OK successful, $CSV_FAILED failed (want $CALLS and 0)"
	if [[ -s $T/uac.csv ]]; then
		# name the failure counters that are not 0
		awk -F';' 'NR == 1 { split($0, h, ";"); next } { last = $0 }
			END { n = split(last, f, ";")
				for (i = 1; i <= n; i++)
					if (h[i] ~ /^Failed.*\(C\)$/ && f[i] != 0) printf "  %s=%s\n", h[i], f[i] }' \
			"$T/uac.csv" >&2
	fi
fi
if [[ $SCR_OK == "$CALLS" && $SCR_FAILED == 0 ]]; then
	pass "a. screen dump: $SCR_OK successful, $SCR_FAILED failed"
else
	fail "a. screen dump: $SCR_OK successful, $SCR_FAILED failed (want $CALLS and 0)"
fi

# --- c. parse what each UAS received ----------------------------------------
# One line per request received: Call-ID, method, CSeq number, top Via value,
# number of Via values.  sipp's -trace_msg file holds blocks:
#   ----------------------------------------------- 2026-01-01 10:00:00.000
#   UDP message received [475] bytes :
#   <blank>
#   INVITE sip:... SIP/2.0
#   headers ... <blank> body
# (sent messages are logged too, as "UDP message sent (N bytes):").
parse_uas_log() {
	awk -v OFS='\t' '
		function flush() {
			if (inmsg && isreq) print cid, method, cseq, topvia, nvia
			inmsg = 0
		}
		function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
		{ sub(/\r$/, "") }
		/^-----------+ / || /^[A-Z]+ message sent/ { flush(); next }
		/^[A-Z]+ message received/ {
			flush(); inmsg = 1; state = 0; isreq = 0
			cid = "-"; method = "-"; cseq = "-"; topvia = "-"; nvia = 0
			next
		}
		!inmsg { next }
		state == 0 {
			if ($0 == "") next
			state = 1
			if ($0 !~ /^SIP\/2\.0 /) { isreq = 1; method = $1 }
			next
		}
		state == 1 {
			if ($0 == "") { state = 2; next }
			name = tolower($0); sub(/[ \t]*:.*/, "", name)
			val = $0; sub(/^[^:]*:[ \t]*/, "", val); val = trim(val)
			if (name == "call-id" || name == "i") cid = val
			else if (name == "cseq") { split(val, w, /[ \t]+/); cseq = w[1] }
			else if (name == "via" || name == "v") {
				n = split(val, vv, ",")
				if (nvia == 0) topvia = trim(vv[1])
				nvia += n
			}
		}
		END { flush() }' "$1"
}

for n in 1 2; do
	if [[ -f $T/uas$n.msg ]]; then
		parse_uas_log "$T/uas$n.msg" >"$T/uas$n.req"
	else
		: >"$T/uas$n.req"
	fi
	cut -f1 "$T/uas$n.req" | LC_ALL=C sort -u >"$T/uas$n.ids"
	log "UAS $n received $(wc -l <"$T/uas$n.req") requests with $(wc -l <"$T/uas$n.ids") Call-IDs"
done
X=$(wc -l <"$T/uas1.ids")
Y=$(wc -l <"$T/uas2.ids")

# c1: disjoint
LC_ALL=C comm -12 "$T/uas1.ids" "$T/uas2.ids" >"$T/both.ids"
if [[ -s $T/both.ids ]]; then
	fail "c. $(wc -l <"$T/both.ids") Call-IDs reached BOTH UAS (not sticky), e.g. $(head -n 3 "$T/both.ids" | tr '\n' ' ')"
else
	pass "c. Call-ID sets of the two UAS are disjoint"
fi
# c2: every call arrived somewhere
ALL=$(LC_ALL=C sort -u "$T/uas1.ids" "$T/uas2.ids" | wc -l)
if ((ALL == CALLS)); then
	pass "c. the UAS saw all $CALLS Call-IDs ($X + $Y)"
else
	fail "c. the UAS saw $ALL distinct Call-IDs ($X + $Y), want $CALLS"
fi
# c3: each call complete at the UAS that has it (retransmissions, i.e. the
# same method and CSeq again, count once)
case $SCENARIO in
invite) want="INVITE, ACK and BYE" ;;
register) want="two REGISTERs (distinct CSeq)" ;;
esac
for n in 1 2; do
	awk -F'\t' -v scn="$SCENARIO" '
		{
			ids[$1] = 1
			k = $1 SUBSEP $2 SUBSEP $3
			if (!(k in seen)) { seen[k] = 1; cnt[$1 SUBSEP $2]++ }
		}
		END {
			for (id in ids) {
				if (scn == "invite")
					ok = cnt[id SUBSEP "INVITE"] && cnt[id SUBSEP "ACK"] && cnt[id SUBSEP "BYE"]
				else
					ok = cnt[id SUBSEP "REGISTER"] >= 2
				if (!ok) print id
			}
		}' "$T/uas$n.req" >"$T/uas$n.incomplete"
	if [[ -s $T/uas$n.incomplete ]]; then
		fail "c. UAS $n: $(wc -l <"$T/uas$n.incomplete") calls without $want there, e.g. $(head -n 3 "$T/uas$n.incomplete" | tr '\n' ' ')"
	else
		pass "c. UAS $n: every call has $want"
	fi
done
# c4: viaduct's Via on top of every request a UAS received
if ((DIRECT == 0)); then
	LISTEN_HP=$(hostport "$ADDR" "$PROXY_PORT")
	for n in 1 2; do
		awk -F'\t' -v hp="$LISTEN_HP" '
			{
				v = $4; ok = 1
				proto = v; sub(/[ \t].*/, "", proto)
				sentby = v; sub(/^[^ \t]+[ \t]+/, "", sentby); sub(/[ \t]*;.*/, "", sentby)
				if (toupper(proto) != "SIP/2.0/UDP" || sentby != hp) ok = 0
				if (v !~ /;[ \t]*branch=z9hG4bK/) ok = 0
				if ($5 < 2) ok = 0
				if (!ok) { bad++; if (!ex) ex = $2 " " $1 ": top Via \"" v "\", " $5 " Via value(s)" }
			}
			END { if (bad) { print bad " requests, e.g. " ex; exit 1 } }' \
			"$T/uas$n.req" >"$T/uas$n.badvia" ||
			fail "c. UAS $n: requests without viaduct's Via (SIP/2.0/UDP $LISTEN_HP;branch=z9hG4bK...) on top of the UAC's: $(cat "$T/uas$n.badvia")"
		[[ -s $T/uas$n.badvia ]] || pass "c. UAS $n: every request has viaduct's Via $LISTEN_HP on top"
	done
fi

# --- b. both members used ----------------------------------------------------
if ((DIRECT == 0)); then
	if ((X * 10 >= CALLS && Y * 10 >= CALLS)); then
		pass "b. both UAS got >= 10% of the calls (uas1=$X uas2=$Y)"
	else
		fail "b. unbalanced: uas1=$X uas2=$Y calls, each should get >= 10% of $CALLS"
	fi
else
	log "SKIP: b. balance (E2E_DIRECT)"
fi

# --- d. viaduct exit and stats -----------------------------------------------
if ((DIRECT == 0)); then
	if ((VIADUCT_KILLED)); then
		fail "d. viaduct did not exit within 10 s of SIGTERM (killed)"
	elif [[ $VIADUCT_RC == 0 ]]; then
		pass "d. viaduct exited 0 on SIGTERM"
	else
		fail "d. viaduct exited with status $VIADUCT_RC on SIGTERM"
	fi
	STATS=$(grep -E '(^|[^[:alnum:]_])stats total' "$T/viaduct.log" | tail -n 1 || true)
	if [[ -z $STATS ]]; then
		fail "d. no 'stats total' line in viaduct's output"
	else
		log "viaduct: $STATS"
		stat_val() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' <<<"$STATS"; }
		RX=$(stat_val rx)
		TX=$(stat_val tx)
		REPLIES=$(stat_val replies)
		DROPS=$(stat_val drops)
		if [[ $RX =~ ^[0-9]+$ && $TX =~ ^[0-9]+$ && $DROPS =~ ^[0-9]+$ ]] &&
			((RX > 0 && TX > 0 && DROPS == 0)); then
			pass "d. stats total: rx=$RX tx=$TX replies=${REPLIES:-?} drops=$DROPS"
		else
			fail "d. stats total: want rx>0 tx>0 drops=0, got rx=${RX:-?} tx=${TX:-?} drops=${DROPS:-?}"
		fi
		if [[ $RX =~ ^[0-9]+$ && $TX =~ ^[0-9]+$ && $REPLIES =~ ^[0-9]+$ && $DROPS =~ ^[0-9]+$ ]] &&
			((RX != TX + REPLIES + DROPS)); then
			log "note: rx ($RX) != tx + replies + drops ($((TX + REPLIES + DROPS)))"
		fi
	fi
else
	log "SKIP: d. viaduct exit and stats (E2E_DIRECT)"
fi

# --- e. verdict ----------------------------------------------------------------
echo "e2e $SCENARIO $FAMILY: $CALLS calls, $SUMMARY_FAILED failed, uas1=$X uas2=$Y calls$( ((DIRECT)) && echo " (direct)")"
if ((FAILURES > 0)); then
	log "$FAILURES check(s) failed"
	exit 1
fi
exit 0
