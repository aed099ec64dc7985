"""EmbeddedTracker: the tracker running inside someone else's event loop.

`bitswarm demo` and the tests start one beside their sessions: the same service, store and
HTTP front-end as `bitswarm tracker`, without its process, signals or workers.
"""

from __future__ import annotations

import asyncio
import socket
import time

from .app import bind_socket, make_store
from .config import TrackerConfig
from .http_frontend import HttpFrontend
from .service import TrackerService
from .store import SwarmStore

__all__ = ["EmbeddedTracker"]


class EmbeddedTracker:
    """An in-memory HTTP tracker on `host`; `announce_url` once started."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._store: SwarmStore | None = None
        self._http: HttpFrontend | None = None
        self.announce_url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        loop = asyncio.get_running_loop()
        self._store = make_store("memory", self.config)
        clock = time.time if self._store.wall_clock else loop.time
        service = TrackerService(self.config, self._store, clock=clock)
        self._http = HttpFrontend(service)
        sock = bind_socket((host, port), socket.SOCK_STREAM, reuse_port=False)
        await self._http.start(sock)
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.announce_url = f"http://{shown}:{bound}/announce"
        return self.announce_url

    async def close(self) -> None:
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._store is not None:
            await self._store.close()
            self._store = None
