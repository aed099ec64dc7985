"""Piece deadlines for streaming: which pieces are time-critical, and which peers fetch them.

Modelled on libtorrent's `set_piece_deadline` and `request_time_critical_pieces`
(docs/streaming.rst of libtorrent). A reader of a file being downloaded (a video player)
needs the pieces under its position now and the ones after it soon. Each reader (an
*owner*: any hashable key) gives the pieces it needs with an absolute deadline on the
driver's clock; a piece's deadline is the earliest any owner gave it. The picker serves
those pieces before any other (`pick_critical`), in deadline order, and only to peers
that are not among the slowest (`fast_peers`): a block asked of a slow peer arrives late
however early it was asked. A piece whose deadline passed while all its blocks were in
flight gets its missing blocks requested from a second peer (`late_pieces`). A deadline
goes when its piece passes the hash check (`discard`) or its owner moves on
(`set_owner`, `release`); an owner stays registered (`active`) until it is released.

Rules:
* Pure: deadlines and `now` come in as floats, nothing reads a clock.
* An owner's call replaces its whole window, so a seek drops the pieces it left behind.
* Order of service: earliest deadline first, ties by piece index (a reader's next bytes).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..addresses import PeerKey
from .picker import Block, PiecePicker

__all__ = [
    "SLOW_FRACTION",
    "DeadlineQueue",
    "PeerLoad",
    "fast_peers",
    "pick_critical",
    "pick_late",
]

SLOW_FRACTION = 0.1  # libtorrent leaves the slowest tenth of the peers out of critical work


class DeadlineQueue:
    """The time-critical pieces of one torrent, merged over every owner (reader)."""

    __slots__ = ("_effective", "_order", "_owners")

    def __init__(self) -> None:
        self._owners: dict[Hashable, dict[int, float]] = {}
        self._effective: dict[int, float] = {}  # piece -> earliest deadline of any owner
        self._order: list[tuple[float, int]] | None = []  # sorted (deadline, piece); None: stale

    def __bool__(self) -> bool:
        return bool(self._effective)

    def __len__(self) -> int:
        return len(self._effective)

    def __contains__(self, piece: object) -> bool:
        return piece in self._effective

    @property
    def active(self) -> bool:
        """Some owner is registered, even one whose pieces have all arrived: a reader
        that may seek at any moment."""
        return bool(self._owners)

    def deadline(self, piece: int) -> float | None:
        """The earliest deadline any owner gave `piece`, None if it has none."""
        return self._effective.get(piece)

    def set_owner(self, owner: Hashable, deadlines: Mapping[int, float]) -> list[int]:
        """Replace `owner`'s pieces and deadlines with `deadlines`; returns the pieces that
        were not time-critical before (a seek's new window, for the caller to hurry)."""
        before = set(self._effective)
        old = self._owners.pop(owner, {})
        self._owners[owner] = dict(deadlines)
        self._recompute(set(old) | set(deadlines))
        return sorted(p for p in deadlines if p not in before)

    def release(self, owner: Hashable) -> None:
        """The owner is gone (a reader closed): its deadlines go, others' stay."""
        old = self._owners.pop(owner, None)
        if old:
            self._recompute(set(old))

    def discard(self, piece: int) -> None:
        """`piece` arrived (passed its hash check): no owner waits for it any more."""
        if piece not in self._effective:
            return
        for window in self._owners.values():
            window.pop(piece, None)
        del self._effective[piece]
        self._order = None

    def clear(self) -> None:
        self._owners.clear()
        self._effective.clear()
        self._order = []

    def ordered(self) -> list[tuple[float, int]]:
        """(deadline, piece) of every time-critical piece, earliest first."""
        if self._order is None:
            self._order = sorted((d, p) for p, d in self._effective.items())
        return self._order

    def late(self, now: float) -> list[int]:
        """The pieces whose deadline has passed, earliest first."""
        out = []
        for deadline, piece in self.ordered():
            if deadline > now:
                break
            out.append(piece)
        return out

    def _recompute(self, pieces: Iterable[int]) -> None:
        for piece in pieces:
            best: float | None = None
            for window in self._owners.values():
                d = window.get(piece)
                if d is not None and (best is None or d < best):
                    best = d
            if best is None:
                self._effective.pop(piece, None)
            else:
                self._effective[piece] = best
        self._order = None


@dataclass(frozen=True, slots=True)
class PeerLoad:
    """One unchoking peer as the deadline logic sees it: the bytes we have asked of it
    and not received, and its measured download rate (bytes/s)."""

    key: PeerKey
    outstanding_bytes: int
    rate: float

    @property
    def queue_time(self) -> float:
        """Seconds until a request sent now would be answered, from its queue and rate
        (libtorrent's `download_queue_time`); an unmeasured peer counts as slow."""
        rate = max(self.rate, 1024.0)
        return (self.outstanding_bytes + 16384) / rate


def fast_peers(loads: Sequence[PeerLoad], *, slow_fraction: float = SLOW_FRACTION) -> list[PeerKey]:
    """The peers to give time-critical blocks to, shortest queue time first: all but the
    slowest `slow_fraction` of them, rounded so that at least one is left out once there
    are two (as libtorrent keeps 9/10 of them, rounded down), and never the last one. Before
    any rate is measured every peer is kept."""
    ranked = sorted(loads, key=lambda p: (p.queue_time, -p.rate))
    if not any(p.rate > 0 for p in ranked):  # nothing measured yet: no reason to leave any out
        return [p.key for p in ranked]
    keep = max(1, math.floor(len(ranked) * (1.0 - slow_fraction)))
    return [p.key for p in ranked[:keep]]


def pick_critical(
    picker: PiecePicker, queue: DeadlineQueue, peer: PeerKey, count: int
) -> list[Block]:
    """Up to `count` free blocks of time-critical pieces for `peer`, earliest deadline
    first, marked requested in `picker`. The caller asks this before `picker.pick`, and
    only for a peer `fast_peers` kept."""
    out: list[Block] = []
    for _deadline, piece in queue.ordered():
        if len(out) >= count:
            break
        out += picker.pick_in_piece(peer, piece, count - len(out))
    return out


def pick_late(
    picker: PiecePicker, queue: DeadlineQueue, room: Mapping[PeerKey, int], now: float
) -> list[tuple[PeerKey, Block]]:
    """For each piece past its deadline, its free blocks and those in flight to one other
    peer, asked of the fastest peer in `room` (fastest first, as `fast_peers` orders them)
    that has the piece: at most `room[peer]` blocks each, the space left in its queue
    (libtorrent gives the blocks of a late time-critical piece to a second peer the same
    way)."""
    out: list[tuple[PeerKey, Block]] = []
    budget = dict(room)
    for piece in queue.late(now):
        if not any(n > 0 for n in budget.values()):
            break
        for peer in budget:
            if budget[peer] <= 0:
                continue
            blocks = picker.pick_in_piece(peer, piece, budget[peer], duplicate=True)
            budget[peer] -= len(blocks)
            out += [(peer, b) for b in blocks]
            if blocks:
                break
    return out
