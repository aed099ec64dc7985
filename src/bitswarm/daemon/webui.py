"""bitswarm's own web UI: the page at `/`, its files under `/ui/`, its API under `/api/ui/`.

The page is plain JavaScript in daemon/web/ (no build step; shipped as package data). Its
files are read once, when the routes are added, into a table keyed by name: a request
names a key or gets a 404, so no path a browser sends ever reaches the file system (no
`..`, no encoded slash, no symlink followed: symlinks in the folder are not served at all).
`index.html` names every asset with `?v=<hash of the asset>`, so the assets can be cached
for a long time and a new version is still fetched at once; the page itself is revalidated
on every load. The JSON API is daemon/webui_api.py, the live updates daemon/webui_events.py.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from . import webui_events
from .webui_api import add_api_routes

__all__ = ["WEB_ROOT", "StaticFile", "add_routes", "load_assets"]

WEB_ROOT = Path(__file__).with_name("web")

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}

# The page runs only its own scripts and styles, talks only to this origin, and cannot be
# framed (clickjacking the remove button).
_SECURITY = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_ASSET_CACHE = "public, max-age=604800"  # a week: the ?v= in index.html changes with the file
_PAGE_CACHE = "no-cache"  # revalidate each load (ETag), so a new version shows at once


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def _static(body: bytes, name: str) -> StaticFile:
    suffix = os.path.splitext(name)[1]
    kind = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StaticFile(body, kind, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def load_assets(root: Path = WEB_ROOT) -> dict[str, StaticFile]:
    """Every regular file directly in `root` (not symlinks, not subfolders), by name, and
    "index.html" with its asset references versioned."""
    assets: dict[str, StaticFile] = {}
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                with open(entry.path, "rb") as f:
                    assets[entry.name] = _static(f.read(), entry.name)
    page = assets.pop("index.html", None)
    if page is not None:
        text = page.body.decode("utf-8")
        for name, asset in assets.items():
            text = text.replace(f'"/ui/{name}"', f'"/ui/{name}?v={asset.etag.strip(chr(34))}"')
        assets["index.html"] = _static(text.encode("utf-8"), "index.html")
    return assets


def _not_found() -> web.Response:
    return web.json_response({"error": "not found"}, status=404, headers=_SECURITY)


def _serve(request: web.Request, asset: StaticFile, cache: str) -> web.Response:
    headers = {**_SECURITY, "ETag": asset.etag, "Cache-Control": cache}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=asset.body, headers=headers)
    response.headers["Content-Type"] = asset.content_type
    if asset.content_type.startswith("text/") and len(asset.body) > 1024:
        response.enable_compression()
    return response


def add_routes(app: web.Application) -> None:
    """The page, its assets, its JSON API and its event stream."""
    assets = load_assets()

    async def index(request: web.Request) -> web.Response:
        page = assets.get("index.html")
        return _not_found() if page is None else _serve(request, page, _PAGE_CACHE)

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        found = assets.get(name) if name != "index.html" else None
        return _not_found() if found is None else _serve(request, found, _ASSET_CACHE)

    async def icon(request: web.Request) -> web.Response:
        found = assets.get("icon.svg")
        return _not_found() if found is None else _serve(request, found, _ASSET_CACHE)

    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", icon)
    # {name:.*}: everything under /ui/ reaches `asset`, which answers a 404 in JSON for
    # anything not in the table (a slash, a dot-dot, an encoded byte: none is a key).
    app.router.add_get("/ui/{name:.*}", asset)
    add_api_routes(app)
    webui_events.install(app)
