"""What a DHT node keeps across runs and shows about itself: saved state, counters, status.

BEP 5 ("Routing Table"): the routing table should be saved between invocations. The
saved form is one bencoded dictionary::

    {"id": <20 bytes>, "nodes": <compact IPv4 node info>, "nodes6": <compact IPv6>}

the same compact encodings KRPC uses, so a state file is small and other tools can read
it. On start the saved nodes are not trusted as good (they may be gone): they seed the
bootstrap lookup, and only those that answer enter the table. The driver reads and
writes the file; this module only turns the dictionary into bytes and back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..bencode import bdecode, bencode
from ..errors import BencodeError, BitswarmError
from .krpc import KrpcError, NodeInfo, decode_nodes, encode_nodes
from .node_id import ID_BYTES
from .routing_table import BucketSummary

__all__ = ["DhtCounters", "DhtStateError", "DhtStatus", "SavedState", "decode_state",
           "encode_state"]  # fmt: skip

MAX_SAVED_NODES = 1000


class DhtStateError(BitswarmError):
    """A saved DHT state that cannot be read (corrupt or not ours)."""


@dataclass(frozen=True, slots=True)
class SavedState:
    node_id: bytes
    nodes: tuple[NodeInfo, ...]
    nodes6: tuple[NodeInfo, ...]


def encode_state(state: SavedState) -> bytes:
    return bencode({
        b"id": state.node_id,
        b"nodes": encode_nodes(state.nodes[:MAX_SAVED_NODES], family=4),
        b"nodes6": encode_nodes(state.nodes6[:MAX_SAVED_NODES], family=6),
    })  # fmt: skip


def decode_state(data: bytes) -> SavedState:
    """Raises `DhtStateError` for anything but a dictionary written by `encode_state`."""
    try:
        top = bdecode(data)
    except BencodeError as exc:
        raise DhtStateError(f"DHT state is not bencoding: {exc}") from None
    if not isinstance(top, dict):
        raise DhtStateError("DHT state is not a dictionary")
    node_id = top.get(b"id")
    nodes, nodes6 = top.get(b"nodes", b""), top.get(b"nodes6", b"")
    if not isinstance(node_id, bytes) or len(node_id) != ID_BYTES:
        raise DhtStateError("DHT state has no 20-byte node id")
    if not isinstance(nodes, bytes) or not isinstance(nodes6, bytes):
        raise DhtStateError("DHT state nodes are not compact strings")
    try:
        v4 = decode_nodes(nodes, family=4, limit=MAX_SAVED_NODES)
        v6 = decode_nodes(nodes6, family=6, limit=MAX_SAVED_NODES)
    except KrpcError as exc:
        raise DhtStateError(f"DHT state: {exc}") from None
    return SavedState(node_id, tuple(v4), tuple(v6))


@dataclass(slots=True)
class DhtCounters:
    """Running totals; the driver and `bitswarm dht` show them."""

    datagrams_in: int = 0
    datagrams_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    queries_in: int = 0
    responses_in: int = 0
    errors_in: int = 0
    errors_out: int = 0
    malformed: int = 0  # not KRPC (bad bencoding, missing or bad fields)
    oversized: int = 0  # larger than max_packet_size, dropped unread
    rate_limited: int = 0  # unsolicited datagrams over the source's rate
    unmatched: int = 0  # answers to no query of ours (late, spoofed or misrouted)
    ignored_read_only: int = 0  # queries we did not answer (BEP 43 read-only mode)
    timeouts: int = 0
    bad_tokens: int = 0
    peers_stored: int = 0
    not_bep42: int = 0  # answering nodes whose id does not match their IP (not enforced)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DhtStatus:
    """A snapshot for display (`bitswarm dht`, the session's status)."""

    node_id: bytes
    family: int
    read_only: bool
    good: int
    questionable: int
    bad: int
    buckets: tuple[BucketSummary, ...]
    torrents: int
    stored_peers: int
    lookups: int
    pending: int
    counters: dict[str, int]

    def as_json(self) -> dict[str, object]:
        return {
            "node_id": self.node_id.hex(), "family": self.family, "read_only": self.read_only,
            "good": self.good, "questionable": self.questionable, "bad": self.bad,
            "buckets": [
                {"depth": b.depth, "good": b.good, "questionable": b.questionable,
                 "bad": b.bad, "replacements": b.replacements}
                for b in self.buckets
            ],
            "torrents": self.torrents, "stored_peers": self.stored_peers,
            "lookups": self.lookups, "pending": self.pending, "counters": dict(self.counters),
        }  # fmt: skip
