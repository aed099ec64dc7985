"""The web UI's JSON API under /api/ui/: a thin translation onto the `DaemonApi`.

Every handler reads the daemon as `request.app[API_KEY]`, checks the shape of what the page
sent (a wrong type is a 400 with a sentence, never a 500), and answers JSON. Errors are
`{"error": "..."}`: 404 for an unknown torrent, 400 for a request the daemon refused.
The session-id check (CSRF) and authentication are the application's middleware's work
(daemon/http_app.py), before any of this runs.

    GET  /api/ui/session                 version, session totals, settings
    POST /api/ui/session                 {"changes": {setting: value}} (may be empty)
    GET  /api/ui/torrents                every row (as the event stream's snapshot)
    POST /api/ui/torrents                add: multipart (torrent files, magnet, url,
                                         download_dir, paused) or the same as JSON
    GET  /api/ui/torrents/{ref}          one torrent, everything
    GET  /api/ui/torrents/{ref}/files    .../peers  .../trackers  .../pieces
    POST /api/ui/torrents/{ref}/files    {"priorities": {index: 0..7}}
    POST /api/ui/torrents/{ref}/options  {"changes": {TorrentOptions field: value}}
    POST /api/ui/actions/{action}        {"ids": [...]}: start (force), stop, verify,
                                         reannounce, remove (delete_data)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from ..version import __version__
from .api import AddRequest, DaemonApi, TorrentRef
from .appkeys import API_KEY
from .model import DaemonError, LimitMode, UnknownTorrent
from .settings import DaemonSettings
from .webui_rows import (
    HIDDEN_SETTINGS,
    Json,
    file_json,
    peer_json,
    pieces_json,
    settings_json,
    stats_json,
    torrent_detail,
    torrent_row,
    tracker_json,
)

__all__ = ["OPTION_TYPES", "add_api_routes"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# What the page may change on a torrent through `set_options`, and the JSON type of each.
OPTION_TYPES: dict[str, type] = {
    "labels": list,
    "category": str,
    "upload_limit": int,
    "upload_limited": bool,
    "download_limit": int,
    "download_limited": bool,
    "honors_session_limits": bool,
    "seed_ratio_mode": int,
    "seed_ratio_limit": float,
    "seed_idle_mode": int,
    "seed_idle_limit": int,
    "peer_limit": int,
    "bandwidth_priority": int,
    "sequential": bool,
    "extra_trackers": list,
}
_MODES = ("seed_ratio_mode", "seed_idle_mode")
_MAX_TORRENT_FILE = 16 * 2**20


class BadRequest(Exception):
    """What the page sent does not make sense; the message says why."""


def _reply(data: Json, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _guard(handler: Handler) -> Handler:
    """Turn the daemon's refusals into JSON replies with the right status."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except UnknownTorrent as exc:
            return _reply({"error": str(exc) or "no such torrent"}, 404)
        except (DaemonError, BadRequest) as exc:
            return _reply({"error": str(exc)}, 400)

    return guarded


def _api(request: web.Request) -> DaemonApi:
    return request.app[API_KEY]


def _ref(request: web.Request) -> TorrentRef:
    raw = request.match_info["ref"]
    if raw.isdigit() and len(raw) < 12:
        return int(raw)
    if len(raw) == 40 and all(c in "0123456789abcdefABCDEF" for c in raw):
        return raw
    raise UnknownTorrent(f"no torrent {raw!r}")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _typed(name: str, value: object, kind: type) -> object:
    """`value` if it is a JSON `kind` (an int is a float too; a bool is not an int)."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise BadRequest(f"{name} must be a list of strings")
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise BadRequest(f"{name} must be {kind.__name__}")


# ---------------------------------------------------------------------- session
def _session(api: DaemonApi) -> Json:
    return {
        "version": __version__,
        "stats": stats_json(api.stats()),
        "settings": settings_json(api.settings),
    }


async def get_session(request: web.Request) -> web.Response:
    return _reply(_session(_api(request)))


async def set_session(request: web.Request) -> web.Response:
    api = _api(request)
    changes = (await _json_body(request)).get("changes")
    if not isinstance(changes, dict):
        raise BadRequest("changes must be an object of setting names to values")
    defaults = DaemonSettings()
    checked: dict[str, object] = {}
    for name, value in changes.items():
        if name in HIDDEN_SETTINGS or not hasattr(defaults, name):
            raise BadRequest(f"no setting {name!r}")
        checked[name] = _typed(name, value, type(getattr(defaults, name)))
    if checked:  # an empty change is the page's first POST: its session-id handshake
        await api.set_settings(checked, remote=True)
    return _reply(_session(api))


# ---------------------------------------------------------------------- torrents
async def list_torrents(request: web.Request) -> web.Response:
    return _reply({"rows": [torrent_row(v) for v in _api(request).torrents()]})


async def get_torrent(request: web.Request) -> web.Response:
    return _reply(torrent_detail(_api(request).view(_ref(request))))


async def get_files(request: web.Request) -> web.Response:
    return _reply({"files": [file_json(f) for f in _api(request).files(_ref(request))]})


async def get_peers(request: web.Request) -> web.Response:
    return _reply({"peers": [peer_json(p) for p in _api(request).peers(_ref(request))]})


async def get_trackers(request: web.Request) -> web.Response:
    rows = [tracker_json(t) for t in _api(request).trackers(_ref(request))]
    return _reply({"trackers": rows})


async def get_pieces(request: web.Request) -> web.Response:
    api, ref = _api(request), _ref(request)
    return _reply(pieces_json(api.pieces(ref), api.view(ref).piece_count))


async def set_files(request: web.Request) -> web.Response:
    api, ref = _api(request), _ref(request)
    raw = (await _json_body(request)).get("priorities")
    if not isinstance(raw, dict):
        raise BadRequest("priorities must be an object of file index to 0..7")
    priorities: dict[int, int] = {}
    for key, value in raw.items():
        if not (isinstance(key, str) and key.isdigit()):
            raise BadRequest(f"file index {key!r} is not a number")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 7:
            raise BadRequest(f"priority {value!r} is not 0..7")
        priorities[int(key)] = value
    await api.set_file_priorities(ref, priorities)
    return _reply({"files": [file_json(f) for f in api.files(ref)]})


async def set_options(request: web.Request) -> web.Response:
    api, ref = _api(request), _ref(request)
    changes = (await _json_body(request)).get("changes")
    if not isinstance(changes, dict):
        raise BadRequest("changes must be an object of option names to values")
    checked: dict[str, object] = {}
    for name, value in changes.items():
        kind = OPTION_TYPES.get(name)
        if kind is None:
            raise BadRequest(f"no option {name!r} (the page may change {sorted(OPTION_TYPES)})")
        checked[name] = _typed(name, value, kind)
        if name in _MODES:
            try:
                checked[name] = LimitMode(value)
            except ValueError as exc:
                raise BadRequest(f"{name} must be 0, 1 or 2") from exc
    await api.set_options([ref], checked)
    return _reply(torrent_detail(api.view(ref)))


async def action(request: web.Request) -> web.Response:
    api = _api(request)
    body = await _json_body(request)
    ids = body.get("ids")
    if not (isinstance(ids, list) and ids and all(isinstance(i, int | str) for i in ids)):
        raise BadRequest("ids must be a non-empty list of torrent ids")
    refs: list[TorrentRef] = ids
    match request.match_info["action"]:
        case "start":
            await api.start(refs, force=body.get("force") is True)
        case "stop":
            await api.stop(refs)
        case "verify":
            await api.verify(refs)
        case "reannounce":
            await api.reannounce(refs)
        case "remove":
            await api.remove(refs, delete_data=body.get("delete_data") is True)
        case other:
            return _reply({"error": f"no action {other!r}"}, 404)
    return _reply({"ok": True})


# ---------------------------------------------------------------------- adding
async def _read_part(part: BodyPartReader) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > _MAX_TORRENT_FILE:
            raise BadRequest("a .torrent file larger than 16 MiB is not one")
    return bytes(data)


async def _add_form(request: web.Request) -> list[AddRequest]:
    """The requests in a multipart form (several files may come at once)."""
    fields: dict[str, str] = {}
    files: list[bytes] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart bodies are not supported")
        if part.name == "torrent":
            files.append(await _read_part(part))
        elif part.name in ("magnet", "url", "download_dir", "paused"):
            fields[part.name] = (await _read_part(part)).decode("utf-8", "replace").strip()
    common: Json = {
        "download_dir": fields.get("download_dir") or None,
        "paused": fields.get("paused") in ("1", "true", "on"),
    }
    requests = [AddRequest(torrent=data, **common) for data in files if data]
    link = fields.get("magnet") or fields.get("url")
    if link:
        requests.append(_link_request(link, common))
    return requests


def _link_request(link: str, common: Json) -> AddRequest:
    if link.startswith("magnet:"):
        return AddRequest(magnet=link, **common)
    if link.startswith(("http://", "https://")):
        return AddRequest(url=link, **common)
    raise BadRequest("a link must be a magnet: URI or an http(s):// address")


async def _add_json(request: web.Request) -> list[AddRequest]:
    body = await _json_body(request)
    download_dir = body.get("download_dir") or None
    if download_dir is not None and not isinstance(download_dir, str):
        raise BadRequest("download_dir must be a string")
    common: Json = {"download_dir": download_dir, "paused": body.get("paused") is True}
    requests: list[AddRequest] = []
    if isinstance(body.get("torrent"), str):
        try:
            data = base64.b64decode(body["torrent"], validate=True)
        except binascii.Error as exc:
            raise BadRequest("torrent must be the .torrent file in base64") from exc
        requests.append(AddRequest(torrent=data, **common))
    links = [body[k].strip() for k in ("magnet", "url") if isinstance(body.get(k), str)]
    requests.extend(_link_request(link, common) for link in links if link)
    return requests


async def add_torrents(request: web.Request) -> web.Response:
    api = _api(request)
    if request.content_type.startswith("multipart/"):
        requests = await _add_form(request)
    else:
        requests = await _add_json(request)
    if not requests:
        raise BadRequest("give a .torrent file, a magnet link or a URL")
    added: list[Json] = []
    errors: list[str] = []
    for add in requests:
        try:
            result = await api.add(add)
        except DaemonError as exc:
            errors.append(str(exc))
            continue
        added.append({**torrent_row(result.view), "duplicate": result.duplicate})
    status = 200 if added else 400
    reply: Json = {"added": added, "errors": errors}
    if not added:
        reply["error"] = "; ".join(errors)
    return _reply(reply, status)


def add_api_routes(app: web.Application) -> None:
    """The JSON routes (not the event stream: daemon/webui_events.py)."""
    r = app.router
    r.add_get("/api/ui/session", _guard(get_session))
    r.add_post("/api/ui/session", _guard(set_session))
    r.add_get("/api/ui/torrents", _guard(list_torrents))
    r.add_post("/api/ui/torrents", _guard(add_torrents))
    r.add_get("/api/ui/torrents/{ref}", _guard(get_torrent))
    r.add_get("/api/ui/torrents/{ref}/files", _guard(get_files))
    r.add_post("/api/ui/torrents/{ref}/files", _guard(set_files))
    r.add_get("/api/ui/torrents/{ref}/peers", _guard(get_peers))
    r.add_get("/api/ui/torrents/{ref}/trackers", _guard(get_trackers))
    r.add_get("/api/ui/torrents/{ref}/pieces", _guard(get_pieces))
    r.add_post("/api/ui/torrents/{ref}/options", _guard(set_options))
    r.add_post("/api/ui/actions/{action}", _guard(action))
