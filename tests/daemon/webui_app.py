"""The web UI's routes in the daemon's own aiohttp application, for the tests.

`make_app` builds the application exactly as the daemon does (`build_app`: the Host
allowlist, the session-id check, JSON errors) around a `DaemonApi` of the test's choosing,
with bitswarm's web UI as its one front-end, so the tests see what a browser sees.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bitswarm.daemon.api import DaemonApi
from bitswarm.daemon.auth import Authenticator
from bitswarm.daemon.http_app import SESSION_HEADER, build_app
from bitswarm.daemon.settings import DaemonSettings
from bitswarm.daemon.webui import add_routes
from bitswarm.daemon.webui_events import HUB_KEY

__all__ = ["SESSION_ID", "Client", "make_app", "webui_client"]

SESSION_ID = "test-session-id-0123456789"
Client = TestClient[web.Request, web.Application]


def make_app(api: DaemonApi, *, interval: float = 1.0) -> web.Application:
    settings = DaemonSettings()
    app = build_app(api, settings, Authenticator("", ""), [add_routes], session_id=SESSION_ID)
    app[HUB_KEY].interval = interval
    return app


@contextlib.asynccontextmanager
async def webui_client(api: DaemonApi, *, interval: float = 1.0) -> AsyncIterator[Client]:
    """A client whose requests carry the session id (the handshake is tested apart)."""
    server = TestServer(make_app(api, interval=interval), host="127.0.0.1")
    async with TestClient(server, headers={SESSION_HEADER: SESSION_ID}) as client:
        yield client
