"""bitswarm's views in qBittorrent's words: torrent rows, states, priorities (pure).

Field names and meanings follow qBittorrent 5.0 (src/webui/api/serialize/
serialize_torrent.cpp). Where bitswarm has no such thing the value is qBittorrent's own
"unknown" or "off" (`eta` 8640000, `availability` -1, `f_l_piece_prio` false); the
fields that would change every second on every torrent without telling anything
(`reannounce`) are left out of the list so `sync/maindata` diffs stay small.

A torrent row is a tuple in `TORRENT_FIELDS` order (sync.py diffs tuples); `torrent_dict`
makes the JSON object of `torrents/info` from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model import Activity, FileView, LimitMode, PeerView, TorrentView, TrackerInfo

if TYPE_CHECKING:
    from ..api import DaemonApi

__all__ = [
    "MAX_ETA",
    "TORRENT_FIELDS",
    "RowContext",
    "file_dicts",
    "our_priority",
    "peer_key",
    "peer_row",
    "qb_priority",
    "row_context",
    "state_of",
    "torrent_dict",
    "torrent_row",
    "tracker_dicts",
]

MAX_ETA = 8_640_000  # qBittorrent's "infinity" (100 days)
_MAX_RATIO = 9999.0
_MONTH = 30 * 24 * 3600

# fmt: off
TORRENT_FIELDS: tuple[str, ...] = (
    "infohash_v1", "infohash_v2", "name", "magnet_uri", "size", "progress", "dlspeed",
    "upspeed", "priority", "num_seeds", "num_complete", "num_leechs", "num_incomplete",
    "state", "eta", "seq_dl", "f_l_piece_prio", "category", "tags", "super_seeding",
    "force_start", "save_path", "download_path", "content_path", "added_on",
    "completion_on", "tracker", "trackers_count", "dl_limit", "up_limit", "downloaded",
    "uploaded", "downloaded_session", "uploaded_session", "amount_left", "completed",
    "max_ratio", "max_seeding_time", "max_inactive_seeding_time", "ratio", "ratio_limit",
    "popularity", "seeding_time_limit", "inactive_seeding_time_limit", "seen_complete",
    "auto_tmm", "time_active", "seeding_time", "last_activity", "availability", "comment",
    "private", "total_size", "has_metadata",
)
# fmt: on


@dataclass(frozen=True, slots=True)
class RowContext:
    """What a row needs beyond its view: the daemon's settings, and its trackers."""

    queueing: bool
    ratio_limit: float  # the global seed ratio limit, -1 when off
    idle_limit: int  # the global idle seeding limit in minutes, -1 when off
    incomplete_dir: str  # where unfinished data lives, "" = in the save path
    trackers: Callable[[int], Sequence[TrackerInfo]]


def row_context(api: DaemonApi) -> RowContext:
    s = api.settings
    return RowContext(
        queueing=s.download_queue_enabled,
        ratio_limit=s.seed_ratio_limit if s.seed_ratio_limited else -1,
        idle_limit=s.idle_seeding_limit if s.idle_seeding_limit_enabled else -1,
        incomplete_dir=s.incomplete_dir if s.incomplete_dir_enabled else "",
        trackers=api.trackers,
    )


def _done(v: TorrentView) -> bool:
    return v.has_metadata and v.done_wanted >= v.wanted_size


def state_of(v: TorrentView) -> str:
    """qBittorrent's state string for a torrent (5.0 names: stoppedDL, not pausedDL)."""
    activity = v.activity
    if activity is Activity.DOWNLOADING:
        return "downloading" if v.download_rate > 0 else "stalledDL"
    if activity is Activity.SEEDING:
        return "uploading" if v.upload_rate > 0 else "stalledUP"
    if activity is Activity.STOPPED:
        return "stoppedUP" if _done(v) else "stoppedDL"
    if activity is Activity.CHECK_WAIT or activity is Activity.CHECKING:
        return "checkingUP" if _done(v) else "checkingDL"
    if activity is Activity.METADATA:
        return "metaDL"
    if activity is Activity.DOWNLOAD_WAIT:
        return "queuedDL"
    if activity is Activity.SEED_WAIT:
        return "queuedUP"
    return "error"


def _own_limit(mode: LimitMode, value: float) -> float:
    # qBittorrent: -2 = follow the global limit, -1 = none, else the torrent's own.
    return -2 if mode is LimitMode.GLOBAL else -1 if mode is LimitMode.UNLIMITED else value


def _effective(mode: LimitMode, value: float, global_value: float) -> float:
    if mode is LimitMode.GLOBAL:
        return global_value
    return -1 if mode is LimitMode.UNLIMITED else value


def torrent_row(v: TorrentView, ctx: RowContext) -> tuple[Any, ...]:
    """One torrent's values in `TORRENT_FIELDS` order."""
    o = v.options
    done = _done(v)
    save_path = o.download_dir
    base = ctx.incomplete_dir if ctx.incomplete_dir and not done else save_path
    trackers = ctx.trackers(v.id)
    working = next((t.url for t in trackers if t.status == "working"), "")
    stopped = v.activity is Activity.STOPPED
    eta = MAX_ETA if v.eta is None or stopped else min(int(v.eta), MAX_ETA)
    ratio = -1.0 if v.ratio > _MAX_RATIO else v.ratio
    active = v.seconds_downloading + v.seconds_seeding
    leechers = max(v.peers_connected - v.seeds_connected, 0)
    return (
        v.info_hash,
        "",
        v.name,
        v.magnet_link,
        v.wanted_size,
        v.progress,
        int(v.download_rate),
        int(v.upload_rate),
        v.queue_position + 1 if ctx.queueing and not done else 0,
        v.seeds_connected,
        v.seeds_connected,
        leechers,
        leechers,
        state_of(v),
        eta,
        o.sequential,
        False,
        o.category,
        ", ".join(o.labels),
        False,
        v.forced,
        save_path,
        ctx.incomplete_dir if ctx.incomplete_dir and not done else "",
        os.path.join(base, v.name) if base else v.name,
        int(v.added_at),
        int(v.done_at) if v.done_at else -1,
        working,
        len(trackers),
        o.download_limit if o.download_limited else 0,
        o.upload_limit if o.upload_limited else 0,
        v.downloaded_ever,
        v.uploaded_ever,
        v.downloaded_ever,
        v.uploaded_ever,
        v.left,
        v.done_wanted,
        _effective(o.seed_ratio_mode, o.seed_ratio_limit, ctx.ratio_limit),
        -1,
        _effective(o.seed_idle_mode, o.seed_idle_limit, ctx.idle_limit),
        ratio,
        _own_limit(o.seed_ratio_mode, o.seed_ratio_limit),
        ratio * _MONTH / active if active > 0 and ratio >= 0 else 0.0,
        -2,
        _own_limit(o.seed_idle_mode, o.seed_idle_limit),
        int(v.done_at) if v.done_at else -1,
        False,
        active,
        v.seconds_seeding,
        int(v.activity_at or v.added_at),
        -1,
        v.comment,
        v.private if v.has_metadata else None,
        v.total_size,
        v.has_metadata,
    )


def torrent_dict(info_hash: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """The `torrents/info` object: the row's fields and `hash`."""
    d = dict(zip(TORRENT_FIELDS, row, strict=True))
    d["hash"] = info_hash
    return d


# --------------------------------------------------------------------- priorities
# qBittorrent's file priorities are 0 (skip), 1 (normal), 6 (high), 7 (maximal);
# bitswarm's scale is 0..7 with 4 normal. 6 and 7 are kept as they are, so a value
# set through this API reads back the same.
QB_PRIORITIES = frozenset({0, 1, 6, 7})


def qb_priority(priority: int) -> int:
    return 0 if priority <= 0 else 1 if priority <= 4 else 6 if priority <= 6 else 7


def our_priority(qb: int) -> int:
    return {0: 0, 1: 4, 6: 6, 7: 7}[qb]


def file_dicts(
    files: Sequence[FileView],
    piece_size: int,
    have: bytes | None,
    availability: Sequence[int] | None,
    seeding: bool,
    indexes: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """`torrents/files`: one object per file (the `indexes` ones, else all)."""
    starts: list[int] = []
    offset = 0
    for f in files:
        starts.append(offset)
        offset += f.length
    out = []
    for i in indexes if indexes is not None else range(len(files)):
        f = files[i]
        first = starts[i] // piece_size if piece_size else 0
        last = (starts[i] + max(f.length, 1) - 1) // piece_size if piece_size else 0
        d: dict[str, Any] = {
            "index": f.index,
            "name": f.path,
            "size": f.length,
            "progress": (f.done / f.length) if f.length else 1.0,
            "priority": qb_priority(f.priority),
            "piece_range": [first, last],
            "availability": _file_availability(first, last, have, availability),
        }
        if i == 0:
            d["is_seed"] = seeding
        out.append(d)
    return out


def _file_availability(
    first: int, last: int, have: bytes | None, availability: Sequence[int] | None
) -> float:
    """The fraction of the file's pieces that we or a connected peer have (-1 unknown)."""
    if have is None or availability is None or last >= len(availability):
        return -1
    count = 0
    for p in range(first, last + 1):
        if availability[p] > 0 or have[p >> 3] & (0x80 >> (p & 7)):
            count += 1
    return count / (last - first + 1)


# --------------------------------------------------------------------- trackers
_TRACKER_STATUS = {"disabled": 0, "not contacted": 1, "working": 2, "updating": 3, "error": 4}


def tracker_dicts(
    trackers: Sequence[TrackerInfo], *, dht: bool, pex: bool, lsd: bool, private: bool
) -> list[dict[str, Any]]:
    """`torrents/trackers`: the DHT, PeX and LSD pseudo-trackers first, as qBittorrent."""
    msg = "This torrent is private" if private else ""
    out: list[dict[str, Any]] = [
        {
            "url": url,
            "tier": -1,
            "msg": msg,
            "status": 2 if on and not private else 0,
            "num_peers": 0,
            "num_downloaded": 0,
            "num_seeds": 0,
            "num_leeches": 0,
        }
        for url, on in (("** [DHT] **", dht), ("** [PeX] **", pex), ("** [LSD] **", lsd))
    ]
    out.extend(
        {
            "url": t.url,
            "tier": t.tier,
            "status": _TRACKER_STATUS.get(t.status, 1),
            "msg": t.message,
            "num_peers": -1,
            "num_seeds": t.seeders,
            "num_leeches": t.leechers,
            "num_downloaded": t.downloads,
        }
        for t in trackers
    )
    return out


# --------------------------------------------------------------------- peers
# fmt: off
PEER_FIELDS: tuple[str, ...] = (
    "ip", "port", "client", "peer_id_client", "progress", "dl_speed", "up_speed",
    "downloaded", "uploaded", "connection", "flags", "flags_desc", "relevance",
)
# fmt: on

_FLAG_WORDS = {
    "D": "Interested (local) and unchoked (peer)",
    "d": "Interested (local) and choked (peer)",
    "U": "Interested (peer) and unchoked (local)",
    "u": "Interested (peer) and choked (local)",
    "K": "Not interested (local) and unchoked (peer)",
    "?": "Not interested (peer) and unchoked (local)",
    "O": "Optimistic unchoke",
    "S": "Peer snubbed",
    "I": "Incoming connection",
    "H": "Peer from DHT",
    "X": "Peer from PEX",
    "L": "Peer from LSD",
    "E": "Encrypted traffic",
    "e": "Encrypted handshake",
    "P": "μTP",
}


def peer_key(p: PeerView) -> str:
    return f"[{p.host}]:{p.port}" if ":" in p.host else f"{p.host}:{p.port}"


def peer_row(p: PeerView) -> tuple[Any, ...]:
    flags = "".join("P" if c == "T" else c for c in p.flags if c != " ")
    return (
        p.host,
        p.port,
        p.client,
        p.client,
        p.progress,
        int(p.download_rate),
        int(p.upload_rate),
        p.downloaded,
        p.uploaded,
        "μTP" if p.transport == "utp" else "BT",
        " ".join(flags),
        "\n".join(f"{c} = {_FLAG_WORDS[c]}" for c in flags if c in _FLAG_WORDS),
        0.0,
    )
