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
* **Replacement**: a new peer that finds the torrent full replaces the least useful
  connected peer, if one has moved no payload for `replace_after` seconds (else the new
  peer is refused). Least useful first: neither side interested, then the lowest payload
  rate over its life, then the longest without payload (libtorrent's
  `compare_disconnect_peer` orders likewise: uninteresting, slow, choking us, quiet).
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
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["PeerFacts", "SlotKeeper", "SlotRules", "is_loopback"]

NEAR_LIMIT = 5  # libtorrent: the no-interest timeout applies within 5 slots of the limit


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


@dataclass(slots=True)
class _Seen:
    payload: int
    useful_at: float  # when payload last moved (or it connected)
    idle_since: float | None  # since when neither side is interested


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.removeprefix("::ffff:")).is_loopback
    except ValueError:
        return False


class SlotKeeper:
    """One torrent's slot policy; `observe` every peer once a second."""

    def __init__(self, rules: SlotRules, now: float) -> None:
        self.rules = rules
        self._seen: dict[Hashable, _Seen] = {}
        self._next_turnover = now + rules.turnover_interval

    def observe(self, peers: Iterable[PeerFacts], now: float) -> None:
        """Record payload and interest; forget peers not in `peers`."""
        seen: dict[Hashable, _Seen] = {}
        for p in peers:
            old = self._seen.get(p.key) or _Seen(p.payload, p.connected_at, None)
            if p.payload != old.payload:
                old.payload, old.useful_at = p.payload, now
            if p.am_interested or p.peer_interested:
                old.idle_since = None
            elif old.idle_since is None:
                old.idle_since = now
            seen[p.key] = old
        self._seen = seen

    def timed_out(
        self, peers: Sequence[PeerFacts], limit: int, now: float
    ) -> list[tuple[Hashable, str]]:
        """Peers to close now, each with its reason (`observe` them first)."""
        rules = self.rules
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
        interest = int(p.am_interested or p.peer_interested)
        rate = p.payload / (now - p.connected_at + 1.0)
        return (interest, rate, useful_at)

    def victim(self, peers: Sequence[PeerFacts], now: float) -> Hashable | None:
        """The peer a newcomer replaces when the torrent is full: the least useful one
        that moved no payload for `replace_after` seconds; None if every peer is useful."""
        idle = [p for p in peers if now - self._useful_at(p) >= self.rules.replace_after]
        if not idle:
            return None
        return min(idle, key=lambda p: self.usefulness(p, now)).key

    def turnover(
        self, peers: Sequence[PeerFacts], limit: int, now: float, *, candidates: bool
    ) -> list[Hashable]:
        """Every `turnover_interval`, near the limit and with addresses to try instead:
        the least useful share of the peers (at least one) to close."""
        rules = self.rules
        if now < self._next_turnover:
            return []
        self._next_turnover = now + rules.turnover_interval
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
