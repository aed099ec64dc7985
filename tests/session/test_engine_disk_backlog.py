"""A disk slower than the network: sockets are held, memory stays bounded, nothing is lost.

The leecher's pwrite is slowed on purpose (the real syscall, after a sleep), so whole pieces
pile up waiting for the disk faster than it writes them. The runtime must stop reading from
its peers while more than `MAX_UNWRITTEN` bytes wait, read again once the backlog falls
below `RESUME_UNWRITTEN`, and still finish with identical files.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from bitswarm.aio.peer import PeerProtocol
from bitswarm.session import torrent as runtime_module
from bitswarm.storage.filesystem import FileStorage

from .helpers import digest_tree, make_multifile, make_torrent, start_session, wait_all_complete

MiB = 2**20
PIECE = 256 * 1024


def _slow_pwrite(fd: int, data: memoryview, offset: int) -> int:
    # about 13 MB/s for 256 KiB pieces: slower than loopback even when the receiving loop
    # runs under coverage's tracer on a busy machine (at 64 MB/s it sometimes was not)
    time.sleep(0.02)
    return os.pwrite(fd, data, offset)


# A 12 MiB download through a deliberately slow disk, with its own 60 s deadline.
@pytest.mark.timeout(90)
def test_slow_disk_holds_sockets_and_bounds_the_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = make_multifile(tmp_path / "seed", [12 * MiB])
    meta = make_torrent(content, piece_length=PIECE, version="v1")
    monkeypatch.setattr(runtime_module, "MAX_UNWRITTEN", 2 * MiB)
    monkeypatch.setattr(runtime_module, "RESUME_UNWRITTEN", 1 * MiB)
    slow_paths: set[str] = set()

    def storage(root: Path | str, layout: Any, **options: Any) -> FileStorage:
        pwrite = _slow_pwrite if str(root).startswith(str(tmp_path / "leech")) else os.pwrite
        if pwrite is _slow_pwrite:
            slow_paths.add(str(root))
        return FileStorage(root, layout, pwrite=pwrite, **options)

    monkeypatch.setattr(runtime_module, "FileStorage", storage)
    seen: list[int] = []
    holds: list[str] = []
    original_hold = PeerProtocol.hold_reading

    def hold(self: PeerProtocol, reason: str) -> None:
        holds.append(reason)
        original_hold(self, reason)

    monkeypatch.setattr(PeerProtocol, "hold_reading", hold)
    original_check = runtime_module.TorrentRuntime._hold_for_disk

    def check(self: runtime_module.TorrentRuntime, proto: PeerProtocol) -> None:
        seen.append(self._unwritten)
        original_check(self, proto)

    monkeypatch.setattr(runtime_module.TorrentRuntime, "_hold_for_disk", check)

    async def run() -> None:
        # TCP: the network must outrun the slow disk, on a busy machine under coverage too
        # (uTP's window is what pause_reading shrinks; over TCP the kernel's buffers fill)
        seeder = await start_session(transport="tcp")
        leecher = await start_session(transport="tcp")
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            await wait_all_complete([rt], within=60)
        finally:
            await seeder.close()
            await leecher.close()

    asyncio.run(run())
    assert slow_paths, "the leecher's storage should be the slow one"
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)
    assert "disk" in holds, "a backlog over MAX_UNWRITTEN should hold the socket"
    # Once held, nothing more is read; pieces completed by the bytes of that one read may
    # still join the backlog (a read is at most 256 KiB here, one piece).
    assert max(seen) <= 2 * MiB + 2 * PIECE, f"backlog grew to {max(seen)} bytes"


def test_hold_reasons_stack() -> None:
    """Reading resumes only when every reason to hold it is released."""

    class Transport(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.paused = False
            self.calls: list[str] = []

        def pause_reading(self) -> None:
            self.calls.append("pause")
            self.paused = True

        def resume_reading(self) -> None:
            self.calls.append("resume")
            self.paused = False

    async def run() -> list[str]:
        proto = PeerProtocol()
        transport = Transport()
        proto.transport = transport
        proto.hold_reading("rate")
        proto.hold_reading("disk")
        proto.hold_reading("disk")
        assert transport.paused
        proto.release_reading("rate")
        assert transport.paused, "still held for the disk"
        proto.release_reading("rate")  # releasing twice changes nothing
        proto.release_reading("disk")
        assert not transport.paused
        return transport.calls

    assert asyncio.run(run()) == ["pause", "resume"]
