#!/usr/bin/env bash
# Run every test suite and end with one line: "N passed, N failed".
#   unit         cmocka binaries in build/tests (control plane and simulator)
#   integration  node --test tests/integration against build/ binaries
#   web          vitest unit tests of the web UI's pure logic (web/src/**/*.test.ts)
#   e2e          Playwright (playwright-core) driving /usr/bin/chromium
#   asan         unit + integration again against the ASan/UBSan build
#   fuzz         every libFuzzer target for a short time (FUZZ_SMOKE_SECONDS) from a
#                fixed seed (FUZZ_SEED, default 1) so CI is repeatable; `make fuzz`
#                explores longer with random seeds
# SUITES="unit integration" limits the run. Exit status is non-zero when
# anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
SUITES=${SUITES:-"lint unit integration web e2e asan fuzz"}
FUZZ_SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-10}
PASS=0
FAIL=0
LOG=build/test-logs
mkdir -p "$LOG"

note() { printf '\n== %s\n' "$*"; }
count_cmocka() { # $1 = log file
	local p f
	p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$1" | awk '{s+=$4} END {print s+0}')
	f=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$1" | awk '{s+=$4} END {print s+0}')
	echo "$p $f"
}

run_unit() { # $1 = dir of test binaries, $2 = label
	local b p f out
	for b in "$1"/test_* "$1"/sim/test_*; do
		[ -x "$b" ] || continue
		out="$LOG/$2-$(basename "$b").log"
		if CMOCKA_MESSAGE_OUTPUT=stdout "$b" >"$out" 2>&1; then :; else
			echo "FAIL: $b (see $out)"; tail -n 30 "$out"
		fi
		read -r p f < <(count_cmocka "$out")
		# a crashed binary prints no summary: count it as one failure
		if ! grep -q '^\[==========\] .* run\.' "$out"; then f=$((f + 1)); echo "CRASH: $b"; tail -n 20 "$out"; fi
		PASS=$((PASS + p)); FAIL=$((FAIL + f))
		echo "$2 $(basename "$b"): $p passed, $f failed"
	done
}

run_node() { # $1 = label, $2.. = test files; env passed through
	local label=$1; shift
	[ $# -gt 0 ] || return 0
	local out="$LOG/$label.log" p f
	node --test --test-concurrency=1 --test-reporter=tap "$@" >"$out" 2>&1
	local rc=$?
	p=$(grep -E '^# pass [0-9]+' "$out" | awk '{print $3}' | tail -n1)
	f=$(grep -E '^# fail [0-9]+' "$out" | awk '{print $3}' | tail -n1)
	p=${p:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$f" -ne 0 ]; then
		echo "FAILURES in $label (full log: $out):"
		# each failing test (nested ones too), where it is and why; the
		# first stack frame in our test files names the assertion's line
		grep -E '^ *not ok|^ *location:|^ *error:|^ *expected:|^ *actual:|^ +[^ ]* ?\(file:///.*/tests/[^ ]*\.mjs:[0-9]+' "$out" |
			awk '/\(file:/{ if (seen[$0]++) next } { print }' | head -n 60
	fi
	PASS=$((PASS + p)); FAIL=$((FAIL + f))
	echo "$label: $p passed, $f failed"
}

for s in $SUITES; do
	case $s in
	lint)
		note "lint: banned functions, clang-format"
		if scripts/check-banned.sh; then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); fi
		if ! command -v clang-format >/dev/null; then
			FAIL=$((FAIL + 1)); echo "lint: clang-format is not installed (scripts/deps.sh installs it)"
		elif make -s format-check >"$LOG/format.log" 2>&1; then
			PASS=$((PASS + 1)); echo "lint clang-format: ok"
		else
			FAIL=$((FAIL + 1)); echo "lint clang-format: these files need 'make format':"
			grep -o '^[^:]*\.[ch]' "$LOG/format.log" | sort -u | head -n 20
		fi ;;
	unit)
		note "unit tests"
		run_unit build/tests unit ;;
	integration)
		note "integration tests (real binaries over loopback)"
		mapfile -t files < <(find tests/integration -name '*.test.mjs' | sort)
		DP_BIN_DIR=build run_node integration "${files[@]}" ;;
	web)
		note "web unit tests (vitest)"
		rm -f "$LOG/web-vitest.json"
		(cd web && npx --no-install vitest run --reporter=default --reporter=json \
			--outputFile.json=../"$LOG"/web-vitest.json) >"$LOG/web.log" 2>&1
		rc=$?
		read -r p f < <(node -e 'try { const r = require(process.argv[1]);
			console.log(r.numPassedTests, r.numFailedTests + (r.success ? 0 : 1) * (r.numFailedTests ? 0 : 1)); }
			catch { console.log("0 1"); }' "$PWD/$LOG/web-vitest.json")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		if [ "$f" -ne 0 ]; then echo "FAILURES in web (full log: $LOG/web.log):"; tail -n 40 "$LOG/web.log"; fi
		PASS=$((PASS + p)); FAIL=$((FAIL + f))
		echo "web: $p passed, $f failed" ;;
	e2e)
		note "end-to-end tests (Playwright + Chromium)"
		mapfile -t files < <(find tests/e2e -name '*.test.mjs' | sort)
		DP_BIN_DIR=build run_node e2e "${files[@]}" ;;
	asan)
		note "sanitizer pass (ASan + UBSan): unit and integration"
		export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
		export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
		run_unit build/asan/tests asan-unit
		mapfile -t files < <(find tests/integration -name '*.test.mjs' | sort)
		DP_BIN_DIR=build/asan DP_SANITIZER=1 run_node asan-integration "${files[@]}" ;;
	fuzz)
		note "fuzz smoke (${FUZZ_SMOKE_SECONDS}s per target; 'make fuzz' runs longer)"
		for f in build/fuzz/fuzz_*; do
			[ -x "$f" ] || continue
			n=$(basename "$f"); mkdir -p "build/fuzz/corpus/$n"
			seeds=(); [ -d "fuzz/corpus/$n" ] && seeds=("fuzz/corpus/$n")
			if "$f" -seed="${FUZZ_SEED:-1}" -max_total_time="$FUZZ_SMOKE_SECONDS" "build/fuzz/corpus/$n" "${seeds[@]}" >"$LOG/fuzz-$n.log" 2>&1; then
				PASS=$((PASS + 1)); echo "fuzz $n: ok"
			else
				FAIL=$((FAIL + 1)); echo "fuzz $n: FAILED"; tail -n 40 "$LOG/fuzz-$n.log"
			fi
		done ;;
	*) echo "unknown suite $s"; FAIL=$((FAIL + 1)) ;;
	esac
done

echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
