"""The daemon's model: what it keeps about each torrent and what its APIs show (pure).

Every front-end (the Transmission RPC, the qBittorrent WebUI API, bitswarm's own web UI,
`bitswarm remote`) reads these views and calls the `DaemonApi` (daemon/api.py); none of
them touches a `Session` or a `TorrentRuntime` directly. Sizes are bytes, rates bytes/s,
times Unix seconds (0 when it never happened) unless a field says otherwise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..errors import BitswarmError

__all__ = [
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_NORMAL",
    "PRIORITY_SKIP",
    "Activity",
    "DaemonError",
    "FileView",
    "LimitMode",
    "PeerView",
    "PieceMap",
    "SessionStats",
    "TorrentOptions",
    "TorrentView",
    "TrackerInfo",
    "UnknownTorrent",
]

# File priorities (the picker's 0..7 scale): 0 = not downloaded.
PRIORITY_SKIP = 0
PRIORITY_LOW = 1
PRIORITY_NORMAL = 4
PRIORITY_HIGH = 7


class DaemonError(BitswarmError):
    """A request the daemon cannot carry out; the message is one line for the person."""


class UnknownTorrent(DaemonError):
    """No torrent has that id or info-hash."""


class Activity(enum.Enum):
    """What a torrent is doing, as the daemon's clients see it."""

    STOPPED = "stopped"  # stopped by the user (or never started: added paused)
    CHECK_WAIT = "check_wait"  # queued for a hash check
    CHECKING = "checking"
    METADATA = "metadata"  # a magnet link fetching its info dictionary
    DOWNLOAD_WAIT = "download_wait"  # queued: more downloads than the queue allows
    DOWNLOADING = "downloading"
    SEED_WAIT = "seed_wait"
    SEEDING = "seeding"
    ERROR = "error"  # stopped on an error; `TorrentView.error` says which


class LimitMode(enum.IntEnum):
    """Transmission's seed ratio/idle modes: follow the daemon's setting, the torrent's own,
    or none."""

    GLOBAL = 0
    SINGLE = 1
    UNLIMITED = 2


@dataclass(slots=True)
class TorrentOptions:
    """What a user can set on one torrent; saved with it and kept across restarts."""

    download_dir: str
    labels: list[str] = field(default_factory=list)  # Transmission labels = qBittorrent tags
    category: str = ""  # qBittorrent's category ("" = none)
    upload_limit: int = 0  # bytes/s, used when `upload_limited`
    upload_limited: bool = False
    download_limit: int = 0
    download_limited: bool = False
    honors_session_limits: bool = True
    seed_ratio_mode: LimitMode = LimitMode.GLOBAL
    seed_ratio_limit: float = 2.0
    seed_idle_mode: LimitMode = LimitMode.GLOBAL
    seed_idle_limit: int = 30  # minutes
    peer_limit: int = 50
    bandwidth_priority: int = 0  # -1 low, 0 normal, 1 high
    sequential: bool = False
    file_priorities: list[int] = field(default_factory=list)  # one per file, 0..7
    file_paths: list[str] = field(default_factory=list)  # renamed files ("" = as named)
    name: str = ""  # the torrent renamed ("" = its own name)
    extra_trackers: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TorrentView:
    """A snapshot of one torrent for an API reply (cheap: no per-file or per-peer work)."""

    id: int  # stable for the torrent's life in this daemon, across restarts
    info_hash: str  # the 40-hex v1 (or truncated v2) info-hash
    name: str
    activity: Activity
    error: str | None
    has_metadata: bool
    total_size: int  # every file, wanted or not (0 before metadata)
    wanted_size: int  # bytes of the files to download ("size when done")
    done_wanted: int  # verified bytes of the wanted files
    have_valid: int  # verified bytes in all
    progress: float  # done_wanted / wanted_size (1.0 when nothing is wanted)
    download_rate: float
    upload_rate: float
    downloaded_ever: int  # payload bytes across restarts
    uploaded_ever: int
    corrupt_ever: int  # bytes thrown away (hash failures, duplicates)
    ratio: float  # uploaded_ever / downloaded_ever, or / wanted size when nothing downloaded
    eta: float | None  # seconds, None when unknown
    peers_connected: int
    peers_sending: int  # peers we download from now
    peers_receiving: int  # peers we upload to now
    seeds_connected: int
    piece_count: int
    piece_size: int
    pieces_done: int
    private: bool
    comment: str
    creator: str
    created: int
    magnet_link: str
    added_at: float
    done_at: float
    activity_at: float  # last time data moved
    queue_position: int
    options: TorrentOptions
    tracker_message: str | None
    seconds_downloading: int
    seconds_seeding: int
    metadata_progress: float  # 0..1 while fetching a magnet's metadata
    forced: bool = False  # started with "start now": outside the queue

    @property
    def left(self) -> int:
        return self.wanted_size - self.done_wanted


@dataclass(frozen=True, slots=True)
class FileView:
    """One file of a torrent (index counted from 0 here; the CLI shows them from 1)."""

    index: int
    path: str  # joined by "/", the torrent's name first for a multi-file torrent
    length: int
    done: int
    priority: int  # 0 (skip) .. 7

    @property
    def wanted(self) -> bool:
        return self.priority > 0


@dataclass(frozen=True, slots=True)
class PeerView:
    """One connected peer."""

    host: str
    port: int
    client: str  # from the peer id / extension handshake "v", e.g. "libtorrent 2.0.9"
    progress: float
    download_rate: float  # from it to us
    upload_rate: float  # from us to it
    downloaded: int
    uploaded: int
    am_choking: bool
    am_interested: bool
    peer_choking: bool
    peer_interested: bool
    outgoing: bool
    encrypted: bool
    transport: str  # "tcp" or "utp"
    flags: str  # Transmission's flag letters (D d U u K ? E I X H T...)


@dataclass(frozen=True, slots=True)
class TrackerInfo:
    """One tracker of a torrent, as the APIs show it."""

    id: int
    url: str
    tier: int
    status: str  # "not contacted", "working", "updating", "error", "disabled"
    message: str  # the last error or warning, "" when none
    last_announce: float
    next_announce: float
    seeders: int  # -1 when unknown
    leechers: int
    downloads: int


@dataclass(frozen=True, slots=True)
class PieceMap:
    """Pieces for the web UI's map: what we have, what is in flight, how common each is."""

    have: bytes  # the bitfield (BEP 3 order)
    downloading: list[int]
    availability: list[int]  # per piece, the connected peers that have it


@dataclass(frozen=True, slots=True)
class SessionStats:
    """The daemon's totals, for `session-stats` and `transfer/info`."""

    torrents: int
    active: int
    paused: int
    download_rate: float
    upload_rate: float
    downloaded_session: int
    uploaded_session: int
    downloaded_ever: int
    uploaded_ever: int
    seconds_active_session: int
    seconds_active_ever: int
    started_at: float
    free_space: int  # bytes free in the default download folder
