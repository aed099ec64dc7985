"""Skipped files and the parts file: never created, boundary bytes kept aside, read back,
verified by a recheck, moved into the file when it is chosen, deleted when not needed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from pathlib import Path

import pytest

from bitswarm.aio.disk import DiskWorker
from bitswarm.errors import StorageError
from bitswarm.storage import FileSpec, FileStorage, Layout
from bitswarm.storage.file_ops import delete_files, move_files
from bitswarm.storage.parts import PartsFile, parts_file_name
from bitswarm.storage.resume import ResumeData, trusted_pieces

PIECE = 1024
# a: pieces 0-1 (ends inside piece 1), b: pieces 1-3 (ends inside piece 3), a pad,
# c: pieces 3-4. Pieces 1 and 3 straddle b and a wanted neighbour; piece 2 is b's alone.
SPECS = [
    FileSpec(("a.bin",), 1500),
    FileSpec(("sub", "b.bin"), 2000),
    FileSpec((".pad", "10"), 10, is_pad=True),
    FileSpec(("c.bin",), 1000),
]
LAYOUT = Layout(SPECS, PIECE)
PARTS = parts_file_name(bytes(range(20)))
SKIP_B = [4, 0, 0, 4]


def _blob() -> bytes:
    rng = random.Random(7)
    return b"".join(bytes(s.length) if s.is_pad else rng.randbytes(s.length) for s in SPECS)


BLOB = _blob()


def _piece(i: int) -> bytes:
    return BLOB[i * PIECE : i * PIECE + LAYOUT.piece_size(i)]


def _file(i: int) -> bytes:
    start = LAYOUT.file_offset(i)
    return BLOB[start : start + SPECS[i].length]


def _storage(root: Path) -> FileStorage:
    return FileStorage(root, LAYOUT, parts_name=PARTS)


def _download_wanted(root: Path) -> FileStorage:
    """What a download with b skipped writes: every piece that holds a byte of a or c."""
    storage = _storage(root)
    storage.set_file_priorities(SKIP_B)
    storage.create_files()
    for piece in (0, 1, 3, 4):
        storage.write(piece, 0, _piece(piece))
    storage.flush()
    return storage


def test_skipped_file_is_never_created_and_reads_back(tmp_path: Path) -> None:
    storage = _download_wanted(tmp_path)
    assert not (tmp_path / "sub").exists()  # neither b nor its folder
    assert sorted(os.listdir(tmp_path)) == sorted([PARTS, "a.bin", "c.bin"])
    assert (tmp_path / "a.bin").read_bytes() == _file(0)
    assert (tmp_path / "c.bin").read_bytes() == _file(3)
    for piece in (0, 1, 3, 4):  # uploads read boundary pieces through the parts file
        assert storage.read_piece(piece) == _piece(piece)
    assert storage.read(1, 400, 300) == _piece(1)[400:700]
    with pytest.raises(StorageError):
        storage.read_piece(2)  # b's own piece was never stored
    sizes = storage.file_sizes_and_mtimes()
    parts = os.stat(tmp_path / PARTS)
    assert sizes[1] == (parts.st_size, parts.st_mtime_ns)  # b stands for the parts file
    assert sizes[0] is not None and sizes[0][0] == 1500
    storage.close()


def test_parts_file_keeps_only_the_skipped_share(tmp_path: Path) -> None:
    _download_wanted(tmp_path).close()
    parts = PartsFile(
        str(tmp_path / PARTS), num_pieces=LAYOUT.num_pieces, piece_length=PIECE, num_files=4
    )
    parts.load()
    assert parts.pieces() == [1, 3]
    assert parts.parked == frozenset({1})
    head = memoryview(bytearray(1024 - 476))
    parts.readinto(1, 476, head)  # b starts 476 bytes into piece 1
    assert bytes(head) == _file(1)[:548]
    parts.close()


def test_recheck_verifies_boundary_pieces_from_the_parts_file(tmp_path: Path) -> None:
    _download_wanted(tmp_path).close()

    async def check() -> list[int]:
        worker = DiskWorker(_storage(tmp_path), threads=2)
        try:
            have = await worker.check_existing(
                lambda i: hashlib.sha1(_piece(i)).digest(), LAYOUT.num_pieces
            )
        finally:
            await worker.close()
        return list(have)

    assert asyncio.run(check()) == [0, 1, 3, 4]


def test_resume_trusts_the_parts_file_only_unchanged(tmp_path: Path) -> None:
    storage = _download_wanted(tmp_path)
    saved = ResumeData(
        info_hash=bytes(20),
        have=b"\xd8",
        num_pieces=5,
        files=storage.file_sizes_and_mtimes(),
        uploaded=0,
        downloaded=0,
        saved_at=0,
    )
    storage.close()
    again = _storage(tmp_path)  # a restart: the header says b is parked
    assert trusted_pieces(saved, again.file_sizes_and_mtimes()) is not None
    again.close()
    with open(tmp_path / PARTS, "r+b") as f:  # someone changes the parts file
        f.seek(5000)
        f.write(b"x")
        os.utime(f.fileno(), ns=(1, 1))
    third = _storage(tmp_path)
    assert trusted_pieces(saved, third.file_sizes_and_mtimes()) is None
    third.close()


def test_choosing_the_file_later_moves_its_bytes_in(tmp_path: Path) -> None:
    _download_wanted(tmp_path).close()
    storage = _storage(tmp_path)
    assert storage.parked == frozenset({1})
    storage.set_file_priorities([4, 4, 0, 4])
    assert storage.parked == frozenset()
    assert not (tmp_path / PARTS).exists()  # nothing left for it to hold
    b = (tmp_path / "sub" / "b.bin").read_bytes()
    assert len(b) == 2000
    assert b[:548] == _file(1)[:548]  # from piece 1
    assert b[548 : 548 + 1024] == bytes(1024)  # piece 2: not downloaded yet (sparse)
    assert b[1572:] == _file(1)[1572:]  # from piece 3
    storage.write(2, 0, _piece(2))  # the rest arrives
    assert (tmp_path / "sub" / "b.bin").read_bytes() == _file(1)
    for piece in range(LAYOUT.num_pieces):
        assert storage.read_piece(piece) == _piece(piece)
    storage.close()


def test_skipping_a_file_already_on_disk_keeps_it(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    storage.create_files()
    for piece in range(LAYOUT.num_pieces):
        storage.write(piece, 0, _piece(piece))
    storage.set_file_priorities(SKIP_B)
    assert storage.parked == frozenset()  # b exists: it stays a file, with its data
    storage.write(1, 0, _piece(1))
    assert (tmp_path / "sub" / "b.bin").read_bytes() == _file(1)
    assert not (tmp_path / PARTS).exists()
    storage.close()


def test_other_skipped_file_keeps_the_shared_slot(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    storage.set_file_priorities([0, 0, 0, 4])  # only c: piece 3 straddles b and c
    storage.create_files()
    for piece in (3, 4):
        storage.write(piece, 0, _piece(piece))
    storage.set_file_priorities([4, 0, 0, 4])  # a chosen: nothing of it was stored
    assert (tmp_path / "a.bin").read_bytes() == bytes(1500)
    assert storage.parked == frozenset({1})
    assert storage.read_piece(3) == _piece(3)  # b's share of piece 3 is still there
    storage.close()


def test_delete_and_move_take_the_parts_file(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _download_wanted(src).close()
    move_files(src, dst, LAYOUT, parts_name=PARTS)
    assert not (src / PARTS).exists()
    assert (dst / PARTS).exists()
    moved = _storage(dst)
    assert moved.read_piece(3) == _piece(3)
    moved.close()
    delete_files(dst, LAYOUT, parts_name=PARTS)
    assert os.listdir(dst) == []


def test_storage_delete_files_removes_the_parts_file(tmp_path: Path) -> None:
    storage = _download_wanted(tmp_path)
    storage.delete_files()
    assert os.listdir(tmp_path) == []


def test_a_foreign_parts_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    (tmp_path / PARTS).write_bytes(b"not ours" * 1000)
    storage = _storage(tmp_path)
    assert storage.parked == frozenset()
    storage.set_file_priorities(SKIP_B)
    storage.write(1, 0, _piece(1))
    storage.close()
    again = _storage(tmp_path)
    assert again.parked == frozenset({1})
    assert again.read(1, 476, 548) == _file(1)[:548]
    again.close()
