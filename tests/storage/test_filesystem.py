"""File-backed and in-memory storage: round trips, sparse files, path safety, error mapping."""

from __future__ import annotations

import errno
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bitswarm.errors import LocalProtocolError, StorageError
from bitswarm.storage import (
    DiskFullError,
    FileSpec,
    FileStorage,
    Layout,
    MemoryStorage,
    Storage,
    UnsafeStoragePath,
)

PIECE = 64

# a, a zero-length file, a nested file, a pad, a big file, another zero-length file at the end
SPECS = [
    FileSpec(("a.bin",), 100),
    FileSpec(("empty",), 0),
    FileSpec(("dir", "sub", "b.bin"), 70),
    FileSpec((".pad", "22"), 22, is_pad=True),
    FileSpec(("dir", "c.bin"), 300),
    FileSpec(("dir", "z"), 0),
]
LAYOUT = Layout(SPECS, PIECE)


def _payload(layout: Layout, seed: int = 5) -> bytes:
    rng = random.Random(seed)
    return b"".join(bytes(s.length) if s.is_pad else rng.randbytes(s.length) for s in layout.files)


def _write_all(storage: Storage, blob: bytes) -> None:
    layout = storage.layout
    for piece in range(layout.num_pieces):
        start = piece * layout.piece_length
        storage.write(piece, 0, memoryview(blob)[start : start + layout.piece_size(piece)])


Factory = Callable[[Path, Layout], Storage]
BACKENDS: dict[str, Factory] = {
    "file": lambda root, layout: FileStorage(root, layout),
    "memory": lambda root, layout: MemoryStorage(layout),
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip(tmp_path: Path, backend: str) -> None:
    storage = BACKENDS[backend](tmp_path / "dl", LAYOUT)
    storage.create_files("sparse")
    blob = _payload(LAYOUT)
    _write_all(storage, blob)
    for piece in range(LAYOUT.num_pieces):
        start = piece * PIECE
        assert storage.read_piece(piece) == blob[start : start + LAYOUT.piece_size(piece)]
    # blocks that straddle files and the pad
    assert storage.read(2, 30, 34) == blob[2 * PIECE + 30 : 3 * PIECE]
    assert storage.read(1, 0, 1) == blob[PIECE : PIECE + 1]
    storage.flush()
    sizes = storage.file_sizes_and_mtimes()
    assert [s[0] if s else None for s in sizes] == [100, 0, 70, None, 300, 0]
    storage.close()
    with pytest.raises(StorageError):
        storage.read(0, 0, 1)


def test_files_on_disk_hold_exactly_the_data(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path, LAYOUT)
    storage.create_files()
    blob = _payload(LAYOUT)
    _write_all(storage, blob)
    storage.close()
    offset = 0
    for spec in SPECS:
        path = tmp_path.joinpath(*spec.path)
        if spec.is_pad:
            assert not path.exists()  # BEP 47: pad files are never created
        else:
            assert path.read_bytes() == blob[offset : offset + spec.length]
        offset += spec.length
    assert not (tmp_path / ".pad").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_nonzero_padding_refused_and_nothing_written(tmp_path: Path, backend: str) -> None:
    storage = BACKENDS[backend](tmp_path, LAYOUT)
    storage.create_files()
    piece = bytearray(_payload(LAYOUT)[2 * PIECE : 3 * PIECE])
    piece[45] = 1  # byte 173 of the torrent: inside the pad (170..192)
    with pytest.raises(LocalProtocolError):
        storage.write(2, 0, piece)
    assert storage.read(2, 0, 42) == bytes(42)  # file b's tail untouched


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_and_short_files_fail_reads(tmp_path: Path, backend: str) -> None:
    storage = BACKENDS[backend](tmp_path, LAYOUT)
    with pytest.raises(StorageError):
        storage.read(0, 0, 10)
    assert storage.file_sizes_and_mtimes() == [None] * len(SPECS)
    storage.write(0, 0, bytes(50) + b"x" * 14)  # a.bin now 64 bytes long
    assert storage.read(0, 60, 4) == b"xxxx"
    with pytest.raises(StorageError):
        storage.read(1, 0, 10)


def test_sparse_creation(tmp_path: Path) -> None:
    big = Layout([FileSpec(("big",), 64 * 2**20), FileSpec(("e",), 0)], 2**20)
    storage = FileStorage(tmp_path, big)
    storage.create_files("sparse")
    st = os.stat(tmp_path / "big")
    assert st.st_size == 64 * 2**20
    assert st.st_blocks * 512 < 2**20  # no data blocks allocated
    assert (tmp_path / "e").stat().st_size == 0
    storage.close()


def test_preallocate_none_creates_only_empty_files(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path, LAYOUT)
    storage.create_files("none")
    assert (tmp_path / "empty").exists() and (tmp_path / "dir" / "z").exists()
    assert not (tmp_path / "a.bin").exists()
    sizes = storage.file_sizes_and_mtimes()
    assert sizes[0] is None and sizes[1] is not None and sizes[1][0] == 0
    with pytest.raises(LocalProtocolError):
        storage.create_files("full")  # type: ignore[arg-type]  # an unknown mode on purpose


def test_existing_data_is_kept_by_create_files(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"q" * 100)
    FileStorage(tmp_path, LAYOUT).create_files()
    assert (tmp_path / "a.bin").read_bytes() == b"q" * 100


def _open_fds_under(root: Path) -> dict[str, int]:
    """Open descriptors of this process on files below `root`: path -> open flags."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root) + os.sep):
            with open(f"/proc/self/fdinfo/{fd}") as info:
                flags = next(line for line in info if line.startswith("flags:"))
            found[target] = int(flags.split()[1], 8)
    return found


def test_opened_read_only_until_a_write_and_lru_bounded(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    storage = FileStorage(root, LAYOUT, max_open_files=2)
    storage.create_files()
    storage.close()
    storage = FileStorage(root, LAYOUT, max_open_files=2)
    storage.read(0, 0, 10)
    fds = _open_fds_under(root)
    assert list(fds) == [str(root / "a.bin")]
    assert fds[str(root / "a.bin")] & os.O_ACCMODE == os.O_RDONLY
    storage.write(0, 0, b"z")
    fds = _open_fds_under(root)
    assert list(fds) == [str(root / "a.bin")]  # the read-only descriptor was replaced
    assert fds[str(root / "a.bin")] & os.O_ACCMODE == os.O_RDWR
    _write_all(storage, _payload(LAYOUT))
    assert len(_open_fds_under(root)) == 2
    storage.close()
    assert _open_fds_under(root) == {}


def test_threads_share_a_tiny_handle_cache(tmp_path: Path) -> None:
    layout = Layout([FileSpec((f"f{i}",), 1000 + i) for i in range(12)], 256)
    storage = FileStorage(tmp_path, layout, max_open_files=1)
    blob = _payload(layout, seed=9)
    errors: list[BaseException] = []

    def worker(pieces: range) -> None:
        try:
            for _ in range(3):
                for piece in pieces:
                    start = piece * 256
                    chunk = blob[start : start + layout.piece_size(piece)]
                    storage.write(piece, 0, chunk)
                    assert storage.read_piece(piece) == chunk
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    n = layout.num_pieces
    threads = [threading.Thread(target=worker, args=(range(k, n, 4),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert b"".join(storage.read_piece(p) for p in range(n)) == blob
    storage.close()
    # descriptors evicted while another thread still used them were closed after all
    assert _open_fds_under(tmp_path.resolve()) == {}


@pytest.mark.parametrize(
    "path",
    [
        (),
        ("..", "x"),
        (".",),
        ("a", "", "b"),
        ("/etc", "passwd"),
        ("a/b",),
        ("a\\b",),
        ("a\0",),
        ("ok", ".."),
    ],
)
def test_unsafe_components_refused(tmp_path: Path, path: tuple[str, ...]) -> None:
    with pytest.raises(UnsafeStoragePath):
        FileStorage(tmp_path, Layout([FileSpec(path, 10)], 16))


def test_symlinked_folder_leading_outside_is_not_followed(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "dl", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "sub").symlink_to(elsewhere)
    storage = FileStorage(root, Layout([FileSpec(("sub", "deeper", "x"), 10)], 16))
    with pytest.raises(UnsafeStoragePath):
        storage.write(0, 0, b"0123456789")
    with pytest.raises(UnsafeStoragePath):
        storage.create_files()
    with pytest.raises(UnsafeStoragePath):
        storage.file_sizes_and_mtimes()
    assert list(elsewhere.iterdir()) == []  # not even the folder "deeper" was made there


def test_symlinked_file_is_not_followed(tmp_path: Path) -> None:
    root, victim = tmp_path / "dl", tmp_path / "victim"
    root.mkdir()
    victim.write_bytes(b"precious")
    (root / "x").symlink_to(victim)
    storage = FileStorage(root, Layout([FileSpec(("x",), 8)], 16))
    with pytest.raises(UnsafeStoragePath):
        storage.write(0, 0, b"OVERWRIT")
    with pytest.raises(UnsafeStoragePath):
        storage.read(0, 0, 8)
    with pytest.raises(UnsafeStoragePath):
        storage.create_files()
    with pytest.raises(UnsafeStoragePath):
        storage.file_sizes_and_mtimes()
    assert victim.read_bytes() == b"precious"


def test_symlink_staying_inside_the_folder_is_allowed(tmp_path: Path) -> None:
    root = tmp_path / "dl"
    (root / "real").mkdir(parents=True)
    (root / "alias").symlink_to(root / "real")
    storage = FileStorage(root, Layout([FileSpec(("alias", "f"), 4)], 16))
    storage.write(0, 0, b"data")
    assert (root / "real" / "f").read_bytes() == b"data"


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p")
    storage = FileStorage(tmp_path, Layout([FileSpec(("p",), 4)], 16))
    with pytest.raises(StorageError, match="not a regular file"):
        storage.read(0, 0, 4)


def test_disk_full_from_the_kernel_is_mapped(tmp_path: Path) -> None:
    # every pwrite goes to /dev/full, so the kernel itself answers ENOSPC
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        storage = FileStorage(
            tmp_path, LAYOUT, pwrite=lambda fd, data, offset: os.pwrite(full, data, offset)
        )
        with pytest.raises(DiskFullError) as caught:
            storage.write(0, 0, bytes(PIECE))
    finally:
        os.close(full)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("disk full:") and str(tmp_path / "a.bin") in message
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == errno.ENOSPC


def test_quota_and_other_errors_are_mapped(tmp_path: Path) -> None:
    def quota(fd: int, data: memoryview, offset: int) -> int:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    def io_error(fd: int, data: memoryview, offset: int) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with pytest.raises(DiskFullError):
        FileStorage(tmp_path, LAYOUT, pwrite=quota).write(0, 0, bytes(PIECE))
    with pytest.raises(StorageError, match=r"a\.bin") as caught:
        FileStorage(tmp_path, LAYOUT, pwrite=io_error).write(0, 0, bytes(PIECE))
    assert not isinstance(caught.value, DiskFullError)


def test_short_writes_are_completed(tmp_path: Path) -> None:
    def dribble(fd: int, data: memoryview, offset: int) -> int:
        return os.pwrite(fd, data[:7], offset)  # at most 7 bytes per call

    storage = FileStorage(tmp_path, LAYOUT, pwrite=dribble)
    blob = _payload(LAYOUT)
    _write_all(storage, blob)
    assert (tmp_path / "dir" / "c.bin").read_bytes() == blob[192:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_mtime_changes_on_write(tmp_path: Path, backend: str) -> None:
    storage = BACKENDS[backend](tmp_path, LAYOUT)
    storage.create_files()
    before = storage.file_sizes_and_mtimes()
    if backend == "file":  # the kernel's mtime clock is coarse: start from an old mtime
        os.utime(tmp_path / "a.bin", ns=(1, 1))
        before = storage.file_sizes_and_mtimes()
    storage.write(0, 0, bytes(PIECE))
    after = storage.file_sizes_and_mtimes()
    assert after[0] != before[0] and after[2] == before[2]


def test_delete_files_removes_ours_and_keeps_others(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path, LAYOUT)
    storage.create_files()
    (tmp_path / "dir" / "unrelated").write_bytes(b"keep")
    storage.delete_files()
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "dir",
        "dir/unrelated",
    ]
