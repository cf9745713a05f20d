#!/usr/bin/env bash
# bench/sim.sh - llmster-sim throughput and concurrency at --speed 0, on
# loopback only, bounded (each phase has a request count and the client a
# 120 s deadline). The simulator is pinned to one core (taskset) when
# available so the figure is "events per second on one core".
#   phase 1 throughput:  64 connections, 2000 streamed requests x 200 tokens
#   phase 2 concurrency: 1000 simultaneous streams x 400 tokens
# Prints one line per phase and the ratio against the 100,000 events/s goal.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DP_BIN_DIR:-build}/llmster-sim
[ -x "$BIN" ] || make --no-print-directory build/llmster-sim >/dev/null
mkdir -p build/bench
cc -std=c17 -O2 -Wall -Wextra -o build/bench/sim_load bench/sim_load.c
PIN=()
if command -v taskset >/dev/null; then PIN=(taskset -c 0); fi
LOG=$(mktemp)
"${PIN[@]}" "$BIN" --port 0 --speed 0 --gpus "H100:80GiB" --ram 512GiB 2>"$LOG" &
SIM=$!
trap 'kill $SIM 2>/dev/null; wait $SIM 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$LOG" && break; sleep 0.05; done
PORT=$(grep -o 'listening on http://[^ ]*' "$LOG" | sed 's/.*://')
MODEL=ibm/granite-4-micro
# one instance with enough parallel slots that nothing waits in a queue
curl -s -X POST "http://127.0.0.1:$PORT/__sim/lms/load" \
	-d "{\"modelKey\":\"$MODEL\",\"contextLength\":256,\"parallel\":1024}" >/dev/null
CPU="taskset core 0"; [ ${#PIN[@]} -eq 0 ] && CPU="unpinned"
echo "llmster-sim --speed 0 ($CPU)"
out=$(build/bench/sim_load "$PORT" 64 2000 "$MODEL" 200)
echo "throughput:  $out"
eps=$(sed 's/.*events_per_sec=\([0-9]*\).*/\1/' <<<"$out")
echo "throughput ratio vs 100000 events/s goal: $(awk -v e="$eps" 'BEGIN{printf "%.2f", e/100000}')"
out=$(build/bench/sim_load "$PORT" 1000 1000 "$MODEL" 400)
echo "concurrency: $out"
# phase 3: the same 1000 simultaneous streams at real speed (--speed 1): timers, not batches
kill $SIM 2>/dev/null; wait $SIM 2>/dev/null || true
"${PIN[@]}" "$BIN" --port 0 --speed 1 --gpus "H100:80GiB" --ram 512GiB 2>"$LOG" &
SIM=$!
for _ in $(seq 100); do grep -q 'listening on' "$LOG" && break; sleep 0.05; done
PORT=$(grep -o 'listening on http://[^ ]*' "$LOG" | sed 's/.*://')
curl -s -X POST "http://127.0.0.1:$PORT/__sim/lms/load" \
	-d "{\"modelKey\":\"$MODEL\",\"contextLength\":256,\"parallel\":1024}" >/dev/null
out=$(build/bench/sim_load "$PORT" 1000 1000 "$MODEL" 400)
echo "real speed:  $out (simulator RSS $(ps -o rss= -p $SIM | tr -d ' ') KiB)"
