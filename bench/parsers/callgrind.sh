#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Instructions per message of each parser of bench_parsers, under callgrind.
#
# Runs the bench twice with BENCH_ROUNDS=N1 and N2 passes over the corpus and takes, per parser,
# the difference of the inclusive instruction counts of its timed loop (run_viaduct, run_osip,
# run_sofia) divided by (N2 - N1) * messages: start-up, the untimed acceptance pass and first-call
# effects (lazy binding, the allocator growing its heap) are the same in both runs and cancel.
# Callgrind does not replace malloc (unlike memcheck), so glibc's malloc/free are counted.
#
# Usage: bench/parsers/callgrind.sh BUILD_DIR [CORPUS_DIR] [N1] [N2]
set -eu
build=${1:?usage: callgrind.sh BUILD_DIR [CORPUS_DIR] [N1] [N2]}
corpus=${2:-$(dirname "$0")/../../tests/corpus/good}
n1=${3:-100}
n2=${4:-600}
exe=$build/bench/parsers/bench_parsers
out=$(mktemp -d /tmp/bench-parsers-cg.XXXXXX)

for n in "$n1" "$n2"; do
	BENCH_ROUNDS=$n valgrind --tool=callgrind --callgrind-out-file="$out/cg.$n" \
		"$exe" "$corpus" >"$out/stdout.$n" 2>"$out/stderr.$n"
	callgrind_annotate --inclusive=yes --threshold=100 "$out/cg.$n" >"$out/incl.$n"
done
msgs=$(sed -n 's/^bench=parsers-fixed messages=\([0-9]*\).*/\1/p' "$out/stdout.$n2")

# inclusive Ir of a function in an annotate listing ("1,234 (5.6%)  file:run_osip [exe]")
ir() {
	awk -v f="$2" '$0 ~ (":" f "( |$)") { gsub(",", "", $1); print $1; exit }' "$1"
}

line="bench=parsers-callgrind messages=$msgs rounds=$n1,$n2"
for p in viaduct osip sofia; do
	a=$(ir "$out/incl.$n1" "run_$p")
	b=$(ir "$out/incl.$n2" "run_$p")
	per=$(( (b - a) / ((n2 - n1) * msgs) ))
	printf '%-8s %10d instructions/message\n' "$p" "$per"
	line="$line ${p}_ir=$per"
	eval "ir_$p=$per"
done
# shellcheck disable=SC2154 # set by the eval above
echo "ratio (instructions): osip/viaduct $(( ir_osip / ir_viaduct )).$(( ir_osip * 10 / ir_viaduct % 10 ))x, sofia/viaduct $(( ir_sofia / ir_viaduct )).$(( ir_sofia * 10 / ir_viaduct % 10 ))x"
echo "$line"
echo "callgrind files: $out (callgrind_annotate $out/cg.$n2 for the profile)"
