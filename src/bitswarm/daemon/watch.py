"""The watch folder: .torrent (and .magnet) files dropped there are added, then renamed.

As Transmission does it: a file taken from the folder is renamed to ``NAME.torrent.added``
(or deleted when `trash_original_torrent_files` is set), so it is not added twice and the
user sees it was taken. A file still being written (a browser's download, a copy over the
network) must not be read half-way: a file is taken only when its size and modification
time are the same in two scans in a row, and never while it is empty. A ``.magnet`` file
holds a magnet URI as text (the first line starting with ``magnet:``). Hidden files
(``.name``) are skipped: many programs write their partial files so.

These functions block (directory listing, reads, renames): the manager runs them in a
thread, every few seconds.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..readlimit import MAX_TORRENT_FILE, InputTooLarge, read_limited
from .api import AddRequest
from .model import DaemonError

__all__ = ["WATCHED_SUFFIXES", "mark_added", "read_watch_file", "scan_watch_dir"]

log = logging.getLogger(__name__)

WATCHED_SUFFIXES = (".torrent", ".magnet")
ADDED_SUFFIX = ".added"
_MAX_MAGNET_FILE = 64 * 1024


def scan_watch_dir(folder: Path, seen: set[str]) -> list[Path]:
    """The files in `folder` ready to add now, oldest first.

    `seen` is the caller's memory between scans (start with an empty set and pass the
    same one each time; it is updated here): a file is returned once, on the first scan
    that finds it unchanged since the one before, and not again unless it changes. A
    missing or unreadable folder yields nothing.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        log.debug("watch folder %s: %s", folder, exc)
        return []
    ready: list[tuple[int, str, Path]] = []
    now_seen: set[str] = set()
    for entry in entries:
        name = entry.name
        if name.startswith(".") or not name.lower().endswith(WATCHED_SUFFIXES):
            continue
        try:
            if not entry.is_file():
                continue
            stat = entry.stat()
        except OSError:  # gone between the listing and the stat
            continue
        if stat.st_size == 0:
            continue
        key = f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}"
        if "taken\0" + key in seen:
            now_seen.add("taken\0" + key)
        elif "pending\0" + key in seen:
            now_seen.add("taken\0" + key)
            ready.append((stat.st_mtime_ns, name, Path(entry.path)))
        else:
            now_seen.add("pending\0" + key)
    seen.clear()
    seen.update(now_seen)
    return [path for _, _, path in sorted(ready)]


def read_watch_file(path: Path) -> AddRequest:
    """What to add for a file `scan_watch_dir` returned.

    Raises:
        DaemonError: it cannot be read, or a .magnet file holds no magnet URI.
    """
    try:
        raw = read_limited(path, MAX_TORRENT_FILE, what=".torrent or .magnet file")
    except OSError as exc:
        raise DaemonError(f"watch folder: cannot read {path}: {exc.strerror or exc}") from None
    except InputTooLarge as exc:
        raise DaemonError(f"watch folder: {exc}") from None
    if path.name.lower().endswith(".torrent"):
        return AddRequest(torrent=raw)
    text = raw[:_MAX_MAGNET_FILE].decode("utf-8", "replace")
    for line in text.splitlines():
        if line.strip().lower().startswith("magnet:"):
            return AddRequest(magnet=line.strip())
    raise DaemonError(f"watch folder: {path} holds no magnet link")


def mark_added(path: Path, *, trash: bool) -> bool:
    """Rename a taken file to ``NAME.added`` (replacing an older one), or delete it when
    `trash`. A failure (a read-only folder) is logged, not raised: the file stays, and
    `scan_watch_dir` will not hand it out again while it is unchanged.

    Returns:
        Whether the file was renamed or deleted.
    """
    try:
        if trash:
            path.unlink(missing_ok=True)
        else:
            os.replace(path, path.with_name(path.name + ADDED_SUFFIX))
    except OSError as exc:
        log.warning("watch folder: cannot %s %s: %s", "delete" if trash else "rename", path, exc)
        return False
    return True
