"""The watch folder (daemon/watch.py): files are taken once they hold still, renamed to
.added (or deleted), and read as the add request they stand for."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bitswarm.daemon.api import AddRequest
from bitswarm.daemon.model import DaemonError
from bitswarm.daemon.watch import mark_added, read_watch_file, scan_watch_dir

MAGNET = "magnet:?xt=urn:btih:" + "ab" * 20


def touch(path: Path, data: bytes, mtime_ns: int) -> Path:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_a_file_is_taken_once_it_holds_still(tmp_path: Path) -> None:
    seen: set[str] = set()
    path = touch(tmp_path / "a.torrent", b"d4:infod", 10**18)
    assert scan_watch_dir(tmp_path, seen) == []  # first sight: maybe still growing
    assert scan_watch_dir(tmp_path, seen) == [path]
    assert scan_watch_dir(tmp_path, seen) == []  # handed out already
    assert scan_watch_dir(tmp_path, seen) == []


def test_a_growing_file_waits(tmp_path: Path) -> None:
    seen: set[str] = set()
    path = tmp_path / "big.torrent"
    with path.open("wb") as out:
        for chunk in range(4):
            out.write(b"x" * 1000)
            out.flush()
            assert scan_watch_dir(tmp_path, seen) == [], chunk
    # the last scan in the loop saw the final size: the next one finds it unchanged
    assert scan_watch_dir(tmp_path, seen) == [path]


def test_rewritten_with_the_same_size_counts_as_a_change(tmp_path: Path) -> None:
    seen: set[str] = set()
    path = touch(tmp_path / "a.torrent", b"1234", 10**18)
    scan_watch_dir(tmp_path, seen)
    touch(path, b"5678", 10**18 + 1)
    assert scan_watch_dir(tmp_path, seen) == []
    assert scan_watch_dir(tmp_path, seen) == [path]


def test_a_file_left_in_place_comes_back_only_when_it_changes(tmp_path: Path) -> None:
    seen: set[str] = set()
    path = touch(tmp_path / "a.torrent", b"1234", 10**18)
    scan_watch_dir(tmp_path, seen)
    assert scan_watch_dir(tmp_path, seen) == [path]  # say it could not be renamed
    assert scan_watch_dir(tmp_path, seen) == []
    touch(path, b"123456", 10**18 + 5)  # replaced by a new torrent of that name
    assert scan_watch_dir(tmp_path, seen) == []
    assert scan_watch_dir(tmp_path, seen) == [path]


def test_only_torrent_and_magnet_files(tmp_path: Path) -> None:
    seen: set[str] = set()
    wanted = [
        touch(tmp_path / "old.TORRENT", b"x", 1_000_000_000_000_000_000),
        touch(tmp_path / "link.magnet", MAGNET.encode(), 1_000_000_000_000_000_001),
        touch(tmp_path / "new.torrent", b"x", 1_000_000_000_000_000_002),
    ]
    touch(tmp_path / ".hidden.torrent", b"x", 10**18)  # a partial file, by convention
    touch(tmp_path / "empty.torrent", b"", 10**18)  # created, not written yet
    touch(tmp_path / "x.torrent.added", b"x", 10**18)
    touch(tmp_path / "x.torrent.part", b"x", 10**18)
    touch(tmp_path / "notes.txt", b"x", 10**18)
    (tmp_path / "folder.torrent").mkdir()
    scan_watch_dir(tmp_path, seen)
    assert scan_watch_dir(tmp_path, seen) == wanted  # oldest first


def test_a_missing_folder_yields_nothing(tmp_path: Path) -> None:
    seen = {"pending\0stale\x000\x000"}
    assert scan_watch_dir(tmp_path / "nope", seen) == []
    assert scan_watch_dir(tmp_path / "nope", seen) == []


def test_a_vanished_file_is_forgotten(tmp_path: Path) -> None:
    seen: set[str] = set()
    path = touch(tmp_path / "a.torrent", b"1234", 10**18)
    scan_watch_dir(tmp_path, seen)
    path.unlink()
    assert scan_watch_dir(tmp_path, seen) == []
    assert seen == set()


def test_mark_added_renames_or_deletes(tmp_path: Path) -> None:
    first = touch(tmp_path / "a.torrent", b"one", 10**18)
    (tmp_path / "a.torrent.added").write_bytes(b"older")
    assert mark_added(first, trash=False) is True
    assert not first.exists()
    assert (tmp_path / "a.torrent.added").read_bytes() == b"one"
    second = touch(tmp_path / "b.magnet", b"m", 10**18)
    assert mark_added(second, trash=True) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.torrent.added"]


def test_mark_added_failure_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert mark_added(tmp_path / "gone.torrent", trash=False) is False
    assert "cannot rename" in caplog.text
    (tmp_path / "dir.torrent").mkdir()
    (tmp_path / "dir.torrent" / "x").write_bytes(b"")
    assert mark_added(tmp_path / "dir.torrent", trash=True) is False
    assert "cannot delete" in caplog.text


def test_read_watch_file(tmp_path: Path) -> None:
    torrent = touch(tmp_path / "a.torrent", b"d4:infode", 10**18)
    assert read_watch_file(torrent) == AddRequest(torrent=b"d4:infode")
    magnet = tmp_path / "b.MAGNET"
    magnet.write_bytes(b"\r\n# saved by a browser\r\n  " + MAGNET.encode() + b"  \r\n")
    assert read_watch_file(magnet) == AddRequest(magnet=MAGNET)
    empty = tmp_path / "c.magnet"
    empty.write_text("no link here\n")
    with pytest.raises(DaemonError, match="holds no magnet link"):
        read_watch_file(empty)
    with pytest.raises(DaemonError, match="cannot read"):
        read_watch_file(tmp_path / "missing.torrent")
