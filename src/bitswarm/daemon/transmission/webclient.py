"""Transmission's own web client, served read-only from where the system installed it.

Rules:
- The files are not bitswarm's: Debian's `transmission-common` installs them (the 3.00
  jQuery client in /usr/share/transmission/web; Transmission 4 names the folder
  public_html). The folder is looked up at each request, `TRANSMISSION_WEB_HOME` first,
  as Transmission itself does; nothing is copied into bitswarm.
- The client POSTs its RPC to "../rpc", so it must be reached as /transmission/web/
  (with the slash); /transmission and /transmission/web redirect there.
- A request path is split on "/", and "..", ".", empty and NUL-bearing parts are
  refused before the file system is asked; the resolved file must still lie inside the
  folder (a symlink may point only into the folder or into Debian's shared
  /usr/share/javascript). Anything else is a JSON 404: no listing, no path in the reply.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web

__all__ = ["find_web_root", "resolve_web_file", "web_file", "web_redirect"]

_CANDIDATES = (
    "/usr/share/transmission/web",
    "/usr/share/transmission/public_html",
    "/usr/local/share/transmission/web",
    "/usr/local/share/transmission/public_html",
)
_SHARED_JS = "/usr/share/javascript"
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "Cache-Control": "no-cache",
}


def find_web_root() -> Path | None:
    """The installed web client's folder (one holding index.html), or None."""
    override = os.environ.get("TRANSMISSION_WEB_HOME")
    for candidate in ((override,) if override else ()) + _CANDIDATES:
        if os.path.isfile(os.path.join(candidate, "index.html")):
            return Path(candidate)
    return None


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def resolve_web_file(root: Path, relative: str) -> Path | None:
    """The file `relative` names under `root`, or None when it is missing or not allowed."""
    parts = relative.split("/") if relative else ["index.html"]
    if parts[-1] == "":
        parts[-1] = "index.html"
    for part in parts:
        if part in ("", ".", "..") or "\x00" in part or "\\" in part:
            return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *parts))
    if not (_inside(real, real_root) or _inside(real, _SHARED_JS)):
        return None
    if not os.path.isfile(real):
        return None
    return Path(real)


async def web_file(request: web.Request) -> web.StreamResponse:
    root = find_web_root()
    if root is None:
        return web.json_response(
            {
                "error": "Transmission's web client is not installed here: install Debian's "
                "transmission-common package (it puts the client in /usr/share/transmission/web)"
            },
            status=404,
        )
    path = resolve_web_file(root, request.match_info.get("path", ""))
    if path is None:
        return web.json_response({"error": "no such file in Transmission's web client"}, status=404)
    return web.FileResponse(path, headers=_HEADERS)


async def web_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/transmission/web/")
