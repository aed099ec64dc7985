"""The session's one timer ticks every torrent; a failing torrent does not stop the others."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bitswarm.session.session as session_module
from bitswarm.session import TorrentRuntime

from .helpers import make_multifile, make_torrent, start_session


def test_session_ticks_every_torrent_until_it_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "TICK", 0.02)
    metas = []
    for i in range(3):
        content = make_multifile(tmp_path / f"t{i}", [20_000 + i], seed=i)
        metas.append((make_torrent(content, piece_length=16 * 1024, version="v1"), content))
    ticks: dict[int, int] = {0: 0, 1: 0, 2: 0}

    def counting(rt: TorrentRuntime, index: int) -> None:
        real = rt.tick

        def tick() -> None:
            ticks[index] += 1
            if index == 1:
                raise RuntimeError("this torrent's timer breaks")
            real()

        monkeypatch.setattr(rt, "tick", tick)

    async def run() -> None:
        session = await start_session()
        try:
            for index, (meta, content) in enumerate(metas):
                counting(await session.add(meta, content.parent), index)
            await asyncio.sleep(0.4)
            assert all(count >= 5 for count in ticks.values()), ticks
        finally:
            await session.close()
        after = dict(ticks)
        await asyncio.sleep(0.1)
        assert ticks == after  # closed: no more ticks

    asyncio.run(run())
