"""The qBittorrent WebUI API's conventions: parameters, replies and errors.

Rules (qBittorrent 5.0, src/webui/webapplication.cpp and api/apicontroller.cpp):
- Parameters come from the query string on GET and HEAD, from the form (urlencoded or
  multipart) on POST; files of a multipart body are handed on by their file name.
- A reply is JSON (`application/json`), plain text (`text/plain; charset=UTF-8`), or an
  empty 200 for an action that has nothing to say.
- An error is plain text: the message, or the status's reason phrase when there is none.
  A missing required parameter is 400 "Bad Request"; an unknown torrent 404; a request
  that cannot be carried out 409 with a sentence; a bad torrent file 415.
- Booleans are "true"/"false" in any case; anything else is "not given".
- Torrents are named by their hash (40 hex digits); lists of hashes are joined by "|",
  and the single word "all" means every torrent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from ..api import DaemonApi
    from .state import QbtState, WebSession

__all__ = [
    "Call",
    "Handler",
    "Params",
    "QbtError",
    "Route",
    "RouteTable",
    "bad_params",
    "conflict",
    "empty",
    "json_reply",
    "not_found",
    "text_reply",
    "unsupported",
]

_TEXT = "text/plain"
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


class QbtError(Exception):
    """An error reply: `status` and the plain-text body qBittorrent would send."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or _REASONS.get(status, "Error"))
        self.status = status
        self.text = message or _REASONS.get(status, "Error")

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.text, content_type=_TEXT)


def bad_params(message: str = "") -> QbtError:
    return QbtError(400, message)


def not_found(message: str = "") -> QbtError:
    return QbtError(404, message)


def conflict(message: str) -> QbtError:
    return QbtError(409, message)


def unsupported(what: str, why: str = "") -> QbtError:
    """A qBittorrent endpoint or option that bitswarm does not have (405, never a 500)."""
    return QbtError(405, f"{what} is not supported by bitswarm" + (f": {why}" if why else ""))


def text_reply(text: str) -> web.Response:
    return web.Response(text=text, content_type=_TEXT)


def empty() -> web.Response:
    """What qBittorrent 5.0 sends for an action without a result: 200, no body."""
    return web.Response(status=200, content_type=_TEXT)


def _finite(value: object) -> object:
    # JSON has no NaN or infinity; qBittorrent never sends them either.
    return value if not isinstance(value, float) or math.isfinite(value) else -1


def json_reply(payload: Any) -> web.Response:
    """Compact JSON as Qt's QJsonDocument::Compact writes it."""
    try:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # a NaN or infinity slipped into a float field
        body = json.dumps(_scrub(payload), separators=(",", ":"), ensure_ascii=False)
    return web.Response(body=body.encode(), content_type="application/json")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return _finite(value)


@dataclass(slots=True)
class Params:
    """A request's parameters (query or form) and uploaded files, read the qBittorrent way."""

    values: Mapping[str, str]
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def require(self, *names: str) -> None:
        """qBittorrent's requireParams: every name present, or 400 "Bad Request"."""
        if any(n not in self.values for n in names):
            raise bad_params()

    def bool(self, name: str) -> bool | None:
        value = self.values.get(name, "").strip().lower()
        return True if value == "true" else False if value == "false" else None

    def int(self, name: str) -> int | None:
        try:
            return int(self.values.get(name, "").strip())
        except ValueError:
            return None

    def float(self, name: str) -> float | None:
        try:
            value = float(self.values.get(name, "").strip())
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    def hashes(self, name: str = "hashes") -> list[str] | None:
        """The torrents named: None for "all", else the lower-case hashes."""
        items = [h.strip().lower() for h in self.values.get(name, "").split("|") if h.strip()]
        return None if items == ["all"] else items


@dataclass(slots=True)
class Call:
    """One API call as a handler sees it."""

    request: web.Request
    api: DaemonApi
    state: QbtState
    session: WebSession
    params: Params


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    post_only: bool  # qBittorrent's m_allowedMethod: actions that change things are POST


class RouteTable:
    """The endpoints of one module, by "scope/action" (registered by decorators)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def get(self, *names: str) -> Callable[[Handler], Handler]:
        """Readable with GET, HEAD or POST (qBittorrent's default)."""
        return self._add(names, post_only=False)

    def post(self, *names: str) -> Callable[[Handler], Handler]:
        return self._add(names, post_only=True)

    def _add(self, names: tuple[str, ...], *, post_only: bool) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in names:
                assert name not in self.routes, name
                self.routes[name] = Route(handler, post_only)
            return handler

        return register
