#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# fuzz.sh: a bounded libFuzzer run of one viaduct fuzz target, with the seeds and
# options of that target (tests/fuzz/README.md):
#
#   fuzz_proxy        the SIP corpus (tests/corpus/good, bad, rfc4475, captured)
#   fuzz_proxy_rules  the SIP corpus, tests/fuzz/seeds-proxy-rules/, large messages
#                     (30-64 kB, made by tests/fuzz/make_seeds.py), -max_len 65507
#                     (the largest UDP payload), its dictionary
#   fuzz_frame        the SIP corpus, tests/fuzz/seeds-frame/, -max_len 16384 (a
#                     stream over several buffers of every size but the largest:
#                     framing a stream read byte by byte costs its length squared)
#   fuzz_config       rules/*.yaml, tests/config/**.yaml, tests/fuzz/proxy_rules.yaml,
#                     tests/fuzz/seeds-config/, its dictionary, -max_len 16384
#
# usage: scripts/fuzz.sh FUZZ_BIN [SECONDS]      (SECONDS defaults to 60)
#
# The seeds are copied to a temporary directory (libFuzzer adds the inputs it
# finds there, so the repository is never modified), next to the target's TMPDIR;
# both are removed on exit.  A crashing, leaking, slow or out-of-memory input is
# written to <repo>/build-fuzz/artifacts/<target>-*; the script then says where
# it is, and exits non-zero.  Such an input must become a regression test.
# The full libFuzzer output is kept in <repo>/build-fuzz/<target>.log; the
# console gets it without the per-new-input lines, and a last line
# "fuzz: <target>: N executions in S s".
#
# exit: 0 no finding, 1 libFuzzer found a crash (or failed), 2 usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	echo "usage: $0 FUZZ_BIN [SECONDS]" >&2
	exit 2
}
(($# >= 1 && $# <= 2)) || usage
BIN=$1
SECS=${2:-60}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || usage
[[ $BIN == */* ]] || BIN=./$BIN
if [[ ! -f $BIN || ! -x $BIN ]]; then
	echo "fuzz: '$1' is not an executable fuzz target (build it first, see scripts/test.sh)" >&2
	exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
NAME=$(basename "$BIN")

ARTIFACTS=$ROOT/build-fuzz/artifacts/
LOG=$ROOT/build-fuzz/$NAME.log
mkdir -p "$ARTIFACTS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/viaduct-fuzz.XXXXXX")
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() { rm -rf -- "$WORK"; }
trap cleanup EXIT
CORPUS=$WORK/corpus
# the target's own temporary files (fuzz_config's sandbox) go with the rest, even when a
# crash leaves them behind
mkdir -p "$CORPUS" "$WORK/tmp"
export TMPDIR=$WORK/tmp

n_seeds=0
# seed PREFIX FILE...: copy each file in, named PREFIX-basename (a good and a bad
# file may share a name)
seed() {
	local prefix=$1 f
	shift
	for f in "$@"; do
		[[ -f $f ]] || continue
		cp -- "$f" "$CORPUS/$prefix-$(basename "$f")"
		n_seeds=$((n_seeds + 1))
	done
}
sip_corpus() {
	local kind
	for kind in good bad rfc4475 captured; do
		seed "$kind" "$ROOT"/tests/corpus/"$kind"/*.sip
	done
}
# large KIND...: tests/fuzz/make_seeds.py's large messages whose names start with KIND
large() {
	local tmp kind
	if ! command -v python3 >/dev/null; then
		echo "fuzz: WARNING: no python3, so no large seed messages" >&2
		return 0
	fi
	tmp=$WORK/large
	python3 "$ROOT/tests/fuzz/make_seeds.py" large "$tmp"
	for kind in "$@"; do
		seed gen "$tmp/$kind"*
	done
	rm -rf -- "$tmp"
}

opts=()
case $NAME in
fuzz_proxy)
	sip_corpus
	;;
fuzz_proxy_rules)
	sip_corpus
	seed rules "$ROOT"/tests/fuzz/seeds-proxy-rules/*
	large large-invite large-message large-stream
	opts=(-max_len=65507 -dict="$ROOT/tests/fuzz/fuzz_proxy_rules.dict")
	;;
fuzz_frame)
	sip_corpus
	seed frame "$ROOT"/tests/fuzz/seeds-frame/*
	opts=(-max_len=16384)
	;;
fuzz_config)
	seed rules "$ROOT"/rules/*.yaml
	seed config "$ROOT"/tests/config/*.yaml
	seed include "$ROOT"/tests/config/include/*.yaml "$ROOT"/tests/config/include/*/*.yaml
	seed fuzz "$ROOT"/tests/fuzz/proxy_rules.yaml "$ROOT"/tests/fuzz/seeds-config/*
	opts=(-max_len=16384 -dict="$ROOT/tests/fuzz/fuzz_config.dict")
	;;
*)
	echo "fuzz: WARNING: unknown target $NAME: seeded with the SIP corpus" >&2
	sip_corpus
	;;
esac
((n_seeds > 0)) || { echo "fuzz: no seed files for $NAME" >&2; exit 1; }

# UBSan only reports and carries on unless told to halt; make every finding a
# crash that libFuzzer records.  (ASan and LSan findings are fatal already.)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

echo "fuzz: $NAME for ${SECS}s, $n_seeds seed inputs, artifacts in $ARTIFACTS"
start=$SECONDS
rc=0
# -max_total_time bounds the run; timeout(1) is only a backstop should the
# target hang in a way libFuzzer's own -timeout does not catch (--foreground:
# the fuzzer stays in our process group, so Ctrl-C reaches it).
timeout --foreground --kill-after=10 $((SECS + 60)) \
	"$BIN" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
	"${opts[@]}" -artifact_prefix="$ARTIFACTS$NAME-" "$CORPUS" </dev/null >"$LOG" 2>&1 || rc=$?

# Console: everything but the thousands of "#N NEW/REDUCE" progress lines and
# the recommended dictionary.
awk '
	/^#[0-9]+[ \t]+(NEW|REDUCE)[ \t]/ { fresh++; next }
	/^###### Recommended dictionary/ { dict = 1; next }
	/^###### End of recommended dictionary/ { dict = 0; next }
	dict { next }
	{ print }
	END { if (fresh) printf "fuzz: (%d NEW/REDUCE progress lines omitted, see the full log)\n", fresh }
' "$LOG"
echo "fuzz: full libFuzzer output in $LOG"
execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$LOG" | tail -n 1)
echo "fuzz: $NAME: ${execs:-?} executions in $((SECONDS - start)) s"

mapfile -t found < <(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$LOG")
if ((rc == 0)) && ((${#found[@]} == 0)); then
	echo "fuzz: PASS: $NAME: no crash in $((SECONDS - start))s"
	exit 0
fi

echo "fuzz: FAIL: $NAME: libFuzzer exited with status $rc after $((SECONDS - start))s" >&2
((rc == 124 || rc == 137)) &&
	echo "fuzz: the fuzzer did not stop by itself and was killed by timeout(1)" >&2
if ((${#found[@]})); then
	for f in "${found[@]}"; do
		echo "fuzz: crashing input: $f" >&2
		echo "fuzz:   reproduce: UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $BIN '$f'" >&2
	done
	echo "fuzz: each crashing input must become a regression test: a SIP message goes into" >&2
	echo "fuzz: tests/corpus/bad/ (or good/) with its MANIFEST entry and a unit test; any other" >&2
	echo "fuzz: input into a unit test of its module (tests/fuzz/README.md). Then fix the bug." >&2
else
	echo "fuzz: no input was written; see $LOG" >&2
fi
exit 1
