"""The daemon's cheap paths must agree with the full ones they replace: `ratio` (the
upkeep's seed-limit check, every second for every seed) with the view's ratio, the
session rates of `stats()` with the torrents' statuses; the magnet link is made once per
(magnet, metadata) but follows a change of either."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from bitswarm.bencode import bencode
from bitswarm.daemon.api import AddRequest
from bitswarm.daemon.managed import ManagedTorrent
from bitswarm.daemon.manager import TorrentManager
from bitswarm.daemon.model import Activity, TorrentOptions
from bitswarm.daemon.store import TorrentRecord
from bitswarm.metainfo import parse_torrent

from .conftest import RunningDaemon
from .helpers import wait_until

PIECE = 16384


def _torrent(name: str, size: int) -> bytes:
    data = bytes(range(256)) * (size // 256)
    pieces = b"".join(
        hashlib.sha1(data[o : o + PIECE]).digest() for o in range(0, len(data), PIECE)
    )
    info = {b"length": len(data), b"name": name.encode(), b"piece length": PIECE, b"pieces": pieces}
    return bencode({b"info": info})


def _managed(**record: object) -> ManagedTorrent:
    raw = _torrent("a.bin", 4 * PIECE)
    meta = parse_torrent(raw)
    rec = TorrentRecord(
        id=1,
        info_hash=meta.info.info_hashes.wire.hex(),
        torrent=raw,
        magnet=None,
        name="a.bin",
        options=TorrentOptions(download_dir="/tmp"),
        **record,  # type: ignore[arg-type]
    )
    return ManagedTorrent(rec, meta, None)


@pytest.mark.parametrize(
    ("downloaded", "uploaded", "done_at", "priorities"),
    [
        (0, 0, 0.0, []),
        (0, 3 * PIECE, 1.0, []),  # added with its data: ratio over the wanted size
        (2 * PIECE, 3 * PIECE, 1.0, []),
        (2 * PIECE, 0, 1.0, []),
        (0, 5 * PIECE, 1.0, [0]),  # the only file skipped: nothing wanted, ratio 0
    ],
)
def test_ratio_agrees_with_the_view(
    downloaded: int, uploaded: int, done_at: float, priorities: list[int]
) -> None:
    mt = _managed(downloaded_ever=downloaded, uploaded_ever=uploaded, done_at=done_at)
    mt.record.options.file_priorities = priorities
    assert mt.ratio() == mt.view(0.0).ratio
    if uploaded and not downloaded and not priorities:
        assert mt.ratio() == uploaded / (4 * PIECE)


def test_magnet_link_is_cached_but_follows_new_metadata() -> None:
    mt = _managed()
    first = mt.magnet_link()
    assert first.startswith("magnet:?xt=urn:btih:" + mt.info_hash)
    assert mt.magnet_link() is first  # made once
    other = parse_torrent(_torrent("b.bin", 2 * PIECE))
    mt.meta = other
    changed = mt.magnet_link()
    assert other.info.info_hashes.wire.hex() in changed and changed != first


def test_session_rates_are_the_sum_of_the_torrents_statuses(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    """`stats()` reads each core's rate meters instead of a whole status per torrent;
    the figures must be the ones the statuses report."""
    for name, size in (("a.bin", 4 * PIECE), ("b.bin", 2 * PIECE)):
        raw = _torrent(name, size)
        (tmp_path / name).write_bytes(bytes(range(256)) * (size // 256))
        request = AddRequest(torrent=raw, download_dir=str(tmp_path))

        async def add(api: TorrentManager, request: AddRequest = request) -> None:
            await api.add(request)

        daemon.call(add)

    def seeding() -> bool:
        views = daemon.call(lambda api: api.torrents())
        return len(views) == 2 and all(v.activity is Activity.SEEDING for v in views)

    wait_until(seeding, 60, "both torrents seeding")

    def moved(api: TorrentManager) -> tuple[float, float, float, float, int]:
        now = asyncio.get_running_loop().time()
        for i, mt in enumerate(api.all()):
            assert mt.runtime is not None and mt.runtime.core is not None
            mt.runtime.core.down.add(100_000 * (i + 1), now)
            mt.runtime.core.up.add(30_000 * (i + 1), now)
        statuses = [mt.runtime.status() for mt in api.all() if mt.runtime is not None]
        s = api.stats()
        down = sum(st.download_rate for st in statuses)
        up = sum(st.upload_rate for st in statuses)
        return s.download_rate, down, s.upload_rate, up, s.active

    got_down, want_down, got_up, want_up, active = daemon.call(moved)
    assert active == 2
    assert want_down > 0 and want_up > 0
    assert got_down == pytest.approx(want_down) and got_up == pytest.approx(want_up)
