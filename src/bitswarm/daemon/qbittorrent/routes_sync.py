"""`sync/maindata` and `sync/torrentPeers`: the web client's polling, as diffs by `rid`.

Each call takes a snapshot of what the reply describes (torrent rows, categories, tags,
the server state; or one torrent's peers), diffs it against the snapshot the client
says it holds (sync.py), and remembers it in the caller's web session. Taking the
snapshot is one pass over the `DaemonApi`'s views; the diff compares row tuples.
`server_state` carries qBittorrent's cache and queue statistics as qBittorrent reports
them for an idle cache (bitswarm has no disk cache of its own): "0" and 0.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..model import TorrentView
from .protocol import Call, RouteTable, bad_params, json_reply
from .routes_app import server_state
from .routes_torrents import all_tags, one_view
from .state import QbtState
from .sync import Snapshot, Table, sync_reply
from .views import (
    PEER_FIELDS,
    TORRENT_FIELDS,
    RowContext,
    peer_key,
    peer_row,
    row_context,
    torrent_row,
)

Row = tuple[Any, ...]

__all__ = ["ROUTES", "maindata_snapshot"]

_routes = RouteTable()
_CATEGORY_FIELDS = ("name", "savePath")


def _rid(call: Call) -> int:
    text = call.params.get("rid").strip()
    if not text:
        return 0
    rid = call.params.int("rid")
    if rid is None:
        raise bad_params("'rid' must be a whole number")
    return rid


def _rows(state: QbtState, views: list[TorrentView], ctx: RowContext) -> dict[str, Row]:
    """Each torrent's row, made again only for a view that is not the one the last row
    was made from (the manager hands out the same view objects until something changes,
    so a client polling every second costs one row per changed torrent)."""
    key = (ctx.queueing, ctx.ratio_limit, ctx.idle_limit, ctx.incomplete_dir)
    memo = state.row_memo
    rows: dict[str, Row] = {}
    for v in views:
        known = memo.get(v.info_hash)
        if known is not None and known[0] is v and known[1] == key:
            rows[v.info_hash] = known[2]
            continue
        row = torrent_row(v, ctx)
        memo[v.info_hash] = (v, key, row)
        rows[v.info_hash] = row
    if len(memo) > len(rows):
        for gone in set(memo) - set(rows):
            del memo[gone]
    return rows


def maindata_snapshot(call: Call) -> Snapshot:
    api = call.api
    views = api.torrents()
    ctx = row_context(api)
    rows = _rows(call.state, views, ctx)
    stats = api.stats()
    s = api.settings
    state = server_state(call)
    ratio = stats.uploaded_ever / stats.downloaded_ever if stats.downloaded_ever > 0 else 0.0
    state.update(
        {
            "alltime_dl": stats.downloaded_ever,
            "alltime_ul": stats.uploaded_ever,
            "total_wasted_session": sum(v.corrupt_ever for v in views),
            "global_ratio": f"{ratio:.2f}" if stats.uploaded_ever > 0 and ratio > 0 else "-",
            "total_peer_connections": sum(v.peers_connected for v in views),
            "read_cache_hits": "0",
            "total_buffers_size": 0,
            "write_cache_overload": "0",
            "read_cache_overload": "0",
            "queued_io_jobs": 0,
            "average_time_queue": 0,
            "total_queued_size": 0,
            "free_space_on_disk": stats.free_space,
            "queueing": s.download_queue_enabled,
            "use_alt_speed_limits": s.alt_speed_enabled,
            "refresh_interval": 1500,
            "use_subcategories": False,
        }
    )
    return Snapshot(
        tables={
            "torrents": Table(TORRENT_FIELDS, rows),
            "categories": Table(_CATEGORY_FIELDS, {n: (n, p) for n, p in api.categories().items()}),
        },
        lists={"tags": tuple(all_tags(views, call.state))},
        records={"server_state": (tuple(state), tuple(state.values()))},
    )


@_routes.get("sync/maindata")
async def _maindata(call: Call) -> web.StreamResponse:
    history = call.session.maindata
    base = history.base(_rid(call))
    snapshot = maindata_snapshot(call)
    return json_reply(sync_reply(base, snapshot, history.record(snapshot)))


@_routes.get("sync/torrentPeers")
async def _torrent_peers(call: Call) -> web.StreamResponse:
    v = one_view(call)
    rows = {peer_key(p): peer_row(p) for p in call.api.peers(v.id)}
    snapshot = Snapshot(tables={"peers": Table(PEER_FIELDS, rows)}, scalars={"show_flags": False})
    history = call.session.peer_history(v.info_hash)
    base = history.base(_rid(call))
    return json_reply(sync_reply(base, snapshot, history.record(snapshot)))


ROUTES = _routes.routes
