"""Human and JSON output for the command line: sizes, progress bars, torrent tables."""

from __future__ import annotations

import datetime as _dt
import re
import sys
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ..magnet import Magnet
from ..metainfo import Metainfo
from .selection import content_files

__all__ = [
    "ByteProgress",
    "console",
    "format_size",
    "magnet_json",
    "parse_size",
    "print_magnet",
    "print_torrent",
    "torrent_json",
]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 10**3,
    "kib": 2**10,
    "m": 2**20,
    "mb": 10**6,
    "mib": 2**20,
    "g": 2**30,
    "gb": 10**9,
    "gib": 2**30,
    "t": 2**40,
    "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Parse "256KiB", "1MiB", "1m", "16384" into bytes (binary units for k/m/g)."""
    m = _SIZE_RE.match(text)
    if m is None or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (try 256KiB or 1MiB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


parse_size.__name__ = "size"  # argparse names the type in its error message


def format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class _PipeConsole(Console):
    """rich exits with status 1 when the reader of stdout goes away (`head -1`); a closed
    pipe is no error, so it goes back to `cli.main`, which exits 0 without a word."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def console() -> Console:
    """The console for a command's output on stdout."""
    return _PipeConsole(highlight=False, soft_wrap=True)


class ByteProgress:
    """A rich progress bar over a byte count, or nothing when quiet or not a terminal."""

    def __init__(self, description: str, *, quiet: bool = False) -> None:
        self._enabled = not quiet and sys.stderr.isatty()
        self._description = description
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ByteProgress:
        if self._enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self._description, total=None)
        return self

    def update(self, done: int, total: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total)

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, ev, tb)


def _date(ts: int | None) -> str | None:
    if ts is None:
        return None
    try:
        return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _version(meta: Metainfo) -> str:
    info = meta.info
    if info.is_hybrid:
        return "hybrid (v1 + v2)"
    return "v2" if info.is_v2 else "v1"


def torrent_json(meta: Metainfo) -> dict[str, Any]:
    info = meta.info
    hashes = info.info_hashes
    return {
        "name": info.name,
        "version": _version(meta),
        "info_hash_v1": hashes.hex_v1,
        "info_hash_v2": hashes.hex_v2,
        "piece_length": info.piece_length,
        "num_pieces": info.num_pieces,
        "total_length": info.total_length,
        "private": info.private,
        "trackers": [list(tier) for tier in meta.announce_tiers],
        "web_seeds": list(meta.web_seeds),
        "comment": meta.comment,
        "created_by": meta.created_by,
        "creation_date": meta.creation_date,
        "files": _files_json(meta),
        "issues": list(meta.issues),
        "magnet": Magnet.from_metainfo(meta).to_uri(),
    }


def _files_json(meta: Metainfo) -> list[dict[str, Any]]:
    """Every entry of the file list; `number` is what `download --select` takes (from 1,
    pad files unnumbered: None)."""
    numbers = {f.entry: f.number for f in content_files(meta)}
    return [
        {
            "number": numbers.get(entry),
            "path": "/".join(f.path),
            "length": f.length,
            "offset": f.offset,
            "pad": f.is_pad,
        }
        for entry, f in enumerate(meta.info.files)
    ]


def print_torrent(meta: Metainfo, *, console: Console) -> None:
    info = meta.info
    hashes = info.info_hashes
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("Name", info.name)
    table.add_row("Version", _version(meta))
    if hashes.hex_v1:
        table.add_row("Info hash v1", hashes.hex_v1)
    if hashes.hex_v2:
        table.add_row("Info hash v2", hashes.hex_v2)
    table.add_row("Size", f"{format_size(info.total_length)} ({info.total_length:,} bytes)")
    table.add_row("Pieces", f"{info.num_pieces:,} × {format_size(info.piece_length)}")
    table.add_row("Private", "yes" if info.private else "no")
    for i, tier in enumerate(meta.announce_tiers):
        table.add_row(
            f"Tracker tier {i}" if len(meta.announce_tiers) > 1 else "Trackers", "\n".join(tier)
        )
    if meta.web_seeds:
        table.add_row("Web seeds", "\n".join(meta.web_seeds))
    for label, value in (
        ("Created by", meta.created_by),
        ("Created", _date(meta.creation_date)),
        ("Comment", meta.comment),
    ):
        if value:
            table.add_row(label, value)
    for issue in meta.issues:
        table.add_row("Note", issue)
    console.print(table)
    files = content_files(meta)
    ft = Table(title=f"{len(files)} file{'s' if len(files) != 1 else ''}", title_justify="left")
    ft.add_column("#", justify="right")  # what `download --select` takes
    ft.add_column("Size", justify="right")
    ft.add_column("Path", overflow="fold")
    shown = files[:200]
    for f in shown:
        ft.add_row(str(f.number), format_size(f.length), f.path)
    if len(files) > len(shown):
        ft.add_row("", "…", f"and {len(files) - len(shown)} more (use --json for all)")
    console.print(ft)


def magnet_json(m: Magnet) -> dict[str, Any]:
    return {
        "info_hash_v1": m.info_hash_v1.hex() if m.info_hash_v1 else None,
        "info_hash_v2": m.info_hash_v2.hex() if m.info_hash_v2 else None,
        "name": m.display_name,
        "trackers": list(m.trackers),
        "web_seeds": list(m.web_seeds),
        "peers": list(m.peers),
        "select_only": list(m.select_only) if m.select_only is not None else None,
    }


def print_magnet(m: Magnet, *, console: Console) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in magnet_json(m).items():
        if value in (None, []):
            continue
        label = key.replace("_", " ").capitalize()
        text = "\n".join(map(str, value)) if isinstance(value, list) else str(value)
        table.add_row(label, text)
    console.print(table)
