"""Dialer: the peer addresses a torrent knows of, and the outgoing connections to them.

Shared by a running torrent and by a magnet link still fetching its metadata. It bounds
half-open connections, never dials ourselves or a banned address, and waits before
trying an address again. The session's encryption level (wire/mse/policy.py) decides
whether a connection starts with the MSE handshake (aio/mse.py); an attempt that the peer
closes during its handshake is tried once more the other way when the level allows it,
and the way that worked is remembered for the next connection to that address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from ..aio.mse import MseStream
from ..aio.peer import PeerOwner, PeerProtocol
from ..wire.mse import first_attempt_encrypted, retry_other_way
from .host import SessionHost

__all__ = ["Dialer"]

log = logging.getLogger("bitswarm.dialer")

CONNECT_TIMEOUT = 10.0
MAX_HALF_OPEN = 8
RETRY_AFTER = 60.0
MAX_KNOWN = 2000  # addresses remembered per torrent (PEX and trackers can send many)
REFUSED_BY_US = frozenset({"banned peer", "too many peers", "address refused"})

Addr = tuple[str, int]


class Dialer:
    """Known addresses and outgoing connection attempts for one `PeerOwner`."""

    def __init__(
        self,
        session: SessionHost,
        owner: PeerOwner,
        peers: Iterable[Addr] = (),
        *,
        info_hash: bytes = b"",
    ) -> None:
        self.session = session
        self.owner = owner
        self.info_hash = info_hash  # the 20-byte handshake hash: the MSE SKEY
        self.known: dict[Addr, float] = {}  # address -> earliest next attempt
        self.banned: set[str] = set()
        self.connecting: set[Addr] = set()
        self.worked_encrypted: dict[Addr, bool] = {}  # the way a handshake last succeeded
        self._tasks: set[asyncio.Task[None]] = set()
        self.add(peers)

    def add(self, addrs: Iterable[Addr]) -> None:
        for addr in addrs:
            if len(self.known) >= MAX_KNOWN:
                return
            self.known.setdefault(addr, 0.0)

    def retry_later(self, addr: Addr, seconds: float) -> None:
        """Do not dial `addr` again for `seconds` (say, a seed met while seeding)."""
        if addr in self.known:
            self.known[addr] = asyncio.get_running_loop().time() + seconds

    def connect_more(self, *, connected: set[Addr], count: int, limit: int) -> None:
        """Start connections while fewer than `limit` peers are connected or connecting."""
        now = asyncio.get_running_loop().time()
        for addr, retry_at in list(self.known.items()):
            if count + len(self.connecting) >= limit or len(self.connecting) >= MAX_HALF_OPEN:
                return
            if self.session.connection_count() >= self.session.config.max_connections:
                return
            if (
                addr in connected
                or addr in self.connecting
                or retry_at > now
                or addr[0] in self.banned
                or self.session.is_blocked(addr[0])
                or self.session.is_own_address(addr)
            ):
                continue
            self.connecting.add(addr)
            task = asyncio.get_running_loop().create_task(self._connect(addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, addr: Addr) -> None:
        loop = asyncio.get_running_loop()
        level = self.session.config.encryption
        encrypted = self.worked_encrypted.get(addr, first_attempt_encrypted(level))
        if len(self.info_hash) != 20:
            encrypted = False  # no SKEY to offer (a stand-in owner in a test)
        retry = retry_other_way(level, encrypted=encrypted)
        try:
            if not await self._attempt(addr, encrypted=encrypted, wait=retry) and retry:
                log.debug("%s:%d: retrying %s", *addr, "plain" if encrypted else "encrypted")
                await self._attempt(addr, encrypted=not encrypted, wait=True)
        finally:  # a later retry_later (a seed met while seeding) set while we waited stays
            self.known[addr] = max(self.known.get(addr, 0.0), loop.time() + RETRY_AFTER)
            self.connecting.discard(addr)

    async def _attempt(self, addr: Addr, *, encrypted: bool, wait: bool) -> bool:
        """Connect once, plain or with MSE. With `wait`, wait for the peer's handshake:
        False when the peer closed the connection (or broke the encryption handshake)
        before it, so the caller may try the other way."""
        loop = asyncio.get_running_loop()
        level = self.session.config.encryption
        peer = PeerProtocol(owner=self.owner)
        factory: Callable[[], asyncio.BufferedProtocol] = lambda: peer  # noqa: E731
        if encrypted:
            factory = lambda: MseStream(peer, level=level, skey=self.info_hash)  # noqa: E731
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await loop.create_connection(
                    factory, addr[0], addr[1], local_addr=self.session.source_for(addr[0])
                )
        except (OSError, TimeoutError) as exc:
            log.debug("connect to %s:%d failed: %s", addr[0], addr[1], exc)
            return True  # nobody listens there: the other way would fail the same
        if not wait:
            return True
        if await peer.handshake_done:
            self.worked_encrypted[addr] = encrypted
            return True
        reason = peer.closed_future.result() if peer.closed_future.done() else ""
        return reason in REFUSED_BY_US

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
