#!/usr/bin/env bash
# The load measurements of BENCHMARKS.md, in one run: the canned baseline host and the
# acquirer (SQLite file, WAL, synchronous FULL), each at full speed (closed loop) and at
# half its maximum rate (open loop, for p99), then 10,000 idle connections held against the
# acquirer with its resident memory. Separate processes, loopback TCP.
#
#   scripts/bench-load.sh [OUTDIR]        # default OUTDIR: a new directory under /tmp
#
# Environment: TERMINALS (64), DURATION (20s), IDLE (10000), DB (postgres://... to measure
# the PostgreSQL store instead of a SQLite file), POSDRILL (a posdrill binary to use; built
# from this tree otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d /tmp/posdrill-bench.XXXXXX)}
mkdir -p "$out"
terminals=${TERMINALS:-64}
duration=${DURATION:-20s}
idle=${IDLE:-10000}
bin=${POSDRILL:-}
if [ -z "$bin" ]; then
	bin="$out/posdrill"
	go build -o "$bin" ./cmd/posdrill
fi
db=${DB:-$out/acquirer.db}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# Servers print their address on their first line: read it from the pipe (blocks until
# the server is listening; no polling).
rate_of() { sed -n 's/^throughput *\([0-9]*\) answers\/s.*/\1/p' "$1"; }

echo "== machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/summary.txt"

echo "== canned baseline" | tee -a "$out/summary.txt"
exec {canned_fd}< <(exec "$bin" canned --listen 127.0.0.1:0 2>"$out/canned.err")
canned_pid=$!
pids+=("$canned_pid")
read -r -u "$canned_fd" _ _ canned # "listening on ADDR"
"$bin" load --host "$canned" --terminals "$terminals" --duration "$duration" --seed 1 | tee "$out/canned-max.txt"
half=$(($(rate_of "$out/canned-max.txt") / 2))
"$bin" load --host "$canned" --terminals "$terminals" --duration "$duration" --seed 2 --rate "$half" | tee "$out/canned-half.txt"
kill -INT "$canned_pid"

echo "== acquirer --db $db" | tee -a "$out/summary.txt"
exec {acq_fd}< <(exec "$bin" acquirer --listen 127.0.0.1:0 --admin 127.0.0.1:0 --db "$db" --seed 1 \
	--log-level warn --max-conns $((idle + terminals + 100)) 2>"$out/acquirer.err")
acq_pid=$!
pids+=("$acq_pid")
read -r -u "$acq_fd" _ acq _ # "listening iso=ADDR admin=ADDR"
acq=${acq#iso=}
"$bin" load --host "$acq" --terminals "$terminals" --duration "$duration" --seed 1 | tee "$out/acquirer-max.txt"
half=$(($(rate_of "$out/acquirer-max.txt") / 2))
"$bin" load --host "$acq" --terminals "$terminals" --duration "$duration" --seed 2 --rate "$half" | tee "$out/acquirer-half.txt"

echo "== $idle idle connections to the acquirer" | tee -a "$out/summary.txt"
"$bin" load --host "$acq" --idle-conns "$idle" --pid "$acq_pid" | tee "$out/acquirer-idle.txt"
kill -INT "$acq_pid"

{
	echo "canned   max $(rate_of "$out/canned-max.txt")/s; half rate: $(grep -E '^latency' "$out/canned-half.txt")"
	echo "acquirer max $(rate_of "$out/acquirer-max.txt")/s; half rate: $(grep -E '^latency' "$out/acquirer-half.txt")"
	grep -E '^idle' "$out/acquirer-idle.txt"
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$out/summary.txt"
echo "bench-load: outputs in $out"
