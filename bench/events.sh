#!/usr/bin/env bash
# bench/events.sh - GET /api/events fan-out: 1,000 and 10,000 SSE clients
# held open on loopback against one control plane watching one llmster-sim
# target (health interval 1 s). For each size it prints:
#   - memory per client: server RSS delta / clients (after every client got
#     its snapshot);
#   - time for one health change to reach all clients: the simulator is
#     SIGSTOPped; "detect" is stop -> first client has the `stalled` event
#     (bounded by the poll interval + timeout), "spread" is first -> last
#     client (the fan-out itself); the same for the recovery (`running`);
#   - upstream polls (GET /api/v1/models counted in the simulator's log)
#     during a 5 s window with the clients connected, against the same
#     window with none: it must stay one per target per interval.
# The client (bench/events_clients.c) is a single-threaded epoll program
# built here with cc. Raises `ulimit -n` (needs ~2 fds per client).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DP_BIN_DIR:-build}
[ -x "$BIN/daemonpulse" ] || make --no-print-directory "$BIN/daemonpulse" >/dev/null
[ -x "$BIN/llmster-sim" ] || make --no-print-directory "$BIN/llmster-sim" >/dev/null
mkdir -p build/bench
cc -std=c17 -O2 -Wall -Wextra -o build/bench/events_clients bench/events_clients.c
SIZES=${SIZES:-"1000 10000"}
INTERVAL=${INTERVAL:-1000}
WINDOW=5
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -n 65536 2>/dev/null || true
echo "file descriptor limit: $(ulimit -n)"

T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
wait_listen() { for _ in $(seq 200); do grep -q 'listening on' "$1" && break; sleep 0.05; done; grep -o 'listening on http://[^ ]*' "$1" | sed 's/.*://'; }

"$BIN/llmster-sim" --port 0 --speed 0 2>"$T/sim.log" &
SIM=$!; PIDS+=("$SIM")
SP=$(wait_listen "$T/sim.log")
PW="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$BIN/daemonpulse" seed --db "$T/db" --username admin --password-stdin <<<"$PW" >/dev/null 2>&1
DAEMON_API_URL="http://127.0.0.1:$SP" DP_ACCESS_LOG=false DP_LOG_LEVEL=warn "$BIN/daemonpulse" serve --port 0 --db "$T/db" --data-dir "$T/data" \
	--health-interval-ms "$INTERVAL" 2>"$T/cp.log" &
CP=$!; PIDS+=("$CP")
CPP=$(wait_listen "$T/cp.log")
BASE="http://127.0.0.1:$CPP"
curl -s -c "$T/jar" -H 'content-type: application/json' -H "origin: $BASE" \
	-d "{\"username\":\"admin\",\"password\":\"$PW\"}" "$BASE/api/auth/login" >/dev/null
TOKEN=$(curl -s -b "$T/jar" -H 'content-type: application/json' -H "origin: $BASE" -d '{"name":"bench"}' \
	"$BASE/api/tokens" | sed 's/.*"secret":"\([^"]*\)".*/\1/')
for _ in $(seq 100); do
	curl -s -H "authorization: Bearer $TOKEN" "$BASE/api/targets/1/health" | grep -q '"running"' && break
	sleep 0.1
done

polls_in() { # count GET /api/v1/models in the simulator's log over $1 seconds
	local a b
	a=$(curl -s "http://127.0.0.1:$SP/__sim/logs?since=0" | sed 's/^{"next":\([0-9]*\).*/\1/')
	sleep "$1"
	b=$(curl -s "http://127.0.0.1:$SP/__sim/logs?since=$a")
	grep -o 'Received request: GET to /api/v1/models"' <<<"$b" | wc -l
}

echo "control plane: 1 target, health interval ${INTERVAL} ms; window ${WINDOW} s => expected $((WINDOW * 1000 / INTERVAL)) polls"
echo "upstream polls with 0 clients: $(polls_in $WINDOW)"
for N in $SIZES; do
	OUT="$T/clients-$N.out"
	build/bench/events_clients "$CPP" "$N" "$TOKEN" "$CP" "$SIM" $((WINDOW + 1)) >"$OUT" 2>&1 &
	CL=$!
	for _ in $(seq 1200); do grep -q '^ready' "$OUT" && break; sleep 0.1; done
	if ! grep -q '^ready' "$OUT"; then echo "N=$N: clients did not connect"; cat "$OUT"; kill $CL; continue; fi
	P=$(polls_in $WINDOW)
	wait $CL || true
	before=$(sed -n 's/^rss_before_kib=//p' "$OUT")
	read -r ready errors secs after < <(sed -n 's/^ready clients=\([0-9]*\) errors=\([0-9]*\) connect_seconds=\([0-9.]*\) rss_after_kib=\([0-9]*\)/\1 \2 \3 \4/p' "$OUT")
	echo "== $N clients: connected $ready (errors $errors) in ${secs}s"
	echo "   server RSS ${before} KiB -> ${after} KiB: $(awk -v a="$after" -v b="$before" -v n="$ready" 'BEGIN{printf "%.1f", (a-b)*1024/n/1024}') KiB per client"
	echo "   upstream polls in ${WINDOW}s with $ready clients: $P (expected $((WINDOW * 1000 / INTERVAL)))"
	grep -E '^(stalled|running)' "$OUT" | sed 's/^/   health change /'
done
