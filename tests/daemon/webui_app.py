"""The web UI's routes in an aiohttp application for the tests.

Until the lead's application (daemon/http_app.py, with its security middleware) is on
main, `make_app` adds a middleware of its own that does the two things of it the page
depends on: the session-id handshake (409 carrying `X-Transmission-Session-Id`, the id
taken from the header, or for GET /api/ui/events from `session_id` in the query) and JSON
bodies for errors the router raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler

from bitswarm.daemon.api import DaemonApi
from bitswarm.daemon.appkeys import API_KEY
from bitswarm.daemon.webui import add_routes
from bitswarm.daemon.webui_events import HUB_KEY

__all__ = ["SESSION_ID", "make_app", "webui_client"]

SESSION_ID = "test-session-id-0123456789"
_HEADER = "X-Transmission-Session-Id"


@web.middleware
async def _session_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/ui/"):
        given = request.headers.get(_HEADER)
        if request.path == "/api/ui/events" and request.method == "GET":
            given = given or request.query.get("session_id")
        if given != SESSION_ID:
            return web.json_response(
                {"error": "missing or stale session id"}, status=409, headers={_HEADER: SESSION_ID}
            )
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)
    return response


def make_app(api: DaemonApi, *, interval: float = 1.0) -> web.Application:
    app = web.Application(middlewares=[_session_and_errors])
    app[API_KEY] = api
    add_routes(app)
    app[HUB_KEY].interval = interval
    return app


@contextlib.asynccontextmanager
async def webui_client(
    api: DaemonApi, *, interval: float = 1.0
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A client whose requests carry the session id (the handshake is tested apart)."""
    server = TestServer(make_app(api, interval=interval), host="127.0.0.1")
    async with TestClient(server, headers={_HEADER: SESSION_ID}) as client:
        yield client
