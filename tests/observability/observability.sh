#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# observability.sh VIADUCT_BIN VIADUCTCTL_BIN SOURCE_ROOT: contrib/grafana/viaduct.json and
# contrib/prometheus/viaduct-alerts.yml against the real thing.
#
# 1. promtool check rules on the alerts; promtool test rules on alerts_test.yml (each alert
#    fires when it should, and none on a healthy instance); the PromQL tokenizer's self-test.
# 2. A real viaduct in a network namespace of its own: a UDP and a TCP listener, pool pcscf
#    (a member answering 200, one answering 503 Retry-After: 1, one nobody listens on) and
#    pool spare (one member nobody listens on), health probes, the admin API; sipp sends
#    MESSAGE transactions over UDP and TCP to pcscf and to spare (503 from viaduct: nobody
#    up). Its /metrics then has every family with labels (methods, classes, codes, reasons,
#    members, workers); check_queries.py check: every metric name, label and literal label
#    value of the dashboard's queries and variables, of the alert rules and of the unit
#    tests' series is one that scrape has; the dashboard is valid JSON, every panel has the
#    datasource variable and targets. Mutated copies (a misspelled metric in the dashboard,
#    a misspelled drop reason in the rules) must fail that check.
# 3. A real Prometheus scrapes that viaduct every second with the alert rules loaded:
#    every dashboard query and rule expression evaluates without error, those without a
#    comparison return series (the members' name join included), every legend label is
#    there, every rule is healthy; ViaductMemberDown is pending for the two dead members,
#    ViaductPoolEmpty for spare and not for pcscf, ViaductDown for none; a config with an
#    unknown key is refused and ViaductReloadFailed fires; once viaduct is stopped,
#    ViaductDown is pending.
# promtool and prometheus come from Debian's prometheus package, sipp from sip-tester
# (scripts/install-deps.sh); without them: exit 77. Every process is started and stopped by
# PID; every wait is a bounded poll.
# shellcheck disable=SC2016 # check's expressions are single-quoted on purpose: check evals them
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$HERE/../integration/lib.sh"
# shellcheck disable=SC2034 # lib.sh's start_viaduct_checked runs it
VIADUCT_BIN=$1
CTL=$2
ROOT=$3
for tool in promtool prometheus sipp python3 unshare; do
	command -v "$tool" >/dev/null ||
		{ log "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done
[[ $(id -u) == 0 ]] || { log "SKIP: needs root for a network namespace"; exit 77; }
in_private_netns "$@"
run_bounded 150 "$@"
install_cleanup_trap
make_tmpdir

DASH=$ROOT/contrib/grafana/viaduct.json
RULES=$ROOT/contrib/prometheus/viaduct-alerts.yml
TESTS=$HERE/alerts_test.yml
CHECK=$HERE/check_queries.py
SIPP_DIR=$ROOT/tests/integration/sipp
A=127.0.0.1

# ---- 1. static checks ----
check "promtool check rules contrib/prometheus/viaduct-alerts.yml" \
	'promtool check rules "$RULES" >"$TMPDIR_E2E/check-rules.log" 2>&1'
check "promtool test rules alerts_test.yml: every alert fires when it should, none when healthy" \
	'promtool test rules "$TESTS" >"$TMPDIR_E2E/test-rules.log" 2>&1'
check "the PromQL tokenizer's self-test" 'python3 "$CHECK" self-test >&2'
if ((CHECK_FAILED)); then
	tail_log check-rules "$TMPDIR_E2E/check-rules.log"
	tail_log test-rules "$TMPDIR_E2E/test-rules.log" 80 12000
fi

# ---- 2. a real viaduct with labelled series ----
pick_udp_port $A; PROXY=$PICKED_PORT
pick_udp_port $A; GOOD=$PICKED_PORT
pick_udp_port $A; BUSY=$PICKED_PORT
pick_udp_port $A; DEAD=$PICKED_PORT
pick_udp_port $A; DEAD2=$PICKED_PORT
pick_udp_port $A; ADMIN=$PICKED_PORT  # the namespace is ours: nothing else has its TCP ports
pick_udp_port $A; PROM=$PICKED_PORT

member() { # member NAME PORT CODE [RETRY_AFTER]
	start_bg "$1" python3 "$HERE/sip_member.py" $A "$2" "$3" ${4:+"$4"}
	wait_for_log "$TMPDIR_E2E/$1.out" "^ready $2" 10 "${BG_PID[$1]}" || die "$1 did not start"
}
member good "$GOOD" 200
member busy "$BUSY" 503 1

cat >"$TMPDIR_E2E/viaduct.yaml" <<YAML
workers: 2
listeners:
  - {address: $A, port: $PROXY}
  - {address: $A, port: $PROXY, transport: tcp}
pools:
  - name: pcscf
    members: [{host: $A, port: $GOOD}, {host: $A, port: $BUSY}, {host: $A, port: $DEAD}]
  - name: spare
    members: [{host: $A, port: $DEAD2}]
rules:
  - {name: spare, ruri: '^sip:spare@', route: spare}
health: {interval_ms: 200, timeout_ms: 150, down_after: 2, up_after: 1}
admin: {address: $A, port: $ADMIN}
YAML
start_viaduct_checked "$TMPDIR_E2E/viaduct.yaml"
VLOG=$TMPDIR_E2E/viaduct.log
# shellcheck disable=SC2153 # set by start_viaduct_checked
wait_for_log "$VLOG" 'admin API: listening' 10 "$VIADUCT_PID" || die "no admin API"
for m in "pcscf/$A:$DEAD" "spare/$A:$DEAD2"; do
	wait_for_log "$VLOG" "member $m down" 10 "$VIADUCT_PID" || die "$m not marked down"
done

cat >"$TMPDIR_E2E/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$RULES"]
scrape_configs:
  - job_name: viaduct
    static_configs: [{targets: ["$A:$ADMIN"]}]
YAML
start_bg_merged prometheus prometheus --config.file="$TMPDIR_E2E/prometheus.yml" \
	--storage.tsdb.path="$TMPDIR_E2E/prometheus-data" --web.listen-address="$A:$PROM"
PROM_PID=${BG_PID[prometheus]}
PURL=http://$A:$PROM
python3 "$CHECK" wait "$PURL" 30 'viaduct_snapshot_version{job="viaduct"}' ||
	{ tail_log prometheus "$TMPDIR_E2E/prometheus.log"; die "Prometheus did not scrape viaduct"; }

# MESSAGE transactions: N over UDP and N over TCP to pcscf, N to spare
N=100
transactions() { # NAME N SERVICE [sipp options]
	local name=$1 n=$2 service=$3
	shift 3
	pick_udp_port $A
	start_bg "$name" sipp -sf "$SIPP_DIR/message_uac.xml" "$A:$PROXY" -i $A -p "$PICKED_PORT" \
		-s "$service" -m "$n" -r 100 -nostdin -recv_timeout 2000 -trace_stat \
		-stf "$TMPDIR_E2E/$name.csv" -fd 1 "$@"
	wait_pid "${BG_PID[$name]}" 60 || die "$name did not finish"
	log "$name: $(sipp_ok "$name") ok, $(sipp_failed "$name") failed"
}
transactions udp $N pcscf
transactions tcp $N pcscf -t t1
transactions spare $N spare
"$CTL" -a "$A:$ADMIN" metrics >"$TMPDIR_E2E/metrics.txt" || die "no /metrics"
M=$TMPDIR_E2E/metrics.txt
msgs=$(metric "$M" viaduct_received_requests_total 'method="MESSAGE"')
check "the scrape is valid Prometheus text" 'prom_valid "$M" viaduct_member_up'
check "viaduct received the $((3 * N)) MESSAGEs (${msgs:-none})" '(( ${msgs:-0} >= 3 * N ))'
check "the dead members are down, the others up" \
	'[[ $(grep -c "^viaduct_member_up{.*} 0$" "$M") == 2 &&
		$(grep -c "^viaduct_member_up{.*} 1$" "$M") == 2 ]]'
check "the 503 member's 5xx are counted (member_5xx_total)" \
	'(( $(metric "$M" viaduct_member_5xx_total "pool=\"0\",member=\"1\"") > 0 ))'
check "spare's requests got 503 from viaduct (replies_total)" \
	'(( $(metric "$M" viaduct_replies_total "code=\"503\"") >= N ))'
check "TCP connections were accepted (tcp_accepted_total)" \
	'(( $(grep "^viaduct_tcp_accepted_total{" "$M" | awk "{s += \$2} END {print s + 0}") > 0 ))'
check "every metric, label and value of the dashboard, the rules and their tests is exported" \
	'python3 "$CHECK" check "$M" "$DASH" "$RULES" "$TESTS" >&2 2>"$TMPDIR_E2E/check.err" ||
		{ cat "$TMPDIR_E2E/check.err" >&2; false; }'

# the check must bite: a misspelled metric, a misspelled drop reason
sed '0,/viaduct_drops_total/s//viaduct_drop_total/' "$DASH" >"$TMPDIR_E2E/bad-dash.json"
sed 's/ack-absorbed|not-sip/ack-absorbd|not-sip/' "$RULES" >"$TMPDIR_E2E/bad-rules.yml"
bad() { # bad DASHBOARD RULES WANT: the check fails, saying WANT
	! python3 "$CHECK" check "$M" "$1" "$2" "$TESTS" >/dev/null 2>"$TMPDIR_E2E/bad.err" &&
		grep -qF -- "$3" "$TMPDIR_E2E/bad.err"
}
check "a dashboard querying viaduct_drop_total fails the check" \
	'bad "$TMPDIR_E2E/bad-dash.json" "$RULES" "viaduct_drop_total is not a metric viaduct exports"'
check "rules excluding reason ack-absorbd fail the check" \
	'bad "$DASH" "$TMPDIR_E2E/bad-rules.yml" "ack-absorbd is no value of it"'

# ---- 3. a real Prometheus ----
total=$(awk '$1 == "viaduct_received_messages_total" {print $2}' "$M")
python3 "$CHECK" wait "$PURL" 20 "viaduct_received_messages_total{job=\"viaduct\"} >= $total" ||
	die "Prometheus did not scrape the traffic"
check "Prometheus evaluates every dashboard query and rule on the real series" \
	'python3 "$CHECK" live "$PURL" "$DASH" "$RULES" >&2 2>"$TMPDIR_E2E/live.err" ||
		{ cat "$TMPDIR_E2E/live.err" >&2; false; }'
check "alerts pending: MemberDown for both dead members, PoolEmpty for spare only, no ViaductDown" \
	'python3 "$CHECK" alerts "$PURL" 20 "+ViaductMemberDown:pool=pcscf,member=$A:$DEAD" \
		"+ViaductMemberDown:pool=spare,member=$A:$DEAD2" "+ViaductPoolEmpty:pool=spare" \
		"-ViaductPoolEmpty:pool=pcscf" "-ViaductDown" "-ViaductReloadFailed" >&2'
# a config with an unknown key: the reload (inotify) is refused and ViaductReloadFailed fires
printf '%s\n' 'no_such_key: 1' >>"$TMPDIR_E2E/viaduct.yaml"
wait_for_log "$VLOG" 'reload \(.*\) refused' 10 "$VIADUCT_PID" ||
	die "the bad config was not refused"
check "a refused reload: ViaductReloadFailed" \
	'python3 "$CHECK" alerts "$PURL" 20 "+ViaductReloadFailed:instance=$A:$ADMIN" >&2'
stop_pid "$VIADUCT_PID" TERM 10
check "viaduct exited 0" '[[ $WAIT_RC == 0 ]]'
check "viaduct stopped: ViaductDown pending for its instance" \
	'python3 "$CHECK" alerts "$PURL" 20 "+ViaductDown:instance=$A:$ADMIN" >&2'
stop_pid "$PROM_PID" TERM 10
check "prometheus exited 0" '[[ $WAIT_RC == 0 ]]'
if ((CHECK_FAILED)); then
	tail_log viaduct "$VLOG" 30
	tail_log prometheus "$TMPDIR_E2E/prometheus.log" 20
	checks_exit
fi
log "observability: the dashboard and the alert rules use only what viaduct exports;" \
	"promtool and a live Prometheus agree"
