"""Which worker owns a swarm, and the messages workers send each other about swarms. Pure.

With ``--workers N`` on the in-memory store each swarm lives in exactly one worker: the
one `shard_of` names. A UDP announce reaches its owner directly (the kernel picks the
socket with the classic-BPF program of reuseport.py, which computes the same function
from the datagram); whatever reaches another worker -- an HTTP announce on a connection
the kernel gave to any worker, a scrape naming hashes of several workers, a full scrape,
the totals of /metrics -- is forwarded to the owners over a local stream socket
(shard_store.py) in the frames below, and the answers merged.

`shard_of` reads the info-hash's first four bytes as a big-endian number, modulo N: a
SHA-1 (or truncated SHA-256) is uniform, so swarms spread evenly, and a BPF program can
load exactly that word (``ld [16]``: BEP 15 puts the info-hash at offset 16 of an
announce, and the first hash of a scrape at the same offset).

A frame is ``length (u32) | kind (u8) | request id (u32) | body``, big-endian; an answer
has the request's kind with the high bit set (or `ERROR` and a UTF-8 reason), and the
request's id. Bodies:

* `ANNOUNCE`: info_hash (20) | peer_id (20) | left (u64) | event (u8) | numwant (u32) |
  both families (u8) | compact address (6 or 18 bytes); answered with complete,
  incomplete, downloaded (u64 each), the counts of IPv4 and IPv6 peers (u32 each), then
  the peers as peer id + address (26 or 38 bytes each).
* `SCRAPE`: 20-byte hashes; answered with complete, downloaded, incomplete per hash.
* `FULL_SCRAPE`: a limit (u32); answered with hash + the three counts per swarm.
* `TOTALS`: empty; answered with swarms, seeders, leechers.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ..errors import RemoteProtocolError
from ..tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats
from .store import PeerAnnounce, StoredPeer, StoreTotals, SwarmReply

__all__ = [
    "ANNOUNCE",
    "ERROR",
    "FULL_SCRAPE",
    "HEADER",
    "REPLY",
    "SCRAPE",
    "TOTALS",
    "decode_announce",
    "decode_announce_reply",
    "decode_full_scrape_reply",
    "decode_scrape_reply",
    "decode_totals",
    "encode_announce",
    "encode_announce_reply",
    "encode_full_scrape_reply",
    "encode_scrape_reply",
    "encode_totals",
    "frame",
    "shard_of",
]

ANNOUNCE, SCRAPE, FULL_SCRAPE, TOTALS = 1, 2, 3, 4
REPLY = 0x80
ERROR = 0xFF
HEADER = struct.Struct(">IBI")  # length of what follows the length, kind, request id
MAX_FRAME = 64 << 20

_EVENTS = (AnnounceEvent.NONE, AnnounceEvent.COMPLETED, AnnounceEvent.STARTED,
           AnnounceEvent.STOPPED)  # fmt: skip
_EVENT_CODE = {e: i for i, e in enumerate(_EVENTS)}
_ANN = struct.Struct(">20s20sQBIB")
_COUNTS = struct.Struct(">QQQ")
_NPEERS = struct.Struct(">II")


def shard_of(info_hash: bytes, count: int) -> int:
    """The worker (0..count-1) that owns the swarm of `info_hash`."""
    return int.from_bytes(info_hash[:4], "big") % count


def frame(kind: int, request_id: int, body: bytes) -> bytes:
    return HEADER.pack(5 + len(body), kind, request_id) + body


def encode_announce(ann: PeerAnnounce) -> bytes:
    req = ann.request
    return _ANN.pack(req.info_hash, req.peer_id, req.left, _EVENT_CODE[req.event],
                     ann.numwant, ann.both_families) + ann.packed  # fmt: skip


def decode_announce(body: bytes) -> PeerAnnounce:
    """The announce as the owner's store applies it (counts it does not keep are zero)."""
    if len(body) not in (_ANN.size + 6, _ANN.size + 18):
        raise RemoteProtocolError("forwarded announce of the wrong size")
    info_hash, peer_id, left, event, numwant, both = _ANN.unpack_from(body)
    if event >= len(_EVENTS):
        raise RemoteProtocolError("forwarded announce with an unknown event")
    packed = body[_ANN.size :]
    request = AnnounceRequest(
        info_hash=info_hash, peer_id=peer_id, port=int.from_bytes(packed[-2:], "big"),
        uploaded=0, downloaded=0, left=left, event=_EVENTS[event], key=0, numwant=numwant,
    )  # fmt: skip
    return PeerAnnounce(request, packed, numwant, both_families=bool(both))


def encode_announce_reply(reply: SwarmReply) -> bytes:
    parts = [_COUNTS.pack(reply.complete, reply.incomplete, reply.downloaded),
             _NPEERS.pack(len(reply.peers4), len(reply.peers6))]  # fmt: skip
    parts += [pid + addr for pid, addr in reply.peers4]
    parts += [pid + addr for pid, addr in reply.peers6]
    return b"".join(parts)


def decode_announce_reply(body: bytes) -> SwarmReply:
    head = _COUNTS.size + _NPEERS.size
    if len(body) < head:
        raise RemoteProtocolError("short announce reply")
    complete, incomplete, downloaded = _COUNTS.unpack_from(body)
    n4, n6 = _NPEERS.unpack_from(body, _COUNTS.size)
    if len(body) != head + 26 * n4 + 38 * n6:
        raise RemoteProtocolError("announce reply of the wrong size")
    p4 = _peers(body, head, n4, 6)
    p6 = _peers(body, head + 26 * n4, n6, 18)
    return SwarmReply(complete, incomplete, downloaded, p4, p6)


def _peers(body: bytes, at: int, count: int, stride: int) -> tuple[StoredPeer, ...]:
    step = 20 + stride
    return tuple((body[i : i + 20], body[i + 20 : i + step])
                 for i in range(at, at + step * count, step))  # fmt: skip


def encode_scrape_reply(stats: Sequence[ScrapeStats]) -> bytes:
    return b"".join(_COUNTS.pack(s.complete, s.downloaded, s.incomplete) for s in stats)


def decode_scrape_reply(body: bytes, count: int) -> list[ScrapeStats]:
    if len(body) != _COUNTS.size * count:
        raise RemoteProtocolError("scrape reply of the wrong size")
    return [ScrapeStats(*_COUNTS.unpack_from(body, i)) for i in range(0, len(body), 24)]


def encode_full_scrape_reply(files: dict[bytes, ScrapeStats]) -> bytes:
    return b"".join(h + _COUNTS.pack(s.complete, s.downloaded, s.incomplete)
                    for h, s in files.items())  # fmt: skip


def decode_full_scrape_reply(body: bytes) -> dict[bytes, ScrapeStats]:
    if len(body) % 44:
        raise RemoteProtocolError("full scrape reply of the wrong size")
    return {body[i : i + 20]: ScrapeStats(*_COUNTS.unpack_from(body, i + 20))
            for i in range(0, len(body), 44)}  # fmt: skip


def encode_totals(totals: StoreTotals) -> bytes:
    return _COUNTS.pack(totals.swarms, totals.seeders, totals.leechers)


def decode_totals(body: bytes) -> StoreTotals:
    if len(body) != _COUNTS.size:
        raise RemoteProtocolError("totals reply of the wrong size")
    return StoreTotals(*_COUNTS.unpack(body))
