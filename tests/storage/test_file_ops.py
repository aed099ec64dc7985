"""Deleting and moving a torrent's files (`storage/file_ops.py`) on real files, with hostile
symlinks planted in the download folder: nothing outside it is ever removed, moved or
overwritten."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bitswarm.errors import StorageError
from bitswarm.storage import FileSpec, Layout, UnsafeStoragePath
from bitswarm.storage.file_ops import delete_files, move_files

SPECS = [
    FileSpec(("t", "a.bin"), 10),
    FileSpec(("t", ".pad", "6"), 6, is_pad=True),
    FileSpec(("t", "dir", "b.bin"), 20),
    FileSpec(("t", "dir", "sub", "c.bin"), 30),
    FileSpec(("t", "empty"), 0),
]
LAYOUT = Layout(SPECS, 16)


def _make(root: Path) -> dict[str, bytes]:
    """The torrent's files under `root`, each with its own contents."""
    made: dict[str, bytes] = {}
    for i, spec in enumerate(SPECS):
        if spec.is_pad:
            continue
        path = root.joinpath(*spec.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = bytes([65 + i]) * spec.length
        path.write_bytes(data)
        made["/".join(spec.path)] = data
    return made


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the download folder, with a file a symlink will point at."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim").write_bytes(b"precious")
    (folder / "c.bin").write_bytes(b"also precious")
    return folder


def test_delete_removes_the_files_and_the_folders_they_leave_empty(tmp_path: Path) -> None:
    root = tmp_path / "downloads"
    _make(root)
    (root / "other.txt").write_bytes(b"someone else's")
    delete_files(root, LAYOUT)
    assert sorted(p.name for p in root.iterdir()) == ["other.txt"]
    delete_files(root, LAYOUT)  # again: nothing left to do, no error
    delete_files(tmp_path / "missing", LAYOUT)


def test_delete_keeps_folders_holding_other_files(tmp_path: Path) -> None:
    root = tmp_path / "downloads"
    _make(root)
    (root / "t" / "dir" / "notes.txt").write_bytes(b"mine")
    delete_files(root, LAYOUT)
    assert [p.relative_to(root).as_posix() for p in sorted(root.rglob("*"))] == [
        "t",
        "t/dir",
        "t/dir/notes.txt",
    ]


def test_delete_never_follows_a_symlink_out(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "downloads"
    _make(root)
    # a file of the torrent replaced by a link to a file outside, a folder of the torrent
    # replaced by a link to a folder outside that has a file of the same name
    (root / "t" / "a.bin").unlink()
    (root / "t" / "a.bin").symlink_to(outside / "victim")
    sub = root / "t" / "dir" / "sub"
    (sub / "c.bin").unlink()
    sub.rmdir()
    sub.symlink_to(outside, target_is_directory=True)
    delete_files(root, LAYOUT)
    assert (outside / "victim").read_bytes() == b"precious"
    assert (outside / "c.bin").read_bytes() == b"also precious"
    assert not os.path.lexists(root / "t" / "a.bin")  # the links themselves are gone
    assert not os.path.lexists(sub)
    assert list(root.iterdir()) == []


def test_delete_through_a_symlinked_top_folder_unlinks_only_the_link(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "downloads"
    root.mkdir()
    _make(outside)  # the torrent's files, but outside
    (root / "t").symlink_to(outside / "t", target_is_directory=True)
    delete_files(root, LAYOUT)
    assert not os.path.lexists(root / "t")
    assert (outside / "t" / "dir" / "sub" / "c.bin").read_bytes() == b"D" * 30


def test_unsafe_paths_are_refused_before_anything_is_deleted(tmp_path: Path) -> None:
    root = tmp_path / "downloads"
    made = _make(root)
    (tmp_path / "escape").write_bytes(b"x")
    bad = Layout([*SPECS, FileSpec(("..", "escape"), 1)], 16)
    with pytest.raises(UnsafeStoragePath):
        delete_files(root, bad)
    assert (tmp_path / "escape").exists()
    assert all((root / name).read_bytes() == data for name, data in made.items())


def test_move_renames_every_file_and_keeps_times(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    made = _make(src)
    (src / "keep.txt").write_bytes(b"not the torrent's")
    mtime = (src / "t" / "dir" / "b.bin").stat().st_mtime_ns
    move_files(src, dst, LAYOUT)
    assert {n: (dst / n).read_bytes() for n in made} == made
    assert (dst / "t" / "dir" / "b.bin").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in src.iterdir()) == ["keep.txt"]


def test_move_across_file_systems_copies_then_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    made = _make(src)
    mtime = (src / "t" / "a.bin").stat().st_mtime_ns
    real_rename = os.rename
    renames: list[str] = []

    def rename(a: str, b: str, **kw: int) -> None:
        # A rename from the source folder to the destination folder fails as it does
        # between two file systems; the copy's own rename (inside dst) goes through.
        if kw.get("src_dir_fd") != kw.get("dst_dir_fd"):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        renames.append(a)
        real_rename(a, b, **kw)

    monkeypatch.setattr(os, "rename", rename)
    move_files(src, dst, LAYOUT)
    assert {n: (dst / n).read_bytes() for n in made} == made
    assert len(renames) == len(made)  # every file went through a temporary name
    assert (dst / "t" / "a.bin").stat().st_mtime_ns == mtime
    assert not list(dst.rglob(".*bitswarm-move"))
    assert list(src.iterdir()) == []


def test_move_never_overwrites_a_different_file(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    made = _make(src)
    (dst / "t" / "dir").mkdir(parents=True)
    (dst / "t" / "dir" / "b.bin").write_bytes(b"another file")
    with pytest.raises(StorageError, match="different file"):
        move_files(src, dst, LAYOUT)
    assert (dst / "t" / "dir" / "b.bin").read_bytes() == b"another file"
    assert all((src / n).read_bytes() == d for n, d in made.items())  # nothing moved
    assert not (dst / "t" / "a.bin").exists()
    # the same contents already there: kept, and the move goes on
    (dst / "t" / "dir" / "b.bin").write_bytes(made["t/dir/b.bin"])
    move_files(src, dst, LAYOUT)
    assert {n: (dst / n).read_bytes() for n in made} == made


def test_move_refuses_symlinks(tmp_path: Path, outside: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    made = _make(src)
    (src / "t" / "a.bin").unlink()
    (src / "t" / "a.bin").symlink_to(outside / "victim")
    with pytest.raises(StorageError, match=r"a\.bin"):
        move_files(src, dst, LAYOUT)
    assert not (dst / "t" / "dir" / "b.bin").exists()
    (src / "t" / "a.bin").unlink()
    (src / "t" / "a.bin").write_bytes(made["t/a.bin"])
    # a symlinked folder at the destination is not written through either
    (dst / "t").mkdir(parents=True)
    (dst / "t" / "dir").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageError, match="symlink"):
        move_files(src, dst, LAYOUT)
    assert sorted(p.name for p in outside.iterdir()) == ["c.bin", "victim"]
    assert (outside / "c.bin").read_bytes() == b"also precious"
    assert all((src / n).read_bytes() == d for n, d in made.items())


def test_move_to_the_same_folder_does_nothing(tmp_path: Path) -> None:
    made = _make(tmp_path / "src")
    move_files(tmp_path / "src", tmp_path / "src", LAYOUT)
    assert all((tmp_path / "src" / n).read_bytes() == d for n, d in made.items())
