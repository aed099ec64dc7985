"""Seed scalability sweep (issue 15, target 6): T_all against N leechers, p2p and client-server.

    .venv/bin/python -m bench sweep [--counts 1,2,4,8,16,32]
        [--modes bitswarm,libtorrent,bitswarm-cs,libtorrent-cs] [--size 16MiB]
        [--seed-up 20mbit] [--up 20mbit] [--resume] [--write-results bench/RESULTS.md]

(as root: the lab makes network namespaces and tc qdiscs). For each N, and within it each
mode in turn (so the modes of one N run side by side under the same load), one `bitswarm
lab` run (bitswarm_lab.swarm_run): 1 seeder and N leechers of one implementation, each in
its own namespace on a bridge, uploads shaped by tc htb, opentracker as the tracker.

- A mode `IMPL` is peer-to-peer: every leecher uploads at `--up` to the others.
- A mode `IMPL-cs` is the client-server baseline: the same programs and links, but each
  leecher's routes reach only the tracker and the seeder (SwarmPlan.client_server), so no
  leecher can serve another and the seeder sends all N copies: T_min = N·F/u_s. Blocking
  the leecher-to-leecher paths, rather than shaping the leechers' uplinks to nothing
  (which would also starve their ACKs and requests to the seeder) or setting each
  program's upload limit (whose meaning differs between programs), measures the same
  thing for both programs.

The defaults keep a run short on two shared cores: F = 16 MiB and u_s = 20 Mbit/s make
F/u_s = 6.7 s, so the 32-leecher client-server run needs 215 s; leechers upload at u_s too,
so the peer-to-peer bound N·F/(u_s + N·u) stays below F/u_s and T_min is flat at F/u_s for
every N. 64 KiB pieces give 256 pieces, enough for 32 leechers to have different ones to
trade. Each run's figures go to OUT/sweep.json as soon as it ends (`--resume` skips the
runs already there), the table into the "## Seed scalability sweep" section of RESULTS.md
(a "### Reading" subsection already in it, a person's reading, is kept), the plot to
OUT/sweep.png (and `--figure`, a committed copy).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bitswarm_lab.lab_report import format_bytes
from bitswarm_lab.peers.torrent_files import parse_size
from bitswarm_lab.rates import format_rate, parse_rate
from bitswarm_lab.swarm_plan import plan_swarm
from bitswarm_lab.swarm_run import run_lab

from .. import OUT as BENCH_OUT
from .plot import compact_png, render_sweep_plot
from .report import (
    Point,
    detail_table,
    load_points,
    modes_of,
    point_of,
    replace_section,
    save_points,
    summary_table,
)

__all__ = ["Mode", "main", "parse_modes"]

SECTION = "## Seed scalability sweep (issue 15, target 6)"
READING = "### Reading"
OUT = BENCH_OUT / "sweep"
COUNTS = (1, 2, 4, 8, 16, 32)
MODES = "bitswarm,libtorrent,bitswarm-cs,libtorrent-cs"


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    impl: str
    client_server: bool


def parse_modes(text: str) -> list[Mode]:
    """'bitswarm,libtorrent-cs' -> the modes, each an implementation and p2p or c-s."""
    modes = []
    for part in (word.strip() for word in text.split(",") if word.strip()):
        impl, cs = (part[:-3], True) if part.endswith("-cs") else (part, False)
        modes.append(Mode(part, impl, cs))
    return modes


def run_point(mode: Mode, n: int, args: argparse.Namespace) -> Point:
    plan = plan_swarm(
        [(mode.impl, 1)], [(mode.impl, n)], size=parse_size(args.size),
        piece_size=parse_size(args.piece_size), up_bps=parse_rate(args.up),
        seed_up_bps=parse_rate(args.seed_up), client_server=mode.client_server,
    )  # fmt: skip
    t_min = plan.bound().t_min
    # Start-up of N processes on a shared machine, then the slack of a slow run.
    plan = replace(plan, timeout=args.timeout_factor * t_min + 60.0)
    load_start = os.getloadavg()[0]
    print(f"N={n} {mode.name}: T_min {t_min:.1f} s, load {load_start:.1f} ...",
          file=sys.stderr, flush=True)  # fmt: skip
    result = run_lab(plan)
    point = point_of(mode.name, result, load_start, os.getloadavg()[0])
    if result.failure:
        print(f"  failure: {result.failure.splitlines()[0]}", file=sys.stderr)
    return point


def section_body(args: argparse.Namespace, points: list[Point], figure: str) -> str:
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}"
    counts = ",".join(str(n) for n in sorted({point.leechers for point in points}))
    command = (
        f"`.venv/bin/python -m bench sweep --counts {counts} --modes "
        f"{','.join(modes_of(points))} --size {args.size} --seed-up {args.seed_up} "
        f"--up {args.up} --write-results bench/RESULTS.md`"
    )
    setup = (
        f"the seeder's upload shaped to {format_rate(parse_rate(args.seed_up))} and each "
        f"leecher's to {format_rate(parse_rate(args.up))} by tc htb, downloads unlimited, a "
        f"{format_bytes(parse_size(args.size))} payload in "
        f"{format_bytes(parse_size(args.piece_size))} pieces"
    )
    return f"""Command (as root): {command}, run {time.strftime("%Y-%m-%d")} on {machine}.

Setup: 1 seeder and N leechers of one program (`bitswarm lab`, one network namespace per
peer on a bridge, opentracker), {setup}; leechers stay as seeds once complete.
Modes `IMPL` are peer-to-peer; `IMPL-cs` is the client-server baseline: the same programs
and links, but each leecher's routes reach only the seeder and the tracker, so no leecher
serves another (their "leecher sent" is ACKs and requests only). `bitswarm` runs at its
defaults, which in the lab means uTP between its peers (`--transport both` races uTP with
TCP and uTP wins); `bitswarm-tcp` is `--transport tcp`, the transport of the lab's
libtorrent (uTP off). T_all runs from the leechers' start (all N processes launched at
once) to the last verified copy; T_min is Kumar–Ross from the configured rates:
peer-to-peer max(F/u_s, N·F/(u_s + N·u)) = F/u_s for every N here, client-server
N·F/u_s. tc counts IP headers, so T_min/T_all ≈ 0.96 is the practical ceiling. "last
first byte" is when the slowest leecher had its first verified piece: on two shared
cores, N Python processes starting together take seconds of CPU before any transfer. All
runs of one N ran one after the other; the load average (1 minute, before/after each
run) says how busy the machine was (the sweep's own peers, and any other work). Plot: {figure}.

T_all against N (T_min/T_all in brackets):

{summary_table(points)}

Every run:

{detail_table(points)}
"""


def _shown(path: Path) -> str:
    """`path` relative to the current folder when it lies below it (the repository)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def write_outputs(args: argparse.Namespace, points: list[Point]) -> None:
    """The JSON, the plot (and its committed copy) and, if asked, the RESULTS section."""
    save_points(args.out / "sweep.json", points)
    png = render_sweep_plot(points)
    (args.out / "sweep.png").write_bytes(png)
    figure = str(args.out / "sweep.png")
    if args.figure is not None:
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        args.figure.write_bytes(compact_png(png))
        figure = f"{args.figure} (a 64-colour copy of {_shown(args.out / 'sweep.png')})"
    if args.write_results is not None:
        body = section_body(args, points, figure)
        old = args.write_results.read_text() if args.write_results.exists() else ""
        found = re.search(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", old, re.M | re.S)
        if found is not None and READING in found.group(0):
            body += "\n" + found.group(0)[found.group(0).index(READING) :].strip()
        replace_section(args.write_results, SECTION, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench sweep", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--counts",
        type=lambda text: [int(word) for word in text.split(",")],
        default=list(COUNTS),
        help="leecher counts (default 1,2,4,8,16,32)",
    )
    parser.add_argument("--modes", default=MODES, help=f"IMPL or IMPL-cs, comma-separated: {MODES}")
    parser.add_argument("--size", default="16MiB")
    parser.add_argument("--piece-size", default="64KiB")
    parser.add_argument("--seed-up", default="20mbit", help="the seeder's upload (default 20mbit)")
    parser.add_argument("--up", default="20mbit", help="each leecher's upload (default 20mbit)")
    parser.add_argument("--timeout-factor", type=float, default=3.0, metavar="K",
                        help="give up on a run after K·T_min + 60 s (default 3)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder of JSON and PNG ({OUT})")
    parser.add_argument("--figure", type=Path, help="also write the plot here (a committed copy)")
    parser.add_argument("--resume", action="store_true", help="keep OUT/sweep.json's runs")
    parser.add_argument("--replot", action="store_true",
                        help="run nothing: redraw from OUT/sweep.json")  # fmt: skip
    parser.add_argument("--write-results", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    modes = parse_modes(args.modes)
    saved = args.out / "sweep.json"
    points = load_points(saved) if (args.resume or args.replot) and saved.exists() else []
    if not args.replot:
        done = {(point.mode, point.leechers) for point in points}
        for n in args.counts:
            for mode in modes:
                if (mode.name, n) in done:
                    continue
                points.append(run_point(mode, n, args))
                write_outputs(args, points)  # after every run: an interrupted sweep keeps it
    if not points:
        print("no sweep point to report", file=sys.stderr)
        return 1
    write_outputs(args, points)
    print(summary_table(points))
    return 0 if all(point.t_all is not None for point in points) else 1


if __name__ == "__main__":
    sys.exit(main())
