"""`bitswarm remote set`: its options as `torrent-set` arguments (pure).

People number files from 1 (as `bitswarm info`, aria2 and `remote files` show them); the
RPC counts from 0. An empty file list means "every file" to Transmission (spec 3.2), so
no list is ever sent empty. Rates are bytes/s on the command line (parsed like every other
rate of the CLI, 0 = unlimited) and "KB"/s on the wire, where the daemon says how many
bytes its KB holds (`session-get` units; Transmission's daemon uses 1000).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BitswarmError
from .render import parse_size

__all__ = [
    "FileChanges",
    "file_arguments",
    "file_changes",
    "limit_arguments",
    "parse_file_numbers",
    "parse_rate",
    "parse_ratio",
]

LEVELS = ("high", "normal", "low", "skip")


def parse_rate(text: str) -> int:
    """A rate option: a size per second ("2MiB", "500k"), or "unlimited" (= 0)."""
    if text.strip().lower() in ("unlimited", "none", "off"):
        return 0
    return parse_size(text)


parse_rate.__name__ = "rate"  # argparse names the type in its error message


def parse_ratio(text: str) -> tuple[int, float | None]:
    """`--ratio`: a number (this torrent's own limit), "global" or "unlimited".

    Returns Transmission's (seedRatioMode, seedRatioLimit): 0 global, 1 own, 2 unlimited.
    """
    word = text.strip().lower()
    if word == "global":
        return 0, None
    if word in ("unlimited", "none", "off"):
        return 2, None
    try:
        value = float(word)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a ratio: {text!r} (a number like 2.0, global or unlimited)")
    return 1, value


parse_ratio.__name__ = "ratio"


def parse_file_numbers(text: str) -> list[int]:
    """ "1,3,5-7" -> [1, 3, 5, 6, 7]: file numbers counted from 1."""
    numbers: list[int] = []
    for part in text.split(","):
        part = part.strip()
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            raise BitswarmError(f"not a file number or range: {part!r} (e.g. 1,3,5-7)")
        lo, hi = int(first), int(last) if sep else int(first)
        if lo < 1 or hi < lo:
            raise BitswarmError(f"files are numbered from 1: {part!r}")
        numbers.extend(range(lo, hi + 1))
    return numbers


@dataclass(slots=True)
class FileChanges:
    """What the file options ask for, by file number (from 1)."""

    wanted: dict[int, bool] = field(default_factory=dict)
    priority: dict[int, str] = field(default_factory=dict)  # "high" | "normal" | "low"

    def __bool__(self) -> bool:
        return bool(self.wanted or self.priority)

    def highest(self) -> int:
        return max([0, *self.wanted, *self.priority])


def file_changes(priorities: Sequence[str], get: Sequence[str], skip: Sequence[str]) -> FileChanges:
    """Merge `--priority N,..=LEVEL`, `--get N,..` and `--skip N,..`.

    A priority other than skip also means "download it". Asking for one file to be both
    downloaded and skipped is an error rather than a silent last-one-wins.
    """
    changes = FileChanges()

    def want(n: int, value: bool, what: str) -> None:
        if changes.wanted.get(n, value) != value:
            raise BitswarmError(f"file {n} is both wanted and skipped ({what})")
        changes.wanted[n] = value

    for spec in priorities:
        numbers, sep, level = spec.rpartition("=")
        level = level.strip().lower()
        if not sep or level not in LEVELS:
            raise BitswarmError(f"--priority wants N=high|normal|low|skip, not {spec!r}")
        for n in parse_file_numbers(numbers):
            if level == "skip":
                want(n, False, spec)
            else:
                want(n, True, spec)
                changes.priority[n] = level
    for text in get:
        for n in parse_file_numbers(text):
            want(n, True, f"--get {text}")
    for text in skip:
        for n in parse_file_numbers(text):
            want(n, False, f"--skip {text}")
    return changes


def file_arguments(changes: FileChanges, file_count: int, torrent: str) -> dict[str, Any]:
    """The torrent-set file arguments for one torrent of `file_count` files."""
    if changes.highest() > file_count:
        raise BitswarmError(
            f"{torrent} has {file_count} file{'s' if file_count != 1 else ''}: "
            f"there is no file {changes.highest()}"
        )
    lists: dict[str, list[int]] = {}
    for n, wanted in sorted(changes.wanted.items()):
        lists.setdefault("files-wanted" if wanted else "files-unwanted", []).append(n - 1)
    for n, level in sorted(changes.priority.items()):
        lists.setdefault(f"priority-{level}", []).append(n - 1)
    return {key: value for key, value in lists.items() if value}


def limit_arguments(
    download: int | None, upload: int | None, no_limits: bool, speed_bytes: int
) -> dict[str, Any]:
    """downloadLimit/uploadLimit (in the daemon's KB/s) and their switches."""
    args: dict[str, Any] = {}
    if no_limits:
        args.update(downloadLimited=False, uploadLimited=False)
    for key, rate in (("download", download), ("upload", upload)):
        if rate is None:
            continue
        if rate == 0:
            args[f"{key}Limited"] = False
        else:
            args[f"{key}Limited"] = True
            args[f"{key}Limit"] = max(1, round(rate / speed_bytes))
    return args
