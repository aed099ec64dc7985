"""Download limits in a running session: the rate holds, and no connection is held long.

The limit is applied after each socket read (the bytes are counted when they arrive), so
a read must not take more than the limit allows: one large read put the session's bucket
seconds in debt, and every connection sharing it (here, two seeds) stopped reading for
that long, so a control message (a PEX, a choke) could wait behind it for a minute.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bitswarm.session.torrent import TorrentRuntime

from .helpers import make_multifile, make_torrent, start_session

KiB = 1024
LIMIT = 64 * KiB
BURST = 64 * KiB  # session.rate_bucket: a quarter second, at least 64 KiB
WINDOW = 4.0


def test_a_download_limit_holds_and_holds_no_connection_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = make_multifile(tmp_path / "seed", [8 * 2**20])
    meta = make_torrent(content, version="v1")
    waits: list[float] = []
    reads: list[int] = []
    real_delay = TorrentRuntime.download_delay

    def counted(self: TorrentRuntime, nbytes: int) -> float:
        reads.append(nbytes)
        wait = real_delay(self, nbytes)
        waits.append(wait)
        return wait

    monkeypatch.setattr(TorrentRuntime, "download_delay", counted)

    async def run() -> int:
        seeds = [await start_session(), await start_session()]
        leecher = await start_session(download_limit=LIMIT)
        try:
            for seed in seeds:
                await seed.add(meta, tmp_path / "seed")
            waits.clear()
            reads.clear()
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", s.listen_port) for s in seeds]
            )
            await asyncio.sleep(WINDOW)
            assert rt.core is not None
            return rt.core.downloaded
        finally:
            await leecher.close()
            for seed in seeds:
                await seed.close()

    got = asyncio.run(run())
    assert got <= BURST + LIMIT * WINDOW + 64 * KiB, f"{got} bytes: the limit did not hold"
    assert got >= LIMIT * WINDOW / 2, f"{got} bytes: far below the limit"
    assert max(waits) < 0.5, f"a connection was held {max(waits):.1f} s (reads up to {max(reads)})"
