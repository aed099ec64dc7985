"""`torrents/add`: .torrent files, URLs and magnets (qBittorrent 5.0, addAction).

The body is multipart: `urls` ("\\n"-joined http(s) addresses of .torrent files, magnet
URIs or bare info-hashes), `torrents` (files), and options: `savepath`, `category` (made
when it does not exist yet, as qBittorrent does), `tags` (","-joined), `stopped` (5.0) or
`paused` (4.x), `sequentialDownload`, `upLimit`/`dlLimit` (bytes/s), `ratioLimit`,
`inactiveSeedingTimeLimit` (-2 global, -1 none, else the torrent's own), `addToTopOfQueue`
and `forced`. The reply is "Ok." when at least one torrent was added, else "Fails."
(qBittorrent counts a torrent it already has as a failure); a file that is not a torrent
is 415. Options bitswarm has no counterpart for (`skip_checking`, `firstLastPiecePrio`,
`autoTMM`, `contentLayout`, `rename`, `downloadPath`, `cookie`) are accepted and
ignored, as qBittorrent ignores what it cannot apply; `f_l_piece_prio` then reads false,
and a torrent added with `skip_checking` is checked anyway (never trusted unverified).
"""

from __future__ import annotations

import re
from dataclasses import replace

from aiohttp import web

from ...errors import MetainfoError
from ...metainfo.parse import parse_torrent
from ..api import AddRequest
from ..model import DaemonError, LimitMode
from .protocol import Call, Params, QbtError, RouteTable, text_reply
from .routes_labels import split_tags, valid_category

__all__ = ["ROUTES", "add_options"]

_routes = RouteTable()
_BARE_HASH = re.compile(r"[0-9a-fA-F]{40}|[2-7A-Za-z]{32}")


def _limit(p: Params, name: str) -> int | None:
    value = p.int(name)
    return value if value is not None and value > 0 else None


def add_options(p: Params) -> tuple[AddRequest, dict[str, object]]:
    """The request's options as an `AddRequest` (without the torrent) and the
    `set_options` changes to make after adding (limits an `AddRequest` cannot say)."""
    stopped = p.bool("stopped")
    if stopped is None:
        stopped = p.bool("paused")
    after: dict[str, object] = {}
    ratio = p.float("ratioLimit")
    if ratio is not None and ratio == -1:
        after["seed_ratio_mode"] = LimitMode.UNLIMITED
    idle = p.float("inactiveSeedingTimeLimit")
    if idle is not None and idle == -1:
        after["seed_idle_mode"] = LimitMode.UNLIMITED
    request = AddRequest(
        download_dir=p.get("savepath").strip() or None,
        paused=stopped,
        labels=split_tags(p.get("tags")),
        category=p.get("category"),
        sequential=bool(p.bool("sequentialDownload")),
        upload_limit=_limit(p, "upLimit"),
        download_limit=_limit(p, "dlLimit"),
        seed_ratio_limit=ratio if ratio is not None and ratio >= 0 else None,
        seed_idle_limit=int(idle) if idle is not None and idle >= 0 else None,
        queue_top=bool(p.bool("addToTopOfQueue")),
    )
    return request, after


def _source(url: str) -> AddRequest | None:
    if url.lower().startswith("magnet:"):
        return AddRequest(magnet=url)
    if url.lower().startswith(("http://", "https://")):
        return AddRequest(url=url)
    if _BARE_HASH.fullmatch(url):
        return AddRequest(magnet=f"magnet:?xt=urn:btih:{url}")
    return None


@_routes.post("torrents/add")
async def _add(call: Call) -> web.StreamResponse:
    p = call.params
    base, after = add_options(p)
    if base.category:
        if not valid_category(base.category):
            raise QbtError(409, "Incorrect category name")
        if base.category not in call.api.categories():
            await call.api.set_category(base.category, "")
    sources: list[AddRequest] = []
    for line in p.get("urls").split("\n"):
        url = line.strip()
        if url:
            source = _source(url)
            if source is not None:  # else neither a URL nor a magnet: that one fails
                sources.append(source)
    for filename, data in p.files:
        try:
            parse_torrent(data)
        except MetainfoError as e:
            raise QbtError(415, f"Error: '{filename}' is not a valid torrent file.") from e
        sources.append(AddRequest(torrent=data))
    added = 0
    forced = bool(p.bool("forced"))
    for source in sources:
        request = replace(base, torrent=source.torrent, magnet=source.magnet, url=source.url)
        try:
            result = await call.api.add(request)
        except DaemonError:
            continue  # qBittorrent: this one failed; the reply says whether any worked
        if result.duplicate:
            continue
        added += 1
        if after:
            await call.api.set_options([result.view.id], after)
        if forced and not base.paused:
            await call.api.start([result.view.id], force=True)
    return text_reply("Ok." if added else "Fails.")


ROUTES = _routes.routes
