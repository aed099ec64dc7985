"""Peer slots: whom to close so that idle peers never hold a torrent's slots (pure policy).

Issue 14: 50 connections that handshake, send `have_none` and a keep-alive a minute held
every one of a seeder's 50 slots for good, and a real downloader was turned away. The
rules, after libtorrent's (`peer_connection::second_tick`, `torrent::attach_peer`,
`session_impl`'s turnover; its settings' names in brackets):

* **No interest** [inactivity_timeout, 600 s]: a peer that is neither interested in us nor
  interesting to us (neither side wants anything of the other) for that long is closed
  while the torrent is near its limit (within 5 slots of it, as libtorrent).
* **No request** (libtorrent's `timed_out_no_request`, 60 s, upload-only torrents): a peer
  that says it is interested, is unchoked, and moves no payload for `no_request_timeout`
  is closed: it may be lying about its interest to keep a slot.
* **Probation** [connections_slack]: a newcomer that finds the torrent full is admitted
  over the limit, up to `slack` of them, on probation. One that shows within `probation`
  seconds that it is useful (it is interested in us, or we in it: it wants pieces we have
  or has pieces we want) replaces the least useful settled peer -- first one that
  neither side is interested in, whatever its age; else one that moved no payload for
  `replace_after` seconds -- and settles. One that shows nothing in its probation is
  closed and its address earns a strike: while the torrent is full, that address is
  refused at the door for `cooldown` seconds, doubled for each further strike (at most
  `MAX_COOLDOWN_DOUBLINGS` times). A newcomer that finds the slack full too takes the
  place of the oldest probationer that has shown nothing for `GRACE` seconds (a strike
  for it as well); if every probationer is younger it is refused.
  Why this beats a flood that reconnects at once, larger than the slots: an idle peer's
  age no longer protects it (a useful newcomer replaces it at any age), and each flooding
  address spends at most one probation per cooldown, so the slack empties once every
  flooder has failed once (about `flooders * GRACE / slack` seconds) and stays open to
  the next useful peer. A flood from more addresses than `slack * cooldown / GRACE`
  (600 with the defaults) can still keep the slack full; so can one sharing the useful
  peer's own address (strikes count per address, loopback included).
* **Turnover** [peer_turnover 4 %, peer_turnover_cutoff 90 %, peer_turnover_interval
  300 s]: at or above the cutoff, every interval the least useful 4 % (at least one) are
  closed when there are addresses to try instead, so new peers get a chance.
* **Per address** [allow_multiple_connections_per_ip false]: at most
  `max_peers_per_ip` connections per IP address per torrent (1 as libtorrent); loopback
  addresses are exempt, since every local process (tests, a user's own clients) shares
  127.0.0.1 and none of them is a stranger filling slots.

Handshake timeouts and the half-open limit are enforced by the drivers (`aio/peer.py`,
`session/dialer.py`) with the times in `SessionConfig`. No I/O and no clock here: the
torrent runtime feeds `PeerFacts` and the time, once a second and at each new peer.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Admission", "PeerFacts", "SlotKeeper", "SlotRules", "is_loopback"]

NEAR_LIMIT = 5  # libtorrent: the no-interest timeout applies within 5 slots of the limit
GRACE = 1.0  # a probationer keeps its place this long against later newcomers
MAX_COOLDOWN_DOUBLINGS = 4  # the cooldown grows to at most 16 times its base
MAX_STRUCK = 4096  # addresses with strikes remembered (a flood may come from many)


@dataclass(frozen=True, slots=True)
class SlotRules:
    """The times and shares of the module docstring (defaults: libtorrent's)."""

    inactivity_timeout: float = 600.0
    no_request_timeout: float = 60.0
    replace_after: float = 60.0
    turnover: float = 0.04
    turnover_cutoff: float = 0.9
    turnover_interval: float = 300.0
    max_peers_per_ip: int = 1
    slack: int = 10
    probation: float = 5.0
    cooldown: float = 60.0


@dataclass(frozen=True, slots=True)
class PeerFacts:
    """What the policy needs of one connected peer, read by the runtime."""

    key: Hashable
    host: str
    connected_at: float
    payload: int  # payload bytes moved either way since it connected
    am_interested: bool  # we want something it has
    peer_interested: bool  # it wants something we have
    am_choking: bool  # we choke it
    seed: bool  # we are a seed (upload only)


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on a newcomer: `refused` says why not; else it settles at once or goes
    on `probation`, and `evict` (if any) is a probationer to close for its place."""

    refused: str | None = None
    probation: bool = False
    evict: Hashable | None = None


@dataclass(slots=True)
class _Seen:
    payload: int
    useful_at: float  # when payload last moved (or it connected)
    idle_since: float | None  # since when neither side is interested


@dataclass(slots=True)
class _Probation:
    host: str
    since: float


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.removeprefix("::ffff:")).is_loopback
    except ValueError:
        return False


def _interested(p: PeerFacts) -> bool:
    return p.am_interested or p.peer_interested


class SlotKeeper:
    """One torrent's slot policy; `admit` each newcomer, `observe` and `review` every
    peer once a second, `forget` each peer that leaves."""

    def __init__(self, rules: SlotRules, now: float) -> None:
        self.rules = rules
        self._seen: dict[Hashable, _Seen] = {}
        self._next_turnover = now + rules.turnover_interval
        self._probation: dict[Hashable, _Probation] = {}  # in order of arrival
        self._struck: OrderedDict[str, tuple[float, int]] = OrderedDict()  # until, strikes

    # ------------------------------------------------------------------ newcomers
    def admit(
        self, key: Hashable, host: str, hosts: Iterable[str], connected: int, limit: int, now: float
    ) -> Admission:
        """The verdict on a newcomer from `host`, given the connected peers' `hosts` and
        their number `connected` (probationers included)."""
        if not self.address_allowed(host, hosts):
            return Admission(refused="too many connections from this address")
        if connected - len(self._probation) < limit:
            return Admission()
        struck = self._struck.get(host)
        if struck is not None and now < struck[0]:
            return Admission(refused="too many peers, and this address showed nothing lately")
        evict: Hashable | None = None
        if len(self._probation) >= self.rules.slack:
            evict = next(iter(self._probation), None)
            if evict is None or now - self._probation[evict].since < GRACE:
                return Admission(refused="too many peers")
            self._strike(self._probation.pop(evict).host, now)
        self._probation[key] = _Probation(host, now)
        return Admission(probation=True, evict=evict)

    def on_probation(self, key: Hashable) -> bool:
        return key in self._probation

    def forget(self, key: Hashable) -> None:
        """`key` left (closed by anyone): its probation place is free."""
        self._probation.pop(key, None)

    def review(
        self, peers: Sequence[PeerFacts], limit: int, now: float
    ) -> list[tuple[Hashable, str]]:
        """Settle or close the probationers among `peers` (`observe` them first); the
        peers to close now, each with its reason (settled ones replaced included)."""
        out: list[tuple[Hashable, str]] = []
        on_probation = [p for p in peers if p.key in self._probation]
        if not on_probation:
            return out
        settled = [p for p in peers if p.key not in self._probation]
        free = limit - len(settled)
        # the useful first, then the oldest: who gets a slot that is free
        on_probation.sort(key=lambda p: (not _interested(p), self._probation[p.key].since))
        for p in on_probation:
            place = self._probation[p.key]
            if free > 0:
                free -= 1
            elif _interested(p) and (victim := self._victim(settled, now)) is not None:
                settled.remove(victim)
                out.append((victim.key, "replaced by a useful newcomer"))
            elif now - place.since >= self.rules.probation:
                if not _interested(p):
                    self._strike(place.host, now)
                    out.append((p.key, "showed nothing useful on probation"))
                else:
                    out.append((p.key, "too many peers"))
                del self._probation[p.key]
                continue
            else:
                continue
            del self._probation[p.key]  # settled
            settled.append(p)
        return out

    def victim(self, peers: Sequence[PeerFacts], now: float) -> Hashable | None:
        """The settled peer a useful newcomer replaces (module docstring); None if none."""
        found = self._victim([p for p in peers if p.key not in self._probation], now)
        return None if found is None else found.key

    def _victim(self, settled: Sequence[PeerFacts], now: float) -> PeerFacts | None:
        if not settled:
            return None
        least = min(settled, key=lambda p: self.usefulness(p, now))
        if not _interested(least) or now - self._useful_at(least) >= self.rules.replace_after:
            return least
        return None

    def _strike(self, host: str, now: float) -> None:
        _, strikes = self._struck.pop(host, (0.0, 0))
        doublings = min(strikes, MAX_COOLDOWN_DOUBLINGS)
        self._struck[host] = (now + self.rules.cooldown * 2**doublings, strikes + 1)
        while len(self._struck) > MAX_STRUCK:
            self._struck.popitem(last=False)

    # ------------------------------------------------------------------ settled peers
    def observe(self, peers: Iterable[PeerFacts], now: float) -> None:
        """Record payload and interest; forget peers not in `peers`."""
        seen: dict[Hashable, _Seen] = {}
        for p in peers:
            old = self._seen.get(p.key) or _Seen(p.payload, p.connected_at, None)
            if p.payload != old.payload:
                old.payload, old.useful_at = p.payload, now
            if _interested(p):
                old.idle_since = None
            elif old.idle_since is None:
                old.idle_since = now
            seen[p.key] = old
        self._seen = seen
        for key in [k for k in self._probation if k not in seen]:
            del self._probation[key]

    def timed_out(
        self, peers: Sequence[PeerFacts], limit: int, now: float
    ) -> list[tuple[Hashable, str]]:
        """Settled peers to close now, each with its reason (`observe` them first)."""
        rules = self.rules
        peers = [p for p in peers if p.key not in self._probation]
        near = len(peers) >= max(1, limit - NEAR_LIMIT)
        out: list[tuple[Hashable, str]] = []
        for p in peers:
            s = self._seen.get(p.key)
            if s is None:
                continue
            if near and s.idle_since is not None and now - s.idle_since >= rules.inactivity_timeout:
                out.append((p.key, "neither side interested for too long"))
            elif (
                p.seed
                and p.peer_interested
                and not p.am_choking
                and now - max(s.useful_at, p.connected_at) >= rules.no_request_timeout
            ):
                out.append((p.key, "unchoked but requested nothing for too long"))
        return out

    def usefulness(self, p: PeerFacts, now: float) -> tuple[int, float, float]:
        """A sort key: smaller is less useful (the first to go)."""
        s = self._seen.get(p.key)
        useful_at = s.useful_at if s is not None else p.connected_at
        rate = p.payload / (now - p.connected_at + 1.0)
        return (int(_interested(p)), rate, useful_at)

    def turnover(
        self, peers: Sequence[PeerFacts], limit: int, now: float, *, candidates: bool
    ) -> list[Hashable]:
        """Every `turnover_interval`, near the limit and with addresses to try instead:
        the least useful share of the settled peers (at least one) to close."""
        rules = self.rules
        if now < self._next_turnover:
            return []
        self._next_turnover = now + rules.turnover_interval
        peers = [p for p in peers if p.key not in self._probation]
        if not candidates or len(peers) < rules.turnover_cutoff * limit or not peers:
            return []
        count = max(1, int(len(peers) * rules.turnover))
        ranked = sorted(peers, key=lambda p: self.usefulness(p, now))
        return [p.key for p in ranked[:count]]

    def address_allowed(self, host: str, hosts: Iterable[str]) -> bool:
        """May one more connection from `host` join, given the connected peers' `hosts`?"""
        if is_loopback(host):
            return True
        return sum(1 for h in hosts if h == host) < self.rules.max_peers_per_ip

    def _useful_at(self, p: PeerFacts) -> float:
        s = self._seen.get(p.key)
        return s.useful_at if s is not None else p.connected_at
