"""Which files of a torrent to download: `--select`, `--exclude` and BEP 53 `so=`, as priorities.

Files are numbered from 1 in the order of the torrent's file list, pad files (BEP 47) left
out: the `#` column of `bitswarm info` and aria2's `--select-file` count the same way. A
magnet's `so=` counts the same files from 0 (BEP 53: "Files are zero-indexed"), as the
daemon does. Patterns are `fnmatch` globs matched against the path `info` shows
(`Show/Extras/x.nfo`) or that path inside the torrent's folder (`Extras/x.nfo`), so
`Extras/*` and `*.nfo` both work; a `*` also crosses `/`, as fnmatch's does.

The result is one priority per entry of `meta.info.files` (pad files included), what
`Session.add(file_priorities=...)` takes: 4 (normal) for chosen files, 0 for the others.

Pure: text and a torrent in, numbers out; one-line `BitswarmError`s that name the bad
number or pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TypedDict

from ..errors import BitswarmError
from ..metainfo import Metainfo

__all__ = [
    "NORMAL",
    "AddOptions",
    "Choice",
    "ContentFile",
    "content_files",
    "file_priorities",
    "parse_numbers",
]

NORMAL = 4  # the picker's default priority (libtorrent's scale)
_ITEM = re.compile(r"(\d+)(?:-(\d+))?")


@dataclass(frozen=True, slots=True)
class ContentFile:
    """A file people see: its number (from 1), its entry in `info.files`, path (as `info`
    shows it: the torrent's folder first) and size; `inner` is the path inside the folder."""

    number: int
    entry: int
    path: str
    length: int
    inner: str


class AddOptions(TypedDict):
    """The keyword arguments of `Session.add` a `Choice` sets."""

    file_priorities: list[int] | None
    sequential: bool
    first_last: bool


@dataclass(frozen=True, slots=True)
class Choice:
    """What to download (None: every file) and in which order."""

    file_priorities: list[int] | None
    sequential: bool = False
    first_last: bool = False

    def add_options(self) -> AddOptions:
        return {
            "file_priorities": self.file_priorities,
            "sequential": self.sequential,
            "first_last": self.first_last,
        }


def content_files(meta: Metainfo) -> list[ContentFile]:
    """The torrent's files without pad files, numbered from 1."""
    out: list[ContentFile] = []
    single = meta.info.single_file
    for entry, f in enumerate(meta.info.files):
        if not f.is_pad:
            inner = "/".join(f.path if single or len(f.path) < 2 else f.path[1:])
            out.append(ContentFile(len(out) + 1, entry, "/".join(f.path), f.length, inner))
    return out


def parse_numbers(text: str, count: int, *, option: str = "--select") -> set[int]:
    """`1,3-5` as {1, 3, 4, 5}; every number must be a file of the `count` there are.

    Raises:
        BitswarmError: an item that is not N or N-M, a range that runs backwards, or a
            number outside 1..count (the message names it).
    """
    out: set[int] = set()
    for raw in text.split(","):
        item = raw.strip()
        m = _ITEM.fullmatch(item)
        if m is None:
            raise BitswarmError(f"{option}: {item!r} is not a file number or a range like 3-5")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            raise BitswarmError(f"{option}: the range {item} runs backwards")
        for n in (first, last):
            if not 1 <= n <= count:
                raise BitswarmError(
                    f"{option}: there is no file {n}: the torrent has {_files(count)} "
                    "(see `bitswarm info`)"
                )
        out.update(range(first, last + 1))
    return out


def file_priorities(
    meta: Metainfo,
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    select_only: Iterable[int] | None = None,
    exclude_must_match: bool = True,
) -> list[int] | None:
    """One priority per entry of `meta.info.files`, or None when every file is wanted.

    `select` holds `--select` texts (several are joined); without one, BEP 53 `select_only`
    indices (from 0; those beyond the torrent's files are ignored, as a link may be older
    than a torrent's last edit) choose, else every file does. `exclude` patterns then take
    files away. An `exclude` pattern that matches no file is a mistake (a typo), unless
    `exclude_must_match` is false: one `download` of several torrents applies the same
    patterns to each, and `'*.nfo'` need not match in every one.

    Raises:
        BitswarmError: a bad number (see `parse_numbers`), a pattern that matches no file
            (when it must), or a choice that leaves no file to download.
    """
    files = content_files(meta)
    chosen: set[int] = {f.number for f in files}
    if select:
        chosen = set()
        for text in select:
            chosen |= parse_numbers(text, len(files))
    elif select_only is not None:
        picked = {i + 1 for i in select_only if 0 <= i < len(files)}
        if picked:
            chosen = picked
    for pattern in exclude:
        matched = {
            f.number for f in files if fnmatchcase(f.path, pattern) or fnmatchcase(f.inner, pattern)
        }
        if not matched and exclude_must_match:
            raise BitswarmError(f"--exclude: {pattern!r} matches no file of the torrent")
        chosen -= matched
    if not chosen:
        raise BitswarmError("no file left to download: --select and --exclude leave none")
    if len(chosen) == len(files):
        return None
    prios = [0] * len(meta.info.files)
    for f in files:
        if f.number in chosen:
            prios[f.entry] = NORMAL
    return prios


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"files 1-{count}"
