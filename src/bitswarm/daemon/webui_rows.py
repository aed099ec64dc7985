"""What the web UI's JSON says about torrents, files, peers and the session (pure).

The page keeps one row per torrent and patches it from the event stream
(daemon/webui_events.py), so a row holds only what the list and the details header show,
rounded to what a person can see: a rate that moved by a fraction of a byte per second is
not a change worth sending to a thousand rows. `diff_rows` is the whole protocol of the
stream: the fields that changed per torrent, the torrents that are new, the ids that left.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .model import FileView, PeerView, PieceMap, SessionStats, TorrentView, TrackerInfo
from .settings import LOCAL_ONLY, DaemonSettings

__all__ = [
    "HIDDEN_SETTINGS",
    "RowDiff",
    "diff_rows",
    "file_json",
    "peer_json",
    "pieces_json",
    "settings_json",
    "stats_json",
    "torrent_detail",
    "torrent_row",
    "tracker_json",
]

Json = dict[str, Any]

# Never sent to a browser, not even read-only: a password hash is worth attacking offline.
HIDDEN_SETTINGS = frozenset({"rpc_password_hash"})


def torrent_row(v: TorrentView) -> Json:
    """One row of the list: what changes every second and what the list shows."""
    return {
        "id": v.id,
        "hash": v.info_hash,
        "name": v.name,
        "state": v.activity.value,
        "error": v.error or "",
        "progress": round(v.progress, 4),
        "meta": round(v.metadata_progress, 3) if not v.has_metadata else 1.0,
        "down": round(v.download_rate),
        "up": round(v.upload_rate),
        "size": v.wanted_size,
        "total": v.total_size,
        "done": v.done_wanted,
        "eta": None if v.eta is None else round(v.eta),
        "ratio": round(v.ratio, 3),
        "uploaded": v.uploaded_ever,
        "downloaded": v.downloaded_ever,
        "peers": v.peers_connected,
        "sending": v.peers_sending,
        "receiving": v.peers_receiving,
        "seeds": v.seeds_connected,
        "labels": list(v.options.labels),
        "queue": v.queue_position,
        "added": round(v.added_at),
    }


def torrent_detail(v: TorrentView) -> Json:
    """Everything about one torrent, for its overview tab: the row and the rest."""
    options = asdict(v.options)
    options["seed_ratio_mode"] = int(v.options.seed_ratio_mode)
    options["seed_idle_mode"] = int(v.options.seed_idle_mode)
    del options["file_priorities"]  # the files tab has them, with names
    return torrent_row(v) | {
        "has_metadata": v.has_metadata,
        "have_valid": v.have_valid,
        "corrupt": v.corrupt_ever,
        "piece_count": v.piece_count,
        "piece_size": v.piece_size,
        "pieces_done": v.pieces_done,
        "private": v.private,
        "comment": v.comment,
        "creator": v.creator,
        "created": v.created,
        "magnet": v.magnet_link,
        "done_at": v.done_at,
        "activity_at": v.activity_at,
        "tracker_message": v.tracker_message or "",
        "seconds_downloading": v.seconds_downloading,
        "seconds_seeding": v.seconds_seeding,
        "options": options,
    }


def file_json(f: FileView) -> Json:
    return {
        "index": f.index,
        "path": f.path,
        "length": f.length,
        "done": f.done,
        "priority": f.priority,
    }


def peer_json(p: PeerView) -> Json:
    return {
        "host": p.host,
        "port": p.port,
        "client": p.client,
        "progress": round(p.progress, 4),
        "down": round(p.download_rate),
        "up": round(p.upload_rate),
        "downloaded": p.downloaded,
        "uploaded": p.uploaded,
        "flags": p.flags,
        "encrypted": p.encrypted,
        "transport": p.transport,
        "outgoing": p.outgoing,
        "am_choking": p.am_choking,
        "am_interested": p.am_interested,
        "peer_choking": p.peer_choking,
        "peer_interested": p.peer_interested,
    }


def tracker_json(t: TrackerInfo) -> Json:
    return asdict(t)


def pieces_json(m: PieceMap, count: int) -> Json:
    """The piece map in a few bytes per piece: the bitfield and the availability (each
    clamped to 255) as base64, so a 50,000-piece torrent costs ~70 kB, not a JSON list."""
    avail = bytes(min(a, 255) for a in m.availability)
    return {
        "count": count,
        "have": base64.b64encode(m.have).decode("ascii"),
        "downloading": sorted(m.downloading),
        "availability": base64.b64encode(avail).decode("ascii"),
    }


def stats_json(s: SessionStats) -> Json:
    out = asdict(s)
    out["download_rate"] = round(s.download_rate)
    out["upload_rate"] = round(s.upload_rate)
    return out


def settings_json(s: DaemonSettings) -> Json:
    """Every setting but the hidden ones, and which of them only the config file can set."""
    values = {k: v for k, v in asdict(s).items() if k not in HIDDEN_SETTINGS}
    return {"values": values, "local_only": sorted(LOCAL_ONLY - HIDDEN_SETTINGS)}


@dataclass(slots=True)
class RowDiff:
    """From one state of the list to the next; empty when nothing a person sees moved."""

    changed: dict[int, Json] = field(default_factory=dict)  # id -> only the fields that moved
    added: list[Json] = field(default_factory=list)  # whole rows
    removed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def to_json(self) -> Json:
        return {
            "changed": {str(k): v for k, v in self.changed.items()},
            "added": self.added,
            "removed": self.removed,
        }


def diff_rows(old: Mapping[int, Json], new: Mapping[int, Json]) -> RowDiff:
    """The changes that turn the rows `old` into `new` (both id -> `torrent_row`)."""
    diff = RowDiff()
    for tid, row in new.items():
        before = old.get(tid)
        if before is None:
            diff.added.append(row)
            continue
        moved = {k: v for k, v in row.items() if before.get(k) != v}
        if moved:
            diff.changed[tid] = moved
    diff.removed = [tid for tid in old if tid not in new]
    return diff
