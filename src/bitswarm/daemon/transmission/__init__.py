"""Transmission's RPC at /transmission/rpc, and Transmission's web client at /transmission/web/.

Both protocols of the spec (../shared/specs: the legacy one of Transmission <= 4.0 and
4.1's JSON-RPC 2.0) are answered on one URL, decided per request (`protocol`); every
method translates to the `DaemonApi` (`torrents`, `methods`, `session`, `fields`). The
lead's middleware (daemon/http_app.py) does the Host check, Basic auth, body limits and
the X-Transmission-Session-Id handshake before a request gets here.

Layout: names (the two spellings, error codes) < call (a request's arguments, ids) <
fields / session (the tables) < torrents < methods < protocol (the envelope) < this
module (the HTTP routes) ; webclient serves the installed web client.
"""

from __future__ import annotations

import json
import secrets
import time

from aiohttp import web

from ..appkeys import API_KEY, SESSION_ID_KEY
from .call import ActivityMemory
from .protocol import execute
from .webclient import web_file, web_redirect

__all__ = ["MEMORY_KEY", "add_routes"]

MEMORY_KEY = web.AppKey("transmission_memory", ActivityMemory)
SESSION_HEADER = "X-Transmission-Session-Id"
RPC_VERSION_HEADER = "X-Transmission-Rpc-Version"


async def rpc_post(request: web.Request) -> web.StreamResponse:
    # The guard (http_app.py) checks the session id on /transmission/rpc; this handler also
    # answers /transmission/rpc/ (transmission-remote 3.00's default URL), so it checks too.
    expected = request.app.get(SESSION_ID_KEY)
    given = request.headers.get(SESSION_HEADER)
    if expected is not None and (given is None or not secrets.compare_digest(given, expected)):
        return web.json_response(
            {"error": f"send the header {SESSION_HEADER} from this reply"},
            status=409,
            headers={SESSION_HEADER: expected, RPC_VERSION_HEADER: "6.0.0"},
        )
    body = await request.read()
    reply = await execute(
        request.app[API_KEY],
        request.app[MEMORY_KEY],
        body,
        session_id=expected or given or "",
        now=time.time(),
    )
    if reply.body is None:
        return web.Response(status=204)
    return web.Response(
        status=reply.status,
        text=json.dumps(reply.body, separators=(",", ":")),
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


async def rpc_get(request: web.Request) -> web.StreamResponse:
    return web.json_response(
        {"error": "the Transmission RPC answers POST requests only"},
        status=405,
        headers={"Allow": "POST"},
    )


def add_routes(app: web.Application) -> None:
    """Register /transmission/rpc and /transmission/web/ on the daemon's application."""
    app[MEMORY_KEY] = ActivityMemory()
    for path in ("/transmission/rpc", "/transmission/rpc/"):  # 3.00's remote adds the slash
        app.router.add_post(path, rpc_post)
        app.router.add_get(path, rpc_get)
    app.router.add_get("/transmission", web_redirect)
    app.router.add_get("/transmission/", web_redirect)
    app.router.add_get("/transmission/web", web_redirect)
    app.router.add_get("/transmission/web/", web_file)
    app.router.add_get("/transmission/web/{path:.+}", web_file)
