"""The Performance issue's targets P1, P2, P3, P5 and P6, one command each.

    .venv/bin/python -m bench perf p1  [--runs 3] [--size 1GiB] [--slow-size 256MiB]
    .venv/bin/python -m bench perf p1 --meta v2  [--runs 3] [--size 1GiB]   (v2 against v1)
    .venv/bin/python -m bench perf p2  [--runs 3] [--size 1GiB] [--fanout-size 256MiB]
    .venv/bin/python -m bench perf p3  [--runs 3] [--size 1GiB] [--big-size 4GiB] [--keep]
    .venv/bin/python -m bench perf p5  [--runs 3] [--size 1GiB]
    .venv/bin/python -m bench perf p6  [--windows 3] [--torrents 1000] [--peers 500]
    .venv/bin/python -m bench perf all [--runs 3] [--write-results bench/RESULTS.md]
    .venv/bin/python -m bench perf p1 p3 [--runs 3]   (several targets, sharing their runs)

Each prints a Markdown section (the exact command, what was met, the tables, and a profile
for any target not met); `--write-results FILE` puts it into FILE's `## Performance P1–P6`
section, replacing only the subsections of the targets just measured. Every ratio is
bitswarm against libtorrent (or, for P5, against hashlib on all cores) measured in the same
run on the same machine; medians of `--runs` runs. P4 (the namespace swarm lab) lives
elsewhere. Payloads are cached in bench/out/cache/ (the 4 GiB one of P3 is deleted after
use unless --keep); how each figure is made is in download.py, upload.py, cost.py,
recheck.py and scale.py of this package.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bitswarm_lab.peers.torrent_files import parse_size

from .. import REPO
from .cost import p3_report
from .download import p1_report
from .recheck import p5_report
from .report import TargetReport, loadavg, machine_line, write_results
from .scale import p6_report, run_scale
from .transfers import OUT, TransferBench
from .upload import p2_report
from .v2 import p1_v2_report

TARGETS = ("p1", "p2", "p3", "p5", "p6")
P5_MIN_RUNS = 7  # a 1 GiB recheck takes a third of a second: more runs, same cost


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench perf",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "target", nargs="+", choices=(*TARGETS, "all"), help="one or more (p1 p3 share runs)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="P1/P3: times a run is made again while other programs keep more than 0.3 "
        "cores busy (0 on a machine that is never quiet)",
    )
    parser.add_argument(
        "--seeders",
        default="libtorrent,aria2,transmission",
        help="P1: the seeders, comma-separated (libtorrent is the target's)",
    )
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--piece-size", type=parse_size, default=parse_size("1MiB"))
    parser.add_argument(
        "--meta",
        choices=("v1", "v2"),
        default="v1",
        help="p1 only: v2 times a v2-only torrent against v1 of the same data (bench/perf/v2.py)",
    )
    parser.add_argument(
        "--slow-size",
        type=parse_size,
        default=parse_size("256MiB"),
        help="P1 payload for the Transmission seeder (it is slow)",
    )
    parser.add_argument(
        "--fanout-size",
        type=parse_size,
        default=parse_size("256MiB"),
        help="P2 payload per leecher when several download at once",
    )
    parser.add_argument("--leechers", type=int, default=8, help="P2 simultaneous leechers")
    parser.add_argument(
        "--big-size",
        type=parse_size,
        default=parse_size("4GiB"),
        help="P3 payload for the peak-RSS download",
    )
    parser.add_argument("--big-runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the P3 big payload cached")
    parser.add_argument("--torrents", type=int, default=1000, help="P6 seeding torrents")
    parser.add_argument("--torrent-size", type=parse_size, default=parse_size("64KiB"))
    parser.add_argument("--peers", type=int, default=500, help="P6 connected peers")
    parser.add_argument("--windows", type=int, default=3, help="P6 idle windows (median)")
    parser.add_argument("--window", type=float, default=30.0, help="P6 seconds per window")
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=30.0,
        help="P6 cProfile of the idle host afterwards (0: none)",
    )
    parser.add_argument(
        "--write-results",
        type=Path,
        metavar="FILE",
        help="replace these targets' subsections of FILE's performance section",
    )
    return parser.parse_args(argv)


def revision() -> str:
    """The commit measured, and whether the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {head}{' + uncommitted changes in src/' if dirty else ''}"


def command_line(argv: list[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    return shlex.join([".venv/bin/python", "-m", "bench", "perf", *words])


def intro(args: argparse.Namespace, started: str, load: str) -> str:
    return (
        f"Targets of the Performance issue (P4, the namespace swarm lab, is reported "
        f"elsewhere). Regenerate with `.venv/bin/python -m bench perf all --runs 3 "
        f"--write-results bench/RESULTS.md`, or one target at a time (`p1`, `p2`, `p3`, "
        f"`p5`, `p6`); each subsection names the command that made it. Last written "
        f"{started} on {machine_line()}; load average (1/5/15 min) when that run began: "
        f"{load}. Other programs share this machine: each run records how many cores "
        "other programs kept busy meanwhile (from /proc) and is made again if that was "
        "over 0.3. Every ratio compares runs made in the same invocation on the same "
        "machine; absolute figures vary between runs and machines."
    )


def check_disk(args: argparse.Namespace, targets: list[str]) -> str | None:
    need = 0
    if "p3" in targets:
        need += 2 * args.big_size  # the payload, and one leecher's copy
    if any(t in targets for t in ("p1", "p2", "p3", "p5")):
        need += 2 * args.size
    OUT.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(OUT).free
    if need > free:
        return f"needs about {need >> 30} GiB free in {OUT}, has {free >> 30} GiB"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [t for t in TARGETS if "all" in args.target or t in args.target]
    if args.meta == "v2" and (targets != ["p1"] or args.write_results is not None):
        print("perf: --meta v2 goes with p1 alone, and without --write-results (its section "
              "of bench/RESULTS.md is written by hand)", file=sys.stderr)  # fmt: skip
        return 2
    problem = check_disk(args, targets)
    if problem is not None:
        print(f"perf: {problem}", file=sys.stderr)
        return 2
    started, load = time.strftime("%Y-%m-%d %H:%M %Z"), loadavg()
    print(f"perf: starting {', '.join(targets)} at load average {load}", file=sys.stderr)
    command = command_line(argv)
    bench = TransferBench(args.runs, args.piece_size, args.retries)
    reports: list[TargetReport] = []
    for target in targets:
        when = (f"started {time.strftime('%Y-%m-%d %H:%M')}, {revision()}, load average "
                f"{loadavg()}")  # fmt: skip
        match target:
            case "p1" if args.meta == "v2":
                report = p1_v2_report(bench, args.size, command)
            case "p1":
                report = p1_report(bench, args.size, args.slow_size, command,
                                   tuple(args.seeders.split(",")))  # fmt: skip
            case "p2":
                report = p2_report(bench, args.size, args.fanout_size, args.leechers, command)
            case "p3":
                report = p3_report(bench, args.size, args.big_size, args.big_runs, args.keep,
                                   command)  # fmt: skip
            case "p5":
                report = p5_report(bench, args.size, max(args.runs, P5_MIN_RUNS), command)
            case _:
                result = run_scale(
                    torrents=args.torrents, torrent_size=args.torrent_size, peers=args.peers,
                    windows=args.windows, window_seconds=args.window,
                    profile_seconds=args.profile_seconds,
                )  # fmt: skip
                report = p6_report(result, command)
        report.when = when
        reports.append(report)
        print(report.markdown(), flush=True)
    if args.write_results is not None:
        write_results(args.write_results, intro(args, started, load), reports)
        print(f"perf: wrote {', '.join(r.key for r in reports)} to {args.write_results}",
              file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
