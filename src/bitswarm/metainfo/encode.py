"""Write a `Metainfo` back out as a .torrent file, keeping the info dictionary's own bytes.

The info dictionary is spliced in verbatim (never re-encoded), so the file's info-hash is
the one the metadata was verified against (BEP 3, BEP 9).
"""

from __future__ import annotations

from ..bencode import bencode
from .model import Metainfo

__all__ = ["torrent_file_bytes"]


def torrent_file_bytes(meta: Metainfo) -> bytes:
    """The bencoded .torrent: trackers, web seeds and the original info bytes."""
    top: dict[bytes, object] = {}
    if meta.announce_tiers:
        top[b"announce"] = meta.announce_tiers[0][0]
        top[b"announce-list"] = [list(tier) for tier in meta.announce_tiers]
    if meta.comment:
        top[b"comment"] = meta.comment
    if meta.created_by:
        top[b"created by"] = meta.created_by
    if meta.creation_date is not None:
        top[b"creation date"] = meta.creation_date
    if meta.piece_layers:
        top[b"piece layers"] = dict(meta.piece_layers)
    if meta.web_seeds:
        top[b"url-list"] = list(meta.web_seeds)
    # Keys sort as raw bytes; b"info" goes between the ones before and after it.
    before = {k: v for k, v in top.items() if k < b"info"}
    after = {k: v for k, v in top.items() if k > b"info"}
    head = bencode(before)[:-1] if before else b"d"
    tail = bencode(after)[1:] if after else b"e"
    return head + b"4:info" + meta.info.raw + tail
