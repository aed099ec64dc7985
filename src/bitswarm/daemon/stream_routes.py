"""GET /stream/<info-hash>/<file index>: a file of a running torrent over HTTP, while it
downloads (the same server as `bitswarm stream`, `streaming/http.py`).

The index counts from 0, as every other daemon API numbers files (`FileView.index`, the
Transmission RPC's `files`, qBittorrent's file ids); `bitswarm stream --file N` counts
from 1 as `bitswarm info` shows files, so file N there is index N-1 here. The web UI links
each file of a torrent to its URL. A `<video>` element cannot send the session-id header,
so this GET is outside the CSRF check (it changes nothing); the Host check and Basic
authentication of `http_app.guard` apply as everywhere. Each request has its own reader,
closed when the response ends or the client leaves.
"""

from __future__ import annotations

from aiohttp import web

from ..streaming.http import serve_file
from .appkeys import API_KEY
from .model import UnknownTorrent

__all__ = ["add_routes", "stream_path"]


def stream_path(info_hash: str, index: int) -> str:
    """The URL path of file `index` (from 0) of the torrent with this info-hash."""
    return f"/stream/{info_hash.lower()}/{index}"


def add_routes(app: web.Application) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        api = request.app[API_KEY]
        ref = request.match_info["hash"]
        index = int(request.match_info["index"])
        try:
            files = api.files(ref)
        except UnknownTorrent:
            raise web.HTTPNotFound(text=f"no torrent {ref}") from None
        if not 0 <= index < len(files):
            raise web.HTTPNotFound(text=f"torrent {ref} has no file {index} (counted from 0)")
        view = files[index]
        # opened only for a body (not for HEAD or 416); DaemonError (not running, a
        # skipped file) before the response starts becomes guard's JSON 400
        return await serve_file(
            request, lambda: api.open_stream(ref, index), name=view.path, size=view.length
        )

    app.router.add_get(r"/stream/{hash:[0-9a-fA-F]{40}}/{index:\d+}", stream)
