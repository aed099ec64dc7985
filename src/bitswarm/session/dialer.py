"""Dialer: the peer addresses a torrent knows of, and the outgoing connections to them.

Shared by a running torrent and by a magnet link still fetching its metadata. It bounds
half-open connections, never dials ourselves or a banned address, and waits before
trying an address again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from ..aio.peer import PeerOwner, PeerProtocol
from .host import SessionHost

__all__ = ["Dialer"]

log = logging.getLogger("bitswarm.dialer")

CONNECT_TIMEOUT = 10.0
MAX_HALF_OPEN = 8
RETRY_AFTER = 60.0
MAX_KNOWN = 2000  # addresses remembered per torrent (PEX and trackers can send many)

Addr = tuple[str, int]


class Dialer:
    """Known addresses and outgoing connection attempts for one `PeerOwner`."""

    def __init__(self, session: SessionHost, owner: PeerOwner, peers: Iterable[Addr] = ()) -> None:
        self.session = session
        self.owner = owner
        self.known: dict[Addr, float] = {}  # address -> earliest next attempt
        self.banned: set[str] = set()
        self.connecting: set[Addr] = set()
        self.no_utp: set[Addr] = set()  # uTP failed here once: TCP from now on
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
        """Dial `addr` over the transports the session allows.

        With "both", libtorrent's mixed mode: uTP first while the peer is not known to
        lack it, TCP once a uTP attempt has failed (libtorrent's torrent::connect_to_peer
        picks uTP when ``peer_info::supports_utp``, which a failed uTP connect clears, and
        the next attempt goes over TCP); we make that next attempt at once. The uTP
        attempt gives up after its SYN and one resend go unanswered (about 4.5 s).
        """
        loop = asyncio.get_running_loop()
        policy = self.session.config.transport
        utp = self.session.utp
        try:
            if policy != "tcp" and utp is not None and addr not in self.no_utp:
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        await utp.connect(addr, lambda: PeerProtocol(owner=self.owner))
                    return
                except (OSError, TimeoutError) as exc:
                    log.debug("uTP connect to %s:%d failed: %s", addr[0], addr[1], exc)
                    self.no_utp.add(addr)
            if policy == "utp":
                return
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await loop.create_connection(
                    lambda: PeerProtocol(owner=self.owner),
                    addr[0],
                    addr[1],
                    local_addr=self.session.source_for(addr[0]),
                )
        except (OSError, TimeoutError) as exc:
            log.debug("connect to %s:%d failed: %s", addr[0], addr[1], exc)
        finally:
            self.known[addr] = loop.time() + RETRY_AFTER
            self.connecting.discard(addr)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
