"""Resume data is saved and loaded in the disk pool: no fsync, stat or file write on the loop.

A download on loopback records the thread of every `os.fsync` (the data files' flush and
the resume file's atomic replace), of every stat of the files and of file creation; none
may be the event loop's thread, where one slow disk would stall every peer.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bitswarm.aio.disk import DiskWorker
from bitswarm.bitfield import Bitfield
from bitswarm.session import TorrentState
from bitswarm.storage.filesystem import FileStorage
from bitswarm.storage.resume import decode_resume

from .helpers import digest_tree, make_multifile, make_torrent, start_session, wait_all_complete

MiB = 2**20


def _recorded(calls: list[tuple[str, int]], name: str, fn: Callable[..., Any]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append((name, threading.get_ident()))
        return fn(*args, **kwargs)

    return wrapper


def test_resume_is_saved_and_loaded_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = make_multifile(tmp_path / "seed", [MiB + 5, 300_000])
    meta = make_torrent(content, piece_length=64 * 1024)
    resume = tmp_path / "state" / "t.resume"
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(os, "fsync", _recorded(calls, "fsync", os.fsync))
    for name in ("flush", "file_sizes_and_mtimes", "create_files"):
        monkeypatch.setattr(FileStorage, name, _recorded(calls, name, getattr(FileStorage, name)))
    checks: list[int] = []
    check_existing = DiskWorker.check_existing

    async def counted_check(self: DiskWorker, *args: Any, **kwargs: Any) -> Any:
        checks.append(1)
        return await check_existing(self, *args, **kwargs)

    monkeypatch.setattr(DiskWorker, "check_existing", counted_check)

    async def run() -> int:
        loop_thread = threading.get_ident()
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, content.parent)
            rt = await leecher.add(
                meta,
                tmp_path / "leech",
                peers=[("127.0.0.1", seeder.listen_port)],
                resume_path=resume,
            )
            await wait_all_complete([rt], within=60)
        finally:
            await leecher.close()  # stops the torrent: the last resume save
            await seeder.close()
        checks_before = len(checks)
        again = await start_session()
        try:
            rt2 = await again.add(meta, tmp_path / "leech", resume_path=resume)
            assert rt2.state is TorrentState.SEEDING
        finally:
            await again.close()
        assert len(checks) == checks_before  # trusted the resume data: nothing rehashed
        return loop_thread

    loop_thread = asyncio.run(run())
    names = {name for name, _ in calls}
    # The data files were flushed (fsync), the resume file replaced (fsync), the files
    # stat'ed for the resume data and created at the start: all seen, none on the loop.
    assert {"fsync", "flush", "file_sizes_and_mtimes", "create_files"} <= names
    on_loop = sorted({name for name, thread in calls if thread == loop_thread})
    assert not on_loop, f"disk work on the event loop's thread: {on_loop}"
    data = decode_resume(
        resume.read_bytes(), info_hash=meta.info.info_hashes.wire, num_pieces=meta.info.num_pieces
    )
    assert Bitfield.from_bytes(data.have, meta.info.num_pieces).all()
    assert digest_tree(tmp_path / "leech" / content.name) == digest_tree(content)
