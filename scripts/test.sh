#!/usr/bin/env bash
# The README's second command: install everything the tests need (bitswarm, its redis extra,
# the lab), then run lint, types and every test (tests/ and lab/tests/). CI runs exactly this
# (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
# bitswarm with its redis extra (the tracker's shared store is tested), then the lab: its
# own distribution (lab/), which the interop tests and the benchmarks import.
.venv/bin/pip install -q --disable-pip-version-check -e '.[test,bench,redis]'
.venv/bin/pip install -q --disable-pip-version-check -e ./lab
echo "== ruff"; .venv/bin/ruff check src tests bench lab && .venv/bin/ruff format --check src tests bench lab
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports --no-cache
echo "== docs"; .venv/bin/python -W error -m pdoc -o build/api bitswarm  # a warning fails
# two workers, one per core of the CI machine (tests never share ports, namespaces or files)
echo "== pytest"; .venv/bin/pytest -n 2 --cov --cov-report=term "$@"  # coverage floor: pyproject.toml
