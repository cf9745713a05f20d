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
	rnd() { (LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom || true) | head -c "$1"; }
	id=$(rnd 8)
	pk=$(rnd 20)
	printf 'sk-lm-%s:%s\n' "$id" "$pk" >"$tokfile"
fi

build/llmster-sim --bind 127.0.0.1 --port "$SIM_PORT" --gpus "RTX 4090:24GiB,RTX 3060:12GiB" --ram 64GiB --speed 1 \
	2> >(sed -u 's/^/[sim :'"$SIM_PORT"'] /' >&2) &
pids+=($!)
build/llmster-sim --bind 127.0.0.1 --port "$SIM_AUTH_PORT" --gpus "RTX A6000:48GiB" --ram 128GiB --speed 1 \
	--api-token-file "$tokfile" 2> >(sed -u 's/^/[sim :'"$SIM_AUTH_PORT"' auth] /' >&2) &
pids+=($!)

admin_pw=""
if [ ! -f "$DB_PATH" ]; then
	echo
	echo "Creating $DB_PATH with an administrator account:"
	seed_out=$(build/daemonpulse seed --db "$DB_PATH" --username admin)
	printf '%s\n' "$seed_out"
	admin_pw=$(printf '%s\n' "$seed_out" | sed -n 's/^password: //p')
	echo "(shown once; change it in Settings → Account, or: build/daemonpulse user passwd admin --db $DB_PATH)"
else
	echo "Using the existing database $DB_PATH (forgot the password? build/daemonpulse user passwd admin --db $DB_PATH)"
fi

echo
echo "Simulated LM Studio daemons: http://127.0.0.1:$SIM_PORT (no auth), http://127.0.0.1:$SIM_AUTH_PORT (API token in $tokfile)"
echo "Open http://${BIND:-127.0.0.1}:${BRIDGE_PORT:-3000}/ and sign in as admin."
echo
LMS_BIN=${LMS_BIN:-$PWD/build/lms} LMS_SIM_PORT=$SIM_PORT \
	DAEMON_API_URL=${DAEMON_API_URL:-http://127.0.0.1:$SIM_PORT} \
	build/daemonpulse serve --data-dir "$DATA_DIR" --db "$DB_PATH" &
pids+=($!)

# First run: register the auth-on simulator as a second target through the
# API, as an operator would in Settings -> Daemon targets (token sent in the
# body on stdin, never on a command line).
if [ -n "$admin_pw" ]; then
	base="http://${BIND:-127.0.0.1}:${BRIDGE_PORT:-3000}"
	for _ in $(seq 50); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
	jar=$(mktemp)
	printf '{"username":"admin","password":"%s"}' "$admin_pw" |
		curl -fsS -c "$jar" -H 'content-type: application/json' -H "origin: $base" --data @- "$base/api/auth/login" >/dev/null &&
		printf '{"label":"simulated gpu box (auth on)","url":"http://127.0.0.1:%s","api_key":"%s","lms_host":"127.0.0.1","lms_port":%s}' \
			"$SIM_AUTH_PORT" "$(cat "$tokfile")" "$SIM_AUTH_PORT" |
		curl -fsS -b "$jar" -H 'content-type: application/json' -H "origin: $base" --data @- "$base/api/targets" >/dev/null &&
		curl -fsS -b "$jar" -X POST -H "origin: $base" "$base/api/auth/logout" >/dev/null &&
		echo "Registered the auth-on simulator as a second target."
	rm -f "$jar"
fi
wait "${pids[-1]}"
