#!/usr/bin/env bash
# bench/relay.sh - the chat relay's cost, in one run, against two baselines
# measured in the same run: the stream taken directly from its origin, and
# through nginx (Debian's nginx-light, `proxy_buffering off`, one worker,
# loopback only) as the reference proxy.
#
#   1. throughput: llmster-sim --speed 0 streams N tokens per request
#      (/api/v1/chat); the same streams directly, through nginx and through
#      DaemonPulse (POST /api/targets/{id}/chat). events/s as received by the
#      client, and for the proxies events per CPU-second of the proxy
#      process (its utime+stime over the phase): "events/s on one core".
#   2. latency: a stamping origin (bench/relay_load.c) sends v1 events whose
#      content is its CLOCK_MONOTONIC send time, paced; the client subtracts
#      it from the receive time (same host, same clock). Added latency per
#      event = p50/p99 through a proxy minus p50/p99 direct.
#
# The proxies (DaemonPulse, nginx) run on CPU 0, origin and client on CPU 1
# (taskset, when there are >= 2 CPUs; BENCH_PIN=0 disables). Knobs:
# BENCH_TOKENS (max per stream, 1000; the simulator stops at 60-200 for a code
# prompt), BENCH_REQUESTS (2000), BENCH_CONNS (16),
# BENCH_LAT_EVENTS (5000), BENCH_LAT_INTERVAL_US (200), BENCH_LAT_ROUNDS (5; the
# median run is reported: on a shared VM one run can be off by 10 us). Needs
# curl, nginx, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${DP_BIN_DIR:-build}
TOKENS=${BENCH_TOKENS:-1000}
REQS=${BENCH_REQUESTS:-2000}
CONNS=${BENCH_CONNS:-16}
LAT_EVENTS=${BENCH_LAT_EVENTS:-5000}
LAT_IV=${BENCH_LAT_INTERVAL_US:-200}
LAT_ROUNDS=${BENCH_LAT_ROUNDS:-5}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for b in daemonpulse llmster-sim; do
	[ -x "$BIN_DIR/$b" ] || make --no-print-directory "build/$b" >/dev/null
done
[ -x "$NGINX" ] || { echo "nginx not found (apt-get install nginx-light)"; exit 1; }

T=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
cc -std=c17 -O2 -Wall -Wextra -o "$T/relay_load" bench/relay_load.c -lpthread

PIN_P=() PIN_C=()
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN_P=(taskset -c 0) PIN_C=(taskset -c 1)
fi

# start NAME CMD...: background, wait for "listening on", set $PORT and $PID
start() {
	local name=$1; shift
	"$@" 2>"$T/$name.log" >/dev/null &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 200); do grep -q 'listening on' "$T/$name.log" && break; sleep 0.05; done
	PORT=$(grep -o 'listening on http://[^ ]*' "$T/$name.log" | head -1 | sed 's/.*://')
	[ -n "$PORT" ] || { echo "$name did not start:"; cat "$T/$name.log"; exit 1; }
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

start sim "${PIN_C[@]}" "$BIN_DIR/llmster-sim" --port 0 --speed 0 --seed 1 --gpus "H100:80GiB" --ram 512GiB
SIM_PORT=$PORT
MODEL=ibm/granite-4-micro
curl -sf -X POST "http://127.0.0.1:$SIM_PORT/__sim/lms/load" \
	-d "{\"modelKey\":\"$MODEL\",\"identifier\":\"$MODEL\",\"contextLength\":$((TOKENS + 256)),\"parallel\":64}" >/dev/null
start origin "${PIN_C[@]}" "$T/relay_load" origin "$LAT_EVENTS" "$LAT_IV"
ORIGIN_PORT=$PORT

# DaemonPulse: fresh database, an admin, a bearer token, two targets
printf 'bench-pw-%s\n' "$RANDOM$RANDOM$RANDOM" >"$T/pw"
"$BIN_DIR/daemonpulse" seed --db "$T/db" --username bench --password-stdin <"$T/pw" >/dev/null 2>&1
start dp env DAEMON_API_URL= "${PIN_P[@]}" "$BIN_DIR/daemonpulse" serve --port 0 --db "$T/db" --data-dir "$T" \
	--health-interval-ms 60000
DP_PORT=$PORT DP_PID=$PID
DP=http://127.0.0.1:$DP_PORT
H=(-H 'content-type: application/json' -H "origin: $DP")
curl -sf -c "$T/jar" "${H[@]}" -d "{\"username\":\"bench\",\"password\":\"$(cat "$T/pw")\"}" "$DP/api/auth/login" >/dev/null
TOKEN=$(curl -sf -b "$T/jar" "${H[@]}" -d '{"name":"bench"}' "$DP/api/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
tid() { curl -sf -b "$T/jar" "${H[@]}" -d "{\"label\":\"$1\",\"url\":\"http://127.0.0.1:$2\"}" "$DP/api/targets" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["target"]["id"])'; }
SIM_TID=$(tid sim "$SIM_PORT")
ORIGIN_TID=$(tid origin "$ORIGIN_PORT")

# nginx: one worker, no master, no buffering, loopback only
NG_SIM=$(free_port) NG_ORIGIN=$(free_port)
mkdir -p "$T/ng"
cat >"$T/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
error_log $T/ng/error.log warn;
pid $T/ng/nginx.pid;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $T/ng/body; proxy_temp_path $T/ng/proxy;
	fastcgi_temp_path $T/ng/fcgi; uwsgi_temp_path $T/ng/uwsgi; scgi_temp_path $T/ng/scgi;
	proxy_buffering off; proxy_http_version 1.1; proxy_set_header Connection "";
	proxy_read_timeout 120s; tcp_nodelay on;
	server { listen 127.0.0.1:$NG_SIM; location / { proxy_pass http://127.0.0.1:$SIM_PORT; } }
	server { listen 127.0.0.1:$NG_ORIGIN; location / { proxy_pass http://127.0.0.1:$ORIGIN_PORT; } }
}
NGX
"${PIN_P[@]}" "$NGINX" -p "$T/ng" -c "$T/nginx.conf" 2>"$T/nginx.log" &
NG_PID=$!
PIDS+=("$NG_PID")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$NG_SIM/lmstudio-greeting" && break; sleep 0.05; done

printf '{"model":"%s","input":"Write the code for it","stream":true,"max_output_tokens":%d}' "$MODEL" "$TOKENS" >"$T/v1.json"
printf '{"model":"%s","messages":[{"role":"user","content":"Write the code for it"}],"max_tokens":%d,"save":false}' "$MODEL" "$TOKENS" >"$T/dp.json"
AUTH="Authorization: Bearer $TOKEN"
HZ=$(getconf CLK_TCK)

field() { sed "s/.* $1 \([-0-9.]*\).*/\1/" <<<" $2"; }
# run LABEL PROXY_PID URL BODY [HEADER]: one throughput phase
run() {
	local label=$1 pid=$2 url=$3 body=$4; shift 4
	local c0=0 c1=0 out
	[ "$pid" != - ] && c0=$(cpu_ticks "$pid")
	out=$("${PIN_C[@]}" "$T/relay_load" get "$url" "$body" "$CONNS" "$REQS" "$@" 2>&1) || echo "  ($label: load client failed: $out)" >&2
	[ "$pid" != - ] && c1=$(cpu_ticks "$pid")
	local ev eps cpu
	ev=$(field events "$out"); eps=$(field events_per_s "$out")
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)/hz}')
	if [ "$pid" != - ]; then
		printf '  %-12s %9s events  %9s events/s  proxy CPU %6ss  %9s events per CPU-second  errors %s\n' "$label" "$ev" "$eps" \
			"$cpu" "$(awk -v e="$ev" -v c="$cpu" 'BEGIN{ if (c>0) printf "%.0f", e/c; else print "n/a" }')" "$(field errors "$out")"
	else
		printf '  %-12s %9s events  %9s events/s  errors %s\n' "$label" "$ev" "$eps" "$(field errors "$out")"
	fi
	echo "$out" >"$T/last"
}

echo "relay benchmark ($(nproc) CPUs; proxies ${PIN_P[*]:-unpinned}, origin+client ${PIN_C[*]:-unpinned}); $("$BIN_DIR/daemonpulse" --version 2>/dev/null | head -1), $("$NGINX" -v 2>&1)"
echo "1. throughput: llmster-sim --speed 0, $REQS streams (60-200 tokens each) over $CONNS connections"
"${PIN_C[@]}" "$T/relay_load" get "http://127.0.0.1:$SIM_PORT/api/v1/chat" "$T/v1.json" 1 1 >/dev/null # warm
run direct - "http://127.0.0.1:$SIM_PORT/api/v1/chat" "$T/v1.json"
run nginx "$NG_PID" "http://127.0.0.1:$NG_SIM/api/v1/chat" "$T/v1.json"
run daemonpulse "$DP_PID" "$DP/api/targets/$SIM_TID/chat" "$T/dp.json" "$AUTH"

echo "2. latency: stamping origin, $LAT_EVENTS events ${LAT_IV} us apart, one stream ($LAT_ROUNDS runs each, interleaved; median run)"
declare -A P50 P99
for _ in $(seq "$LAT_ROUNDS"); do
	for w in direct nginx daemonpulse; do
		case $w in
		direct) url="http://127.0.0.1:$ORIGIN_PORT/api/v1/chat"; body=$T/v1.json; hdr=() ;;
		nginx) url="http://127.0.0.1:$NG_ORIGIN/api/v1/chat"; body=$T/v1.json; hdr=() ;;
		daemonpulse) url="$DP/api/targets/$ORIGIN_TID/chat"; body=$T/dp.json; hdr=("$AUTH") ;;
		esac
		out=$("${PIN_C[@]}" "$T/relay_load" get "$url" "$body" 1 1 "${hdr[@]}")
		P50[$w]="${P50[$w]:-} $(field lat_p50_us "$out")"
		P99[$w]="${P99[$w]:-} $(field lat_p99_us "$out")"
	done
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
D50=$(med "${P50[direct]}") D99=$(med "${P99[direct]}")
for w in direct nginx daemonpulse; do
	m50=$(med "${P50[$w]}") m99=$(med "${P99[$w]}")
	if [ $w = direct ]; then
		printf '  %-12s p50 %5s us  p99 %5s us   (runs: p50%s / p99%s)\n' $w "$m50" "$m99" "${P50[$w]}" "${P99[$w]}"
	else
		printf '  %-12s p50 %5s us  p99 %5s us   added: p50 %5s us  p99 %5s us   (runs: p50%s / p99%s)\n' $w "$m50" "$m99" \
			$((m50 - D50)) $((m99 - D99)) "${P50[$w]}" "${P99[$w]}"
	fi
done
