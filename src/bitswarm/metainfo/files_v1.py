"""The BEP 3 file layout of an info dictionary: ``name``, ``length`` or ``files``, text fields.

Single-file torrents give ``length`` and the file is called ``name``; multi-file torrents
give ``files``, each with ``length`` and ``path`` (components under a folder called
``name``). BEP 47 adds ``attr`` (``p`` marks a padding file, whose ``path`` may be omitted)
and symlinks (``l`` with ``symlink path``). The BitComet-era ``name.utf-8`` and
``path.utf-8`` keys are preferred when present and valid, as other clients do.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..bencode import BValue
from ..errors import MetainfoError
from .model import FileEntry
from .paths import decode_text, safe_relative_path
from .v2 import MAX_FILES, MAX_TOTAL_LENGTH

__all__ = ["check_unique_paths", "name_of", "text_of", "v1_files"]


def text_of(d: dict[bytes, BValue], key: bytes, issues: list[str]) -> str | None:
    """A human-readable string field, ``<key>.utf-8`` preferred; None when absent."""
    for k in (key + b".utf-8", key):
        value = d.get(k)
        if isinstance(value, bytes):
            text, replaced = decode_text(value)
            if replaced and k == key:
                issues.append(f"{key.decode()} is not UTF-8; bad bytes became U+FFFD")
            if not replaced or k == key:
                return text
        elif value is not None:
            issues.append(f"{k.decode()} is not a string; it was ignored")
    return None


def name_of(info: dict[bytes, BValue], issues: list[str]) -> str:
    """The torrent's ``name``, required and non-empty."""
    name = text_of(info, b"name", issues)
    if not name:
        raise MetainfoError("the info dictionary has no name")
    return name


def _attr(d: dict[bytes, BValue]) -> str:
    value = d.get(b"attr", b"")
    return value.decode("ascii", "replace") if isinstance(value, bytes) else ""


def _components(value: BValue | None) -> list[bytes] | None:
    if not isinstance(value, list) or not all(isinstance(c, bytes) for c in value):
        return None
    return [c for c in value if isinstance(c, bytes)]


def _path(entry: dict[bytes, BValue], index: int, issues: list[str]) -> list[str] | None:
    utf8 = _components(entry.get(b"path.utf-8"))
    if utf8 is not None:
        try:
            return [c.decode("utf-8") for c in utf8]
        except UnicodeDecodeError:
            pass
    raw = _components(entry.get(b"path"))
    if raw is None:
        return None
    parts: list[str] = []
    for c in raw:
        text, replaced = decode_text(c)
        if replaced:
            issues.append(f"file {index} path is not UTF-8; bad bytes became U+FFFD")
        parts.append(text)
    return parts


def _length(value: BValue | None, what: str) -> int:
    if not isinstance(value, int):
        raise MetainfoError(f"{what} has no integer length")
    if value < 0:
        raise MetainfoError(f"{what} has a negative length ({value})")
    if value > MAX_TOTAL_LENGTH:
        raise MetainfoError(f"{what} claims {value} bytes, more than 2**53")
    return value


def v1_files(
    info: dict[bytes, BValue], name: str, issues: list[str]
) -> tuple[list[FileEntry], bool]:
    """The v1 files in piece-space order, and whether the torrent is single-file.

    Raises:
        MetainfoError: both or neither of ``length`` and ``files``, a bad entry (named by its
            0-based index), or a total beyond 2**53 bytes.
        UnsafePathError: a path that would leave the download folder.
    """
    length = info.get(b"length")
    files = info.get(b"files")
    if length is not None and files is not None:
        raise MetainfoError("the info dictionary has both length and files")
    if files is None:
        if length is None:
            raise MetainfoError("the info dictionary has neither length nor files")
        size = _length(length, "the torrent's single file")
        entry = FileEntry(safe_relative_path([name]), size, 0, False, _attr(info))
        return [entry], True
    if not isinstance(files, list):
        raise MetainfoError("files is not a list")
    if not files:
        raise MetainfoError("the files list is empty")
    if len(files) > MAX_FILES:
        raise MetainfoError(f"the torrent lists {len(files)} files, more than {MAX_FILES}")
    out: list[FileEntry] = []
    offset = 0
    for i, entry_value in enumerate(files):
        if not isinstance(entry_value, dict):
            raise MetainfoError(f"file {i} is not a dictionary")
        size = _length(entry_value.get(b"length"), f"file {i}")
        attr = _attr(entry_value)
        is_pad = "p" in attr
        parts = _path(entry_value, i, issues)
        if parts is None:
            if not is_pad:
                raise MetainfoError(f"file {i} has no path (a list of strings)")
            parts = [".pad", str(size)]  # BEP 47: a padding file may omit its path
        path = safe_relative_path([name, *parts])
        symlink = None
        if "l" in attr:
            target = _components(entry_value.get(b"symlink path"))
            if target is None:
                issues.append(f"file {i} is a symlink without a symlink path")
            else:
                symlink = safe_relative_path(target)
        out.append(FileEntry(path, size, offset, is_pad, attr, None, symlink))
        offset += size
        if offset > MAX_TOTAL_LENGTH:
            raise MetainfoError(f"the files add up to {offset} bytes, more than 2**53")
    return out, False


def check_unique_paths(files: Sequence[FileEntry]) -> None:
    """Refuse two files at one path, or a path that is both a file and a folder."""
    seen: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    for f in files:
        if f.is_pad:
            continue  # never written to disk; BEP 47 pads of one length share a path
        if f.path in seen:
            raise MetainfoError(f"two files have the same path {'/'.join(f.path)!r}")
        if f.path in folders:
            raise MetainfoError(f"{'/'.join(f.path)!r} is both a file and a folder")
        seen.add(f.path)
        for n in range(1, len(f.path)):
            prefix = f.path[:n]
            if prefix in seen:
                raise MetainfoError(f"{'/'.join(prefix)!r} is both a file and a folder")
            folders.add(prefix)
