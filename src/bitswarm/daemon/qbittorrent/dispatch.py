"""One aiohttp handler for every `/api/v2/{scope}/{action}`, in qBittorrent's order.

Order (qBittorrent 5.0, WebApplication::processRequest / processAPIRequest): the CSRF
check (401), the session (403 without one, except for `auth/login`), the endpoint (404
when qBittorrent has no such thing; 405 with a sentence when qBittorrent has it and
bitswarm does not), the method (405 when an action that changes things is not a POST),
then the handler. A handler's `QbtError` is its reply; the `DaemonApi`'s errors become
404 (`UnknownTorrent`) and 409 with the daemon's sentence (`DaemonError`). Nothing else
is expected; a bug becomes a plain 500 without a traceback, logged here.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..appkeys import API_KEY
from ..model import DaemonError, UnknownTorrent
from . import (
    gate,
    routes_add,
    routes_app,
    routes_labels,
    routes_sync,
    routes_torrents,
    routes_torrents_set,
)
from .protocol import Call, Params, QbtError, Route, not_found, unsupported
from .state import QBT_KEY

__all__ = ["ROUTES", "handle"]

log = logging.getLogger(__name__)

ROUTES: dict[str, Route] = {}
for _table in (
    gate.ROUTES,
    routes_add.ROUTES,
    routes_app.ROUTES,
    routes_labels.ROUTES,
    routes_sync.ROUTES,
    routes_torrents.ROUTES,
    routes_torrents_set.ROUTES,
):
    assert not ROUTES.keys() & _table.keys()
    ROUTES.update(_table)

# qBittorrent 5.0 endpoints that bitswarm has no counterpart for: a clear 405, not a 404.
_UNSUPPORTED = {
    "app/sendTestEmail": "there is no e-mail notification",
    "app/getDirectoryContent": "browsing the server's folders is not offered",
    "app/networkInterfaceList": "the peer side binds by address (listen_host)",
    "app/networkInterfaceAddressList": "the peer side binds by address (listen_host)",
    "app/cookies": "there is no URL cookie store",
    "app/setCookies": "there is no URL cookie store",
    "torrents/pieceHashes": "the DaemonApi does not hand out piece hashes",
    "torrents/export": "the DaemonApi does not hand out .torrent files",
    "torrents/editTracker": "remove the tracker and add the new one",
    "torrents/addPeers": "peers cannot be added by hand",
    "torrents/setAutoManagement": "there is no automatic torrent management",
    "torrents/setSuperSeeding": "there is no super-seeding",
    "torrents/toggleFirstLastPiecePrio": "there is no first/last piece priority",
    "torrents/setDownloadPath": "the incomplete folder is a daemon setting (temp_path)",
    "torrents/SSLParameters": "there are no SSL torrents",
    "torrents/setSSLParameters": "there are no SSL torrents",
    "transfer/banPeers": "peers are banned through the IP blocklist",
}
_UNSUPPORTED_SCOPES = {
    "log": "the daemon logs to its standard error (journald)",
    "rss": "there is no RSS reader",
    "search": "there is no search engine",
    "torrentcreator": "create torrents with `bitswarm create`",
    "clientdata": "there is no client data store",
}


async def handle(request: web.Request) -> web.StreamResponse:
    try:
        return await _handle(request)
    except QbtError as e:
        return e.response()
    except Exception:  # a bug: say so plainly, never with a traceback
        log.exception("qBittorrent API %s %s", request.method, request.path)
        return QbtError(500).response()


async def _handle(request: web.Request) -> web.StreamResponse:
    if gate.cross_site(request):
        raise QbtError(401)
    state = request.app[QBT_KEY]
    scope = request.match_info.get("scope", "")
    action = request.match_info.get("action", "")
    name = f"{scope}/{action}"
    session = gate.find_session(request, state)
    if session is None:
        if name != "auth/login":
            raise QbtError(403)
        if request.method != "POST":
            raise QbtError(405)
        return await gate.login(request, state, dict((await _params(request)).values))
    try:
        route = _route(name, scope)
        if route.post_only and request.method != "POST":
            raise QbtError(405)
        if request.method not in ("GET", "HEAD", "POST"):
            raise QbtError(405)
        call = Call(request, request.app[API_KEY], state, session, await _params(request))
        try:
            response = await route.handler(call)
        except UnknownTorrent as e:
            raise not_found() from e
        except DaemonError as e:
            raise QbtError(409, str(e)) from e
    except QbtError as e:
        response = e.response()
    if session.new:
        gate.set_cookie(response, session)
        session.new = False
    return response


def _route(name: str, scope: str) -> Route:
    route = ROUTES.get(name)
    if route is not None:
        return route
    if name in _UNSUPPORTED:
        raise unsupported(name, _UNSUPPORTED[name])
    if scope in _UNSUPPORTED_SCOPES:
        raise unsupported(f"{scope}/*", _UNSUPPORTED_SCOPES[scope])
    raise not_found()


async def _params(request: web.Request) -> Params:
    """GET/HEAD: the query; POST: the query, then the form (urlencoded or multipart)."""
    values = dict(request.query)
    files: list[tuple[str, bytes]] = []
    if request.method == "POST" and request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files.append((value.filename or key, value.file.read()))
            elif isinstance(value, str):
                values[key] = value
            else:
                values[key] = bytes(value).decode("utf-8", "replace")
    return Params(values, files)
