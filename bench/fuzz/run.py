"""``python -m bench fuzz TARGET --seconds N``: coverage-guided fuzzing with atheris.

    python -m bench fuzz wire --seconds 600     # one target for ten minutes
    python -m bench fuzz all --seconds 60       # every target, one after another
    python -m bench fuzz seed                   # (re)write the seed corpus from seeds.py
    python -m bench fuzz merge wire             # minimise the work corpus into the repo's

Each target (bench/fuzz/targets.py) runs in its own child process (atheris's libFuzzer
exits the process when it stops), instrumented, starting from the repository's corpus
bench/fuzz/corpus/TARGET/ (read only) and a work corpus build/fuzz/TARGET/ where libFuzzer
keeps what it finds. Limits per input: ``-timeout`` seconds of time and ``-rss_limit_mb``
of memory; an input that breaks either, or raises anything but the parser's own error,
is a crash written to build/fuzz/crashes/TARGET/. Copy it into
tests/fuzz/regressions/TARGET/ and tests/fuzz/test_regressions.py replays it in CI.

`merge` keeps the repository's corpus small: libFuzzer's ``-merge=1`` takes the fewest
inputs of the work corpus that reach all of its coverage.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "bench" / "fuzz" / "corpus"
WORK = ROOT / "build" / "fuzz"


def _names() -> list[str]:
    from .targets import TARGETS

    return list(TARGETS)


def write_seeds() -> int:
    """Write every target's seeds into its corpus folder; return how many were new."""
    from .seeds import seeds

    new = 0
    for name in _names():
        folder = CORPUS / name
        folder.mkdir(parents=True, exist_ok=True)
        for data in seeds(name):
            path = folder / hashlib.sha1(data).hexdigest()
            if not path.exists():
                path.write_bytes(data)
                new += 1
    return new


def _child(target: str, args: list[str]) -> int:
    """Run `target` under atheris. libFuzzer re-executes its argv[0] for ``-merge=1`` (and
    ``-fork``), so argv[0] is a small executable script that starts the same target."""
    WORK.mkdir(parents=True, exist_ok=True)
    launcher = WORK / f"run-{target}.sh"
    launcher.write_text(
        f'#!/bin/sh\ncd "{ROOT}" && BENCH_FUZZ_LAUNCHER="{launcher}" exec "{sys.executable}" '
        f'-m bench.fuzz.atheris_main {target} "$@"\n'
    )
    launcher.chmod(0o755)
    return subprocess.run([str(launcher), *args], cwd=ROOT, check=False).returncode


def fuzz(target: str, seconds: int, *, timeout: int, rss_mb: int, max_len: int) -> int:
    work = WORK / target
    crashes = WORK / "crashes" / target
    work.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    args = [
        f"-max_total_time={seconds}",
        f"-timeout={timeout}",
        f"-rss_limit_mb={rss_mb}",
        f"-max_len={max_len}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        str(work),
        str(CORPUS / target),
    ]
    started = time.monotonic()
    code = _child(target, args)
    found = sorted(p.name for p in crashes.iterdir())
    print(
        f"fuzz {target}: {time.monotonic() - started:.0f} s, exit {code}, "
        f"{len(list(work.iterdir()))} inputs in {work.relative_to(ROOT)}, "
        f"{len(found)} crash file(s) in {crashes.relative_to(ROOT)}"
    )
    return code


def merge(target: str) -> int:
    """Minimise corpus + work corpus into a fresh corpus folder, then replace the repo's."""
    fresh = WORK / f"{target}.merged"
    fresh.mkdir(parents=True, exist_ok=True)
    for old in fresh.iterdir():
        old.unlink()
    code = _child(target, ["-merge=1", str(fresh), str(CORPUS / target), str(WORK / target)])
    if code != 0 or not any(fresh.iterdir()):
        print(f"merge {target}: failed (exit {code}); the kept corpus is left as it was")
        return code or 1
    folder = CORPUS / target
    for old in folder.iterdir():
        old.unlink()
    for new in fresh.iterdir():
        (folder / new.name).write_bytes(new.read_bytes())
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"merge {target}: {len(list(folder.iterdir()))} inputs, {size} bytes")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench fuzz",
        description="Coverage-guided fuzzing of bitswarm's parsers (atheris).",
    )
    parser.add_argument("target", help="a target name, 'all', 'seed' or 'merge'")
    parser.add_argument("merge_target", nargs="?", help="with 'merge': the target ('all')")
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--timeout", type=int, default=5, help="seconds per input (5)")
    parser.add_argument("--rss-mb", type=int, default=1024, help="memory limit (1024 MB)")
    parser.add_argument("--max-len", type=int, default=8192, help="longest input (8192)")
    args = parser.parse_args(argv)
    names = _names()
    if args.target == "seed":
        print(f"{write_seeds()} new seed file(s) in {CORPUS.relative_to(ROOT)}")
        return 0
    if args.target == "merge":
        chosen = names if args.merge_target in (None, "all") else [args.merge_target]
        return max((merge(name) for name in chosen), default=0)
    chosen = names if args.target == "all" else [args.target]
    unknown = [n for n in chosen if n not in names]
    if unknown:
        parser.error(f"unknown target {unknown[0]!r}; targets: {', '.join(names)}, all")
    worst = 0
    for name in chosen:
        code = fuzz(
            name, args.seconds, timeout=args.timeout, rss_mb=args.rss_mb, max_len=args.max_len
        )
        worst = worst or code
    return worst
