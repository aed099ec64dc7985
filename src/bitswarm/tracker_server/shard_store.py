"""`ShardedStore`: the in-memory swarms of ``--workers N``, each swarm in one worker.

Every worker keeps the swarms `shard_of` gives it in its own `MemorySwarmStore` and
answers the others' questions about them on a listening Unix stream socket; it asks the
others about theirs over one connection per other worker, opened on first use. The
front-ends answer an announce for a local swarm synchronously, as with one process
(`owns` tells them); everything else goes through this store's async `SwarmStore` calls:

* announce of a swarm owned elsewhere (HTTP lands on any worker; UDP only when the kernel
  could not route it): forwarded to the owner, its reply returned as is;
* scrape: the hashes grouped by owner, the groups asked at once, the answers put back in
  the request's order;
* full scrape and totals: every worker asked, the answers merged;
* housekeeping: local only; each worker sweeps its own swarms.

The supervisor binds the listening sockets (and the UDP sockets) before it forks and
keeps them open, so a worker that dies and is restarted inherits the same socket: a
request sent meanwhile waits in the backlog instead of failing. A request that gets no
answer in `timeout` seconds, or whose connection breaks, raises `StoreUnavailable`: the
client hears "tracker storage unavailable, try again later" and re-announces. A
restarted worker starts with no swarms; they fill again as their peers re-announce.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..errors import ProtocolError
from ..tracker.announce import ScrapeStats
from . import shard_codec as codec
from .memory_store import MemorySwarmStore
from .store import (
    EMPTY_STATS,
    PeerAnnounce,
    StoreTotals,
    StoreUnavailable,
    SwarmReply,
    SwarmsFull,
)

__all__ = ["ShardSetup", "ShardedStore"]

log = logging.getLogger("bitswarm.tracker.shards")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ShardSetup:
    """What the supervisor gives worker `index` of `count`: its sockets and the others'."""

    index: int
    count: int
    link: socket.socket  # this worker's listening Unix socket
    paths: tuple[str, ...]  # every worker's link address, by index
    udp: socket.socket | None = None  # this worker's UDP socket in the reuseport group


class ShardedStore:
    """A `SwarmStore` over this worker's swarms and, through links, the other workers'."""

    wall_clock = False

    def __init__(self, local: MemorySwarmStore, setup: ShardSetup, clock: Callable[[], float],
                 *, timeout: float = 2.0) -> None:  # fmt: skip
        self.local = local
        self.index = setup.index
        self.count = setup.count
        self._setup = setup
        self._clock = clock
        self._timeout = timeout
        self._links: dict[int, _Link] = {}
        self._server: asyncio.Server | None = None

    def owns(self, info_hash: bytes) -> bool:
        return codec.shard_of(info_hash, self.count) == self.index

    async def start(self) -> None:
        """Answer the other workers on the inherited listening socket."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Answerer(self),
                                                     sock=self._setup.link)  # fmt: skip

    # -- the SwarmStore protocol ----------------------------------------------------------

    async def announce(self, ann: PeerAnnounce, *, now: float) -> SwarmReply:
        owner = codec.shard_of(ann.request.info_hash, self.count)
        if owner == self.index:
            return self.local.announce_now(ann, now)
        body = await self._call(owner, codec.ANNOUNCE, codec.encode_announce(ann))
        return _decoded(codec.decode_announce_reply, body)

    async def scrape(self, info_hashes: Sequence[bytes], *, now: float) -> list[ScrapeStats]:
        groups: dict[int, list[bytes]] = {}
        for h in dict.fromkeys(info_hashes):
            groups.setdefault(codec.shard_of(h, self.count), []).append(h)
        found: dict[bytes, ScrapeStats] = {}
        mine = groups.pop(self.index, [])
        found.update(zip(mine, self.local.scrape_now(mine, now), strict=True))
        owners = list(groups)
        bodies = await asyncio.gather(
            *(self._call(o, codec.SCRAPE, b"".join(groups[o])) for o in owners)
        )
        for owner, body in zip(owners, bodies, strict=True):
            hashes = groups[owner]
            try:
                stats = codec.decode_scrape_reply(body, len(hashes))
            except ProtocolError as exc:
                raise StoreUnavailable(f"bad answer from a worker: {exc}") from None
            found.update(zip(hashes, stats, strict=True))
        return [found.get(h, EMPTY_STATS) for h in info_hashes]

    async def full_scrape(self, *, limit: int, now: float) -> dict[bytes, ScrapeStats]:
        files = self.local.full_scrape_now(limit, now)
        others = [o for o in range(self.count) if o != self.index]
        bodies = await asyncio.gather(
            *(self._call(o, codec.FULL_SCRAPE, limit.to_bytes(4, "big")) for o in others)
        )
        for body in bodies:
            for h, stats in _decoded(codec.decode_full_scrape_reply, body).items():
                if len(files) >= limit:
                    return files
                files[h] = stats
        return files

    async def totals(self, *, now: float) -> StoreTotals:
        total = self.local.totals_now()
        others = [o for o in range(self.count) if o != self.index]
        for body in await asyncio.gather(*(self._call(o, codec.TOTALS, b"") for o in others)):
            t = _decoded(codec.decode_totals, body)
            total = StoreTotals(total.swarms + t.swarms, total.seeders + t.seeders,
                                total.leechers + t.leechers)  # fmt: skip
        return total

    async def housekeeping(self, *, now: float) -> None:
        self.local.housekeeping_now(now)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in self._links.values():
            link.close()
        self._links.clear()
        await self.local.close()

    # -- asking the others ----------------------------------------------------------------

    async def _call(self, owner: int, kind: int, body: bytes) -> bytes:
        link = self._links.get(owner)
        if link is None or link.closed:
            link = self._links[owner] = _Link(self._setup.paths[owner])
        try:
            return await asyncio.wait_for(link.call(kind, body), self._timeout)
        except (OSError, TimeoutError, ProtocolError) as exc:
            link.close()
            raise StoreUnavailable(f"worker {owner} did not answer: {exc!r}") from None

    # -- answering them (synchronous: the local store is) ---------------------------------

    def answer(self, kind: int, body: bytes) -> tuple[int, bytes]:
        now = self._clock()
        local = self.local
        if kind == codec.ANNOUNCE:
            reply = local.announce_now(codec.decode_announce(body), now)
            return kind | codec.REPLY, codec.encode_announce_reply(reply)
        if kind == codec.SCRAPE:
            hashes = [body[i : i + 20] for i in range(0, len(body), 20)]
            return kind | codec.REPLY, codec.encode_scrape_reply(local.scrape_now(hashes, now))
        if kind == codec.FULL_SCRAPE:
            files = local.full_scrape_now(int.from_bytes(body[:4], "big"), now)
            return kind | codec.REPLY, codec.encode_full_scrape_reply(files)
        if kind == codec.TOTALS:
            return kind | codec.REPLY, codec.encode_totals(local.totals_now())
        return codec.ERROR, b"unknown request"


SWARMS_FULL = b"swarms full"  # the error body that carries `SwarmsFull` between workers


def _decoded(decode: Callable[[bytes], _T], body: bytes) -> _T:
    try:
        return decode(body)
    except ProtocolError as exc:
        raise StoreUnavailable(f"bad answer from a worker: {exc}") from None


class _Frames(asyncio.Protocol):
    """Splits the byte stream into frames; `frame_received` gets each one."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        at = 0
        while len(buf) - at >= codec.HEADER.size:
            length, kind, rid = codec.HEADER.unpack_from(buf, at)
            if not 5 <= length <= codec.MAX_FRAME:
                self._buf.clear()
                if self.transport is not None:
                    self.transport.close()
                return
            end = at + 4 + length
            if len(buf) < end:
                break
            self.frame_received(kind, rid, bytes(buf[at + codec.HEADER.size : end]))
            at = end
        del buf[:at]

    def frame_received(self, kind: int, rid: int, body: bytes) -> None:
        raise NotImplementedError


class _Answerer(_Frames):
    """One other worker's connection to this one: answers each request in order."""

    def __init__(self, store: ShardedStore) -> None:
        super().__init__()
        self._store = store

    def frame_received(self, kind: int, rid: int, body: bytes) -> None:
        try:
            out_kind, out = self._store.answer(kind, body)
        except ProtocolError as exc:
            out_kind, out = codec.ERROR, str(exc).encode()
        except SwarmsFull:  # the owner holds max_swarms: the asking worker refuses as it would
            out_kind, out = codec.ERROR, SWARMS_FULL
        except Exception:  # a bug must not stop the worker
            log.exception("internal error answering a worker")
            out_kind, out = codec.ERROR, b"internal error"
        if self.transport is not None:
            self.transport.write(codec.frame(out_kind, rid, out))


class _Link(_Frames):
    """This worker's connection to another one: requests out, answers matched by id."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._next = 0
        self._connecting: asyncio.Task[None] | None = None
        self.closed = False

    async def call(self, kind: int, body: bytes) -> bytes:
        if self.transport is None:
            if self._connecting is None:
                loop = asyncio.get_running_loop()
                self._connecting = loop.create_task(self._connect())
            await asyncio.shield(self._connecting)
        assert self.transport is not None
        self._next = (self._next + 1) & 0xFFFFFFFF
        rid = self._next
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        self.transport.write(codec.frame(kind, rid, body))
        try:
            return await future
        finally:
            self._pending.pop(rid, None)

    async def _connect(self) -> None:
        await asyncio.get_running_loop().create_unix_connection(lambda: self, self._path)

    def frame_received(self, kind: int, rid: int, body: bytes) -> None:
        future = self._pending.pop(rid, None)
        if future is None or future.done():
            return
        if kind == codec.ERROR and body == SWARMS_FULL:
            future.set_exception(SwarmsFull())
        elif kind == codec.ERROR:
            future.set_exception(StoreUnavailable(body.decode("utf-8", "replace")))
        else:
            future.set_result(body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(StoreUnavailable("the worker's link closed"))
        self._pending.clear()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
