"""torrent-get's fields: each Transmission field name and how to read it off the daemon's views.

Rules:
- `FIELDS` maps the snake_case name (Transmission 4.1) to (legacy name, getter). A getter
  reads one `Row`: the torrent's `TorrentView`, with its files, peers, trackers and piece
  map fetched from the `DaemonApi` only when a requested field needs them, once per row.
- Fields bitswarm has no notion of get Transmission's neutral value (0, "", false, []) so
  that clients which read every field they asked for (the `transmission-rpc` library does)
  keep working; names Transmission does not know are skipped, as Transmission skips them.
- Units: sizes in bytes, rates in bytes/s, dates in Unix seconds, per-torrent speed limits
  in kB/s (1000 bytes: `units.speed-bytes` in session-get).
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from typing import Any

from ..model import (
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_NORMAL,
    Activity,
    FileView,
    LimitMode,
)
from .row import Row
from .swarm_fields import peer, peers_from, tracker_list, tracker_stats, trackers

__all__ = ["FIELDS", "SPEED_K", "Row", "legacy_priority", "status_of"]

SPEED_K = 1000  # bytes in Transmission's "kB" of a speed limit

_STATUS = {
    Activity.STOPPED: 0,
    Activity.ERROR: 0,  # Transmission shows a stopped torrent with its `error` set
    Activity.CHECK_WAIT: 1,
    Activity.CHECKING: 2,
    Activity.DOWNLOAD_WAIT: 3,
    Activity.METADATA: 4,  # Transmission counts fetching metadata as downloading
    Activity.DOWNLOADING: 4,
    Activity.SEED_WAIT: 5,
    Activity.SEEDING: 6,
}


def status_of(activity: Activity) -> int:
    """Transmission's status number (0 stopped .. 6 seeding) of an `Activity`."""
    return _STATUS[activity]


def legacy_priority(priority: int) -> int:
    """bitswarm's 0..7 file priority as Transmission's -1 (low), 0 (normal), 1 (high)."""
    if priority >= PRIORITY_HIGH - 2:
        return 1
    if PRIORITY_LOW <= priority < PRIORITY_NORMAL:
        return -1
    return 0


Getter = Callable[[Row], Any]


def _error(row: Row) -> int:
    # Transmission: 0 ok, 1 tracker warning, 2 tracker error, 3 local error
    if row.view.error:
        return 3
    return 2 if row.view.tracker_message else 0


def _error_string(row: Row) -> str:
    return row.view.error or row.view.tracker_message or ""


def _eta(row: Row) -> int:
    eta = row.view.eta
    return -1 if eta is None else int(eta)  # -1: Transmission's "not available"


def _ratio_limit(row: Row) -> float | None:
    """The seed ratio that applies to this torrent, None when unlimited."""
    options = row.view.options
    if options.seed_ratio_mode is LimitMode.SINGLE:
        return options.seed_ratio_limit
    if options.seed_ratio_mode is LimitMode.GLOBAL and row.settings.seed_ratio_limited:
        return row.settings.seed_ratio_limit
    return None


def _is_finished(row: Row) -> bool:
    """Stopped after reaching its seed ratio (Transmission's `isFinished`)."""
    view = row.view
    limit = _ratio_limit(row)
    done = view.has_metadata and view.left == 0
    return view.activity is Activity.STOPPED and done and limit is not None and view.ratio >= limit


def _is_stalled(row: Row) -> bool:
    view, settings = row.view, row.settings
    if not settings.queue_stalled_enabled:
        return False
    if view.activity not in (Activity.DOWNLOADING, Activity.SEEDING, Activity.METADATA):
        return False
    last = max(view.activity_at, view.added_at)
    return row.now - last > settings.queue_stalled_minutes * 60


def _file_pieces(row: Row) -> list[tuple[int, int]]:
    """Each file's [begin, end) piece range (4.1's files.begin_piece / end_piece)."""
    size = row.view.piece_size or 1
    ranges = []
    offset = 0
    for f in row.files():
        begin = offset // size
        end = (offset + f.length + size - 1) // size if f.length else begin
        ranges.append((begin, end))
        offset += f.length
    return ranges


def _files(row: Row) -> list[dict[str, Any]]:
    out = []
    legacy = row.legacy
    pieces = None if legacy else _file_pieces(row)
    for i, f in enumerate(row.files()):
        item: dict[str, Any] = {
            "bytesCompleted" if legacy else "bytes_completed": f.done,
            "length": f.length,
            "name": f.path,
        }
        if pieces is not None:
            item["begin_piece"], item["end_piece"] = pieces[i]
        out.append(item)
    return out


def _wanted_value(row: Row, f: FileView) -> int | bool:
    # 0/1 in the legacy protocol (what 3.00-era clients parse), booleans in JSON-RPC
    return int(f.wanted) if row.legacy else f.wanted


def _file_stats(row: Row) -> list[dict[str, Any]]:
    # `wanted` here has been a boolean in every version (only the top-level list was 0/1)
    completed = "bytesCompleted" if row.legacy else "bytes_completed"
    return [
        {completed: f.done, "wanted": f.wanted, "priority": legacy_priority(f.priority)}
        for f in row.files()
    ]


def _availability(row: Row) -> list[int]:
    pm = row.pieces()
    have = pm.have
    return [-1 if have[i >> 3] & (0x80 >> (i & 7)) else n for i, n in enumerate(pm.availability)]


def _desired_available(row: Row) -> int:
    """Bytes still wanted that connected peers have (whole pieces; capped by what is left)."""
    pm = row.pieces()
    have = pm.have
    missing = sum(
        1 for i, n in enumerate(pm.availability) if n > 0 and not have[i >> 3] & (0x80 >> (i & 7))
    )
    return min(row.view.left, missing * row.view.piece_size)


def _primary_mime_type(row: Row) -> str:
    files = row.files()
    if not files:
        return "application/octet-stream"
    biggest = max(files, key=lambda f: f.length)
    return mimetypes.guess_type(biggest.path)[0] or "application/octet-stream"


def _percent_complete(row: Row) -> float:
    total = row.view.total_size
    return row.view.have_valid / total if total else 0.0


def _recheck_progress(row: Row) -> float:
    view = row.view
    if view.activity is not Activity.CHECKING or not view.piece_count:
        return 0.0
    return view.pieces_done / view.piece_count


def _v(name: str) -> Getter:
    """A getter of one `TorrentView` attribute."""
    return lambda row: getattr(row.view, name)


def _o(name: str) -> Getter:
    """A getter of one `TorrentOptions` attribute."""
    return lambda row: getattr(row.view.options, name)


def _int_v(name: str) -> Getter:
    return lambda row: int(getattr(row.view, name))


# snake_case name -> (legacy name, getter). Legacy names are the 4.0.6 spec's.
FIELDS: dict[str, tuple[str, Getter]] = {
    "activity_date": ("activityDate", _int_v("activity_at")),
    "added_date": ("addedDate", _int_v("added_at")),
    "availability": ("availability", _availability),
    "bandwidth_priority": ("bandwidthPriority", _o("bandwidth_priority")),
    "bytes_completed": ("bytesCompleted", lambda row: [f.done for f in row.files()]),
    "comment": ("comment", _v("comment")),
    "corrupt_ever": ("corruptEver", _v("corrupt_ever")),
    "creator": ("creator", _v("creator")),
    "date_created": ("dateCreated", _v("created")),
    "desired_available": ("desiredAvailable", _desired_available),
    "done_date": ("doneDate", _int_v("done_at")),
    "download_dir": ("downloadDir", _o("download_dir")),
    "downloaded_ever": ("downloadedEver", _v("downloaded_ever")),
    "download_limit": ("downloadLimit", lambda row: row.view.options.download_limit // SPEED_K),
    "download_limited": ("downloadLimited", _o("download_limited")),
    "edit_date": ("editDate", _int_v("added_at")),  # bitswarm keeps no edit time
    "error": ("error", _error),
    "error_string": ("errorString", _error_string),
    "eta": ("eta", _eta),
    "eta_idle": ("etaIdle", lambda row: -1),
    "file_count": ("file-count", lambda row: len(row.files())),
    "files": ("files", _files),
    "file_stats": ("fileStats", _file_stats),
    "group": ("group", lambda row: ""),
    "hash_string": ("hashString", lambda row: row.view.info_hash.lower()),
    "have_unchecked": ("haveUnchecked", lambda row: 0),
    "have_valid": ("haveValid", _v("have_valid")),
    "honors_session_limits": ("honorsSessionLimits", _o("honors_session_limits")),
    "id": ("id", _v("id")),
    "is_finished": ("isFinished", _is_finished),
    "is_private": ("isPrivate", _v("private")),
    "is_stalled": ("isStalled", _is_stalled),
    "labels": ("labels", lambda row: list(row.view.options.labels)),
    "left_until_done": ("leftUntilDone", lambda row: row.view.left),
    "magnet_link": ("magnetLink", _v("magnet_link")),
    "manual_announce_time": ("manualAnnounceTime", lambda row: -1),
    "max_connected_peers": ("maxConnectedPeers", _o("peer_limit")),
    "metadata_percent_complete": (
        "metadataPercentComplete",
        lambda row: 1.0 if row.view.has_metadata else row.view.metadata_progress,
    ),
    "name": ("name", _v("name")),
    "peer_limit": ("peer-limit", _o("peer_limit")),
    "peers": ("peers", lambda row: [peer(row, p) for p in row.peers()]),
    "peers_connected": ("peersConnected", _v("peers_connected")),
    "peers_from": ("peersFrom", peers_from),
    "peers_getting_from_us": ("peersGettingFromUs", _v("peers_receiving")),
    "peers_sending_to_us": ("peersSendingToUs", _v("peers_sending")),
    "percent_complete": ("percentComplete", _percent_complete),
    "percent_done": ("percentDone", _v("progress")),
    "pieces": ("pieces", lambda row: base64.b64encode(row.pieces().have).decode("ascii")),
    "piece_count": ("pieceCount", _v("piece_count")),
    "piece_size": ("pieceSize", _v("piece_size")),
    "priorities": ("priorities", lambda row: [legacy_priority(f.priority) for f in row.files()]),
    "primary_mime_type": ("primary-mime-type", _primary_mime_type),
    "queue_position": ("queuePosition", _v("queue_position")),
    "rate_download": ("rateDownload", _int_v("download_rate")),
    "rate_upload": ("rateUpload", _int_v("upload_rate")),
    "recheck_progress": ("recheckProgress", _recheck_progress),
    "seconds_downloading": ("secondsDownloading", _v("seconds_downloading")),
    "seconds_seeding": ("secondsSeeding", _v("seconds_seeding")),
    "seed_idle_limit": ("seedIdleLimit", _o("seed_idle_limit")),
    "seed_idle_mode": ("seedIdleMode", lambda row: int(row.view.options.seed_idle_mode)),
    "seed_ratio_limit": ("seedRatioLimit", _o("seed_ratio_limit")),
    "seed_ratio_mode": ("seedRatioMode", lambda row: int(row.view.options.seed_ratio_mode)),
    "sequential_download": ("sequentialDownload", _o("sequential")),
    "sequential_download_from_piece": ("sequentialDownloadFromPiece", lambda row: 0),
    "size_when_done": ("sizeWhenDone", _v("wanted_size")),
    "start_date": ("startDate", _int_v("added_at")),  # bitswarm keeps no last-start time
    "status": ("status", lambda row: _STATUS[row.view.activity]),
    "torrent_file": ("torrentFile", lambda row: ""),
    "total_size": ("totalSize", _v("total_size")),
    "trackers": ("trackers", trackers),
    "tracker_list": ("trackerList", tracker_list),
    "tracker_stats": ("trackerStats", tracker_stats),
    "uploaded_ever": ("uploadedEver", _v("uploaded_ever")),
    "upload_limit": ("uploadLimit", lambda row: row.view.options.upload_limit // SPEED_K),
    "upload_limited": ("uploadLimited", _o("upload_limited")),
    "upload_ratio": ("uploadRatio", _v("ratio")),
    "wanted": ("wanted", lambda row: [_wanted_value(row, f) for f in row.files()]),
    "webseeds": ("webseeds", lambda row: []),
    "webseeds_ex": ("webseedsEx", lambda row: []),
    "webseeds_sending_to_us": ("webseedsSendingToUs", lambda row: 0),
}
