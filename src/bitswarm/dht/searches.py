"""The node's running searches: lookups by handle, and announces after their lookup.

A handle names one command (`get_peers`, `find_node`, `bootstrap`, `announce_peer`) or
an internal bucket refresh. This module keeps their `Lookup`s, routes answers and
failures to them, and says which queries to send next; the node opens the transactions
and sends. An announce is a get_peers lookup followed by announce_peer to the closest
nodes that returned a token (BEP 5 "announce_peer"); `AnnounceJob` counts the replies.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .config import DhtConfig
from .events import AnnounceDone, PeersFound
from .krpc import Addr, AnnouncePeerQuery, FindNodeQuery, GetPeersQuery, NodeInfo, Query, Response
from .lookup import Candidate, Lookup, LookupKind

__all__ = ["AnnounceJob", "JobKind", "LookupJob", "Searches"]


class JobKind(enum.Enum):
    FIND_NODE = "find_node"
    GET_PEERS = "get_peers"
    BOOTSTRAP = "bootstrap"
    REFRESH = "refresh"
    ANNOUNCE = "announce"


@dataclass(slots=True)
class LookupJob:
    kind: JobKind
    lookup: Lookup
    port: int = 0  # announce only
    implied_port: bool = False


@dataclass(slots=True)
class AnnounceJob:
    info_hash: bytes
    port: int
    peers: tuple[Addr, ...]
    attempted: int
    outstanding: int
    stored: int = 0


class Searches:
    """Lookups and announces in progress, by handle."""

    def __init__(self, own_id: bytes, config: DhtConfig) -> None:
        self.own_id = own_id
        self.config = config
        self.lookups: dict[int, LookupJob] = {}
        self.announces: dict[int, AnnounceJob] = {}
        self.refresh_queue: deque[bytes] = deque()  # bucket refresh targets, one at a time
        self._next_handle = 1

    def __len__(self) -> int:
        return len(self.lookups) + len(self.announces)

    def new_handle(self) -> int:
        handle, self._next_handle = self._next_handle, self._next_handle + 1
        return handle

    def running(self, *kinds: JobKind) -> bool:
        return any(job.kind in kinds for job in self.lookups.values())

    def start(
        self,
        kind: JobKind,
        target: bytes,
        seeds: Iterable[NodeInfo],
        addrs: Iterable[Addr] = (),
        *,
        port: int = 0,
        implied_port: bool = False,
    ) -> int:
        cfg = self.config
        lookup_kind = LookupKind.GET_PEERS if kind in (JobKind.GET_PEERS, JobKind.ANNOUNCE) else (
            LookupKind.FIND_NODE)  # fmt: skip
        lookup = Lookup(
            target,
            lookup_kind,
            seeds,
            addrs=addrs,
            own_id=self.own_id,
            k=cfg.k,
            alpha=cfg.alpha,
            max_queries=cfg.max_lookup_queries,
        )
        handle = self.new_handle()
        self.lookups[handle] = LookupJob(kind, lookup, port, implied_port)
        return handle

    def cancel(self, handle: int) -> bool:
        job = self.lookups.pop(handle, None)
        if job is not None:
            job.lookup.cancel()
        return job is not None or self.announces.pop(handle, None) is not None

    # --- what to send -------------------------------------------------------------------

    def outgoing(self) -> list[tuple[int, Candidate, Query]]:
        """The lookup queries to send now (tid still empty: the node fills it in)."""
        out: list[tuple[int, Candidate, Query]] = []
        for handle, job in self.lookups.items():
            lookup = job.lookup
            for c in lookup.next_queries():
                query: Query
                if lookup.kind is LookupKind.GET_PEERS:
                    query = GetPeersQuery(tid=b"", sender_id=self.own_id, info_hash=lookup.target)
                else:
                    query = FindNodeQuery(tid=b"", sender_id=self.own_id, target=lookup.target)
                out.append((handle, c, query))
        return out

    def pop_done(self) -> list[tuple[int, LookupJob]]:
        done = [(h, job) for h, job in self.lookups.items() if job.lookup.done]
        for handle, _ in done:
            del self.lookups[handle]
        return done

    def begin_announce(self, handle: int, job: LookupJob) -> list[tuple[Candidate, Query]]:
        """After the lookup: announce_peer to the closest nodes that gave a token."""
        lookup = job.lookup
        targets = [c for c in lookup.closest(self.config.k) if c.token is not None]
        self.announces[handle] = AnnounceJob(
            lookup.target, job.port, tuple(lookup.peers), len(targets), len(targets)
        )
        return [
            (c, AnnouncePeerQuery(tid=b"", sender_id=self.own_id, info_hash=lookup.target,
                                  port=job.port, token=c.token or b"",
                                  implied_port=job.implied_port))
            for c in targets
        ]  # fmt: skip

    def pop_announces_done(self) -> list[AnnounceDone]:
        done = [h for h, a in self.announces.items() if a.outstanding <= 0]
        out = []
        for handle in done:
            a = self.announces.pop(handle)
            out.append(AnnounceDone(handle, a.info_hash, a.port, a.stored, a.attempted, a.peers))
        return out

    # --- what came back -----------------------------------------------------------------

    def on_lookup_response(self, handle: int, addr: Addr, msg: Response,
                           family: int) -> PeersFound | None:  # fmt: skip
        job = self.lookups.get(handle)
        if job is None:
            return None
        lookup = job.lookup
        nodes = msg.nodes if family == 4 else msg.nodes6
        values = msg.values if lookup.kind is LookupKind.GET_PEERS else ()
        new = lookup.on_response(addr, msg.sender_id, nodes=nodes, values=values,
                                 token=msg.token)  # fmt: skip
        return PeersFound(handle, lookup.target, tuple(new)) if new else None

    def on_lookup_failure(self, handle: int, addr: Addr) -> None:
        job = self.lookups.get(handle)
        if job is not None:
            job.lookup.on_failure(addr)

    def on_lookup_slow(self, handle: int, addr: Addr) -> None:
        job = self.lookups.get(handle)
        if job is not None:
            job.lookup.on_slow(addr)

    def on_announce_reply(self, handle: int, *, stored: bool) -> None:
        a = self.announces.get(handle)
        if a is not None:
            a.outstanding -= 1
            a.stored += stored
