"""`torrents/*` that change torrents: start, stop, delete, check, announce, move, rename,
file priorities, limits, share limits, queue order, trackers (qBittorrent 5.0,
src/webui/api/torrentscontroller.cpp).

`hashes` is "|"-joined hashes or "all"; unknown hashes are skipped, as qBittorrent does.
The 4.x names clients still send are aliases: `torrents/pause` = `stop`, `torrents/resume`
= `start`. Limits are bytes/s, 0 or -1 = none. Share limits use qBittorrent's -2 (follow
the global limit), -1 (none) or the torrent's own value; bitswarm limits seeding by
ratio and by idle time, not by total seeding time, so a `seedingTimeLimit` other than
-2 or -1 is refused (400) rather than dropped.

Renames: bitswarm renames files on disk (as Transmission's torrent-rename-path does), so
`torrents/rename` renames the torrent's top file or folder, and `renameFile` and
`renameFolder` rename within one folder (a new path in another folder is 409).
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..model import LimitMode
from .protocol import Call, RouteTable, bad_params, conflict, empty
from .routes_torrents import one_view, refs
from .views import QB_PRIORITIES, our_priority

__all__ = ["ROUTES"]

_routes = RouteTable()


async def _apply(call: Call, action: Callable[[list[int] | None], Awaitable[None]]) -> web.Response:
    ids = refs(call)
    if ids is None or ids:
        await action(ids)
    return empty()


def _all(call: Call, ids: list[int] | None) -> list[int]:
    return ids if ids is not None else call.api.resolve(None)


@_routes.post("torrents/start", "torrents/resume")
async def _start(call: Call) -> web.StreamResponse:
    return await _apply(call, lambda ids: call.api.start(ids))


@_routes.post("torrents/stop", "torrents/pause")
async def _stop(call: Call) -> web.StreamResponse:
    return await _apply(call, call.api.stop)


@_routes.post("torrents/setForceStart")
async def _set_force_start(call: Call) -> web.StreamResponse:
    call.params.require("hashes", "value")
    force = bool(call.params.bool("value"))
    return await _apply(call, lambda ids: call.api.start(ids, force=force))


@_routes.post("torrents/delete")
async def _delete(call: Call) -> web.StreamResponse:
    call.params.require("hashes", "deleteFiles")
    delete_data = bool(call.params.bool("deleteFiles"))
    return await _apply(call, lambda ids: call.api.remove(ids, delete_data=delete_data))


@_routes.post("torrents/recheck")
async def _recheck(call: Call) -> web.StreamResponse:
    return await _apply(call, call.api.verify)


@_routes.post("torrents/reannounce")
async def _reannounce(call: Call) -> web.StreamResponse:
    return await _apply(call, call.api.reannounce)


async def _move(call: Call, ids_name: str, path_name: str) -> web.Response:
    call.params.require(ids_name, path_name)
    location = call.params.get(path_name).strip()
    if not location:
        raise bad_params("Save path cannot be empty")
    ids = refs(call, ids_name)
    targets = _all(call, ids)
    if targets:
        await call.api.set_location(targets, location, move=True)
    return empty()


@_routes.post("torrents/setLocation")
async def _set_location(call: Call) -> web.StreamResponse:
    return await _move(call, "hashes", "location")


@_routes.post("torrents/setSavePath")
async def _set_save_path(call: Call) -> web.StreamResponse:
    return await _move(call, "id", "path")


@_routes.post("torrents/rename")
async def _rename(call: Call) -> web.StreamResponse:
    call.params.require("hash", "name")
    name = " ".join(call.params.get("name").strip().splitlines())
    if not name or "/" in name or name in (".", ".."):
        raise conflict("Incorrect torrent name")
    v = one_view(call)
    if name != v.name:
        await call.api.rename(v.id, v.name, name)
    return empty()


async def _rename_path(call: Call) -> web.Response:
    call.params.require("hash", "oldPath", "newPath")
    v = one_view(call)
    old = call.params.get("oldPath").strip("/")
    new = call.params.get("newPath").strip("/")
    folder, name = posixpath.split(new)
    if posixpath.dirname(old) != folder:
        raise conflict("bitswarm renames within one folder: the new path is in another")
    if not name or name in (".", ".."):
        raise conflict("Invalid new path")
    if old != new:
        await call.api.rename(v.id, old, name)
    return empty()


@_routes.post("torrents/renameFile")
async def _rename_file(call: Call) -> web.StreamResponse:
    return await _rename_path(call)


@_routes.post("torrents/renameFolder")
async def _rename_folder(call: Call) -> web.StreamResponse:
    return await _rename_path(call)


@_routes.post("torrents/filePrio")
async def _file_prio(call: Call) -> web.StreamResponse:
    call.params.require("hash", "id", "priority")
    priority = call.params.int("priority")
    if priority is None:
        raise bad_params("Priority must be an integer")
    if priority not in QB_PRIORITIES:
        raise bad_params("Priority is not valid")
    v = one_view(call)
    if not v.has_metadata:
        raise conflict("Torrent's metadata has not yet downloaded")
    count = len(call.api.files(v.id))
    indexes: list[int] = []
    for item in call.params.get("id").split("|"):
        try:
            index = int(item)
        except ValueError:
            raise bad_params("File IDs must be integers") from None
        if not 0 <= index < count:
            raise conflict("File ID is not valid")
        indexes.append(index)
    await call.api.set_file_priorities(v.id, dict.fromkeys(indexes, our_priority(priority)))
    return empty()


async def _set_limit(call: Call, direction: str) -> web.Response:
    call.params.require("hashes", "limit")
    limit = call.params.int("limit")
    if limit is None:
        raise bad_params("'limit' must be a whole number")
    changes = {f"{direction}_limit": max(limit, 0), f"{direction}_limited": limit > 0}
    ids = refs(call)
    targets = _all(call, ids)
    if targets:
        await call.api.set_options(targets, changes)
    return empty()


@_routes.post("torrents/setDownloadLimit")
async def _set_download_limit(call: Call) -> web.StreamResponse:
    return await _set_limit(call, "download")


@_routes.post("torrents/setUploadLimit")
async def _set_upload_limit(call: Call) -> web.StreamResponse:
    return await _set_limit(call, "upload")


def _share_limit(value: float | None, name: str) -> tuple[LimitMode, float | None]:
    if value is None:
        raise bad_params(f"'{name}' must be a number")
    if value == -2:
        return LimitMode.GLOBAL, None
    if value == -1:
        return LimitMode.UNLIMITED, None
    if value < 0:
        raise bad_params(f"'{name}' must be -2, -1 or at least 0")
    return LimitMode.SINGLE, value


@_routes.post("torrents/setShareLimits")
async def _set_share_limits(call: Call) -> web.StreamResponse:
    p = call.params
    p.require("hashes", "ratioLimit", "seedingTimeLimit")
    seeding_time = p.float("seedingTimeLimit")
    if seeding_time not in (-2, -1):
        raise bad_params(
            "seedingTimeLimit is not supported: bitswarm limits seeding by ratio and by idle"
            " time (inactiveSeedingTimeLimit); send -2 or -1"
        )
    ratio_mode, ratio = _share_limit(p.float("ratioLimit"), "ratioLimit")
    changes: dict[str, object] = {"seed_ratio_mode": ratio_mode}
    if ratio is not None:
        changes["seed_ratio_limit"] = ratio
    if "inactiveSeedingTimeLimit" in p:
        idle_mode, idle = _share_limit(
            p.float("inactiveSeedingTimeLimit"), "inactiveSeedingTimeLimit"
        )
        changes["seed_idle_mode"] = idle_mode
        if idle is not None:
            changes["seed_idle_limit"] = int(idle)
    targets = _all(call, refs(call))
    if targets:
        await call.api.set_options(targets, changes)
    return empty()


async def _queue(call: Call, where: str) -> web.Response:
    call.params.require("hashes")
    if not call.api.settings.download_queue_enabled:
        raise conflict("Torrent queueing must be enabled")
    targets = _all(call, refs(call))
    if targets:
        await call.api.queue_move(targets, where)
    return empty()


@_routes.post("torrents/topPrio")
async def _top_prio(call: Call) -> web.StreamResponse:
    return await _queue(call, "top")


@_routes.post("torrents/bottomPrio")
async def _bottom_prio(call: Call) -> web.StreamResponse:
    return await _queue(call, "bottom")


@_routes.post("torrents/increasePrio")
async def _increase_prio(call: Call) -> web.StreamResponse:
    return await _queue(call, "up")


@_routes.post("torrents/decreasePrio")
async def _decrease_prio(call: Call) -> web.StreamResponse:
    return await _queue(call, "down")


@_routes.post("torrents/toggleSequentialDownload")
async def _toggle_sequential(call: Call) -> web.StreamResponse:
    for i in _all(call, refs(call)):
        await call.api.set_options([i], {"sequential": not call.api.view(i).options.sequential})
    return empty()


@_routes.post("torrents/setSequentialDownload")
async def _set_sequential(call: Call) -> web.StreamResponse:
    call.params.require("hashes", "value")
    value = bool(call.params.bool("value"))
    targets = _all(call, refs(call))
    if targets:
        await call.api.set_options(targets, {"sequential": value})
    return empty()


@_routes.post("torrents/addTrackers")
async def _add_trackers(call: Call) -> web.StreamResponse:
    call.params.require("hash", "urls")
    v = one_view(call)
    known = {t.url for t in call.api.trackers(v.id)}
    extra = list(v.options.extra_trackers)
    for url in call.params.get("urls").splitlines():
        url = url.strip()
        if url and url not in known and url not in extra:
            extra.append(url)
    if extra != v.options.extra_trackers:
        await call.api.set_options([v.id], {"extra_trackers": extra})
    return empty()


@_routes.post("torrents/removeTrackers")
async def _remove_trackers(call: Call) -> web.StreamResponse:
    call.params.require("hash", "urls")
    v = one_view(call)
    urls = {u.strip() for u in call.params.get("urls").split("|") if u.strip()}
    extra = v.options.extra_trackers
    own = {t.url for t in call.api.trackers(v.id)} - set(extra)
    if urls & own:
        raise conflict("the torrent file's own trackers cannot be removed, only added ones")
    kept = [u for u in extra if u not in urls]
    if kept != extra:
        await call.api.set_options([v.id], {"extra_trackers": kept})
    return empty()


ROUTES = _routes.routes
