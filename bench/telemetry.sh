#!/usr/bin/env bash
# bench/telemetry.sh - GPU telemetry costs (issue 9, part 9). Prints:
#   1. sampler CPU time per GPU per sample: the control plane's sampler
#      thread (CLOCK_THREAD_CPUTIME_ID, exported in /metrics) reading the fake
#      libnvidia-ml.so.1 with 8 GPUs (scenario eight_gpus: every field, two
#      processes per GPU attributed through the /proc fixture), against the
#      same with 2 GPUs (two_gpus) as the in-run baseline;
#   2. control-plane CPU per 100 targets polled (simulated source): 100
#      targets on one llmster-sim, telemetry every 2 s, control-plane process
#      CPU (utime+stime) over a window, minus the same control plane with
#      telemetry every 60 s (nothing polled in the window) as the baseline.
# WINDOW (seconds, default 20) bounds part 2; part 1 runs 8 s per size.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DP_BIN_DIR:-build}
[ -x "$BIN/daemonpulse" ] || make --no-print-directory "$BIN/daemonpulse" >/dev/null
[ -x "$BIN/llmster-sim" ] || make --no-print-directory "$BIN/llmster-sim" >/dev/null
make --no-print-directory fake-nvml >/dev/null
exec node bench/telemetry.mjs
