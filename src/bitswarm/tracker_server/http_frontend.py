"""The HTTP tracker on aiohttp's low-level server: /announce, /scrape, /metrics, /stats.

Thin: the query goes to `http_codec`, the decision to `TrackerService`, and bytes come
back. aiohttp's router and middleware are skipped (`web_server.Server` hands us every
request), since a tracker has four paths and per-request overhead is what limits it.

Paths follow the BEP 48 convention: a last path component that starts with ``announce``
announces and one that starts with ``scrape`` scrapes, so ``/announce``,
``/announce.php`` and ``/<passkey>/announce`` all work. Every tracker error, unknown
path and wrong method included, is a bencoded ``failure reason`` (BEP 3), never an HTML
page; protocol refusals use status 200, which every client reads.
"""

from __future__ import annotations

import asyncio
import html
import logging
import socket
import time
from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.web_server import Server

from ..tracker.announce import AnnounceEvent
from .config import RequestRefused
from .http_codec import (
    MAX_QUERY_BYTES,
    client_address,
    encode_announce,
    encode_failure,
    encode_scrape,
    parse_announce,
    parse_query,
    parse_scrape,
)
from .metrics import Snapshot, render
from .service import TrackerService

__all__ = ["HttpFrontend"]

log = logging.getLogger("bitswarm.tracker.http")
_TEXT = "text/plain"


class HttpFrontend:
    """Serves one listening socket. `snapshot` gives the (merged) metrics for /metrics."""

    def __init__(
        self,
        service: TrackerService,
        *,
        snapshot: Callable[[], Snapshot] | None = None,
        gauges: Callable[[], Mapping[str, float]] | None = None,
    ) -> None:
        self.service = service
        self._snapshot = snapshot or service.metrics.snapshot
        self._gauges = gauges or dict
        # Request lines up to 32 KiB reach us, so an over-long query (16 KiB) is refused
        # with a bencoded reason; only beyond that does aiohttp answer a plain-text 400.
        self._server = Server(self._handle, access_log=None, handler_cancellation=True,
                              max_line_size=MAX_QUERY_BYTES * 2)  # fmt: skip
        self._started = time.time()
        self._tcp: asyncio.Server | None = None
        self._listen_sock: socket.socket | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serve HTTP on the already bound, listening `sock`."""
        loop = asyncio.get_running_loop()
        self._listen_sock = sock
        self._tcp = await loop.create_server(self._server, sock=sock)

    def bound_socket(self) -> socket.socket | None:
        """The listening socket (its port, when bound to 0)."""
        return self._listen_sock

    async def stop(self) -> None:
        if self._tcp is not None:
            self._tcp.close()
            await self._server.shutdown(1.0)
            await self._tcp.wait_closed()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return _failure("only GET is supported", status=405)
        path, _, query = request.raw_path.partition("?")
        last = path.rsplit("/", 1)[-1]
        try:
            if last.startswith("announce"):
                return await self._announce(request, query)
            if last.startswith("scrape"):
                return await self._scrape(request, query)
        except RequestRefused as exc:
            self.service.metrics.error(exc.kind, "http")
            return _failure(exc.reason)
        except Exception:  # a bug: log it, answer like a tracker, keep serving
            log.exception("internal error", extra={"path": path[:200]})
            self.service.metrics.error("internal", "http")
            return _failure("internal tracker error", status=500)
        if path == "/metrics":
            return await self._metrics()
        if path in ("/stats", "/"):
            return await self._stats()
        self.service.metrics.error("not_found", "http")
        return _failure(f"no such tracker path: {path[:100]}", status=404)

    async def _announce(self, request: web.BaseRequest, query: str) -> web.StreamResponse:
        started = time.perf_counter()
        service = self.service
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_host = str(peer[0]) if peer else ""
        service.admit(peer_host, service.clock())
        q = parse_query(_raw(query))
        ips = q.get(b"ip")
        host = client_address(
            peer_host, request.headers.get("X-Forwarded-For"), ips[0] if ips else None,
            service.config,
        )  # fmt: skip
        ann = parse_announce(q, host, service.config)
        reply = await service.announce(ann)
        no_peer_id = q.get(b"no_peer_id", [b"0"])[0] not in (b"0", b"")
        body = encode_announce(reply, ann, service.config, no_peer_id=no_peer_id)
        event = ann.request.event
        service.metrics.announce(
            "http", event.value if event is not AnnounceEvent.NONE else "none",
            time.perf_counter() - started,
        )  # fmt: skip
        return web.Response(body=body, content_type=_TEXT)

    async def _scrape(self, request: web.BaseRequest, query: str) -> web.StreamResponse:
        started = time.perf_counter()
        service = self.service
        peer = request.transport.get_extra_info("peername") if request.transport else None
        service.admit(str(peer[0]) if peer else "", service.clock())
        hashes = parse_scrape(parse_query(_raw(query)), service.config)
        if hashes is None:
            files = await service.full_scrape()
        else:
            files = dict(zip(hashes, await service.scrape(hashes), strict=True))
        service.metrics.scrape("http", time.perf_counter() - started, full=hashes is None)
        return web.Response(body=encode_scrape(files), content_type=_TEXT)

    async def _metrics(self) -> web.StreamResponse:
        totals = await self.service.totals()
        gauges = {"bitswarm_tracker_whitelist_size": float(len(self.service.whitelist)),
                  **self._gauges()}  # fmt: skip
        text = render(self._snapshot(), totals, gauges)
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip

    async def _stats(self) -> web.StreamResponse:
        totals = await self.service.totals()
        counters = self._snapshot()["counters"]
        announces = sum(v for k, v in counters.items() if "announces_total" in k)
        scrapes = sum(v for k, v in counters.items() if "scrapes_total" in k)
        errors = sum(v for k, v in counters.items() if "errors_total" in k)
        uptime = int(time.time() - self._started)
        rows = [
            ("uptime", f"{uptime // 3600}h {uptime // 60 % 60}m {uptime % 60}s"),
            ("swarms", str(totals.swarms) if totals else "unknown (store unavailable)"),
            ("seeders", str(totals.seeders) if totals else "?"),
            ("leechers", str(totals.leechers) if totals else "?"),
            ("announces", f"{announces:.0f}"),
            ("scrapes", f"{scrapes:.0f}"),
            ("refused or dropped", f"{errors:.0f}"),
            ("private mode", f"{len(self.service.whitelist)} info-hashes"
             if self.service.whitelist.enabled else "off"),
        ]  # fmt: skip
        cells = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
        )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>bitswarm tracker</title>"
            "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:2em}"
            "</style></head><body><h1>bitswarm tracker</h1>"
            f"<table>{cells}</table><p><a href='/metrics'>metrics</a></p></body></html>"
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8")


def _raw(query: str) -> bytes:
    """The query as the client sent it (percent-escapes intact)."""
    return query.encode("utf-8", "surrogateescape")


def _failure(reason: str, *, status: int = 200) -> web.Response:
    return web.Response(body=encode_failure(reason), status=status, content_type=_TEXT)
