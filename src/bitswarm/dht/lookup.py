"""Iterative lookups: find_node and get_peers traversals (BEP 5 "Overview", Kademlia).

Rules of one lookup:

1. Candidates are kept sorted by XOR distance to the target; the closest `max_candidates`
   that have not failed are kept, farther new ones are forgotten. Addresses given without
   an id (bootstrap hosts) sort first, since nothing better is known yet.
2. At most `alpha` queries are in flight (a query that has been waiting longer than the
   node's "slow" delay stops counting, so one dead node does not stall the lookup; its
   answer is still used if it comes).
3. Only candidates among the `k` closest non-failed ones are queried. The lookup is done
   when those `k` have all answered (queries to farther nodes may still be out: their
   answers could not change the result, and waiting for a dead one cost a full query
   timeout, which the large-scale simulation, bench/network/dhtsim, showed as a 5 s
   floor under every lookup), when no candidate is left to ask, or when `max_queries`
   have been sent; in the last two cases once nothing is in flight.
4. Every answer adds its ``nodes`` as candidates one hop deeper than the answerer;
   get_peers answers add their ``values`` to the peers found and keep the answerer's
   token for a later announce_peer.

Cost: candidates live in one list kept sorted by (XOR distance, arrival) with `bisect`
(ids as ints), failed ones are moved out of it, and the queries in flight are counted as
states change, so a datagram costs O(k) plus the insertion of the nodes it brought, never
a re-sort of all candidates (the 10,000-node simulation spent a third of its time there).

The lookup sends nothing itself: `next_queries` says whom to ask, and the node reports
answers (`on_response`), timeouts and errors (`on_failure`) and slowness (`on_slow`).
`rounds` is the deepest hop that answered plus one: the round trips a strictly sequential
walk would need.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import LocalProtocolError
from .krpc import Addr, NodeInfo
from .node_id import id_to_int

__all__ = ["MAX_PEERS", "Candidate", "CandidateState", "Lookup", "LookupKind"]

MAX_PEERS = 2000  # peers one lookup collects; more would only be a hostile node's padding


class LookupKind(enum.Enum):
    FIND_NODE = "find_node"
    GET_PEERS = "get_peers"


class CandidateState(enum.Enum):
    FRESH = "fresh"  # not asked yet
    IN_FLIGHT = "in_flight"
    SLOW = "slow"  # asked, past the slow delay, still waiting
    RESPONDED = "responded"
    FAILED = "failed"


_FRESH = CandidateState.FRESH
_IN_FLIGHT = CandidateState.IN_FLIGHT
_SLOW = CandidateState.SLOW
_RESPONDED = CandidateState.RESPONDED
_FAILED = CandidateState.FAILED


@dataclass(slots=True)
class Candidate:
    addr: Addr
    node_id: bytes | None
    distance: int  # -1 while the id is unknown (bootstrap address)
    depth: int
    state: CandidateState = CandidateState.FRESH
    token: bytes | None = None
    seq: int = 0  # arrival order: breaks ties between equal distances

    def info(self) -> NodeInfo | None:
        return NodeInfo(self.node_id, *self.addr) if self.node_id is not None else None

    @property
    def key(self) -> int:
        """Sort key: distance first (unknown ids first), then arrival."""
        return (self.distance + 1) << 64 | self.seq


class Lookup:
    """One iterative find_node or get_peers towards `target`."""

    def __init__(self, target: bytes, kind: LookupKind, seeds: Iterable[NodeInfo], *,
                 addrs: Iterable[Addr] = (), own_id: bytes | None = None, k: int = 8,
                 alpha: int = 3, max_queries: int = 100,
                 max_candidates: int | None = None) -> None:  # fmt: skip
        if k < 1 or alpha < 1 or max_queries < 1:
            raise LocalProtocolError("k, alpha and max_queries must be positive")
        self.target = target
        self.kind = kind
        self.k = k
        self.alpha = alpha
        self.max_queries = max_queries
        self.max_candidates = max_candidates or 8 * k
        self._target = id_to_int(target)
        self._own_id = own_id
        self._by_addr: dict[Addr, Candidate] = {}  # every candidate, failed ones too
        self._live: list[Candidate] = []  # not failed, sorted by `Candidate.key`
        self._keys: list[int] = []  # their keys, for bisect
        self._failed: list[Candidate] = []  # failed and still remembered, by arrival
        self._seq = 0
        self._in_flight = 0  # candidates IN_FLIGHT
        self._slow = 0  # candidates SLOW
        self.peers: dict[Addr, None] = {}  # found peers, in discovery order
        self.queries = 0
        self.responses = 0
        self.timeouts = 0
        self.first_peers_round: int | None = None
        self._max_depth = -1
        for addr in addrs:
            self._add(addr, None, 0)
        for node in seeds:
            self._add(node.addr, node.node_id, 0)

    # --- candidates ---------------------------------------------------------------------

    def _add(self, addr: Addr, node_id: bytes | None, depth: int) -> None:
        if node_id is not None and node_id == self._own_id:
            return
        if addr in self._by_addr:
            return
        dist = -1 if node_id is None else id_to_int(node_id) ^ self._target
        self._seq += 1
        c = Candidate(addr, node_id, dist, depth, seq=self._seq)
        self._by_addr[addr] = c
        self._place(c)
        if len(self._by_addr) > self.max_candidates:
            self._trim()

    def _place(self, c: Candidate) -> None:
        key = c.key
        i = bisect.bisect_left(self._keys, key)
        self._keys.insert(i, key)
        self._live.insert(i, c)

    def _unplace(self, c: Candidate) -> None:
        i = bisect.bisect_left(self._keys, c.key)
        del self._keys[i]
        del self._live[i]

    def _trim(self) -> None:
        """Forget candidates beyond `max_candidates`: failed ones first (farthest first),
        then the farthest fresh ones (among equal distances, the earliest first)."""
        extra = len(self._by_addr) - self.max_candidates
        if self._failed:
            failed = sorted(self._failed, key=lambda c: (-c.distance, c.seq))
            for c in failed[:extra]:
                del self._by_addr[c.addr]
            self._failed = [c for c in self._failed if c.addr in self._by_addr]
            extra -= min(extra, len(failed))
        live, keys = self._live, self._keys
        i = len(live) - 1
        while extra > 0 and i >= 0:
            j = i  # the run live[j..i] of equal distance, dropped in arrival order
            while j > 0 and live[j - 1].distance == live[i].distance:
                j -= 1
            for c in [c for c in live[j : i + 1] if c.state is _FRESH][:extra]:
                del self._by_addr[c.addr]
                n = live.index(c, j, i + 1)
                del live[n]
                del keys[n]
                i -= 1
                extra -= 1
            i = j - 1

    def _fail(self, c: Candidate) -> None:
        """Move `c` (in flight or slow) out of the ranking."""
        if c.state is _IN_FLIGHT:
            self._in_flight -= 1
        elif c.state is _SLOW:
            self._slow -= 1
        c.state = _FAILED
        self._unplace(c)
        self._failed.append(c)

    def candidate(self, addr: Addr) -> Candidate | None:
        return self._by_addr.get(addr)

    # --- driving ------------------------------------------------------------------------

    def next_queries(self) -> list[Candidate]:
        """Candidates to ask now (rule 2 and 3); they are marked in flight."""
        budget = min(self.alpha - self._in_flight, self.max_queries - self.queries)
        if budget <= 0:
            return []
        live, k = self._live, self.k
        slow = sum(1 for c in live[:k] if c.state is _SLOW) if self._slow else 0
        chosen = []
        for c in live[: k + slow]:  # a slow node lets the next one in (rule 2)
            if c.state is _FRESH:
                c.state = _IN_FLIGHT
                chosen.append(c)
                if len(chosen) == budget:
                    break
        self._in_flight += len(chosen)
        self.queries += len(chosen)
        return chosen

    def on_response(self, addr: Addr, node_id: bytes, *, nodes: Iterable[NodeInfo] = (),
                    values: Iterable[Addr] = (),
                    token: bytes | None = None) -> list[Addr]:  # fmt: skip
        """Record an answer from `addr`; returns the peers that are new to this lookup."""
        c = self._by_addr.get(addr)
        if c is None or (c.state is not _IN_FLIGHT and c.state is not _SLOW):
            return []
        if node_id == self._own_id:  # we asked ourselves (a bootstrap address): skip it
            self._fail(c)
            return []
        if c.state is _IN_FLIGHT:
            self._in_flight -= 1
        else:
            self._slow -= 1
        c.state = _RESPONDED
        c.node_id = node_id
        dist = id_to_int(node_id) ^ self._target
        if dist != c.distance:  # a bootstrap address, or a node that changed its id
            self._unplace(c)
            c.distance = dist
            self._place(c)
        c.token = token
        self.responses += 1
        if c.depth > self._max_depth:
            self._max_depth = c.depth
        depth = c.depth + 1
        for node in nodes:
            self._add(node.addr, node.node_id, depth)
        new = [v for v in values if v not in self.peers][: MAX_PEERS - len(self.peers)]
        for v in new:
            self.peers[v] = None
        if new and self.first_peers_round is None:
            self.first_peers_round = c.depth + 1
        return new

    def on_failure(self, addr: Addr) -> None:
        """The query to `addr` timed out or was answered with an error."""
        c = self._by_addr.get(addr)
        if c is not None and (c.state is _IN_FLIGHT or c.state is _SLOW):
            self._fail(c)
            self.timeouts += 1

    def on_slow(self, addr: Addr) -> None:
        c = self._by_addr.get(addr)
        if c is not None and c.state is _IN_FLIGHT:
            c.state = _SLOW
            self._in_flight -= 1
            self._slow += 1

    def cancel(self) -> None:
        """Stop asking: nothing more is sent, late answers are ignored."""
        for c in list(self._live):
            if c.state is not _RESPONDED:
                if c.state is _FRESH:
                    c.state = _IN_FLIGHT  # counted out by _fail like a query in flight
                    self._in_flight += 1
                self._fail(c)
        self.max_queries = self.queries

    @property
    def done(self) -> bool:
        """Rule 3: converged (even with farther queries still out), or exhausted or out of
        budget with nothing in flight."""
        if all(c.state is _RESPONDED for c in self._live[: self.k]):
            return True  # farther nodes still pending cannot change the k closest
        if self._in_flight or self._slow:
            return False
        return self.queries >= self.max_queries

    @property
    def rounds(self) -> int:
        return self._max_depth + 1

    def closest(self, count: int | None = None) -> list[Candidate]:
        """The closest candidates that answered (with their tokens, for announce_peer)."""
        n = count or self.k
        out = []
        for c in self._live:
            if c.state is _RESPONDED:
                out.append(c)
                if len(out) == n:
                    break
        return out
