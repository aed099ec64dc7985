"""The daemon benchmark's section of bench/RESULTS.md, and its one-line summaries.

`write_section` re-reads the file, replaces the `## Daemon with N torrents` section (from
its heading to the next `## `) or appends it, and leaves every other section as it was.
Measured figures are written by this code; the "Reading" text below the table is added
by hand after looking at them (a profile, say), and a rewrite keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.perf.report import table

__all__ = ["HEADING", "Row", "merge", "write_section"]

HEADING = "## Daemon with many torrents (issue 11)"
_READING = "<!-- daemon reading: kept across rewrites -->"
_TARGETS = (
    ("start-up (process start to ready line)", "ready", 5.0, "s"),
    ("idle CPU", "idle_cpu", 2.0, "% of a core"),
    ("torrent-get, transmission-remote -l fields (median)", "torrent_get", 50.0, "ms"),
    ("sync/maindata diff (median)", "diff", 20.0, "ms"),
    ("web UI list update, SSE message to next frame (median)", "webui", 100.0, "ms"),
)


@dataclass(frozen=True, slots=True)
class Row:
    client: str
    load: str
    ready: float | None  # s
    loaded: float | None  # s, until all N in the load's state
    idle_cpu: float | None  # % of one core
    rss: float | None  # MiB
    torrent_get: tuple[float, float] | None  # ms median, p95
    torrent_get_bytes: int
    diff: tuple[float, float] | None
    diff_bytes: int
    full: tuple[float, float] | None
    webui: tuple[float, float] | None
    webui_sync: tuple[float, float] | None
    webui_note: str
    error: str

    def value(self, key: str) -> float | None:
        v = getattr(self, key)
        if isinstance(v, tuple):
            return float(v[0])
        return None if v is None else float(v)

    def summary(self) -> str:
        if self.error:
            return f"{self.client} {self.load}: {self.error}"
        parts = [
            f"{self.client} {self.load}:",
            f"ready {_s(self.ready)}",
            f"all in state {_s(self.loaded)}",
        ]
        parts.append(f"idle {_pct(self.idle_cpu)}, RSS {_num(self.rss, 0)} MiB")
        for name, v in (
            ("torrent-get", self.torrent_get),
            ("maindata diff", self.diff),
            ("full", self.full),
            ("web UI", self.webui),
        ):
            if v is not None:
                parts.append(f"{name} {_lat(v)}")
        return " ".join(parts)


def _s(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} %"


def _num(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _lat(v: tuple[float, float] | None) -> str:
    return "–" if v is None else f"{v[0]:.1f} / {v[1]:.1f}"


def render(rows: Sequence[Row], **info: object) -> str:
    n, runs = info["n"], info["runs"]
    header = [
        "load",
        "daemon",
        "ready s",
        f"all {n} in state s",
        "idle CPU %",
        "RSS MiB",
        "torrent-get ms p50 / p95",
        "maindata diff ms p50 / p95",
        "maindata full ms p50 / p95",
        "web UI update ms p50 / p95",
    ]
    body = []
    notes = []
    for r in rows:
        if r.error:
            body.append([r.load, r.client, *["–"] * 8])
            notes.append(f"- {r.client}, {r.load}: {r.error}")
            continue
        body.append(
            [
                r.load,
                r.client,
                _num(r.ready, 2),
                _num(r.loaded, 2),
                _num(r.idle_cpu, 2),
                _num(r.rss, 0),
                _lat(r.torrent_get),
                _lat(r.diff),
                _lat(r.full),
                _lat(r.webui),
            ]
        )
    verdicts = []
    for r in rows:
        if r.client != "bitswarm" or r.error:
            continue
        for label, key, limit, unit in _TARGETS:
            v = r.value(key)
            if v is None:
                continue
            word = "met" if v < limit else "NOT met"
            verdicts.append(
                f"- {r.load}, {label}: **{v:.2f} {unit}** (target < {limit:g} {unit}): {word}"
            )
    sizes = [
        f"{r.client} {r.load}: torrent-get {r.torrent_get_bytes:,} B, diff {r.diff_bytes:,} B"
        for r in rows
        if not r.error and (r.torrent_get_bytes or r.diff_bytes)
    ]
    web = [f"- web UI ({r.load}): {r.webui_note}" for r in rows if r.webui_note]
    lines = [
        HEADING,
        "",
        f"Command: `.venv/bin/{info['command']}`; run {info['when']} on {info['machine']} "
        f"(2 cores shared with other work; {info['load_line']}).",
        "",
        f"Load: {n} torrents, each one file of 16–64 KiB (16 KiB pieces, no tracker), the data "
        'present; "seeding": added started, every torrent seeds; "stopped": added paused. '
        "DHT, LSD, PEX and port mapping off, loopback only. Each daemon gets the torrents "
        "through its own API on a first start, is stopped with SIGTERM, then started "
        f'{runs} times on that state. "ready": process start to bitswarm\'s ready line, or '
        'to the first answer of the others\' API; "all in state": until every torrent is '
        f"listed seeding (or stopped). Idle CPU: utime + stime over {info['idle_seconds']:g} s "
        f"after settling. Latencies: {info['calls']} requests a run over one kept-alive "
        "connection, first byte sent to last byte read; the maindata diffs follow each reply's "
        "rid after a full update. Medians over the runs, latencies over all runs' calls.",
        "",
        f"torrent-get fields ({info['fields_source']}): `{', '.join(info['fields'])}`"  # type: ignore[arg-type]
        ".",
        "",
        table(header, body, "llrrrrrrrr"),
        "",
    ]
    if notes:
        lines += ["Not measured:", *notes, ""]
    if verdicts:
        lines += ["Targets (bitswarm):", *verdicts, ""]
    if web:
        lines += [*web, ""]
    if sizes:
        lines += ["Reply sizes: " + "; ".join(sizes) + ".", ""]
    return "\n".join(lines)


def merge(text: str, section: str) -> str:
    """`text` with the daemon section replaced by `section`; the hand-written reading
    below the marker in the old section is kept."""
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.M | re.S)
    found = pattern.search(text)
    old = found.group(0) if found is not None else ""
    tail = old[old.index(_READING) :] if _READING in old else _READING
    section = section.rstrip("\n") + "\n\n" + tail.rstrip("\n") + "\n"
    if found is None:
        return text.rstrip("\n") + "\n\n" + section
    return text[: found.start()] + section + "\n" + text[found.end() :].lstrip("\n")


def write_section(path: Path, rows: Sequence[Row], **info: object) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    merged = merge(text, render(rows, **info))
    path.write_text(merged.rstrip("\n") + "\n")
