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
from ..aio.utp import UtpRefused
from .host import SessionHost
from .racing import Connector, ProtocolFactory, attempt_delay, race

__all__ = ["Dialer"]

log = logging.getLogger("bitswarm.dialer")

CONNECT_TIMEOUT = 10.0
MAX_HALF_OPEN = 8
RETRY_AFTER = 60.0
REFUSED_RETRIES = 2  # new SYNs at once after a uTP SYN answered with FIN or RESET
REFUSED_PAUSE = 0.2  # ... this long apart
REFUSED_RETRY = 2.0  # then the address again after 2, 4, 8 .. RETRY_AFTER seconds
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
        self.worked: dict[Addr, str] = {}  # the transport that connected last: tried first
        self.refusals: dict[Addr, int] = {}  # dials in a row whose uTP SYN was refused
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
        half_open = self.session.half_open_count()  # session-wide attempts in flight
        for addr, retry_at in list(self.known.items()):
            if count + len(self.connecting) >= limit or len(self.connecting) >= MAX_HALF_OPEN:
                return
            if half_open >= self.session.config.max_half_open:
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
            half_open += 1
            task = asyncio.get_running_loop().create_task(self._connect(addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def has_candidates(self) -> bool:
        """Is any known address due for a try (someone new to turn a slot over to)?"""
        now = asyncio.get_running_loop().time()
        return any(retry_at <= now for retry_at in self.known.values())

    async def _connect(self, addr: Addr) -> None:
        """Dial `addr` over the transports the session allows.

        With "both", uTP and TCP are raced, staggered (session/racing.py, RFC 8305's happy
        eyeballs), rather than libtorrent's mixed mode (uTP, then TCP once the uTP connect
        has timed out, seconds for every peer without uTP): the transport that worked
        with this peer last time starts first (uTP for a new peer, as libtorrent prefers
        it), the other joins after the attempt delay, and the first to connect is kept.
        """
        loop = asyncio.get_running_loop()
        policy = self.session.config.transport
        utp = self.session.utp_for(addr[0])

        refused = False

        async def over_utp(factory: ProtocolFactory) -> None:
            nonlocal refused
            assert utp is not None
            async with asyncio.timeout(CONNECT_TIMEOUT):
                for retry in range(REFUSED_RETRIES + 1):
                    try:
                        await utp.connect(addr, factory)
                        return
                    except UtpRefused:
                        refused = True
                        if retry == REFUSED_RETRIES:
                            raise
                    await asyncio.sleep(REFUSED_PAUSE)

        async def over_tcp(factory: ProtocolFactory) -> None:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await loop.create_connection(
                    factory, addr[0], addr[1], local_addr=self.session.source_for(addr[0])
                )

        def peer() -> PeerProtocol:
            return PeerProtocol(
                owner=self.owner, handshake_timeout=self.session.config.handshake_timeout
            )

        attempts: list[tuple[str, Connector]] = []
        if policy != "tcp" and utp is not None:
            attempts.append(("utp", over_utp))
        if policy != "utp":
            attempts.insert(0 if self.worked.get(addr) == "tcp" else len(attempts),
                            ("tcp", over_tcp))  # fmt: skip
        retry_after = RETRY_AFTER
        try:
            if attempts:
                rtt = utp.typical_rtt() if utp is not None else None
                self.worked[addr] = await race(attempts, attempt_delay(rtt), peer)
                self.refusals.pop(addr, None)
        except (OSError, TimeoutError) as exc:
            log.debug("connect to %s:%d failed: %s", addr[0], addr[1], exc)
            self.worked.pop(addr, None)
            if refused:  # the peer is there and said "not now": ask again soon
                n = self.refusals[addr] = self.refusals.get(addr, 0) + 1
                retry_after = min(RETRY_AFTER, REFUSED_RETRY * 2 ** (n - 1))
        finally:
            self.known[addr] = loop.time() + retry_after
            self.connecting.discard(addr)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
