"""ManagedTorrent's cheap paths: `ratio` (the upkeep's seed-limit check, every second for
every seed) must agree with the full view's ratio, and the magnet link is made once per
(magnet, metadata) but follows a change of either."""

from __future__ import annotations

import hashlib

import pytest

from bitswarm.bencode import bencode
from bitswarm.daemon.managed import ManagedTorrent
from bitswarm.daemon.model import TorrentOptions
from bitswarm.daemon.store import TorrentRecord
from bitswarm.metainfo import parse_torrent

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
