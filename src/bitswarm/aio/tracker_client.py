"""asyncio driver for tracker clients: HTTP(S) over `aio.http_get`, UDP around `UdpTrackerClient`.

Thin by design: URLs and reply parsing come from `bitswarm.tracker.http`, the UDP
protocol machine from `bitswarm.tracker.udp`. What this module adds is I/O and its
failure modes, each turned into one clear line:

* `TrackerFailure`: the tracker answered and refused (``failure reason``, UDP error).
* `TrackerUnreachable`: timeout, refused or reset connection, unresolvable host, an
  HTTP error status, an HTML page or other garbage instead of bencoding (the last is
  the `TrackerResponseError` subclass), a body over `MAX_BODY` bytes, too many
  redirects, a TLS certificate that does not verify. Never a raw OSError.

Messages name the tracker without its query string, which often holds a passkey.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar, cast
from urllib.parse import urlsplit

from ..tracker.announce import (
    AnnounceRequest,
    AnnounceResponse,
    ScrapeStats,
    TrackerFailure,
    TrackerUnreachable,
)
from ..tracker.http import (
    build_announce_url,
    build_scrape_url,
    parse_announce_response,
    parse_scrape_response,
    raise_failure,
)
from ..tracker.http_reply import MAX_BODY as MAX_REPLY_BODY
from ..tracker.udp import (
    AnnounceDone,
    RequestFailed,
    RequestTimedOut,
    ScrapeDone,
    UdpTrackerClient,
)
from ..tracker.udp_codec import MAX_SCRAPE_HASHES
from .http_get import HttpGetError, http_get
from .http_get import os_text as _os_text

__all__ = [
    "MAX_BODY",
    "MAX_REDIRECTS",
    "TrackerFailure",
    "TrackerUnreachable",
    "UdpTrackerConnection",
    "announce",
    "scrape",
]

MAX_BODY = MAX_REPLY_BODY
MAX_REDIRECTS = 4
_T = TypeVar("_T")


def _display(url: str) -> str:
    """The URL without query or fragment (passkeys stay out of logs)."""
    try:
        p = urlsplit(url)
    except ValueError:
        return "(malformed URL)"
    return f"{p.scheme}://{p.netloc}{p.path}" if p.netloc else url[:80]


async def announce(
    url: str,
    req: AnnounceRequest,
    *,
    timeout: float = 15.0,  # noqa: ASYNC109 - one bound for connect, retries and body
    max_peers: int = 200,
    local_host: str | None = None,
) -> AnnounceResponse:
    """Announce `req` to the tracker at `url` (``http``, ``https`` or ``udp``).

    `local_host` is the source address (a client bound with ``--bind`` must announce from
    it: the tracker records the address it sees).

    Raises:
        TrackerFailure: the tracker refused, with its reason.
        TrackerUnreachable: no usable answer within `timeout` seconds.
    """
    scheme = _scheme_of(url)
    if scheme in ("http", "https"):
        full = build_announce_url(url, req)
        body = await _http_get(full, url, timeout, local_host)
        return parse_announce_response(body, max_peers=max_peers, url=_display(url))
    if scheme == "udp":
        return await _over_udp(url, timeout, lambda conn: conn.announce(req), local_host)
    raise TrackerUnreachable(f"unsupported tracker URL {_display(url)!r}")


async def scrape(
    url: str,
    info_hashes: Iterable[bytes],
    *,
    timeout: float = 15.0,  # noqa: ASYNC109 - as for announce
) -> dict[bytes, ScrapeStats]:
    """Scrape `info_hashes` at the tracker whose announce URL is `url`.

    Only requested hashes the tracker reported are in the result; no hashes at all asks
    an HTTP tracker for a full scrape (capped like every reply).

    Raises:
        ScrapeUnsupported: an HTTP URL without ``announce`` in its last part (BEP 48).
        TrackerFailure / TrackerUnreachable: as for `announce`.
    """
    hashes = list(dict.fromkeys(info_hashes))
    scheme = _scheme_of(url)
    if scheme in ("http", "https"):
        full = build_scrape_url(url, hashes)
        body = await _http_get(full, url, timeout)
        files = parse_scrape_response(body, url=_display(url)).files
        if not hashes:  # a full scrape (BEP 48 allows no info_hash at all)
            return dict(files)
        return {h: files[h] for h in hashes if h in files}
    if scheme == "udp":
        return await _over_udp(url, timeout, lambda conn: conn.scrape(hashes))
    raise TrackerUnreachable(f"unsupported tracker URL {_display(url)!r}")


def _scheme_of(url: str) -> str:
    """The URL's scheme, once it is known to name a host (torrents carry any text)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError as e:
        raise TrackerUnreachable(f"invalid tracker URL {url[:80]!r} ({e})") from None
    if not parts.hostname:
        raise TrackerUnreachable(f"invalid tracker URL {url[:80]!r} (no host)")
    return parts.scheme.lower()


async def _over_udp(
    url: str,
    limit: float,
    op: Callable[[UdpTrackerConnection], Awaitable[_T]],
    local_host: str | None = None,
) -> _T:
    """Run `op` on a fresh UDP connection to `url`, all within `limit` seconds."""
    # Retransmit a few times within the caller's bound instead of BEP 15's 15 s.
    base = max(0.05, min(15.0, limit / 4))
    try:
        async with asyncio.timeout(limit):
            with await UdpTrackerConnection.open(
                url, retransmit_base=base, local_host=local_host
            ) as conn:
                return await op(conn)
    except TimeoutError:
        raise TrackerUnreachable(f"tracker {_display(url)}: no answer within {limit:g} s") from None


# -- HTTP -------------------------------------------------------------------------------


async def _http_get(
    full_url: str,
    url: str,
    limit: float,
    local_host: str | None = None,
) -> bytes:
    """GET `full_url` within `limit` seconds; return the body of a 200 reply."""
    where = f"tracker {_display(url)}"
    try:
        async with asyncio.timeout(limit):
            reply = await http_get(
                full_url,
                max_body=MAX_BODY,
                max_redirects=MAX_REDIRECTS,
                local_host=local_host,
            )
    except TimeoutError:
        raise TrackerUnreachable(f"{where}: no answer within {limit:g} s") from None
    except HttpGetError as e:
        raise TrackerUnreachable(f"{where}: {e}") from None
    if reply.status != 200:
        # A refusal may come with an error status; anything else is just the status.
        raise_failure(reply.body, url=_display(url))
        raise TrackerUnreachable(f"{where}: HTTP {reply.status} {reply.reason}".rstrip())
    return reply.body


# -- UDP --------------------------------------------------------------------------------


class _UdpProtocol(asyncio.DatagramProtocol):
    """Feeds datagrams and timer ticks to one `UdpTrackerClient`; resolves futures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = f"tracker {url}"
        self.loop = asyncio.get_running_loop()
        self.client: UdpTrackerClient | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.waiters: dict[int, asyncio.Future[AnnounceDone | ScrapeDone]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (3.11's selector transport does not subclass DatagramTransport, hence the cast)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.client is None:
            return
        self.client.receive_datagram(data, (str(addr[0]), int(addr[1])), now=self.loop.time())
        self.pump()

    def error_received(self, exc: Exception) -> None:
        # On a connected UDP socket, an ICMP "port unreachable" arrives here (Linux).
        text = _os_text(exc) if isinstance(exc, OSError) else str(exc)
        self._fail_all(TrackerUnreachable(f"{self.where}: {text}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._fail_all(TrackerUnreachable(f"{self.where}: socket closed"))

    def wait(self, handle: int) -> asyncio.Future[AnnounceDone | ScrapeDone]:
        fut: asyncio.Future[AnnounceDone | ScrapeDone] = self.loop.create_future()
        self.waiters[handle] = fut
        self.pump()
        return fut

    def pump(self) -> None:
        """Flush datagrams, dispatch events, re-arm the one timer."""
        client, transport = self.client, self.transport
        if client is None or transport is None or transport.is_closing():
            return
        for data, _addr in client.datagrams_to_send(now=self.loop.time()):
            transport.sendto(data)  # the socket is connected to the tracker
        for ev in client.events():
            fut = self.waiters.pop(ev.handle, None)
            if fut is None or fut.done():
                continue
            match ev:
                case AnnounceDone() | ScrapeDone():
                    fut.set_result(ev)
                case RequestFailed(reason=reason):
                    fut.set_exception(TrackerFailure(reason, url=self.url))
                case RequestTimedOut(attempts=n):
                    msg = f"{self.where}: no answer after {n} tries"
                    fut.set_exception(TrackerUnreachable(msg))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = client.get_timer()
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.client is not None:
            self.client.handle_timer(now=self.loop.time())
            self.pump()

    def _fail_all(self, exc: Exception) -> None:
        waiters, self.waiters = self.waiters, {}
        for handle, fut in waiters.items():
            if self.client is not None:
                self.client.cancel(handle)
            if not fut.done():
                fut.set_exception(exc)


class UdpTrackerConnection:
    """One UDP socket to one tracker, reusable for many requests (BEP 15 connection ids
    are kept for a minute). Use as a context manager; not safe across event loops."""

    def __init__(self, url: str, protocol: _UdpProtocol, transport: asyncio.DatagramTransport):
        self.url = url
        self._protocol = protocol
        self._transport = transport

    @classmethod
    async def open(
        cls, url: str, *, retransmit_base: float = 15.0, max_retries: int = 8,
        rng: random.Random | None = None, local_host: str | None = None,
    ) -> UdpTrackerConnection:  # fmt: skip
        """Resolve the tracker and open a connected UDP socket to it.

        Raises:
            TrackerUnreachable: the URL has no host or port, or the host does not resolve.
        """
        where = f"tracker {_display(url)}"
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError as e:
            raise TrackerUnreachable(f"{where}: invalid URL ({e})") from None
        if not host or not port:
            raise TrackerUnreachable(f"{where}: a udp:// tracker URL needs a host and a port")
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(_display(url)),
                remote_addr=(host, port),
                local_addr=(local_host, 0) if local_host else None,
            )
        except OSError as e:
            raise TrackerUnreachable(f"{where}: cannot connect: {_os_text(e)}") from None
        peer = transport.get_extra_info("peername")
        # BEP 41: the path and query travel as the announce's URLData option.
        request = parts.path + (f"?{parts.query}" if parts.query else "")
        protocol.client = UdpTrackerClient(
            (str(peer[0]), int(peer[1])),
            rng=rng or random.SystemRandom(),
            request_string=b"" if request in ("", "/") else request.encode(),
            retransmit_base=retransmit_base,
            max_retries=max_retries,
        )
        return cls(url, protocol, transport)

    async def announce(self, req: AnnounceRequest) -> AnnounceResponse:
        """Announce and wait for the reply (bound it with `asyncio.timeout`)."""
        client = self._client()
        ev = await self._await(client.announce(req, now=self._protocol.loop.time()))
        assert isinstance(ev, AnnounceDone)
        return ev.response

    async def scrape(self, info_hashes: Iterable[bytes]) -> dict[bytes, ScrapeStats]:
        """Scrape any number of hashes, 74 to a datagram, all in flight at once."""
        client = self._client()
        hashes = list(info_hashes)
        now = self._protocol.loop.time()
        handles = [
            client.scrape(hashes[i : i + MAX_SCRAPE_HASHES], now=now)
            for i in range(0, len(hashes), MAX_SCRAPE_HASHES)
        ]
        out: dict[bytes, ScrapeStats] = {}
        for ev in await asyncio.gather(*(self._await(h) for h in handles)):
            assert isinstance(ev, ScrapeDone)
            out.update(ev.response.files)
        return out

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> UdpTrackerConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> UdpTrackerClient:
        if self._transport.is_closing() or self._protocol.client is None:
            raise TrackerUnreachable(f"tracker {_display(self.url)}: connection is closed")
        return self._protocol.client

    async def _await(self, handle: int) -> AnnounceDone | ScrapeDone:
        fut = self._protocol.wait(handle)
        try:
            return await fut
        finally:
            if not fut.done() and self._protocol.client is not None:
                self._protocol.client.cancel(handle)  # cancelled from outside (timeout)
                self._protocol.waiters.pop(handle, None)
            self._protocol.pump()
