"""The web UI's live updates: Server-Sent Events at GET /api/ui/events.

Rules:
- One `EventHub` per application polls the `DaemonApi` once a second, but only while at
  least one page listens (an idle daemon with a thousand torrents does no work for us).
- A page that connects gets a whole snapshot first, then, every second, only what changed
  since the hub's previous state (`diff_rows`: changed fields per torrent, new rows,
  removed ids) and the session totals when they moved. The snapshot is the hub's state, so
  the diffs that follow apply to exactly what the page holds.
- Every client has a bounded queue. A client that cannot keep up (its queue is full, or one
  write takes longer than `write_timeout`) is dropped, never buffered for without end; its
  EventSource reconnects and starts again from a snapshot.
- A comment line every `heartbeat` seconds keeps proxies and the browser from timing out a
  quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .api import DaemonApi
from .appkeys import API_KEY
from .webui_rows import Json, diff_rows, stats_json, torrent_row

__all__ = ["HUB_KEY", "EventHub", "events_handler", "install"]

log = logging.getLogger(__name__)


def _frame(event: str, data: Json) -> bytes:
    body = json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {body}\n\n".encode()


class _Client:
    __slots__ = ("dropped", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=size)
        self.dropped = False


class EventHub:
    """The state the pages were last told, and the queues of the pages listening."""

    def __init__(
        self,
        api: Callable[[], DaemonApi],
        *,
        interval: float = 1.0,
        heartbeat: float = 15.0,
        queue_size: int = 32,
        write_timeout: float = 30.0,
    ) -> None:
        self._api = api
        self.interval = interval
        self.heartbeat = heartbeat
        self.queue_size = queue_size
        self.write_timeout = write_timeout
        self.rows: dict[int, Json] = {}
        self.stats: Json = {}
        self.clients: set[_Client] = set()
        self.dropped = 0  # clients dropped for being slow, since start (for tests and logs)
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the state
    def _read(self) -> tuple[dict[int, Json], Json]:
        api = self._api()
        return {v.id: torrent_row(v) for v in api.torrents()}, stats_json(api.stats())

    def tick(self) -> None:
        """Read the daemon once and send every listener what changed."""
        rows, stats = self._read()
        diff = diff_rows(self.rows, rows)
        message: dict[str, Any] = diff.to_json() if diff else {}
        if stats != self.stats:
            message["stats"] = stats
        self.rows, self.stats = rows, stats
        if message:
            self._broadcast(_frame("diff", message))

    def _broadcast(self, frame: bytes) -> None:
        for client in list(self.clients):
            try:
                client.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.drop(client)

    def drop(self, client: _Client) -> None:
        client.dropped = True
        self.clients.discard(client)
        self.dropped += 1
        log.info("web UI: dropped an event stream that did not keep up")

    # ------------------------------------------------------------------ listeners
    def subscribe(self) -> _Client:
        """A new listener, its queue holding the snapshot; starts the poller if idle."""
        if not self.clients:
            self.rows, self.stats = self._read()  # no one was told anything since
        client = _Client(self.queue_size)
        snapshot = {"rows": list(self.rows.values()), "stats": self.stats}
        client.queue.put_nowait(_frame("snapshot", snapshot))
        self.clients.add(client)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="webui-events")
        return client

    def unsubscribe(self, client: _Client) -> None:
        self.clients.discard(client)

    async def _run(self) -> None:
        while self.clients:
            await asyncio.sleep(self.interval)
            if not self.clients:
                break
            try:
                self.tick()
            except Exception:  # a bad read must not end the stream for every page
                log.exception("web UI: reading the daemon for the event stream failed")

    async def close(self) -> None:
        """End every stream (the application is shutting down)."""
        for client in list(self.clients):
            client.dropped = True
            try:
                client.queue.put_nowait(None)  # wakes a writer waiting for a frame
            except asyncio.QueueFull:
                pass  # its writer is busy writing and sees `dropped` next
        self.clients.clear()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None


HUB_KEY = web.AppKey("webui_hub", EventHub)


async def events_handler(request: web.Request) -> web.StreamResponse:
    """GET /api/ui/events: the stream itself (text/event-stream)."""
    hub = request.app[HUB_KEY]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",  # nginx in front must not hold the stream back
        }
    )
    await response.prepare(request)
    client = hub.subscribe()
    try:
        await response.write(b"retry: 2000\n\n")
        while not client.dropped:
            try:
                frame = await asyncio.wait_for(client.queue.get(), hub.heartbeat)
            except TimeoutError:
                frame = b": ping\n\n"
            if frame is None:
                break
            try:
                await asyncio.wait_for(response.write(frame), hub.write_timeout)
            except TimeoutError:
                hub.drop(client)
    except (ConnectionError, RuntimeError):
        pass  # the page went away (RuntimeError: aiohttp's "cannot write to closing transport")
    finally:
        hub.unsubscribe(client)
    return response


def install(
    app: web.Application,
    *,
    interval: float = 1.0,
    heartbeat: float = 15.0,
    queue_size: int = 32,
    write_timeout: float = 30.0,
) -> EventHub:
    """Give `app` an event hub reading its `API_KEY`, closed when the app shuts down."""

    def api() -> DaemonApi:
        return app[API_KEY]

    hub = EventHub(
        api,
        interval=interval,
        heartbeat=heartbeat,
        queue_size=queue_size,
        write_timeout=write_timeout,
    )
    app[HUB_KEY] = hub

    async def on_shutdown(_app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/api/ui/events", events_handler)
    return hub
