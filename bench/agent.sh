#!/usr/bin/env bash
# bench/agent.sh - the agent's idle footprint (issue 9, part 9): RSS split
# into anonymous / file-backed / PSS (/proc/PID/smaps_rollup) and the CPU
# time (utime+stime) spent while idle, for
#   1. NVML off and no amdgpu card (sampler thread wakes, finds nothing),
#   2. the fake libnvidia-ml.so.1 with two GPUs (tests/fake_nvml, scenario
#      two_gpus, /proc fixture for attribution) sampled every 2 s.
# Each agent starts, is probed once (info, telemetry) so its lazily
# allocated state exists, then idles IDLE seconds (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DP_BIN_DIR:-build}
IDLE=${IDLE:-20}
[ -x "$BIN/daemonpulse" ] || make --no-print-directory "$BIN/daemonpulse" >/dev/null
make --no-print-directory fake-nvml >/dev/null 2>&1 || true
FAKE=build/fake_nvml/full/libnvidia-ml.so.1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home"

kv() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/smaps_rollup"; }
# CPU time of every thread in ns (schedstat: finer than the 10 ms ticks of stat)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s}'; }

measure() {
	local name=$1
	shift
	: >"$TMP/err"
	FAKE_NVML_SCENARIO=tests/fake_nvml/scenarios/two_gpus.txt HOME="$TMP/home" \
		"$BIN/daemonpulse" agent --port 0 --token-file "$TMP/tok" --lmstudio-home "$TMP/home" \
		--lms-bin /nonexistent/lms "$@" >/dev/null 2>"$TMP/err" &
	local pid=$!
	local port=""
	for _ in $(seq 1 100); do
		port=$(grep -o 'listening on http://[^ ]*' "$TMP/err" | sed 's/.*://' || true)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "agent did not start"; cat "$TMP/err"; kill "$pid"; exit 1; }
	local tok
	tok=$(cat "$TMP/tok")
	for r in info telemetry telemetry/history; do
		curl -fsS -o /dev/null -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/agent/v1/$r"
	done
	local c0 c1
	c0=$(cpu_ns "$pid")
	sleep "$IDLE"
	c1=$(cpu_ns "$pid")
	local rss anon file pss
	rss=$(kv Rss "$pid")
	anon=$(kv Anonymous "$pid")
	pss=$(kv Pss "$pid")
	file=$((rss - anon))
	local src
	src=$(curl -fsS -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/agent/v1/telemetry" |
		sed -n 's/.*"source":"\([a-z]*\)".*/\1/p')
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	awk -v n="$name" -v s="$src" -v r="$rss" -v a="$anon" -v f="$file" -v p="$pss" -v c=$((c1 - c0)) \
		-v idle="$IDLE" 'BEGIN {
		printf "%-22s source=%-7s RSS %6.1f MiB (anon %5.1f, file %5.1f, PSS %5.1f)  idle CPU %.3f%% (%.1f ms in %d s)\n",
			n, s, r / 1024, a / 1024, f / 1024, p / 1024, 100 * c / 1e9 / idle, c / 1e6, idle }'
}

echo "agent idle footprint ($BIN/daemonpulse, ${IDLE}s idle each)"
measure "no GPU (NVML off)" --nvml-lib off --sysfs-root "$TMP/home"
if [ -f "$FAKE" ]; then
	measure "fake NVML, 2 GPUs" --nvml-lib "$FAKE" --procfs-root tests/fixtures/proc
else
	echo "fake NVML not built (make fake-nvml): skipped"
fi
