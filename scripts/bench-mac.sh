#!/usr/bin/env bash
# The acquirer with its security layer off and on (BENCHMARKS.md §8.1): a fresh acquirer
# (SQLite file, as scripts/bench-load.sh) per run, `posdrill load` for DURATION with 64
# terminals, once without MAC and once with --mac x9.19 (each terminal id signs on for
# working keys; every request MACed, the host verifies and MACs its answers, the load
# verifies them), PAIRS times, alternating. Prints throughput and the acquirer's CPU time
# per answer (utime+stime from /proc), which shared machines disturb far less.
#
#   scripts/bench-mac.sh            # environment: PAIRS (3), DURATION (8s), POSDRILL (binary),
#                                   # MAC (x9.19; also cup-ecb, iso9797-alg3-m1, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/posdrill-bench-mac.XXXXXX)
bin=${POSDRILL:-$out/posdrill}
[ -n "${POSDRILL:-}" ] || go build -o "$bin" ./cmd/posdrill
one() {
	"$bin" acquirer --listen 127.0.0.1:0 --admin 127.0.0.1:0 --db "$out/a.db" --seed 1 --log-level error ${1:+--mac $1} >"$out/acq.out" 2>"$out/acq.err" &
	local pid=$!
	for _ in $(seq 100); do grep -q iso= "$out/acq.out" 2>/dev/null && break; sleep 0.1; done
	local addr t0 t1 ans
	addr=$(sed -n 's/.*iso=\([0-9.:]*\).*/\1/p' "$out/acq.out")
	t0=$(awk '{print $14+$15}' /proc/$pid/stat)
	"$bin" load --host "$addr" --terminals 64 --duration "${DURATION:-8s}" ${1:+--mac $1} >"$out/load.out" 2>&1
	t1=$(awk '{print $14+$15}' /proc/$pid/stat)
	ans=$(sed -n 's/.*(mean .*, \([0-9]*\) answers).*/\1/p' "$out/load.out")
	echo "mac=${1:-off} $(grep '^throughput' "$out/load.out" | cut -d'(' -f1) cpu_us_per_answer=$(( (t1 - t0) * 10000 / ans ))"
	kill -INT "$pid"; wait "$pid" 2>/dev/null || true
	rm -f "$out"/a.db*
}
for _ in $(seq "${PAIRS:-3}"); do one ""; one "${MAC:-x9.19}"; done
