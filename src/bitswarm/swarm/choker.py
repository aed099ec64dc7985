"""The choker: which peers we upload to (BEP 3, "Algorithms" on choking).

A pure function of a snapshot of peer statistics, as libtorrent's `unchoke_sort` is; the
only state kept between calls is the optimistic-unchoke rotation. The core calls `rechoke`
every `rechoke_interval` seconds (BEP 3: "only changing who's choked once every ten
seconds", which avoids fibrillation) and applies the decision.

Rules:

* Only interested peers are ever unchoked or counted in the slots (libtorrent; BEP 3's
  original client also unchoked faster uninterested peers, which costs nothing but buys
  nothing either).
* One slot is the optimistic unchoke (BEP 3: "if interested, it counts as one of the four
  allowed downloaders"); the other `slots - 1` are regular. With `slots == 1` there is no
  optimistic slot.
* Leeching: tit-for-tat, the regular slots go to the peers that upload to us fastest. A
  snubbed peer (sent us nothing for 60 s while we wanted data; the core decides) gets no
  regular slot; it may still be the optimistic unchoke (the original client's anti-snubbing).
* Seeding: `fastest_upload` (we upload to them fastest), `round_robin` (each peer gets a
  turn of `round_robin_turn` seconds, those who waited longest or got the least go next) or
  `anti_leech` (favour peers near the start or the end of their download, libtorrent's
  answer to peers that download without ever finishing).
* The optimistic unchoke rotates every `optimistic_interval` seconds among the interested
  peers without a regular slot; newly connected peers (< 60 s) are three times as likely to
  be chosen (BEP 3: "new connections are three times as likely to start as the current
  optimistic unchoke").
* Seeding has its own slot count, `seed_slots` (the core's default is 8, libtorrent's
  default `unchoke_slots_limit`; Transmission unchokes 14 per torrent; the core gives
  leeching 8 too). A seed owes no
  tit-for-tat, and when more leechers want data than it has slots, the ones left out sit
  idle for a whole rechoke interval: with 8 leechers and 4 slots a loopback seed starved 3
  of them, and in a shaped swarm the seed's fresh pieces went to the same few peers.
* A freed slot is refilled at once (`refill`), as libtorrent's `trigger_unchoke` does, not
  at the next rechoke: when an unchoked peer loses interest (it finished, or has what we
  have), disconnects, or a choked peer becomes interested while a slot is free. Only
  interested unchoked peers occupy a slot. The refill takes the peer the next rechoke would
  rank first (the fastest uploader to us; seeding: the seeding order), ties broken in
  favour of the peer that waited longest for an unchoke (libtorrent's optimistic order);
  it never chokes anyone, so it cannot fibrillate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from ..addresses import PeerKey
from ..errors import LocalProtocolError

if TYPE_CHECKING:
    from random import Random

__all__ = ["ChokeDecision", "Choker", "PeerStats", "SeedingAlgorithm"]

SeedingAlgorithm = Literal["fastest_upload", "round_robin", "anti_leech"]
NEW_PEER_SECONDS = 60.0  # "newly connected", for the optimistic-unchoke weighting
NEW_PEER_WEIGHT = 3.0
_ALGORITHMS = ("fastest_upload", "round_robin", "anti_leech")


@dataclass(frozen=True, slots=True)
class PeerStats:
    """What the choker knows of one connected peer at the time of a rechoke."""

    key: PeerKey
    interested: bool  # the peer is interested in us
    download_rate: float = 0.0  # bytes/s they give us
    upload_rate: float = 0.0  # bytes/s we give them
    snubbed: bool = False
    is_choked: bool = True  # we are choking them now
    connected_at: float = 0.0
    last_unchoked_at: float | None = None
    uploaded_total: int = 0  # bytes we gave them
    downloaded_total: int = 0  # bytes they gave us
    progress: float = 0.0  # fraction of the torrent they have (for anti_leech)


_SortKey: TypeAlias = Callable[[PeerStats], tuple[float, ...]]


@dataclass(frozen=True, slots=True)
class ChokeDecision:
    """The peers to have unchoked after this round; `unchoke` includes `optimistic`."""

    unchoke: frozenset[PeerKey]
    optimistic: PeerKey | None

    def to_choke(self, peers: Iterable[PeerStats]) -> frozenset[PeerKey]:
        """Peers we unchoke now that this decision chokes."""
        return frozenset(p.key for p in peers if not p.is_choked and p.key not in self.unchoke)

    def to_unchoke(self, peers: Iterable[PeerStats]) -> frozenset[PeerKey]:
        """Peers we choke now that this decision unchokes."""
        return frozenset(p.key for p in peers if p.is_choked and p.key in self.unchoke)


class Choker:
    """Decides the unchoked set; holds only the optimistic-unchoke rotation."""

    def __init__(
        self,
        *,
        slots: int = 4,
        rechoke_interval: float = 10.0,
        optimistic_interval: float = 30.0,
        seeding_algorithm: SeedingAlgorithm = "fastest_upload",
        round_robin_turn: float = 30.0,
        seed_slots: int | None = None,
    ) -> None:
        if slots < 1 or (seed_slots is not None and seed_slots < 1):
            raise LocalProtocolError("the choker needs at least one unchoke slot")
        if seeding_algorithm not in _ALGORITHMS:
            raise LocalProtocolError(f"unknown seeding algorithm {seeding_algorithm!r}")
        self.slots = slots
        self.seed_slots = slots if seed_slots is None else seed_slots
        self.rechoke_interval = rechoke_interval
        self.optimistic_interval = optimistic_interval
        self.seeding_algorithm: SeedingAlgorithm = seeding_algorithm
        self.round_robin_turn = round_robin_turn
        self._optimistic: PeerKey | None = None
        self._optimistic_since = 0.0

    @property
    def optimistic(self) -> PeerKey | None:
        """The current optimistic unchoke, as of the last `rechoke`."""
        return self._optimistic

    def slots_for(self, *, seeding: bool) -> int:
        """How many interested peers may be unchoked at once."""
        return self.seed_slots if seeding else self.slots

    def rechoke(
        self, peers: Sequence[PeerStats], *, seeding: bool, now: float, rng: Random
    ) -> ChokeDecision:
        interested = [p for p in peers if p.interested]
        slots = self.slots_for(seeding=seeding)
        regular_slots = slots - 1 if slots > 1 else 1
        if seeding:
            ranked = sorted(interested, key=self._seed_key(now))
        else:
            ranked = sorted(
                (p for p in interested if not p.snubbed),
                key=lambda p: (-p.download_rate, p.is_choked, -p.downloaded_total),
            )
        regular = {p.key for p in ranked[:regular_slots]}
        optimistic = None
        if slots > 1:
            others = [p for p in interested if p.key not in regular]
            optimistic = self._rotate(others, now, rng)
        else:
            self._optimistic = None
        unchoke = regular if optimistic is None else regular | {optimistic}
        return ChokeDecision(frozenset(unchoke), optimistic)

    def refill(
        self, peers: Sequence[PeerStats], *, seeding: bool, now: float
    ) -> frozenset[PeerKey]:
        """Choked interested peers to unchoke now, one per free slot; chokes nobody.

        Called between rechokes when a slot may have freed (see the module docstring). A
        peer that is snubbing us while we leech gets no refilled slot.
        """
        free = self.slots_for(seeding=seeding) - sum(
            1 for p in peers if p.interested and not p.is_choked
        )
        if free <= 0:
            return frozenset()
        waiting = [p for p in peers if p.interested and p.is_choked]
        if seeding:
            key = self._seed_key(now)
            ranked = sorted(waiting, key=lambda p: (*key(p), _waited_since(p)))
        else:
            ranked = sorted(
                (p for p in waiting if not p.snubbed),
                key=lambda p: (-p.download_rate, _waited_since(p), -p.downloaded_total),
            )
        return frozenset(p.key for p in ranked[:free])

    def _seed_key(self, now: float) -> _SortKey:
        match self.seeding_algorithm:
            case "fastest_upload":
                return lambda p: (-p.upload_rate, p.is_choked, p.uploaded_total)
            case "round_robin":
                turn = self.round_robin_turn
                return lambda p: _round_robin_key(p, now, turn)
            case "anti_leech":
                # the further from half done, the better; then the faster
                return lambda p: (-abs(p.progress - 0.5), -p.upload_rate, p.is_choked)
        raise LocalProtocolError(f"unknown seeding algorithm {self.seeding_algorithm!r}")

    def _rotate(self, candidates: list[PeerStats], now: float, rng: Random) -> PeerKey | None:
        """Keep the optimistic unchoke for its 30 s, then draw a new one (BEP 3)."""
        current = self._optimistic
        keys = [p.key for p in candidates]
        if (
            current is not None
            and current in keys
            and now - self._optimistic_since < self.optimistic_interval
        ):
            return current
        pool = [p for p in candidates if p.key != current] or candidates
        if not pool:
            self._optimistic = None
            return None
        weights = [
            NEW_PEER_WEIGHT if now - p.connected_at < NEW_PEER_SECONDS else 1.0 for p in pool
        ]
        x = rng.random() * sum(weights)
        chosen = pool[-1]
        for p, w in zip(pool, weights, strict=True):
            x -= w
            if x < 0:
                chosen = p
                break
        self._optimistic = chosen.key
        self._optimistic_since = now
        return chosen.key


def _waited_since(p: PeerStats) -> float:
    """When the peer's wait for an unchoke began: its last unchoke, or its connection."""
    return p.last_unchoked_at if p.last_unchoked_at is not None else p.connected_at


def _round_robin_key(p: PeerStats, now: float, turn: float) -> tuple[float, ...]:
    """libtorrent's round_robin, by time: a peer keeps its slot for one turn, then goes to
    the back; waiting peers go in order of longest wait (never unchoked first), then of the
    fewest bytes we gave them."""
    if not p.is_choked:
        if p.last_unchoked_at is None or now - p.last_unchoked_at < turn:
            return (0, 0.0, 0.0)  # in the middle of its turn
        return (2, p.last_unchoked_at, float(p.uploaded_total))
    waited_since = p.last_unchoked_at if p.last_unchoked_at is not None else float("-inf")
    return (1, waited_since, float(p.uploaded_total))
