"""Who may call the qBittorrent API: the CSRF check, the session cookie, login and logout.

Rules (qBittorrent 5.0, src/webui/webapplication.cpp and api/authcontroller.cpp):
- CSRF: when a request carries `Origin` (else `Referer`), its host and port must be the
  `Host` header's, else 401. With neither, a browser's `Sec-Fetch-Site` must say
  "same-origin" or "none"; API clients send none of the three and pass.
- A request with a live session's cookie is that session. qBittorrent names the cookie
  `SID` (5.2 renamed it `QBT_SID_<port>`): both are read, `SID` is set.
- Without one: when no password is set and the client is on loopback, a session starts
  at once (qBittorrent's "bypass authentication for clients on localhost"; the daemon
  never listens beyond loopback without a password). Otherwise only `auth/login` may be
  called; everything else is 403 "Forbidden".
- `auth/login` (POST username, password): "Ok." and a new session, or "Fails.", both 200
  as qBittorrent 5.0 replies; 403 with a sentence while the client is locked out after
  repeated failures (the daemon's `Authenticator` counts them). With no password set, a
  client beyond loopback can never log in.
- `auth/logout` ends the session and expires the cookie.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

from ..appkeys import AUTH_KEY
from ..auth import Authenticator
from ..model import DaemonError
from .protocol import Call, QbtError, RouteTable, empty, text_reply
from .state import SESSION_TIMEOUT, QbtState, WebSession

__all__ = ["COOKIE", "ROUTES", "client_ip", "cross_site", "find_session", "set_cookie"]

COOKIE = "SID"
_routes = RouteTable()


def client_ip(request: web.Request) -> str:
    return request.remote or ""


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _authenticator(request: web.Request) -> Authenticator | None:
    return request.app.get(AUTH_KEY)  # always there in the daemon; tests may leave it out


def password_required(request: web.Request) -> bool:
    auth = _authenticator(request)
    return auth is not None and auth.enabled


def _origin(value: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.hostname.lower(), port if port is not None else default


def cross_site(request: web.Request) -> bool:
    """True when the request comes from another site's page (qBittorrent's CSRF test)."""
    origin = request.headers.get("Origin", "")
    referer = request.headers.get("Referer", "")
    if not origin and not referer:
        fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
        return bool(fetch_site) and fetch_site not in ("same-origin", "none")
    source = _origin(origin or referer)
    target = _origin("http://" + request.headers.get("Host", ""))
    if source is None or target is None:
        return True
    # Compare host and port only, as qBittorrent does; a missing port means the
    # scheme's default on each side.
    if source[0] != target[0]:
        return True
    return source[1] != target[1] and not (source[1] in (80, 443) and target[1] in (80, 443))


def _cookie_names(request: web.Request) -> tuple[str, ...]:
    port = request.url.port
    return (COOKIE, f"QBT_SID_{port}") if port else (COOKIE,)


def find_session(request: web.Request, state: QbtState) -> WebSession | None:
    """The caller's session: its cookie's, or a new one for a loopback client when no
    password is set; None when it must log in first."""
    for name in _cookie_names(request):
        sid = request.cookies.get(name)
        if sid:
            session = state.sessions.get(sid)
            if session is not None:
                session.new = False
                return session
    if not password_required(request) and _is_loopback(client_ip(request)):
        return state.sessions.start()
    return None


def set_cookie(response: web.StreamResponse, session: WebSession) -> None:
    response.set_cookie(
        COOKIE,
        session.sid,
        path="/",
        httponly=True,
        samesite="Lax",
        max_age=int(SESSION_TIMEOUT),
    )


async def login(request: web.Request, state: QbtState, form: dict[str, str]) -> web.Response:
    """`auth/login`, called with no session (a caller with one gets "Ok." at once)."""
    auth = _authenticator(request)
    if auth is None or not auth.enabled:
        return text_reply("Fails.")
    ip = client_ip(request)
    try:
        # Off the loop, one check at a time (a scrypt check costs tens of milliseconds).
        ok = await auth.verify_async(ip, form.get("username", ""), form.get("password", ""))
    except DaemonError as e:  # locked out after repeated failures
        raise QbtError(403, str(e) or "Forbidden") from e
    if not ok:
        return text_reply("Fails.")
    session = state.sessions.start()
    response = text_reply("Ok.")
    set_cookie(response, session)
    return response


@_routes.post("auth/login")
async def _login_again(call: Call) -> web.StreamResponse:
    # Reached only with a live session: qBittorrent answers "Ok." without checking.
    return text_reply("Ok.")


@_routes.post("auth/logout")
async def _logout(call: Call) -> web.StreamResponse:
    call.state.sessions.end(call.session.sid)
    response = empty()
    response.del_cookie(COOKIE, path="/")
    call.session.new = False  # no new cookie for a session that just ended
    return response


ROUTES = _routes.routes
