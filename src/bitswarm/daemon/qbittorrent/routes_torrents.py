"""`torrents/*` that read: the list, one torrent's properties, files, trackers, pieces,
categories, tags and limits (qBittorrent 5.0, src/webui/api/torrentscontroller.cpp).

`torrents/info` filters (`filter`, `category`, `tag`, `hashes`, `private`), sorts by any
field of its objects (`sort`, `reverse`; another name is 400) and pages (`limit`,
`offset`, a negative offset counting from the end), in qBittorrent's order. The 4.x
filter names `paused` and `resumed` still work.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..model import TorrentView, UnknownTorrent
from .protocol import Call, QbtError, RouteTable, bad_params, json_reply, text_reply
from .state import QbtState
from .views import (
    TORRENT_FIELDS,
    file_dicts,
    row_context,
    state_of,
    torrent_dict,
    torrent_row,
    tracker_dicts,
)

__all__ = ["ROUTES", "all_tags", "one_view", "refs"]

_routes = RouteTable()
_HASH = re.compile(r"[0-9a-f]{40}")

_DOWNLOADING = frozenset(
    {"downloading", "metaDL", "forcedMetaDL", "stalledDL", "checkingDL", "stoppedDL"}
    | {"queuedDL", "forcedDL"}
)
_SEEDING = frozenset({"uploading", "stalledUP", "checkingUP", "queuedUP", "forcedUP"})
_STOPPED = frozenset({"stoppedDL", "stoppedUP"})
_ACTIVE = frozenset({"downloading", "metaDL", "forcedMetaDL", "forcedDL", "uploading", "forcedUP"})
_STATE_FILTERS: dict[str, Callable[[str, float], bool]] = {
    "downloading": lambda st, up: st in _DOWNLOADING,
    "seeding": lambda st, up: st in _SEEDING,
    "completed": lambda st, up: st in _SEEDING or st == "stoppedUP",
    "stopped": lambda st, up: st in _STOPPED,
    "paused": lambda st, up: st in _STOPPED,
    "running": lambda st, up: st not in _STOPPED,
    "resumed": lambda st, up: st not in _STOPPED,
    "active": lambda st, up: st in _ACTIVE or (st == "stalledDL" and up > 0),
    "inactive": lambda st, up: not (st in _ACTIVE or (st == "stalledDL" and up > 0)),
    "stalled": lambda st, up: st in ("stalledUP", "stalledDL"),
    "stalled_uploading": lambda st, up: st == "stalledUP",
    "stalled_downloading": lambda st, up: st == "stalledDL",
    "checking": lambda st, up: st in ("checkingUP", "checkingDL"),
    "moving": lambda st, up: st == "moving",
    "errored": lambda st, up: st in ("error", "missingFiles"),
}


def one_view(call: Call, name: str = "hash") -> TorrentView:
    """The torrent named by the required parameter `name` (404 when unknown)."""
    call.params.require(name)
    ref = call.params.get(name).strip().lower()
    if not _HASH.fullmatch(ref):
        raise QbtError(404)
    return call.api.view(ref)


def refs(call: Call, name: str = "hashes") -> list[int] | None:
    """The ids of the torrents named by `name` (None: all); unknown hashes are skipped."""
    call.params.require(name)
    hashes = call.params.hashes(name)
    if hashes is None:
        return None
    return call.api.resolve([h for h in hashes if _HASH.fullmatch(h)])


def all_tags(views: list[TorrentView], state: QbtState) -> list[str]:
    """Every tag: those torrents carry, and those created and not deleted."""
    tags = set(state.created_tags)
    for v in views:
        tags.update(v.options.labels)
    return sorted(tags)


@_routes.get("torrents/info")
async def _info(call: Call) -> web.StreamResponse:
    p = call.params
    views = call.api.torrents()
    ctx = row_context(call.api)
    match_state = _STATE_FILTERS.get(p.get("filter"))
    wanted = {h.strip().lower() for h in p.get("hashes").split("|") if h.strip()}
    private = p.bool("private")
    out: list[dict[str, Any]] = []
    for v in views:
        o = v.options
        if wanted and v.info_hash.lower() not in wanted:
            continue
        if "category" in p and o.category != p.get("category"):
            continue
        if "tag" in p and (p.get("tag") not in o.labels if p.get("tag") else o.labels):
            continue
        if private is not None and (not v.has_metadata or v.private != private):
            continue
        if match_state is not None and not match_state(state_of(v), v.upload_rate):
            continue
        out.append(torrent_dict(v.info_hash, torrent_row(v, ctx)))
    sort = p.get("sort")
    if sort and out:
        if sort not in TORRENT_FIELDS and sort != "hash":
            raise bad_params("'sort' parameter is invalid")
        out.sort(key=lambda d: (d[sort] is None, d[sort]), reverse=bool(p.bool("reverse")))
    offset, limit = p.int("offset") or 0, p.int("limit") or 0
    if offset < 0:
        offset += len(out)
    if offset >= len(out) or offset < 0:
        offset = 0
    if limit > 0 or offset > 0:
        out = out[offset : offset + limit] if limit > 0 else out[offset:]
    return json_reply(out)


@_routes.get("torrents/count")
async def _count(call: Call) -> web.StreamResponse:
    return text_reply(str(len(call.api.torrents())))


@_routes.get("torrents/properties")
async def _properties(call: Call) -> web.StreamResponse:
    v = one_view(call)
    o = v.options
    active = v.seconds_downloading + v.seconds_seeding
    trackers = call.api.trackers(v.id)
    nexts = [t.next_announce for t in trackers if t.next_announce > 0]
    row = dict(zip(TORRENT_FIELDS, torrent_row(v, row_context(call.api)), strict=True))
    return json_reply(
        {
            "infohash_v1": v.info_hash,
            "infohash_v2": "",
            "name": v.name,
            "hash": v.info_hash,
            "time_elapsed": active,
            "seeding_time": v.seconds_seeding,
            "eta": row["eta"],
            "nb_connections": v.peers_connected,
            "nb_connections_limit": o.peer_limit,
            "total_downloaded": v.downloaded_ever,
            "total_downloaded_session": v.downloaded_ever,
            "total_uploaded": v.uploaded_ever,
            "total_uploaded_session": v.uploaded_ever,
            "dl_speed": int(v.download_rate),
            "dl_speed_avg": v.downloaded_ever // v.seconds_downloading
            if v.seconds_downloading > 0
            else -1,
            "up_speed": int(v.upload_rate),
            "up_speed_avg": v.uploaded_ever // active if active > 0 else -1,
            "dl_limit": o.download_limit if o.download_limited and o.download_limit > 0 else -1,
            "up_limit": o.upload_limit if o.upload_limited and o.upload_limit > 0 else -1,
            "total_wasted": v.corrupt_ever,
            "seeds": v.seeds_connected,
            "seeds_total": max((t.seeders for t in trackers), default=-1),
            "peers": row["num_leechs"],
            "peers_total": max((t.leechers for t in trackers), default=-1),
            "share_ratio": row["ratio"],
            "popularity": row["popularity"],
            "reannounce": int(max(min(nexts) - time.time(), 0)) if nexts else 0,
            "total_size": v.total_size,
            "pieces_num": v.piece_count,
            "piece_size": v.piece_size,
            "pieces_have": v.pieces_done,
            "created_by": v.creator,
            "is_private": v.private,
            "private": v.private if v.has_metadata else None,
            "addition_date": int(v.added_at),
            "last_seen": row["seen_complete"],
            "completion_date": row["completion_on"],
            "creation_date": v.created or -1,
            "save_path": o.download_dir,
            "download_path": row["download_path"],
            "comment": v.comment,
            "has_metadata": v.has_metadata,
        }
    )


@_routes.get("torrents/trackers")
async def _trackers(call: Call) -> web.StreamResponse:
    v = one_view(call)
    s = call.api.settings
    return json_reply(
        tracker_dicts(
            call.api.trackers(v.id),
            dht=s.dht_enabled,
            pex=s.pex_enabled,
            lsd=s.lsd_enabled,
            private=v.private,
        )
    )


@_routes.get("torrents/webseeds")
async def _webseeds(call: Call) -> web.StreamResponse:
    one_view(call)
    return json_reply([])  # bitswarm does not download from web seeds (BEP 19)


@_routes.get("torrents/files")
async def _files(call: Call) -> web.StreamResponse:
    v = one_view(call)
    if not v.has_metadata:
        return json_reply([])
    files = call.api.files(v.id)
    indexes: list[int] | None = None
    if "indexes" in call.params:
        indexes = []
        for item in call.params.get("indexes").split("|"):
            try:
                index = int(item)
            except ValueError:
                raise QbtError(409, f'"{item}" is not a valid file index.') from None
            if index < 0:
                raise QbtError(409, f'"{item}" is not a valid file index.')
            if index >= len(files):
                raise QbtError(409, f"Index {item} is out of bounds.")
            indexes.append(index)
    pieces = call.api.pieces(v.id)
    seeding = v.done_wanted >= v.wanted_size
    return json_reply(
        file_dicts(files, v.piece_size, pieces.have, pieces.availability, seeding, indexes)
    )


@_routes.get("torrents/pieceStates")
async def _piece_states(call: Call) -> web.StreamResponse:
    v = one_view(call)
    if not v.has_metadata:
        return json_reply([])
    pieces = call.api.pieces(v.id)
    have = pieces.have
    states = [2 if have[i >> 3] & (0x80 >> (i & 7)) else 0 for i in range(v.piece_count)]
    for i in pieces.downloading:
        if 0 <= i < len(states) and states[i] == 0:
            states[i] = 1
    return json_reply(states)


@_routes.get("torrents/categories")
async def _categories(call: Call) -> web.StreamResponse:
    return json_reply(
        {name: {"name": name, "savePath": path} for name, path in call.api.categories().items()}
    )


@_routes.get("torrents/tags")
async def _tags(call: Call) -> web.StreamResponse:
    return json_reply(all_tags(call.api.torrents(), call.state))


async def _limits(call: Call, direction: str) -> web.StreamResponse:
    call.params.require("hashes")
    hashes = call.params.hashes()
    if hashes is None:
        hashes = [v.info_hash for v in call.api.torrents()]
    out: dict[str, int] = {}
    for h in hashes:
        try:
            o = call.api.view(h).options if _HASH.fullmatch(h) else None
        except UnknownTorrent:
            o = None
        if o is None:
            out[h] = -1
        elif direction == "down":
            out[h] = o.download_limit if o.download_limited else 0
        else:
            out[h] = o.upload_limit if o.upload_limited else 0
    return json_reply(out)


@_routes.get("torrents/downloadLimit")
async def _download_limit(call: Call) -> web.StreamResponse:
    return await _limits(call, "down")


@_routes.get("torrents/uploadLimit")
async def _upload_limit(call: Call) -> web.StreamResponse:
    return await _limits(call, "up")


ROUTES = _routes.routes
