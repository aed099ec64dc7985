"""How FileStorage writes: one thread at a time (the kernel serialises buffered writes to a
file anyway, and its waiters spin), and, with `direct_io`, aligned runs through O_DIRECT."""

from __future__ import annotations

import errno
import fcntl
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bitswarm.storage.filesystem import DIRECT_CHUNK, FileStorage, aligned_piece_buffer
from bitswarm.storage.layout import FileSpec, Layout

PIECE = 64 * 1024


def test_writes_never_overlap_and_all_land(tmp_path: Path) -> None:
    layout = Layout([FileSpec(("a.bin",), 8 * PIECE), FileSpec(("b.bin",), 8 * PIECE)], PIECE)
    inside = 0
    most = 0
    guard = threading.Lock()

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.002)  # long enough for other threads to try
        try:
            return os.pwrite(fd, data, offset)
        finally:
            with guard:
                inside -= 1

    storage = FileStorage(tmp_path, layout, pwrite=pwrite)
    storage.create_files()
    pieces = {i: bytes([i]) * PIECE for i in range(16)}
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: storage.write(i, 0, pieces[i]), range(16)))
    assert most == 1, f"{most} writers ran at once"
    for i in range(16):
        assert storage.read(i, 0, PIECE) == pieces[i]
    storage.close()


def _direct_supported(folder: Path) -> bool:
    probe = folder / "probe"
    probe.write_bytes(b"")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_DIRECT))
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def _is_direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def test_direct_io_writes_aligned_runs_directly_and_tails_normally(tmp_path: Path) -> None:
    # a file that ends off the 4 KiB grid, so its last piece has an unaligned tail, and a
    # second file that starts off the grid, so its spans are unaligned
    layout = Layout(
        [FileSpec(("a.bin",), 5 * PIECE + 1000), FileSpec(("b.bin",), 3 * PIECE)], PIECE
    )
    calls: list[tuple[bool, int, int]] = []

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        calls.append((_is_direct(fd), offset, len(data)))
        return os.pwrite(fd, data, offset)

    storage = FileStorage(tmp_path, layout, pwrite=pwrite, direct_io=True)
    storage.create_files()
    rng = random.Random(5)
    total = layout.files[0].length + layout.files[1].length
    payload = rng.randbytes(total)
    for piece in range(-(-total // PIECE)):
        storage.write(piece, 0, payload[piece * PIECE : (piece + 1) * PIECE])
    storage.close()
    assert (tmp_path / "a.bin").read_bytes() == payload[: layout.files[0].length]
    assert (tmp_path / "b.bin").read_bytes() == payload[layout.files[0].length :]
    direct = [c for c in calls if c[0]]
    if _direct_supported(tmp_path):
        assert direct, "aligned runs should be written with O_DIRECT"
        assert all(offset % 4096 == 0 and length % 4096 == 0 for _, offset, length in direct)
        assert any(not d for d, _, _ in calls), "unaligned tails go through the page cache"
    else:  # the file system refuses O_DIRECT: everything written normally, nothing lost
        assert not direct


def test_direct_io_falls_back_when_the_file_system_refuses(tmp_path: Path) -> None:
    layout = Layout([FileSpec(("a.bin",), 4 * PIECE)], PIECE)
    refused: list[int] = []

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        if _is_direct(fd):
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return os.pwrite(fd, data, offset)

    storage = FileStorage(tmp_path, layout, pwrite=pwrite, direct_io=True)
    storage.create_files()
    pieces = [bytes([i + 1]) * PIECE for i in range(4)]
    for i, data in enumerate(pieces):
        storage.write(i, 0, data)
    storage.close()
    assert (tmp_path / "a.bin").read_bytes() == b"".join(pieces)
    assert len(refused) <= 1, "after one refusal the file is written normally"


def test_direct_io_writes_big_pieces_in_bounded_chunks(tmp_path: Path) -> None:
    # a piece larger than the per-thread aligned buffer goes out in DIRECT_CHUNK steps:
    # the buffer stays one chunk however large the pieces are, and every byte lands
    if not _direct_supported(tmp_path):
        pytest.skip("this file system refuses O_DIRECT")
    piece = 2 * DIRECT_CHUNK + 8192
    layout = Layout([FileSpec(("big.bin",), 2 * piece + 100)], piece)
    calls: list[tuple[bool, int, int]] = []

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        calls.append((_is_direct(fd), offset, len(data)))
        return os.pwrite(fd, data, offset)

    storage = FileStorage(tmp_path, layout, pwrite=pwrite, direct_io=True)
    storage.create_files()
    payload = random.Random(7).randbytes(layout.total_length)
    for index in range(layout.num_pieces):
        storage.write(index, 0, payload[index * piece : (index + 1) * piece])
    storage.close()
    assert (tmp_path / "big.bin").read_bytes() == payload
    direct = [c for c in calls if c[0]]
    assert len(direct) >= 6, "each big piece takes several O_DIRECT writes"
    assert max(length for _, _, length in direct) == DIRECT_CHUNK
    assert sum(length for _, _, length in direct) == 2 * piece  # the 100-byte tail: buffered


def test_a_piece_in_aligned_memory_goes_to_o_direct_without_a_copy(tmp_path: Path) -> None:
    # pieces assembled in `aligned_piece_buffer` memory (what the engine does with direct
    # I/O) are handed to O_DIRECT as they are; a run that starts off a page inside the
    # piece (the second file starts 1,000 bytes into piece 5) still goes through the
    # thread's aligned buffer, and every byte lands. (The leading 1,000 bytes of piece 5
    # are a.bin's unaligned tail: through the page cache.)
    if not _direct_supported(tmp_path):
        pytest.skip("this file system refuses O_DIRECT")
    layout = Layout(
        [FileSpec(("a.bin",), 5 * PIECE + 1000), FileSpec(("b.bin",), 3 * PIECE)], PIECE
    )
    sources: list[tuple[object, int, int]] = []

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        if _is_direct(fd):
            sources.append((data.obj, offset, len(data)))
        return os.pwrite(fd, data, offset)

    storage = FileStorage(tmp_path, layout, pwrite=pwrite, direct_io=True)
    storage.create_files()
    payload = random.Random(9).randbytes(layout.total_length)
    buffers = []
    for piece in range(layout.num_pieces):
        chunk = payload[piece * PIECE : (piece + 1) * PIECE]
        buffer = aligned_piece_buffer(len(chunk))
        buffer[:] = chunk
        buffers.append(buffer)
        storage.write(piece, 0, memoryview(buffer))  # as the disk worker passes it
    storage.close()
    assert (tmp_path / "a.bin").read_bytes() == payload[: layout.files[0].length]
    assert (tmp_path / "b.bin").read_bytes() == payload[layout.files[0].length :]
    straight = [(offset, n) for obj, offset, n in sources if any(obj is b for b in buffers)]
    bounced = [(offset, n) for obj, offset, n in sources if not any(obj is b for b in buffers)]
    assert straight == [(i * PIECE, PIECE) for i in range(5)]  # a.bin's whole pieces
    # b.bin's first span (from 1,000 bytes into piece 5) copied first; its later spans
    # start off the 4 KiB grid of the file, so they go through the page cache
    assert bounced == [(0, (PIECE - 1000) // 4096 * 4096)]


def test_flush_closes_the_direct_descriptors(tmp_path: Path) -> None:
    # a finished download (flushed at completion) must not keep an O_DIRECT descriptor
    # per file: a session seeding many torrents would run out of them
    if not _direct_supported(tmp_path):
        pytest.skip("this file system refuses O_DIRECT")
    layout = Layout([FileSpec((f"f{i}.bin",), PIECE) for i in range(3)], PIECE)
    storage = FileStorage(tmp_path, layout, direct_io=True)
    storage.create_files()

    def direct_fds() -> int:
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
        count = 0
        for fd in fds:
            try:
                count += _is_direct(fd)
            except OSError:
                pass
        return count

    before = direct_fds()
    for index in range(3):
        storage.write(index, 0, bytes([index + 1]) * PIECE)
    assert direct_fds() == before + 3
    storage.flush()
    assert direct_fds() == before
    storage.write(0, 0, b"\x09" * PIECE)  # writing again reopens one
    assert direct_fds() == before + 1
    storage.close()
    assert direct_fds() == before
    assert (tmp_path / "f0.bin").read_bytes() == b"\x09" * PIECE


def test_direct_io_on_tmpfs_writes_every_byte() -> None:
    # tmpfs refuses O_DIRECT on older kernels and takes it on newer ones: either way the
    # bytes must land (a multi-file layout whose second file starts off the 4 KiB grid)
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    with tempfile.TemporaryDirectory(dir=shm) as folder:
        layout = Layout(
            [FileSpec(("a.bin",), 3 * PIECE + 123), FileSpec(("d", "b.bin"), 2 * PIECE)], PIECE
        )
        storage = FileStorage(folder, layout, direct_io=True)
        storage.create_files()
        payload = random.Random(3).randbytes(layout.total_length)
        for index in reversed(range(layout.num_pieces)):
            storage.write(index, 0, payload[index * PIECE : (index + 1) * PIECE])
        storage.flush()
        storage.close()
        got = (Path(folder) / "a.bin").read_bytes() + (Path(folder) / "d" / "b.bin").read_bytes()
        assert got == payload
