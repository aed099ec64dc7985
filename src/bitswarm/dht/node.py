"""`DhtNode`: a BEP 5 DHT node as a sans-IO core (one address family, BEP 32).

The driver feeds it datagrams and the clock and sends what it returns; nothing here does
I/O. The vocabulary is the project's (and aioquic's):

    receive_datagram(data, addr, now=)   datagrams_to_send(now=) -> [(bytes, addr)]
    get_timer() -> deadline              handle_timer(now=)
    events() -> [DhtEvent]               commands: bootstrap, find_node, get_peers,
                                         announce_peer, ping, cancel

Rules of the node (the parts live in their own modules):

1. Inbound datagrams larger than `max_packet_size` are dropped unread; undecodable ones
   are dropped and counted (a malformed query with a readable ``t`` gets error 203).
2. Answers count only when they match a pending transaction from the same address.
   Unsolicited datagrams are charged to their source IP (`rate_limit`); over the
   limit they are dropped, so the node cannot be made to amplify traffic.
3. BEP 43: a read-only node answers no query and marks its queries ``ro=1``; a query
   marked ``ro=1`` is answered but its sender is not added to the table.
4. A node that answers us enters the routing table; a node that only queries us is
   pinged first, and counts as good only once a later answer shows that others can
   reach it too (routing_table.py, rule 3: NAT).
5. Every `maintenance_interval`: rotate token secrets, expire stored peers, ping
   questionable nodes, refresh stale buckets one lookup at a time, and bootstrap again
   (every 30 s) while the table holds fewer than k nodes. Once, `verify_after` (plus two
   passes) after a bootstrap, look up our own id again: neighbours that had joined just
   before us were not yet verified, so nobody named them to us (rule 4), and we could not
   name ourselves to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import LocalProtocolError
from ..ratelimit import SourceRateLimiter
from .config import DhtConfig
from .events import BootstrapDone, DhtEvent, LookupDone, PeerAnnounced, PingDone
from .krpc import (
    Addr,
    ErrorCode,
    ErrorMessage,
    KrpcError,
    Message,
    NodeInfo,
    PingQuery,
    Query,
    Response,
    decode_message,
    encode_message,
)
from .node_id import ID_BYTES, bep42_compliant, id_to_int, random_id_in_range, random_node_id
from .peer_store import PeerStore
from .responder import Responder
from .routing_table import NodeState, RoutingTable
from .searches import JobKind, LookupJob, Searches
from .state import DhtCounters, DhtStatus, SavedState, decode_state, encode_state
from .tokens import TokenSecrets
from .transactions import Pending, Purpose, Transactions

if TYPE_CHECKING:
    from random import Random

__all__ = ["DhtNode"]

_TABLE_PINGS_PER_PASS = 8
_REBOOTSTRAP_EVERY = 30.0


class DhtNode:
    """One DHT node; see the module docstring for the rules."""

    def __init__(self, config: DhtConfig | None = None, *, rng: Random, now: float,
                 node_id: bytes | None = None) -> None:  # fmt: skip
        self.config = cfg = config or DhtConfig()
        self._rng = rng
        self.counters = DhtCounters()
        self._tokens = TokenSecrets(rng, now=now, rotate_every=cfg.token_rotation)
        self._store = PeerStore(ttl=cfg.peer_ttl, max_per_hash=cfg.max_peers_per_hash,
                                max_hashes=cfg.max_infohashes)  # fmt: skip
        self._limiter = SourceRateLimiter(rate=cfg.rate_limit, burst=cfg.rate_burst,
                                          max_sources=cfg.rate_limit_sources)  # fmt: skip
        self._tx = Transactions(rng)
        self._outbox: list[tuple[bytes, Addr]] = []
        self._events: list[DhtEvent] = []
        self._next_maintenance = now + cfg.maintenance_interval
        self._seeds: list[NodeInfo] = []  # saved nodes, asked by the next bootstrap
        self._bootstrap_addrs: list[Addr] = []
        self._last_bootstrap: float | None = None
        self._rejoin_at: float | None = None  # a second self-lookup after joining (rule 5)
        self._sibling: DhtNode | None = None
        self._set_id(node_id if node_id is not None else random_node_id(rng), now)

    def _set_id(self, node_id: bytes, now: float) -> None:
        if len(node_id) != ID_BYTES:
            raise LocalProtocolError("a node id is 20 bytes")
        self.node_id = node_id
        self.table = RoutingTable(node_id, now=now, k=self.config.k, good_for=self.config.good_for,
                                  verify_after=self.config.verify_after)  # fmt: skip
        self._responder = Responder(self.config, self.table, self._tokens, self._store,
                                    self.counters, self._rng)  # fmt: skip
        self._searches = Searches(node_id, self.config)
        if self._sibling is not None:
            self._responder.other_table = self._sibling.table

    @property
    def family(self) -> int:
        return self.config.family

    @property
    def peer_store(self) -> PeerStore:
        return self._store

    def pair(self, other: DhtNode) -> None:
        """Join an IPv4 and an IPv6 node (BEP 32 dual stack): same id, shared answers."""
        if other.family == self.family or other.node_id != self.node_id:
            raise LocalProtocolError("pair an IPv4 node with an IPv6 node of the same id")
        self._sibling, other._sibling = other, self
        self._responder.other_table, other._responder.other_table = other.table, self.table

    # --- sans-IO plumbing ---------------------------------------------------------------

    def datagrams_to_send(self, *, now: float) -> list[tuple[bytes, Addr]]:
        out, self._outbox = self._outbox, []
        return out

    def events(self) -> list[DhtEvent]:
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float:
        deadline = self._tx.next_deadline()
        return self._next_maintenance if deadline is None else min(deadline, self._next_maintenance)

    def handle_timer(self, *, now: float) -> None:
        for p in self._tx.expired(now):
            self.counters.timeouts += 1
            self.table.node_failed(p.addr, p.node_id, now=now)
            self._failed(p)
        for p in self._tx.newly_slow(now):
            if p.purpose is Purpose.LOOKUP:
                self._searches.on_lookup_slow(p.handle, p.addr)
        if now >= self._next_maintenance:
            self._next_maintenance = now + self.config.maintenance_interval
            self._maintain(now)
        self._pump(now)

    def receive_datagram(self, data: bytes, addr: Addr, *, now: float) -> None:
        c = self.counters
        c.datagrams_in += 1
        c.bytes_in += len(data)
        if len(data) > self.config.max_packet_size:
            c.oversized += 1
            return
        try:
            msg = decode_message(data)
        except KrpcError as exc:
            c.malformed += 1
            answerable = exc.query and not self.config.read_only
            if self._limiter.allow(addr[0], now) and answerable and exc.tid is not None:
                self._error(exc.tid, ErrorCode.PROTOCOL, str(exc), addr)
            return
        match msg:
            case Response() | ErrorMessage():
                pending = self._tx.match(msg.tid, addr)
                if pending is None:
                    c.unmatched += 1
                    self._limiter.allow(addr[0], now)  # unsolicited: charged, never answered
                elif isinstance(msg, Response):
                    self._on_response(pending, msg, addr, now)
                else:
                    c.errors_in += 1
                    self._failed(pending)
            case _:
                if not self._limiter.allow(addr[0], now):
                    c.rate_limited += 1
                    return
                self._on_query(msg, addr, now)
        self._pump(now)

    # --- commands -----------------------------------------------------------------------

    def bootstrap(self, addrs: Iterable[Addr] = (), *, now: float) -> int:
        """Find the nodes closest to our id, starting from `addrs`, saved nodes, the table."""
        self._bootstrap_addrs = list(dict.fromkeys([*self._bootstrap_addrs, *addrs]))
        self._last_bootstrap = now
        seeds = [*self.table.closest(self.node_id, now=now), *self._seeds]
        self._seeds = []
        return self._run(
            self._searches.start(JobKind.BOOTSTRAP, self.node_id, seeds, self._bootstrap_addrs), now
        )

    def find_node(self, target: bytes, *, now: float) -> int:
        """Look for the nodes closest to `target`; `LookupDone` reports them."""
        return self._run(self._start(JobKind.FIND_NODE, target, now), now)

    def get_peers(self, info_hash: bytes, *, now: float) -> int:
        """Look up peers; `PeersFound` events as they come, then `LookupDone`."""
        return self._run(self._start(JobKind.GET_PEERS, info_hash, now), now)

    def announce_peer(self, info_hash: bytes, port: int, *, now: float,
                      implied_port: bool = False) -> int:  # fmt: skip
        """get_peers, then announce_peer to the closest nodes that gave a token."""
        if not 0 <= port < 65536 or (port == 0 and not implied_port):
            raise LocalProtocolError(f"cannot announce port {port}")
        handle = self._start(JobKind.ANNOUNCE, info_hash, now, port=port,
                             implied_port=implied_port)  # fmt: skip
        return self._run(handle, now)

    def ping(self, addr: Addr, *, now: float) -> int:
        """Ping `addr`; `PingDone` says whether (and with which id) it answered."""
        handle = self._searches.new_handle()
        self._query(PingQuery(tid=b"", sender_id=self.node_id), addr, None, Purpose.PING,
                    handle, now)  # fmt: skip
        return handle

    def cancel(self, handle: int) -> None:
        """Stop a lookup or announce; no event will report it."""
        if self._searches.cancel(handle):
            self._tx.drop_handle(Purpose.LOOKUP, handle)
            self._tx.drop_handle(Purpose.ANNOUNCE, handle)

    # --- state --------------------------------------------------------------------------

    @staticmethod
    def _saved_nodes(table: RoutingTable | None) -> tuple[NodeInfo, ...]:
        if table is None:
            return ()
        return tuple(e.info for e in table.live_entries() if e.failures < table.max_failures)

    def save_state(self) -> bytes:
        """Our id and table (and a paired node's), bencoded (state.py)."""
        other = self._sibling.table if self._sibling is not None else None
        v4, v6 = (self.table, other) if self.family == 4 else (other, self.table)
        return encode_state(SavedState(self.node_id, self._saved_nodes(v4), self._saved_nodes(v6)))

    def load_state(self, data: bytes, *, now: float) -> None:
        """Take the id and remember the nodes of a saved state; call before any traffic.

        Raises:
            DhtStateError: `data` is not a saved state.
        """
        saved = decode_state(data)
        if len(self.table) or len(self._searches) or self._sibling is not None:
            raise LocalProtocolError("load_state must come before any traffic or pairing")
        self._set_id(saved.node_id, now)
        self._seeds = list(saved.nodes if self.family == 4 else saved.nodes6)

    def status(self, *, now: float) -> DhtStatus:
        t = self.table
        return DhtStatus(
            self.node_id, self.family, self.config.read_only, t.count(NodeState.GOOD, now),
            t.count(NodeState.QUESTIONABLE, now), t.count(NodeState.BAD, now),
            tuple(t.summaries(now)), len(self._store), self._store.peer_count(),
            len(self._searches), len(self._tx), self.counters.as_dict(),
        )  # fmt: skip

    # --- internals: inbound -------------------------------------------------------------

    def _on_query(self, query: Query, addr: Addr, now: float) -> None:
        self.counters.queries_in += 1
        if self.config.read_only:
            self.counters.ignored_read_only += 1  # BEP 43: we answer nothing
            return
        if not query.read_only and query.sender_id != self.node_id:
            info = NodeInfo(query.sender_id, *addr)
            self._table_pings(self.table.heard_from(info, now=now, responded=False), now)
        reply = self._responder.answer(query, addr, now=now)
        if isinstance(reply, ErrorMessage):
            self.counters.errors_out += 1
        self._send(reply, addr)
        for info_hash, peer in self._responder.announced:
            self._events.append(PeerAnnounced(info_hash, peer))
        self._responder.announced.clear()

    def _on_response(self, p: Pending, msg: Response, addr: Addr, now: float) -> None:
        self.counters.responses_in += 1
        if msg.sender_id != self.node_id:
            info = NodeInfo(msg.sender_id, *addr)
            self._table_pings(
                self.table.heard_from(info, now=now, responded=True, sent_at=p.sent_at), now
            )
            if not bep42_compliant(msg.sender_id, addr[0]):
                self.counters.not_bep42 += 1  # BEP 42: reported, not enforced
        match p.purpose:
            case Purpose.LOOKUP:
                found = self._searches.on_lookup_response(p.handle, addr, msg, self.family)
                if found is not None:
                    self._events.append(found)
            case Purpose.PING:
                if p.handle:
                    self._events.append(PingDone(p.handle, addr, msg.sender_id))
            case Purpose.ANNOUNCE:
                self._searches.on_announce_reply(p.handle, stored=True)

    def _failed(self, p: Pending) -> None:
        """A query of ours timed out or was answered with an error."""
        match p.purpose:
            case Purpose.LOOKUP:
                self._searches.on_lookup_failure(p.handle, p.addr)
            case Purpose.PING:
                if p.handle:
                    self._events.append(PingDone(p.handle, p.addr, None))
            case Purpose.ANNOUNCE:
                self._searches.on_announce_reply(p.handle, stored=False)

    # --- internals: outbound ------------------------------------------------------------

    def _start(self, kind: JobKind, target: bytes, now: float, *, port: int = 0,
               implied_port: bool = False) -> int:  # fmt: skip
        if len(target) != ID_BYTES:
            raise LocalProtocolError("a lookup target is 20 bytes")
        seeds = self.table.closest(target, self.config.k * 2, now=now)
        return self._searches.start(kind, target, seeds, port=port, implied_port=implied_port)

    def _run(self, handle: int, now: float) -> int:
        self._pump(now)
        return handle

    def _query(self, query: Query, addr: Addr, node_id: bytes | None, purpose: Purpose,
               handle: int, now: float) -> None:  # fmt: skip
        cfg = self.config
        p = self._tx.open(addr, node_id, purpose, handle, now=now, timeout=cfg.query_timeout,
                          slow_after=cfg.slow_after)  # fmt: skip
        # BEP 43: a read-only node marks every query it sends.
        self._send(replace(query, tid=p.tid, read_only=cfg.read_only), addr)

    def _send(self, msg: Message, addr: Addr) -> None:
        data = encode_message(msg, version=self.config.version)
        self._outbox.append((data, addr))
        self.counters.datagrams_out += 1
        self.counters.bytes_out += len(data)

    def _error(self, tid: bytes, code: int, text: str, addr: Addr) -> None:
        self.counters.errors_out += 1
        self._send(ErrorMessage(tid=tid, code=code, message=text[:100]), addr)

    def _table_pings(self, nodes: list[NodeInfo], now: float) -> None:
        for info in nodes:
            if len(self._tx) < self.config.max_pending and not self._tx.pending_to(info.addr):
                self.table.mark_pinged(info.node_id, now)
                self._query(PingQuery(tid=b"", sender_id=self.node_id), info.addr,
                            info.node_id, Purpose.PING, 0, now)  # fmt: skip

    def _maintain(self, now: float) -> None:
        self._tokens.rotate_if_due(now)
        self._store.expire(now)
        self._limiter.forget_idle(now)
        self._table_pings(self.table.questionable(now)[:_TABLE_PINGS_PER_PASS], now)
        if self._rejoin_at is not None and now >= self._rejoin_at:
            self._rejoin_at = None
            self._searches.refresh_queue.append(self.node_id)
        self._searches.refresh_queue.extend(
            self.table.refresh_targets(now, self._rng, refresh_after=self.config.bucket_refresh)
        )
        if (len(self.table) < self.config.k and not self._searches.running(JobKind.BOOTSTRAP)
                and (self._bootstrap_addrs or self._seeds) and self._last_bootstrap is not None
                and now - self._last_bootstrap >= _REBOOTSTRAP_EVERY):  # fmt: skip
            self.bootstrap(now=now)

    def _pump(self, now: float) -> None:
        """Send what lookups want to send; finish the lookups that are done."""
        searches = self._searches
        if (
            searches.refresh_queue
            and len(self.table)
            and not searches.running(JobKind.REFRESH, JobKind.BOOTSTRAP)
        ):
            self._start(JobKind.REFRESH, searches.refresh_queue.popleft(), now)
        if len(self._tx) < self.config.max_pending:
            for handle, c, query in searches.outgoing():
                self._query(query, c.addr, c.node_id, Purpose.LOOKUP, handle, now)
        for handle, job in searches.pop_done():
            self._finish(handle, job, now)
        self._events.extend(searches.pop_announces_done())

    def _finish(self, handle: int, job: LookupJob, now: float) -> None:
        lookup = job.lookup
        match job.kind:
            case JobKind.BOOTSTRAP:
                self._events.append(BootstrapDone(handle, self.table.count(NodeState.GOOD, now)))
                if self.config.verify_after > 0:
                    self._rejoin_at = (now + self.config.verify_after
                                       + 2 * self.config.maintenance_interval)  # fmt: skip
                # Kademlia's join: refresh the buckets other than our own, so the far parts
                # of the table fill too (the self-lookup just filled the near ones).
                own = id_to_int(self.node_id)
                self._searches.refresh_queue.extend(
                    random_id_in_range(b.lo, b.hi, self._rng)
                    for b in self.table.buckets if not b.covers(own)
                )  # fmt: skip
            case JobKind.REFRESH:
                pass
            case JobKind.ANNOUNCE:
                for c, query in self._searches.begin_announce(handle, job):
                    self._query(query, c.addr, c.node_id, Purpose.ANNOUNCE, handle, now)
            case JobKind.FIND_NODE | JobKind.GET_PEERS:
                infos = tuple(i for i in (c.info() for c in lookup.closest()) if i is not None)
                self._events.append(LookupDone(
                    handle, lookup.kind, lookup.target, tuple(lookup.peers), infos,
                    lookup.queries, lookup.responses, lookup.timeouts, lookup.rounds,
                    lookup.first_peers_round,
                ))  # fmt: skip
