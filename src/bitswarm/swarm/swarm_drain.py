"""SwarmDrain: a seed's estimate of whether its peers spread pieces among themselves fast.

Why: a seed whose upload is saturated should spend it where the swarm needs it, and that
depends on which link is the bottleneck (Kumar–Ross):
- seed-limited (the seed's upload is the smallest share): every piece the seed sends twice
  costs the whole swarm a piece's worth of time, while the leechers have upload to spare and
  pass any piece one of them holds to the others within a second or so. The seed should
  send only pieces nobody has, and refuse (BEP 6 reject) a request for a piece that a peer
  already holds: in the namespace swarm lab this brought the seed from 1.15 copies of the
  payload to 1.07-1.09 (E 0.84 -> 0.88).
- upload-limited (the leechers' uploads are the bottleneck): once every piece is in the
  swarm the seed must keep sending pieces others already hold, or its upload goes unused;
  refusing them there cost E 0.84 -> 0.785.
A saturated socket looks the same in both cases. What differs is how fast pieces the seed
never sent to a peer reach it from the others, which the seed sees as HAVE messages:

    backlog = sum over pieces some peer has of (peers that still lack it)   [copies]
    trades  = HAVEs per second for pieces a peer did not get from us        [copies/s]
    drain   = backlog / trades                                              [seconds]

`drain` is how long the peers would need to give every piece already among them to every
one of them without us. Seed-limited it stays around a second (each piece the seed sends
is everywhere soon after); upload-limited it grows to tens of seconds as soon as the seed
has sent a few seconds' worth, since the leechers' uploads cannot keep up with the seed's.
Near the end of an upload-limited download, though, the backlog shrinks and `drain` falls
too, while the seed's upload is still needed. The second test is Kumar–Ross's own: a swarm
of N peers is seed-limited when their uploads together can make the N - 1 further copies of
everything the seed sends (sum u_i >= (N - 1) u_s). The peers' trades are what their
uploads carry, so the seed compares them with N - 1 times what it sends itself:

    trades >= share * (N - 1) * sent      [pieces/s; share = 0.5 allows for the seed's own
                                           duplicates and for peers that just joined]

In the lab (N = 8) seed-limited swarms trade 5-7 times what the seed sends, upload-limited
ones about 1.6 times (80 Mbit/s of leechers against a 50 Mbit/s seed). `keeps_up` says both
hold: `drain` under `limit` seconds (2 by default) and trades at that share. Only then
should a seed refuse to send a piece a peer already holds.

Pure (L1): counts and `now` in, a verdict out; the caller feeds HAVEs and availability.
"""

from __future__ import annotations

from collections.abc import Iterable

from .rate import RateMeter

__all__ = ["DRAIN_LIMIT", "TRADE_SHARE", "SwarmDrain", "backlog_copies", "drain_seconds"]

DRAIN_LIMIT = 2.0  # seconds: the peers keep up when they could spread what they hold this fast
TRADE_SHARE = 0.5  # of the N - 1 copies per piece sent that a seed-limited swarm trades


def backlog_copies(availability: Iterable[int], peers: int) -> int:
    """Copies still to be made among `peers` of the pieces at least one of them holds."""
    return sum(peers - count for count in availability if 0 < count < peers)


def drain_seconds(backlog: int, trade_rate: float) -> float:
    """Seconds the peers need to pass on `backlog` copies at `trade_rate` copies/s (inf
    when they trade nothing: nothing says they can)."""
    if backlog <= 0:
        return 0.0
    if trade_rate <= 0:
        return float("inf")
    return backlog / trade_rate


class SwarmDrain:
    """Trades seen (`traded`) and the last verdict (`update`, about once a second)."""

    __slots__ = ("_trades", "drain", "keeps_up", "limit", "share", "trade_ratio")

    def __init__(
        self, *, limit: float = DRAIN_LIMIT, share: float = TRADE_SHARE, window: float = 4.0
    ) -> None:
        self.limit = limit
        self.share = share
        self._trades = RateMeter(window=window, buckets=int(window))
        self.drain = float("inf")
        self.trade_ratio = 0.0  # trades per piece we send, per other peer (1.0: N - 1 each)
        self.keeps_up = False  # until measured: serve every request

    def traded(self, now: float) -> None:
        """A peer announced a piece it did not get from us."""
        self._trades.add(1, now)

    def update(self, availability: Iterable[int], peers: int, sent: float, now: float) -> bool:
        """Recompute the verdict from each piece's holder count among `peers` peers and the
        pieces per second we send (`sent`)."""
        trades = self._trades.rate(now)
        self.drain = drain_seconds(backlog_copies(availability, peers), trades)
        wanted = (peers - 1) * sent
        if wanted > 0:
            self.trade_ratio = trades / wanted
        else:  # we send nothing (or have one peer): any trade is more than our share
            self.trade_ratio = float("inf") if trades > 0 else 0.0
        self.keeps_up = self.drain < self.limit and self.trade_ratio >= self.share
        return self.keeps_up
