#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# scaleout.sh: N viaduct instances behind ECMP/anycast must route identically with no shared
# state. Two instances run the same config file, each in a network namespace of its own that
# this test creates, holding the same addresses (viaduct 10.50.0.1, the client 10.50.0.9, three
# pool members 10.50.0.11-13): one anycast address, two sites. Both are fed the same 10,000
# corpus-derived messages (scaleout_feed.py) in the same order. Every forwarded message must be
# byte-identical between the two sites and reach the same member (branch included), and every
# local reply (To-tag included) the same.
#
# usage: scaleout.sh VIADUCT_BIN [MESSAGES]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034,SC2016 # lib.sh reads TEST_NAME; check() evals
TEST_NAME=scaleout
# shellcheck source=lib.sh
source "$HERE/lib.sh"
run_bounded 120 "$@"
VIADUCT_BIN=${1:?usage: $0 VIADUCT_BIN [MESSAGES]}
N=${2:-10000}
((EUID == 0)) || { log "SKIP: needs root (network namespaces)"; exit 77; }
command -v python3 >/dev/null || { log "SKIP: python3 missing"; exit 77; }
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E
R=$(printf '%04x%02x' $((RANDOM)) $(($$ % 256)))
NSS=(vdsa-$R vdsb-$R)
# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	local pid ns
	for pid in "${BG_PIDS[@]}"; do is_running "$pid" && { stop_pid "$pid" TERM 5 || true; }; done
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	(($1 == 0)) || { tail_log viaduct-a "$T/viaduct-a.log" 20; tail_log viaduct-b "$T/viaduct-b.log" 20; }
	return 0
}
cat >"$T/viaduct.yaml" <<EOF
workers: 2
listeners: [{ address: 10.50.0.1, port: 5060 }]
pool:
  name: pcscf
  hash: call-id
  members:
    - { host: 10.50.0.11, port: 5070 }
    - { host: 10.50.0.12, port: 5070 }
    - { host: 10.50.0.13, port: 5070, weight: 2 }
branch_key: "scale-out test: the same secret at every site"
# budgets are per second: the feed sends its 276 locally answered requests faster than a
# source's default reply budget refills, and how many pass would depend on timing
replies: { rate: 0 }
EOF
MEMBERS=(10.50.0.11:5070 10.50.0.12:5070 10.50.0.13:5070)
for i in 0 1; do
	ns=${NSS[$i]} site=$([[ $i == 0 ]] && echo a || echo b)
	ip netns add "$ns" || { log "SKIP: cannot create a network namespace"; exit 77; }
	ip netns exec "$ns" ip link set lo up
	for a in 10.50.0.1 10.50.0.9 10.50.0.11 10.50.0.12 10.50.0.13; do
		ip netns exec "$ns" ip addr add "$a/32" dev lo
	done
	start_bg_merged "viaduct-$site" ip netns exec "$ns" "$VIADUCT_BIN" -c "$T/viaduct.yaml"
	wait_for_log "$T/viaduct-$site.log" 'viaduct: ready' 15 "${BG_PID[viaduct-$site]}" ||
		die "viaduct ($site) did not start"
	mkdir -p "$T/$site"
done
for i in 0 1; do
	site=$([[ $i == 0 ]] && echo a || echo b)
	out=$(ip netns exec "${NSS[$i]}" python3 "$HERE/scaleout_feed.py" "$HERE/../corpus/good" \
		"$N" 10.50.0.9:5060 10.50.0.1:5060 "$T/$site" "${MEMBERS[@]}")
	log "site $site: $out"
	declare "OUT_$site=$out"
done
for site in a b; do stop_pid "${BG_PID[viaduct-$site]}" TERM 10 || true; done
STATS_A=$(grep -E '^stats total' "$T/viaduct-a.log" | tail -n 1)
STATS_B=$(grep -E '^stats total' "$T/viaduct-b.log" | tail -n 1)
log "a: $STATS_A"
log "b: $STATS_B"
check "both sites fed $N and received as much ($OUT_a / $OUT_b)" '[[ $OUT_a == "$OUT_b" && $OUT_a == "fed $N, received "* ]]'
for f in "$T"/a/*.bin; do
	name=${f##*/}
	check "$name: byte-identical at both sites ($(stat -c %s "$f") bytes)" \
		'[[ -s $f ]] && cmp -s "$f" "$T/b/$name"'
done
fwd=$(field tx "$STATS_A") rep=$(field replies "$STATS_A")
check "the feed exercised forwarding and local replies (tx=$fwd replies=$rep)" '(( fwd > N / 2 && rep > 0 ))'
check "both sites counted the same (a: tx=$fwd, b: tx=$(field tx "$STATS_B"))" \
	'[[ "$(sed "s/ rx_bytes=[0-9]*//" <<<"$STATS_A")" == "$(sed "s/ rx_bytes=[0-9]*//" <<<"$STATS_B")" ]]'
checks_exit
