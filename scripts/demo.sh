#!/usr/bin/env bash
# `make run`: the demo. Starts two LM Studio simulators (one with API-token
# auth on, token random per run) and the control plane on 127.0.0.1:3000
# (BRIDGE_PORT/BIND override), creating ./var/daemonpulse.db with an admin
# whose random password is printed once. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${DATA_DIR:-./var}
DB_PATH=${DB_PATH:-$DATA_DIR/daemonpulse.db}
SIM_PORT=${SIM_PORT:-1234}
SIM_AUTH_PORT=${SIM_AUTH_PORT:-1235}
mkdir -p "$DATA_DIR"
chmod 700 "$DATA_DIR"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# A random LM Studio-format token for the auth-on simulator, kept in the data dir (0600).
tokfile="$DATA_DIR/sim-auth-token"
if [ ! -s "$tokfile" ]; then
	umask 077
	id=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 8)
	pk=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20)
	printf 'sk-lm-%s:%s\n' "$id" "$pk" >"$tokfile"
fi

build/llmster-sim --bind 127.0.0.1 --port "$SIM_PORT" --gpus "RTX 4090:24GiB,RTX 3060:12GiB" --ram 64GiB --speed 1 \
	2> >(sed -u 's/^/[sim :'"$SIM_PORT"'] /' >&2) &
pids+=($!)
build/llmster-sim --bind 127.0.0.1 --port "$SIM_AUTH_PORT" --gpus "RTX A6000:48GiB" --ram 128GiB --speed 1 \
	--api-token "$(cat "$tokfile")" 2> >(sed -u 's/^/[sim :'"$SIM_AUTH_PORT"' auth] /' >&2) &
pids+=($!)

if [ ! -f "$DB_PATH" ]; then
	echo
	echo "Creating $DB_PATH with an administrator account:"
	build/daemonpulse seed --db "$DB_PATH" --username admin
	echo "(shown once; change it in Settings → Account, or: build/daemonpulse user passwd admin --db $DB_PATH)"
else
	echo "Using the existing database $DB_PATH (forgot the password? build/daemonpulse user passwd admin --db $DB_PATH)"
fi

echo
echo "Simulated LM Studio daemons: http://127.0.0.1:$SIM_PORT (no auth), http://127.0.0.1:$SIM_AUTH_PORT (API token in $tokfile)"
echo "Open http://${BIND:-127.0.0.1}:${BRIDGE_PORT:-3000}/ and sign in as admin."
echo
DAEMON_API_URL=${DAEMON_API_URL:-http://127.0.0.1:$SIM_PORT} \
	build/daemonpulse serve --data-dir "$DATA_DIR" --db "$DB_PATH" &
pids+=($!)
wait "${pids[-1]}"
