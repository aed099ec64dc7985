"""The lookup as it was before it kept its candidates sorted (a reference for
test_lookup_equivalence.py): every call re-ranks all candidates. Slow, obviously right."""

from __future__ import annotations

from collections.abc import Iterable

from bitswarm.dht.krpc import Addr, NodeInfo
from bitswarm.dht.lookup import MAX_PEERS, Candidate, CandidateState, LookupKind
from bitswarm.dht.node_id import id_to_int


class ReferenceLookup:
    """One iterative find_node or get_peers towards `target`."""

    def __init__(self, target: bytes, kind: LookupKind, seeds: Iterable[NodeInfo], *,
                 addrs: Iterable[Addr] = (), own_id: bytes | None = None, k: int = 8,
                 alpha: int = 3, max_queries: int = 100,
                 max_candidates: int | None = None) -> None:  # fmt: skip
        if k < 1 or alpha < 1 or max_queries < 1:
            raise ValueError("k, alpha and max_queries must be positive")
        self.target = target
        self.kind = kind
        self.k = k
        self.alpha = alpha
        self.max_queries = max_queries
        self.max_candidates = max_candidates or 8 * k
        self._target = id_to_int(target)
        self._own_id = own_id
        self._by_addr: dict[Addr, Candidate] = {}
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
        known = self._by_addr.get(addr)
        if known is not None:
            return
        dist = -1 if node_id is None else id_to_int(node_id) ^ self._target
        self._by_addr[addr] = Candidate(addr, node_id, dist, depth)
        if len(self._by_addr) > self.max_candidates:
            self._trim()

    def _trim(self) -> None:
        """Forget the farthest fresh or failed candidates beyond `max_candidates`."""
        extra = len(self._by_addr) - self.max_candidates
        droppable = sorted(
            (c for c in self._by_addr.values()
             if c.state in (CandidateState.FRESH, CandidateState.FAILED)),
            key=lambda c: (c.state is not CandidateState.FAILED, -c.distance),
        )  # fmt: skip
        for c in droppable[:extra]:
            del self._by_addr[c.addr]

    def _ranked(self) -> list[Candidate]:
        live = [c for c in self._by_addr.values() if c.state is not CandidateState.FAILED]
        live.sort(key=lambda c: c.distance)
        return live

    def candidate(self, addr: Addr) -> Candidate | None:
        return self._by_addr.get(addr)

    # --- driving ------------------------------------------------------------------------

    def _active(self) -> int:
        return sum(1 for c in self._by_addr.values() if c.state is CandidateState.IN_FLIGHT)

    def _waiting(self) -> bool:
        return any(c.state in (CandidateState.IN_FLIGHT, CandidateState.SLOW)
                   for c in self._by_addr.values())  # fmt: skip

    def next_queries(self) -> list[Candidate]:
        """Candidates to ask now (rule 2 and 3); they are marked in flight."""
        budget = min(self.alpha - self._active(), self.max_queries - self.queries)
        if budget <= 0:
            return []
        chosen = []
        ranked = self._ranked()
        slow = sum(1 for c in ranked[: self.k] if c.state is CandidateState.SLOW)
        for c in ranked[: self.k + slow]:  # a slow node lets the next one in (rule 2)
            if c.state is CandidateState.FRESH:
                c.state = CandidateState.IN_FLIGHT
                chosen.append(c)
                if len(chosen) == budget:
                    break
        self.queries += len(chosen)
        return chosen

    def on_response(self, addr: Addr, node_id: bytes, *, nodes: Iterable[NodeInfo] = (),
                    values: Iterable[Addr] = (),
                    token: bytes | None = None) -> list[Addr]:  # fmt: skip
        """Record an answer from `addr`; returns the peers that are new to this lookup."""
        c = self._by_addr.get(addr)
        if c is None or c.state not in (CandidateState.IN_FLIGHT, CandidateState.SLOW):
            return []
        if node_id == self._own_id:  # we asked ourselves (a bootstrap address): skip it
            c.state = CandidateState.FAILED
            return []
        c.state = CandidateState.RESPONDED
        c.node_id = node_id
        c.distance = id_to_int(node_id) ^ self._target
        c.token = token
        self.responses += 1
        self._max_depth = max(self._max_depth, c.depth)
        for node in nodes:
            self._add(node.addr, node.node_id, c.depth + 1)
        new = [v for v in values if v not in self.peers][: MAX_PEERS - len(self.peers)]
        for v in new:
            self.peers[v] = None
        if new and self.first_peers_round is None:
            self.first_peers_round = c.depth + 1
        return new

    def on_failure(self, addr: Addr) -> None:
        """The query to `addr` timed out or was answered with an error."""
        c = self._by_addr.get(addr)
        if c is not None and c.state in (CandidateState.IN_FLIGHT, CandidateState.SLOW):
            c.state = CandidateState.FAILED
            self.timeouts += 1

    def on_slow(self, addr: Addr) -> None:
        c = self._by_addr.get(addr)
        if c is not None and c.state is CandidateState.IN_FLIGHT:
            c.state = CandidateState.SLOW

    def cancel(self) -> None:
        """Stop asking: nothing more is sent, late answers are ignored."""
        for c in self._by_addr.values():
            if c.state in (CandidateState.FRESH, CandidateState.IN_FLIGHT, CandidateState.SLOW):
                c.state = CandidateState.FAILED
        self.max_queries = self.queries

    @property
    def done(self) -> bool:
        """Rule 3: converged (even with farther queries still out), or exhausted or out of
        budget with nothing in flight."""
        top = self._ranked()[: self.k]
        if all(c.state is CandidateState.RESPONDED for c in top):
            return True  # farther nodes still pending cannot change the k closest
        if self._waiting():
            return False
        return self.queries >= self.max_queries

    @property
    def rounds(self) -> int:
        return self._max_depth + 1

    def closest(self, count: int | None = None) -> list[Candidate]:
        """The closest candidates that answered (with their tokens, for announce_peer)."""
        answered = [c for c in self._ranked() if c.state is CandidateState.RESPONDED]
        return answered[: count or self.k]
