"""The daemon's HTTP application and the guard every request passes (L4 front-end).

One aiohttp application serves the Transmission RPC (/transmission/rpc and Transmission's
own web client at /transmission/web/), the qBittorrent WebUI API (/api/v2/) and bitswarm's
web UI (/ and /api/ui/). Before any of them sees a request, `guard` applies the checks
that Transmission's and qBittorrent's CVEs taught (docs/daemon.md, "Security"):

- the Host header must name this machine: an IP literal, `localhost`, or a name in
  `rpc_host_whitelist`; anything else is 421 (DNS rebinding, CVE-2018-5702);
- with a password set, HTTP Basic authentication, with a lockout per client address after
  repeated failures (daemon/auth.py); the qBittorrent API logs in with its own cookie;
- the CSRF token Transmission clients already know: `X-Transmission-Session-Id` on every
  POST to /transmission/rpc and on every /api/ui/ request, a 409 carrying the token
  otherwise (the SSE stream, which cannot send headers, passes it as `session_id`);
- bodies above `rpc_max_body` are 413; every error is JSON; no reply ever carries a
  traceback (an unexpected exception is logged and answered 500 "internal error").
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from .api import DaemonApi
from .appkeys import API_KEY, AUTH_KEY, SESSION_ID_KEY
from .auth import Authenticator, LockedOut
from .model import DaemonError
from .settings import DaemonSettings

__all__ = ["RPC_VERSION_HEADER", "SESSION_HEADER", "build_app", "json_error"]

log = logging.getLogger("bitswarm.daemon.http")

SESSION_HEADER = "X-Transmission-Session-Id"
RPC_VERSION_HEADER = "X-Transmission-Rpc-Version"
RPC_SEMVER = "6.0.0"  # what Transmission 4.1 announces with its 409 (JSON-RPC 2.0 capable)
REALM = 'Basic realm="bitswarm"'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FrontEnd = Callable[[web.Application], None]


def json_error(status: int, message: str, **headers: str) -> web.Response:
    """A JSON error reply: {"error": message}."""
    return web.Response(
        status=status,
        text=json.dumps({"error": message}),
        content_type="application/json",
        headers=headers,
    )


def host_allowed(host_header: str | None, settings: DaemonSettings) -> bool:
    """Whether the Host header names this machine (IP literals and localhost always do)."""
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):  # [IPv6]:port
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    allowed = {"localhost", "localhost.localdomain"}
    allowed.update(name.lower() for name in settings.rpc_host_whitelist)
    if settings.rpc_host not in ("", "0.0.0.0", "::"):
        allowed.add(settings.rpc_host.lower())
    return host in allowed or any(
        name.startswith("*.") and host.endswith(name[1:]) for name in allowed
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _needs_session_id(request: web.Request) -> bool:
    path = request.path
    if path in ("/transmission/rpc", "/transmission/rpc/"):  # transmission-remote adds the /
        return request.method == "POST"
    return path.startswith("/api/ui/")


def make_guard(settings: DaemonSettings) -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if not host_allowed(request.headers.get("Host"), settings):
                return json_error(421, "this daemon does not answer to that Host name")
            length = request.content_length
            if length is not None and length > settings.rpc_max_body:
                return json_error(413, f"request body over {settings.rpc_max_body} bytes")
            auth = request.app[AUTH_KEY]
            if auth.enabled and not request.path.startswith("/api/v2/"):
                creds = _basic_credentials(request.headers.get("Authorization"))
                client = request.remote or "?"
                try:
                    ok = creds is not None and await auth.verify_async(client, *creds)
                except LockedOut as exc:
                    return json_error(403, str(exc))
                if not ok:
                    return json_error(401, "authentication required", **{"WWW-Authenticate": REALM})
            if _needs_session_id(request):
                expected = request.app[SESSION_ID_KEY]
                given = request.headers.get(SESSION_HEADER)
                if given is None and request.path == "/api/ui/events":
                    given = request.query.get("session_id")
                if given is None or not secrets.compare_digest(given, expected):
                    return json_error(
                        409,
                        f"send the header {SESSION_HEADER} from this reply",
                        **{SESSION_HEADER: expected, RPC_VERSION_HEADER: RPC_SEMVER},
                    )
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            message = exc.text if exc.text and not exc.text.startswith("<") else exc.reason
            headers = {
                k: v
                for k, v in exc.headers.items()
                if k.lower() not in ("content-type", "content-length")
            }
            return json_error(exc.status, message or exc.reason, **headers)
        except DaemonError as exc:
            return json_error(400, str(exc))
        except Exception:
            log.exception("internal error answering %s %s", request.method, request.path)
            return json_error(500, "internal error (see the daemon's log)")

    return guard


def build_app(
    api: DaemonApi,
    settings: DaemonSettings,
    auth: Authenticator,
    front_ends: list[FrontEnd],
    *,
    session_id: str | None = None,
) -> web.Application:
    """The application with every front-end's routes, behind `guard`."""
    app = web.Application(middlewares=[make_guard(settings)], client_max_size=settings.rpc_max_body)
    app[API_KEY] = api
    app[AUTH_KEY] = auth
    app[SESSION_ID_KEY] = session_id or secrets.token_urlsafe(24)
    for add_routes in front_ends:
        add_routes(app)
    return app
