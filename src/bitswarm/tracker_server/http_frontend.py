"""The HTTP tracker: /announce, /scrape, /metrics, /stats over `http_server`.

Thin: the query goes to `http_codec`, the decision to `TrackerService`, and bytes come
back. With the in-memory store an announce is answered synchronously, inside the
connection's `data_received`; with Redis the handler returns a coroutine that the
connection awaits.

Paths follow the BEP 48 convention: a last path component that starts with ``announce``
announces and one that starts with ``scrape`` scrapes, so ``/announce``,
``/announce.php`` and ``/<passkey>/announce`` all work. Every tracker error, unknown
path, wrong method and unparsable request included, is a bencoded ``failure reason``
(BEP 3), never an HTML page; protocol refusals use status 200, which every client reads.
"""

from __future__ import annotations

import html
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from ..tracker.announce import AnnounceEvent
from .config import RequestRefused
from .http_codec import (
    client_address,
    encode_announce,
    encode_failure,
    encode_scrape,
    parse_announce,
    parse_query,
    parse_scrape,
)
from .http_server import HttpRequest, HttpResponse, HttpServer
from .metrics import Snapshot, render
from .service import TrackerService
from .store import PeerAnnounce, SwarmReply

__all__ = ["HttpFrontend"]

log = logging.getLogger("bitswarm.tracker.http")
_Reply = HttpResponse | Awaitable[HttpResponse]


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
        self._server = HttpServer(self._handle, self._error)
        self._started = time.time()
        self._listen_sock: socket.socket | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serve HTTP on the already bound, listening `sock`."""
        self._listen_sock = sock
        await self._server.start(sock)

    def bound_socket(self) -> socket.socket | None:
        """The listening socket (its port, when bound to 0)."""
        return self._listen_sock

    async def stop(self) -> None:
        await self._server.stop()

    def _error(self, status: int, reason: str) -> HttpResponse:
        self.service.metrics.error("malformed" if status < 500 else "internal", "http")
        return _failure(reason, status=status)

    def _handle(self, request: HttpRequest) -> _Reply:
        if request.method not in ("GET", "HEAD"):
            return _failure("only GET is supported", status=405)
        path = request.path
        last = path.rsplit("/", 1)[-1]
        try:
            if last.startswith("announce"):
                return self._announce(request)
            if last.startswith("scrape"):
                return self._guard(self._scrape(request))
        except RequestRefused as exc:
            self.service.metrics.error(exc.kind, "http")
            return _failure(exc.reason)
        except Exception:  # a bug: log it, answer like a tracker, keep serving
            log.exception("internal error", extra={"path": path[:200]})
            self.service.metrics.error("internal", "http")
            return _failure("internal tracker error", status=500)
        if path == "/metrics":
            return self._metrics()
        if path in ("/stats", "/"):
            return self._stats()
        self.service.metrics.error("not_found", "http")
        return _failure(f"no such tracker path: {path[:100]}", status=404)

    async def _guard(self, pending: Coroutine[Any, Any, HttpResponse]) -> HttpResponse:
        """Await a handler, turning refusals and bugs into bencoded failures."""
        try:
            return await pending
        except RequestRefused as exc:
            self.service.metrics.error(exc.kind, "http")
            return _failure(exc.reason)
        except Exception:
            log.exception("internal error")
            self.service.metrics.error("internal", "http")
            return _failure("internal tracker error", status=500)

    def _announce(self, request: HttpRequest) -> _Reply:
        started = time.perf_counter()
        service = self.service
        service.admit(request.peer_host, service.clock())
        q = parse_query(request.query)
        ips = q.get(b"ip")
        xff = request.headers.get(b"x-forwarded-for")
        host = client_address(
            request.peer_host, xff.decode("latin-1") if xff else None, ips[0] if ips else None,
            service.config,
        )  # fmt: skip
        ann = parse_announce(q, host, service.config)
        no_peer_id = q.get(b"no_peer_id", [b"0"])[0] not in (b"0", b"")
        local = service.sync_for(ann.request.info_hash)
        if local is not None:
            reply = service.announce_now(ann, local)
            return self._announce_reply(ann, reply, no_peer_id, started)
        return self._guard(self._announce_later(ann, no_peer_id, started))

    async def _announce_later(self, ann: PeerAnnounce, no_peer_id: bool,
                              started: float) -> HttpResponse:  # fmt: skip
        reply = await self.service.announce(ann)
        return self._announce_reply(ann, reply, no_peer_id, started)

    def _announce_reply(self, ann: PeerAnnounce, reply: SwarmReply, no_peer_id: bool,
                        started: float) -> HttpResponse:  # fmt: skip
        body = encode_announce(reply, ann, self.service.config, no_peer_id=no_peer_id)
        event = ann.request.event
        self.service.metrics.announce(
            "http", event.value if event is not AnnounceEvent.NONE else "none",
            time.perf_counter() - started,
        )  # fmt: skip
        return HttpResponse(200, body)

    async def _scrape(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        service = self.service
        service.admit(request.peer_host, service.clock())
        hashes = parse_scrape(parse_query(request.query), service.config)
        if hashes is None:
            files = await service.full_scrape()
        else:
            files = dict(zip(hashes, await service.scrape(hashes), strict=True))
        service.metrics.scrape("http", time.perf_counter() - started, full=hashes is None)
        return HttpResponse(200, encode_scrape(files))

    async def _metrics(self) -> HttpResponse:
        totals = await self.service.totals()
        gauges = {"bitswarm_tracker_whitelist_size": float(len(self.service.whitelist)),
                  **self._gauges()}  # fmt: skip
        text = render(self._snapshot(), totals, gauges)
        return HttpResponse(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")

    async def _stats(self) -> HttpResponse:
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
        return HttpResponse(200, page.encode(), "text/html; charset=utf-8")


def _failure(reason: str, *, status: int = 200) -> HttpResponse:
    return HttpResponse(status, encode_failure(reason))
