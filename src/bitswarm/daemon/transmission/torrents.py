"""Transmission's torrent methods (spec section 3) over the `DaemonApi`.

Rules:
- Every handler checks all of its arguments before it changes anything, so a bad
  request changes nothing.
- File selection and priorities: see `priorities`; torrent-add: see `add`.
- Trackers: bitswarm can add and remove the trackers a client added (the torrent's
  `extra_trackers`), not those of the .torrent file; asking to remove one is an error.
- queuePosition is reached with the daemon's one-step queue moves.
- Per-torrent speed limits are kB/s (1000 bytes) on the wire, bytes/s in the daemon.
"""

from __future__ import annotations

from typing import Any

from ..model import LimitMode, UnknownTorrent
from .add import torrent_add
from .call import Call
from .fields import FIELDS, SPEED_K
from .names import ErrorCode, RpcError, snake
from .priorities import file_lists, new_priorities
from .row import Row

__all__ = ["TORRENT_METHODS"]


# ---------------------------------------------------------------------- torrent-get
async def torrent_get(call: Call) -> dict[str, Any]:
    fields = call.args.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise RpcError(ErrorCode.INVALID_PARAMS, "fields must be a list of field names")
    table = call.args.get("format", "objects")
    if table not in ("objects", "table"):
        raise RpcError(ErrorCode.INVALID_PARAMS, 'format must be "objects" or "table"')
    chosen = []
    seen = set()
    for name in fields:
        key = snake(name)
        if key in FIELDS and key not in seen:
            seen.add(key)
            legacy_name, getter = FIELDS[key]
            chosen.append((legacy_name if call.legacy else key, getter))
    api = call.api
    if call.wants_recent():
        views = call.recent_views()
    elif "ids" in call.args:
        views = []
        for i in call.ids() or []:
            try:
                views.append(api.view(i))
            except UnknownTorrent:
                continue
    else:
        views = api.torrents()
    rows: list[Any] = []
    for view in views:
        row = Row(api, view, call.style, call.now)
        try:
            values = [getter(row) for _, getter in chosen]
        except UnknownTorrent:  # removed while we looked
            continue
        rows.append(
            values if table == "table" else dict(zip((n for n, _ in chosen), values, strict=True))
        )
    if table == "table":
        rows.insert(0, [n for n, _ in chosen])
    out: dict[str, Any] = {"torrents": rows}
    if call.wants_recent():
        out["removed"] = call.memory.removed(call.now)
    return out


# ---------------------------------------------------------------------- actions
async def torrent_start(call: Call) -> dict[str, Any]:
    ids = call.ids()
    await call.api.start(ids)
    call.memory.touch(ids or [], call.now)
    return {}


async def torrent_start_now(call: Call) -> dict[str, Any]:
    ids = call.ids()
    await call.api.start(ids, force=True)
    call.memory.touch(ids or [], call.now)
    return {}


async def torrent_stop(call: Call) -> dict[str, Any]:
    ids = call.ids()
    await call.api.stop(ids)
    call.memory.touch(ids or [], call.now)
    return {}


async def torrent_verify(call: Call) -> dict[str, Any]:
    ids = call.ids()
    await call.api.verify(ids)
    call.memory.touch(ids or [], call.now)
    return {}


async def torrent_reannounce(call: Call) -> dict[str, Any]:
    await call.api.reannounce(call.ids())
    return {}


async def torrent_remove(call: Call) -> dict[str, Any]:
    delete = call.arg_bool("delete_local_data", "delete-local-data") or False
    ids = call.resolved_ids()
    await call.api.remove(ids, delete_data=delete)
    for i in ids:
        call.memory.forget(i, call.now)
    return {}


async def torrent_set_location(call: Call) -> dict[str, Any]:
    location = call.arg_path("location", "location")
    if location is None:
        raise RpcError(ErrorCode.INVALID_PARAMS, "no location")
    move = call.arg_bool("move", "move") or False
    ids = call.resolved_ids()
    await call.api.set_location(ids, location, move=move)
    call.memory.touch(ids, call.now)
    return {}


async def torrent_rename_path(call: Call) -> dict[str, Any]:
    path = call.arg_str("path", "path")
    name = call.arg_str("name", "name")
    if not path or not name:
        raise RpcError(ErrorCode.INVALID_PARAMS, "torrent-rename-path needs path and name")
    ids = call.resolved_ids()
    if len(ids) != 1:
        raise RpcError(ErrorCode.INVALID_PARAMS, "torrent-rename-path requires 1 torrent")
    new_path, new_name = await call.api.rename(ids[0], path, name)
    call.memory.touch(ids, call.now)
    return {"path": new_path, "name": new_name, "id": ids[0]}


# ---------------------------------------------------------------------- torrent-set
def _option_changes(call: Call) -> dict[str, object]:
    """TorrentOptions changes (same for every torrent of the call), checked."""
    changes: dict[str, object] = {}
    ints = (
        ("bandwidth_priority", "bandwidthPriority", "bandwidth_priority", -1, 1),
        ("peer_limit", "peer-limit", "peer_limit", 1, None),
        ("seed_idle_limit", "seedIdleLimit", "seed_idle_limit", 0, None),
    )
    for key, legacy, option, low, high in ints:
        value = call.arg_int(key, legacy, low=low, high=high)
        if value is not None:
            changes[option] = value
    for key, legacy, option in (
        ("seed_ratio_mode", "seedRatioMode", "seed_ratio_mode"),
        ("seed_idle_mode", "seedIdleMode", "seed_idle_mode"),
    ):
        mode = call.arg_int(key, legacy, low=0, high=2)
        if mode is not None:
            changes[option] = LimitMode(mode)
    for key, legacy in (("download_limit", "downloadLimit"), ("upload_limit", "uploadLimit")):
        limit = call.arg_int(key, legacy)
        if limit is not None:
            changes[key] = limit * SPEED_K
    bools = (
        ("download_limited", "downloadLimited", "download_limited"),
        ("upload_limited", "uploadLimited", "upload_limited"),
        ("honors_session_limits", "honorsSessionLimits", "honors_session_limits"),
        ("sequential_download", "sequential_download", "sequential"),
    )
    for key, legacy, option in bools:
        flag = call.arg_bool(key, legacy)
        if flag is not None:
            changes[option] = flag
    ratio = call.arg_float("seed_ratio_limit", "seedRatioLimit")
    if ratio is not None:
        changes["seed_ratio_limit"] = ratio
    labels = call.arg_labels()
    if labels is not None:
        changes["labels"] = labels
    group = call.arg_str("group", "group")
    if group:
        raise RpcError(ErrorCode.INVALID_PARAMS, "bandwidth groups are not supported by bitswarm")
    return changes


def _tracker_urls(call: Call) -> tuple[list[str] | None, list[int] | None, list[str] | None]:
    """trackerAdd (URLs), trackerRemove (tracker ids), trackerList (URLs), checked."""
    add = call.args.get("tracker_add")
    if add is not None and (not isinstance(add, list) or not all(isinstance(u, str) for u in add)):
        raise RpcError(ErrorCode.INVALID_PARAMS, "trackerAdd must be a list of announce URLs")
    remove = call.arg_indices("tracker_remove", "trackerRemove")
    text = call.arg_str("tracker_list", "trackerList")
    listed = None if text is None else [line.strip() for line in text.splitlines() if line.strip()]
    for url in (add or []) + (listed or []):
        if not url.startswith(("http://", "https://", "udp://")):
            raise RpcError(ErrorCode.INVALID_TRACKER_LIST, f"not an announce URL: {url}")
    if call.args.get("tracker_replace") is not None:
        raise RpcError(
            ErrorCode.INVALID_PARAMS, "trackerReplace is not supported by bitswarm: use trackerList"
        )
    return add, remove, listed


async def _set_trackers(
    call: Call,
    torrent_id: int,
    add: list[str] | None,
    remove: list[int] | None,
    listed: list[str] | None,
) -> None:
    view = call.api.view(torrent_id)
    extra = list(view.options.extra_trackers)
    trackers = call.api.trackers(torrent_id)
    from_file = [t.url for t in trackers if t.url not in extra]
    if listed is not None:
        kept = [u for u in from_file if u not in listed]
        if kept:
            raise RpcError(
                ErrorCode.INVALID_TRACKER_LIST,
                f"bitswarm cannot remove a tracker of the .torrent file: {kept[0]}",
            )
        extra = [u for u in listed if u not in from_file]
    for tracker_id in remove or []:
        url = next((t.url for t in trackers if t.id == tracker_id), None)
        if url is None:
            continue
        if url not in extra:
            raise RpcError(
                ErrorCode.INVALID_TRACKER_LIST,
                f"bitswarm cannot remove a tracker of the .torrent file: {url}",
            )
        extra.remove(url)
    for url in add or []:
        if url not in extra and url not in from_file:
            extra.append(url)
    if extra != view.options.extra_trackers:
        await call.api.set_options([torrent_id], {"extra_trackers": extra})


async def _set_queue_position(call: Call, torrent_id: int, position: int) -> None:
    """Move one torrent to `position` with the queue moves the daemon has."""
    steps = len(call.api.resolve(None))
    for _ in range(steps):
        current = call.api.view(torrent_id).queue_position
        if current == position:
            return
        await call.api.queue_move([torrent_id], "up" if current > position else "down")


async def torrent_set(call: Call) -> dict[str, Any]:
    changes = _option_changes(call)
    lists = file_lists(call)
    location = call.arg_path("location", "location")
    position = call.arg_int("queue_position", "queuePosition")
    add, remove, listed = _tracker_urls(call)
    ids = call.resolved_ids()
    per_torrent = (
        {i: new_priorities([f.priority for f in call.api.files(i)], lists) for i in ids}
        if lists
        else {}
    )
    if changes:
        await call.api.set_options(ids, changes)
    for torrent_id, priorities in per_torrent.items():
        if priorities:
            await call.api.set_file_priorities(torrent_id, priorities)
    if location is not None:
        await call.api.set_location(ids, location, move=False)
    if add or remove or listed is not None:
        for torrent_id in ids:
            await _set_trackers(call, torrent_id, add, remove, listed)
    if position is not None:
        for torrent_id in ids:
            await _set_queue_position(call, torrent_id, position)
    call.memory.touch(ids, call.now)
    return {}


TORRENT_METHODS = {
    "torrent_get": (torrent_get, False),
    "torrent_add": (torrent_add, True),
    "torrent_set": (torrent_set, True),
    "torrent_start": (torrent_start, True),
    "torrent_start_now": (torrent_start_now, True),
    "torrent_stop": (torrent_stop, True),
    "torrent_verify": (torrent_verify, True),
    "torrent_reannounce": (torrent_reannounce, True),
    "torrent_remove": (torrent_remove, True),
    "torrent_set_location": (torrent_set_location, True),
    "torrent_rename_path": (torrent_rename_path, True),
}
