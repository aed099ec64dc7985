"""`MetadataFetcher`: download a magnet link's info dictionary from peers (BEP 9), sans-IO.

Pure policy over peer keys (L1): peers go in with their ``metadata_size`` and ut_metadata
id, decoded data/reject messages and the clock go in, and out come actions
(`SendMetadataRequest`) and events (`MetadataPeerFlagged`, `MetadataHashMismatch`,
`MetadataVerified`), drained with `actions()`. The rules are numbered in `ut_metadata`'s
docstring (2-5); each place that applies one cites it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TypeAlias

from ..addresses import PeerKey
from ..metainfo.model import InfoHashes
from .ut_metadata import (
    DEFAULT_MAX_METADATA_SIZE,
    METADATA_PIECE_SIZE,
    MetadataData,
    MetadataReject,
    MetadataRequest,
    encode_metadata_message,
    metadata_matches,
    metadata_piece_count,
    metadata_piece_length,
)

__all__ = [
    "MAX_FAILED_ROUNDS",
    "MAX_REQUESTS_PER_PEER",
    "MAX_TIMEOUTS",
    "REJECT_BACKOFF",
    "REQUEST_TIMEOUT",
    "FetcherAction",
    "MetadataFetcher",
    "MetadataHashMismatch",
    "MetadataPeerFlagged",
    "MetadataVerified",
    "SendMetadataRequest",
]

REQUEST_TIMEOUT = 20.0
REJECT_BACKOFF = 30.0
MAX_REQUESTS_PER_PEER = 4
MAX_TIMEOUTS = 3
MAX_FAILED_ROUNDS = 3  # a peer in this many failed rounds is flagged even if never alone


@dataclass(frozen=True, slots=True)
class SendMetadataRequest:
    """Send ``conn.send_extended(ext_id, payload)`` to `peer` (`ext_id` is the peer's id)."""

    peer: PeerKey
    ext_id: int
    piece: int

    @property
    def payload(self) -> bytes:
        return encode_metadata_message(MetadataRequest(self.piece))


@dataclass(frozen=True, slots=True)
class MetadataPeerFlagged:
    """`peer` broke BEP 9 or sent metadata that failed the hash; it is no longer asked.
    The session should disconnect it and may ban it."""

    peer: PeerKey
    reason: str


@dataclass(frozen=True, slots=True)
class MetadataHashMismatch:
    """A full round of metadata failed the info-hash and was discarded."""

    size: int
    contributors: frozenset[PeerKey]


@dataclass(frozen=True, slots=True)
class MetadataVerified:
    """The info dictionary, verified against every known info-hash: parse it with
    `metainfo.parse_info_dict(raw)` and go on as a normal download."""

    raw: bytes = field(repr=False)


FetcherAction: TypeAlias = (
    SendMetadataRequest | MetadataPeerFlagged | MetadataHashMismatch | MetadataVerified
)


@dataclass(slots=True)
class _Peer:
    ext_id: int
    size: int
    order: int
    outstanding: dict[int, float] = field(default_factory=dict)  # piece -> deadline
    late: set[int] = field(default_factory=set)  # timed out or abandoned: may still arrive
    rested_until: float = float("-inf")
    timeouts: int = 0
    failed_rounds: int = 0
    suspect: bool = False
    tried_alone: bool = False


class MetadataFetcher:
    """Fetches and verifies the info dictionary for `info_hashes` from many peers."""

    def __init__(
        self,
        info_hashes: InfoHashes,
        *,
        max_metadata_size: int = DEFAULT_MAX_METADATA_SIZE,
        request_timeout: float = REQUEST_TIMEOUT,
        max_requests_per_peer: int = MAX_REQUESTS_PER_PEER,
    ) -> None:
        self.info_hashes = info_hashes
        self.max_metadata_size = max_metadata_size
        self.request_timeout = request_timeout
        self.max_requests_per_peer = max_requests_per_peer
        self.raw: bytes | None = None  # the verified metadata, once in
        self.flagged: dict[PeerKey, str] = {}  # peer -> why
        self._peers: dict[PeerKey, _Peer] = {}
        self._order = 0
        self._size: int | None = None  # the size this round assembles
        self._pieces: dict[int, bytes] = {}
        self._sources: dict[int, PeerKey] = {}  # piece -> who sent it (this round)
        self._asked: dict[int, PeerKey] = {}  # piece -> who has it outstanding
        self._failed: list[tuple[int, dict[int, tuple[PeerKey, bytes]]]] = []
        self._alone: PeerKey | None = None  # the suspect fetched from alone (rule 5)
        self._actions: list[FetcherAction] = []
        self._now = float("-inf")

    # ---- inputs ---------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.raw is not None

    @property
    def progress(self) -> tuple[int, int]:
        """(pieces held, pieces needed) of the current round; (0, 0) before any size."""
        if self._size is None:
            return 0, 0
        return len(self._pieces), metadata_piece_count(self._size)

    def add_peer(
        self, peer: PeerKey, *, metadata_size: int | None, ext_id: int | None, now: float
    ) -> bool:
        """Offer a peer after its extended handshake; False when it cannot be used.

        `metadata_size` None (the peer has no metadata) or `ext_id` None/0 (no ut_metadata)
        just leave the peer out; a size of 0 or less or over the cap flags it (rule 2).
        """
        self._now = max(self._now, now)
        if self.done or peer in self.flagged or peer in self._peers:
            return False
        if metadata_size is None or not ext_id:
            return False
        if not 0 < metadata_size <= self.max_metadata_size:
            self._flag(
                peer,
                f"announced a metadata_size of {metadata_size} bytes "
                f"(accepted: 1..{self.max_metadata_size})",
            )
            return False
        self._peers[peer] = _Peer(ext_id, metadata_size, self._order)
        self._order += 1
        self._schedule()
        return True

    def remove_peer(self, peer: PeerKey, *, now: float | None = None) -> None:
        """The peer disconnected: its outstanding pieces go to others."""
        if now is not None:
            self._now = max(self._now, now)
        p = self._peers.pop(peer, None)
        if p is None:
            return
        for piece in p.outstanding:
            self._asked.pop(piece, None)
        if self._alone == peer:
            self._alone = None
        self._schedule()

    def receive(self, peer: PeerKey, msg: MetadataData | MetadataReject, *, now: float) -> None:
        """A decoded data or reject message from `peer` (requests go to `MetadataServer`)."""
        self._now = max(self._now, now)
        p = self._peers.get(peer)
        if p is None or self.done:
            return
        if isinstance(msg, MetadataReject):
            if p.outstanding.pop(msg.piece, None) is not None:
                self._asked.pop(msg.piece, None)
                p.rested_until = now + REJECT_BACKOFF  # rule 4
            p.late.discard(msg.piece)
        else:
            self._on_data(peer, p, msg)
        self._schedule()

    def _on_data(self, peer: PeerKey, p: _Peer, msg: MetadataData) -> None:
        piece = msg.piece
        if msg.total_size != p.size:  # rule 3
            self._flag(peer, f"sent total_size {msg.total_size} after announcing {p.size}")
            return
        if not 0 <= piece < metadata_piece_count(p.size):
            self._flag(peer, f"sent metadata piece {piece}, out of range")
            return
        expected = metadata_piece_length(p.size, piece)
        if len(msg.data) != expected:
            self._flag(
                peer, f"sent {len(msg.data)} bytes for metadata piece {piece}, not {expected}"
            )
            return
        if p.outstanding.pop(piece, None) is not None:
            self._asked.pop(piece, None)
        elif piece in p.late:
            p.late.discard(piece)
        else:
            self._flag(peer, f"sent metadata piece {piece} that was never requested")
            return
        if p.size != self._size or piece in self._pieces:
            return  # a late answer to an abandoned round, or a duplicate
        self._pieces[piece] = msg.data
        self._sources[piece] = peer
        if len(self._pieces) == metadata_piece_count(p.size):
            self._verify(p.size)

    def get_timer(self) -> float | None:
        """When `handle_timer` must run next: a request deadline or the end of a rest."""
        if self.done:
            return None
        times = [t for p in self._peers.values() for t in p.outstanding.values()]
        times += [p.rested_until for p in self._peers.values() if p.rested_until > self._now]
        return min(times, default=None)

    def handle_timer(self, *, now: float) -> None:
        """Expire requests past their deadline (rule 4) and hand their pieces out again."""
        self._now = max(self._now, now)
        for p in self._peers.values():
            for piece, deadline in list(p.outstanding.items()):
                if deadline <= now:
                    del p.outstanding[piece]
                    self._asked.pop(piece, None)
                    p.late.add(piece)
                    p.timeouts += 1
        self._schedule()

    def actions(self) -> list[FetcherAction]:
        """Drain what to send and what happened since the last call."""
        out, self._actions = self._actions, []
        return out

    # ---- verification and blame (rule 5) -------------------------------------------------

    def _verify(self, size: int) -> None:
        raw = b"".join(self._pieces[i] for i in range(metadata_piece_count(size)))
        sources = dict(self._sources)
        self._new_round()
        if metadata_matches(raw, self.info_hashes):
            self.raw = raw
            for each in self._peers.values():
                each.outstanding.clear()
            self._actions.append(MetadataVerified(raw))
            self._blame_after_success(raw)
            return
        contributors = frozenset(sources.values())
        self._actions.append(MetadataHashMismatch(size, contributors))
        record = {i: (sources[i], hashlib.sha1(self._piece_of(raw, i)).digest()) for i in sources}
        self._failed = [*self._failed[-3:], (size, record)]
        for peer in contributors:
            if len(contributors) == 1:  # a sole source: no doubt who lied
                self._flag(peer, "sent metadata that does not match the info-hash")
                continue
            p = self._peers.get(peer)
            if p is None:
                continue
            p.suspect = True
            p.failed_rounds += 1
            if p.failed_rounds >= MAX_FAILED_ROUNDS:
                self._flag(peer, f"took part in {p.failed_rounds} failed metadata rounds")

    @staticmethod
    def _piece_of(raw: bytes, piece: int) -> bytes:
        start = piece * METADATA_PIECE_SIZE
        return raw[start : start + METADATA_PIECE_SIZE]

    def _blame_after_success(self, raw: bytes) -> None:
        """Compare the pieces of failed rounds with the verified metadata: whoever sent a
        piece that differs (or a round of the wrong size) lied."""
        for size, record in self._failed:
            for piece, (peer, digest) in sorted(record.items()):
                if peer in self.flagged:
                    continue
                if size != len(raw):
                    self._flag(peer, f"sent metadata of {size} bytes, not {len(raw)}")
                elif hashlib.sha1(self._piece_of(raw, piece)).digest() != digest:
                    self._flag(peer, f"sent a corrupt metadata piece {piece}")
        self._failed.clear()
        for peer, p in list(self._peers.items()):
            if p.size != len(raw):
                self._flag(peer, f"announced metadata_size {p.size}, not {len(raw)}")

    # ---- scheduling -----------------------------------------------------------------

    def _flag(self, peer: PeerKey, reason: str) -> None:
        self.flagged[peer] = reason
        self._actions.append(MetadataPeerFlagged(peer, reason))
        p = self._peers.pop(peer, None)
        if p is None:
            return
        for piece in p.outstanding:
            self._asked.pop(piece, None)
        for piece in [i for i, src in self._sources.items() if src == peer]:
            del self._pieces[piece], self._sources[piece]  # rule 3: drop what it sent
        if self._alone == peer:
            self._alone = None

    def _new_round(self) -> None:
        self._pieces.clear()
        self._sources.clear()
        self._alone = None

    def _usable(self, p: _Peer) -> bool:
        return p.timeouts < MAX_TIMEOUTS

    def _pick_size(self) -> int | None:
        """Keep this round's size while a usable peer has it (or no peer is usable at all,
        so the pieces held wait for the next peer); else the most common size."""
        live = [p for p in self._peers.values() if self._usable(p)]
        if self._size is not None and (not live or any(p.size == self._size for p in live)):
            return self._size
        counts: dict[int, int] = {}
        for p in sorted(live, key=lambda q: q.order):
            counts[p.size] = counts.get(p.size, 0) + 1
        return max(counts, key=lambda s: counts[s], default=None)

    def _candidates(self) -> list[tuple[PeerKey, _Peer]]:
        same = [(k, p) for k, p in self._peers.items() if p.size == self._size and self._usable(p)]
        clean = [(k, p) for k, p in same if not p.suspect]
        if clean or not same:
            return clean
        # Only suspects are left: fetch from one at a time, whole (rule 5).
        alone = self._alone
        if alone is None or alone not in dict(same):
            untried = [kp for kp in same if not kp[1].tried_alone] or same
            alone = min(untried, key=lambda kp: (kp[1].failed_rounds, kp[1].order))[0]
            self._alone = alone
            self._peers[alone].tried_alone = True
        return [(alone, self._peers[alone])]

    def _schedule(self) -> None:
        if self.done:
            return
        size = self._pick_size()
        if size != self._size:
            for p in self._peers.values():  # a new round: earlier answers may still come
                p.late.update(p.outstanding)
                p.outstanding.clear()
            self._asked.clear()
            self._new_round()
            self._size = size
        if size is None:
            return
        now = self._now
        candidates = [(k, p) for k, p in self._candidates() if p.rested_until <= now]
        for piece in range(metadata_piece_count(size)):
            if piece in self._pieces or piece in self._asked:
                continue
            free = [
                (k, p) for k, p in candidates if len(p.outstanding) < self.max_requests_per_peer
            ]
            if not free:
                return
            # Prefer a peer that has not just let this piece time out.
            peer, p = min(
                free, key=lambda kp: (piece in kp[1].late, len(kp[1].outstanding), kp[1].order)
            )
            p.outstanding[piece] = now + self.request_timeout
            p.late.discard(piece)
            self._asked[piece] = peer
            self._actions.append(SendMetadataRequest(peer, p.ext_id, piece))
