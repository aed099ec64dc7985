"""The server half of a DHT node: the answer to each incoming query (BEP 5, 32, 42).

* ping: our id.
* find_node: the k closest good nodes to the target from our table.
* get_peers: a token for the asker's IP, and ``values`` (stored peers of the asker's
  address family, BEP 32) when we have some; the closest nodes always come too, since
  BEP 32 lets "nodes" and "values" travel together and libtorrent does the same.
* announce_peer: checked against the token we issued to that IP; the peer stored is the
  asker's IP with ``port``, or with the UDP source port when ``implied_port`` is set.
* anything else: error 204, "Method Unknown".

BEP 32 ``want``: "n4" asks for IPv4 ``nodes``, "n6" for IPv6 ``nodes6``; a node serving one
family answers the other from its sibling's table when it has one (`other_table`).
Without ``want`` the reply carries the nodes of the family the query came over.
Every response carries the asker's address in the top-level ``ip`` (BEP 42). Replies
stay under `max_send_size` (BEP 32 "Maximum packet size") by trimming ``values``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import DhtConfig
from .krpc import (
    Addr,
    AnnouncePeerQuery,
    ErrorCode,
    ErrorMessage,
    FindNodeQuery,
    GetPeersQuery,
    Message,
    NodeInfo,
    PingQuery,
    Query,
    Response,
    UnknownQuery,
    encode_message,
)
from .peer_store import PeerStore
from .routing_table import RoutingTable
from .state import DhtCounters
from .tokens import TokenSecrets

if TYPE_CHECKING:
    from random import Random

__all__ = ["Responder"]

_VALUE_BYTES = {4: len(b"6:") + 6, 6: len(b"18:") + 18}
_VALUES_KEY_BYTES = len(b"6:valuesle")


class Responder:
    """Builds replies from the node's table, tokens and peer store."""

    def __init__(self, config: DhtConfig, table: RoutingTable, tokens: TokenSecrets,
                 store: PeerStore, counters: DhtCounters, rng: Random) -> None:  # fmt: skip
        self.config = config
        self.table = table
        self.tokens = tokens
        self.store = store
        self.counters = counters
        self.rng = rng
        self.other_table: RoutingTable | None = None  # the other family's table (BEP 32)
        self.announced: list[tuple[bytes, Addr]] = []  # peers stored since last drained

    def answer(self, query: Query, addr: Addr, *, now: float) -> Message:
        own = self.table.own_id
        match query:
            case PingQuery():
                return self._response(query.tid, addr)
            case FindNodeQuery(target=target, want=want):
                nodes, nodes6 = self._nodes(target, want, now)
                return self._response(query.tid, addr, nodes=nodes, nodes6=nodes6)
            case GetPeersQuery(info_hash=info_hash, want=want):
                return self._get_peers(query.tid, info_hash, want, addr, now)
            case AnnouncePeerQuery():
                return self._announce(query, addr, now)
            case UnknownQuery(method=method):
                return ErrorMessage(tid=query.tid, code=ErrorCode.METHOD_UNKNOWN,
                                    message=f"method unknown: {method[:32]!r}")  # fmt: skip
        raise AssertionError(f"unhandled query {query!r} for {own.hex()}")  # pragma: no cover

    def _response(self, tid: bytes, addr: Addr, *, nodes: tuple[NodeInfo, ...] = (),
                  nodes6: tuple[NodeInfo, ...] = (), values: tuple[Addr, ...] = (),
                  token: bytes | None = None) -> Response:  # fmt: skip
        return Response(tid=tid, sender_id=self.table.own_id, nodes=nodes, nodes6=nodes6,
                        values=values, token=token, your_addr=addr)  # fmt: skip

    def _nodes(self, target: bytes, want: frozenset[str],
               now: float) -> tuple[tuple[NodeInfo, ...], tuple[NodeInfo, ...]]:  # fmt: skip
        family = self.config.family
        wanted = {f for f, key in ((4, "n4"), (6, "n6")) if key in want} or {family}
        out: dict[int, tuple[NodeInfo, ...]] = {4: (), 6: ()}
        for fam in wanted:
            table = self.table if fam == family else self.other_table
            if table is not None:
                out[fam] = tuple(table.closest(target, self.config.k, now=now))
        return out[4], out[6]

    def _get_peers(self, tid: bytes, info_hash: bytes, want: frozenset[str], addr: Addr,
                   now: float) -> Response:  # fmt: skip
        nodes, nodes6 = self._nodes(info_hash, want, now)
        base = self._response(tid, addr, nodes=nodes, nodes6=nodes6,
                              token=self.tokens.issue(addr[0]))  # fmt: skip
        family = 6 if ":" in addr[0] else 4  # BEP 32: values follow the query's family
        room = self.config.max_send_size - len(encode_message(base, version=self.config.version))
        limit = min(self.config.max_values, (room - _VALUES_KEY_BYTES) // _VALUE_BYTES[family])
        values = self.store.get(info_hash, now=now, family=family, limit=max(limit, 0),
                                rng=self.rng)  # fmt: skip
        if not values:
            return base
        return self._response(tid, addr, nodes=nodes, nodes6=nodes6, token=base.token,
                              values=tuple(values))  # fmt: skip

    def _announce(self, query: AnnouncePeerQuery, addr: Addr, now: float) -> Message:
        host, source_port = addr
        if not self.tokens.check(query.token, host):
            self.counters.bad_tokens += 1
            return ErrorMessage(tid=query.tid, code=ErrorCode.PROTOCOL, message="bad token")
        port = source_port if query.implied_port else query.port
        if not 0 < port < 65536:
            return ErrorMessage(tid=query.tid, code=ErrorCode.PROTOCOL, message="bad port")
        if not self.store.add(query.info_hash, (host, port), now=now):
            return ErrorMessage(tid=query.tid, code=ErrorCode.SERVER, message="peer store full")
        self.counters.peers_stored += 1
        self.announced.append((query.info_hash, (host, port)))
        return self._response(query.tid, addr)
