"""The DHT routing table: k-buckets over the 160-bit id space (BEP 5 "Routing Table").

Rules (each from BEP 5 unless marked):

1. The table starts as one bucket covering [0, 2**160). A bucket holds at most k (8)
   nodes. A full bucket that contains our own id splits in two halves; any other full
   bucket does not grow.
2. A node is *good* if it answered one of our queries in the last 15 minutes, or has
   ever answered and sent us a query in the last 15 minutes; *bad* after it failed to
   answer `max_failures` queries in a row; *questionable* otherwise. Not in BEP 5, and
   the reason for rule 3's second half: a node is good only once it is *verified*.
3. Only nodes that answered us enter the live buckets (a node that only sent a query is
   not known to be reachable: the caller is told to ping it, see `heard_from`). An answer
   *verifies* a node (shows that others can reach it) only if that address sent us
   nothing in the `verify_after` seconds before our query went out: a host behind NAT
   answers a ping through the pinhole its own query just opened (and every datagram it
   sends us, answers too, keeps that pinhole open), but nobody else can reach it. (A
   query that reaches us in the second half of the round trip was sent after ours went
   out, most likely after it arrived: the ping a node sends back to a newcomer that
   asked it something comes with its answer and does not spoil it.) Unverified
   nodes stay questionable, are handed out by `closest` only when the table has too few
   verified ones, and are pinged again once `verify_after` (up to 1.5 times it) has
   passed in silence: a NAT'd node then fails and turns bad. (libtorrent also pings a
   querier before trusting it, through the same pinhole; the 10,000-node simulation,
   bench/network/dhtsim, showed such nodes spread through tables and cost lookups 5 s
   timeouts.) Not caught: a NAT'd host whose pinhole was opened by a datagram that never
   reached us (dropped by our own NAT, or lost), or by a query of its own that happened
   to cross ours.
4. A new node for a full bucket replaces a bad node if there is one. Otherwise it waits
   in the bucket's replacement cache (bounded), and the least recently seen questionable
   node is returned to be pinged; when a live node turns bad it is replaced by the
   freshest cached node.
5. One entry per id and per (host, port). A known id that shows up from another address
   is ignored; a known address answering with a new id replaces the old entry only once
   that answer is verified (a response to our query), as libtorrent does.
6. Each bucket has a "last changed" time; a bucket unchanged for `refresh_after` is due a
   refresh: a find_node on a random id in its range (`refresh_targets`).

This is pure data: it never sends. Methods return the nodes to ping; `now` is passed in.
"""

from __future__ import annotations

import bisect
import enum
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import LocalProtocolError
from .krpc import Addr, NodeInfo
from .node_id import ID_BITS, ID_SPACE, id_to_int, random_id_in_range

if TYPE_CHECKING:
    from random import Random

__all__ = ["Bucket", "BucketSummary", "NodeState", "RoutingEntry", "RoutingTable"]

GOOD_FOR = 15 * 60.0  # BEP 5: good for 15 minutes after the last answer


class NodeState(enum.Enum):
    GOOD = "good"
    QUESTIONABLE = "questionable"
    BAD = "bad"


class RoutingEntry:
    """One node we know: contact plus the times and failures that set its state."""

    __slots__ = ("failures", "host", "last_pinged", "last_query", "last_response", "node_id",
                 "port", "value", "verified")  # fmt: skip

    def __init__(self, info: NodeInfo) -> None:
        self.node_id = info.node_id
        self.value = id_to_int(info.node_id)  # the id as an int, for XOR and bucket ranges
        self.host = info.host
        self.port = info.port
        self.last_response: float | None = None
        self.last_query: float | None = None
        self.last_pinged: float | None = None
        self.failures = 0
        self.verified = False  # answered a query that no pinhole of its own let through

    @property
    def info(self) -> NodeInfo:
        return NodeInfo(self.node_id, self.host, self.port)

    @property
    def addr(self) -> Addr:
        return (self.host, self.port)

    def state(self, now: float, *, max_failures: int = 2, good_for: float = GOOD_FOR) -> NodeState:
        if self.failures >= max_failures:
            return NodeState.BAD
        if self.verified and self.last_response is not None:
            if now - self.last_response < good_for:
                return NodeState.GOOD
            if self.last_query is not None and now - self.last_query < good_for:
                return NodeState.GOOD
        return NodeState.QUESTIONABLE

    def last_seen(self) -> float:
        return max(self.last_response or 0.0, self.last_query or 0.0)


@dataclass(slots=True)
class Bucket:
    """Ids in [lo, hi): live nodes (least recently seen first) and a replacement cache."""

    lo: int
    hi: int
    last_changed: float
    nodes: list[RoutingEntry] = field(default_factory=list)
    replacements: list[RoutingEntry] = field(default_factory=list)

    def covers(self, value: int) -> bool:
        return self.lo <= value < self.hi

    @property
    def depth(self) -> int:
        """Bits of prefix this bucket fixes (0 for the whole space)."""
        return ID_BITS - (self.hi - self.lo).bit_length() + 1


@dataclass(frozen=True, slots=True)
class BucketSummary:
    depth: int
    good: int
    questionable: int
    bad: int
    replacements: int
    last_changed: float


class RoutingTable:
    """k-buckets for one address family around `own_id`."""

    def __init__(self, own_id: bytes, *, now: float, k: int = 8, max_failures: int = 2,
                 good_for: float = GOOD_FOR, replacement_size: int | None = None,
                 verify_after: float = 0.0, max_queriers: int = 4096) -> None:  # fmt: skip
        if k < 1 or max_failures < 1:
            raise LocalProtocolError("k and max_failures must be positive")
        self.own_id = own_id
        self._own = id_to_int(own_id)
        self.k = k
        self.max_failures = max_failures
        self.good_for = good_for
        self.replacement_size = k if replacement_size is None else replacement_size
        self.verify_after = verify_after
        self.max_queriers = max_queriers
        # Addresses we heard from -> (first, last) datagram of their latest burst (less
        # than `verify_after` apart), least recent first (rule 3). Bounded, and pruned of
        # bursts too old to matter by `questionable`.
        self._queried: dict[Addr, tuple[float, float]] = {}
        self._buckets = [Bucket(0, ID_SPACE, now)]
        self._los = [0]  # bucket lower bounds, for bisect
        self._by_id: dict[bytes, RoutingEntry] = {}  # live and cached entries
        self._by_addr: dict[Addr, RoutingEntry] = {}

    # --- queries ------------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(len(b.nodes) for b in self._buckets)

    @property
    def buckets(self) -> tuple[Bucket, ...]:
        return tuple(self._buckets)

    def get(self, node_id: bytes) -> RoutingEntry | None:
        return self._by_id.get(node_id)

    def by_addr(self, addr: Addr) -> RoutingEntry | None:
        return self._by_addr.get(addr)

    def is_live(self, entry: RoutingEntry) -> bool:
        return entry in self._bucket_for(entry.value).nodes

    def state(self, entry: RoutingEntry, now: float) -> NodeState:
        return entry.state(now, max_failures=self.max_failures, good_for=self.good_for)

    def live_entries(self) -> Iterator[RoutingEntry]:
        for bucket in self._buckets:
            yield from bucket.nodes

    def count(self, state: NodeState, now: float) -> int:
        return sum(1 for e in self.live_entries() if self.state(e, now) is state)

    def closest(self, target: bytes, count: int | None = None, *, now: float) -> list[NodeInfo]:
        """The `count` (default k) live nodes nearest `target` by XOR, bad ones left out."""
        t = id_to_int(target)
        n = count or self.k
        limit = self.max_failures  # BAD is exactly failures >= max_failures (RoutingEntry.state)
        # Buckets are aligned power-of-two ranges, so the XOR distances from `t` of one
        # bucket's ids fill one block [(lo ^ t) & ~(size - 1), + size), and the blocks of
        # different buckets do not overlap: visiting buckets by their block's start visits
        # ids in distance order bucket by bucket, and we can stop once n nodes are in hand.
        # Verified nodes first (rule 3); unverified ones only fill a table short of them.
        picked: list[RoutingEntry] = []
        spare: list[RoutingEntry] = []
        for b in sorted(self._buckets, key=lambda b: (b.lo ^ t) & ~(b.hi - b.lo - 1)):
            for e in b.nodes:
                if e.failures < limit:
                    (picked if e.verified else spare).append(e)
            if len(picked) >= n:
                break
        best = heapq.nsmallest(n, picked, key=lambda e: e.value ^ t)
        if len(best) < n and spare:
            best += heapq.nsmallest(n - len(best), spare, key=lambda e: e.value ^ t)
        return [e.info for e in best]

    def summaries(self, now: float) -> list[BucketSummary]:
        out = []
        for b in self._buckets:
            states = [self.state(e, now) for e in b.nodes]
            out.append(BucketSummary(b.depth, states.count(NodeState.GOOD),
                                     states.count(NodeState.QUESTIONABLE),
                                     states.count(NodeState.BAD), len(b.replacements),
                                     b.last_changed))  # fmt: skip
        return out

    def would_accept(self, node_id: bytes, now: float) -> bool:
        """Whether a verified node with this id would enter a live bucket now."""
        if node_id == self.own_id:
            return False
        if node_id in self._by_id:
            return True
        bucket = self._bucket_for(id_to_int(node_id))
        if len(bucket.nodes) < self.k or bucket.covers(self._own):
            return True
        return any(self.state(e, now) is NodeState.BAD for e in bucket.nodes)

    # --- updates ------------------------------------------------------------------------

    def heard_from(self, info: NodeInfo, *, now: float, responded: bool,
                   sent_at: float | None = None) -> list[NodeInfo]:  # fmt: skip
        """Record a message from `info`: a response to our query (sent at `sent_at`,
        default `now`), or a query of its own.

        Returns the nodes the caller should ping: the sender itself if it is new and only
        queried us (rule 3), or a questionable node of a full bucket (rule 4).
        """
        if info.node_id == self.own_id:
            return []
        verified = responded and self._verifies(info.addr, now if sent_at is None else sent_at,
                                                now)  # fmt: skip
        self._heard(info.addr, now)
        entry = self._by_id.get(info.node_id)
        if entry is not None:
            if entry.addr != info.addr:
                return []  # rule 5: an id does not move to another address
            return self._update(entry, now, responded, verified)
        old = self._by_addr.get(info.addr)
        if old is not None:
            if not responded:
                return []
            self._remove(old)  # rule 5: the address answered with a new id
        if not responded:
            return [info] if self.would_accept(info.node_id, now) else []
        entry = RoutingEntry(info)
        entry.verified = verified
        return self._insert(entry, now)

    def _heard(self, addr: Addr, now: float) -> None:
        queried = self._queried
        burst = queried.pop(addr, None)
        first = burst[0] if burst is not None and now - burst[1] < self.verify_after else now
        queried[addr] = (first, now)  # most recent last
        if len(queried) > self.max_queriers:
            del queried[next(iter(queried))]

    def _verifies(self, addr: Addr, sent_at: float, now: float) -> bool:
        """Whether an answer (at `now`) to our query sent at `sent_at` shows `addr`
        reachable (rule 3): no query of its own had opened a pinhole for ours."""
        burst = self._queried.get(addr)
        return (burst is None or burst[1] < sent_at - self.verify_after
                or burst[0] >= now - 0.5 * (now - sent_at))  # fmt: skip

    def _update(self, entry: RoutingEntry, now: float, responded: bool,
                verified: bool) -> list[NodeInfo]:  # fmt: skip
        bucket = self._bucket_for(entry.value)
        if not responded:
            entry.last_query = now
            return []
        entry.last_response = now
        entry.failures = 0
        entry.verified = entry.verified or verified
        if entry in bucket.nodes:
            bucket.nodes.remove(entry)  # keep the list ordered by last seen
            bucket.nodes.append(entry)
            bucket.last_changed = now
            return []
        bucket.replacements.remove(entry)  # a cached node answered: try it in the live list
        del self._by_id[entry.node_id]
        del self._by_addr[entry.addr]
        return self._insert(entry, now)

    def _insert(self, entry: RoutingEntry, now: float) -> list[NodeInfo]:
        entry.last_response = now
        entry.failures = 0
        while True:
            bucket = self._bucket_for(entry.value)
            if len(bucket.nodes) < self.k:
                bucket.nodes.append(entry)
                bucket.last_changed = now
                self._index(entry)
                return []
            if bucket.covers(self._own) and bucket.hi - bucket.lo > 1:
                self._split(bucket)
                continue
            break
        bad = [e for e in bucket.nodes if self.state(e, now) is NodeState.BAD]
        if bad:
            self._remove(bad[0])
            bucket.nodes.append(entry)
            bucket.last_changed = now
            self._index(entry)
            return []
        self._cache(bucket, entry)
        questionable = [e for e in bucket.nodes if self.state(e, now) is NodeState.QUESTIONABLE]
        if questionable:
            return [min(questionable, key=RoutingEntry.last_seen).info]
        return []

    def _cache(self, bucket: Bucket, entry: RoutingEntry) -> None:
        if len(bucket.replacements) >= self.replacement_size:
            if self.replacement_size == 0:
                return
            self._remove(bucket.replacements[0])  # the oldest cached node makes room
        bucket.replacements.append(entry)
        self._index(entry)

    def node_failed(self, addr: Addr, node_id: bytes | None = None, *, now: float) -> None:
        """A query to this node timed out; a node that turns bad makes room (rule 4)."""
        entry = (self._by_id.get(node_id) if node_id else None) or self._by_addr.get(addr)
        if entry is None or entry.addr != addr:
            return
        entry.failures += 1
        bucket = self._bucket_for(entry.value)
        if entry in bucket.replacements:
            self._remove(entry)  # a cached node that does not answer is not worth keeping
            return
        if self.state(entry, now) is NodeState.BAD and bucket.replacements:
            fresh = max(bucket.replacements, key=RoutingEntry.last_seen)
            bucket.replacements.remove(fresh)
            bucket.nodes.remove(entry)
            self._unindex(entry)
            bucket.nodes.append(fresh)
            bucket.last_changed = now

    def mark_pinged(self, node_id: bytes, now: float) -> None:
        entry = self._by_id.get(node_id)
        if entry is not None:
            entry.last_pinged = now

    def questionable(self, now: float, *, ping_every: float = 60.0) -> list[NodeInfo]:
        """Live nodes that are questionable and not pinged in the last `ping_every` s,
        leaving out unverified ones that queried us too recently to be verified (rule 3)."""
        queried, verify_after = self._queried, self.verify_after
        while queried:  # forget bursts too old to matter (a minute's margin for answers)
            addr, (_, last) = next(iter(queried.items()))
            if now - last < verify_after + 60.0:
                break
            del queried[addr]
        # RoutingEntry.state inlined: this runs over the whole table every maintenance pass.
        limit, good_for = self.max_failures, self.good_for
        out = []
        for b in self._buckets:
            for e in b.nodes:
                if e.failures >= limit or (e.last_pinged is not None
                                           and now - e.last_pinged < ping_every):  # fmt: skip
                    continue
                if not e.verified:
                    # Its pinhole to us would have closed by now. The wait is stretched by
                    # up to half, by the low bits of its id: two nodes that check each
                    # other must not ping at the same moment, each ping opening a pinhole
                    # for the other's and spoiling it, round after round.
                    burst = queried.get((e.host, e.port))
                    if burst is None or now - burst[1] >= verify_after * (1 + (e.value & 15) / 32):
                        out.append(e.info)
                    continue
                if e.last_response is not None and (
                    now - e.last_response < good_for
                    or (e.last_query is not None and now - e.last_query < good_for)
                ):
                    continue  # good
                out.append(e.info)
        return out

    def refresh_targets(self, now: float, rng: Random, *, refresh_after: float) -> list[bytes]:
        """Random ids in each bucket unchanged for `refresh_after` (rule 6); marks them."""
        targets = []
        for bucket in self._buckets:
            if now - bucket.last_changed >= refresh_after:
                bucket.last_changed = now
                targets.append(random_id_in_range(bucket.lo, bucket.hi, rng))
        return targets

    def remove(self, node_id: bytes) -> None:
        entry = self._by_id.get(node_id)
        if entry is not None:
            self._remove(entry)

    # --- internals ----------------------------------------------------------------------

    def _bucket_for(self, value: int) -> Bucket:
        return self._buckets[bisect.bisect_right(self._los, value) - 1]

    def _split(self, bucket: Bucket) -> None:
        mid = (bucket.lo + bucket.hi) // 2
        low = Bucket(bucket.lo, mid, bucket.last_changed)
        high = Bucket(mid, bucket.hi, bucket.last_changed)
        for e in bucket.nodes:
            (low if e.value < mid else high).nodes.append(e)
        for e in bucket.replacements:
            (low if e.value < mid else high).replacements.append(e)
        i = self._buckets.index(bucket)
        self._buckets[i : i + 1] = [low, high]
        self._los.insert(i + 1, mid)
        for half in (low, high):  # cached nodes fill the room the split made
            while half.replacements and len(half.nodes) < self.k:
                half.nodes.append(half.replacements.pop())

    def _index(self, entry: RoutingEntry) -> None:
        self._by_id[entry.node_id] = entry
        self._by_addr[entry.addr] = entry

    def _unindex(self, entry: RoutingEntry) -> None:
        self._by_id.pop(entry.node_id, None)
        if self._by_addr.get(entry.addr) is entry:
            del self._by_addr[entry.addr]

    def _remove(self, entry: RoutingEntry) -> None:
        bucket = self._bucket_for(entry.value)
        if entry in bucket.nodes:
            bucket.nodes.remove(entry)
        elif entry in bucket.replacements:
            bucket.replacements.remove(entry)
        self._unindex(entry)
