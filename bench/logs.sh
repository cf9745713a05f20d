#!/usr/bin/env bash
# bench/logs.sh - the Console's log hub under load (issue 8, part 8):
# RATE log lines/s (default 5,000) from one `lms log stream` child through
# the hub to VIEWERS SSE viewers (default 100). Not a test: prints figures.
#
#   bench/logs.sh     (RATE=5000 VIEWERS=100 SECS=10 WARM=2 PAD=120 by default;
#                      DP_LOG_FLUSH_MS=0 turns the hub's coalescing off,
#                      BENCH_PIN=0 no CPU pinning, PERF=file perf record)
#
# The child is bench/fake_lms.c (LMS_BIN), which prints timestamped
# server.log NDJSON lines at RATE once a "go" file exists; the viewers are
# bench/logs_clients.c (one epoll thread, HTTP/1.0 raw event streams,
# Bearer token, source=server, backlog=0). The control plane (access log
# off) is pinned to CPU 0; the fake lms and the viewers to CPU 1, so the
# server's CPU time is its own. Reported:
#   - server CPU: (utime+stime) over the measured window / window length
#   - server memory: VmRSS idle, with the viewers connected, the maximum
#     sampled every 250 ms in the window, at the end (VmHWM is useless
#     here: the login's Argon2id hash alone peaks at ~64 MiB)
#   - lag child -> viewer: p50/p90/p99/max over every line every viewer
#     received in the window (CLOCK_REALTIME stamped by the child)
#   - delivery: lines per viewer per second, gaps (lines a viewer missed),
#     viewers dropped (closed)
# Loopback only; bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DP_BIN_DIR:-build}
RATE=${RATE:-5000}
VIEWERS=${VIEWERS:-100}
SECS=${SECS:-10}
WARM=${WARM:-2}
PAD=${PAD:-120}
for v in RATE VIEWERS SECS WARM PAD; do
	case ${!v} in ''|*[!0-9]*) echo "bench: $v must be a number" >&2; exit 1 ;; esac
done
[ -x "$BIN/daemonpulse" ] || make --no-print-directory "$BIN/daemonpulse" >/dev/null
[ -x "$BIN/llmster-sim" ] || make --no-print-directory "$BIN/llmster-sim" >/dev/null
mkdir -p build/bench
cc -std=c17 -O2 -Wall -Wextra -o build/bench/fake_lms bench/fake_lms.c
cc -std=c17 -O2 -Wall -Wextra -o build/bench/logs_clients bench/logs_clients.c
ulimit -n 4096 2>/dev/null || true

T=$(mktemp -d /tmp/dp-bench-logs-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] && { echo "kept $T"; return; }; rm -rf "$T"; }
trap cleanup EXIT INT TERM
wait_listen() { for _ in $(seq 200); do grep -q 'listening on' "$1" && break; sleep 0.05; done; grep -o 'listening on http://[^ ]*' "$1" | head -n1 | sed 's/.*://'; }

PIN0=() PIN1=() CPU1=-1
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN0=(taskset -c 0) PIN1=(taskset -c 1) CPU1=1; fi

"$BIN/llmster-sim" --port 0 --speed 0 2>"$T/sim.log" &
PIDS+=($!)
SP=$(wait_listen "$T/sim.log")
PW="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$BIN/daemonpulse" seed --db "$T/db" --username admin --password-stdin <<<"$PW" >/dev/null 2>&1
DAEMON_API_URL="http://127.0.0.1:$SP" DP_ACCESS_LOG=false DP_LOG_LEVEL=warn \
	LMS_BIN="$PWD/build/bench/fake_lms" FAKE_LMS_RATE="$RATE" FAKE_LMS_GO="$T/go" FAKE_LMS_PAD="$PAD" \
	FAKE_LMS_CPU="$CPU1" "${PIN0[@]}" "$BIN/daemonpulse" serve --port 0 --db "$T/db" --data-dir "$T/data" 2>"$T/cp.log" &
CP=$!
PIDS+=("$CP")
CPP=$(wait_listen "$T/cp.log")
BASE="http://127.0.0.1:$CPP"
curl -s -c "$T/jar" -H 'content-type: application/json' -H "origin: $BASE" \
	-d "{\"username\":\"admin\",\"password\":\"$PW\"}" "$BASE/api/auth/login" >/dev/null
TOKEN=$(curl -s -b "$T/jar" -H 'content-type: application/json' -H "origin: $BASE" -d '{"name":"bench"}' \
	"$BASE/api/tokens" | sed 's/.*"secret":"\([^"]*\)".*/\1/')
TID=$(curl -s -H "authorization: Bearer $TOKEN" "$BASE/api/targets" | sed 's/.*"targets":\[{"id":\([0-9]*\).*/\1/')

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$CP/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$CP/stat"; }
HZ=$(getconf CLK_TCK)
RSS_IDLE=$(rss)

"${PIN1[@]}" build/bench/logs_clients "$CPP" "$VIEWERS" "$TOKEN" "$TID" "$WARM" "$SECS" >"$T/clients.out" 2>&1 &
CL=$!
PIDS+=("$CL")
for _ in $(seq 600); do grep -q '^ready' "$T/clients.out" && break; sleep 0.1; done
grep -q '^ready' "$T/clients.out" || { echo "bench: viewers did not connect"; cat "$T/clients.out"; exit 1; }
RSS_CONN=$(rss)
CHILDREN=$(pgrep -c -P "$CP" || true)
touch "$T/go"
sleep "$WARM"
C0=$(cpu_ticks)
T0=$(date +%s.%N)
RSS_MAX=0
if [ -n "${PERF:-}" ]; then
	perf record -q -g -p "$CP" -o "$PERF" -- sleep "$SECS" 2>/dev/null
else
	END=$(awk -v t="$T0" -v s="$SECS" 'BEGIN{printf "%.3f", t + s}')
	while awk -v e="$END" -v n="$(date +%s.%N)" 'BEGIN{exit !(n < e)}'; do
		r=$(rss); [ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
		sleep 0.25
	done
fi
C1=$(cpu_ticks)
T1=$(date +%s.%N)
RSS_END=$(rss)
wait "$CL" || true
R=$(grep '^result' "$T/clients.out" || true)
[ -n "$R" ] || { echo "bench: no result"; cat "$T/clients.out"; exit 1; }
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$R"; }
CPU=$(awk -v a="$C0" -v b="$C1" -v t0="$T0" -v t1="$T1" -v hz="$HZ" 'BEGIN{printf "%.0f", (b-a)/hz/(t1-t0)*100}')

echo "log hub: $RATE lines/s from one lms child -> $VIEWERS viewers, ${SECS}s measured after ${WARM}s warm-up, ~$((PAD + 150))-byte lines"
echo "  lms children of the server: $CHILDREN (all viewers watch source=server: 1 expected)"
echo "  server CPU: ${CPU}% of one core (pinned to CPU 0)"
echo "  server RSS: idle ${RSS_IDLE} KiB, $VIEWERS viewers connected ${RSS_CONN} KiB, max during the window ${RSS_MAX} KiB, end ${RSS_END} KiB"
echo "  delivered: $(get lines) lines in the window; per viewer min $(get lines_per_viewer_min) max $(get max) (~$(get rate_per_viewer) lines/s each, target $RATE)"
echo "  missed lines (gaps): $(get gaps); viewers dropped: $(get closed)"
echo "  lag child -> viewer: p50 $(get lag_p50_ms) ms, p90 $(get lag_p90_ms) ms, p99 $(get lag_p99_ms) ms, max $(get lag_max_ms) ms"
