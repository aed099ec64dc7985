"""FileStorage lets one thread write at a time (the kernel serialises buffered writes to a
file anyway, and its waiters spin); reads are not held back by it."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bitswarm.storage.filesystem import FileStorage
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
