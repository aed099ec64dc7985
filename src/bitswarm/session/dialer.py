"""Dialer: the peer addresses a torrent knows of, and the outgoing connections to them.

Shared by a running torrent and by a magnet link still fetching its metadata. It bounds
half-open connections, never dials ourselves or a banned address, and waits before
trying an address again. A connection is made in two steps: the transport (uTP and TCP
raced, session/racing.py, as `--transport` allows), then, on the winner, the handshake,
which the session's encryption level (wire/mse/policy.py) starts with MSE (aio/mse.py) or
plain; an attempt that the peer closes during its handshake is tried once more the other
way, over the transport that connected, when the level allows it. One record per address
(`Way`: the transport and the encryption that worked) is tried first next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ..aio.mse import MseStream
from ..aio.peer import PeerOwner, PeerProtocol
from ..aio.utp import UtpRefused
from ..wire.mse import first_attempt_encrypted, retry_other_way
from .host import SessionHost
from .racing import Connector, ProtocolFactory, attempt_delay, race

__all__ = ["Dialer", "Way"]

log = logging.getLogger("bitswarm.dialer")

CONNECT_TIMEOUT = 10.0
MAX_HALF_OPEN = 8
RETRY_AFTER = 60.0
REFUSED_RETRIES = 2  # new SYNs at once after a uTP SYN answered with FIN or RESET
REFUSED_PAUSE = 0.2  # ... this long apart
REFUSED_RETRY = 2.0  # then the address again after 2, 4, 8 .. RETRY_AFTER seconds
MAX_KNOWN = 2000  # addresses remembered per torrent (PEX and trackers can send many)
REFUSED_BY_US = frozenset(  # our own closes during a handshake: no retry the other way
    {
        "banned peer",
        "too many peers",
        "address refused",
        "too many connections from this address",  # session/slots.py
        "too many peers, and this address showed nothing lately",
        "torrent stopped",
        "torrent paused",
    }
)

Addr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Way:
    """How a connection to one address worked last: its `transport` ("tcp" or "utp", the
    race's winner, tried first next time) and `encrypted`, whether the BitTorrent
    handshake that completed over it began with MSE (None: not known yet, the level
    decides)."""

    transport: str
    encrypted: bool | None = None


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
        self.worked: dict[Addr, Way] = {}  # how a connection to each address worked last
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
        """Dial `addr`: the transport first, then the encryption on the winner.

        With transport "both", uTP and TCP are raced, staggered (session/racing.py, RFC
        8305's happy eyeballs), rather than libtorrent's mixed mode (uTP, then TCP once the
        uTP connect has timed out, seconds for every peer without uTP): the transport that
        worked with this peer last time starts first (uTP for a new peer, as libtorrent
        prefers it), the other joins after the attempt delay, and the first to connect is
        kept. The race is over at connection set-up; the MSE handshake (or the plain one)
        then runs on the winner, and an attempt the peer closes during its handshake is
        retried the other way over that same transport when the level allows it.
        """
        loop = asyncio.get_running_loop()
        level = self.session.config.encryption
        way = self.worked.get(addr)
        encrypted = first_attempt_encrypted(level)
        if way is not None and way.encrypted is not None:
            encrypted = way.encrypted
        if len(self.info_hash) != 20:
            encrypted = False  # no SKEY to offer (a stand-in owner in a test)
        retry = retry_other_way(level, encrypted=encrypted)
        retry_after = RETRY_AFTER
        try:
            transport, over, retry_after = await self._attempt(
                addr, None, encrypted=encrypted, wait=retry
            )
            if not over and retry and transport is not None:
                log.debug("%s:%d: retrying %s over %s", *addr,
                          "plain" if encrypted else "encrypted", transport)  # fmt: skip
                _, _, retry_after = await self._attempt(
                    addr, transport, encrypted=not encrypted, wait=True
                )
        finally:  # a later retry_later (a seed met while seeding) set while we waited stays
            self.known[addr] = max(self.known.get(addr, 0.0), loop.time() + retry_after)
            self.connecting.discard(addr)

    async def _attempt(self, addr: Addr, only: str | None, *, encrypted: bool,
                       wait: bool) -> tuple[str | None, bool, float]:  # fmt: skip
        """Connect once, plain or with MSE, over `only` that transport or the race of those
        the session allows. The transport that connected (None: none did); whether the
        attempt is over (with `wait`, False when the peer closed the connection, or broke
        the encryption handshake, before its BitTorrent handshake, so the caller may try
        the other way); and when to dial the address again (sooner after a uTP SYN the
        peer refused: it is there and said "not now")."""
        loop = asyncio.get_running_loop()
        config = self.session.config
        policy = only or config.transport
        utp = self.session.utp_for(addr[0])
        peer = PeerProtocol(owner=self.owner, handshake_timeout=config.handshake_timeout)

        def factory() -> asyncio.BufferedProtocol:
            if encrypted:
                return MseStream(peer, level=config.encryption, skey=self.info_hash)
            return peer

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

        before = self.worked.get(addr)
        attempts: list[tuple[str, Connector]] = []
        if policy != "tcp" and utp is not None:
            attempts.append(("utp", over_utp))
        if policy != "utp":
            first = before is not None and before.transport == "tcp"
            attempts.insert(0 if first else len(attempts), ("tcp", over_tcp))
        if not attempts:
            return None, True, RETRY_AFTER
        try:
            rtt = utp.typical_rtt() if utp is not None else None
            transport = await race(attempts, attempt_delay(rtt), factory)
        except (OSError, TimeoutError) as exc:
            log.debug("connect to %s:%d failed: %s", addr[0], addr[1], exc)
            self.worked.pop(addr, None)
            retry_after = RETRY_AFTER
            if refused:  # the peer is there and said "not now": ask again soon
                n = self.refusals[addr] = self.refusals.get(addr, 0) + 1
                retry_after = min(RETRY_AFTER, REFUSED_RETRY * 2 ** (n - 1))
            return None, True, retry_after  # nobody listens: the other way would fail too
        self.refusals.pop(addr, None)
        self.worked[addr] = Way(transport, before.encrypted if before is not None else None)
        if not wait:
            return transport, True, RETRY_AFTER
        if await asyncio.shield(peer.handshake_done):  # cancelling us leaves it to the peer
            self.worked[addr] = Way(transport, encrypted)
            return transport, True, RETRY_AFTER
        if peer.handshake_timed_out:  # it stalled rather than refused: the other way would too
            return transport, True, RETRY_AFTER
        reason = peer.closed_future.result() if peer.closed_future.done() else ""
        return transport, reason in REFUSED_BY_US, RETRY_AFTER

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
