#!/usr/bin/env bash
# `make bench`: run every benchmark script in bench/ (not a test; prints
# figures and ratios against baselines measured in the same run). Targets
# are loopback only; each script bounds its own duration.
set -uo pipefail
cd "$(dirname "$0")/.."
for b in bench/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "== $b"
	bash "$b" || echo "(benchmark $b failed)"
done
