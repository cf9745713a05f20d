#!/usr/bin/env bash
# bench/http.sh - HTTP throughput and latency of the control plane, and its
# idle memory. Not a test: it prints figures and compares them with the
# targets of issue 3 (authenticated JSON route >= 20,000 req/s on one core
# with p99 < 5 ms; idle RSS < 10 MB).
#
#   bench/http.sh      (BENCH_SECONDS=10 BENCH_CONNS=50 BENCH_PIN=1 by default)
#
# It seeds a throw-away database in a temp dir, starts build/daemonpulse on
# 127.0.0.1 with an ephemeral port pinned to CPU 0 (taskset), drives it with
# wrk pinned to CPU 1, and measures:
#   - GET /healthz               (baseline: no auth, no JSON library)
#   - GET /api/auth/me           with a personal API token (Bearer dp_...)
#   - GET /api/auth/me           with a session cookie
#   - VmRSS from /proc after start-up and again after the load, idle, with
#     one LM Studio target (build/llmster-sim) being health-polled, as a real
#     control plane is: the upstream client is loaded and working.
# The server runs with its default configuration (access log on, written
# to a file). Only loopback targets; every run is bounded in time.
# req/CPU-second (requests served / CPU time the server used) is the
# figure that stays meaningful when other work competes for the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DP_BIN_DIR:-build}/daemonpulse
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-50}
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench: $BIN missing (make build/daemonpulse)" >&2; exit 1; }
case $SECS in ''|*[!0-9]*) echo "bench: BENCH_SECONDS must be a number" >&2; exit 1 ;; esac
[ "$SECS" -ge 1 ] && [ "$SECS" -le 120 ] || { echo "bench: BENCH_SECONDS must be 1..120" >&2; exit 1; }

TMP=$(mktemp -d /tmp/dp-bench-XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	if [ -n "$SIM_PID" ]; then kill -TERM "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

PIN_SRV=() PIN_WRK=()
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN_SRV=(taskset -c 0) PIN_WRK=(taskset -c 1)
fi

SIM_PID=
SIM_BIN=${DP_BIN_DIR:-build}/llmster-sim
[ -x "$SIM_BIN" ] || { echo "bench: $SIM_BIN missing (make build/llmster-sim)" >&2; exit 1; }
"$SIM_BIN" --port 0 --seed 1 >"$TMP/sim.log" 2>&1 &
SIM_PID=$!
SIM_URL=
for _ in $(seq 1 200); do
	SIM_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$TMP/sim.log" | head -n1) || true
	[ -n "$SIM_URL" ] && break
	sleep 0.05
done
[ -n "$SIM_URL" ] || { echo "bench: the simulator did not start" >&2; cat "$TMP/sim.log" >&2; exit 1; }

PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$PW" | "$BIN" seed --db "$TMP/dp.db" --username bench --password-stdin >"$TMP/seed.log" 2>&1 || { cat "$TMP/seed.log" >&2; exit 1; }
DAEMON_API_URL=$SIM_URL "${PIN_SRV[@]}" "$BIN" serve --port 0 --db "$TMP/dp.db" --data-dir "$TMP" 2>"$TMP/server.log" &
PID=$!
URL=
for _ in $(seq 1 200); do
	URL=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$TMP/server.log" | head -n1 | sed 's/listening on //') || true
	[ -n "$URL" ] && break
	kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
	sleep 0.05
done
[ -n "$URL" ] || { echo "bench: server did not start" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
# RSS split: anonymous (the server's own heap and stacks) vs file-backed
# (shared library pages, mostly shared with other processes), and PSS
rss_detail() {
	awk '/^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} END {printf "anon %.1f MB + file %.1f MB", a/1024, f/1024}' "/proc/$PID/status"
	[ -r "/proc/$PID/smaps_rollup" ] && awk '/^Pss:/ {printf ", PSS %.1f MB", $2/1024}' "/proc/$PID/smaps_rollup"
	awk '/^Threads:/ {printf ", %d threads", $2}' "/proc/$PID/status"
}
# a few health polls of the target first
sleep 3
grep -q 'running' "$TMP/server.log" || { echo "bench: the target never turned running" >&2; cat "$TMP/server.log" >&2; exit 1; }
RSS_START=$(rss_kb)
RSS_START_DETAIL=$(rss_detail)

# a session cookie and a personal API token, the way a browser and a script get them
curl -sf -c "$TMP/jar" -H 'Content-Type: application/json' -H "Origin: $URL" \
	-d "{\"username\":\"bench\",\"password\":\"$PW\"}" "$URL/api/auth/login" >/dev/null
SID=$(awk '$6 == "dp_session" {print $7}' "$TMP/jar")
TOKEN=$(curl -sf -b "$TMP/jar" -H 'Content-Type: application/json' -H "Origin: $URL" \
	-d '{"name":"bench"}' "$URL/api/tokens" | sed -n 's/.*"secret":"\(dp_[A-Za-z0-9_-]*\)".*/\1/p')
[ -n "$SID" ] && [ -n "$TOKEN" ] || { echo "bench: could not sign in / create a token" >&2; exit 1; }

# CPU time (user + system) the server used so far, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TCK=$(getconf CLK_TCK)

# run NAME PATH [HEADER]: prints "req/s p99_ms req_per_cpu_second"
# The last figure divides the requests served by the CPU time the server
# used: what one fully busy core would do, even on a machine that is busy
# with other work.
run() {
	local out
	local args=(-t1 -c"$CONNS" -d"${SECS}s" --latency)
	[ $# -ge 3 ] && args+=(-H "$3")
	local c0 c1
	c0=$(cpu_ticks)
	out=$("${PIN_WRK[@]}" wrk "${args[@]}" "$URL$2")
	c1=$(cpu_ticks)
	if grep -q 'Non-2xx' <<<"$out"; then echo "bench: $1 got non-2xx answers" >&2; echo "$out" >&2; exit 1; fi
	local rps p99
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}' <<<"$out")
	local n percpu
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	percpu=$(awk "BEGIN {c = ($c1 - $c0) / $TCK; if (c > 0) printf \"%.0f\", $n / c; else print 0}")
	echo "$rps $p99 $percpu"
}

curl -sf "$URL/healthz" >/dev/null
read -r H_RPS H_P99 H_CPU < <(run healthz /healthz)
read -r T_RPS T_P99 T_CPU < <(run token /api/auth/me "Authorization: Bearer $TOKEN")
read -r C_RPS C_P99 C_CPU < <(run cookie /api/auth/me "Cookie: dp_session=$SID")
sleep 1
RSS_END=$(rss_kb)
RSS_END_DETAIL=$(rss_detail)

verdict() { if awk "BEGIN {exit !($1)}"; then echo ok; else echo MISSED; fi; }
printf '\nDaemonPulse HTTP benchmark (%s, %ss per run, %s connections, server on 1 core%s)\n' \
	"$("$BIN" --version)" "$SECS" "$CONNS" "${PIN_SRV:+ (taskset)}"
printf '%-34s %10s %9s %14s %8s\n' route 'req/s' 'p99 ms' 'req/CPU-second' 'vs base'
printf '%-34s %10.0f %9.3f %14.0f %8s\n' 'GET /healthz (baseline)' "$H_RPS" "$H_P99" "$H_CPU" '1.00'
printf '%-34s %10.0f %9.3f %14.0f %8.2f\n' 'GET /api/auth/me (API token)' "$T_RPS" "$T_P99" "$T_CPU" "$(awk "BEGIN {print $T_RPS/$H_RPS}")"
printf '%-34s %10.0f %9.3f %14.0f %8.2f\n' 'GET /api/auth/me (session cookie)' "$C_RPS" "$C_P99" "$C_CPU" "$(awk "BEGIN {print $C_RPS/$H_RPS}")"
printf 'idle RSS (one target polled): %.1f MB after start (%s)\n' "$(awk "BEGIN {print $RSS_START/1024}")" "$RSS_START_DETAIL"
printf '          %.1f MB after the load (%s)\n' "$(awk "BEGIN {print $RSS_END/1024}")" "$RSS_END_DETAIL"
printf '\ntargets: auth route >= 20000 req/s: %s (token), %s (cookie); p99 < 5 ms: %s; idle RSS < 10 MB: %s\n' \
	"$(verdict "$T_RPS >= 20000")" "$(verdict "$C_RPS >= 20000")" \
	"$(verdict "$T_P99 < 5 && $C_P99 < 5")" "$(verdict "$RSS_START < 10240 && $RSS_END < 10240")"
