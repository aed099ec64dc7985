"""Swarm efficiency benchmark (performance target P4): real swarms in network namespaces.

    .venv/bin/python -m bench swarm-lab [--impls bitswarm,libtorrent] [--size 64MiB]
                                        [--runs 1] [--write-results bench/RESULTS.md]

(as root: it makes network namespaces and tc qdiscs).

For each implementation (seeder and leechers the same program) and each of two cases, runs
`bitswarm lab` (bitswarm_lab.swarm_run) with 1 seeder and 8 leechers, every peer in its own
network namespace on a bridge, uploads limited by tc htb, opentracker as the tracker:
- seed-limited: the seeder uploads at 20 Mbit/s, each leecher at 50 Mbit/s, so
  T_min = F/u_s (the seeder must send every piece once; the leechers can pass them on fast);
- upload-limited: the seeder at 50 Mbit/s, each leecher at 10 Mbit/s, so
  T_min = N·F/(u_s + Σu_i) (every upload link must stay busy until the end).
Prints one Markdown row per run and, with --write-results, replaces the
`## Swarm efficiency (P4)` section of RESULTS.md (a `### Diagnosis` subsection already in it
is kept as written, since it is a person's reading of the plots and logs). Each run's
progress plot goes to bench/out/swarm_lab/.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bitswarm_lab.lab_report import format_bytes
from bitswarm_lab.peers.torrent_files import parse_size
from bitswarm_lab.progress_plot import result_plot
from bitswarm_lab.swarm_plan import plan_swarm
from bitswarm_lab.swarm_run import LabResult, run_lab

from . import OUT as BENCH_OUT

OUT = BENCH_OUT / "swarm_lab"
SECTION = "## Swarm efficiency (P4)"
DIAGNOSIS = "### Diagnosis"
TARGET = 0.85
LEECHERS = 8
MBIT = 10**6


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    seed_up: int
    leech_up: int


CASES = (
    Case("seed-limited", 20 * MBIT, 50 * MBIT),
    Case("upload-limited", 50 * MBIT, 10 * MBIT),
)
HEADER = (
    "| case | implementation | run | T_min s | T_all s | E | first / last leecher s "
    "| seeder sent (copies of F) | seeder link busy | leecher links busy |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def busy(sent: int | None, rate_bps: int, seconds: float | None) -> float | None:
    """Bytes a host sent as a share of what its link could carry in `seconds`."""
    if sent is None or seconds is None or seconds <= 0:
        return None
    return sent * 8 / (rate_bps * seconds)


def row(case: Case, impl: str, run: int, result: LabResult) -> str:
    seeder = result.seeders[0]
    done = [peer.completed for peer in result.leechers if peer.completed is not None]
    spread = f"{min(done):.1f} / {max(done):.1f}" if len(done) == LEECHERS else "unfinished"
    e = result.efficiency
    copies = f"{seeder.sent_bytes / result.plan.size:.2f}" if seeder.sent_bytes else "-"
    seed_busy = busy(seeder.sent_bytes, case.seed_up, result.t_all)
    shares = [busy(peer.sent_bytes, case.leech_up, result.t_all) for peer in result.leechers]
    known = [share for share in shares if share is not None]
    leech_busy = statistics.mean(known) if known else None
    cells = [
        case.name, impl, str(run), f"{result.bound.t_min:.1f}",
        f"{result.t_all:.1f}" if result.t_all is not None else "-",
        f"{e:.3f}" if e is not None else "-",
        spread, copies, _percent(seed_busy), _percent(leech_busy),
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def run_case(case: Case, impl: str, size: int, piece_size: int, run: int) -> LabResult:
    plan = plan_swarm(
        [(impl, 1)], [(impl, LEECHERS)], size=size, piece_size=piece_size,
        up_bps=case.leech_up, seed_up_bps=case.seed_up, timeout=150.0,
    )  # fmt: skip
    print(f"{case.name} / {impl} / run {run}: T_min {plan.bound().t_min:.1f} s ...",
          file=sys.stderr, flush=True)  # fmt: skip
    result = run_lab(plan)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{case.name}-{impl}-{run}.png").write_bytes(result_plot(result))
    return result


def verdicts(results: dict[tuple[str, str], list[LabResult]], impls: list[str]) -> list[str]:
    """One line per case: median E of each implementation against the target and libtorrent."""
    lines = []
    for case in CASES:
        medians: dict[str, float] = {}
        for impl in impls:
            values = [r.efficiency for r in results.get((case.name, impl), [])]
            finished = [value for value in values if value is not None]
            if finished and len(finished) == len(values):
                medians[impl] = statistics.median(finished)
        parts = [f"{impl} E {value:.3f}" for impl, value in medians.items()]
        ours, theirs = medians.get("bitswarm"), medians.get("libtorrent")
        verdict = ""
        if ours is not None:
            meets = ours >= TARGET and (theirs is None or ours >= theirs)
            verdict = "meets P4" if meets else "misses P4"
            verdict += f" (needs E ≥ {TARGET}" + (" and ≥ libtorrent's)" if theirs else ")")
        lines.append(f"- {case.name}: {', '.join(parts) or 'no finished run'}; {verdict}")
    return lines


def section_body(
    args: argparse.Namespace, rows: list[str], verdict_lines: list[str], size: int
) -> str:
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}"
    command = (
        f"`.venv/bin/python -m bench swarm-lab --impls {args.impls} --size {args.size} "
        f"--runs {args.runs} --write-results bench/RESULTS.md`"
    )
    return f"""Command (as root): {command}, run {time.strftime("%Y-%m-%d")} on {machine}. Each
run is `bitswarm lab --impl IMPL --leechers {LEECHERS} --size {args.size} --seed-up R --up R`.

Setup: 1 seeder and {LEECHERS} leechers of the same program, each in its own network
namespace, veth pairs into one bridge; each host's upload shaped by `tc htb` (rate = ceil,
a byte FIFO of about 100 ms behind it; no netem on this kernel, so no added delay);
downloads unlimited; opentracker in a namespace of its own; a {format_bytes(size)} payload
in {format_bytes(parse_size(args.piece_size))} pieces. Leechers stay as seeds once complete.
T_all is from the leechers' start to the last verified copy, start-up included; T_min is
Kumar–Ross from the configured rates (tc counts IP headers, so the best payload rate is
about 96% of them: E ≈ 0.96 is the practical ceiling). "seeder sent" and "links busy" are
the hosts' qdisc byte counters until T_all (headers included): a seeder far above 1.0 copy
in the seed-limited case sent pieces more than once; links under ~95% busy sat idle.
Plots: bench/out/swarm_lab/CASE-IMPL-RUN.png.

{HEADER}
{chr(10).join(rows)}

Against the target (E ≥ {TARGET} and at least libtorrent's E, median over runs):
{chr(10).join(verdict_lines)}
"""


def write_section(path: Path, body: str) -> None:
    """Replace (or append) this section of RESULTS.md, keeping its ### Diagnosis as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    found = pattern.search(text)
    diagnosis = ""
    if found is not None and DIAGNOSIS in found.group(0):
        diagnosis = found.group(0)[found.group(0).index(DIAGNOSIS) :].strip()
    section = f"{SECTION}\n\n{body.strip()}\n\n" + (f"{diagnosis}\n\n" if diagnosis else "")
    if found is not None:
        text = text[: found.start()] + section + text[found.end() :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench swarm-lab", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--impls",
        default="bitswarm,libtorrent",
        help="comma-separated implementations (default bitswarm,libtorrent)",
    )
    parser.add_argument("--size", default="64MiB")
    parser.add_argument("--piece-size", default="256KiB")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cases", default=",".join(case.name for case in CASES))
    parser.add_argument("--write-results", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    impls = [impl.strip() for impl in args.impls.split(",") if impl.strip()]
    wanted = {name.strip() for name in args.cases.split(",")}
    results: dict[tuple[str, str], list[LabResult]] = {}
    rows: list[str] = []
    print(HEADER)
    for case in (case for case in CASES if case.name in wanted):
        for impl in impls:
            for run in range(1, args.runs + 1):
                result = run_case(case, impl, size, parse_size(args.piece_size), run)
                results.setdefault((case.name, impl), []).append(result)
                rows.append(row(case, impl, run, result))
                print(rows[-1], flush=True)
                if result.failure:
                    print(f"  failure: {result.failure.splitlines()[0]}", file=sys.stderr)
    verdict_lines = verdicts(results, impls)
    print("\n".join(verdict_lines))
    if args.write_results is not None:
        write_section(args.write_results, section_body(args, rows, verdict_lines, size))
        print(f"wrote the {SECTION!r} section of {args.write_results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
