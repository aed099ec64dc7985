"""The child process of ``python -m bench fuzz``: one target under atheris (libFuzzer).

    python -m bench.fuzz.atheris_main TARGET [libFuzzer flags and corpus folders]

bitswarm is imported inside `atheris.instrument_imports`, so libFuzzer sees the coverage
of its Python code; libFuzzer then owns the process and exits it when it stops.
"""

from __future__ import annotations

import os
import sys

import atheris

with atheris.instrument_imports(include=["bitswarm"]):
    from bench.fuzz.targets import TARGETS


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python -m bench.fuzz.atheris_main {{{','.join(TARGETS)}}} [flags]")
    check = TARGETS[sys.argv[1]]
    # libFuzzer re-executes argv[0] to merge: the launcher script run.py wrote, if any
    launcher = os.environ.get("BENCH_FUZZ_LAUNCHER", sys.argv[0])
    atheris.Setup([launcher, *sys.argv[2:]], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
