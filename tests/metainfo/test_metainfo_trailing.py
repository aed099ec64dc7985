"""Issue 14: bytes after a torrent's top-level dictionary, and an all-zero v2 pieces root.

libtorrent (`torrent_info`) and anacrolix decode one value and ignore whatever follows it;
real .torrent files sometimes end with a newline. bitswarm accepts trailing ASCII
whitespace (recorded as an issue) and keeps refusing any other trailing bytes.
"""

from __future__ import annotations

import hashlib

import pytest

from bitswarm.bencode import bencode
from bitswarm.errors import MetainfoError
from bitswarm.metainfo import parse_torrent

INFO = {"name": "a", "piece length": 16384, "pieces": b"p" * 20, "length": 5}
TORRENT = bencode({"announce": "http://t/a", "info": INFO})


@pytest.mark.parametrize("tail", [b"\n", b"\r\n", b" \t\r\n\n", b"    "])
def test_trailing_whitespace_is_accepted_with_the_same_info_hash(tail: bytes) -> None:
    meta = parse_torrent(TORRENT + tail)
    assert meta.info.info_hashes.v1 == hashlib.sha1(bencode(INFO)).digest()
    assert meta.info.info_hashes == parse_torrent(TORRENT).info.info_hashes
    assert meta.info.raw == bencode(INFO)
    assert any("whitespace after the torrent's end" in i for i in meta.issues)


@pytest.mark.parametrize("tail", [b"garbage", b"\x00", b"\n\x00", b"d1:ai1ee", b"\n x"])
def test_other_trailing_bytes_are_still_refused(tail: bytes) -> None:
    with pytest.raises(MetainfoError, match="trailing data"):
        parse_torrent(TORRENT + tail)


def test_a_v2_pieces_root_of_zeros_is_refused() -> None:
    info = {
        "name": "t",
        "piece length": 16384,
        "meta version": 2,
        "file tree": {"f": {"": {"length": 10, "pieces root": bytes(32)}}},
    }
    with pytest.raises(MetainfoError, match="pieces root of 32 zero bytes"):
        parse_torrent(bencode({"info": info}))
    info["file tree"] = {"f": {"": {"length": 10, "pieces root": b"\x01" * 32}}}
    assert parse_torrent(bencode({"info": info})).info.files[0].length == 10
