"""The sweep's figures: one `Point` per lab run, kept as JSON, told as Markdown tables.

A point is what one `bitswarm lab` run measured for N leechers of one mode (an
implementation, peer-to-peer or client-server): T_all, the Kumar–Ross bound T_min of the
same plan and their ratio, plus what explains a low ratio on a shared machine: when the
last leecher received its first verified piece (start-up of N processes at once), how
many copies of the file the seeder and the leechers sent (qdisc counters), the peers' CPU
time, and the load average around the run. Pure: no processes, no namespaces; run.py
makes the points, plot.py draws them.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bitswarm_lab.swarm_run import LabResult

__all__ = [
    "Point",
    "detail_table",
    "load_points",
    "modes_of",
    "point_of",
    "replace_section",
    "save_points",
    "summary_table",
]


@dataclass(frozen=True, slots=True)
class Point:
    """One run: `mode` is e.g. "bitswarm" or "libtorrent-cs" (client-server)."""

    mode: str
    leechers: int
    size: int
    seed_up_bps: int
    leech_up_bps: int
    t_min: float
    t_all: float | None  # None: not every leecher finished
    first_byte_last: float | None  # when the slowest leecher got its first verified piece
    seeder_copies: float | None  # bytes the seeder's link sent / F
    leecher_copies: float | None  # mean over leechers of bytes sent / F
    cpu_seconds: float | None  # all peers together, until T_all
    load_start: float  # 1-minute load average before the run
    load_end: float  # and after it
    failure: str | None = None

    @property
    def ratio(self) -> float | None:
        """T_min / T_all: 1.0 would be the bound reached; None if the run did not finish."""
        if self.t_all is None or self.t_all <= 0:
            return None
        return self.t_min / self.t_all

    @property
    def client_server(self) -> bool:
        return self.mode.endswith("-cs")


def point_of(mode: str, result: LabResult, load_start: float, load_end: float) -> Point:
    """The figures of one finished (or failed) lab run."""
    size = result.plan.size
    seeder = result.seeders[0]
    firsts = [
        next((t for t, progress in peer.samples if progress > 0), None) for peer in result.leechers
    ]
    sent = [peer.sent_bytes for peer in result.leechers if peer.sent_bytes is not None]
    cpu = [peer.cpu_seconds for peer in result.peers if peer.cpu_seconds is not None]
    return Point(
        mode=mode,
        leechers=len(result.leechers),
        size=size,
        seed_up_bps=seeder.plan.up_bps or 0,
        leech_up_bps=result.plan.leechers[0].up_bps or 0,
        t_min=result.bound.t_min,
        t_all=result.t_all,
        first_byte_last=None if None in firsts else max(t for t in firsts if t is not None),
        seeder_copies=None if seeder.sent_bytes is None else seeder.sent_bytes / size,
        leecher_copies=statistics.mean(sent) / size if sent else None,
        cpu_seconds=sum(cpu) if cpu else None,
        load_start=load_start,
        load_end=load_end,
        failure=result.failure.splitlines()[0] if result.failure else None,
    )


def save_points(path: Path, points: Sequence[Point]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(point) for point in points], indent=1) + "\n")


def load_points(path: Path) -> list[Point]:
    return [Point(**record) for record in json.loads(path.read_text())]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def modes_of(points: Sequence[Point]) -> list[str]:
    """The modes in the order they first appear."""
    return list(dict.fromkeys(point.mode for point in points))


def summary_table(points: Sequence[Point]) -> str:
    """T_all against N, one column per mode: 'T_all s (T_min/T_all)'; the bound beside."""
    modes = modes_of(points)
    counts = sorted({point.leechers for point in points})
    by_key = {(point.mode, point.leechers): point for point in points}
    kinds = [cs for cs in (False, True) if any(p.client_server is cs for p in points)]
    head = ["N"]
    head += ["T_min c-s s (N·F/u_s)" if cs else "T_min p2p s" for cs in kinds]
    head += [f"{mode} T_all s (T_min/T_all)" for mode in modes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for n in counts:
        cells = [str(n)]
        for cs in kinds:
            bounds = [p.t_min for p in points if p.leechers == n and p.client_server is cs]
            cells.append(_num(bounds[0] if bounds else None))
        for mode in modes:
            point = by_key.get((mode, n))
            if point is None:
                cells.append("not run")
            elif point.t_all is None:
                cells.append(f"unfinished ({point.failure or '?'})"[:60])
            else:
                cells.append(f"{point.t_all:.1f} ({point.ratio:.2f})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


DETAIL_HEADER = (
    "| N | mode | T_min s | T_all s | T_min/T_all | last first byte s | seeder sent (F) "
    "| leecher sent (F, mean) | CPU s (all peers) | load 1-min before/after |\n"
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def detail_table(points: Sequence[Point]) -> str:
    """Every run with the figures that explain it, in the order they ran."""
    rows = [
        "| " + " | ".join([
            str(p.leechers), p.mode, _num(p.t_min), _num(p.t_all), _num(p.ratio, 3),
            _num(p.first_byte_last), _num(p.seeder_copies, 2), _num(p.leecher_copies, 2),
            _num(p.cpu_seconds), f"{p.load_start:.1f} / {p.load_end:.1f}",
        ]) + " |"
        for p in points
    ]  # fmt: skip
    return "\n".join([DETAIL_HEADER, *rows])


def replace_section(path: Path, heading: str, body: str) -> None:
    """Replace the `heading` section of a Markdown file (up to the next '## '), or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    section = f"{heading}\n\n{body.strip()}\n\n"
    found = pattern.search(text)
    if found is not None:
        text = text[: found.start()] + section + text[found.end() :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
