#!/usr/bin/env bash
# The README's second command: install everything the tests need, then run lint, types
# and every test. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test,bench]'
echo "== ruff"; .venv/bin/ruff check src tests bench && .venv/bin/ruff format --check src tests bench
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports --no-cache
echo "== pytest"; .venv/bin/pytest "$@"
