#!/usr/bin/env bash
# Proves the interop tests stable: runs them RUNS times in a row (default 20) while
# `stress-ng --cpu 1` keeps one core busy, and stops at the first failing run.
#
#   bash scripts/stability.sh [RUNS] [extra pytest args...]
#
# Prints one line per run and a closing "N passed, N failed" line; exits non-zero if any run
# failed. Each failing run's output is kept in build/stability/run-K.log.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
shift || true
bash scripts/install-system-deps.sh
mkdir -p build/stability
# its own process group, so that stopping it stops its worker too
setsid stress-ng --cpu 1 --quiet &
stress_pid=$!
trap 'kill -- -"$stress_pid" 2>/dev/null || true' EXIT
passed=0
failed=0
for k in $(seq 1 "$runs"); do
    log="build/stability/run-$k.log"
    start=$(date +%s)
    if CI=true .venv/bin/pytest -m interop -q -p no:cacheprovider "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "run $k: passed in $(($(date +%s) - start)) s ($(tail -1 "$log"))"
        rm -f "$log"
    else
        failed=$((failed + 1))
        echo "run $k: FAILED in $(($(date +%s) - start)) s, log in $log"
        grep -E "^(FAILED|ERROR)" "$log" || tail -5 "$log"
        break
    fi
done
echo "stability: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
