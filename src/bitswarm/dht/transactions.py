"""Outstanding KRPC queries: transaction ids, what each was for, and its deadlines.

BEP 5: the querier picks a short transaction id (two bytes cover 65,536 outstanding
queries) and the response echoes it. An answer counts only if its id matches a pending
query *and* it comes from the address that query went to, so a third party cannot
inject answers by guessing ids. Ids come from a counter started at a random value from
the injected rng. Each query has a hard deadline (`query_timeout`) and a soft one
(`slow_after`) at which a lookup may start another query in its place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .krpc import Addr

if TYPE_CHECKING:
    from random import Random

__all__ = ["Pending", "Purpose", "Transactions"]


class Purpose(enum.Enum):
    LOOKUP = "lookup"  # a find_node/get_peers step of lookup `handle`
    PING = "ping"  # a user ping (handle) or a table check (handle 0)
    ANNOUNCE = "announce"  # an announce_peer of announce `handle`


@dataclass(slots=True)
class Pending:
    tid: bytes
    addr: Addr
    node_id: bytes | None
    purpose: Purpose
    handle: int
    sent_at: float
    slow_at: float
    deadline: float
    slow_reported: bool = False


class Transactions:
    """Pending queries by transaction id."""

    __slots__ = ("_counter", "_pending")

    def __init__(self, rng: Random) -> None:
        self._counter = rng.getrandbits(16)
        self._pending: dict[bytes, Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def open(self, addr: Addr, node_id: bytes | None, purpose: Purpose, handle: int, *,
             now: float, timeout: float, slow_after: float) -> Pending:  # fmt: skip
        """Register a query about to be sent; its `tid` goes in the message."""
        if len(self._pending) >= 0x10000:
            raise OverflowError("65,536 queries in flight")
        while True:
            self._counter = (self._counter + 1) & 0xFFFF
            tid = self._counter.to_bytes(2, "big")
            if tid not in self._pending:
                break
        pending = Pending(tid, addr, node_id, purpose, handle, now, now + min(slow_after, timeout),
                          now + timeout)  # fmt: skip
        self._pending[tid] = pending
        return pending

    def match(self, tid: bytes, addr: Addr) -> Pending | None:
        """The pending query this answer closes (removed), or None if it is not ours."""
        pending = self._pending.get(tid)
        if pending is None or pending.addr != addr:
            return None
        del self._pending[tid]
        return pending

    def pending_to(self, addr: Addr) -> bool:
        return any(p.addr == addr for p in self._pending.values())

    def expired(self, now: float) -> list[Pending]:
        """Queries past their deadline (removed)."""
        gone = [p for p in self._pending.values() if p.deadline <= now]
        for p in gone:
            del self._pending[p.tid]
        return gone

    def newly_slow(self, now: float) -> list[Pending]:
        """Queries that just passed their soft deadline (each reported once)."""
        slow = [p for p in self._pending.values() if not p.slow_reported and p.slow_at <= now]
        for p in slow:
            p.slow_reported = True
        return slow

    def drop_handle(self, purpose: Purpose, handle: int) -> None:
        gone = [t for t, p in self._pending.items() if p.purpose is purpose and p.handle == handle]
        for tid in gone:
            del self._pending[tid]

    def next_deadline(self) -> float | None:
        times = [p.deadline if p.slow_reported else p.slow_at for p in self._pending.values()]
        return min(times, default=None)
